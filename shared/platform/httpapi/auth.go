package httpapi

import (
	"context"
	"net/http"

	"github.com/sfsync/sfsync/shared/event"
)

// Claims are the verified JWT claims an admin request carries. The team comes
// from here only, never from a path, query or body.
type Claims struct {
	Subject string
	TeamID  string
	Role    string
}

// RoleAdmin is the role that may change settings and connections.
const RoleAdmin = "admin"

type claimsKey struct{}

// WithClaims returns ctx carrying c (nil for an unauthenticated request).
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified claims of the request, or nil.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// RequireTeam rejects a request without verified claims naming a team (401),
// the authorizer's job in AWS checked again here as defence in depth. The
// team_id claim must also be an id the event contract accepts
// (event.CheckTeamID): the issuer signs whatever it is given, and a team id
// is part of every key the service stores, so one with a "#", a space or a
// megabyte of text is refused here, before anything reads or counts it.
func RequireTeam(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := ClaimsFrom(r.Context())
		if c == nil || c.TeamID == "" {
			WriteError(w, http.StatusUnauthorized, "unauthorized", "a bearer token with a team_id claim is required", "")
			return
		}
		if event.CheckTeamID(c.TeamID) != nil {
			WriteError(w, http.StatusUnauthorized, "unauthorized",
				"the token's team_id claim is not a team id: 1 to 128 letters, digits and . _ : -, starting with a letter or digit", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireAdmin is RequireTeam plus the admin role (403 otherwise).
func RequireAdmin(next http.Handler) http.Handler {
	return RequireTeam(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ClaimsFrom(r.Context()).Role != RoleAdmin {
			WriteError(w, http.StatusForbidden, "forbidden", "this action needs the admin role", "")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

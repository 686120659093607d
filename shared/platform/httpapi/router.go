package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/resources"
)

// Router registers the API's handlers under the routes shared/resources
// declares, wrapping each in the authentication its declaration asks for
// and, once LimitTeams is called, in the team's request limit.
type Router struct {
	mux     *http.ServeMux
	routes  map[string]bool
	limiter TeamLimiter
	log     *slog.Logger
}

// TeamLimiter decides whether a team may make one more request of a route;
// *ratelimit.Limiter implements it.
type TeamLimiter interface {
	Allow(ctx context.Context, team, route string) (ratelimit.Decision, error)
}

// LimitTeams counts every request of a team route against l, after the
// route's authentication (the team comes from the verified claims only) and
// before its handler. A refused request gets 429 rate_limited with
// Retry-After. A limiter that fails lets the request through, logged: the
// limit guards against abuse, and its store being out of reach must not
// take the API down with it. Public routes are not counted: they have no
// team (the stage's throttling covers them).
func (rt *Router) LimitTeams(l TeamLimiter, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	rt.limiter, rt.log = l, log
}

// limited is h behind the team limit of route key.
func (rt *Router) limited(key string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.limiter == nil {
			h.ServeHTTP(w, r)
			return
		}
		team := ClaimsFrom(r.Context()).TeamID
		d, err := rt.limiter.Allow(r.Context(), team, key)
		switch {
		case err != nil:
			rt.log.ErrorContext(r.Context(), "request limit unavailable; request let through", "route", key, "team_id", team, "error", err.Error())
		case !d.Allowed:
			WriteRetryLater(w, http.StatusTooManyRequests, "rate_limited",
				fmt.Sprintf("this team's limit on this route is %s; try again in %d s", d.Limit, int(d.RetryAfter/time.Second)), d.RetryAfter)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{mux: http.NewServeMux(), routes: map[string]bool{}}
}

// Handle registers h for the declared route with key "METHOD /path", in API
// Gateway's syntax: a last segment {name+} (greedy) matches the rest of the
// path, as {name...} does in net/http's patterns, and r.PathValue(name)
// holds it. It panics on an undeclared or repeated route: both are
// programming errors that the API's tests catch.
func (rt *Router) Handle(key string, h http.Handler) {
	route, ok := declared(key)
	if !ok {
		panic(fmt.Sprintf("httpapi: route %q is not declared in shared/resources", key))
	}
	if rt.routes[key] {
		panic(fmt.Sprintf("httpapi: route %q registered twice", key))
	}
	rt.routes[key] = true
	switch {
	case route.Public:
	case route.Admin:
		h = RequireAdmin(rt.limited(key, h))
	default:
		h = RequireTeam(rt.limited(key, h))
	}
	rt.mux.Handle(muxPattern(key), h)
}

// muxPattern is a route key in net/http's pattern syntax: a greedy last
// segment {name+} becomes {name...}.
func muxPattern(key string) string {
	if strings.HasSuffix(key, "+}") {
		if i := strings.LastIndex(key, "/{"); i >= 0 {
			return key[:i] + "/{" + strings.TrimSuffix(key[i+2:], "+}") + "...}"
		}
	}
	return key
}

// HandleFunc is Handle for a function.
func (rt *Router) HandleFunc(key string, h http.HandlerFunc) { rt.Handle(key, h) }

// Keys lists the registered route keys, sorted.
func (rt *Router) Keys() []string {
	keys := make([]string, 0, len(rt.routes))
	for k := range rt.routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ServeHTTP dispatches to the registered handler, answering unknown routes
// with a JSON 404 and known paths with the wrong method with a JSON 405.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern == "" {
		probe := r.Clone(r.Context())
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			probe.Method = m
			if _, p := rt.mux.Handler(probe); p != "" {
				WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path, "")
				return
			}
		}
		WriteError(w, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path, "")
		return
	}
	// Serve through the mux so path values are populated for the handler.
	_ = h
	rt.mux.ServeHTTP(w, r)
}

func declared(key string) (resources.Route, bool) {
	for _, r := range resources.Routes {
		if r.Key() == key {
			return r, true
		}
	}
	return resources.Route{}, false
}

package contacthttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// RouteDedupCheck is the synchronous deduplication check (R6).
const RouteDedupCheck = "POST /v1/salesforce/dedup-check"

// MaxDedupEmails bounds one check.
const MaxDedupEmails = 200

// DedupLimit is the team's request limit on the dedup check, stricter than
// the API's default: each check looks up to 200 emails up in the team's org
// and spends its Salesforce API calls.
var DedupLimit = ratelimit.Rule{Name: "dedup", Limit: ratelimit.Limit{Requests: 30, Per: time.Minute}}

// DedupDeps is what the dedup check needs.
type DedupDeps struct {
	Orgs     contactsync.Orgs
	Settings interface {
		TeamSettingsAt(ctx context.Context, teamID string, at time.Time) (policy.TeamVersion, error)
	}
	Logger *slog.Logger
}

type dedupRequest struct {
	Emails []string `json:"emails"`
}

type dedupResult struct {
	Email      string               `json:"email"`
	Status     event.Status         `json:"status"`
	Salesforce *event.SalesforceRef `json:"salesforce,omitempty"`
}

type dedupResponse struct {
	Deduplication bool          `json:"deduplication"`
	Results       []dedupResult `json:"results"`
}

// RegisterDedupCheck serves POST /v1/salesforce/dedup-check: the same lookup
// as contact.created, for up to 200 emails, batched the same way. With the
// team's deduplication off nothing is looked up (R6).
//
// Every member learns whether each email exists in Salesforce; only admins
// also get the record (object and id), which names records of the org to
// whoever holds a member's token.
func RegisterDedupCheck(rt *httpapi.Router, d DedupDeps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	rt.HandleFunc(RouteDedupCheck, func(w http.ResponseWriter, r *http.Request) {
		claims := httpapi.ClaimsFrom(r.Context())
		team, admin := claims.TeamID, claims.Role == httpapi.RoleAdmin
		var req dedupRequest
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			httpapi.WriteFieldError(w, err)
			return
		}
		if len(req.Emails) == 0 || len(req.Emails) > MaxDedupEmails {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("emails: must hold 1 to %d addresses", MaxDedupEmails), "emails")
			return
		}
		var emails []string
		seen := map[string]bool{}
		for i, e := range req.Emails {
			if err := event.CheckEmail(e); err != nil {
				field := fmt.Sprintf("emails[%d]", i)
				httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", field+": not an email address", field)
				return
			}
			if n := ledger.NormalizeEmail(e); !seen[n] {
				seen[n] = true
				emails = append(emails, e)
			}
		}
		tv, err := d.Settings.TeamSettingsAt(r.Context(), team, time.Now())
		if err != nil {
			d.Logger.Error("dedup check: read settings", "team_id", team, "error", err.Error())
			httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the check could not be made; try again", "")
			return
		}
		if !tv.Document.Deduplication {
			httpapi.WriteJSON(w, http.StatusOK, dedupResponse{Deduplication: false, Results: []dedupResult{}})
			return
		}
		org, _, err := d.Orgs.Open(r.Context(), team)
		if err != nil {
			writeOrgError(w, d.Logger, team, err)
			return
		}
		defer func() { _ = org.Close(context.WithoutCancel(r.Context())) }()
		found, err := org.FindByEmail(r.Context(), emails)
		if err != nil {
			writeOrgError(w, d.Logger, team, err)
			return
		}
		out := dedupResponse{Deduplication: true, Results: make([]dedupResult, 0, len(emails))}
		for _, e := range emails {
			if m, ok := found[ledger.NormalizeEmail(e)]; ok {
				res := dedupResult{Email: e, Status: event.StatusExistsInSalesforce}
				if admin {
					res.Salesforce = &event.SalesforceRef{Object: m.Object, ID: m.ID}
				}
				out.Results = append(out.Results, res)
			} else {
				out.Results = append(out.Results, dedupResult{Email: e, Status: event.StatusNotInSalesforce})
			}
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
}

func writeOrgError(w http.ResponseWriter, log *slog.Logger, team string, err error) {
	switch {
	case errors.Is(err, connection.ErrNotConnected):
		httpapi.WriteError(w, http.StatusConflict, "not_connected", "the team has no Salesforce connection", "")
	case connecthttp.WriteRefused(w, err):
	case errors.Is(err, salesforce.ErrRequestLimit):
		httpapi.WriteError(w, http.StatusTooManyRequests, "api_limit", "the org's daily Salesforce API limit is spent; try later", "")
	default:
		log.Error("dedup check", "team_id", team, "error", err.Error())
		httpapi.WriteError(w, http.StatusBadGateway, "salesforce_unavailable", "Salesforce could not be reached; try again", "")
	}
}

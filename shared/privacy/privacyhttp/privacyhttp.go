// Package privacyhttp serves the privacy erasure routes of the API, to a
// team's admins:
//
//	POST /v1/privacy/erasures       erase a person (privacy.Eraser)
//	GET  /v1/privacy/erasures/{id}  an erasure's receipt
//
// The team always comes from the verified claims, never from the request:
// an admin erases only in their own team, and reads only its receipts
// (another team's receipt id is 404, as an unknown one).
package privacyhttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Route keys this package serves (declared in shared/resources).
const (
	RouteErase   = "POST /v1/privacy/erasures"
	RouteReceipt = "GET /v1/privacy/erasures/{id}"
)

// EraseLimit is the team's request limit on the erasure route, stricter
// than the API's default: each erasure reads and deletes many items and
// may spend Salesforce API calls.
var EraseLimit = ratelimit.Rule{Name: "erase", Limit: ratelimit.Limit{Requests: 30, Per: time.Minute}}

// RetryBudget is the Retry-After of an erasure the team's API budget (or
// the org's daily allocation) refused: both are rolling, and free up
// calls as the hours pass.
const RetryBudget = time.Hour

// Erasures is what the routes need; *privacy.Eraser implements it.
type Erasures interface {
	Erase(ctx context.Context, req privacy.Request) (privacy.Receipt, error)
	Receipt(ctx context.Context, teamID, id string) (privacy.Receipt, error)
}

// Deps are the handlers' dependencies.
type Deps struct {
	Erasures Erasures
	Logger   *slog.Logger // nil: slog.Default()
}

// Register serves the two routes on rt.
func Register(rt *httpapi.Router, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &handlers{d}
	rt.HandleFunc(RouteErase, h.erase)
	rt.HandleFunc(RouteReceipt, h.receipt)
}

type handlers struct{ Deps }

// EraseRequest is the body of POST /v1/privacy/erasures.
type EraseRequest struct {
	Email      *string `json:"email,omitempty"`
	ContactID  *string `json:"contact_id,omitempty"`
	Salesforce *string `json:"salesforce,omitempty"`
}

func (h *handlers) erase(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	var body EraseRequest
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		httpapi.WriteFieldError(w, err)
		return
	}
	req := privacy.Request{TeamID: team}
	for _, f := range []struct {
		name string
		v    *string
		to   *string
	}{{"email", body.Email, &req.Email}, {"contact_id", body.ContactID, &req.ContactID}} {
		if f.v == nil {
			continue
		}
		if *f.v == "" {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", f.name+": must not be empty; leave it out instead", f.name)
			return
		}
		*f.to = *f.v
	}
	if body.Salesforce != nil {
		req.Salesforce = privacy.Mode(*body.Salesforce)
		if req.Salesforce == "" {
			req.Salesforce = "(empty)"
		}
	}
	rc, err := h.Erasures.Erase(r.Context(), req)
	if err != nil {
		h.fail(w, r, team, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "privacy erasure", "team_id", team, "erasure_id", rc.ID, "salesforce", string(rc.Salesforce),
		"counts", rc.Counts, "salesforce_refused", len(rc.Refused))
	w.Header().Set("Location", "/v1/privacy/erasures/"+rc.ID)
	httpapi.WriteJSON(w, http.StatusCreated, rc)
}

func (h *handlers) receipt(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	rc, err := h.Erasures.Receipt(r.Context(), team, r.PathValue("id"))
	if errors.Is(err, privacy.ErrNoReceipt) {
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "this team has no erasure by that id", "id")
		return
	}
	if err != nil {
		h.fail(w, r, team, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, rc)
}

// fail answers an erasure that did not happen. Nothing of the service's
// was deleted; Salesforce records deleted before a failed call stay
// deleted, and count as deleted before when the erasure is sent again.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, team string, err error) {
	var ie *privacy.InputError
	switch {
	case errors.As(err, &ie):
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", ie.Error(), ie.Field)
	case errors.Is(err, privacy.ErrTooManyLinked):
		httpapi.WriteError(w, http.StatusConflict, "too_many_linked",
			"the email and contact id given link to more than 25 contact ids or emails, more than one person has; nothing was deleted. Erase them one at a time by contact_id", "")
	case errors.Is(err, connection.ErrNotConnected):
		httpapi.WriteError(w, http.StatusConflict, "not_connected",
			`"salesforce": "delete" needs the team's Salesforce connection, and the team has none; nothing was deleted. Connect the org, or erase with "salesforce": "keep"`, "salesforce")
	case connecthttp.WriteRefused(w, err):
	case errors.Is(err, budget.ErrCapped), errors.Is(err, budget.ErrNearCap):
		httpapi.WriteRetryLater(w, http.StatusTooManyRequests, "api_budget_spent",
			`the team's Salesforce API budget for today is spent, so the records could not be deleted in Salesforce; nothing of this service's was deleted. Try again later (the records deleted so far stay deleted), or erase with "salesforce": "keep"`, RetryBudget)
	case errors.Is(err, salesforce.ErrRequestLimit):
		httpapi.WriteRetryLater(w, http.StatusTooManyRequests, "api_limit",
			`the org's daily Salesforce API limit is spent, so the records could not be deleted in Salesforce; nothing of this service's was deleted. Try again later, or erase with "salesforce": "keep"`, RetryBudget)
	case errors.Is(err, salesforce.ErrTransient), errors.Is(err, salesforce.ErrConcurrentLimit), errors.Is(err, salesforce.ErrSessionExpired):
		h.Logger.WarnContext(r.Context(), "privacy erasure: salesforce", "team_id", team, "error", err.Error())
		httpapi.WriteError(w, http.StatusBadGateway, "salesforce_unavailable",
			"Salesforce could not be reached to delete the records; nothing of this service's was deleted. Send the same erasure again", "")
	default:
		h.Logger.ErrorContext(r.Context(), "privacy erasure", "route", r.Pattern, "team_id", team, "error", err.Error())
		httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the erasure could not be completed; send it again", "")
	}
}

// TeamOrgs opens teams' orgs for the erasure (privacy.Orgs) through
// orgs.Orgs: each call of an erasure goes through the team's API budget
// governor, as the engines' calls do.
type TeamOrgs struct{ Orgs *orgs.Orgs }

// Open implements privacy.Orgs.
func (t TeamOrgs) Open(ctx context.Context, team string) (privacy.Org, error) {
	o, _, err := t.Orgs.Open(ctx, team)
	if err != nil {
		return nil, err
	}
	return o, nil
}

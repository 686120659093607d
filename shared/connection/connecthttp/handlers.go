// Package connecthttp serves the connect flow over the admin API:
// POST /v1/salesforce/connect, the public OAuth callback, the connection's
// status and DELETE (disconnect and revoke).
package connecthttp

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/httpapi"
)

// Handlers serves the connection routes.
type Handlers struct {
	Connector *connection.Connector
	Store     connection.Store
	ReturnURL string // where the admin's browser lands after the callback
	Log       *slog.Logger
	// Budgets, when set, gives the team's API budget cap shown in the status.
	Budgets interface {
		BudgetPercent(ctx context.Context, teamID string) (int, error)
	}
	Now func() time.Time // nil: time.Now
}

// Register adds the connection routes to rt.
func (h *Handlers) Register(rt *httpapi.Router) {
	rt.HandleFunc("POST /v1/salesforce/connect", h.connect)
	rt.HandleFunc("GET /oauth/salesforce/callback", h.callback)
	rt.HandleFunc("GET /v1/salesforce", h.status)
	rt.HandleFunc("DELETE /v1/salesforce", h.disconnect)
}

type connectRequest struct {
	Environment string `json:"environment"`
	LoginURL    string `json:"login_url,omitempty"`
}

func (h *Handlers) connect(w http.ResponseWriter, r *http.Request) {
	claims := httpapi.ClaimsFrom(r.Context())
	var req connectRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		httpapi.WriteFieldError(w, err)
		return
	}
	env := connection.Environment(req.Environment)
	switch env {
	case connection.EnvProduction, connection.EnvSandbox:
		if req.LoginURL != "" {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", "login_url: only allowed with environment custom", "login_url")
			return
		}
	case connection.EnvCustom:
	default:
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", "environment: must be one of production, sandbox, custom", "environment")
		return
	}
	u, err := h.Connector.Begin(r.Context(), claims.TeamID, claims.Subject, env, req.LoginURL)
	if errors.Is(err, connection.ErrBadLoginURL) {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error(), "login_url")
		return
	}
	if err != nil {
		h.internal(w, r, "begin connect", err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"authorize_url": u})
}

// errorPage is the callback's error page. Written with html.EscapeString,
// not html/template: templates keep every method of every type reachable
// through reflection, which doubles the function's binary.
func errorPage(msg string) string {
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Salesforce connection failed</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:4em auto">
<h1>Salesforce was not connected</h1><p>` + html.EscapeString(msg) + `</p>
<p>Start again from the integrations page.</p></body></html>`
}

func (h *Handlers) callback(w http.ResponseWriter, r *http.Request) {
	res, err := h.Connector.Complete(r.Context(), r.URL.Query())
	switch {
	case errors.Is(err, connection.ErrStateUnknown):
		h.page(w, "This sign-in link is unknown or was already used, so nothing was saved.")
		return
	case errors.Is(err, connection.ErrStateExpired):
		h.page(w, "This sign-in link expired, so nothing was saved.")
		return
	case err == nil:
		h.log(r).Info("salesforce connected", "team_id", res.TeamID, "org_id", res.Connection.OrgID)
		h.redirect(w, r, url.Values{"salesforce": {"connected"}})
		return
	}
	reason := "exchange_failed"
	switch {
	case errors.Is(err, connection.ErrAccessDenied):
		reason = "access_denied"
	case errors.Is(err, connection.ErrBadSignature):
		reason = "bad_signature"
	}
	h.log(r).Warn("salesforce connect failed", "team_id", res.TeamID, "reason", reason, "error", err.Error())
	h.redirect(w, r, url.Values{"salesforce": {"error"}, "reason": {reason}})
}

func (h *Handlers) page(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, errorPage(msg))
}

func (h *Handlers) redirect(w http.ResponseWriter, r *http.Request, q url.Values) {
	u, err := url.Parse(h.ReturnURL)
	if err != nil {
		h.page(w, "The service's return URL is misconfigured.")
		return
	}
	cur := u.Query()
	for k, vs := range q {
		cur[k] = vs
	}
	u.RawQuery = cur.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// StatusResponse is the body of GET /v1/salesforce.
type StatusResponse struct {
	Status      connection.Status      `json:"status"`
	Environment connection.Environment `json:"environment,omitempty"`
	InstanceURL string                 `json:"instance_url,omitempty"`
	OrgID       string                 `json:"org_id,omitempty"`
	UserID      string                 `json:"user_id,omitempty"`
	Username    string                 `json:"username,omitempty"`
	ConnectedAt *time.Time             `json:"connected_at,omitempty"`
	APIUsage    *connection.Usage      `json:"api_usage,omitempty"`
	Budget      *Budget                `json:"budget,omitempty"`
}

// Budget is the team's API budget as the governor sees it now.
type Budget struct {
	Percent    int    `json:"percent"`
	Cap        *int   `json:"cap,omitempty"`
	CallsToday int    `json:"calls_today"`
	State      string `json:"state"` // ok | near_cap | capped
}

func (h *Handlers) budget(ctx context.Context, team string, u *connection.Usage) (*Budget, error) {
	if h.Budgets == nil {
		return nil, nil
	}
	p, err := h.Budgets.BudgetPercent(ctx, team)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	f := budget.Figures{Service: u.CallsOn(connection.Day(now())), Percent: p}
	if u != nil {
		f.OrgUsed, f.OrgLimit = u.Used, u.Limit
	}
	b := &Budget{Percent: p, CallsToday: f.Service, State: "ok"}
	if c := f.Cap(); c >= 0 {
		b.Cap = &c
	}
	switch err := budget.Allow(f, budget.Low); {
	case errors.Is(err, budget.ErrCapped):
		b.State = "capped"
	case errors.Is(err, budget.ErrNearCap):
		b.State = "near_cap"
	}
	return b, nil
}

func (h *Handlers) status(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	c, err := h.Store.Get(r.Context(), team)
	if errors.Is(err, connection.ErrNotConnected) {
		httpapi.WriteJSON(w, http.StatusOK, StatusResponse{Status: connection.StatusDisconnected})
		return
	}
	if err != nil {
		h.internal(w, r, "read connection", err)
		return
	}
	at := c.ConnectedAt
	b, err := h.budget(r.Context(), team, c.Usage)
	if err != nil {
		h.internal(w, r, "read API budget", err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, StatusResponse{Status: c.Status, Environment: c.Environment,
		InstanceURL: c.InstanceURL, OrgID: c.OrgID, UserID: c.UserID, Username: c.Username, ConnectedAt: &at,
		APIUsage: c.Usage, Budget: b})
}

func (h *Handlers) disconnect(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	c, err := h.Store.Get(r.Context(), team)
	if errors.Is(err, connection.ErrNotConnected) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		h.internal(w, r, "read connection", err)
		return
	}
	if err := connection.Revoke(r.Context(), h.Connector.HTTPClient(), c.LoginURL, c.RefreshToken); err != nil {
		// Deleting our copy still disconnects; Salesforce expires the token on its own policy.
		h.log(r).Warn("revoke at disconnect failed", "team_id", team, "error", err.Error())
	}
	if err := h.Store.Delete(r.Context(), team); err != nil {
		h.internal(w, r, "delete connection", err)
		return
	}
	h.log(r).Info("salesforce disconnected", "team_id", team)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handlers) log(r *http.Request) *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handlers) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log(r).Error(what, "error", err.Error())
	httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the request could not be completed; try again", "")
}

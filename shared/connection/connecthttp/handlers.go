// Package connecthttp serves the connect flow over the admin API:
// POST /v1/salesforce/connect, the public OAuth callback (which connects
// nothing: it hands the consenting browser a one-time ticket),
// POST /v1/salesforce/connect/complete (an admin of the team that started
// the connect, with the state and the ticket, makes the connection), the
// connection's status and DELETE (disconnect and revoke; with purge=true,
// also delete every item of the team).
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
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/readiness"
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
	// Readiness, when set, makes the org readiness report once after a
	// connect (best effort: a failure does not fail the connect) and
	// summarizes the last one in the status.
	Readiness Readiness
	// Purger, when set, serves DELETE /v1/salesforce?purge=true: it
	// deletes every item of the team (privacydb.Purger).
	Purger Purger
}

// Purger deletes every item of a team in the stack's tables, within one
// call's bounds (privacy.Purged.Complete false: call again).
type Purger interface {
	Purge(ctx context.Context, teamID string) (privacy.Purged, error)
}

// PurgeResponse is the body of DELETE /v1/salesforce?purge=true.
type PurgeResponse struct {
	// Disconnected: the team has no connection any more (none was
	// needed).
	Disconnected bool `json:"disconnected"`
	// Purged are the items this call deleted, per table.
	Purged map[string]int `json:"purged"`
	// Complete: nothing of the team is left; false means call again, the
	// next call goes on where this one stopped.
	Complete bool `json:"complete"`
}

// Readiness makes and summarizes org readiness reports (readiness.Checker).
type Readiness interface {
	AfterConnect(ctx context.Context, teamID string) (*readiness.Summary, error)
	Summary(ctx context.Context, teamID, connectionID string) (*readiness.Summary, error)
}

// Bounds of the report made after a connect, within the API function's
// timeout (15 s).
const (
	// afterConnectTimeout is the most the report may take.
	afterConnectTimeout = 8 * time.Second
	// afterConnectReserve is left of the request's time for answering it.
	afterConnectReserve = 2 * time.Second
	// afterConnectLeast is the least worth starting a report with: with
	// less, none is made after the connect and the first GET makes it.
	afterConnectLeast = 2 * time.Second
)

// afterConnectTime is how long the report after a connect may take:
// afterConnectTimeout, or less when the request's deadline is nearer (less
// afterConnectReserve); ok false when that is under afterConnectLeast.
func afterConnectTime(ctx context.Context, now time.Time) (d time.Duration, ok bool) {
	d = afterConnectTimeout
	if dl, bounded := ctx.Deadline(); bounded {
		d = min(d, dl.Sub(now)-afterConnectReserve)
	}
	return d, d >= afterConnectLeast
}

// Register adds the connection routes to rt.
func (h *Handlers) Register(rt *httpapi.Router) {
	rt.HandleFunc("POST /v1/salesforce/connect", h.connect)
	rt.HandleFunc("GET /oauth/salesforce/callback", h.callback)
	rt.HandleFunc("POST /v1/salesforce/connect/complete", h.complete)
	rt.HandleFunc("GET /v1/salesforce", h.status)
	rt.HandleFunc(RouteDisconnect, h.disconnect)
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
	h.sweep(r, claims.TeamID)
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
	res, err := h.Connector.Callback(r.Context(), r.URL.Query())
	switch {
	case errors.Is(err, connection.ErrStateUnknown):
		h.page(w, "This sign-in link is unknown or was already used, so nothing was saved.")
		return
	case errors.Is(err, connection.ErrStateExpired):
		h.page(w, "This sign-in link expired, so nothing was saved.")
		return
	case err == nil:
		h.log(r).Info("salesforce consent received", "team_id", res.TeamID)
		h.redirect(w, r, url.Values{"salesforce": {"consented"}, "state": {res.State}, "ticket": {res.Ticket}})
		return
	}
	reason := "exchange_failed"
	switch {
	case errors.Is(err, connection.ErrAccessDenied):
		reason = "access_denied"
	case errors.Is(err, connection.ErrBadSignature):
		reason = "bad_signature"
	case errors.Is(err, connection.ErrBadInstanceURL):
		reason = "bad_instance_url"
	case errors.Is(err, connection.ErrBadIdentity):
		reason = "bad_identity"
	}
	h.log(r).Warn("salesforce connect failed", "team_id", res.TeamID, "reason", reason, "error", err.Error())
	h.redirect(w, r, url.Values{"salesforce": {"denied"}, "reason": {reason}})
}

type completeRequest struct {
	State  string `json:"state"`
	Ticket string `json:"ticket"`
}

// complete makes a consented connect the team's connection, for an admin of
// the team that started it who shows the ticket. Every refusal gets the
// same answer whether the state exists or not (403 for a non-admin, 404
// otherwise); the reason goes to the log only.
func (h *Handlers) complete(w http.ResponseWriter, r *http.Request) {
	claims := httpapi.ClaimsFrom(r.Context())
	var req completeRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		httpapi.WriteFieldError(w, err)
		return
	}
	for _, f := range []struct{ name, value string }{{"state", req.State}, {"ticket", req.Ticket}} {
		if f.value == "" {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", f.name+": required", f.name)
			return
		}
	}
	by := connection.Claimant{TeamID: claims.TeamID, Subject: claims.Subject, Admin: claims.Role == httpapi.RoleAdmin}
	c, err := h.Connector.Finish(r.Context(), by, req.State, req.Ticket)
	switch {
	case errors.Is(err, connection.ErrNotAdmin):
		h.log(r).Warn("salesforce connect completion refused", "team_id", claims.TeamID, "error", err.Error())
		httpapi.WriteError(w, http.StatusForbidden, "forbidden", "only an admin of the team can complete a connect", "")
		return
	case errors.Is(err, connection.ErrNoConsent):
		h.log(r).Warn("salesforce connect completion refused", "team_id", claims.TeamID, "error", err.Error())
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "no consented connect of this team matches this state and ticket; start the connect again", "")
		return
	case err != nil:
		h.internal(w, r, "complete connect", err)
		return
	}
	h.log(r).Info("salesforce connected", "team_id", c.TeamID, "org_id", c.OrgID)
	h.sweep(r, claims.TeamID)
	at := c.ConnectedAt
	httpapi.WriteJSON(w, http.StatusOK, StatusResponse{Status: c.Status, Environment: c.Environment,
		InstanceURL: c.InstanceURL, OrgID: c.OrgID, OrgName: c.OrgName, UserID: c.UserID, Username: c.Username, ConnectedAt: &at,
		Readiness: h.afterConnect(r, c.TeamID)})
}

// afterConnect makes the new connection's readiness report and returns its
// summary; nil when there is no checker, too little of the request's time
// is left (afterConnectTime) or it failed (logged).
func (h *Handlers) afterConnect(r *http.Request, team string) *readiness.Summary {
	if h.Readiness == nil {
		return nil
	}
	d, ok := afterConnectTime(r.Context(), time.Now()) // the deadline is on the wall clock, not h.Now's

	if !ok {
		h.log(r).Info("readiness report after connect skipped: too little time left", "team_id", team, "left", d.String())
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), d)
	defer cancel()
	s, err := h.Readiness.AfterConnect(ctx, team)
	if err != nil {
		h.log(r).Warn("readiness report after connect", "team_id", team, "error", err.Error())
		return nil
	}
	if len(s.Attention) > 0 {
		h.log(r).Warn("salesforce org not ready", "team_id", team, "attention", s.Attention)
	}
	return s
}

// sweep revokes the team's consents nobody completed in time. A failure
// does not stop the request: the next sweep, or the table's TTL, gets them.
func (h *Handlers) sweep(r *http.Request, team string) {
	n, err := h.Connector.Sweep(r.Context(), team)
	if err != nil {
		h.log(r).Warn("sweep expired consents", "team_id", team, "error", err.Error())
	}
	if n > 0 {
		h.log(r).Info("expired consents revoked", "team_id", team, "count", n)
	}
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
	OrgName     string                 `json:"org_name,omitempty"`
	UserID      string                 `json:"user_id,omitempty"`
	Username    string                 `json:"username,omitempty"`
	ConnectedAt *time.Time             `json:"connected_at,omitempty"`
	APIUsage    *connection.Usage      `json:"api_usage,omitempty"`
	Budget      *Budget                `json:"budget,omitempty"`
	Readiness   *readiness.Summary     `json:"readiness,omitempty"`
	// Problem says, for status needs_admin, why and what to do.
	Problem *Problem `json:"problem,omitempty"`
}

// Problem is why a needs_admin connection cannot sync: Salesforce's OAuth
// error code, what to do, and who must act (the team's admin, or the
// service's operator when the connected app itself is refused).
type Problem struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Actor   string `json:"actor"` // team_admin | operator
}

func problemOf(c connection.Connection) *Problem {
	if c.Status != connection.StatusNeedsAdmin {
		return nil
	}
	p := &Problem{Reason: c.Problem.Reason, Message: c.Problem.Message, Actor: "team_admin"}
	if c.Problem.Deployment {
		p.Actor = "operator"
	}
	return p
}

// Budget is the team's API budget as the governor sees it now: the one
// view of it (budget.View), as the health report shows it too.
type Budget = budget.View

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
	v := f.View()
	return &v, nil
}

// RouteDisconnect disconnects the team (and, with purge=true, deletes
// every item of the team).
const RouteDisconnect = "DELETE /v1/salesforce"

// DisconnectLimit is the team's request limit on RouteDisconnect: a purge
// scans the three tables for up to 8 s a call, so a team calling it in a
// loop would spend the tables' capacity every tenant shares. Four a minute
// lets a large purge go on call after call.
var DisconnectLimit = ratelimit.Rule{Name: "disconnect", Limit: ratelimit.Limit{Requests: 4, Per: time.Minute}}

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
	var ready *readiness.Summary
	if h.Readiness != nil {
		if ready, err = h.Readiness.Summary(r.Context(), team, c.ID); err != nil {
			h.internal(w, r, "read readiness report", err)
			return
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, StatusResponse{Status: c.Status, Environment: c.Environment,
		InstanceURL: c.InstanceURL, OrgID: c.OrgID, OrgName: c.OrgName, UserID: c.UserID, Username: c.Username, ConnectedAt: &at,
		APIUsage: c.Usage, Budget: b, Readiness: ready, Problem: problemOf(c)})
}

// disconnect revokes and deletes the team's connection (204). With
// purge=true it then deletes every item of the team in the three tables,
// within one call's bounds, and answers what it deleted (200
// PurgeResponse).
func (h *Handlers) disconnect(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	purge := false
	switch q := r.URL.Query(); {
	case !q.Has("purge"):
	case len(q["purge"]) == 1 && q.Get("purge") == "true":
		purge = true
	case len(q["purge"]) == 1 && q.Get("purge") == "false":
	default:
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", "purge: must be true or false, given once", "purge")
		return
	}
	if purge && h.Purger == nil {
		httpapi.WriteError(w, http.StatusNotImplemented, "not_implemented", "purge is not available on this deployment", "purge")
		return
	}
	c, err := h.Store.Get(r.Context(), team)
	switch {
	case errors.Is(err, connection.ErrNotConnected):
	case err != nil:
		h.internal(w, r, "read connection", err)
		return
	default:
		if err := connection.Revoke(r.Context(), h.Connector.HTTPClient(), c.LoginURL, c.RefreshToken); err != nil {
			// Deleting our copy still disconnects; Salesforce expires the token on its own policy.
			h.log(r).Warn("revoke at disconnect failed", "team_id", team, "error", err.Error())
		}
		if err := h.Store.Delete(r.Context(), team); err != nil {
			h.internal(w, r, "delete connection", err)
			return
		}
		h.log(r).Info("salesforce disconnected", "team_id", team)
	}
	if !purge {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	res, err := h.Purger.Purge(r.Context(), team)
	if err != nil {
		h.internal(w, r, "purge team", err)
		return
	}
	h.log(r).Info("team purged", "team_id", team, "deleted", res.Deleted, "complete", res.Complete)
	httpapi.WriteJSON(w, http.StatusOK, PurgeResponse{Disconnected: true, Purged: res.Deleted, Complete: res.Complete})
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

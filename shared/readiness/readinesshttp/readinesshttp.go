// Package readinesshttp serves the org readiness report to a team's admins:
//
//	GET /v1/salesforce/readiness
//
// The team always comes from the verified claims. A report is made at most
// once per cache time (readiness.DefaultTTL) per team; in between, the last
// one is served again without a Salesforce call.
package readinesshttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Route is the route this package serves (declared in shared/resources,
// admin only).
const Route = "GET /v1/salesforce/readiness"

// Reports makes or serves a team's report (readiness.Checker).
type Reports interface {
	Report(ctx context.Context, teamID string, fresh bool) (readiness.Report, error)
}

// Deps are what the handler needs.
type Deps struct {
	Reports Reports
	Logger  *slog.Logger // nil: slog.Default()
}

// response is the body of the route (schema ReadinessReport).
type response struct {
	OrgID     string            `json:"org_id"`
	CheckedAt time.Time         `json:"checked_at"`
	APICalls  int               `json:"api_calls"`
	Summary   readiness.Summary `json:"summary"`
	Items     []readiness.Item  `json:"items"`
}

// Register adds the readiness route to rt.
func Register(rt *httpapi.Router, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	rt.HandleFunc(Route, func(w http.ResponseWriter, r *http.Request) {
		team := httpapi.ClaimsFrom(r.Context()).TeamID
		rep, err := d.Reports.Report(r.Context(), team, false)
		switch {
		case errors.Is(err, connection.ErrNotConnected):
			httpapi.WriteError(w, http.StatusConflict, "not_connected", "the team has no Salesforce connection", "")
			return
		case connecthttp.WriteRefused(w, err):
			return
		case errors.Is(err, salesforce.ErrTransient), errors.Is(err, salesforce.ErrConcurrentLimit):
			d.Logger.Warn("readiness report", "team_id", team, "error", err.Error())
			httpapi.WriteError(w, http.StatusBadGateway, "salesforce_unavailable", "Salesforce could not be reached; try again", "")
			return
		case err != nil:
			d.Logger.Error("readiness report", "team_id", team, "error", err.Error())
			httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the report could not be made; try again", "")
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, response{OrgID: rep.OrgID, CheckedAt: rep.CheckedAt, APICalls: rep.APICalls,
			Summary: rep.Summary(), Items: rep.Items})
	})
}

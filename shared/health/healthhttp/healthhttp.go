// Package healthhttp serves a team's sync health:
//
//	GET /v1/salesforce/health?days=N   N UTC days (1..30, default 7) ending today
//
// Any member of the team may read it. The team always comes from the
// verified claims, never from the request; days is the only parameter
// read, and anything but a whole number from 1 to 30, given once, is a 400
// naming it.
package healthhttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// Route is the route key this package serves (declared in
// shared/resources).
const Route = "GET /v1/salesforce/health"

// Reports gives a team's health report; *health.Reporter implements it.
type Reports interface {
	Report(ctx context.Context, teamID string, days int) (health.Report, error)
}

var _ Reports = (*health.Reporter)(nil)

// Deps are what the handler needs.
type Deps struct {
	Reports Reports
	Logger  *slog.Logger // nil: slog.Default()
}

// Register adds the health route to rt.
func Register(rt *httpapi.Router, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &handler{Deps: d}
	rt.HandleFunc(Route, h.get)
}

type handler struct{ Deps }

// Response is the body of the route (schema HealthReport).
type Response struct {
	From   string  `json:"from"`
	To     string  `json:"to"`
	Days   []Day   `json:"days"`
	Budget *Budget `json:"budget"` // null when the team is not connected
	Held   []Held  `json:"held"`
}

// Day is one UTC day's counts.
type Day struct {
	Date     string         `json:"date"`
	Outcomes map[string]int `json:"outcomes"`
	Calls    int            `json:"calls"`
}

// Budget is the team's API budget today, as GET /v1/salesforce shows it:
// the one view of it (budget.View).
type Budget = budget.View

// Held is one reason things wait.
type Held struct {
	Reason      string     `json:"reason"`
	Events      int        `json:"events"`
	Contacts    int        `json:"contacts"`
	Since       *time.Time `json:"since,omitempty"`
	Explanation string     `json:"explanation"`
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	days, err := health.ParseDays(r.URL.Query()["days"])
	if err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error(), "days")
		return
	}
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	rep, err := h.Reports.Report(r.Context(), team, days)
	if errors.Is(err, health.ErrDays) {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error(), "days")
		return
	}
	if err != nil {
		h.Logger.ErrorContext(r.Context(), "health report failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the health report could not be read; try again", "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, response(rep))
}

// response is the report as the route answers it.
func response(rep health.Report) Response {
	out := Response{From: rep.From, To: rep.To, Days: make([]Day, len(rep.Days)), Held: make([]Held, len(rep.Held))}
	for i, d := range rep.Days {
		o := make(map[string]int, len(d.Outcomes))
		for s, n := range d.Outcomes {
			o[string(s)] = n
		}
		out.Days[i] = Day{Date: d.Date, Outcomes: o, Calls: d.Calls}
	}
	if b := rep.Budget; b != nil {
		v := b.View
		out.Budget = &v
	}
	for i, hd := range rep.Held {
		out.Held[i] = Held{Reason: string(hd.Reason), Events: hd.Events, Contacts: hd.Contacts, Explanation: hd.Explanation}
		if !hd.Since.IsZero() {
			s := hd.Since.UTC()
			out.Held[i].Since = &s
		}
	}
	return out
}

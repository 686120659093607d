package healthhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthhttp"
	"github.com/sfsync/sfsync/shared/health/healthtest"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

const route = "/v1/salesforce/health"

var now = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// world is the route on in-memory ports: team_a connected, with counts,
// calls, a capped budget and held activity; team_b with nothing.
type world struct {
	counts *healthtest.Memory
	teams  *healthtest.Teams
	rt     *httpapi.Router
	logs   *bytes.Buffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{counts: new(healthtest.Memory), logs: &bytes.Buffer{}}
	w.teams = &healthtest.Teams{
		Conns: map[string]connection.Connection{"team_a": {TeamID: "team_a", ID: "c1", Status: connection.StatusConnected,
			Usage: &connection.Usage{Used: 100, Limit: 1000, ServiceCalls: 500, ServiceDay: "2026-03-04"}}},
		Percent: map[string]int{"team_a": 50},
		Calls:   map[string]map[string]int{"team_a": {"2026-03-03": 444}},
		Held: map[string]map[ledger.MemberKey]activitysync.HeldMark{"team_a": {
			{SequenceID: "seq_a", ContactID: "ct_a"}: {N: 4, Since: now.Add(-time.Hour)}}},
	}
	for day, n := range map[string]int{"2026-03-02": 3, "2026-03-04": 777} {
		if err := w.counts.Add(context.Background(), "team_a", day, map[event.Status]int{event.StatusCreated: n}); err != nil {
			t.Fatal(err)
		}
	}
	w.rt = httpapi.NewRouter()
	healthhttp.Register(w.rt, healthhttp.Deps{Logger: slog.New(slog.NewJSONHandler(w.logs, nil)), Reports: &health.Reporter{
		Counts: w.counts, Calls: w.teams, Connections: w.teams, Budgets: w.teams, Held: w.teams, Now: func() time.Time { return now }}})
	return w
}

type reply struct {
	code int
	body string
}

// get calls the route as a member of team (role member) and checks the
// answer against the OpenAPI document.
func (w *world) get(t *testing.T, team, query string) reply {
	t.Helper()
	req := httptest.NewRequest("GET", route+query, nil)
	req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{Subject: "rep-of-" + team, TeamID: team, Role: "member"}))
	rec := httptest.NewRecorder()
	w.rt.ServeHTTP(rec, req)
	openapitest.Validate(t, "GET", route, rec.Code, rec.Body.Bytes())
	return reply{rec.Code, rec.Body.String()}
}

func decode(t *testing.T, body string) healthhttp.Response {
	t.Helper()
	var r healthhttp.Response
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r
}

func TestReportForAMember(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.get(t, "team_a", "?days=3")
	if r.code != 200 {
		t.Fatalf("got %d %s; want 200", r.code, r.body)
	}
	got := decode(t, r.body)
	if got.From != "2026-03-02" || got.To != "2026-03-04" || len(got.Days) != 3 {
		t.Fatalf("got %s..%s with %d days; want 2026-03-02..2026-03-04, 3 days", got.From, got.To, len(got.Days))
	}
	days := []struct {
		created, calls int
	}{{3, 0}, {0, 444}, {777, 500}}
	for i, d := range days {
		if got.Days[i].Outcomes["created"] != d.created || got.Days[i].Calls != d.calls {
			t.Errorf("day %s: got %v and %d calls; want %d created and %d calls", got.Days[i].Date, got.Days[i].Outcomes, got.Days[i].Calls, d.created, d.calls)
		}
	}
	if !strings.Contains(r.body, `{"date":"2026-03-03","outcomes":{},"calls":444}`) {
		t.Errorf("got %s; want a day with nothing counted as outcomes {}", r.body)
	}
	if b := got.Budget; b == nil || b.Percent != 50 || b.Cap == nil || *b.Cap != 500 || b.CallsToday != 500 || b.State != "capped" {
		t.Errorf("got budget %+v; want 50%%, cap 500, 500 calls today, capped", got.Budget)
	}
	if len(got.Held) != 2 || got.Held[0].Reason != "api_limit" || got.Held[1].Reason != "contact_pending" ||
		got.Held[1].Events != 4 || got.Held[1].Contacts != 1 || got.Held[1].Since == nil || got.Held[0].Explanation == "" {
		t.Errorf("got held %+v; want api_limit, then contact_pending with 4 events of 1 contact and a since", got.Held)
	}
}

func TestDaysDefaultAndBounds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		query string
		days  int // 0: a 400 naming days
	}{
		{"", 7}, {"?days=1", 1}, {"?days=30", 30}, {"?days=07", 7},
		{"?days=0", 0}, {"?days=31", 0}, {"?days=abc", 0}, {"?days=", 0}, {"?days=-1", 0}, {"?days=7.5", 0},
		{"?days=7&days=8", 0}, {"?days=%2B7", 0},
	}
	for _, tt := range tests {
		r := w.get(t, "team_a", tt.query)
		if tt.days == 0 {
			if r.code != 400 || !strings.Contains(r.body, `"field":"days"`) {
				t.Errorf("%q: got %d %s; want 400 naming days", tt.query, r.code, r.body)
			}
			continue
		}
		if r.code != 200 || len(decode(t, r.body).Days) != tt.days {
			t.Errorf("%q: got %d %s; want 200 with %d days", tt.query, r.code, r.body, tt.days)
		}
	}
}

func TestNotConnected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.get(t, "team_b", "")
	if r.code != 200 || !strings.Contains(r.body, `"budget":null`) || !strings.Contains(r.body, `"held":[]`) {
		t.Errorf("got %d %s; want 200 with budget null and nothing held", r.code, r.body)
	}
}

// TestTeamBNeverSeesTeamA: team B's token, with team A's id in the query,
// reads only team B's report, and every port is asked for team B only.
func TestTeamBNeverSeesTeamA(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.get(t, "team_b", "?days=30&team_id=team_a&team=team_a")
	if r.code != 200 {
		t.Fatalf("got %d %s; want 200", r.code, r.body)
	}
	got := decode(t, r.body)
	for _, d := range got.Days {
		if len(d.Outcomes) != 0 || d.Calls != 0 {
			t.Errorf("team B saw %s: %v and %d calls; want nothing (team A's counts are not B's)", d.Date, d.Outcomes, d.Calls)
		}
	}
	if got.Budget != nil || len(got.Held) != 0 {
		t.Errorf("team B saw budget %+v and held %+v; want none", got.Budget, got.Held)
	}
	for _, marker := range []string{"777", "444", "contact_pending"} {
		if strings.Contains(r.body, marker) {
			t.Errorf("team B's answer holds team A's %s: %s", marker, r.body)
		}
	}
	for _, team := range w.teams.Reads() {
		if team != "team_b" {
			t.Errorf("got a read for %s; want team_b's only", team)
		}
	}
}

// TestAFailedReadIsA500LoggedOnce: the store's error is logged once and
// not shown.
func TestAFailedReadIsA500LoggedOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.teams.Err = errors.New("dynamodb: throttled on table secret-table-name")
	r := w.get(t, "team_a", "")
	if r.code != 500 || strings.Contains(r.body, "secret-table-name") {
		t.Errorf("got %d %s; want a 500 that does not show the error", r.code, r.body)
	}
	if n := strings.Count(w.logs.String(), "health report failed"); n != 1 || !strings.Contains(w.logs.String(), "throttled") {
		t.Errorf("got logs %s; want one line with the error", w.logs.String())
	}
}

package health_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthtest"
	"github.com/sfsync/sfsync/shared/ledger"
)

var now = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// reporter is a Reporter on counts and teams, its clock at now.
func reporter(counts *healthtest.Memory, teams *healthtest.Teams) *health.Reporter {
	return &health.Reporter{Counts: counts, Calls: teams, Connections: teams, Budgets: teams, Held: teams, Now: func() time.Time { return now }}
}

func connected(status connection.Status, u *connection.Usage) connection.Connection {
	return connection.Connection{TeamID: "team_a", ID: "c1", Status: status, Usage: u}
}

func TestReportFillsEveryDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	counts := new(healthtest.Memory)
	for _, a := range []struct {
		team, day string
		by        map[event.Status]int
	}{
		{"team_a", "2026-03-02", map[event.Status]int{event.StatusCreated: 3, event.StatusFailed: 1}},
		{"team_a", "2026-03-04", map[event.Status]int{event.StatusLinked: 2}},
		{"team_a", "2026-02-25", map[event.Status]int{event.StatusCreated: 9}}, // before the report
		{"team_b", "2026-03-03", map[event.Status]int{event.StatusSkipped: 5}}, // another team
	} {
		if err := counts.Add(ctx, a.team, a.day, a.by); err != nil {
			t.Fatal(err)
		}
	}
	teams := &healthtest.Teams{
		Conns: map[string]connection.Connection{"team_a": connected(connection.StatusConnected,
			&connection.Usage{Used: 100, Limit: 15000, ServiceCalls: 12, ServiceDay: "2026-03-04"})},
		// today: 5 calls kept of a connection deleted this morning, 12 of the one made after it
		Calls: map[string]map[string]int{"team_a": {"2026-03-02": 40, "2026-03-03": 7, "2026-03-04": 5}, "team_b": {"2026-03-03": 999}},
	}
	got, err := reporter(counts, teams).Report(ctx, "team_a", 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []health.Day{
		{Date: "2026-03-01", Outcomes: map[event.Status]int{}, Calls: 0},
		{Date: "2026-03-02", Outcomes: map[event.Status]int{event.StatusCreated: 3, event.StatusFailed: 1}, Calls: 40},
		{Date: "2026-03-03", Outcomes: map[event.Status]int{}, Calls: 7},
		{Date: "2026-03-04", Outcomes: map[event.Status]int{event.StatusLinked: 2}, Calls: 17},
	}
	if got.From != "2026-03-01" || got.To != "2026-03-04" {
		t.Errorf("range: got %s..%s; want 2026-03-01..2026-03-04", got.From, got.To)
	}
	if !reflect.DeepEqual(got.Days, want) {
		t.Errorf("days: got %+v; want %+v", got.Days, want)
	}
	for _, team := range teams.Reads() {
		if team != "team_a" {
			t.Errorf("got a read for %s; want only team_a's", team)
		}
	}
}

// TestReportCallsOfTheConnectionsDay: the connection's count is of its own
// day only; a count of an earlier day (the team made no call since) is
// shown on that day, not today.
func TestReportCallsOfTheConnectionsDay(t *testing.T) {
	t.Parallel()
	teams := &healthtest.Teams{Conns: map[string]connection.Connection{"team_a": connected(connection.StatusConnected,
		&connection.Usage{Used: 100, Limit: 15000, ServiceCalls: 30, ServiceDay: "2026-03-02"})},
		Calls: map[string]map[string]int{"team_a": {"2026-03-01": 5}}}
	got, err := reporter(new(healthtest.Memory), teams).Report(context.Background(), "team_a", 4)
	if err != nil {
		t.Fatal(err)
	}
	var calls []int
	for _, d := range got.Days {
		calls = append(calls, d.Calls)
	}
	if want := []int{5, 30, 0, 0}; !slices.Equal(calls, want) {
		t.Errorf("calls: got %v; want %v", calls, want)
	}
	if got.Budget == nil || got.Budget.CallsToday != 0 {
		t.Errorf("budget: got %+v; want 0 calls today", got.Budget)
	}
}

func TestReportRefusesDays(t *testing.T) {
	t.Parallel()
	r := reporter(new(healthtest.Memory), &healthtest.Teams{})
	for _, n := range []int{0, -1, 31} {
		if _, err := r.Report(context.Background(), "team_a", n); !errors.Is(err, health.ErrDays) {
			t.Errorf("%d days: got %v; want ErrDays", n, err)
		}
	}
	for _, n := range []int{1, 30} {
		got, err := r.Report(context.Background(), "team_a", n)
		if err != nil || len(got.Days) != n {
			t.Errorf("%d days: got %d days, %v; want %d", n, len(got.Days), err, n)
		}
	}
}

func TestReportBudget(t *testing.T) {
	t.Parallel()
	today := "2026-03-04"
	usage := func(used, limit, calls int) *connection.Usage {
		return &connection.Usage{Used: used, Limit: limit, ServiceCalls: calls, ServiceDay: today}
	}
	tests := []struct {
		name    string
		conn    *connection.Connection
		percent int
		want    *budget.View // nil: null
	}{
		{"not connected: none", nil, 50, nil},
		{"allocation not reported yet: no cap", ptr(connected(connection.StatusConnected, nil)), 50,
			&budget.View{Percent: 50, Cap: nil, CallsToday: 0, State: budget.StateOK}},
		{"well within", ptr(connected(connection.StatusConnected, usage(100, 15000, 10))), 50,
			&budget.View{Percent: 50, Cap: ptr(7500), CallsToday: 10, State: budget.StateOK}},
		{"near the cap", ptr(connected(connection.StatusConnected, usage(100, 15000, 6000))), 50,
			&budget.View{Percent: 50, Cap: ptr(7500), CallsToday: 6000, State: budget.StateNearCap}},
		{"at the cap", ptr(connected(connection.StatusConnected, usage(100, 15000, 7500))), 50,
			&budget.View{Percent: 50, Cap: ptr(7500), CallsToday: 7500, State: budget.StateCapped}},
		{"the org out of calls", ptr(connected(connection.StatusConnected, usage(15000, 15000, 1))), 10,
			&budget.View{Percent: 10, Cap: ptr(1500), CallsToday: 1, State: budget.StateCapped}},
		{"a percent out of range: the default", ptr(connected(connection.StatusConnected, usage(100, 15000, 10))), 0,
			&budget.View{Percent: 50, Cap: ptr(7500), CallsToday: 10, State: budget.StateOK}},
		{"yesterday's calls are not today's", ptr(connected(connection.StatusConnected,
			&connection.Usage{Used: 100, Limit: 15000, ServiceCalls: 7500, ServiceDay: "2026-03-03"})), 50,
			&budget.View{Percent: 50, Cap: ptr(7500), CallsToday: 0, State: budget.StateOK}},
	}
	for _, tt := range tests {
		teams := &healthtest.Teams{Percent: map[string]int{"team_a": tt.percent}}
		if tt.conn != nil {
			teams.Conns = map[string]connection.Connection{"team_a": *tt.conn}
		}
		got, err := reporter(new(healthtest.Memory), teams).Report(context.Background(), "team_a", 7)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (got.Budget == nil) != (tt.want == nil) {
			t.Errorf("%s: got budget %+v; want %+v", tt.name, got.Budget, tt.want)
			continue
		}
		if got.Budget == nil {
			continue
		}
		if !reflect.DeepEqual(got.Budget.View, *tt.want) {
			t.Errorf("%s: got %s; want %s", tt.name, viewString(got.Budget.View), viewString(*tt.want))
		}
	}
}

// viewString shows v with its cap.
func viewString(v budget.View) string {
	c := "none"
	if v.Cap != nil {
		c = strconv.Itoa(*v.Cap)
	}
	return fmt.Sprintf("%d%% cap %s calls %d %s", v.Percent, c, v.CallsToday, v.State)
}

func ptr[T any](v T) *T { return &v }

func TestReportHeld(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	capped := &connection.Usage{Used: 100, Limit: 15000, ServiceCalls: 7500, ServiceDay: "2026-03-04"}
	activity := map[ledger.MemberKey]activitysync.HeldMark{
		{SequenceID: "seq_1", ContactID: "ct_1"}: {N: 3, Since: t2},
		{SequenceID: "seq_2", ContactID: "ct_1"}: {N: 1, Since: t1}, // the same contact in another sequence
		{SequenceID: "seq_1", ContactID: "ct_2"}: {N: 2},
	}
	admin := connected(connection.StatusNeedsAdmin, nil)
	admin.Problem = connection.Problem{Reason: "inactive_user", Message: "the connected user was deactivated"}
	type want struct {
		reason           event.Reason
		events, contacts int
		since            time.Time
		says             string // part of the explanation
	}
	tests := []struct {
		name string
		conn *connection.Connection
		held map[ledger.MemberKey]activitysync.HeldMark
		want []want
	}{
		{"nothing held", ptr(connected(connection.StatusConnected, nil)), nil, nil},
		{"not connected: nothing held, events are skipped", nil, nil, nil},
		{"needs_reauth", ptr(connected(connection.StatusNeedsReauth, nil)), nil,
			[]want{{reason: event.ReasonNeedsReauth, says: "reconnects"}}},
		{"needs_admin, with Salesforce's problem", &admin, nil,
			[]want{{reason: event.ReasonNeedsAdmin, says: "inactive_user: the connected user was deactivated"}}},
		{"budget capped", ptr(connected(connection.StatusConnected, capped)), nil,
			[]want{{reason: event.ReasonAPILimit, says: "7500 of the team's 7500 calls"}}},
		{"activity waiting for its contacts", ptr(connected(connection.StatusConnected, nil)), activity,
			[]want{{reason: event.ReasonContactPending, events: 6, contacts: 2, since: t1, says: "contact's own sync"}}},
		{"reauth and capped and activity, in that order", ptr(connected(connection.StatusNeedsReauth, capped)), activity,
			[]want{{reason: event.ReasonNeedsReauth, says: "reconnects"}, {reason: event.ReasonAPILimit, says: "budget"},
				{reason: event.ReasonContactPending, events: 6, contacts: 2, since: t1, says: "contact"}}},
	}
	for _, tt := range tests {
		teams := &healthtest.Teams{Held: map[string]map[ledger.MemberKey]activitysync.HeldMark{"team_a": tt.held}}
		if tt.conn != nil {
			teams.Conns = map[string]connection.Connection{"team_a": *tt.conn}
		}
		got, err := reporter(new(healthtest.Memory), teams).Report(context.Background(), "team_a", 7)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(got.Held) != len(tt.want) {
			t.Errorf("%s: got %d held %+v; want %d", tt.name, len(got.Held), got.Held, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			h := got.Held[i]
			if h.Reason != w.reason || h.Events != w.events || h.Contacts != w.contacts || !h.Since.Equal(w.since) {
				t.Errorf("%s [%d]: got %s events %d contacts %d since %v; want %s events %d contacts %d since %v", tt.name, i,
					h.Reason, h.Events, h.Contacts, h.Since, w.reason, w.events, w.contacts, w.since)
			}
			if !strings.Contains(h.Explanation, w.says) || h.Explanation == "" {
				t.Errorf("%s [%d]: got explanation %q; want one saying %q", tt.name, i, h.Explanation, w.says)
			}
		}
	}
}

func TestEveryHeldReasonIsExplained(t *testing.T) {
	t.Parallel()
	for _, r := range health.Reasons {
		if health.Explanations[r] == "" {
			t.Errorf("%s: got no explanation; want one", r)
		}
	}
	if len(health.Explanations) != len(health.Reasons) {
		t.Errorf("got %d explanations for %d reasons; want one each", len(health.Explanations), len(health.Reasons))
	}
}

func TestReportFailsOnAFailedRead(t *testing.T) {
	t.Parallel()
	boom := errors.New("table unavailable")
	teams := &healthtest.Teams{Err: boom}
	if _, err := reporter(new(healthtest.Memory), teams).Report(context.Background(), "team_a", 7); !errors.Is(err, boom) {
		t.Errorf("got %v; want the read's error", err)
	}
}

package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// Counter keeps the outcome counts of each team and UTC day.
type Counter interface {
	// Add adds by to the team's counts of day (YYYY-MM-DD), in one write;
	// zero counts are left out, and a by of only zeros writes nothing.
	Add(ctx context.Context, teamID, day string, by map[event.Status]int) error
}

// Counts reads the outcome counts.
type Counts interface {
	// Outcomes returns the team's counts of each day from..to (both
	// included, YYYY-MM-DD) that counted any; a day with none is absent.
	Outcomes(ctx context.Context, teamID, from, to string) (map[string]map[event.Status]int, error)
}

// Store is a Counter and Counts both: healthdb.Store, healthtest.Memory.
type Store interface {
	Counter
	Counts
}

// Calls gives the Salesforce API calls the service made for a team that
// its connection no longer counts: *connectiondb.Store. They never include
// the connection's count of its current day (connection.Usage): a day's
// calls are the two added.
type Calls interface {
	// CallsByDay returns the calls kept for each day from..to (both
	// included) that has any.
	CallsByDay(ctx context.Context, teamID, from, to string) (map[string]int, error)
}

// Connections gives a team's connection; connection.ErrNotConnected when
// it has none.
type Connections interface {
	Get(ctx context.Context, teamID string) (connection.Connection, error)
}

// Budgets gives the team's API budget, a share of its org's daily
// allocation (api_budget_percent).
type Budgets interface {
	BudgetPercent(ctx context.Context, teamID string) (int, error)
}

// HeldActivity lists the team's memberships with activity held until the
// contact's own sync (activity sync's store).
type HeldActivity interface {
	HeldKeys(ctx context.Context, teamID string) (map[ledger.MemberKey]activitysync.HeldMark, error)
}

// Report is a team's sync health over Days.
type Report struct {
	From, To string // the first and last day, UTC; To is today
	Days     []Day  // oldest first, one per day, days with nothing counted included
	// Budget is the team's API budget today; nil when the team is not
	// connected.
	Budget *Budget
	// Held says what waits and why; empty when nothing does.
	Held []Held
}

// Day is what one UTC day counted.
type Day struct {
	Date     string
	Outcomes map[event.Status]int // never nil
	Calls    int                  // Salesforce API calls the service made for the team
}

// Budget is the team's API budget as the governor sees it now: its View
// (what GET /v1/salesforce shows), and the Figures it was made of.
type Budget struct {
	budget.View
	Figures budget.Figures
}

// Reporter assembles a team's Report from the ports.
type Reporter struct {
	Counts      Counts
	Calls       Calls
	Connections Connections
	Budgets     Budgets
	Held        HeldActivity
	Now         func() time.Time // nil: time.Now
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Report returns the team's health over the n UTC days that end today (n
// from 1 to MaxDays; anything else is ErrDays). It reads, side by side,
// the day counts, the calls of past days, the connection, and the held
// activity list: four queries or reads, and the team's settings when it is
// connected.
func (r *Reporter) Report(ctx context.Context, teamID string, n int) (Report, error) {
	if n < 1 || n > MaxDays {
		return Report{}, ErrDays
	}
	now := r.now().UTC()
	days := Days(now, n)
	from, to := days[0], days[len(days)-1]
	var (
		outcomes map[string]map[event.Status]int
		calls    map[string]int
		conn     *connection.Connection
		percent  int
		held     map[ledger.MemberKey]activitysync.HeldMark
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		outcomes, err = r.Counts.Outcomes(gctx, teamID, from, to)
		return wrap("read outcome counts", err)
	})
	g.Go(func() (err error) {
		calls, err = r.Calls.CallsByDay(gctx, teamID, from, to)
		return wrap("read calls per day", err)
	})
	g.Go(func() error {
		c, err := r.Connections.Get(gctx, teamID)
		switch {
		case errors.Is(err, connection.ErrNotConnected):
			return nil
		case err != nil:
			return wrap("read connection", err)
		}
		conn = &c
		percent, err = r.Budgets.BudgetPercent(gctx, teamID)
		return wrap("read API budget", err)
	})
	g.Go(func() (err error) {
		held, err = r.Held.HeldKeys(gctx, teamID)
		return wrap("read held activity", err)
	})
	if err := g.Wait(); err != nil {
		return Report{}, err
	}
	rep := Report{From: from, To: to, Days: fill(days, outcomes, calls, conn)}
	if conn != nil {
		b := budgetOf(conn.Usage, percent, to)
		rep.Budget = &b
	}
	rep.Held = append(teamHolds(conn, rep.Budget), activityHold(held)...)
	return rep, nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// fill makes one Day per day, with what was counted of it: the outcome
// counts, and the calls kept of the day plus the connection's count of it
// when it is the connection's current day (the two never overlap).
func fill(days []string, outcomes map[string]map[event.Status]int, calls map[string]int, conn *connection.Connection) []Day {
	out := make([]Day, len(days))
	for i, d := range days {
		o := map[event.Status]int{}
		for s, n := range outcomes[d] {
			if n != 0 {
				o[s] = n
			}
		}
		out[i] = Day{Date: d, Outcomes: o, Calls: calls[d]}
		if conn != nil {
			out[i].Calls += conn.Usage.CallsOn(d)
		}
	}
	return out
}

// budgetOf is the team's budget on today from the org's usage last
// reported and the team's percent, as the governor decides.
func budgetOf(u *connection.Usage, percent int, today string) Budget {
	f := budget.Figures{Service: u.CallsOn(today), Percent: percent}
	if u != nil {
		f.OrgUsed, f.OrgLimit = u.Used, u.Limit
	}
	return Budget{View: f.View(), Figures: f}
}

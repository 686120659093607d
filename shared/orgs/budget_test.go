package orgs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

type fixedBudget int

func (f fixedBudget) BudgetPercent(context.Context, string) (int, error) { return int(f), nil }

// TestGovernorCountsTheDayAndStopsAtTheCap: each org adds its calls to the
// team's count of the day in one write; a new day starts the count again;
// at the cap no call leaves, near it only low-value work waits.
func TestGovernorCountsTheDayAndStopsAtTheCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Config{DailyLimit: 1000})
	day := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e.orgs.Now = func() time.Time { return day }
	e.orgs.Budgets = fixedBudget(1) // 10 calls a day

	spend := func(n int) *orgs.Org {
		o := e.open()
		for range n {
			if _, err := o.FindByEmail(ctx, []string{"gov@example.com"}); err != nil {
				t.Fatalf("FindByEmail: %v", err)
			}
		}
		if err := o.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return o
	}
	calls := func() int {
		c, err := e.store.Get(ctx, testTeam)
		if err != nil {
			t.Fatal(err)
		}
		return c.Usage.CallsOn("2026-11-30")
	}
	before := e.db.updates.Load()
	spend(3)
	if got := e.db.updates.Load() - before; got != 1 {
		t.Errorf("writes for the day's first org: got %d; want 1", got)
	}
	spend(4)
	if got := calls(); got != 7 {
		t.Errorf("calls of the day after two orgs: got %d; want 7", got)
	}
	o := e.open()
	if err := o.Allow(budget.High); err != nil {
		t.Errorf("Allow(High) at 7 of 10: got %v; want nil", err)
	}
	if err := o.Allow(budget.Low); err != nil {
		t.Errorf("Allow(Low) at 7 of 10: got %v; want nil", err)
	}
	if _, err := o.FindByEmail(ctx, []string{"gov@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Allow(budget.Low); !errors.Is(err, budget.ErrNearCap) {
		t.Errorf("Allow(Low) at 8 of 10: got %v; want ErrNearCap", err)
	}
	for range 2 {
		if _, err := o.FindByEmail(ctx, []string{"gov@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	simBefore := e.sim.Stats().Total
	_, err := o.FindByEmail(ctx, []string{"gov@example.com"})
	if !errors.Is(err, budget.ErrCapped) {
		t.Errorf("a call at 10 of 10: got %v; want ErrCapped", err)
	}
	if _, err := o.Create(ctx, []salesforce.SObject{lead("gov2@example.com")}, salesforce.WriteOptions{}); !errors.Is(err, budget.ErrCapped) {
		t.Errorf("a create at 10 of 10: got %v; want ErrCapped", err)
	}
	if got := e.sim.Stats().Total - simBefore; got != 0 {
		t.Errorf("calls that reached Salesforce at the cap: got %d; want 0", got)
	}
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := calls(); got != 10 {
		t.Errorf("calls of the day: got %d; want 10", got)
	}

	// The next day the count starts again.
	day = day.Add(24 * time.Hour)
	spend(2)
	c, err := e.store.Get(ctx, testTeam)
	if err != nil {
		t.Fatal(err)
	}
	if c.Usage.ServiceDay != "2026-12-01" || c.Usage.ServiceCalls != 2 {
		t.Errorf("next day's count: got %s %d; want 2026-12-01 2", c.Usage.ServiceDay, c.Usage.ServiceCalls)
	}
}

// TestStaleOrgUsageAsksSalesforceAgain: an org reported out of calls stops
// the team's work without a call while the report is fresh; once it is
// older than the recheck time one call asks again, and the work goes on if
// Salesforce has room.
func TestStaleOrgUsageAsksSalesforceAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e := governedEnv(t, 1000, 100, &now, connection.Usage{Used: 1000, Limit: 1000, At: now}, 0)
	before := e.sim.Stats().Total
	o := e.open()
	if _, err := o.FindByEmail(ctx, []string{"stale@example.com"}); !errors.Is(err, budget.ErrCapped) {
		t.Errorf("with a fresh report of a spent org: got %v; want ErrCapped", err)
	}
	if got := e.sim.Stats().Total - before; got != 0 {
		t.Errorf("calls with a fresh report of a spent org: got %d; want 0", got)
	}
	now = now.Add(orgs.DefaultUsageRecheck)
	o = e.open()
	if _, err := o.FindByEmail(ctx, []string{"stale@example.com"}); err != nil {
		t.Errorf("with a stale report, the org having room: got %v; want the call made", err)
	}
}

// TestStaleAllocationIsAskedAgain: a team capped by its share of an org
// allocation that has since grown asks Salesforce once the report is stale,
// and goes on under the new allocation.
func TestStaleAllocationIsAskedAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	// The service spent 60 calls today when the org's allocation was 100.
	e := governedEnv(t, 100000, 50, &now, connection.Usage{Used: 90, Limit: 100, At: now}, 60)
	if _, err := e.open().FindByEmail(ctx, []string{"grown@example.com"}); !errors.Is(err, budget.ErrCapped) {
		t.Fatalf("at 60 of 50 calls: got %v; want ErrCapped", err)
	}
	now = now.Add(orgs.DefaultUsageRecheck)
	o := e.open()
	for i := range 3 {
		if _, err := o.FindByEmail(ctx, []string{"grown@example.com"}); err != nil {
			t.Errorf("call %d under the grown allocation: got %v; want it made", i, err)
		}
	}
}

// governedEnv is an org whose team has the given cap, on a clock read from
// *now, with a usage report (and the service's calls of that day) stored.
func governedEnv(t *testing.T, dailyLimit, percent int, now *time.Time, u connection.Usage, calls int) *env {
	t.Helper()
	e := newEnv(t, org.Config{DailyLimit: dailyLimit})
	e.orgs.Now = func() time.Time { return *now }
	e.orgs.Budgets = fixedBudget(percent)
	u.ServiceDay = connection.Day(u.At)
	if err := e.store.RecordUsage(context.Background(), testTeam, u, calls, true); err != nil {
		t.Fatal(err)
	}
	return e
}

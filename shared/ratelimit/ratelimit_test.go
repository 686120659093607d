package ratelimit_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/ratelimit/ratelimittest"
)

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func TestMemoryConforms(t *testing.T) {
	t.Parallel()
	ratelimittest.Run(t, func(*testing.T) ratelimittest.Store { return ratelimit.NewMemory() })
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// countingWindows counts the takes that reach the store.
type countingWindows struct {
	ratelimit.Windows
	mu    sync.Mutex
	takes int
	err   error
}

func (c *countingWindows) Take(ctx context.Context, key string, start time.Time, max int, expires time.Time) (bool, error) {
	c.mu.Lock()
	c.takes++
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return false, err
	}
	return c.Windows.Take(ctx, key, start, max, expires)
}

var rules = ratelimit.Rules{
	Default: ratelimit.Rule{Name: "all", Limit: ratelimit.Limit{Requests: 3, Per: time.Minute}},
	Routes:  map[string]ratelimit.Rule{"POST /retry": {Name: "retry", Limit: ratelimit.Limit{Requests: 1, Per: 10 * time.Second}}},
}

func TestLimiterRefillsPerWindow(t *testing.T) {
	t.Parallel()
	clk := &clock{now: t0.Add(5 * time.Second)}
	l := &ratelimit.Limiter{Windows: ratelimit.NewMemory(), Rules: rules, Now: clk.Now}
	steps := []struct {
		name      string
		at        time.Duration // after t0
		team      string
		route     string
		wantOK    bool
		wantAfter time.Duration
	}{
		{"1st", 5 * time.Second, "team_a", "GET /x", true, 0},
		{"2nd", 6 * time.Second, "team_a", "GET /y", true, 0},
		{"3rd", 7 * time.Second, "team_a", "PUT /z", true, 0},
		{"4th is over the limit", 8 * time.Second, "team_a", "GET /x", false, 52 * time.Second},
		{"a fraction of a second rounds up", 8*time.Second + 300*time.Millisecond, "team_a", "GET /x", false, 52 * time.Second},
		{"the last second still waits one", 59*time.Second + 900*time.Millisecond, "team_a", "GET /x", false, time.Second},
		{"team B is not counted with A", 9 * time.Second, "team_b", "GET /x", true, 0},
		{"a route with its own rule", 9 * time.Second, "team_a", "POST /retry", true, 0},
		{"its own rule is stricter", 9 * time.Second, "team_a", "POST /retry", false, time.Second},
		{"its next window", 10 * time.Second, "team_a", "POST /retry", true, 0},
		{"the next minute refills", 60 * time.Second, "team_a", "GET /x", true, 0},
	}
	for _, st := range steps {
		clk.Set(t0.Add(st.at))
		d, err := l.Allow(context.Background(), st.team, st.route)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != st.wantOK || d.RetryAfter != st.wantAfter {
			t.Errorf("%s: got allowed=%v retry after %v; want %v, %v", st.name, d.Allowed, d.RetryAfter, st.wantOK, st.wantAfter)
		}
	}
}

func TestLimiterRefusesAFullWindowWithoutAWrite(t *testing.T) {
	t.Parallel()
	clk := &clock{now: t0}
	store := &countingWindows{Windows: ratelimit.NewMemory()}
	l := &ratelimit.Limiter{Windows: store, Rules: rules, Now: clk.Now}
	allow := func(team string) bool {
		t.Helper()
		d, err := l.Allow(context.Background(), team, "GET /x")
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	for range 4 {
		allow("team_a")
	}
	for range 10 {
		if allow("team_a") {
			t.Fatalf("over the limit: got allowed; want refused")
		}
	}
	if store.takes != 4 {
		t.Errorf("store takes: got %d; want 4 (3 counted, 1 refused, then none)", store.takes)
	}
	allow("team_b")
	if store.takes != 5 {
		t.Errorf("another team's request: got %d takes; want it to reach the store (5)", store.takes)
	}
	clk.Set(t0.Add(time.Minute))
	if !allow("team_a") || store.takes != 6 {
		t.Errorf("the next window: got takes %d; want it asked of the store and allowed", store.takes)
	}
}

// An instance never trusts its own memory of a window with room: another
// instance may have filled it.
func TestLimiterSharesTheCountAcrossInstances(t *testing.T) {
	t.Parallel()
	clk := &clock{now: t0}
	store := ratelimit.NewMemory()
	a := &ratelimit.Limiter{Windows: store, Rules: rules, Now: clk.Now}
	b := &ratelimit.Limiter{Windows: store, Rules: rules, Now: clk.Now}
	ctx := context.Background()
	var got []bool
	for _, l := range []*ratelimit.Limiter{a, b, a, b} {
		d, err := l.Allow(ctx, "team_a", "GET /x")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Allowed)
	}
	if want := []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Errorf("two instances sharing a limit of 3: got %v; want %v", got, want)
	}
}

func TestLimiterErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("throttled")
	l := &ratelimit.Limiter{Windows: &countingWindows{Windows: ratelimit.NewMemory(), err: boom}, Rules: rules}
	if _, err := l.Allow(context.Background(), "team_a", "GET /x"); !errors.Is(err, boom) {
		t.Errorf("store error: got %v; want it wrapped", err)
	}
	for _, lim := range []ratelimit.Limit{{Requests: 0, Per: time.Minute}, {Requests: 1, Per: 1500 * time.Millisecond}, {Requests: 1}} {
		bad := &ratelimit.Limiter{Windows: ratelimit.NewMemory(), Rules: ratelimit.Rules{Default: ratelimit.Rule{Name: "all", Limit: lim}}}
		if _, err := bad.Allow(context.Background(), "team_a", "GET /x"); !errors.Is(err, ratelimit.ErrBadLimit) {
			t.Errorf("limit %v: got %v; want ErrBadLimit", lim, err)
		}
	}
}

func TestCooldown(t *testing.T) {
	t.Parallel()
	clk := &clock{now: t0}
	c := &ratelimit.Cooldown{Marks: ratelimit.NewMemory(), Period: 2 * time.Minute, Now: clk.Now}
	ctx := context.Background()
	steps := []struct {
		name      string
		at        time.Duration
		key       string
		wantOK    bool
		wantAfter time.Duration
	}{
		{"first start", 0, "team_a#x", true, 0},
		{"again at once", 0, "team_a#x", false, 2 * time.Minute},
		{"again 30.5 s later", 30*time.Second + 500*time.Millisecond, "team_a#x", false, 90 * time.Second},
		{"another key meanwhile", 31 * time.Second, "team_a#y", true, 0},
		{"after the period", 2 * time.Minute, "team_a#x", true, 0},
	}
	for _, st := range steps {
		clk.Set(t0.Add(st.at))
		_, d, err := c.Start(ctx, st.key)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != st.wantOK || d.RetryAfter != st.wantAfter {
			t.Errorf("%s: got allowed=%v retry after %v; want %v, %v", st.name, d.Allowed, d.RetryAfter, st.wantOK, st.wantAfter)
		}
	}
}

func TestCooldownUndo(t *testing.T) {
	t.Parallel()
	clk := &clock{now: t0}
	c := &ratelimit.Cooldown{Marks: ratelimit.NewMemory(), Period: time.Minute, Now: clk.Now}
	ctx := context.Background()
	started, d, err := c.Start(ctx, "team_a#x")
	if err != nil || !d.Allowed {
		t.Fatalf("start: got %v %v; want allowed", d, err)
	}
	if err := started.Undo(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Second))
	if _, d, _ := c.Start(ctx, "team_a#x"); !d.Allowed {
		t.Errorf("after undo: got refused for %v; want allowed at once", d.RetryAfter)
	}
	if err := (ratelimit.Started{}).Undo(ctx); err != nil {
		t.Errorf("undo of nothing: got %v; want nil", err)
	}
}

func TestLimitString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		l    ratelimit.Limit
		want string
	}{
		{ratelimit.Limit{Requests: 300, Per: time.Minute}, "300 requests per minute"},
		{ratelimit.Limit{Requests: 1, Per: time.Second}, "1 request per second"},
		{ratelimit.Limit{Requests: 5, Per: 10 * time.Minute}, "5 requests per 10 minutes"},
		{ratelimit.Limit{Requests: 5, Per: 90 * time.Second}, "5 requests per 90 seconds"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("%#v: got %q; want %q", tt.l, got, tt.want)
		}
	}
}

package activitytest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
)

// Open returns a store on the clock now, for one case of Run. The store may
// be shared by the cases (Run gives each case teams of its own), but its
// clock must be now.
type Open func(t *testing.T, now func() time.Time) activitysync.Activities

// Start is the time every case's clock starts at.
var Start = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// clock is a settable clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testCase is one rule of the Activities port, stated on h.
type testCase struct {
	name string
	run  func(h *harness)
}

// Run states every rule of activitysync.Activities the engine relies on,
// one subtest each, on stores from open: claims per activity key, held
// activities, the Task field cache. Each case has its own clock and teams,
// and runs in parallel with the others.
func Run(t *testing.T, open Open) {
	cases := append(claimCases(), append(heldCases(), fieldCases()...)...)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{}
			clk.ns.Store(Start.UnixNano())
			h := &harness{t: t, ctx: context.Background(), clock: clk, s: open(t, clk.Now),
				a: fmt.Sprintf("team_%02d_a", i), b: fmt.Sprintf("team_%02d_b", i)}
			c.run(h)
		})
	}
}

// harness is one case's store, clock and teams, with the calls a case
// makes; a call that fails as a whole stops the case.
type harness struct {
	t     *testing.T
	ctx   context.Context
	s     activitysync.Activities
	clock *clock
	a, b  string // the case's teams
}

func (h *harness) must(what string, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
}

// claims is ClaimAll in team a until a minute from now, each key claimed
// by the event evt_<key>.
func (h *harness) claims(owner string, keys ...string) []activitysync.ClaimResult {
	h.t.Helper()
	return h.claimsFor(time.Minute, h.a, owner, keys...)
}

func (h *harness) claimsFor(d time.Duration, team, owner string, keys ...string) []activitysync.ClaimResult {
	h.t.Helper()
	reqs := make([]activitysync.ClaimRequest, len(keys))
	for i, k := range keys {
		reqs[i] = activitysync.ClaimRequest{Key: k, EventID: "evt_" + k}
	}
	res, err := h.s.ClaimAll(h.ctx, team, reqs, owner, h.clock.Now().Add(d))
	h.must("claim", err)
	if len(res) != len(keys) {
		h.t.Fatalf("claim: got %d results; want %d", len(res), len(keys))
	}
	return res
}

// errAny stands for any error in a wanted result.
var errAny = errors.New("any error")

// want is a wanted ClaimResult: the claim, or an error (nil: none).
type want struct {
	claim activitysync.Claim
	err   error
}

// fresh, attempted and logged are the claims a case wants.
func fresh(eventID string) want { return want{claim: activitysync.Claim{EventID: eventID}} }
func attempted(eventID string) want {
	return want{claim: activitysync.Claim{EventID: eventID, Attempted: true}}
}
func logged(taskID, eventID string) want {
	return want{claim: activitysync.Claim{TaskID: taskID, EventID: eventID}}
}

var refused = want{err: activitysync.ErrClaimed}

// wantClaims checks ClaimAll's results.
func (h *harness) wantClaims(what string, got []activitysync.ClaimResult, wants ...want) {
	h.t.Helper()
	for i, w := range wants {
		g := got[i]
		switch {
		case w.err == nil && (g.Err != nil || g.Claim != w.claim):
			h.t.Errorf("%s [%d]: got %+v, %v; want %+v", what, i, g.Claim, g.Err, w.claim)
		case w.err == errAny && g.Err == nil, w.err != nil && w.err != errAny && !errors.Is(g.Err, w.err):
			h.t.Errorf("%s [%d]: got %+v, %v; want error %v", what, i, g.Claim, g.Err, w.err)
		}
	}
}

func (h *harness) done(owner string, tasks ...activitysync.LoggedTask) []error {
	h.t.Helper()
	errs, err := h.s.DoneAll(h.ctx, h.a, owner, tasks)
	h.must("done", err)
	return errs
}

func task(key, taskID string) activitysync.LoggedTask {
	return activitysync.LoggedTask{Key: key, TaskID: taskID}
}

// wantEqual fails the case unless got and want are deeply equal.
func wantEqual[T any](h *harness, what string, got, want T) {
	h.t.Helper()
	if !reflect.DeepEqual(got, want) {
		h.t.Errorf("%s: got %+v; want %+v", what, got, want)
	}
}

package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func TestTeamTime(t *testing.T) {
	t.Parallel()
	const s = time.Second
	tests := []struct {
		name  string
		left  time.Duration
		teams int
		least time.Duration
		want  time.Duration
	}{
		{"the last team gets what is left", 20 * s, 1, 5 * s, 20 * s},
		{"an equal share of what is left", 27 * s, 3, 5 * s, 9 * s},
		{"no less than the least share", 27 * s, 10, 5 * s, 5 * s},
		{"but never past the deadline", 3 * s, 4, 5 * s, 3 * s},
		{"nothing left", 0, 3, 5 * s, 0},
		{"past the deadline", -2 * s, 1, 5 * s, 0},
	}
	for _, tt := range tests {
		if got := delivery.TeamTime(tt.left, tt.teams, tt.least); got != tt.want {
			t.Errorf("%s: TeamTime(%s, %d, %s): got %s; want %s", tt.name, tt.left, tt.teams, tt.least, got, tt.want)
		}
	}
}

// deliveryOf is one delivery of team, with an id unique in the test.
func deliveryOf(team string, i int) delivery.Delivery {
	var d delivery.Delivery
	d.ID, d.Event.TeamID = fmt.Sprintf("%s-%d", team, i), team
	return d
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestRunPartsSharesTheTime: each team runs under an equal share of the time
// left when it starts, so what a team does not use goes to those after it.
func TestRunPartsSharesTheTime(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	now := t0
	took := map[string]time.Duration{"a": 4 * time.Second, "b": 20 * time.Second, "c": time.Second}
	ctx, cancel := context.WithDeadline(context.Background(), t0.Add(30*time.Second))
	defer cancel()
	deadlines := map[string]time.Duration{}
	delivery.RunParts(ctx, []delivery.Delivery{deliveryOf("a", 1), deliveryOf("b", 1), deliveryOf("c", 1)}, map[string]error{}, delivery.Runner{
		Log: quiet(), MinTeamTime: time.Second,
		Now: func() time.Time { return now }, First: func(int) int { return 0 },
		Run: func(ctx context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
			dl, _ := ctx.Deadline()
			deadlines[team] = dl.Sub(t0)
			now = now.Add(took[team]) // the clock the shares are reckoned by
			return nil, nil
		},
	})
	// a: 30/3 = 10 s; b, at 4 s: 26/2 = 13 s, ending at 17 s; c, at 24 s: the 6 s left.
	want := map[string]time.Duration{"a": 10 * time.Second, "b": 17 * time.Second, "c": 30 * time.Second}
	if fmt.Sprint(deadlines) != fmt.Sprint(want) {
		t.Errorf("deadlines from the start: got %v; want %v", deadlines, want)
	}
}

// TestRunPartsCutsOnlyTheSlowTeam: a team whose org does not answer within
// its share comes back out of time, its later part with it, unrun; the
// teams after it run and come back with nothing.
func TestRunPartsCutsOnlyTheSlowTeam(t *testing.T) {
	t.Parallel()
	var ds []delivery.Delivery
	for i := range delivery.PartSize + 1 { // two parts
		ds = append(ds, deliveryOf("slow", i))
	}
	ds = append(ds, deliveryOf("a", 1), deliveryOf("b", 1), deliveryOf("a", 2))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	failed := map[string]error{}
	var mu sync.Mutex
	runs := map[string]int{}
	delivery.RunParts(ctx, ds, failed, delivery.Runner{
		Log: quiet(), MinTeamTime: time.Millisecond,
		Run: func(ctx context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
			mu.Lock()
			runs[team]++
			mu.Unlock()
			if team == "slow" { // a call that outlasts the team's share, cut by its context
				<-ctx.Done()
				return nil, fmt.Errorf("%w: find by email: %w", delivery.ErrRetry, ctx.Err())
			}
			return nil, nil
		},
	})
	if runs["slow"] != 1 || runs["a"] != 1 || runs["b"] != 1 {
		t.Errorf("runs: got %v; want slow:1 (its second part not run) a:1 b:1", runs)
	}
	if len(failed) != delivery.PartSize+1 {
		t.Errorf("deliveries back: got %d; want the slow team's %d", len(failed), delivery.PartSize+1)
	}
	for id, err := range failed {
		if id[:4] != "slow" {
			t.Errorf("%s back with %v; want only the slow team's deliveries back", id, err)
		}
		if !errors.Is(err, delivery.ErrOutOfTime) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: got %v; want ErrOutOfTime (a deadline, not the delivery's fault)", id, err)
			break
		}
	}
}

// TestRunPartsNoTimeLeft: a team that the teams before it left no time is
// not run; its deliveries come back not run (waiting, as the adapter's
// error says), not out of time: they never count against it.
func TestRunPartsNoTimeLeft(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(30*time.Second))
	defer cancel()
	failed := map[string]error{}
	var ran []string
	delivery.RunParts(ctx, []delivery.Delivery{deliveryOf("a", 1), deliveryOf("b", 1)}, failed, delivery.Runner{
		Log: quiet(), MinTeamTime: 20 * time.Second,
		Now: func() time.Time { return now }, First: func(int) int { return 0 },
		Run: func(_ context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
			ran = append(ran, team)
			now = now.Add(30 * time.Second) // a ran to the batch's deadline
			return nil, nil
		},
	})
	if fmt.Sprint(ran) != "[a]" {
		t.Errorf("teams run: got %v; want [a]", ran)
	}
	err := failed["b-1"]
	if len(failed) != 1 || !errors.Is(err, delivery.ErrNotRun) || !errors.Is(err, delivery.ErrWait) || errors.Is(err, delivery.ErrOutOfTime) {
		t.Errorf("back: got %v; want b-1 not run, waiting, not out of time", failed)
	}
}

// TestRunPartsBoundsTheLeastShare: ten teams whose orgs all take all the
// time they are given each get an equal share of the batch's time, not
// MinTeamTime each: every team runs, none is left without a turn.
func TestRunPartsBoundsTheLeastShare(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	now := t0
	ctx, cancel := context.WithDeadline(context.Background(), t0.Add(27*time.Second))
	defer cancel()
	var ds []delivery.Delivery
	for i := range 10 {
		ds = append(ds, deliveryOf(fmt.Sprintf("t%d", i), 1))
	}
	failed := map[string]error{}
	shares := map[string]time.Duration{}
	delivery.RunParts(ctx, ds, failed, delivery.Runner{
		Log: quiet(), MinTeamTime: 5 * time.Second,
		Now: func() time.Time { return now },
		Run: func(ctx context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
			dl, _ := ctx.Deadline()
			shares[team] = dl.Sub(now)
			now = dl // the org answered when its share ended
			return nil, nil
		},
	})
	if len(shares) != 10 {
		t.Errorf("teams run: got %d %v; want all 10", len(shares), shares)
	}
	for team, share := range shares {
		if share != 2700*time.Millisecond {
			t.Errorf("%s: share %s; want 2.7s, a tenth of the batch's time", team, share)
		}
	}
	for id, err := range failed {
		t.Errorf("%s: back with %v; want none (every team ran)", id, err)
	}
}

// TestRunPartsRotatesTheTeams: the teams run in order of first appearance
// from the one First names, wrapping round; by default that one is random,
// so no team is always last.
func TestRunPartsRotatesTheTeams(t *testing.T) {
	t.Parallel()
	ds := []delivery.Delivery{deliveryOf("a", 1), deliveryOf("b", 1), deliveryOf("c", 1), deliveryOf("a", 2), deliveryOf("d", 1)}
	order := func(first func(int) int) string {
		var ran []string
		delivery.RunParts(context.Background(), slices.Clone(ds), map[string]error{}, delivery.Runner{
			Log: quiet(), First: first,
			Run: func(_ context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
				ran = append(ran, team)
				return nil, nil
			},
		})
		return fmt.Sprint(ran)
	}
	if got := order(func(n int) int { return 2 }); got != "[c d a b]" {
		t.Errorf("starting at the third team: got %s; want [c d a b]", got)
	}
	firsts := map[string]bool{}
	for range 200 { // each of four teams is first with chance 1/4: all are, short of a 1e-24 chance
		firsts[order(nil)[1:2]] = true
	}
	if len(firsts) != 4 {
		t.Errorf("teams that ran first in 200 batches: got %v; want each of a, b, c, d", firsts)
	}
}

// TestRunPartsPanic: a team whose run panics comes back failed; the other
// teams run and the batch goes on.
func TestRunPartsPanic(t *testing.T) {
	t.Parallel()
	failed := map[string]error{}
	var ran []string
	delivery.RunParts(context.Background(), []delivery.Delivery{deliveryOf("bad", 1), deliveryOf("ok", 1)}, failed, delivery.Runner{
		Log: quiet(), First: func(int) int { return 0 },
		Run: func(_ context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
			ran = append(ran, team)
			if team == "bad" {
				var m map[string]int
				m["x"]++ // a bug met on this team's data
			}
			return nil, nil
		},
	})
	if fmt.Sprint(ran) != "[bad ok]" {
		t.Errorf("teams run: got %v; want [bad ok]", ran)
	}
	if err := failed["bad-1"]; len(failed) != 1 || !errors.Is(err, delivery.ErrPanicked) {
		t.Errorf("back: got %v; want bad-1 with ErrPanicked", failed)
	}
}

// TestRunPartsHeldWinsOverTime: a team held as its share ends stays held
// (parked until it can sync), not handed back as out of time.
func TestRunPartsHeldWinsOverTime(t *testing.T) {
	t.Parallel()
	held := fmt.Errorf("%w: %w", delivery.ErrHeld, salesforce.ErrRequestLimit)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	failed := map[string]error{}
	var teams []string
	delivery.RunParts(ctx, []delivery.Delivery{deliveryOf("a", 1)}, failed, delivery.Runner{
		Log: quiet(), OnHeld: func(team string) { teams = append(teams, team) },
		Run: func(ctx context.Context, _ string, _ []delivery.Delivery) (map[string]error, error) {
			<-ctx.Done()
			return nil, held
		},
	})
	if err := failed["a-1"]; len(failed) != 1 || !errors.Is(err, delivery.ErrHeld) || errors.Is(err, delivery.ErrOutOfTime) {
		t.Errorf("back: got %v; want a-1 held, not out of time", failed)
	}
	if fmt.Sprint(teams) != "[a]" {
		t.Errorf("teams held: got %v; want [a]", teams)
	}
}

// TestRunPartsWriteOutlivesTheShare: a write started within its team's
// share runs past the share's end to its answer, while a read of the same
// team is cut there; the team's deliveries are answered, and the next team
// still runs, with the time that is left.
func TestRunPartsWriteOutlivesTheShare(t *testing.T) {
	t.Parallel()
	work, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	workEnd, _ := work.Deadline()
	var readErr, writeErr, lateWriteErr error
	var writeEnd time.Time
	nextRan := false
	failed := map[string]error{}
	delivery.RunParts(work, []delivery.Delivery{deliveryOf("writer", 1), deliveryOf("next", 1)}, failed, delivery.Runner{
		Log: quiet(), MinTeamTime: time.Millisecond, First: func(int) int { return 0 },
		Run: func(ctx context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
			if team == "next" {
				nextRan = ctx.Err() == nil
				return nil, nil
			}
			wctx := delivery.WriteContext(ctx) // the write starts within the share
			answered := make(chan struct{})
			written := make(chan struct{})
			go func() { // the write: it answers once the share is over
				defer close(written)
				select {
				case <-answered:
				case <-wctx.Done():
					writeErr = wctx.Err()
				}
			}()
			<-ctx.Done() // a read: cut at the share's end
			readErr = ctx.Err()
			lateWriteErr = delivery.WriteContext(ctx).Err() // a write that would start now
			writeEnd, _ = wctx.Deadline()
			close(answered)
			<-written
			return nil, writeErr
		},
	})
	if !errors.Is(readErr, context.DeadlineExceeded) {
		t.Errorf("the read: got %v; want it cut at the share's end", readErr)
	}
	if writeErr != nil {
		t.Errorf("the write in flight: got %v; want it to run past the share's end to its answer", writeErr)
	}
	if !writeEnd.Equal(workEnd) {
		t.Errorf("the write's deadline: got %v; want the batch's, %v", writeEnd, workEnd)
	}
	if !errors.Is(lateWriteErr, context.DeadlineExceeded) {
		t.Errorf("a write starting after the share: got %v; want it not to start", lateWriteErr)
	}
	if !nextRan {
		t.Error("the next team did not run; want it run with the time left")
	}
	if len(failed) != 0 {
		t.Errorf("deliveries back: got %v; want none (the writer's answered, the next team's run)", failed)
	}
}

// TestWriteContextOutsideAShare: a context that is no team's share is its
// own write context.
func TestWriteContextOutsideAShare(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if got := delivery.WriteContext(ctx); got != ctx {
		t.Errorf("got %v; want the context itself", got)
	}
}

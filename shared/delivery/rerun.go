package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/platform/backoff"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Defaults of Rerun.
const (
	DefaultReruns    = 2
	DefaultRerunWait = 500 * time.Millisecond
	rerunTimeNeeded  = 10 * time.Second // left before the deadline for a rerun to start
)

// ByTeam splits a batch's deliveries by team, teams in order of first
// appearance. It puts ds in that order, each team's deliveries in their own
// order, and returns parts of it: a batch of 10,000 deliveries is not
// copied. Each part's capacity ends at its length, so appending to one
// never writes over the next.
func ByTeam(ds []Delivery) (teams []string, byTeam map[string][]Delivery) {
	return byTeamOf(ds, func(d Delivery) string { return d.Event.TeamID })
}

// byTeamOf splits xs by their team as ByTeam does.
func byTeamOf[T any](xs []T, teamOf func(T) string) (teams []string, byTeam map[string][]T) {
	order := map[string]int{}
	for _, x := range xs {
		if _, ok := order[teamOf(x)]; !ok {
			order[teamOf(x)] = len(teams)
			teams = append(teams, teamOf(x))
		}
	}
	slices.SortStableFunc(xs, func(a, b T) int { return cmp.Compare(order[teamOf(a)], order[teamOf(b)]) })
	byTeam = make(map[string][]T, len(teams))
	for start, i := 0, 1; i <= len(xs); i++ {
		if i == len(xs) || teamOf(xs[i]) != teamOf(xs[start]) {
			byTeam[teamOf(xs[start])] = xs[start:i:i]
			start = i
		}
	}
	return teams, byTeam
}

// Rerun runs a team's work, and runs it again, up to reruns more times (0:
// DefaultReruns, negative: none) after a doubling wait (package backoff), while it
// fails with a transient Salesforce error (a 5xx, a lost connection) and
// the context leaves time. A run is idempotent, as a redelivery is: what
// the first one saved is found, nothing is made twice. Running again at
// once spares the whole team batch a trip through the queue's visibility
// timeout for a passing fault.
func Rerun(ctx context.Context, reruns int, wait time.Duration, run func() error) error {
	switch {
	case reruns == 0:
		reruns = DefaultReruns
	case reruns < 0:
		reruns = 0
	}
	if wait <= 0 {
		wait = DefaultRerunWait
	}
	err := run()
	for n := 1; n <= reruns; n++ {
		if !errors.Is(err, salesforce.ErrTransient) || errors.Is(err, ErrHeld) {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait<<n+rerunTimeNeeded {
			return err
		}
		if backoff.Wait(ctx, wait, 10*time.Second, n) != nil {
			return err
		}
		err = run()
	}
	return err
}

// Runner is how RunParts runs a team's part of a batch.
type Runner struct {
	Reruns int           // see Rerun
	Wait   time.Duration // see Rerun
	Log    *slog.Logger
	// Run runs one part under ctx, which ends with the team's share of the
	// batch's time, and returns the deliveries of the part that must come
	// back, with why; an error brings the whole part back. Parts of
	// different teams may run at once (Teams), never two of one team.
	Run func(ctx context.Context, team string, part []Delivery) (back map[string]error, err error)
	// OnHeld, when set, is told that a team's events were held.
	OnHeld func(team string)
	// MinTeamTime is the least share of the batch's time a team gets (see
	// TeamTime); DefaultMinTeamTime when zero.
	MinTeamTime time.Duration
	// Now is the clock the shares are reckoned by, the one ctx's deadline
	// is on; time.Now when nil.
	Now func() time.Time
	// First gives the index, among teams teams in order of first
	// appearance, of the team that runs first (see RunParts); a random one
	// when nil.
	First func(teams int) int
	// Gather holds a team's small part back to run with its next events
	// (see Gather); the zero value holds nothing back.
	Gather Gather
	// Teams is how many teams run at once (0 or 1: one after the other).
	// A batch of many small team parts spends most of its time waiting on
	// the teams' orgs; running several at once shortens it in proportion,
	// each team still under its share of the time (see RunParts).
	Teams int
}

func (r Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r Runner) first(teams int) int {
	if r.First != nil {
		return r.First(teams) % teams
	}
	return rand.IntN(teams)
}

// RunParts runs a batch's deliveries team by team, each team under its own
// share of the time left before ctx's deadline (TeamTime), each team's in
// parts (Parts, PartSize), each part through Rerun. A part that fails comes
// back whole, with its error in failed; when the error holds the team, its
// later parts come back with it, without being run. A team whose share
// ends comes back the same way with ErrOutOfTime (the part cut and those
// not run), and the next team runs: a slow org delays only its own team.
//
// The least share (MinTeamTime) is bounded by an equal share of the
// batch's time, so slow teams cannot take the turns of all the teams
// after them; a team whose turn still comes with no time left is not run,
// and comes back with ErrNotRun, which never counts against it. The teams
// run in order of first appearance, starting at a random one (First) and
// wrapping round: no team is always last, whatever the order of the queue.
// (Fewest deliveries first would let a team with few, slow events always
// run before a large one.)
func RunParts(ctx context.Context, ds []Delivery, failed map[string]error, r Runner) {
	teams, byTeam := ByTeam(ds)
	if len(teams) == 0 {
		return
	}
	teams = rotate(teams, r.first(len(teams)))
	teams = r.gather(teams, byTeam, failed)
	if len(teams) == 0 {
		return
	}
	at := max(1, min(r.Teams, len(teams)))
	least := leastShare(ctx, r.now(), turns(len(teams), at), cmp.Or(r.MinTeamTime, DefaultMinTeamTime))
	var mu sync.Mutex // guards next and failed
	next := 0
	var wg sync.WaitGroup
	for range at {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(teams) {
					return
				}
				back := r.turn(ctx, teams[i], byTeam[teams[i]], turns(len(teams)-i, at), least)
				mu.Lock()
				maps.Copy(failed, back)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// turns is how many turns teams teams take when at run at once: the
// shares of the time left are reckoned per turn.
func turns(teams, at int) int { return (teams + at - 1) / at }

// turn runs team t's deliveries ds under its share of the time left, as
// one of turns turns still to come, and returns those that come back.
func (r Runner) turn(ctx context.Context, t string, ds []Delivery, turns int, least time.Duration) map[string]error {
	back := map[string]error{}
	tctx, cancel, ok := teamContext(ctx, r.now(), turns, least)
	defer cancel()
	if ok {
		r.runTeam(tctx, t, ds, back)
	} else {
		r.skipTeam(t, ds, back)
	}
	return back
}

// gather sends back the deliveries of the teams whose parts are held to
// gather more (Gather), and returns the teams that run now, in order.
func (r Runner) gather(teams []string, byTeam map[string][]Delivery, failed map[string]error) []string {
	now := r.now()
	run := teams[:0:0]
	for _, t := range teams {
		if !r.Gather.Holds(byTeam[t], now) {
			run = append(run, t)
			continue
		}
		for _, d := range byTeam[t] {
			failed[d.ID] = ErrGathering
		}
	}
	return run
}

// rotate is ts starting at ts[i], wrapping round, in a new slice.
func rotate(ts []string, i int) []string {
	return append(slices.Clone(ts[i:]), ts[:i]...)
}

// skipTeam hands a team not run back: its deliveries wait for the next batch.
func (r Runner) skipTeam(t string, ds []Delivery, failed map[string]error) {
	err := ErrNotRun
	r.Log.Warn("team batch returns to the queue", "team_id", t, "events", len(ds), "error", err.Error())
	for _, d := range ds {
		failed[d.ID] = err
	}
}

// runTeam runs one team's deliveries in parts under ctx, the team's share.
func (r Runner) runTeam(ctx context.Context, t string, ds []Delivery, failed map[string]error) {
	parts := Parts(ds, PartSize)
	for i, part := range parts {
		err := outOfTime(ctx, nil)
		if err == nil {
			var back map[string]error
			err = Rerun(ctx, r.Reruns, r.Wait, func() (err error) {
				back, err = r.run(ctx, t, part)
				return err
			})
			if err == nil {
				maps.Copy(failed, back)
				continue
			}
		}
		held := errors.Is(err, ErrHeld)
		if !held {
			err = outOfTime(ctx, err)
		}
		r.Log.Warn("team batch returns to the queue", "team_id", t, "events", len(part), "error", err.Error())
		for _, d := range part {
			failed[d.ID] = err
		}
		if !held && !errors.Is(err, ErrOutOfTime) {
			continue
		}
		for _, rest := range parts[i+1:] { // held or out of time alike: they wait too
			for _, d := range rest {
				failed[d.ID] = err
			}
		}
		if held && r.OnHeld != nil {
			r.OnHeld(t)
		}
		break
	}
}

// outOfTime is err as ErrOutOfTime when the team's share (ctx) has ended:
// whatever the run met then, its deliveries are not at fault. Otherwise
// err as it is.
func outOfTime(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if err == nil || errors.Is(err, ErrOutOfTime) {
		return ErrOutOfTime
	}
	return fmt.Errorf("%w: %w", ErrOutOfTime, err)
}

// ErrPanicked is the error of a team's part whose run panicked: the part
// comes back as failed, the other teams' parts run on.
var ErrPanicked = errors.New("the team's run panicked")

// run is r.Run, with a panic of the run turned into the part's error so
// that it fails only this team's deliveries, not the whole batch. (A panic
// in a goroutine the run starts still ends the process.)
func (r Runner) run(ctx context.Context, team string, part []Delivery) (back map[string]error, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.Log.Error("team batch panicked", "team_id", team, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanicked, p)
		}
	}()
	return r.Run(ctx, team, part)
}

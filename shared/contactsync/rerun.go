package contactsync

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/sfsync/sfsync/shared/backoff"
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
	order := map[string]int{}
	for _, d := range ds {
		if _, ok := order[d.Event.TeamID]; !ok {
			order[d.Event.TeamID] = len(teams)
			teams = append(teams, d.Event.TeamID)
		}
	}
	slices.SortStableFunc(ds, func(a, b Delivery) int { return cmp.Compare(order[a.Event.TeamID], order[b.Event.TeamID]) })
	byTeam = make(map[string][]Delivery, len(teams))
	for start, i := 0, 1; i <= len(ds); i++ {
		if i == len(ds) || ds[i].Event.TeamID != ds[start].Event.TeamID {
			byTeam[ds[start].Event.TeamID] = ds[start:i:i]
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
	// Run runs one part; it records in failed the deliveries that must
	// come back.
	Run func(team string, part []Delivery) error
	// Held reports whether a part's error holds the team's events.
	Held func(error) bool
	// OnHeld, when set, is told that a team's events were held.
	OnHeld func(team string)
}

// RunParts runs a batch's deliveries team by team, each team's in parts
// (Parts, PartSize), each part through Rerun. A part that fails comes back
// whole, with its error in failed; when the error holds the team, its
// later parts come back with it, without being run.
func RunParts(ctx context.Context, ds []Delivery, failed map[string]error, r Runner) {
	teams, byTeam := ByTeam(ds)
	for _, t := range teams {
		parts := Parts(byTeam[t], PartSize)
		for i, part := range parts {
			err := Rerun(ctx, r.Reruns, r.Wait, func() error {
				for _, d := range part {
					delete(failed, d.ID)
				}
				return r.Run(t, part)
			})
			if err == nil {
				continue
			}
			r.Log.Warn("team batch returns to the queue", "team_id", t, "events", len(part), "error", err.Error())
			for _, d := range part {
				failed[d.ID] = err
			}
			if r.Held(err) {
				for _, rest := range parts[i+1:] { // held alike: they wait too
					for _, d := range rest {
						failed[d.ID] = err
					}
				}
				if r.OnHeld != nil {
					r.OnHeld(t)
				}
				break
			}
		}
	}
}

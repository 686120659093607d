package contactsync

import (
	"context"
	"errors"
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

// ByTeam splits a batch's deliveries by team, teams in order of first appearance.
func ByTeam(ds []Delivery) (teams []string, byTeam map[string][]Delivery) {
	byTeam = map[string][]Delivery{}
	for _, d := range ds {
		t := d.Event.TeamID
		if _, ok := byTeam[t]; !ok {
			teams = append(teams, t)
		}
		byTeam[t] = append(byTeam[t], d)
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

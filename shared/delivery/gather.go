package delivery

import (
	"fmt"
	"time"
)

// Gather says when a team's part of a batch is too small to be worth its
// calls yet. Every part costs the team's org a lookup and a create call,
// and the ledger a dozen requests, whatever its size: a team whose events
// trickle in, a few per batch, pays them for every few events. A part of
// fewer than Min deliveries, none of which has waited For since the queue
// first delivered it, goes back to wait (ErrGathering, an ErrWait: the
// queue sends it again after a short delay, and waiting never counts
// towards maxReceiveCount), so that it runs later with the team's events
// that came meanwhile. The zero Gather holds nothing back.
type Gather struct {
	Min int
	For time.Duration
}

// ErrGathering is why a small part goes back: its team's next events are
// gathered with it.
var ErrGathering = fmt.Errorf("gathering the team's events into a larger part: %w", ErrWait)

// Holds reports whether the team's deliveries ds wait for more at now: too
// few, all younger than For, and none an admin's retry (which runs at
// once). A delivery with no first-receipt time is taken as young.
func (g Gather) Holds(ds []Delivery, now time.Time) bool {
	if g.Min <= 0 || g.For <= 0 || len(ds) >= g.Min {
		return false
	}
	for _, d := range ds {
		if d.Retry || (!d.FirstReceived.IsZero() && now.Sub(d.FirstReceived) >= g.For) {
			return false
		}
	}
	return true
}

// Package delivery is how both sync engines take a batch of events from
// the queue: one delivery per event, the team parts a batch is cut into,
// each team's share of the batch's time and its reruns after a passing
// fault, the waits of an event for its contact.added, the errors that
// tell the queue adapter what to do with a delivery that comes back, and
// the answers owed outside a team's run (R9).
//
// It knows nothing of SQS: the queue adapter turns messages into
// Deliveries and branches on the errors below.
package delivery

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/sfsync/sfsync/shared/event"
)

// What becomes of a delivery that comes back, by the error the engine
// gives it: the one vocabulary of both engines and the queue adapter, each
// wrapped with the reason. A delivery that failed with any other error
// returns to the queue as a failure and counts towards its dead-letter
// queue.
var (
	// ErrHeld: the event must wait until its team can sync again (the team
	// needs to reconnect or an admin, or its org's API budget is spent). It
	// is parked for the hold delay, never counted as a failure, and answered
	// held_too_long once the team's held_event_max_days has passed (EndHeld).
	ErrHeld = errors.New("held until the team can sync")
	// ErrWait: the event waits for an earlier one still on its way (an
	// email or a reply for its contact's contact.added), or its team's turn
	// came with no time left (ErrNotRun). It comes back after a short delay
	// that grows with the time waited, and never as a failure.
	ErrWait = errors.New("waiting for an earlier event")
	// ErrRetry: a passing fault (a claim another worker holds, a write the
	// ledger refused, a transient Salesforce error); the event comes back
	// after the queue's visibility timeout.
	ErrRetry = errors.New("retry later")
)

// Connection is what contact sync needs to know of a team's connection.
type Connection struct {
	Status      string // connected | needs_reauth | disconnected
	ConnectedAt time.Time
	// HeldAt is the last time the team's events were parked (or it
	// reconnected after needing to): see AwaitAdd.
	HeldAt time.Time
	// UserID and TimeZone are the connected user's id and time zone (IANA;
	// "" when unknown): the fallback owner and the default time zone.
	UserID   string
	TimeZone string
}

// Awaiting is what to do with an event about a membership that is not
// pinned yet: its contact.added may still be on its way.
type Awaiting int

const (
	// AwaitRetry: the contact.added is likely in flight; try again soon.
	AwaitRetry Awaiting = iota
	// AwaitHold: the team's events were parked lately and come back in any
	// order; park this one too, until the contact.added had its turn.
	AwaitHold
	// AwaitNoMore: the contact.added had every chance; the contact was not added.
	AwaitNoMore
)

// AwaitAdd says how an event whose wait started at since (see
// Delivery.AwaitFrom) waits for its contact.added. It waits await from
// then; and when the team's events were parked lately (conn.HeldAt), await
// from when every parked event has come back (HeldAt + holdDelay): after an
// outage longer than await, an event must not be given up on just because
// it is old.
func AwaitAdd(now, since time.Time, conn Connection, holdDelay, await time.Duration) Awaiting {
	switch {
	case now.Before(since.Add(await)):
		return AwaitRetry
	case !conn.HeldAt.IsZero() && now.Before(conn.HeldAt.Add(holdDelay+await)):
		return AwaitHold
	default:
		return AwaitNoMore
	}
}

// Defaults of the engines' waits.
const (
	DefaultAwaitAdd  = 10 * time.Minute
	DefaultHoldDelay = 15 * time.Minute // SQS's longest delay
)

// Delivery is one event as the queue delivered it.
type Delivery struct {
	ID    string // the queue's message id
	Event event.Event
	// Retry: the error inbox sent the event again after an admin fixed the
	// cause; a failed outcome of it is re-run rather than repeated.
	Retry bool
	// FirstReceived is when the queue first delivered the message; zero
	// when unknown.
	FirstReceived time.Time
}

// AwaitFrom is when the event's wait for its contact.added starts: when it
// occurred, or when the queue first delivered it if that is later. Behind
// a backlog an event can reach us long after it occurred, and its
// contact.added, queued before it, is then still on its way too.
func (d Delivery) AwaitFrom() time.Time {
	if d.FirstReceived.After(d.Event.OccurredAt) {
		return d.FirstReceived
	}
	return d.Event.OccurredAt
}

// Publisher sends outcomes to the results queue.
type Publisher interface {
	Publish(ctx context.Context, outs []event.Outcome) error
}

// PartSize is how many of a team's deliveries run together: the deployed
// batch size, so a deployed batch runs whole. A larger batch (Lambda takes
// up to 10,000 messages) runs in parts one after the other, so what a run
// holds in memory (its outcomes, its ledger writes) stays that of 1,000.
const PartSize = 1000

// Parts cuts a team's deliveries into parts of at most n, in place. The
// adds and creates go first, in their order, so a reply always runs with
// or after its contact.added when both are in the batch, as within one
// run. A batch of n or fewer is one part, as it came.
func Parts(ds []Delivery, n int) [][]Delivery {
	if len(ds) <= n {
		return [][]Delivery{ds}
	}
	slices.SortStableFunc(ds, func(a, b Delivery) int {
		return cmp.Compare(boolRank(a.Event.Type == event.ContactReplied), boolRank(b.Event.Type == event.ContactReplied))
	})
	return slices.Collect(slices.Chunk(ds, n))
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

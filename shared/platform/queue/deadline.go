package queue

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
)

// The function's time: the processor works until a reserve before the
// function's deadline (see reserve), so that the handler always answers in
// time. A message the processor did not finish by then (its error wraps
// context.DeadlineExceeded: its team's share of the batch ran out, or the
// batch's time did) is not at fault: it is sent to the queue again with a
// short delay, as a waiting message is (see delivery.ErrWait), and the delivered
// copy deleted. It comes back in seconds rather than after the visibility
// timeout, and never counts towards maxReceiveCount, so an org that is
// merely slow never sends its team's events to the dead-letter queue. The
// copy carries when its time first ran out (OutOfTimeSinceAttribute): after
// OutOfTimeFor from then, a message whose time runs out again returns as a
// failure instead, so an org that never answers in time ends in the
// dead-letter queue as one that fails does. The clock starts at the first
// out-of-time resend, not at the event's first receipt: an event held for
// days (its team had to reconnect) is not failed the first time its team's
// share cuts it.
const (
	DefaultReserve      = 2 * time.Second
	DefaultSendRound    = 250 * time.Millisecond
	MaxReserve          = 10 * time.Second
	DefaultOutOfTimeFor = time.Hour
)

// reserve is the time kept from the function's for answering a batch of n
// valid messages, any of which may have to be sent back: Reserve, and
// SendRound for each round of sendConcurrency SendMessageBatch calls
// sending them all takes; at most MaxReserve (or Reserve, if larger). What
// a larger batch cannot send back in time returns to the queue unsent (see
// resend).
func (h *Handler) reserve(n int) time.Duration {
	calls := (n + maxBatchEntries - 1) / maxBatchEntries
	rounds := (calls + sendConcurrency - 1) / sendConcurrency
	base := cmp.Or(h.Reserve, DefaultReserve)
	return min(base+time.Duration(rounds)*cmp.Or(h.SendRound, DefaultSendRound), max(MaxReserve, base))
}

// workContext is ctx ended the reserve of n messages before its deadline:
// the processor's.
func (h *Handler) workContext(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, dl.Add(-h.reserve(n)))
}

// outOfTime reports whether a message's error is the end of its time in
// this invocation, and it is still to be sent back rather than failed, at
// now: its time first ran out at since (zero: this is the first time)
// less than OutOfTimeFor ago.
func (h *Handler) outOfTime(err error, since, now time.Time) bool {
	if !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return since.IsZero() || now.Sub(since) < cmp.Or(h.OutOfTimeFor, DefaultOutOfTimeFor)
}

// logOutOfTime says, in one line per team, how many of its messages were
// sent back because their time ran out, and how many of those were not run
// at all (sent back as waiting: delivery.ErrWait over a deadline).
func (h *Handler) logOutOfTime(sent []resend, failed map[string]error, sendErrs map[string]error) {
	type count struct{ messages, notRun int }
	by := map[string]count{}
	var teams []string
	for _, r := range sent {
		if sendErrs[r.id] != nil || !errors.Is(failed[r.id], context.DeadlineExceeded) {
			continue
		}
		c, ok := by[r.team]
		if !ok {
			teams = append(teams, r.team)
		}
		c.messages++
		if errors.Is(failed[r.id], delivery.ErrWait) {
			c.notRun++
		}
		by[r.team] = c
	}
	for _, t := range teams {
		h.Log.Info("messages sent back: out of time", "team_id", t, "messages", by[t].messages, "not_run", by[t].notRun)
	}
}

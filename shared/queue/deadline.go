package queue

import (
	"cmp"
	"context"
	"errors"
	"time"
)

// The function's time: the processor works until Reserve before the
// function's deadline, so that the handler always answers in time. A
// message the processor did not finish by then (its error wraps
// context.DeadlineExceeded: its team's share of the batch ran out, or the
// batch's time did) is not at fault: it is sent to the queue again with a
// short delay, as a waiting message is (see ErrWait), and the delivered
// copy deleted. It comes back in seconds rather than after the visibility
// timeout, and never counts towards maxReceiveCount, so an org that is
// merely slow never sends its team's events to the dead-letter queue.
// After OutOfTimeFor from its first receipt it returns as a failure
// instead: an org that never answers in time ends in the dead-letter queue
// as one that fails does.
const (
	DefaultReserve      = 3 * time.Second
	DefaultOutOfTimeFor = time.Hour
)

// workContext is ctx ended Reserve before its deadline: the processor's.
func (h *Handler) workContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, dl.Add(-cmp.Or(h.Reserve, DefaultReserve)))
}

// outOfTime reports whether a message's error is the end of its time in
// this invocation, first received at since (zero: unknown), and is still
// to be sent back rather than failed, at now.
func (h *Handler) outOfTime(err error, since, now time.Time) bool {
	if !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return since.IsZero() || now.Sub(since) < cmp.Or(h.OutOfTimeFor, DefaultOutOfTimeFor)
}

// logOutOfTime says, in one line per team, how many of its messages were
// sent back because their time ran out.
func (h *Handler) logOutOfTime(sent []resend, failed map[string]error, sendErrs map[string]error) {
	by := map[string]int{}
	var teams []string
	for _, r := range sent {
		if sendErrs[r.id] != nil || !errors.Is(failed[r.id], context.DeadlineExceeded) {
			continue
		}
		if by[r.team] == 0 {
			teams = append(teams, r.team)
		}
		by[r.team]++
	}
	for _, t := range teams {
		h.Log.Info("messages sent back: out of time", "team_id", t, "messages", by[t])
	}
}

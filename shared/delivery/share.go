package delivery

import (
	"context"
	"fmt"
	"time"
)

// DefaultMinTeamTime is the least time a team's part of a batch is given
// when the batch has time left: a share below it would cut even a healthy
// org's lookup and create. It is bounded by an equal share of the batch's
// time (see RunParts), so that however many teams' orgs are slow, every
// team's turn comes.
const DefaultMinTeamTime = 5 * time.Second

// ErrOutOfTime is the error of a team's deliveries that its share of the
// batch's time did not cover: the team ran and its org answered too
// slowly. It wraps context.DeadlineExceeded, so the queue adapter hands
// them back as not at fault (sooner than a failure, and without counting
// towards the dead-letter queue), for a while: an org that is cut for long
// enough ends as one that fails does.
var ErrOutOfTime = fmt.Errorf("the team's share of the batch's time ran out: %w", context.DeadlineExceeded)

// ErrNotRun is the error of a team's deliveries whose turn came with no
// time left: other teams' orgs took it, and nothing is known of this
// team's. It never counts against the team: it wraps ErrWait, so the queue
// adapter sends them back as waiting ones.
var ErrNotRun = fmt.Errorf("the batch's time ran out before the team's turn: %w: %w", ErrWait, context.DeadlineExceeded)

// TeamTime is how long the next team of a batch may run when left remains
// before the batch's deadline and teams teams, this one included, have not
// run yet: an equal share of what is left, at least least, never more than
// left. A team that finishes early leaves its time to those after it; a
// team whose org is slow is cut at its share, so the others still run.
func TeamTime(left time.Duration, teams int, least time.Duration) time.Duration {
	if left <= 0 {
		return 0
	}
	if teams <= 1 {
		return left
	}
	return min(left, max(left/time.Duration(teams), least))
}

// leastShare is the least share of each of teams teams in a batch whose
// time ends at ctx's deadline, as of now: least, but never more than an
// equal share of the batch's time, so that the least shares of all the
// teams together never exceed it.
func leastShare(ctx context.Context, now time.Time, teams int, least time.Duration) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok || teams < 1 {
		return least
	}
	return max(0, min(least, dl.Sub(now)/time.Duration(teams)))
}

// teamContext is ctx ended at the next team's share of its time (see
// TeamTime), as of now; ctx itself when it has no deadline. ok is false
// when no time is left for the team's turn (or ctx has ended): it is not
// to run.
func teamContext(ctx context.Context, now time.Time, teams int, least time.Duration) (_ context.Context, _ context.CancelFunc, ok bool) {
	if ctx.Err() != nil {
		return ctx, func() {}, false
	}
	dl, bounded := ctx.Deadline()
	if !bounded {
		tctx, cancel := context.WithCancel(ctx)
		return tctx, cancel, true
	}
	share := TeamTime(dl.Sub(now), teams, least)
	if share <= 0 {
		return ctx, func() {}, false
	}
	tctx, cancel := context.WithDeadline(context.WithValue(ctx, workKey{}, ctx), now.Add(share))
	return tctx, cancel, true
}

// workKey is the key of the batch's context (the function's work context)
// in a team's share (see teamContext).
type workKey struct{}

// WriteContext is the context of a Salesforce write that starts under ctx,
// a team's share of the batch's time, and of recording what it did: a
// write started within the share is not cut when the share ends, but only
// at the batch's deadline (the function's, less the time kept to answer);
// the Salesforce client's own write timeout bounds it too. A trigger-heavy
// org's save then answers, rather than committing unseen and being done
// again by the next run. Reads stay under ctx, cut at the share's end. So
// a team whose write is in flight may hold the batch up to the write's
// end: the teams after it get what is left, and those whose turn comes
// with none are sent back as not run (ErrNotRun), never failed. ctx
// itself when it has ended (no write starts past the share) or is not a
// team's share.
func WriteContext(ctx context.Context) context.Context {
	work, ok := ctx.Value(workKey{}).(context.Context)
	if !ok || ctx.Err() != nil {
		return ctx
	}
	return writeContext{Context: ctx, work: work}
}

// writeContext has the values of a team's share and the end of the
// batch's work context.
type writeContext struct {
	context.Context // the share: its values
	work            context.Context
}

func (c writeContext) Deadline() (time.Time, bool) { return c.work.Deadline() }
func (c writeContext) Done() <-chan struct{}       { return c.work.Done() }
func (c writeContext) Err() error                  { return c.work.Err() }

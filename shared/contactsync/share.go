package contactsync

import (
	"context"
	"fmt"
	"time"
)

// DefaultMinTeamTime is the least time a team's part of a batch is given
// when the batch has time left: a share below it would cut even a healthy
// org's lookup and create.
const DefaultMinTeamTime = 5 * time.Second

// ErrOutOfTime is the error of a team's deliveries that its share of the
// batch's time did not cover: its org answered too slowly, or the teams
// before it left none. It wraps context.DeadlineExceeded, so the queue
// adapter hands them back as not at fault (sooner than a failure, and
// without counting towards the dead-letter queue).
var ErrOutOfTime = fmt.Errorf("contactsync: the team's share of the batch's time ran out: %w", context.DeadlineExceeded)

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

// teamContext is ctx ended at the next team's share of its time (see
// TeamTime), as of now; ctx itself when it has no deadline.
func teamContext(ctx context.Context, now time.Time, teams int, least time.Duration) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	share := TeamTime(dl.Sub(now), teams, least)
	if share <= 0 {
		return context.WithDeadline(ctx, time.Time{}) // no time left: ended already
	}
	return context.WithDeadline(ctx, now.Add(share))
}

package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
)

// Counting is the outcome publisher of the sync functions with the
// outcomes counted: Publish publishes the batch through Next, then adds
// its outcomes to the counts of their team and UTC day, one Add (one
// write) per team and day of the batch, never one per outcome.
//
// What it counts, and what it does not:
//   - Only a batch Next published: when Next fails, nothing is counted.
//     The engine then fails the part, its events come back, and their
//     outcomes, published again then, are counted then.
//   - Each outcome on the UTC day of its At (Now's day when it has none),
//     so an outcome published again later counts on the day it was given.
//   - Outcomes published again count again: a redelivered event whose
//     outcome is already recorded is answered, and counted, once more. The
//     counts are for health; the outcome items in the ledger stay the
//     record of what became of each event.
//
// A counting failure is logged once per batch and never fails the batch:
// the outcomes were published, and health is not worth an event coming
// back.
type Counting struct {
	Next   delivery.Publisher
	Counts Counter
	Now    func() time.Time // nil: time.Now
	Log    *slog.Logger     // nil: slog.Default()
}

var _ delivery.Publisher = (*Counting)(nil)

// Publish publishes outs through Next, then counts them.
func (c *Counting) Publish(ctx context.Context, outs []event.Outcome) error {
	if err := c.Next.Publish(ctx, outs); err != nil {
		return err
	}
	var failed []error
	groups := c.group(outs)
	for _, g := range groups {
		if err := c.Counts.Add(ctx, g.team, g.day, g.by); err != nil {
			failed = append(failed, fmt.Errorf("team %s day %s: %w", g.team, g.day, err))
		}
	}
	if len(failed) > 0 {
		c.log().WarnContext(ctx, "health counts not kept", slog.Int("groups", len(groups)), slog.Int("failed", len(failed)),
			slog.String("error", errors.Join(failed...).Error()))
	}
	return nil
}

// tally is the counts of one team and day of a batch.
type tally struct {
	team, day string
	by        map[event.Status]int
}

// group sums outs by team and UTC day, in order of team, then day. An
// outcome without a team (it could not be told) is not counted.
func (c *Counting) group(outs []event.Outcome) []tally {
	type key struct{ team, day string }
	sums := map[key]map[event.Status]int{}
	for _, o := range outs {
		if o.TeamID == "" || o.Status == "" {
			continue
		}
		at := o.At
		if at.IsZero() {
			at = c.now()
		}
		k := key{o.TeamID, connection.Day(at)}
		if sums[k] == nil {
			sums[k] = map[event.Status]int{}
		}
		sums[k][o.Status]++
	}
	keys := slices.SortedFunc(maps.Keys(sums), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.team, b.team), cmp.Compare(a.day, b.day))
	})
	out := make([]tally, len(keys))
	for i, k := range keys {
		out[i] = tally{team: k.team, day: k.day, by: sums[k]}
	}
	return out
}

func (c *Counting) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Counting) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

package activitysync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
	"golang.org/x/sync/errgroup"
)

// team is one team's run of a part of a batch once its org is open: what
// every step reads. No step writes into it.
type team struct {
	e    *Engine
	id   string
	org  Org
	conn delivery.Connection
	// latest is the team's settings as of the batch's latest activity (set
	// by the settings step): who its Tasks go to, and their time zone.
	latest *policy.TeamSettings
}

// outcome is the answer of d with status st and reason, as of now.
func (t team) outcome(d delivery.Delivery, st event.Status, reason event.Reason) event.Outcome {
	o := event.NewOutcome(d.Event, "out_"+d.Event.ID, st, t.e.now())
	o.Reason = reason
	return o
}

// skipped is the answer of d skipped for reason.
func (t team) skipped(d delivery.Delivery, reason event.Reason) event.Outcome {
	return t.outcome(d, event.StatusSkipped, reason)
}

// sync opens the team's org and runs the sync steps on its deliveries
// (team.sync). A team not connected has them all skipped; one that must
// reconnect has them held.
func (e *Engine) sync(ctx context.Context, teamID string, ds []delivery.Delivery) (result, []drain, error) {
	if len(ds) == 0 {
		return result{}, nil, nil
	}
	org, conn, err := e.Orgs.Open(ctx, teamID)
	switch {
	case errors.Is(err, connection.ErrNotConnected):
		var res result
		for _, d := range ds {
			res.answer(team{e: e, id: teamID}.skipped(d, event.ReasonNotConnected))
		}
		return res, nil, nil
	case errors.Is(err, connection.ErrNeedsReauth):
		return result{}, nil, held(err)
	case err != nil:
		return result{}, nil, fmt.Errorf("open org: %w", err)
	}
	defer func() {
		if err := org.Close(context.WithoutCancel(ctx)); err != nil {
			e.logger().Warn("close org", "team_id", teamID, "error", err.Error())
		}
	}()
	return team{e: e, id: teamID, org: org, conn: conn}.sync(ctx, ds)
}

// sync runs the steps of a team's deliveries: backfill, settings,
// membership, hold, release, log, expire. It merges their results and returns
// them with the memberships whose held activities it drained.
func (t team) sync(ctx context.Context, ds []delivery.Delivery) (result, []drain, error) {
	live, early := t.backfill(ds)
	live, off, latest, err := t.bySettings(ctx, live)
	if err != nil {
		return result{}, nil, err
	}
	t.latest = latest
	if len(live) == 0 {
		return merge(early, off), nil, nil
	}
	st, err := t.memberships(ctx, live)
	if err != nil {
		return result{}, nil, err
	}
	synced, pending, err := t.hold(ctx, st.toHold)
	if err != nil {
		return result{}, nil, err
	}
	members, marks := st.after(synced)
	released, drains, out, err := t.release(ctx, st.keys, members, marks, eventIDs(ds))
	if err != nil {
		return result{}, nil, err
	}
	late, lateRes := t.classifyAll(st.toHold, synced)
	logged, err := t.log(ctx, inOrder(st.toLog, released, late))
	if err != nil {
		return result{}, nil, err
	}
	expired, expiredRes, err := t.expire(ctx, st)
	if err != nil {
		return result{}, nil, err
	}
	return merge(early, off, st.res, pending, out, lateRes, logged, expiredRes), append(drains, expired...), nil
}

// backfill is the no-backfill step (R7): activity that occurred before the
// team connected Salesforce is never logged, only skipped. It returns the
// rest.
func (t team) backfill(ds []delivery.Delivery) ([]delivery.Delivery, result) {
	var live []delivery.Delivery
	var res result
	for _, d := range ds {
		if d.Event.OccurredAt.Before(t.conn.ConnectedAt) {
			res.answer(t.skipped(d, event.ReasonBeforeConnection))
			continue
		}
		live = append(live, d)
	}
	return live, res
}

// bySettings is the settings step: it skips the activities the team's
// settings at their time do not log (tracking off, or a kind the team
// does not log), and returns the rest, and the settings as of the latest
// activity.
func (t team) bySettings(ctx context.Context, ds []delivery.Delivery) ([]delivery.Delivery, result, *policy.TeamSettings, error) {
	if len(ds) == 0 {
		return nil, result{}, nil, nil
	}
	settings, latest, err := t.settingsOf(ctx, ds)
	if err != nil {
		return nil, result{}, nil, err
	}
	var out []delivery.Delivery
	var res result
	for i, d := range ds {
		s := settings[i]
		switch {
		case !s.ActivityTracking:
			res.answer(t.skipped(d, event.ReasonActivityTrackingOff))
		case !s.ActivityKinds.Clone()[KindOf(d.Event.Type)]:
			res.answer(t.skipped(d, ReasonKindOff))
		default:
			out = append(out, d)
		}
	}
	return out, res, &latest, nil
}

// settingsOf gives the team's settings as of each activity's occurrence:
// one read when no change took effect within the activities' time span.
// It also returns the settings as of the latest activity.
func (t team) settingsOf(ctx context.Context, ds []delivery.Delivery) ([]policy.TeamSettings, policy.TeamSettings, error) {
	first, last := ds[0].Event.OccurredAt, ds[0].Event.OccurredAt
	for _, d := range ds {
		first, last = minTime(first, d.Event.OccurredAt), maxTime(last, d.Event.OccurredAt)
	}
	tv, err := t.e.Settings.TeamSettingsAt(ctx, t.id, last)
	if err != nil {
		return nil, policy.TeamSettings{}, fmt.Errorf("resolve team settings: %w", err)
	}
	settings := make([]policy.TeamSettings, len(ds))
	if tv.Number == 0 || !tv.EffectiveAt.After(first) {
		for i := range settings {
			settings[i] = tv.Document
		}
		return settings, tv.Document, nil
	}
	err = each(len(ds), func(i int) error {
		v, err := t.e.Settings.TeamSettingsAt(ctx, t.id, ds[i].Event.OccurredAt)
		if err != nil {
			return fmt.Errorf("resolve team settings: %w", err)
		}
		settings[i] = v.Document
		return nil
	})
	return settings, tv.Document, err
}

// inOrder is the activities to log, in order of occurrence (then of event
// id): a contact's held activities are logged before its later ones.
func inOrder(parts ...[]item) []item {
	items := slices.Concat(parts...)
	slices.SortStableFunc(items, func(a, c item) int {
		return cmp.Or(a.d.Event.OccurredAt.Compare(c.d.Event.OccurredAt), cmp.Compare(a.d.Event.ID, c.d.Event.ID))
	})
	return items
}

// eventIDs is the set of the deliveries' event ids.
func eventIDs(ds []delivery.Delivery) map[string]bool {
	ids := make(map[string]bool, len(ds))
	for _, d := range ds {
		ids[d.Event.ID] = true
	}
	return ids
}

// held is the error of a delivery parked until its team can sync.
func held(reason error) error {
	return fmt.Errorf("%w: %w", delivery.ErrHeld, reason)
}

// salesforceErr is the error of a Salesforce call that failed: the team
// is parked when it must reconnect or its API allowance is spent, and the
// part comes back after a passing fault otherwise.
func salesforceErr(what string, err error) error {
	switch {
	case errors.Is(err, connection.ErrNeedsReauth), errors.Is(err, salesforce.ErrRequestLimit), errors.Is(err, budget.ErrCapped):
		return held(fmt.Errorf("%s: %w", what, err))
	default:
		return fmt.Errorf("%w: %s: %w", delivery.ErrRetry, what, err)
	}
}

func mapKeys[K comparable](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func minTime(a, c time.Time) time.Time {
	if c.Before(a) {
		return c
	}
	return a
}

func maxTime(a, c time.Time) time.Time {
	if c.After(a) {
		return c
	}
	return a
}

// parallelism bounds the concurrent ledger calls of one part.
const parallelism = 32

// each runs f(0..n-1) with bounded concurrency and returns the first error.
func each(n int, f func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(parallelism)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

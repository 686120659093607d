package activitysync

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// ReasonHoldExpired is the answer of activity held for its contact's sync
// for longer than the team's retention_days: the contact never synced in
// that time (its membership itself expires then), so the activity is let
// go rather than kept without end.
const ReasonHoldExpired event.Reason = "hold_expired"

// maxExpiredPerBatch bounds the memberships one batch lets go of, so a
// team's backlog of expired holds never makes one batch slow; the next
// batches take the rest.
const maxExpiredPerBatch = 10

// expire is the expire step: the memberships of the team, other than the
// batch's own, that have held activity since before the team's retention
// (as of the batch's latest activity) have it answered skipped
// hold_expired and let go. It returns what to let go and the answers.
func (t team) expire(ctx context.Context, st standing) ([]drain, result, error) {
	if t.latest == nil {
		return nil, result{}, nil
	}
	limit := t.e.now().Add(-t.latest.Retention())
	own := map[ledger.MemberKey]bool{}
	for _, k := range st.keys {
		own[k] = true
	}
	var stale []ledger.MemberKey
	for k, since := range st.since {
		if !own[k] && !since.IsZero() && since.Before(limit) {
			stale = append(stale, k)
		}
	}
	slices.SortFunc(stale, func(a, b ledger.MemberKey) int {
		return cmp.Or(st.since[a].Compare(st.since[b]), cmp.Compare(a.SequenceID, b.SequenceID), cmp.Compare(a.ContactID, b.ContactID))
	})
	var drains []drain
	var res result
	for _, k := range stale[:min(len(stale), maxExpiredPerBatch)] {
		dr, r, err := t.expireOne(ctx, k)
		if err != nil {
			return nil, result{}, err
		}
		dr.mark = st.marks[k]
		drains, res = append(drains, dr), merge(res, r)
	}
	return drains, res, nil
}

// expireOne answers one membership's held activities hold_expired, but
// those answered before (only the store forgot to let them go).
func (t team) expireOne(ctx context.Context, k ledger.MemberKey) (drain, result, error) {
	evs, err := t.e.Activities.Held(ctx, t.id, k)
	if err != nil {
		return drain{}, result{}, fmt.Errorf("read held activities: %w", err)
	}
	dr := drain{key: k}
	refs := make([]ledger.EventRef, len(evs))
	for i, ev := range evs {
		dr.ids = append(dr.ids, ev.ID)
		refs[i] = ledger.RefOf(ev)
	}
	prior, err := t.e.Ledger.Outcomes(ctx, t.id, refs)
	if err != nil {
		return drain{}, result{}, fmt.Errorf("read outcomes of held activities: %w", err)
	}
	var res result
	for _, ev := range evs {
		if o, ok := prior[ev.ID]; ok && answered(o) {
			res.settled = append(res.settled, ev.ID)
			continue
		}
		res.answer(event.NewOutcome(ev, "out_"+ev.ID, event.StatusSkipped, t.e.now()))
		res.outcomes[len(res.outcomes)-1].Reason = ReasonHoldExpired
	}
	return dr, res, nil
}

package activitysync

import (
	"context"
	"fmt"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/ledger"
)

// drain is a membership whose held activities a part handles: the mark to
// pass to Unhold, and the ids of its held activities.
type drain struct {
	key  ledger.MemberKey
	mark int64
	ids  []string
}

// release is the release step: the held activities of the part's
// memberships in a final state come out, to be logged (or skipped) in
// order with the part's own. marks are the memberships with held
// activities; an activity also among the part's deliveries (inBatch) is
// handled as a delivery. It returns the activities to log, the memberships
// drained, and the answers of activities skipped or answered before.
func (t team) release(ctx context.Context, keys []ledger.MemberKey, members map[ledger.MemberKey]ledger.Membership,
	marks map[ledger.MemberKey]int64, inBatch map[string]bool) ([]item, []drain, result, error) {
	var items []item
	var drains []drain
	var res result
	for _, k := range keys {
		mark, isHeld := marks[k]
		m, ok := members[k]
		if !isHeld || !ok || !m.Final() {
			continue
		}
		dr, its, r, err := t.releaseOne(ctx, k, m, inBatch)
		if err != nil {
			return nil, nil, result{}, err
		}
		dr.mark = mark
		items, drains, res = append(items, its...), append(drains, dr), merge(res, r)
	}
	return items, drains, res, nil
}

// releaseOne drains one membership's held activities.
func (t team) releaseOne(ctx context.Context, k ledger.MemberKey, m ledger.Membership, inBatch map[string]bool) (drain, []item, result, error) {
	evs, err := t.e.Activities.Held(ctx, t.id, k)
	if err != nil {
		return drain{}, nil, result{}, fmt.Errorf("read held activities: %w", err)
	}
	dr := drain{key: k}
	refs := make([]ledger.EventRef, len(evs))
	for i, ev := range evs {
		dr.ids = append(dr.ids, ev.ID)
		refs[i] = ledger.RefOf(ev)
	}
	prior, err := t.e.Ledger.Outcomes(ctx, t.id, refs)
	if err != nil {
		return drain{}, nil, result{}, fmt.Errorf("read outcomes of held activities: %w", err)
	}
	var items []item
	var res result
	for _, ev := range evs {
		if o, ok := prior[ev.ID]; ok && answered(o) {
			res.settled = append(res.settled, ev.ID) // logged before; only the store forgot to let go
			continue
		}
		if inBatch[ev.ID] {
			continue // redelivered to the queue too: handled as a delivery
		}
		if it, skip, ok := t.classify(delivery.Delivery{Event: ev}, m, true); ok {
			items = append(items, it)
		} else {
			res.answer(skip)
		}
	}
	return dr, items, res, nil
}

package activitysync

import (
	"context"
	"errors"
	"fmt"
	"github.com/sfsync/sfsync/shared/attribution"
	"maps"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// item is an activity to log.
type item struct {
	d    delivery.Delivery
	m    ledger.Membership
	key  string // activity key
	who  event.SalesforceRef
	held bool // came from the held store, not the queue
	// owner is who the Task is given to, and why (decided before create).
	owner attribution.Owner
}

// standing is what the membership step found: where the contacts of a
// part's activities stand, and what becomes of each activity.
type standing struct {
	keys    []ledger.MemberKey                     // the memberships of the activities
	members map[ledger.MemberKey]ledger.Membership // those pinned
	marks   map[ledger.MemberKey]int64             // the team's memberships with held activities (Activities.HeldKeys)
	since   map[ledger.MemberKey]time.Time         // and since when each holds activity
	toLog   []item                                 // activities of synced contacts
	toHold  []delivery.Delivery                    // activities of contacts whose sync is pending
	res     result                                 // the activities skipped, or waiting for their contact.added
}

func memberKey(ev event.Event) ledger.MemberKey {
	return ledger.MemberKey{SequenceID: ev.SequenceID(), ContactID: ev.ContactID()}
}

// memberships is the membership step: a synced contact's activity is to
// log, a pending or syncing one's to hold, a skipped or failed one's is
// skipped, and one whose contact is not pinned yet awaits its
// contact.added.
func (t team) memberships(ctx context.Context, ds []delivery.Delivery) (standing, error) {
	set := map[ledger.MemberKey]bool{}
	for _, d := range ds {
		set[memberKey(d.Event)] = true
	}
	st := standing{keys: mapKeys(set)}
	var err error
	if st.members, err = t.e.Ledger.Memberships(ctx, t.id, st.keys); err != nil {
		return standing{}, fmt.Errorf("read memberships: %w", err)
	}
	held, err := t.e.Activities.HeldKeys(ctx, t.id)
	if err != nil {
		return standing{}, fmt.Errorf("read held activities: %w", err)
	}
	st.marks, st.since = map[ledger.MemberKey]int64{}, map[ledger.MemberKey]time.Time{}
	for k, h := range held {
		st.marks[k], st.since[k] = h.N, h.Since
	}
	for _, d := range ds {
		m, ok := st.members[memberKey(d.Event)]
		switch {
		case !ok:
			if err := t.await(d); err != nil {
				st.res.retry(d, err)
			} else {
				st.res.answer(t.skipped(d, event.ReasonNotAdded))
			}
		case !m.Final():
			st.toHold = append(st.toHold, d)
		default:
			if it, skip, ok := t.classify(d, m, false); ok {
				st.toLog = append(st.toLog, it)
			} else {
				st.res.answer(skip)
			}
		}
	}
	return st, nil
}

// await is how an activity whose contact is not pinned waits for its
// contact.added (delivery.AwaitAdd): the error that brings it back, or nil
// when it has waited long enough to be skipped as not_added.
func (t team) await(d delivery.Delivery) error {
	switch delivery.AwaitAdd(t.e.now(), d.AwaitFrom(), t.conn,
		orDefault(t.e.HoldDelay, delivery.DefaultHoldDelay), orDefault(t.e.AwaitAdd, DefaultAwaitAdd)) {
	case delivery.AwaitRetry:
		return fmt.Errorf("%w: the contact's contact.added has not been synced yet", delivery.ErrWait)
	case delivery.AwaitHold:
		return held(errors.New("the contact's contact.added may still be parked"))
	default:
		return nil
	}
}

// classify answers an activity of a membership in a final state: an item
// to log, or (ok false) its skip when the contact will never sync.
func (t team) classify(d delivery.Delivery, m ledger.Membership, held bool) (it item, skip event.Outcome, ok bool) {
	switch m.Status {
	case ledger.MemberSkipped:
		return item{}, t.skipped(d, event.ReasonContactWillNotSync), false
	case ledger.MemberFailed:
		return item{}, t.skipped(d, event.ReasonContactFailed), false
	}
	msg := d.Event.Data.(event.EmailData).Message
	return item{d: d, m: m, key: Key(t.id, msg.ID, KindOf(d.Event.Type)), held: held}, event.Outcome{}, true
}

// classifyAll classifies the deliveries whose membership in members is
// final; the others are left out.
func (t team) classifyAll(ds []delivery.Delivery, members map[ledger.MemberKey]ledger.Membership) ([]item, result) {
	var items []item
	var res result
	for _, d := range ds {
		m, ok := members[memberKey(d.Event)]
		if !ok || !m.Final() {
			continue
		}
		if it, skip, ok := t.classify(d, m, false); ok {
			items = append(items, it)
		} else {
			res.answer(skip)
		}
	}
	return items, res
}

// hold is the hold step: it stores the activities of contacts whose sync
// is pending, then reads their memberships again, since a contact that
// synced meanwhile may have been released before the hold was stored. It
// returns the memberships final since (their activities are logged now),
// and the pending answers of the activities that stay held.
func (t team) hold(ctx context.Context, ds []delivery.Delivery) (map[ledger.MemberKey]ledger.Membership, result, error) {
	if len(ds) == 0 {
		return nil, result{}, nil
	}
	if err := each(len(ds), func(i int) error {
		if err := t.e.Activities.Hold(ctx, t.id, memberKey(ds[i].Event), ds[i].Event, t.latest.Retention()); err != nil {
			return fmt.Errorf("hold activity: %w", err)
		}
		return nil
	}); err != nil {
		return nil, result{}, err
	}
	set := map[ledger.MemberKey]bool{}
	for _, d := range ds {
		set[memberKey(d.Event)] = true
	}
	now, err := t.e.Ledger.Memberships(ctx, t.id, mapKeys(set))
	if err != nil {
		return nil, result{}, fmt.Errorf("read memberships again: %w", err)
	}
	synced := map[ledger.MemberKey]ledger.Membership{}
	for k := range set {
		if m, ok := now[k]; ok && m.Final() {
			synced[k] = m
		}
	}
	var res result
	for _, d := range ds {
		if _, ok := synced[memberKey(d.Event)]; !ok {
			res.answer(t.outcome(d, event.StatusPending, event.ReasonContactPending))
		}
	}
	return synced, res, nil
}

// after is where the contacts stand once the hold step found synced
// final: their held activities are drained now, and their memberships
// stay listed (mark -1) in case of a later hold.
func (st standing) after(synced map[ledger.MemberKey]ledger.Membership) (map[ledger.MemberKey]ledger.Membership, map[ledger.MemberKey]int64) {
	members, marks := maps.Clone(st.members), maps.Clone(st.marks)
	if members == nil {
		members = map[ledger.MemberKey]ledger.Membership{}
	}
	if marks == nil {
		marks = map[ledger.MemberKey]int64{}
	}
	for k, m := range synced {
		members[k] = m
		marks[k] = -1
	}
	return members, marks
}

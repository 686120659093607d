package contactsync

import (
	"context"
	"fmt"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// sorted is a connected team's deliveries, as the steps take them, each
// kind in the order the deliveries came.
type sorted struct {
	early   []delivery.Delivery // occurred before the connection: not_connected
	firsts  []delivery.Delivery // contact.added and contact.created
	replies []delivery.Delivery // contact.replied
	unsubs  []delivery.Delivery // contact.unsubscribed
}

// sortOut sorts the deliveries by how the steps take them. An event of
// another type fails the part.
func (p part) sortOut(ds []delivery.Delivery) (sorted, error) {
	var s sorted
	for _, d := range ds {
		ev := d.Event
		switch {
		case ev.Type == event.ContactUnsubscribed: // an opt-out is kept whenever it happened
			s.unsubs = append(s.unsubs, d)
		case ev.OccurredAt.Before(p.conn.ConnectedAt):
			s.early = append(s.early, d)
		case ev.Type == event.ContactReplied:
			s.replies = append(s.replies, d)
		case ev.Type == event.ContactAdded, ev.Type == event.ContactCreated:
			s.firsts = append(s.firsts, d)
		default:
			return sorted{}, fmt.Errorf("event %s: type %s is not a contact event", ev.ID, ev.Type)
		}
	}
	return s, nil
}

// firstLook is what intake decides for one contact.added or
// contact.created.
type firstLook struct {
	pin   *ledger.Membership // contact.added: the membership to pin (R4)
	check bool               // contact.created with deduplication on: looked up (R6)
	skip  *event.Outcome     // contact.created with deduplication off
}

// intake is the first look at the adds and the contact.created events,
// each one's reads concurrently: the membership each add pins (added), and
// the contact.created events to look up (deduplicating); those with
// deduplication off are answered.
func (p part) intake(ctx context.Context, ds []delivery.Delivery) ([]member, []delivery.Delivery, tally, error) {
	looks, err := eachOf(len(ds), func(i int) (firstLook, error) {
		if ds[i].Event.Type == event.ContactAdded {
			m, err := p.added(ctx, ds[i])
			return firstLook{pin: &m}, err
		}
		return p.deduplicating(ctx, ds[i])
	})
	if err != nil {
		return nil, nil, tally{}, err
	}
	var pins []member
	var check []delivery.Delivery
	var t tally
	for i, l := range looks {
		switch {
		case l.pin != nil:
			pins = append(pins, member{d: ds[i], m: *l.pin})
		case l.check:
			check = append(check, ds[i])
		case l.skip != nil:
			t.answer(*l.skip)
		}
	}
	return pins, check, t, nil
}

// deduplicating decides a contact.created (R6): looked up when the team's
// deduplication is on as of the event, else skipped deduplication_off.
func (p part) deduplicating(ctx context.Context, d delivery.Delivery) (firstLook, error) {
	tv, err := p.e.Policies.TeamSettingsAt(ctx, p.team, d.Event.OccurredAt)
	if err != nil {
		return firstLook{}, fmt.Errorf("resolve team settings: %w", err)
	}
	if !tv.Document.Deduplication {
		o := p.outcome(d, event.StatusSkipped, event.ReasonDeduplicationOff)
		return firstLook{skip: &o}, nil
	}
	return firstLook{check: true}, nil
}

// added decides the membership to pin for a contact.added (R4): the policy
// as of the event's occurred_at, never as of its processing.
func (p part) added(ctx context.Context, d delivery.Delivery) (ledger.Membership, error) {
	ev := d.Event
	eff, err := p.e.Policies.ResolveAt(ctx, p.team, ev.SequenceID(), ev.OccurredAt)
	if err != nil {
		return ledger.Membership{}, fmt.Errorf("resolve policy: %w", err)
	}
	m := ledger.Membership{TeamID: p.team, SequenceID: ev.SequenceID(), ContactID: ev.ContactID(), Email: ev.Email(),
		Contact: contactOf(ev), Rep: ev.User(), Policy: eff, PinnedAt: ev.OccurredAt, EventID: ev.ID, Retain: p.retain}
	switch {
	case !eff.Syncs():
		m.Status, m.Reason = ledger.MemberSkipped, event.Reason(eff.Reason)
	case eff.Mode == policy.ModeOnReply:
		m.Status, m.Reason = ledger.MemberPending, event.ReasonAwaitingReply
	default:
		m.Status = ledger.MemberSyncing
	}
	return m, nil
}

// pin is the pin step (R4): the adds' memberships pinned in one ledger
// call; a membership pinned before keeps its first pin, and it is that one
// the add goes on with. An add that found its membership pinned may have
// been answered before (pinFirst): it is answered the same again. An add
// whose own pin failed comes back.
func (p part) pin(ctx context.Context, pins []member) ([]member, tally, error) {
	if len(pins) == 0 {
		return nil, tally{}, nil
	}
	ms := make([]ledger.Membership, len(pins))
	for i, x := range pins {
		ms[i] = x.m
	}
	pinned, err := p.e.Ledger.PinMemberships(ctx, ms)
	if err != nil {
		return nil, tally{}, fmt.Errorf("pin memberships: %w", err)
	}
	var refs []ledger.EventRef
	for j, r := range pinned {
		if d := pins[j].d; r.Err == nil && !r.New && pinFirst(d) {
			refs = append(refs, ledger.RefOf(d.Event))
		}
	}
	prior, err := p.outcomesOf(ctx, refs)
	if err != nil {
		return nil, tally{}, err
	}
	var out []member
	var t tally
	for j, r := range pinned {
		d := pins[j].d
		if r.Err != nil {
			t.retry(d, fmt.Errorf("%w: pin membership: %w", delivery.ErrRetry, r.Err))
			continue
		}
		if o, ok := prior[d.Event.ID]; ok && answered(d, o) {
			t.reanswer(o)
			if r.Membership.Final() {
				// Its release may have been lost with the run that recorded
				// the answer: releasing again is harmless.
				t.end(r.Membership)
			}
			continue
		}
		out = append(out, member{d: d, m: r.Membership})
	}
	return out, t, nil
}

func contactOf(ev event.Event) event.Contact {
	if cd, ok := ev.Data.(event.ContactData); ok {
		return cd.Contact
	}
	return event.Contact{}
}

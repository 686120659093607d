package contactsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// member is a delivery with the membership it goes on with.
type member struct {
	d delivery.Delivery
	m ledger.Membership
}

// item is a delivery that needs a Salesforce record.
type item struct {
	d      delivery.Delivery
	m      ledger.Membership
	object event.SalesforceObject
}

// replyLook is what replied decides for one contact.replied: its member,
// or its answer.
type replyLook struct {
	m *member
	t tally
}

// replied is the step of the contact.replied events, each one's read
// concurrently, after the pins (a reply sees an add of the same batch):
// the membership pinned for it, whose policy it syncs with (R4: never
// resolved again). A pending or failed membership syncs now, with the
// newest contact data the sequencer sent. A reply whose membership is not
// pinned waits for it (awaitAdd).
func (p part) replied(ctx context.Context, ds []delivery.Delivery) ([]member, tally, error) {
	looks, err := eachOf(len(ds), func(i int) (replyLook, error) {
		d := ds[i]
		ev := d.Event
		key := ledger.MemberKey{SequenceID: ev.SequenceID(), ContactID: ev.ContactID()}
		ms, err := p.e.Ledger.Memberships(ctx, p.team, []ledger.MemberKey{key})
		if err != nil {
			return replyLook{}, fmt.Errorf("read membership: %w", err)
		}
		m, ok := ms[key]
		if !ok {
			return replyLook{t: p.awaitAdd(d)}, nil
		}
		if m.Status == ledger.MemberPending || m.Status == ledger.MemberFailed {
			m.Status = ledger.MemberSyncing
			if c := contactOf(ev); c.Email != "" {
				m.Contact = c // the newest data the sequencer has
			}
			if u := ev.User(); u != nil {
				m.Rep = u // the rep the reply names, the newest word on who works the contact
			}
		}
		return replyLook{m: &member{d: d, m: m}}, nil
	})
	if err != nil {
		return nil, tally{}, err
	}
	var out []member
	var t tally
	for _, l := range looks {
		if l.m != nil {
			out = append(out, *l.m)
		}
		t.merge(l.t)
	}
	return out, t, nil
}

// awaitAdd answers a reply whose membership is not pinned (see
// delivery.AwaitAdd): it comes back while its contact.added may still be
// on its way, is held while the team's parked events may still bring it,
// and is skipped not_added after that.
func (p part) awaitAdd(d delivery.Delivery) tally {
	var t tally
	e := p.e
	switch delivery.AwaitAdd(e.now(), d.AwaitFrom(), p.conn, orDefault(e.HoldDelay, delivery.DefaultHoldDelay), orDefault(e.AwaitAdd, delivery.DefaultAwaitAdd)) {
	case delivery.AwaitRetry:
		t.retry(d, fmt.Errorf("%w: the contact's contact.added has not been synced yet", delivery.ErrWait))
	case delivery.AwaitHold:
		t.retry(d, held(errors.New("the contact's contact.added may still be parked")))
	default:
		t.answer(p.outcome(d, event.StatusSkipped, event.ReasonNotAdded))
	}
	return t
}

// resolve is the resolve step: which memberships sync now. A skipped one
// is answered skipped with its reason, and is final; a pending one
// (on_reply, no reply yet) is answered pending. The others (syncing,
// failed, or already synced) are the items to sync: the look-up finds the
// record the email has in the ledger first (see alreadySynced).
func (p part) resolve(ms []member) ([]item, tally) {
	var items []item
	var t tally
	for _, x := range ms {
		switch x.m.Status {
		case ledger.MemberSkipped:
			t.answer(p.outcome(x.d, event.StatusSkipped, x.m.Reason))
			t.end(x.m)
			t.keep = max(t.keep, ledger.RetainOr(x.m.Retain)) // a pin of before may keep longer than the team now
		case ledger.MemberPending:
			t.answer(p.outcome(x.d, event.StatusPending, event.ReasonAwaitingReply))
			t.keep = max(t.keep, ledger.RetainOr(x.m.Retain))
		default:
			items = append(items, item{d: x.d, m: x.m, object: objectOf(x.m.Policy.SyncAs)})
		}
	}
	return items, t
}

// notConnected answers deliveries the team's connection does not cover
// (none, or one made after they occurred): skipped, not_connected. An add
// not looked up yet (pinFirst) may have been answered while connected: it
// keeps that answer.
func (p part) notConnected(ctx context.Context, ds []delivery.Delivery) (tally, error) {
	var refs []ledger.EventRef
	for _, d := range ds {
		if pinFirst(d) {
			refs = append(refs, ledger.RefOf(d.Event))
		}
	}
	prior, err := p.outcomesOf(ctx, refs)
	if err != nil {
		return tally{}, err
	}
	var t tally
	for _, d := range ds {
		if o, ok := prior[d.Event.ID]; ok && pinFirst(d) && answered(d, o) {
			t.reanswer(o)
			continue
		}
		t.answer(p.outcome(d, event.StatusSkipped, event.ReasonNotConnected))
	}
	return t, nil
}

func objectOf(as policy.SyncAs) event.SalesforceObject {
	if as == policy.SyncAsContact {
		return event.ObjectContact
	}
	return event.ObjectLead
}

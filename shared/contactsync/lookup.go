package contactsync

import (
	"context"
	"fmt"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// syncItems takes the items to sync and the contact.created events to
// check through the steps that need the org:
//
//	lookUp  the ledger's records, then Salesforce, every email once (R5)
//	claim   the right to create each email Salesforce does not have
//	create  links what Salesforce has, creates the rest (R6's duplicate
//	        rules)
//	record  the records and the final memberships written (R9)
//	honour  the opt-outs of the emails synced written to their records
//
// What was decided is recorded even when a later step failed: a record
// created in Salesforce is in the ledger when the event comes back. When
// a step failed, the claims taken are given up.
func (p part) syncItems(ctx context.Context, check []delivery.Delivery, items []item) (tally, error) {
	if len(check) == 0 && len(items) == 0 {
		return tally{}, nil
	}
	l, err := p.lookUp(ctx, check, items)
	ends, t := l.ends, l.tally
	var claimed []string
	if err == nil {
		var mine []item
		var ct tally
		mine, claimed, ct, err = p.claim(ctx, l.pending, l.found)
		t.merge(ct)
		if err == nil {
			made, mt, cerr := p.create(ctx, mine, l.found)
			ends = append(ends, made...)
			t.merge(mt)
			err = cerr
		}
	}
	rt, rerr := p.record(p.settle, ends)
	t.merge(rt)
	if err == nil {
		err = rerr
	}
	if err == nil {
		ot, oerr := p.honourOptOuts(ctx, ends, rt)
		t.merge(ot)
		err = oerr
	}
	if err != nil {
		for _, email := range claimed {
			p.unclaim(context.WithoutCancel(ctx), email)
		}
	}
	return t, err
}

// looked is what the look-up step found.
type looked struct {
	ends    []ending                // items whose email the ledger has a record for
	pending []item                  // the other items: linked to what Salesforce has, or created
	found   map[string]ledger.Match // what Salesforce has, by normalized email
	tally                           // the answers of the contact.created events (R6)
}

// lookUp is the look-up step (R5). An email the team has synced is never
// created again: its items end linked to the ledger's record
// (alreadySynced). The other items' emails, and those of the
// contact.created events, are looked up in Salesforce in one go, and the
// contact.created events are answered (checked). When the lookup fails,
// the items the ledger linked are still returned.
func (p part) lookUp(ctx context.Context, check []delivery.Delivery, items []item) (looked, error) {
	emails := map[string]bool{}
	for _, it := range items {
		emails[ledger.NormalizeEmail(it.m.Email)] = true
	}
	records, err := p.e.Ledger.Records(ctx, p.team, keys(emails))
	if err != nil {
		return looked{}, fmt.Errorf("read records: %w", err)
	}
	var l looked
	lookup := map[string]bool{}
	for _, it := range items {
		email := ledger.NormalizeEmail(it.m.Email)
		if r, ok := records[email]; ok {
			l.ends = append(l.ends, alreadySynced(it, r))
			continue
		}
		l.pending = append(l.pending, it)
		lookup[email] = true
	}
	for _, d := range check {
		lookup[ledger.NormalizeEmail(d.Event.Email())] = true
	}
	if len(lookup) == 0 {
		return l, nil
	}
	if l.found, err = p.org.FindByEmail(ctx, keys(lookup)); err != nil {
		return l, salesforceErr("look emails up", err)
	}
	l.tally = p.checked(check, l.found)
	return l, nil
}

// alreadySynced is the ending of an item whose email the ledger has a
// record for (saved already): linked/already_synced, or, when the record
// was saved for this very event (an earlier attempt of it, or a duplicate
// delivery racing the first), the answer the record's own event had, so
// both answer alike.
func alreadySynced(it item, r ledger.Record) ending {
	status, reason := event.StatusLinked, event.ReasonAlreadySynced
	if r.EventID == it.d.Event.ID {
		status, reason = r.Status, ""
		switch {
		case r.Status == event.StatusLinked:
			reason = event.Reason("matched_" + r.MatchRule)
		case r.Credit != nil:
			reason = r.Credit.Reason
		}
	}
	return ending{it: it, rec: r, st: status, reason: reason}
}

// checked answers the contact.created events (R6): exists_in_salesforce,
// with the record found and the rule that found it, or not_in_salesforce.
func (p part) checked(check []delivery.Delivery, found map[string]ledger.Match) tally {
	var t tally
	for _, d := range check {
		m, ok := found[ledger.NormalizeEmail(d.Event.Email())]
		if !ok {
			t.answer(p.outcome(d, event.StatusNotInSalesforce, ""))
			continue
		}
		o := p.outcome(d, event.StatusExistsInSalesforce, event.Reason("matched_"+m.Rule))
		o.Salesforce = &event.SalesforceRef{Object: m.Object, ID: m.ID}
		t.answer(o)
	}
	return t
}

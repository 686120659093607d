package contactsync

import (
	"context"
	"fmt"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// ending is a delivery's final state, written to the ledger by the record
// step with the part's others: synced to rec (saved first when save is
// set), or failed with oe.
type ending struct {
	it     item
	rec    ledger.Record
	save   bool
	st     event.Status
	reason event.Reason
	oe     *event.OutcomeError
}

// syncedEnd is the ending of an item synced to r: the record step saves r
// (once per email: a record new to the ledger), marks the membership
// synced and gives the event its outcome.
func syncedEnd(it item, r ledger.Record, st event.Status, reason event.Reason) ending {
	return ending{it: it, rec: r, save: reason != event.ReasonAlreadySynced, st: st, reason: reason}
}

// failedEnd is the ending of an item that failed with oe (its message cut
// to 1,000 characters): the record step marks the membership failed and
// gives the event its outcome.
func failedEnd(it item, oe *event.OutcomeError) ending {
	if len(oe.Message) > 1000 {
		oe.Message = oe.Message[:1000]
	}
	return ending{it: it, oe: oe}
}

// follow is the endings of the later items of an email: linked to its
// owner's record r, already_synced.
func follow(fs []item, r ledger.Record) []ending {
	ends := make([]ending, 0, len(fs))
	for _, f := range fs {
		ends = append(ends, syncedEnd(f, r, event.StatusLinked, event.ReasonAlreadySynced))
	}
	return ends
}

// recordOf is the ledger's record of the item's email, synced to the
// Salesforce record id.
func (p part) recordOf(it item, obj event.SalesforceObject, id string, st event.Status, rule string, mappingVersion int) ledger.Record {
	return ledger.Record{TeamID: p.team, Email: ledger.NormalizeEmail(it.m.Email), Object: obj, ID: id, Status: st, MatchRule: rule,
		PolicyVersion: it.m.Policy.TeamVersion, MappingVersion: mappingVersion, SyncedAt: p.e.now().UTC(),
		EventID: it.d.Event.ID, ContactID: it.d.Event.ContactID(), Retain: p.retain}
}

// membership is the final state of the ending's membership.
func (p part) membership(w ending) ledger.Membership {
	m := w.it.m
	m.Retain = p.retain
	if w.oe != nil {
		m.Status, m.Reason = ledger.MemberFailed, ""
		return m
	}
	m.Status, m.Reason, m.Salesforce = ledger.MemberSynced, "", &event.SalesforceRef{Object: w.rec.Object, ID: w.rec.ID}
	return m
}

// record is the record step: the new records in one ledger call, then the
// final memberships in another; each membership ended is final (its held
// activity is released) and its event gets its outcome. A membership ended
// by the add that pinned it is not written: the add's outcome, recorded in
// the answer step, is its state (ledger.Membership.SettledBy), a write unit
// less per contact. An item whose own
// write was refused comes back later (ErrRetry), with the items that
// depend on its record; only a failed call fails the part.
func (p part) record(ctx context.Context, ws []ending) (tally, error) {
	if len(ws) == 0 {
		return tally{}, nil
	}
	unsaved, err := p.saveRecords(ctx, ws)
	if err != nil {
		return tally{}, err
	}
	var t tally
	var ms []ledger.Membership
	var of []ending // of[j] ended as ms[j]
	for _, w := range ws {
		if e, ok := unsaved[w.rec.Email]; ok && w.oe == nil {
			t.retry(w.it.d, fmt.Errorf("%w: save record: %w", delivery.ErrRetry, e))
			continue
		}
		m := p.membership(w)
		if w.it.m.Settles(w.it.d.Event) {
			// The add's outcome is the membership's state: no write of its
			// own (ledger.Membership.SettledBy reads it back).
			t.end(m)
			t.keep = max(t.keep, ledger.RetainOr(m.Retain), ledger.RetainOr(w.it.m.Retain))
			if w.oe == nil {
				t.onRecord(w.it.d.Event.ID, w.rec.Email)
			}
			t.answer(p.outcomeOf(w, m))
			continue
		}
		ms = append(ms, m)
		of = append(of, w)
	}
	if len(ms) == 0 {
		return t, nil
	}
	errs, err := p.e.Ledger.SetMemberships(ctx, ms)
	if err != nil {
		return t, fmt.Errorf("set memberships: %w", err)
	}
	for j, w := range of {
		if errs[j] != nil {
			t.retry(w.it.d, fmt.Errorf("%w: set membership: %w", delivery.ErrRetry, errs[j]))
			continue
		}
		t.end(ms[j])
		t.keep = max(t.keep, ledger.RetainOr(ms[j].Retain))
		if w.oe == nil {
			t.onRecord(w.it.d.Event.ID, w.rec.Email)
		}
		t.answer(p.outcomeOf(w, ms[j]))
	}
	return t, nil
}

// saveRecords saves the endings' records new to the ledger in one call,
// and returns the emails whose record was refused, with why (their claims
// given up).
func (p part) saveRecords(ctx context.Context, ws []ending) (map[string]error, error) {
	var recs []ledger.Record
	for _, w := range ws {
		if w.oe == nil && w.save {
			recs = append(recs, w.rec)
		}
	}
	unsaved := map[string]error{}
	if len(recs) == 0 {
		return unsaved, nil
	}
	errs, err := p.e.Ledger.SaveRecords(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("save records: %w", err)
	}
	for i, e := range errs {
		if e != nil {
			unsaved[recs[i].Email] = e
			p.unclaim(ctx, recs[i].Email)
		}
	}
	return unsaved, nil
}

// outcomeOf is the outcome of an ending whose membership m was written.
func (p part) outcomeOf(w ending, m ledger.Membership) event.Outcome {
	if w.oe != nil {
		o := p.outcome(w.it.d, event.StatusFailed, "")
		o.Error = w.oe
		return o
	}
	o := p.outcome(w.it.d, w.st, w.reason)
	o.Salesforce = m.Salesforce
	if w.st == event.StatusCreated {
		o.Salesforce = credited(m.Salesforce, w.rec.Credit) // who owns it, under which Account, and why
	}
	return o
}

// release hands the held activity of the memberships that reached a final
// state (synced, failed or skipped) back to activity sync (R7), each
// membership once: in one call when the releaser takes many (one read of
// what is held for the team instead of one per membership). On failure
// the held copies stay and the contact's next activity picks them up.
func (p part) release(ctx context.Context, final []ledger.MemberKey) {
	if len(final) == 0 || p.e.Release == nil {
		return
	}
	seen := map[ledger.MemberKey]bool{}
	var ks []ledger.MemberKey
	for _, k := range final {
		if !seen[k] {
			seen[k] = true
			ks = append(ks, k)
		}
	}
	if all, ok := p.e.Release.(BatchReleaser); ok {
		if err := all.ReleaseAll(ctx, p.team, ks); err != nil {
			p.e.log().Warn("release held activities", "team_id", p.team, "error", err.Error())
		}
		return
	}
	for _, k := range ks {
		if err := p.e.Release.Release(ctx, p.team, k); err != nil {
			p.e.log().Warn("release held activities", "team_id", p.team, "error", err.Error())
		}
	}
}

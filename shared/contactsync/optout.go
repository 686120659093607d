package contactsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/lifecycle"
)

// unsubscribe is the opt-out step: each contact.unsubscribed is kept
// (lifecycle.Marks: the first opt-out of an email, whatever the settings)
// and, when the team's optout_writeback is on as of the latest of them,
// written to the email's record in one update call (HasOptedOutOfEmail =
// true; never set back): updated. An email with no record yet is skipped not_synced: its record
// is created opted out if it syncs later (optOutOnCreate). An email another
// worker is syncing right now comes back, to be updated once it is saved.
func (p part) unsubscribe(ctx context.Context, ds []delivery.Delivery) (tally, error) {
	if len(ds) == 0 {
		return tally{}, nil
	}
	if p.e.Lifecycle == nil {
		return tally{}, errNoLifecycle
	}
	latest := slices.MaxFunc(ds, func(a, b delivery.Delivery) int { return a.Event.OccurredAt.Compare(b.Event.OccurredAt) })
	tv, err := p.e.Policies.TeamSettingsAt(ctx, p.team, latest.Event.OccurredAt)
	if err != nil {
		return tally{}, fmt.Errorf("resolve team settings: %w", err)
	}
	// The opt-out is kept even when the team does not write them: turned
	// on later, the records synced then are opted out.
	kept, err := p.keepOptOuts(ctx, ds)
	if err != nil {
		return tally{}, err
	}
	var t tally
	if !tv.Document.OptOutWriteback() {
		for _, d := range ds {
			t.answer(p.outcome(d, event.StatusSkipped, event.ReasonOptOutWritebackOff))
		}
		return t, nil
	}
	emails := slices.Sorted(maps.Keys(kept))
	records, err := p.e.Ledger.Records(ctx, p.team, emails)
	if err != nil {
		return tally{}, fmt.Errorf("read records: %w", err)
	}
	refs := map[string]event.SalesforceRef{}
	var unsynced []string
	for _, email := range emails {
		if r, ok := records[email]; ok {
			refs[email] = event.SalesforceRef{Object: r.Object, ID: r.ID}
		} else {
			unsynced = append(unsynced, email)
		}
	}
	written, err := p.optOutWriter().Write(delivery.WriteContext(ctx), p.team, p.org, refs, kept)
	if err != nil {
		return tally{}, salesforceErr("write opt-outs", err)
	}
	busy, err := p.syncingNow(ctx, unsynced)
	if err != nil {
		return tally{}, err
	}
	for _, d := range ds {
		email := ledger.NormalizeEmail(d.Event.Email())
		t.merge(p.optOutAnswer(d, written[email], busy[email]))
	}
	return t, nil
}

// optOutWriter writes opt-outs, following a Lead converted since it
// synced to the Contact it became (the ledger follows it too).
func (p part) optOutWriter() lifecycle.OptOutWriter {
	return lifecycle.OptOutWriter{Marks: p.e.Lifecycle, Follow: lifecycle.FollowConverted(p.org, p.e.Ledger, p.team)}
}

// keepUnconnected keeps the opt-outs among the deliveries of a team with
// no connection (they are answered not_connected): a record synced later,
// or one synced under an earlier connection when its contact syncs again,
// is opted out then, as when the opt-out came before the contact synced.
func (p part) keepUnconnected(ctx context.Context, ds []delivery.Delivery) error {
	var unsubs []delivery.Delivery
	for _, d := range ds {
		if d.Event.Type == event.ContactUnsubscribed {
			unsubs = append(unsubs, d)
		}
	}
	if len(unsubs) == 0 {
		return nil
	}
	if p.e.Lifecycle == nil {
		return errNoLifecycle
	}
	_, err := p.keepOptOuts(ctx, unsubs)
	return err
}

// keepOptOuts keeps the opt-out of each email of ds (the earliest of the
// part's, unless one is kept already) and returns them by email.
func (p part) keepOptOuts(ctx context.Context, ds []delivery.Delivery) (map[string]lifecycle.OptOut, error) {
	first := map[string]lifecycle.OptOut{}
	for _, d := range ds {
		email := ledger.NormalizeEmail(d.Event.Email())
		o := lifecycle.OptOut{Email: email, ContactID: d.Event.ContactID(), EventID: d.Event.ID, At: d.Event.OccurredAt, Retain: p.retain}
		if f, ok := first[email]; !ok || cmp.Or(o.At.Compare(f.At), cmp.Compare(o.EventID, f.EventID)) < 0 {
			first[email] = o
		}
	}
	in := slices.Collect(maps.Values(first))
	out, err := p.e.Lifecycle.KeepOptOuts(ctx, p.team, in)
	if err != nil {
		return nil, fmt.Errorf("keep opt-outs: %w", err)
	}
	kept := make(map[string]lifecycle.OptOut, len(out))
	for _, o := range out {
		kept[o.Email] = o
	}
	return kept, nil
}

// syncingNow tells which of the emails (without a record) another worker
// is creating a record for now: it claims each briefly and gives the claim
// back. A claim taken means no create is under way, and any create later
// claims after the opt-out was kept, so it reads it (optOutOnCreate).
func (p part) syncingNow(ctx context.Context, emails []string) (map[string]bool, error) {
	busy := map[string]bool{}
	if len(emails) == 0 {
		return busy, nil
	}
	errs, err := p.e.Ledger.ClaimAll(ctx, p.team, emails, p.e.Owner, p.claimUntil(ctx))
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	for i, email := range emails {
		if errs[i] != nil {
			busy[email] = true
			continue
		}
		p.unclaim(context.WithoutCancel(ctx), email)
	}
	return busy, nil
}

// optOutAnswer is the answer of one contact.unsubscribed: updated on the
// record written, failed with Salesforce's refusal, back to the queue (a
// passing fault, or the contact syncing right now), or skipped not_synced.
func (p part) optOutAnswer(d delivery.Delivery, w lifecycle.OptOutResult, busy bool) tally {
	var t tally
	switch {
	case w.Written:
		o := p.outcome(d, event.StatusUpdated, "")
		o.Salesforce = &w.Record
		t.answer(o)
	case w.Refused != nil:
		o := p.outcome(d, event.StatusFailed, "")
		o.Error = w.Refused
		t.answer(o)
	case w.Err != nil:
		t.retry(d, fmt.Errorf("%w: %w", delivery.ErrRetry, w.Err))
	case busy:
		t.retry(d, fmt.Errorf("%w: the contact is syncing now: %w", delivery.ErrRetry, ledger.ErrClaimed))
	default:
		t.answer(p.outcome(d, event.StatusSkipped, event.ReasonNotSynced))
	}
	return t
}

// optedOut is the opt-outs kept for the emails of the records a part
// creates, when the team writes opt-outs (as of now: the record is made
// now): each is created opted out. The emails are claimed, so a
// contact.unsubscribed kept after this read finds the claim and comes back
// until the record is saved (syncingNow).
func (p part) optedOut(ctx context.Context, emails []string) (map[string]lifecycle.OptOut, error) {
	if len(emails) == 0 {
		return nil, nil
	}
	if p.e.Lifecycle == nil {
		return nil, errNoLifecycle
	}
	if !p.current.OptOutWriteback() {
		return nil, nil
	}
	kept, err := p.e.Lifecycle.OptOuts(ctx, p.team, emails)
	if err != nil {
		return nil, fmt.Errorf("read opt-outs: %w", err)
	}
	return kept, nil
}

// errNoLifecycle is the part's error when the engine has no lifecycle
// store: opt-outs could not be kept or honoured.
var errNoLifecycle = errors.New("contactsync: Engine.Lifecycle is not set")

// honourOptOuts writes the opt-outs kept for the emails of the part's
// synced endings (recorded in rt) to their records, when the team writes
// opt-outs: a link to a record Salesforce had, or a record an earlier
// sync failed to opt out. The emails of records created here are left
// out: they were read before the create (and created opted out). A link's update that must be sent
// again brings its delivery back; one Salesforce refuses is logged, the
// link standing.
func (p part) honourOptOuts(ctx context.Context, ends []ending, rt tally) (tally, error) {
	refs := map[string]event.SalesforceRef{}
	by := map[string][]ending{}
	made := map[string]bool{}
	for _, w := range ends {
		if w.oe != nil || rt.retries[w.it.d.ID] != nil || w.rec.ID == "" {
			continue
		}
		if w.save && w.st == event.StatusCreated {
			made[w.rec.Email] = true
		}
		refs[w.rec.Email] = event.SalesforceRef{Object: w.rec.Object, ID: w.rec.ID}
		by[w.rec.Email] = append(by[w.rec.Email], w)
	}
	// A record created here read its email's opt-out under its claim,
	// before the create; an opt-out kept since met the claim and comes
	// back to the record itself (syncingNow). Not read again.
	for email := range made {
		delete(refs, email)
	}
	if len(refs) == 0 {
		return tally{}, nil
	}
	kept, err := p.optedOut(ctx, slices.Sorted(maps.Keys(refs)))
	if err != nil || len(kept) == 0 {
		return tally{}, err
	}
	written, err := p.optOutWriter().Write(delivery.WriteContext(ctx), p.team, p.org, refs, kept)
	if err != nil {
		return tally{}, salesforceErr("write opt-outs", err)
	}
	var t tally
	for email, w := range written {
		switch {
		case w.Err != nil:
			for _, end := range by[email] {
				t.retry(end.it.d, fmt.Errorf("%w: %w", delivery.ErrRetry, w.Err))
			}
		case w.Refused != nil:
			p.e.log().Warn("opt-out refused", "team_id", p.team, "sf_id", refs[email].ID, "code", w.Refused.Code, "error", w.Refused.Message)
		}
	}
	return t, nil
}

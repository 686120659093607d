package contactsync

import (
	"context"
	"fmt"
	"slices"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// fresh is the first step: each event of the part once (the same event
// twice in one batch gets one answer), and the events answered before
// answered again, not processed. It returns the deliveries to sync. A
// contact.added is looked up later, after its pin (pinFirst).
func (p part) fresh(ctx context.Context, ds []delivery.Delivery) ([]delivery.Delivery, tally, error) {
	refs := make([]ledger.EventRef, 0, len(ds))
	for _, d := range ds {
		if !pinFirst(d) {
			refs = append(refs, ledger.RefOf(d.Event))
		}
	}
	prior, err := p.outcomesOf(ctx, refs)
	if err != nil {
		return nil, tally{}, err
	}
	var todo []delivery.Delivery
	var t tally
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Event.ID] {
			continue
		}
		seen[d.Event.ID] = true
		if o, ok := prior[d.Event.ID]; ok && answered(d, o) {
			t.reanswer(o) // processed before; its answer may not have reached the queue
			continue
		}
		todo = append(todo, d)
	}
	return todo, t, nil
}

// answer is the last step (R9): the new outcomes are recorded, then every
// answer of the part is published, those given before first.
func (p part) answer(ctx context.Context, t tally) error {
	if len(t.outcomes) > 0 {
		// A contact outcome is kept as long as the memberships the part
		// pinned or ended: an erasure finds them through it.
		if err := p.e.Ledger.RecordOutcomes(ctx, t.outcomes, ledger.Retaining(t.keep), ledger.WithEmails(t.emails)); err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
	}
	if all := slices.Concat(t.reanswers, t.outcomes); len(all) > 0 {
		if err := p.e.Publisher.Publish(ctx, all); err != nil {
			return fmt.Errorf("publish outcomes: %w", err)
		}
	}
	return nil
}

// answered reports whether o, recorded for d's event before, is d's
// answer: an invalid_event answer is not (a valid event of its id is
// processed), and a failure is not for a retry from the error inbox.
func answered(d delivery.Delivery, o event.Outcome) bool {
	return !event.IsInvalidEvent(o) && !(d.Retry && o.Status == event.StatusFailed)
}

// pinFirst reports whether the delivery's earlier outcome, if any, is
// looked for only once it is known to be needed. A contact.added that pins
// its membership was never handled before: every answer an add gets comes
// after its pin, but not_connected (see notConnected, which looks its adds
// up). So only the adds that find their membership pinned are looked up,
// and a burst of new contacts costs no read of outcomes. A retry from the
// error inbox is looked up first, as every other event is.
func pinFirst(d delivery.Delivery) bool { return d.Event.Type == event.ContactAdded && !d.Retry }

// outcomesOf reads the outcomes recorded for the events.
func (p part) outcomesOf(ctx context.Context, refs []ledger.EventRef) (map[string]event.Outcome, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	prior, err := p.e.Ledger.Outcomes(ctx, p.team, refs)
	if err != nil {
		return nil, fmt.Errorf("read outcomes: %w", err)
	}
	return prior, nil
}

// outcome is a new answer for d.
func (p part) outcome(d delivery.Delivery, st event.Status, reason event.Reason) event.Outcome {
	o := event.NewOutcome(d.Event, "out_"+d.Event.ID, st, p.e.now())
	o.Reason = reason
	return o
}

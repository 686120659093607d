package contactsync

import (
	"time"

	"maps"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// tally is what a step decided for its deliveries. Each step returns its
// own; the pipeline merges them (merge) in the order of the steps, so no
// step writes into another's.
type tally struct {
	// outcomes are the new answers: recorded, then published.
	outcomes []event.Outcome
	// reanswers are answers recorded before: published again, since they
	// may not have reached the queue.
	reanswers []event.Outcome
	// retries are the deliveries that come back, by delivery id, with why.
	retries map[string]error
	// final are the memberships that reached a final state (synced,
	// failed or skipped): the held activity of each is released (R7).
	final []ledger.MemberKey
	// keep is the longest retention of the memberships the part pinned
	// (the team's) or ended (0: none): the outcomes are kept as long,
	// since an erasure finds the memberships through them.
	keep time.Duration
	// emails are the records' emails of the outcomes on a record, by event
	// id: the ledger keeps each with its outcome, so an erasure of the
	// contact finds the record as long as the outcome lives.
	emails map[string]string
}

// onRecord notes that the event's outcome is on the record of email.
func (t *tally) onRecord(eventID, email string) {
	if t.emails == nil {
		t.emails = map[string]string{}
	}
	t.emails[eventID] = ledger.NormalizeEmail(email)
}

// answer gives a delivery its new answer.
func (t *tally) answer(o event.Outcome) { t.outcomes = append(t.outcomes, o) }

// reanswer publishes again an answer recorded before.
func (t *tally) reanswer(o event.Outcome) { t.reanswers = append(t.reanswers, o) }

// retry brings a delivery back, with why.
func (t *tally) retry(d delivery.Delivery, err error) {
	if t.retries == nil {
		t.retries = map[string]error{}
	}
	t.retries[d.ID] = err
}

// end notes that a membership reached a final state.
func (t *tally) end(m ledger.Membership) {
	t.final = append(t.final, ledger.MemberKey{SequenceID: m.SequenceID, ContactID: m.ContactID})
}

// merge adds what a later step decided.
func (t *tally) merge(o tally) {
	t.outcomes = append(t.outcomes, o.outcomes...)
	t.reanswers = append(t.reanswers, o.reanswers...)
	t.final = append(t.final, o.final...)
	t.keep = max(t.keep, o.keep)
	for id, e := range o.emails {
		t.onRecord(id, e)
	}
	if len(o.retries) > 0 {
		if t.retries == nil {
			t.retries = map[string]error{}
		}
		maps.Copy(t.retries, o.retries)
	}
}

// mergeAll merges ts, in order, into one tally.
func mergeAll(ts []tally) tally {
	var t tally
	for _, o := range ts {
		t.merge(o)
	}
	return t
}

package activitysync

import (
	"context"
	"errors"
	"fmt"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/lifecycle"
)

// bounces is the bounce step of the log step: a bounce whose Task is
// logged is also written to its Lead or Contact (EmailBouncedReason,
// EmailBouncedDate) when the team's bounce_writeback is on (its settings
// as of the batch's latest activity, like the Tasks' owners): the newest
// bounce of each email only, once per bounce (lifecycle.BounceWriter), all
// in one update call. It returns the owners' answers with its word on
// them: a bounce whose update Salesforce refused fails with the refusal
// (the Task stays; a retry writes the bounce again and finds the Task
// logged), one that must come back comes back.
func (t team) bounces(ctx context.Context, owners []item, res result) (result, error) {
	if t.latest == nil || !t.latest.BounceWriteback() {
		return res, nil
	}
	if t.e.Lifecycle == nil {
		return result{}, errNoLifecycle
	}
	answers := map[string]event.Outcome{}
	for _, o := range res.outcomes {
		answers[o.EventID] = o
	}
	var bs []lifecycle.Bounce
	var of []item // of[i] is bs[i]'s owner
	for _, it := range owners {
		o, ok := answers[it.d.Event.ID]
		if it.d.Event.Type != event.EmailBounced || !ok || o.Status != event.StatusCreated {
			continue
		}
		b := bounceOf(it)
		b.Retain = t.latest.Retention()
		bs = append(bs, b)
		of = append(of, it)
	}
	if len(bs) == 0 {
		return res, nil
	}
	w := lifecycle.BounceWriter{Marks: t.e.Lifecycle, Follow: lifecycle.FollowConverted(t.org, t.e.Ledger, t.id)}
	written, err := w.Write(delivery.WriteContext(ctx), t.id, t.org, bs)
	if err != nil {
		return result{}, salesforceErr("write bounces back", err)
	}
	var word result
	overruled := map[string]bool{} // event ids
	for i, r := range written {
		it := of[i]
		switch {
		case r.Err != nil:
			word.retry(it.d, fmt.Errorf("%w: write the bounce back: %w", delivery.ErrRetry, r.Err))
		case r.Refused != nil:
			o := t.outcome(it.d, event.StatusFailed, "")
			o.Error = r.Refused
			word.answer(o)
		default:
			continue
		}
		overruled[it.d.Event.ID] = true
	}
	return overrule(res, word, overruled), nil
}

// errNoLifecycle is the part's error when the engine has no lifecycle
// store: bounces could not be written back once each.
var errNoLifecycle = errors.New("activitysync: Engine.Lifecycle is not set")

// bounceOf is the bounce an owner's email.bounced puts on its record.
func bounceOf(it item) lifecycle.Bounce {
	ev := it.d.Event
	var reason string
	if d, ok := ev.Data.(event.EmailData); ok {
		reason = d.Message.Reason
	}
	return lifecycle.Bounce{Email: ledger.NormalizeEmail(ev.Email()), Record: it.who, EventID: ev.ID, At: ev.OccurredAt, Reason: reason}
}

// overrule is res with a later word on the events overruled: their
// answers in res dropped for the word's (a new answer, or back to the
// queue).
func overrule(res, word result, overruled map[string]bool) result {
	if len(overruled) == 0 {
		return res
	}
	out := result{back: res.back, settled: res.settled}
	for _, o := range res.outcomes {
		if !overruled[o.EventID] {
			out.outcomes = append(out.outcomes, o)
		}
	}
	return merge(out, word)
}

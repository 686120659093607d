package ledgertest

import (
	"context"
	"errors"
	"fmt"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// final reports whether an outcome status is never replaced: created,
// linked, skipped and the dedup answers are; pending and failed are not
// (a failed event may be retried and end well).
func final(s event.Status) bool { return s != event.StatusPending && s != event.StatusFailed }

// replaces reports whether n may take the place of old for the same event:
// old is not final and n is at least as recent. An invalid_event answer
// never does: its ids come from an invalid body.
func replaces(n, old event.Outcome) bool {
	return !final(old.Status) && !n.At.Before(old.At) && !event.IsInvalidEvent(n)
}

// Outcomes returns the unexpired outcomes recorded for these events, by
// event id. An invalid team, event or contact id fails the call (a ref's
// contact may be empty: an invalid event's answer may name none).
func (l *Memory) Outcomes(_ context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	for i, r := range refs {
		if err := checkID(fmt.Sprintf("events[%d].event_id", i), r.EventID); err != nil {
			return nil, err
		}
		if r.ContactID != "" {
			if err := checkID(fmt.Sprintf("events[%d].contact_id", i), r.ContactID); err != nil {
				return nil, err
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().Unix()
	out := map[string]event.Outcome{}
	for _, r := range refs {
		if s, ok := l.outcomes[eventID{teamID, r.ContactID, r.EventID}]; ok && s.expires > now {
			out[r.EventID] = clone(s.outcome)
		}
	}
	return out, nil
}

// RecordOutcomes stores outcomes by contact and event id, each replacing
// the one recorded before only as replaces allows. Invalid outcomes are
// skipped and reported (wrapping ErrInvalid) after the valid ones are
// stored. A contact outcome is kept as long as the retention given
// (ledger.Retaining), and never less than OutcomeTTL.
func (l *Memory) RecordOutcomes(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) error {
	_, err := l.RecordOutcomesKept(ctx, outs, opts...)
	return err
}

// RecordOutcomesKept records outs as RecordOutcomes does, and returns, for
// each, the outcome kept for its event: outs[i] itself, or the outcome it
// may not replace (one recorded before, or another of outs). kept[i] is
// zero when outs[i] is invalid and no valid outcome of its event is in outs.
func (l *Memory) RecordOutcomesKept(_ context.Context, outs []event.Outcome, opts ...ledger.RecordOption) ([]event.Outcome, error) {
	rec := ledger.RecordingOf(opts)
	chosen, order, bad := choose(outs)
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := make(map[teamEvent]event.Outcome, len(order))
	for _, k := range order {
		o := chosen[k]
		at := eventID{o.TeamID, o.ContactID, o.EventID}
		if old, ok := l.outcomes[at]; ok && !replaces(o, old.outcome) {
			kept[k] = old.outcome
			continue
		}
		keep := OutcomeTTL
		if o.Type == event.ContactOutcome {
			keep = max(keep, rec.Retain)
		}
		l.outcomes[at] = storedOutcome{outcome: o, expires: l.now().Add(keep).Unix()}
		kept[k] = o
	}
	out := make([]event.Outcome, len(outs))
	for i, o := range outs {
		if k, ok := kept[teamEvent{o.TeamID, o.EventID}]; ok {
			out[i] = clone(k)
		}
	}
	return out, bad
}

// teamEvent is an event of a team: a batch keeps one outcome per event.
type teamEvent struct{ team, event string }

// choose validates outs and picks, of the outcomes of each event, the one
// the others may not replace; order is the events in order of first
// appearance, bad the invalid outcomes' errors.
func choose(outs []event.Outcome) (chosen map[teamEvent]event.Outcome, order []teamEvent, bad error) {
	chosen = map[teamEvent]event.Outcome{}
	var errs []error
	for i, o := range outs {
		if err := o.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%w: outcomes[%d]: %w", ErrInvalid, i, err))
			continue
		}
		o = clone(o)
		o.At = o.At.UTC()
		k := teamEvent{o.TeamID, o.EventID}
		prev, ok := chosen[k]
		if !ok {
			order = append(order, k)
		}
		if !ok || replaces(o, prev) {
			chosen[k] = o
		}
	}
	return chosen, order, errors.Join(errs...)
}

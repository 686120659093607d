package ledgertest

import (
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// outcomeCases are the rules of outcomes: one answer per event (R9), a
// pending or failed answer gives way to a later one, a final answer stays.
func outcomeCases() []testCase {
	return []testCase{
		{"Outcomes reads back what was recorded, per team", outcomesRoundTrip},
		{"A pending outcome gives way to a final one", outcomePendingGivesWay},
		{"A final outcome is kept", outcomeFinalKept},
		{"A failed outcome gives way to a later outcome, not an earlier one", outcomeFailedGivesWay},
		{"An invalid_event answer replaces nothing", outcomeInvalidReplacesNothing},
		{"A valid answer replaces an invalid_event answer", outcomeValidReplacesInvalid},
		{"Of two outcomes of one event in a call the one allowed to replace the other is kept", outcomeTwiceInACall},
		{"RecordOutcomesKept returns the outcome kept for each", outcomeKept},
		{"Invalid outcomes are reported and the rest stored", outcomeInvalidReported},
		{"Outcomes are read back until OutcomeTTL after they were recorded, a contact outcome until the retention", outcomeExpires},
	}
}

// outcome is a valid outcome of the type and status.
func outcome(team, eventID, contact string, typ event.OutcomeType, status event.Status, at time.Time) event.Outcome {
	o := event.Outcome{ID: "out_" + eventID, Type: typ, Version: event.Version, TeamID: team, EventID: eventID,
		ContactID: contact, SequenceID: "seq_1", Status: status, At: at.UTC()}
	switch status {
	case event.StatusCreated, event.StatusLinked, event.StatusExistsInSalesforce:
		o.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
		if typ == event.ActivityOutcome {
			o.Salesforce = &event.SalesforceRef{Object: event.ObjectTask, ID: "00T000000000001AAA"}
		}
	case event.StatusFailed:
		o.Error = &event.OutcomeError{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address", Fields: []string{"Email"}}
	case event.StatusPending:
		o.Reason = event.ReasonAwaitingReply
	case event.StatusSkipped:
		o.Reason = event.ReasonSequenceSyncDisabled
	}
	return o
}

// contactOutcome is a contact.outcome of ct_1.
func contactOutcome(team, eventID string, status event.Status, at time.Time) event.Outcome {
	return outcome(team, eventID, "ct_1", event.ContactOutcome, status, at)
}

// invalidAnswer is the failed/invalid_event answer of a message that named
// eventID and contact.
func invalidAnswer(team, eventID, contact string, at time.Time) event.Outcome {
	o := outcome(team, eventID, contact, event.ContactOutcome, event.StatusFailed, at)
	o.Reason, o.SequenceID = event.ReasonInvalidEvent, ""
	o.Error = &event.OutcomeError{Code: event.InvalidEventCode, Message: "data.contact.email: not an email address", Fields: []string{"data.contact.email"}}
	return o
}

// inZone is o with its time given west of UTC.
func inZone(o event.Outcome) event.Outcome {
	o.At = o.At.In(westOfUTC)
	return o
}

// statuses reads the outcomes of ids as "status/reason" by event id.
func (h *harness) statuses(team string, ids ...string) map[string]string {
	h.t.Helper()
	out := map[string]string{}
	for id, o := range h.outcomes(team, ids...) {
		out[id] = string(o.Status) + "/" + string(o.Reason)
	}
	return out
}

func outcomesRoundTrip(h *harness) {
	outs := []event.Outcome{
		contactOutcome(h.a, "evt_created", event.StatusCreated, Start),
		contactOutcome(h.a, "evt_pending", event.StatusPending, Start.Add(1)),
		contactOutcome(h.a, "evt_skipped", event.StatusSkipped, Start.Add(2)),
		inZone(contactOutcome(h.a, "evt_failed", event.StatusFailed, Start.Add(3))),
		outcome(h.a, "evt_task", "ct_1", event.ActivityOutcome, event.StatusCreated, Start.Add(4)),
		outcome(h.a, "evt_dedup", "ct_2", event.DedupOutcome, event.StatusExistsInSalesforce, Start.Add(5)),
	}
	h.record(outs...)
	h.record(contactOutcome(h.b, "evt_created", event.StatusSkipped, Start))
	want := map[string]event.Outcome{}
	ids := []string{"evt_unknown"}
	for _, o := range outs {
		o.At = o.At.UTC()
		want[o.EventID] = o
		ids = append(ids, o.EventID+"@"+o.ContactID)
	}
	wantEqual(h, "outcomes", h.outcomes(h.a, ids...), want)
	wantEqual(h, "another team's", h.statuses(h.b, "evt_created", "evt_pending"), map[string]string{"evt_created": "skipped/sequence_sync_disabled"})
}

func outcomePendingGivesWay(h *harness) {
	h.record(contactOutcome(h.a, "evt_1", event.StatusPending, Start))
	created := contactOutcome(h.a, "evt_1", event.StatusCreated, Start.Add(time.Hour))
	h.record(created)
	wantEqual(h, "outcome", h.outcomes(h.a, "evt_1")["evt_1"], created)
}

func outcomeFinalKept(h *harness) {
	h.record(contactOutcome(h.a, "evt_created", event.StatusCreated, Start), contactOutcome(h.a, "evt_skipped", event.StatusSkipped, Start))
	later := Start.Add(time.Hour)
	h.record(contactOutcome(h.a, "evt_created", event.StatusFailed, later), contactOutcome(h.a, "evt_skipped", event.StatusPending, later))
	wantEqual(h, "outcomes", h.statuses(h.a, "evt_created", "evt_skipped"),
		map[string]string{"evt_created": "created/", "evt_skipped": "skipped/sequence_sync_disabled"})
}

func outcomeFailedGivesWay(h *harness) {
	h.record(contactOutcome(h.a, "evt_1", event.StatusFailed, Start))
	h.record(contactOutcome(h.a, "evt_1", event.StatusLinked, Start.Add(-time.Second)))
	wantEqual(h, "after an earlier success", h.statuses(h.a, "evt_1"), map[string]string{"evt_1": "failed/"})
	h.record(contactOutcome(h.a, "evt_1", event.StatusCreated, Start))
	wantEqual(h, "after a success as recent", h.statuses(h.a, "evt_1"), map[string]string{"evt_1": "created/"})
}

func outcomeInvalidReplacesNothing(h *harness) {
	h.record(contactOutcome(h.a, "evt_pending", event.StatusPending, Start), invalidAnswer(h.a, "evt_bad", "ct_2", Start))
	h.record(invalidAnswer(h.a, "evt_pending", "ct_1", Start.Add(time.Minute)), invalidAnswer(h.a, "evt_bad", "ct_9", Start.Add(time.Minute)))
	got := h.outcomes(h.a, "evt_pending", "evt_bad@ct_2")
	if g := got["evt_pending"]; g.Status != event.StatusPending {
		h.t.Errorf("evt_pending: got %s/%s; want pending kept", g.Status, g.Reason)
	}
	if g := got["evt_bad"]; !event.IsInvalidEvent(g) || g.ContactID != "ct_2" || !g.At.Equal(Start) {
		h.t.Errorf("evt_bad: got %+v; want the first invalid_event answer kept", g)
	}
}

func outcomeValidReplacesInvalid(h *harness) {
	h.record(invalidAnswer(h.a, "evt_1", "ct_1", Start))
	created := contactOutcome(h.a, "evt_1", event.StatusCreated, Start.Add(time.Hour))
	h.record(created)
	wantEqual(h, "outcome", h.outcomes(h.a, "evt_1")["evt_1"], created)
}

func outcomeTwiceInACall(h *harness) {
	pending, created := contactOutcome(h.a, "evt_1", event.StatusPending, Start), contactOutcome(h.a, "evt_1", event.StatusCreated, Start.Add(1))
	first, failed := contactOutcome(h.a, "evt_2", event.StatusCreated, Start), contactOutcome(h.a, "evt_2", event.StatusFailed, Start.Add(1))
	kept, err := h.l.RecordOutcomesKept(h.ctx, []event.Outcome{pending, created, first, failed})
	h.must("record", err)
	wantEqual(h, "kept", kept, []event.Outcome{created, created, first, first})
	wantEqual(h, "stored", h.outcomes(h.a, "evt_1", "evt_2"), map[string]event.Outcome{"evt_1": created, "evt_2": first})
}

func outcomeKept(h *harness) {
	h.record(contactOutcome(h.a, "evt_synced", event.StatusCreated, Start), contactOutcome(h.a, "evt_failed", event.StatusFailed, Start))
	heldTooLong := func(id string) event.Outcome {
		o := contactOutcome(h.a, id, event.StatusSkipped, Start.Add(time.Hour))
		o.Reason = event.ReasonHeldTooLong
		return o
	}
	outs := []event.Outcome{
		heldTooLong("evt_synced"),                                      // a final answer is kept
		invalidAnswer(h.a, "evt_failed", "ct_1", Start.Add(time.Hour)), // an invalid_event answer replaces nothing
		heldTooLong("evt_failed"),                                      // a failure gives way
		heldTooLong("evt_new"),                                         // none before
	}
	kept, err := h.l.RecordOutcomesKept(h.ctx, outs)
	h.must("record", err)
	var got []string
	for _, k := range kept {
		got = append(got, k.EventID+":"+string(k.Status)+"/"+string(k.Reason))
	}
	wantEqual(h, "kept", got, []string{"evt_synced:created/", "evt_failed:skipped/held_too_long",
		"evt_failed:skipped/held_too_long", "evt_new:skipped/held_too_long"})
	wantEqual(h, "stored", h.statuses(h.a, "evt_synced", "evt_failed", "evt_new"), map[string]string{
		"evt_synced": "created/", "evt_failed": "skipped/held_too_long", "evt_new": "skipped/held_too_long"})
}

func outcomeInvalidReported(h *harness) {
	noError := contactOutcome(h.a, "evt_bad", event.StatusFailed, Start)
	noError.Error = nil
	good := contactOutcome(h.a, "evt_good", event.StatusCreated, Start)
	kept, err := h.l.RecordOutcomesKept(h.ctx, []event.Outcome{noError, good})
	if err == nil {
		h.t.Errorf("record an invalid outcome: got no error; want one")
	}
	wantEqual(h, "kept", kept, []event.Outcome{{}, good})
	wantEqual(h, "stored", h.outcomes(h.a, "evt_bad", "evt_good"), map[string]event.Outcome{"evt_good": good})
}

func outcomeExpires(h *harness) {
	task := outcome(h.a, "evt_task", "ct_1", event.ActivityOutcome, event.StatusCreated, Start)
	h.must("record with the default retention", h.l.RecordOutcomes(h.ctx, []event.Outcome{contactOutcome(h.a, "evt_1", event.StatusCreated, Start), task},
		ledger.Retaining(ledger.DefaultRetention)))
	h.must("record with a short retention", h.l.RecordOutcomes(h.ctx, []event.Outcome{contactOutcome(h.a, "evt_short", event.StatusCreated, Start)},
		ledger.Retaining(30*24*time.Hour)))
	h.record(contactOutcome(h.a, "evt_none", event.StatusSkipped, Start)) // no membership: no retention given
	all := map[string]string{"evt_1": "created/", "evt_task": "created/", "evt_short": "created/", "evt_none": "skipped/sequence_sync_disabled"}
	h.clock.Advance(OutcomeTTL - time.Second)
	wantEqual(h, "a second before the TTL", h.statuses(h.a, "evt_1", "evt_task", "evt_short", "evt_none"), all)
	h.clock.Advance(time.Second)
	// A contact outcome stays as long as the retention given, never less
	// than the TTL; an activity outcome the TTL.
	wantEqual(h, "at the TTL", h.statuses(h.a, "evt_1", "evt_task", "evt_short", "evt_none"), map[string]string{"evt_1": "created/"})
	h.clock.Advance(ledger.DefaultRetention - OutcomeTTL - time.Second)
	wantEqual(h, "a second before the retention", h.statuses(h.a, "evt_1"), map[string]string{"evt_1": "created/"})
	h.clock.Advance(time.Second)
	wantEqual(h, "at the retention", h.statuses(h.a, "evt_1"), map[string]string{})
}

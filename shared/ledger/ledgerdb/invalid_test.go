package ledgerdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
)

// invalidAnswer is the failed/invalid_event answer of a message that named
// eventID and contact.
func invalidAnswer(team, eventID, contact string, at time.Time) event.Outcome {
	return event.Outcome{ID: "out_" + eventID, Type: event.ContactOutcome, Version: event.Version, TeamID: team, EventID: eventID,
		ContactID: contact, Status: event.StatusFailed, Reason: event.ReasonInvalidEvent, At: at.UTC(),
		Error: &event.OutcomeError{Code: event.InvalidEventCode, Message: "data.contact.email: not an email address", Fields: []string{"data.contact.email"}}}
}

// TestInvalidEventAnswers: an invalid_event answer is shown with its
// contact but stays out of the error inbox, never replaces another answer
// of its event id (its ids come from an invalid body), and gives way to a
// valid event's answer.
func TestInvalidEventAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	pending := outcome("team_a", "evt_pending", "ct_1", event.ContactOutcome, event.StatusPending, t0)
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{pending, invalidAnswer("team_a", "evt_bad", "ct_2", t0)}); err != nil {
		t.Fatal(err)
	}
	// Later invalid messages naming both event ids.
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{invalidAnswer("team_a", "evt_pending", "ct_1", t0.Add(time.Minute)),
		invalidAnswer("team_a", "evt_bad", "ct_9", t0.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Outcomes(ctx, "team_a", refs("evt_pending@ct_1", "evt_bad@ct_2"))
	if err != nil {
		t.Fatal(err)
	}
	if g := got["evt_pending"]; g.Status != event.StatusPending {
		t.Errorf("evt_pending: got %s/%s; want pending kept", g.Status, g.Reason)
	}
	if g := got["evt_bad"]; !event.IsInvalidEvent(g) || g.ContactID != "ct_2" || !g.At.Equal(t0) {
		t.Errorf("evt_bad: got %+v; want the first invalid_event answer kept", g)
	}
	view, err := f.store.Contact(ctx, "team_a", "ct_2", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Outcomes) != 1 || !event.IsInvalidEvent(view.Outcomes[0]) {
		t.Errorf("ct_2's outcomes: got %+v; want the invalid_event answer", view.Outcomes)
	}
	groups, _, err := f.store.Failures(ctx, "team_a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Errorf("error inbox: got %+v; want none", groups)
	}
	// The event sent again, valid this time: its answer replaces the invalid one.
	created := outcome("team_a", "evt_bad", "ct_2", event.ContactOutcome, event.StatusCreated, t0.Add(time.Hour))
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{created}); err != nil {
		t.Fatal(err)
	}
	got, err = f.store.Outcomes(ctx, "team_a", refs("evt_bad@ct_2"))
	if err != nil {
		t.Fatal(err)
	}
	if g := got["evt_bad"]; g.Status != event.StatusCreated {
		t.Errorf("evt_bad after the valid event: got %s/%s; want created", g.Status, g.Reason)
	}
}

// TestRecordOutcomesKept: recording reports, for each outcome, the one the
// ledger keeps for its event: the outcome itself when written, the answer
// recorded before when it may not replace it (a final answer, or any
// answer over an invalid_event one), and, of two outcomes of one event in
// a call, the one chosen.
func TestRecordOutcomesKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	created := outcome("team_k", "evt_synced", "ct_1", event.ContactOutcome, event.StatusCreated, t0)
	failed := outcome("team_k", "evt_failed", "ct_2", event.ContactOutcome, event.StatusFailed, t0)
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{created, failed}); err != nil {
		t.Fatal(err)
	}
	heldTooLong := func(id, contact string) event.Outcome {
		o := outcome("team_k", id, contact, event.ContactOutcome, event.StatusSkipped, t0.Add(time.Hour))
		o.Reason = event.ReasonHeldTooLong
		return o
	}
	outs := []event.Outcome{
		heldTooLong("evt_synced", "ct_1"),                                // a final answer is kept
		invalidAnswer("team_k", "evt_failed", "ct_2", t0.Add(time.Hour)), // an invalid_event answer replaces nothing
		heldTooLong("evt_failed", "ct_2"),                                // a failure gives way
		heldTooLong("evt_new", "ct_3"),                                   // none before
	}
	kept, err := f.store.RecordOutcomesKept(ctx, outs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"created/", "skipped/held_too_long", "skipped/held_too_long", "skipped/held_too_long"}
	if len(kept) != len(outs) {
		t.Fatalf("kept: got %d; want %d", len(kept), len(outs))
	}
	for i, k := range kept {
		if got := string(k.Status) + "/" + string(k.Reason); got != want[i] || k.EventID != outs[i].EventID {
			t.Errorf("kept[%d]: got %s of %s; want %s of %s", i, got, k.EventID, want[i], outs[i].EventID)
		}
	}
	stored, err := f.store.Outcomes(ctx, "team_k", refs("evt_synced@ct_1", "evt_failed@ct_2", "evt_new@ct_3"))
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range kept {
		if s := stored[k.EventID]; s.Status != k.Status || s.Reason != k.Reason {
			t.Errorf("kept[%d] %s: got %s/%s; want what is stored, %s/%s", i, k.EventID, k.Status, k.Reason, s.Status, s.Reason)
		}
	}
}

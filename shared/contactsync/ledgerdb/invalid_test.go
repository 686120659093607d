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
	got, err := f.store.Outcomes(ctx, "team_a", []string{"evt_pending", "evt_bad"})
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
	got, err = f.store.Outcomes(ctx, "team_a", []string{"evt_bad"})
	if err != nil {
		t.Fatal(err)
	}
	if g := got["evt_bad"]; g.Status != event.StatusCreated {
		t.Errorf("evt_bad after the valid event: got %s/%s; want created", g.Status, g.Reason)
	}
}

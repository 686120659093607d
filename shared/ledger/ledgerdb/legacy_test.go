package ledgerdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
)

// TestLegacyOutcomes: while LegacyUntil is ahead, an event answered before
// the outcomes moved to their contacts' partitions keeps its answer: it is
// read from its old place, a final one is never replaced, and a failed one
// gives way to a later answer, which takes its place in the contact's
// partition (the old item and its error-inbox entry go). Past LegacyUntil
// (or with none) the old place is not read.
func TestLegacyOutcomes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const team = "team_old"
	at := f.clock.Now().Add(-time.Hour)
	final := outcome(team, "evt_final", "ct_1", event.ContactOutcome, event.StatusSkipped, at)
	final.Reason = event.ReasonNotAdded
	failed := outcome(team, "evt_failed", "ct_2", event.ContactOutcome, event.StatusFailed, at)
	esk := ledgerdb.ErrorSK(failed.Error.Code, "ct_2", "evt_failed")
	for _, o := range []event.Outcome{final, failed} {
		item := map[string]any{"pk": ledgerdb.EventPK(team, o.EventID), "sk": ledgerdb.LegacyOutcomeSK,
			"cpk": ledgerdb.ContactPK(team, o.ContactID), "csk": ledgerdb.OutcomeIndexSK(o.At, o.EventID), "outcome": o,
			"expires_at": f.clock.Now().Add(48 * time.Hour).Unix()}
		if o.Status == event.StatusFailed {
			item["error_sk"] = esk
		}
		putLegacy(t, f, item)
	}
	putLegacy(t, f, map[string]any{"pk": ledgerdb.ErrorsPK(team), "sk": esk, "type": string(failed.Type), "contact_id": "ct_2",
		"event_id": "evt_failed", "code": failed.Error.Code, "message": failed.Error.Message, "at": at,
		"expires_at": f.clock.Now().Add(48 * time.Hour).Unix()})
	asked := refs("evt_final@ct_1", "evt_failed@ct_2")

	if got, err := f.store.Outcomes(ctx, team, asked); err != nil || len(got) != 0 {
		t.Errorf("with no LegacyUntil: got %v, %v; want the old place unread", got, err)
	}
	f.store.LegacyUntil = f.clock.Now().Add(24 * time.Hour)
	got, err := f.store.Outcomes(ctx, team, asked)
	if err != nil || got["evt_final"].Reason != event.ReasonNotAdded || got["evt_failed"].Status != event.StatusFailed {
		t.Fatalf("while LegacyUntil is ahead: got %v, %v; want both old answers", got, err)
	}

	// The events again, answered otherwise: the final answer is kept, the
	// failure gives way.
	later := f.clock.Now()
	kept, err := f.store.RecordOutcomesKept(ctx, []event.Outcome{
		outcome(team, "evt_final", "ct_1", event.ContactOutcome, event.StatusCreated, later),
		outcome(team, "evt_failed", "ct_2", event.ContactOutcome, event.StatusCreated, later)})
	if err != nil {
		t.Fatal(err)
	}
	if kept[0].Reason != event.ReasonNotAdded || kept[1].Status != event.StatusCreated {
		t.Errorf("kept: got %s/%s and %s; want the old skipped/not_added, then the new created", kept[0].Status, kept[0].Reason, kept[1].Status)
	}
	if rawItem(t, f, ledgerdb.ContactPK(team, "ct_1"), ledgerdb.OutcomeSK("evt_final")) != nil {
		t.Errorf("evt_final: a second outcome written beside its final one")
	}
	if rawItem(t, f, ledgerdb.EventPK(team, "evt_failed"), ledgerdb.LegacyOutcomeSK) != nil || rawItem(t, f, ledgerdb.ErrorsPK(team), esk) != nil {
		t.Errorf("evt_failed: its old outcome or error-inbox entry is still there")
	}
	if rawItem(t, f, ledgerdb.ContactPK(team, "ct_2"), ledgerdb.OutcomeSK("evt_failed")) == nil {
		t.Errorf("evt_failed: its new answer is not in ct_2's partition")
	}

	f.clock.Advance(25 * time.Hour)
	f.store.LegacyUntil = f.clock.Now().Add(-time.Second)
	if got, err := f.store.Outcomes(ctx, team, refs("evt_final@ct_1")); err != nil || len(got) != 0 {
		t.Errorf("past LegacyUntil: got %v, %v; want the old place unread", got, err)
	}
}

package privacydb_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/privacy/privacytest"
)

// TestItemsWrittenBeforeThePartition: what the ledger wrote for a contact
// before December 2026 is in the contact index (an outcome in its event's
// own partition, a membership, a record, a logged Task); the erasure finds
// it there, and the records of those memberships' emails saved since (out
// of the index) through them, beside the contact's partition.
func TestItemsWrittenBeforeThePartition(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	const team, contact = "team_before", "ct_old"
	put := func(item map[string]any) {
		t.Helper()
		item["expires_at"] = time.Now().Add(time.Hour).Unix()
		av, err := attributevalue.MarshalMapWithOptions(item, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.ll), Item: av}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().UTC().Add(-time.Hour)
	cpk := ledgerdb.ContactPK(team, contact)
	old := event.Outcome{ID: "out_evt_old", Type: event.ContactOutcome, Version: event.Version, TeamID: team, EventID: "evt_old",
		ContactID: contact, SequenceID: "seq_old", Status: event.StatusPending, Reason: event.ReasonAwaitingReply, At: at}
	put(map[string]any{"pk": ledgerdb.EventPK(team, "evt_old"), "sk": ledgerdb.LegacyOutcomeSK, "cpk": cpk,
		"csk": ledgerdb.OutcomeIndexSK(at, "evt_old"), "outcome": old})
	put(map[string]any{"pk": ledgerdb.MembershipPK(team, "seq_old"), "sk": ledgerdb.MemberSK(contact), "cpk": cpk,
		"csk": ledgerdb.MemberIndexSK("seq_old"), "team_id": team, "sequence_id": "seq_old", "contact_id": contact,
		"email": "old@example.com", "event_id": "evt_old", "status": "synced"})
	put(map[string]any{"pk": ledgerdb.ActivityPK(team, "key_old"), "sk": ledgerdb.ActivitySK, "cpk": cpk,
		"csk": ledgerdb.ActivityIndexSK("key_old"), "event_id": "evt_mail", "task_id": "00T000000000009AAA"})
	put(map[string]any{"pk": ledgerdb.EmailPK(team, "indexed@example.com"), "sk": ledgerdb.RecordSK, "cpk": cpk,
		"csk": ledgerdb.RecordIndexSK("indexed@example.com"), "team_id": team, "email": "indexed@example.com",
		"object": "Lead", "sf_id": "00Q000000000008AAA", "status": "created", "contact_id": contact})
	// Saved since, out of the index: found through the old membership's email.
	if err := s.fixture().ledger.SaveRecord(ctx, ledger.Record{TeamID: team, Email: "old@example.com", Object: event.ObjectLead,
		ID: "00Q000000000009AAA", Status: event.StatusCreated, SyncedAt: at, EventID: "evt_reply", ContactID: contact}); err != nil {
		t.Fatal(err)
	}

	got, err := s.store().ContactItems(ctx, team, contact)
	if err != nil {
		t.Fatal(err)
	}
	want := map[privacy.Kind]int{privacy.KindOutcome: 1, privacy.KindMembership: 1, privacy.KindActivity: 1, privacy.KindRecord: 2}
	if k := privacytest.Kinds(got); !maps.Equal(k, want) {
		t.Errorf("ContactItems kinds: got %v; want %v (%+v)", k, want, got)
	}
}

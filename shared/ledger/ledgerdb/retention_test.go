package ledgerdb_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
)

// rawItem reads an item as stored, consistently; nil when there is none.
func rawItem(t *testing.T, f *fixture, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(f.table), Key: dynamotx.Key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("get %s %s: %v", pk, sk, err)
	}
	return out.Item
}

// expiresAt is an item's TTL attribute: ok is false when it is absent or
// not a number.
func expiresAt(item map[string]types.AttributeValue) (int64, bool) {
	n, ok := item[resources.TTLAttribute].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

// wantExpires checks that the item pk/sk exists and expires at want (Unix
// seconds).
func wantExpires(t *testing.T, f *fixture, kind, pk, sk string, want time.Time) {
	t.Helper()
	item := rawItem(t, f, pk, sk)
	if item == nil {
		t.Errorf("%s (%s / %s): no item", kind, pk, sk)
		return
	}
	got, ok := expiresAt(item)
	switch {
	case !ok:
		t.Errorf("%s (%s / %s): expires_at is %#v; want a number", kind, pk, sk, item[resources.TTLAttribute])
	case got != want.Unix():
		t.Errorf("%s (%s / %s): expires_at %s; want %s", kind, pk, sk,
			time.Unix(got, 0).UTC().Format(time.RFC3339), want.UTC().Format(time.RFC3339))
	}
}

// TestEveryPersonalItemExpires writes one item of every kind of the ledger
// table that holds a contact's data (MEMBER, RECORD saved and followed,
// RECORD claim, OUTCOME, ERRORS entry, FAILURES, ACTIVITY, HELD list entry,
// HELD event), each through the store that owns it, and reads each back
// raw: each carries expires_at, the table's TTL attribute, at the lifetime
// docs/tables.md gives it, counted from its last write on the stores'
// clock. A scan of the table then finds no item without one but the
// team's cached Task fields. BOUNCE and OPTOUT are lifecycledb's, tested
// there.
func TestEveryPersonalItemExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	acts := &activitydb.Store{DB: f.db.Client, Table: f.table, Now: f.clock.Now}
	const team = "team_ttl"
	const day = 24 * time.Hour
	month := 30 * day

	// MEMBER: the retention given (the team's), else the default, after
	// the pin; an update counts again from its own time.
	pinned := f.clock.Now()
	own := membership(team, "seq_1", "ct_1", "evt_m1", policy.SyncAsLead)
	own.Retain = month
	def := membership(team, "seq_2", "ct_1", "evt_m2", policy.SyncAsLead)
	res, err := f.store.PinMemberships(ctx, []ledger.Membership{own, def})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("pin: %v %+v", err, res)
	}
	wantExpires(t, f, "MEMBER pinned with a retention", ledgerdb.MembershipPK(team, "seq_1"), ledgerdb.MemberSK("ct_1"), pinned.Add(month))
	wantExpires(t, f, "MEMBER pinned with none", ledgerdb.MembershipPK(team, "seq_2"), ledgerdb.MemberSK("ct_1"), pinned.Add(ledger.DefaultRetention))
	f.clock.Advance(time.Hour)
	set := f.clock.Now()
	upd := own
	upd.Status, upd.Reason = ledger.MemberSynced, ""
	upd.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	if err := f.store.SetMembership(ctx, upd); err != nil {
		t.Fatalf("set: %v", err)
	}
	wantExpires(t, f, "MEMBER set", ledgerdb.MembershipPK(team, "seq_1"), ledgerdb.MemberSK("ct_1"), set.Add(month))
	if got := rawItem(t, f, ledgerdb.MembershipPK(team, "seq_1"), ledgerdb.MemberSK("ct_1")); got["cpk"] != nil || got["csk"] != nil {
		t.Errorf("MEMBER: in the contact index (%v %v); want out of it (found through its contact outcomes)", got["cpk"], got["csk"])
	}

	// RECORD, a claim only: a day after the claim ends.
	until := f.clock.Now().Add(time.Minute)
	if errs, err := f.store.ClaimAll(ctx, team, []string{"claimed@example.com"}, "w1", until); err != nil || errs[0] != nil {
		t.Fatalf("claim: %v %v", err, errs)
	}
	wantExpires(t, f, "RECORD claim", ledgerdb.EmailPK(team, "claimed@example.com"), ledgerdb.RecordSK, until.Add(ledgerdb.ClaimExpiry))

	// RECORD saved: its retention after the save; followed, after the
	// follow, with the retention it was saved with.
	saved := f.clock.Now()
	recOwn := record(team, "own@example.com", "evt_r1", "ct_1", "00Q000000000011AAA")
	recOwn.Retain = month
	recDef := record(team, "def@example.com", "evt_r2", "ct_1", "00Q000000000012AAA")
	if errs, err := f.store.SaveRecords(ctx, []ledger.Record{recOwn, recDef}); err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatalf("save: %v %v", err, errs)
	}
	wantExpires(t, f, "RECORD saved with a retention", ledgerdb.EmailPK(team, "own@example.com"), ledgerdb.RecordSK, saved.Add(month))
	wantExpires(t, f, "RECORD saved with none", ledgerdb.EmailPK(team, "def@example.com"), ledgerdb.RecordSK, saved.Add(ledger.DefaultRetention))
	f.clock.Advance(time.Hour)
	for _, r := range []ledger.Record{recOwn, recDef} {
		if _, err := f.store.FollowRecord(ctx, team, r.Email, r.ID, event.SalesforceRef{Object: event.ObjectContact, ID: "003" + r.ID[3:]}); err != nil {
			t.Fatalf("follow %s: %v", r.Email, err)
		}
	}
	// A follow keeps the expiry: the outcome and membership the record is
	// found through are kept as long as it was saved for, not longer.
	wantExpires(t, f, "RECORD followed, with a retention", ledgerdb.EmailPK(team, "own@example.com"), ledgerdb.RecordSK, saved.Add(month))
	wantExpires(t, f, "RECORD followed, with none", ledgerdb.EmailPK(team, "def@example.com"), ledgerdb.RecordSK, saved.Add(ledger.DefaultRetention))

	// OUTCOME: a contact outcome as long as the retention given (here the
	// default), since the membership its event pinned is found through it;
	// ERRORS entry and FAILURES: 90 days after the write; the FAILURES
	// item again after the success that empties it.
	failedAt := f.clock.Now()
	failed := outcome(team, "evt_f1", "ct_1", event.ContactOutcome, event.StatusFailed, failedAt)
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{failed}, ledger.Retaining(ledger.DefaultRetention)); err != nil {
		t.Fatalf("record failure: %v", err)
	}
	esk := ledgerdb.ErrorSK(failed.Error.Code, "ct_1", "evt_f1")
	wantExpires(t, f, "OUTCOME", ledgerdb.ContactPK(team, "ct_1"), ledgerdb.OutcomeSK("evt_f1"), failedAt.Add(ledger.DefaultRetention))
	wantExpires(t, f, "ERRORS entry", ledgerdb.ErrorsPK(team), esk, failedAt.Add(ledgerdb.OutcomeTTL))
	wantExpires(t, f, "FAILURES after ADD", ledgerdb.ContactPK(team, "ct_1"), ledgerdb.FailuresSK, failedAt.Add(ledgerdb.OutcomeTTL))
	f.clock.Advance(time.Hour)
	settledAt := f.clock.Now()
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{outcome(team, "evt_f2", "ct_1", event.ContactOutcome, event.StatusCreated, settledAt)}); err != nil {
		t.Fatalf("record success: %v", err)
	}
	if rawItem(t, f, ledgerdb.ErrorsPK(team), esk) != nil {
		t.Errorf("ERRORS entry: still there after the success settled it")
	}
	wantExpires(t, f, "FAILURES after DELETE", ledgerdb.ContactPK(team, "ct_1"), ledgerdb.FailuresSK, settledAt.Add(ledgerdb.OutcomeTTL))

	// ACTIVITY: 90 days after its last write (the claim, then the Task).
	f.clock.Advance(time.Hour)
	claimed := f.clock.Now()
	res2, err := acts.ClaimAll(ctx, team, []activitysync.ClaimRequest{{Key: "ab01", EventID: "evt_a1"}}, "w1", claimed.Add(time.Minute))
	if err != nil || res2[0].Err != nil {
		t.Fatalf("claim activity: %v %+v", err, res2)
	}
	wantExpires(t, f, "ACTIVITY claimed", ledgerdb.ActivityPK(team, "ab01"), ledgerdb.ActivitySK, claimed.Add(activitydb.ActivityTTL))
	f.clock.Advance(time.Second)
	logged := f.clock.Now()
	if errs, err := acts.DoneAll(ctx, team, "w1", []activitysync.LoggedTask{{Key: "ab01", TaskID: "00T000000000001AAA"}}); err != nil || errs[0] != nil {
		t.Fatalf("done: %v %v", err, errs)
	}
	wantExpires(t, f, "ACTIVITY logged", ledgerdb.ActivityPK(team, "ab01"), ledgerdb.ActivitySK, logged.Add(activitydb.ActivityTTL))

	// HELD list entry and HELD event: 400 days after the hold.
	held := f.clock.Now()
	k := ledger.MemberKey{SequenceID: "seq_1", ContactID: "ct_1"}
	at := held.Add(-time.Minute)
	ev := event.Event{ID: "evt_h1", Type: event.EmailSent, Version: 1, TeamID: team, OccurredAt: at,
		Data: event.EmailData{Sequence: event.Sequence{ID: "seq_1"}, Contact: event.ContactRef{ID: "ct_1", Email: "ct_1@example.com"},
			Message: event.Message{ID: "m_1", Subject: "Hi", Step: 1, SentAt: at}}}
	if err := acts.Hold(ctx, team, k, ev, 0); err != nil {
		t.Fatalf("hold: %v", err)
	}
	wantExpires(t, f, "HELD list entry", ledgerdb.HeldListPK(team), ledgerdb.HeldListSK(k), held.Add(ledger.DefaultRetention+activitysync.HeldMargin))
	wantExpires(t, f, "HELD event", ledgerdb.HeldPK(team, k), ledgerdb.HeldEventSK(ev.OccurredAt, ev.ID), held.Add(ledger.DefaultRetention+activitysync.HeldMargin))

	// Nothing else the stores wrote lives for ever.
	if err := acts.SaveTaskFields(ctx, team, activitysync.TaskFields{KeyField: "Key__c"}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	p := dynamodb.NewScanPaginator(f.db.Client, &dynamodb.ScanInput{TableName: aws.String(f.table), ConsistentRead: aws.Bool(true)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, it := range page.Items {
			n++
			pk, sk := dynamotx.String(it, resources.PartitionKey), dynamotx.String(it, resources.SortKey)
			if pk == ledgerdb.TaskFieldsPK(team) && sk == ledgerdb.TaskFieldsSK {
				continue // the org's Task fields: no contact's data
			}
			if _, ok := expiresAt(it); !ok {
				t.Errorf("item %s / %s has no expires_at", pk, sk)
			}
		}
	}
	if n < 12 {
		t.Errorf("scan: got %d items; want every item written above", n)
	}
}

// TestContactPartitionHoldsWhatAnErasureFinds: what the stores write for
// a contact since December 2026 stays out of the contact index (an index
// entry costs a write unit more per item). The contact's partition holds
// its outcomes; its memberships are found through the sequences its
// contact outcomes name, its records through their emails. The contact
// view shows both, and the items written before, which the index holds.
func TestContactPartitionHoldsWhatAnErasureFinds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	acts := &activitydb.Store{DB: f.db.Client, Table: f.table, Now: f.clock.Now}
	const team = "team_ix"
	for _, seq := range []string{"seq_1", "seq_2"} {
		if _, err := f.store.PinMembership(ctx, membership(team, seq, "ct_1", "evt_"+seq, policy.SyncAsLead)); err != nil {
			t.Fatal(err)
		}
	}
	// Another contact's membership and record stay out of ct_1's view.
	if _, err := f.store.PinMembership(ctx, membership(team, "seq_1", "ct_2", "evt_other", policy.SyncAsLead)); err != nil {
		t.Fatal(err)
	}
	rec := record(team, "ct_1@example.com", "evt_r", "ct_1", "00Q000000000001AAA")
	other := record(team, "ct_2@example.com", "evt_r2", "ct_2", "00Q000000000002AAA")
	for _, r := range []ledger.Record{rec, other} {
		if err := f.store.SaveRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	o := outcome(team, "evt_o", "ct_1", event.ContactOutcome, event.StatusCreated, f.clock.Now()) // names seq_1
	task := outcome(team, "evt_t", "ct_1", event.ActivityOutcome, event.StatusCreated, f.clock.Now().Add(time.Second))
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{o, task}, ledger.WithActivities(map[string]string{"evt_t": "ab01"})); err != nil {
		t.Fatal(err)
	}
	if _, err := acts.ClaimAll(ctx, team, []activitysync.ClaimRequest{{Key: "ab01", EventID: "evt_t"}}, "w1", f.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if errs, err := acts.DoneAll(ctx, team, "w1", []activitysync.LoggedTask{{Key: "ab01", TaskID: "00T000000000001AAA"}}); err != nil || errs[0] != nil {
		t.Fatalf("done: %v %v", err, errs)
	}

	// indexed lists ct_1's entries of the contact index.
	indexed := func() []string {
		t.Helper()
		ix := resources.ContactIndex
		expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(ix.PartitionKey).Equal(expression.Value(ledgerdb.ContactPK(team, "ct_1")))).Build()
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.db.Client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(f.table), IndexName: aws.String(ix.Name),
			KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
		if err != nil {
			t.Fatalf("query the index: %v", err)
		}
		var keys []string
		for _, it := range out.Items {
			keys = append(keys, dynamotx.String(it, resources.PartitionKey)+" / "+dynamotx.String(it, resources.SortKey))
		}
		return keys
	}
	if got := indexed(); len(got) != 0 {
		t.Errorf("contact index of ct_1: got %q; want nothing", got)
	}
	if it := rawItem(t, f, ledgerdb.ContactPK(team, "ct_1"), ledgerdb.OutcomeSK("evt_t")); dynamotx.String(it, "activity") != "ab01" {
		t.Errorf("evt_t's outcome: got %v; want it in ct_1's partition with its activity key", it)
	}

	view, err := f.store.Contact(ctx, team, "ct_1", ledgerdb.MaxOutcomesPage)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Records) != 1 || view.Records[0].Email != rec.Email || view.Records[0].ID != rec.ID {
		t.Errorf("contact view records: got %+v; want only %s", view.Records, rec.Email)
	}
	if len(view.Outcomes) != 2 || view.Outcomes[0].EventID != "evt_t" || view.Outcomes[1].EventID != "evt_o" || view.More {
		t.Errorf("contact view outcomes: got %+v (more %v); want evt_t, then evt_o", view.Outcomes, view.More)
	}

	// A record no membership of ct_1 names (the add retried long after its
	// pin, the membership gone): found through the outcome naming it.
	gone := record(team, "gone@example.com", "evt_g", "ct_1", "00Q000000000003AAA")
	if err := f.store.SaveRecord(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordOutcomes(ctx, []event.Outcome{outcome(team, "evt_g", "ct_1", event.ContactOutcome, event.StatusCreated, f.clock.Now().Add(-time.Minute))},
		ledger.WithEmails(map[string]string{"evt_g": "gone@example.com"})); err != nil {
		t.Fatal(err)
	}
	view, err = f.store.Contact(ctx, team, "ct_1", ledgerdb.MaxOutcomesPage)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Records) != 2 || view.Records[1].Email != "gone@example.com" {
		t.Errorf("contact view records with one named by an outcome: got %+v; want ct_1@ and gone@", view.Records)
	}

	// Items written before December 2026: an outcome in its event's own
	// partition and a record, both in the contact index. The view shows
	// them beside the others, newest first.
	legacyAt := f.clock.Now().Add(-time.Hour)
	legacy := outcome(team, "evt_old", "ct_1", event.ContactOutcome, event.StatusLinked, legacyAt)
	putLegacy(t, f, map[string]any{"pk": ledgerdb.EventPK(team, "evt_old"), "sk": ledgerdb.LegacyOutcomeSK,
		"cpk": ledgerdb.ContactPK(team, "ct_1"), "csk": ledgerdb.OutcomeIndexSK(legacyAt, "evt_old"), "outcome": legacy,
		"expires_at": f.clock.Now().Add(time.Hour).Unix()})
	putLegacy(t, f, map[string]any{"pk": ledgerdb.EmailPK(team, "old@example.com"), "sk": ledgerdb.RecordSK,
		"cpk": ledgerdb.ContactPK(team, "ct_1"), "csk": ledgerdb.RecordIndexSK("old@example.com"), "team_id": team,
		"email": "old@example.com", "object": "Contact", "sf_id": "003000000000009AAA", "status": "linked", "contact_id": "ct_1",
		"expires_at": f.clock.Now().Add(time.Hour).Unix()})
	view, err = f.store.Contact(ctx, team, "ct_1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Records) != 3 || view.Records[0].Email != "ct_1@example.com" || view.Records[2].Email != "old@example.com" {
		t.Errorf("contact view records with a legacy one: got %+v; want ct_1@, gone@ and old@", view.Records)
	}
	if len(view.Outcomes) != 2 || !view.More {
		t.Errorf("contact view, 2 outcomes: got %+v (more %v); want 2 and more", view.Outcomes, view.More)
	}
	view, err = f.store.Contact(ctx, team, "ct_1", 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Outcomes) != 4 || view.Outcomes[3].EventID != "evt_old" || view.More {
		t.Errorf("contact view with a legacy outcome: got %+v (more %v); want evt_old last", view.Outcomes, view.More)
	}
}

// putLegacy writes an item as a release before December 2026 did.
func putLegacy(t *testing.T, f *fixture, item map[string]any) {
	t.Helper()
	av, err := attributevalue.MarshalMapWithOptions(item, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: av}); err != nil {
		t.Fatal(err)
	}
}

package activitydb_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// TestEveryPersonalItemExpires writes every kind of item activitydb keeps
// about a contact (ACTIVITY claimed, taken over, abandoned and logged; HELD
// list entry; HELD event) and reads each back raw: each carries expires_at,
// the table's TTL attribute, counted from its last write on the store's
// clock (ActivityTTL, 90 days; held activity, the team's retention and
// HeldMargin). A Task logged for a
// contact is in the contact index under it. A scan then finds no item
// without expires_at but the team's cached Task fields.
func TestEveryPersonalItemExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t)
	if activitydb.ActivityTTL != ledgerdb.OutcomeTTL {
		t.Errorf("TTL: activity %s; want the outcomes' %s", activitydb.ActivityTTL, ledgerdb.OutcomeTTL)
	}
	heldTTL := ledger.DefaultRetention + activitysync.HeldMargin
	const team = "t_ttl"
	raw := func(pk, sk string) map[string]types.AttributeValue {
		t.Helper()
		out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: dynamotx.Key(pk, sk), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatalf("get %s %s: %v", pk, sk, err)
		}
		return out.Item
	}
	want := func(kind, pk, sk string, at time.Time) map[string]types.AttributeValue {
		t.Helper()
		item := raw(pk, sk)
		if item == nil {
			t.Errorf("%s (%s / %s): no item", kind, pk, sk)
			return nil
		}
		n, ok := item[resources.TTLAttribute].(*types.AttributeValueMemberN)
		if !ok {
			t.Errorf("%s (%s / %s): expires_at is %#v; want a number", kind, pk, sk, item[resources.TTLAttribute])
			return item
		}
		if got, _ := strconv.ParseInt(n.Value, 10, 64); got != at.Unix() {
			t.Errorf("%s (%s / %s): expires_at %s; want %s", kind, pk, sk, time.Unix(got, 0).UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		}
		return item
	}
	pk := ledgerdb.ActivityPK(team, "k1")

	claimed := clk.Now()
	if _, err := claim(s, team, "k1", "evt_1", "w1", claimed.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	want("ACTIVITY claimed", pk, ledgerdb.ActivitySK, claimed.Add(activitydb.ActivityTTL))

	clk.Advance(time.Hour) // the claim lapsed: another owner takes it over
	taken := clk.Now()
	if c, err := claim(s, team, "k1", "evt_1", "w2", taken.Add(time.Minute)); err != nil || !c.Attempted {
		t.Fatalf("take over: %+v, %v", c, err)
	}
	want("ACTIVITY taken over", pk, ledgerdb.ActivitySK, taken.Add(activitydb.ActivityTTL))

	clk.Advance(time.Second)
	abandoned := clk.Now()
	if err := s.AbandonAll(ctx, team, "w2", []string{"k1"}); err != nil {
		t.Fatal(err)
	}
	want("ACTIVITY abandoned", pk, ledgerdb.ActivitySK, abandoned.Add(activitydb.ActivityTTL))

	clk.Advance(time.Second)
	if _, err := claim(s, team, "k1", "evt_1", "w3", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	logged := clk.Now()
	if errs, err := s.DoneAll(ctx, team, "w3", []activitysync.LoggedTask{{Key: "k1", TaskID: "00T000000000001"}}); err != nil || errs[0] != nil {
		t.Fatalf("done: %v %v", err, errs)
	}
	// Out of the contact index: an erasure finds it through its event's
	// outcome (ledger.WithActivities), and an index entry would cost a
	// write unit more.
	if item := want("ACTIVITY logged", pk, ledgerdb.ActivitySK, logged.Add(activitydb.ActivityTTL)); item["cpk"] != nil || item["csk"] != nil {
		t.Errorf("ACTIVITY logged: in the contact index (%v %v); want out of it", item["cpk"], item["csk"])
	}
	if errs, err := s.DoneAll(ctx, team, "w1", []activitysync.LoggedTask{{Key: "k#2", TaskID: "00T000000000002"}}); err != nil || errs[0] == nil {
		t.Errorf("done with a bad key: got %v, %v; want its own error", errs, err)
	}

	// HELD: the retention (here the default, 400 days) and the margin
	// after the hold; the list entry again at each hold; a team's own
	// retention counts.
	k := ledger.MemberKey{SequenceID: "s1", ContactID: "c1"}
	held := clk.Now()
	e1 := heldEvent("e1", held.Add(-time.Minute))
	e1.TeamID = team
	if err := s.Hold(ctx, team, k, e1, 0); err != nil {
		t.Fatal(err)
	}
	want("HELD event", ledgerdb.HeldPK(team, k), ledgerdb.HeldEventSK(e1.OccurredAt, e1.ID), held.Add(heldTTL))
	want("HELD list entry", ledgerdb.HeldListPK(team), ledgerdb.HeldListSK(k), held.Add(heldTTL))
	clk.Advance(time.Hour)
	again := clk.Now()
	e2 := heldEvent("e2", again.Add(-time.Minute))
	e2.TeamID = team
	if err := s.Hold(ctx, team, k, e2, 0); err != nil {
		t.Fatal(err)
	}
	want("HELD list entry, held again", ledgerdb.HeldListPK(team), ledgerdb.HeldListSK(k), again.Add(heldTTL))
	want("HELD event, the first", ledgerdb.HeldPK(team, k), ledgerdb.HeldEventSK(e1.OccurredAt, e1.ID), held.Add(heldTTL))
	e3 := heldEvent("e3", again.Add(-time.Second))
	e3.TeamID = team
	if err := s.Hold(ctx, team, k, e3, 500*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	want("HELD event, a team keeping 500 days", ledgerdb.HeldPK(team, k), ledgerdb.HeldEventSK(e3.OccurredAt, e3.ID), again.Add(500*24*time.Hour+activitysync.HeldMargin))

	if err := s.SaveTaskFields(ctx, team, activitysync.TaskFields{KeyField: "Key__c"}, clk.Now()); err != nil {
		t.Fatal(err)
	}
	p := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(awsCfg), &dynamodb.ScanInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, it := range page.Items {
			n++
			ipk, isk := dynamotx.String(it, resources.PartitionKey), dynamotx.String(it, resources.SortKey)
			if ipk == ledgerdb.TaskFieldsPK(team) && isk == ledgerdb.TaskFieldsSK {
				continue // the org's Task fields: no contact's data
			}
			if _, ok := it[resources.TTLAttribute].(*types.AttributeValueMemberN); !ok {
				t.Errorf("item %s / %s has no expires_at", ipk, isk)
			}
		}
	}
	if n != 6 {
		t.Errorf("scan: got %d items; want the 6 written (an activity, 3 held events, the held list entry, the Task fields)", n)
	}
}

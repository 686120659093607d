package privacydb_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/privacy/privacydb"
	"github.com/sfsync/sfsync/shared/privacy/privacytest"
	"github.com/sfsync/sfsync/shared/resources"
)

// put writes an item of pk and sk, with a team_id when team is not "".
func (s stack) put(t *testing.T, table, pk, sk, team string) {
	t.Helper()
	item := dynamotx.Key(pk, sk)
	if team != "" {
		item["team_id"] = &types.AttributeValueMemberS{Value: team}
	}
	if _, err := s.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// seedTeam gives team items in the three tables, as the stores write
// them: its connection, a pending connect and its consent, request-limit
// windows and a cooldown; settings and an override; a person in the
// ledger and a receipt.
func (s stack) seedTeam(t *testing.T, team string) {
	t.Helper()
	s.put(t, s.connections, "TEAM#"+team, "CONNECTION", "")
	s.put(t, s.connections, "STATE#state-of-"+team, "STATE", team)
	s.put(t, s.connections, "TEAM#"+team, "CONSENT#state-of-"+team, team)
	s.put(t, s.connections, "CONSENTS#2026120710", "1765101600000#state-of-"+team, team)
	s.put(t, s.connections, "LIMIT#"+team+"#all", "WINDOW#1765101600", "")
	s.put(t, s.connections, "COOLDOWN#"+team+"#retry#abc", "COOLDOWN", "")
	s.put(t, s.policies, "TEAM#"+team, "SETTINGS#HEAD", "")
	s.put(t, s.policies, "TEAM#"+team, "SETTINGS#v0000000001", "")
	s.put(t, s.policies, "TEAM#"+team+"#SEQ#seq_1", "OVERRIDE#HEAD", "")
	privacytest.Seed(t, s.fixture(), team, privacytest.Person{Contact: "ct_1", Email: "p@example.com", ClaimedEmail: "q@example.com",
		LeadID: "00Q000000000001AAA", TaskID: "00T000000000001AAA"})
	if err := (&privacydb.Receipts{DB: s.db, Table: s.ll}).Save(context.Background(), privacytest.SampleReceipt(team)); err != nil {
		t.Fatal(err)
	}
}

// items returns every item's key of table, as "pk / sk".
func (s stack) items(t *testing.T, table string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		page, err := s.db.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			out[dynamotx.String(it, resources.PartitionKey)+" / "+dynamotx.String(it, resources.SortKey)] = true
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// ofTeam are the keys of team's among keys: pk TEAM#<team> or
// TEAM#<team>#…, and in the connections table the pending connect and
// consent index entry seeded for it.
func ofTeam(keys map[string]bool, team string) map[string]bool {
	out := map[string]bool{}
	for k := range keys {
		pk, sk, _ := strings.Cut(k, " / ")
		if pk == "TEAM#"+team || strings.HasPrefix(pk, "TEAM#"+team+"#") || pk == "STATE#state-of-"+team ||
			(strings.HasPrefix(pk, "CONSENTS#") && strings.HasSuffix(sk, "#state-of-"+team)) {
			out[k] = true
		}
	}
	return out
}

// TestPurgeDeletesOneTeamOnly: two teams whose ids share a prefix have
// items in every table; a purge of one, in calls bounded to one small
// scan page each, deletes each of its items once and answers complete
// only at the end; the other team's items and the purged team's request
// limits stay.
func TestPurgeDeletesOneTeamOnly(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const team, near = "team_p", "team_p_x"
	s.seedTeam(t, team)
	s.seedTeam(t, near)
	tables := map[string]string{"connections": s.connections, "policies": s.policies, "ledger": s.ll}
	before, want := map[string]map[string]bool{}, map[string]int{}
	for name, table := range tables {
		before[name] = s.items(t, table)
		want[name] = len(ofTeam(before[name], team))
		if want[name] == 0 || len(ofTeam(before[name], near)) != want[name] {
			t.Fatalf("seed of %s: got %d items of %s, %d of %s; want the same, not 0", name, want[name], team, len(ofTeam(before[name], near)), near)
		}
	}
	p := &privacydb.Purger{DB: s.db, Cursors: s.connections, PageSize: 7, MaxPages: 1, Backoff: time.Millisecond,
		Tables: []privacydb.Table{{Name: "connections", Table: s.connections}, {Name: "policies", Table: s.policies}, {Name: "ledger", Table: s.ll}}}
	got := map[string]int{}
	calls := 0
	for {
		calls++
		if calls > 200 {
			t.Fatal("purge: not complete after 200 calls")
		}
		res, err := p.Purge(context.Background(), team)
		if err != nil {
			t.Fatalf("purge call %d: %v", calls, err)
		}
		for name, n := range res.Deleted {
			got[name] += n
		}
		if len(res.Deleted) != 3 {
			t.Errorf("purge call %d: got counts %v; want one per table", calls, res.Deleted)
		}
		if res.Complete {
			break
		}
	}
	if calls < 3 {
		t.Errorf("purge calls: got %d; want several, each bounded to a page", calls)
	}
	if !maps.Equal(got, want) {
		t.Errorf("deleted: got %v; want %v", got, want)
	}
	for name, table := range tables {
		after := s.items(t, table)
		if left := ofTeam(after, team); len(left) != 0 {
			t.Errorf("%s: got %v of %s left; want none", name, left, team)
		}
		for k := range before[name] {
			if !ofTeam(before[name], team)[k] && !after[k] {
				t.Errorf("%s: got %s deleted; want it kept (not %s's)", name, k, team)
			}
		}
	}
	conns := s.items(t, s.connections)
	for _, k := range []string{"LIMIT#" + team + "#all / WINDOW#1765101600", "COOLDOWN#" + team + "#retry#abc / COOLDOWN"} {
		if !conns[k] {
			t.Errorf("connections: got %s deleted; want request limits kept", k)
		}
	}
	if conns[privacydb.PurgeCursorPK(team)+" / "+privacydb.PurgeCursorSK] {
		t.Errorf("connections: got the purge position kept after the purge completed; want it deleted")
	}

	// Unbounded, a purge of a team with nothing left completes at once.
	p.PageSize, p.MaxPages = 0, 0
	res, err := p.Purge(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Deleted) != "map[connections:0 ledger:0 policies:0]" || !res.Complete {
		t.Errorf("purge again: got %+v; want nothing deleted, complete", res)
	}
}

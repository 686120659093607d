package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func closeCapacity(a, b Capacity) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	return near(a.Read, b.Read) && near(a.Write, b.Write) && near(a.IndexWrite, b.IndexWrite)
}

// TestCapacityByKind follows a contact's items through the meter and
// checks where each unit is charged.
func TestCapacityByKind(t *testing.T) {
	const ledger = "bench-ledger"
	m := newCapacityMeter()
	m.setTables(map[string]string{"ledger": ledger})
	email := "TEAM#t1#EMAIL#person@example.com"
	claimItem := item{"pk": s(email), "sk": s("RECORD"), "claim_owner": s("w1"), "claim_until": n("1767366245000")}
	recordItem := item{"pk": s(email), "sk": s("RECORD"), "sf_id": s("00Q000000000001"), "object": s("Lead"),
		"cpk": s("TEAM#t1#CONTACT#ct1"), "csk": s("RECORD#person@example.com")}
	member := item{"pk": s("TEAM#t1#SEQ#seq1"), "sk": s("MEMBER#ct1"), "status": s("syncing"),
		"cpk": s("TEAM#t1#CONTACT#ct1"), "csk": s("MEMBER#seq1")}
	outcome := item{"pk": s("TEAM#t1#EVENT#evt1"), "sk": s("OUTCOME"), "outcome": s("{}"),
		"cpk": s("TEAM#t1#CONTACT#ct1"), "csk": s("OUTCOME#2026#evt1")}

	total := kindUsage{}
	var sum Capacity
	do := func(op string, req, resp any, status int) {
		t.Helper()
		body := []byte("{}")
		if resp != nil {
			body = js(t, resp)
		}
		c, u := m.observeKinds(op, js(t, req), body, status)
		sum = sum.add(c)
		total.addAll(u)
	}
	do("PutItem", map[string]any{"TableName": ledger, "Item": member}, nil, 200)
	do("PutItem", map[string]any{"TableName": ledger, "Item": claimItem}, nil, 200)
	// A second worker's claim, refused.
	do("PutItem", map[string]any{"TableName": ledger, "Item": claimItem},
		map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}, 400)
	do("TransactWriteItems", map[string]any{"TransactItems": []any{
		map[string]any{"Put": map[string]any{"TableName": ledger, "Item": recordItem}},
		map[string]any{"Update": map[string]any{"TableName": ledger, "Key": key2(member),
			"UpdateExpression": "SET #0 = :0", "ExpressionAttributeNames": map[string]string{"#0": "status"},
			"ExpressionAttributeValues": map[string]attrValue{":0": s("synced")}}},
		map[string]any{"Put": map[string]any{"TableName": ledger, "Item": outcome}},
	}}, nil, 200)
	// The contact's items through the index: three kinds in one Query.
	do("Query", map[string]any{"TableName": ledger, "IndexName": "by_contact",
		"ExpressionAttributeValues": map[string]attrValue{":0": s("TEAM#t1#CONTACT#ct1")}},
		map[string]any{"Items": []item{recordItem, member, outcome}, "Count": 3, "ScannedCount": 3}, 200)
	// A count of the sequence's memberships: no items come back.
	do("Query", map[string]any{"TableName": ledger, "Select": "COUNT",
		"ExpressionAttributeValues": map[string]attrValue{":0": s("TEAM#t1#SEQ#seq1"), ":1": s("MEMBER#")}},
		map[string]any{"Count": 1, "ScannedCount": 1}, 200)
	do("BatchGetItem", map[string]any{"RequestItems": map[string]any{ledger: map[string]any{
		"Keys": []item{key2(recordItem), {"pk": s("TEAM#t1#EMAIL#other@example.com"), "sk": s("OPTOUT")}}}}},
		map[string]any{"Responses": map[string]any{ledger: []item{recordItem}}}, 200)

	var got Capacity
	for _, u := range total {
		got = got.add(u.Capacity)
	}
	if !closeCapacity(got, sum) {
		t.Errorf("by kind sums to %+v, the requests to %+v", got, sum)
	}
	want := map[kindKey]kindUse{
		{Kind: "member", Op: "PutItem"}:                              {Capacity: Capacity{Write: 1, IndexWrite: 1}, Items: 1, Requests: 1},
		{Kind: "claim", Op: "PutItem"}:                               {Capacity: Capacity{Write: 1}, Items: 1, Requests: 1},
		{Kind: "claim", Op: "PutItem", Refused: true}:                {Capacity: Capacity{Write: 1}, Items: 1, Requests: 1},
		{Kind: "record", Op: "TransactWriteItems.Put", Txn: true}:    {Capacity: Capacity{Write: 2, IndexWrite: 1}, Items: 1, Requests: 1},
		{Kind: "member", Op: "TransactWriteItems.Update", Txn: true}: {Capacity: Capacity{Write: 2, IndexWrite: 1}, Items: 1, Requests: 1},
		{Kind: "outcome", Op: "TransactWriteItems.Put", Txn: true}:   {Capacity: Capacity{Write: 2, IndexWrite: 1}, Items: 1, Requests: 1},
		{Kind: "member", Op: "Query"}:                                {Capacity: Capacity{Read: 0.5}, Items: 1, Requests: 1},
		{Kind: "record", Op: "BatchGetItem"}:                         {Capacity: Capacity{Read: 0.5}, Items: 1, Requests: 1},
		{Kind: "optout", Op: "BatchGetItem"}:                         {Capacity: Capacity{Read: 0.5}, Items: 1, Requests: 1},
		{Kind: "record", Op: "Query", Index: "by_contact"}:           {Items: 1, Requests: 1},
		{Kind: "member", Op: "Query", Index: "by_contact"}:           {Items: 1, Requests: 1},
		{Kind: "outcome", Op: "Query", Index: "by_contact"}:          {Items: 1, Requests: 1},
	}
	// The index Query's half unit is shared by size among its three kinds.
	var shared float64
	for _, k := range []string{"record", "member", "outcome"} {
		u := total[kindKey{Kind: k, Op: "Query", Index: "by_contact"}]
		if u.Capacity.Read <= 0 {
			t.Errorf("%s: no share of the index Query", k)
		}
		shared += u.Capacity.Read
		u.Capacity.Read = 0
		total[kindKey{Kind: k, Op: "Query", Index: "by_contact"}] = u
	}
	if math.Abs(shared-0.5) > 1e-9 {
		t.Errorf("the index Query's shares sum to %v, want 0.5", shared)
	}
	if len(total) != len(want) {
		t.Errorf("%d keys, want %d: %+v", len(total), len(want), total)
	}
	for k, w := range want {
		if g := total[k]; g != w {
			t.Errorf("%+v: %+v, want %+v", k, g, w)
		}
	}
}

// key2 is the key of it.
func key2(it item) item { return item{"pk": it["pk"], "sk": it["sk"]} }

func TestKindUsageSinceAndList(t *testing.T) {
	a := kindKey{Kind: "member", Op: "PutItem"}
	b := kindKey{Kind: "claim", Op: "PutItem"}
	before := kindUsage{a: {Capacity: Capacity{Write: 1}, Items: 1, Requests: 1}}
	after := kindUsage{a: {Capacity: Capacity{Write: 1}, Items: 1, Requests: 1}, b: {Capacity: Capacity{Write: 3, IndexWrite: 1}, Items: 2, Requests: 1}}
	d := after.since(before)
	if len(d) != 1 || d[b].Capacity.Write != 3 {
		t.Errorf("since: %+v", d)
	}
	after[a] = after[a].add(kindUse{Capacity: Capacity{Read: 2}, Requests: 1})
	l := after.list()
	if len(l) != 2 || l[0].Kind != "claim" || l[1].ReadUnits != 2 {
		t.Errorf("list: %+v", l)
	}
	c := Counts{CapacityByKind: after}.sub(Counts{CapacityByKind: before})
	if len(c.CapacityByKind) != 2 || c.CapacityByKind[a].Capacity.Read != 2 {
		t.Errorf("Counts.sub: %+v", c.CapacityByKind)
	}
}

func TestPrintKinds(t *testing.T) {
	r := &Run{Events: 2000, CapacityByKind: []KindCapacity{
		{Kind: "member", Op: "TransactWriteItems.Put", Transactional: true, WriteUnits: 4000, IndexWriteUnits: 2000, Items: 2000, Requests: 20},
		{Kind: "claim", Op: "PutItem", WriteUnits: 2000, Items: 2000, Requests: 20},
		{Kind: "record", Op: "BatchGetItem", ReadUnits: 1000, Items: 2000, Requests: 20},
	}}
	var out bytes.Buffer
	printKinds(&out, "Burst:", r)
	got := out.String()
	for _, want := range []string{"write units per 1,000 events, by item: 4,000 (3,000 table + 1,000 index)", "read units per 1,000 events, by item: 500"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Index(got, "member") > strings.Index(got, "claim") {
		t.Errorf("not sorted by size:\n%s", got)
	}
	for v, want := range map[float64]string{0: "0", 0.5: "0.5", 999: "999", 1000: "1,000", 13002: "13,002", 1234567.25: "1,234,567.2"} {
		if g := fmtUnits(v); g != want {
			t.Errorf("fmtUnits(%v) = %q, want %q", v, g, want)
		}
	}
}

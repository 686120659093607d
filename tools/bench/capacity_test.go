package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func s(v string) attrValue { return attrValue{S: &v} }
func n(v string) attrValue { return attrValue{N: &v} }
func boolean(v bool) attrValue {
	return attrValue{BOOL: &v}
}

// sized is an item of exactly size bytes by the documented rules: pk (2
// bytes of name, len(pk) of value), sk "s" (3 bytes) and d, a string
// filling the rest (1 byte of name).
func sized(pk string, size int) item {
	fill := size - (2 + len(pk)) - 3 - 1
	if fill < 0 {
		panic("item too small")
	}
	return item{"pk": s(pk), "sk": s("s"), "d": s(strings.Repeat("x", fill))}
}

func key(pk string) item { return item{"pk": s(pk), "sk": s("s")} }

func js(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestItemSize checks sizes worked out by hand from the rules of
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
func TestItemSize(t *testing.T) {
	null := true
	for _, tc := range []struct {
		name string
		it   item
		want int
	}{
		// pk: 2 + 7; n: 1 + (5 digits -> 3) + 1; ok: 2 + 1; b: 1 + 3 raw
		// bytes; l: 1 + 3 + ("ab" 2 + 1) + ("7" 1 + 1, + 1); m: 1 + 3 +
		// (x: 1 + "yz" 2, + 1); ss: 2 + 1 + 2; nul: 3 + 1.
		{"every type", item{"pk": s("TEAM#t1"), "n": n("123.45"), "ok": boolean(true), "b": {B: []byte("abc")},
			"l": {L: []attrValue{s("ab"), n("7")}}, "m": {M: map[string]attrValue{"x": s("yz")}},
			"ss": {SS: []string{"a", "bc"}}, "nul": {NULL: &null}}, 9 + 5 + 3 + 4 + 10 + 8 + 5 + 4},
		{"UTF-8 bytes, not characters", item{"name": s("Zoë")}, 4 + 4},
		{"leading and trailing zeros trimmed", item{"n": n("0012300")}, 1 + 2 + 1},
		{"a timestamp in seconds", item{"expires_at": n("1700000000")}, 10 + 1 + 1},
		{"a negative fraction", item{"n": n("-0.001")}, 1 + 1 + 1},
		{"an empty map", item{"m": {M: map[string]attrValue{}}}, 1 + 3},
		{"the helper", sized("k", 1500), 1500},
	} {
		if got := itemSize(tc.it); got != tc.want {
			t.Errorf("%s: size %d, want %d", tc.name, got, tc.want)
		}
	}
}

type step struct {
	op     string
	req    any
	resp   any // nil: {}
	status int // 0: 200
}

func TestCapacity(t *testing.T) {
	const ledger = "bench-ledger" // has the by_contact index (cpk, csk)
	condFailed := func(it item) map[string]any {
		return map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "The conditional request failed", "Item": it}
	}
	indexed := func(pk, cpk, csk string, size int) item {
		it := sized(pk, size-(3+len(cpk))-(3+len(csk)))
		it["cpk"], it["csk"] = s(cpk), s(csk)
		return it
	}
	for _, tc := range []struct {
		name  string
		setup []step // run first, their units not counted
		steps []step
		want  Capacity
	}{
		{name: "a 1.5 KB put in a transaction: 2 KB, twice",
			steps: []step{{op: "TransactWriteItems", req: map[string]any{"TransactItems": []any{map[string]any{"Put": map[string]any{"TableName": "t", "Item": sized("a", 1536)}}}}}},
			want:  Capacity{Write: 4}},
		{name: "a 1 KB put outside one",
			steps: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 1024)}}},
			want:  Capacity{Write: 1}},
		{name: "a 5 KB strongly consistent read: 8 KB",
			steps: []step{{op: "GetItem", req: map[string]any{"TableName": "t", "Key": key("a"), "ConsistentRead": true}, resp: map[string]any{"Item": sized("a", 5*1024)}}},
			want:  Capacity{Read: 2}},
		{name: "an eventually consistent 3 KB read: half of 4 KB",
			steps: []step{{op: "GetItem", req: map[string]any{"TableName": "t", "Key": key("a")}, resp: map[string]any{"Item": sized("a", 3*1024)}}},
			want:  Capacity{Read: 0.5}},
		{name: "a read of no item costs as a small one",
			steps: []step{{op: "GetItem", req: map[string]any{"TableName": "t", "Key": key("a"), "ConsistentRead": true}}},
			want:  Capacity{Read: 1}},
		{name: "BatchGetItem of three 1 KB items, strongly consistent: one unit each",
			steps: []step{{op: "BatchGetItem", req: map[string]any{"RequestItems": map[string]any{"t": map[string]any{"Keys": []item{key("a"), key("b"), key("c")}, "ConsistentRead": true}}},
				resp: map[string]any{"Responses": map[string]any{"t": []item{sized("a", 1024), sized("b", 1024), sized("c", 1024)}}}}},
			want: Capacity{Read: 3}},
		{name: "BatchGetItem of 1.5 KB and 6.5 KB: 4 KB + 8 KB, not 8 KB (the guide's example)",
			steps: []step{{op: "BatchGetItem", req: map[string]any{"RequestItems": map[string]any{"t": map[string]any{"Keys": []item{key("a"), key("b")}, "ConsistentRead": true}}},
				resp: map[string]any{"Responses": map[string]any{"t": []item{sized("a", 1536), sized("b", 6656)}}}}},
			want: Capacity{Read: 3}},
		{name: "BatchGetItem: unprocessed keys cost nothing",
			steps: []step{{op: "BatchGetItem", req: map[string]any{"RequestItems": map[string]any{"t": map[string]any{"Keys": []item{key("a"), key("b")}, "ConsistentRead": true}}},
				resp: map[string]any{"Responses": map[string]any{"t": []item{sized("a", 100)}}, "UnprocessedKeys": map[string]any{"t": map[string]any{"Keys": []item{key("b")}}}}}},
			want: Capacity{Read: 1}},
		{name: "BatchGetItem with a projection costs the whole item",
			setup: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 6000)}}},
			steps: []step{{op: "BatchGetItem", req: map[string]any{"RequestItems": map[string]any{"t": map[string]any{"Keys": []item{key("a")}, "ConsistentRead": true, "ProjectionExpression": "#sk"}}},
				resp: map[string]any{"Responses": map[string]any{"t": []item{{"sk": s("s")}}}}}},
			want: Capacity{Read: 2}},
		{name: "a Query counts the items together, rounded once: 4.5 KB eventually consistent",
			steps: []step{{op: "Query", req: map[string]any{"TableName": "t"}, resp: map[string]any{"Items": []item{sized("a", 1536), sized("b", 1536), sized("c", 1536)}, "Count": 3, "ScannedCount": 3}}},
			want:  Capacity{Read: 1}},
		{name: "a Query of a global secondary index is eventually consistent",
			steps: []step{{op: "Query", req: map[string]any{"TableName": "t", "IndexName": "by_contact", "ConsistentRead": false}, resp: map[string]any{"Items": []item{sized("a", 5000)}, "Count": 1, "ScannedCount": 1}}},
			want:  Capacity{Read: 1}},
		{name: "a Query's filter: what it dropped was read too",
			steps: []step{{op: "Query", req: map[string]any{"TableName": "t", "ConsistentRead": true}, resp: map[string]any{"Items": []item{sized("a", 3000)}, "Count": 1, "ScannedCount": 3}}},
			want:  Capacity{Read: 3}},
		{name: "a conditional put that fails costs the 2.5 KB item it found",
			steps: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 100)}, resp: condFailed(sized("a", 2560)), status: 400}},
			want:  Capacity{Write: 3}},
		{name: "a conditional put that fails on no item costs 1",
			steps: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 5000)}, resp: condFailed(nil), status: 400}},
			want:  Capacity{Write: 1}},
		{name: "a put over a larger item costs the larger",
			setup: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 3000)}}},
			steps: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 100)}}},
			want:  Capacity{Write: 3}},
		{name: "an update growing a 0.5 KB item by 1 KB: the item after",
			setup: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 512)}}},
			steps: []step{{op: "UpdateItem", req: map[string]any{"TableName": "t", "Key": key("a"), "UpdateExpression": "SET #0 = :0",
				"ExpressionAttributeNames": map[string]string{"#0": "note"}, "ExpressionAttributeValues": map[string]attrValue{":0": s(strings.Repeat("y", 1020))}}}},
			want: Capacity{Write: 2}},
		{name: "an update shrinking a 2.5 KB item: the item before",
			setup: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 2560)}}},
			steps: []step{{op: "UpdateItem", req: map[string]any{"TableName": "t", "Key": key("a"), "UpdateExpression": "REMOVE #0",
				"ExpressionAttributeNames": map[string]string{"#0": "d"}}}},
			want: Capacity{Write: 3}},
		{name: "an update answered ALL_NEW: the item in the answer",
			steps: []step{{op: "UpdateItem", req: map[string]any{"TableName": "t", "Key": key("a"), "UpdateExpression": "SET #0 = :0", "ReturnValues": "ALL_NEW",
				"ExpressionAttributeNames": map[string]string{"#0": "v"}, "ExpressionAttributeValues": map[string]attrValue{":0": n("1")}},
				resp: map[string]any{"Attributes": sized("a", 4000)}}},
			want: Capacity{Write: 4}},
		{name: "a delete costs the deleted 3 KB item",
			setup: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 3000)}}},
			steps: []step{{op: "DeleteItem", req: map[string]any{"TableName": "t", "Key": key("a")}}},
			want:  Capacity{Write: 3}},
		{name: "BatchWriteItem counts each item, not the unprocessed",
			steps: []step{{op: "BatchWriteItem", req: map[string]any{"RequestItems": map[string]any{"t": []any{
				map[string]any{"PutRequest": map[string]any{"Item": sized("a", 1500)}},
				map[string]any{"PutRequest": map[string]any{"Item": sized("b", 500)}},
				map[string]any{"PutRequest": map[string]any{"Item": sized("c", 500)}}}}},
				resp: map[string]any{"UnprocessedItems": map[string]any{"t": []any{map[string]any{"PutRequest": map[string]any{"Item": sized("c", 500)}}}}}}},
			want: Capacity{Write: 3}},
		{name: "a put into the index: a table write and an index write",
			steps: []step{{op: "PutItem", req: map[string]any{"TableName": ledger, "Item": indexed("a", "CONTACT#1", "MEMBER#s", 1500)}}},
			want:  Capacity{Write: 2, IndexWrite: 2}},
		{name: "an update moving an item's index key: a delete and a put in the index",
			setup: []step{{op: "PutItem", req: map[string]any{"TableName": ledger, "Item": indexed("a", "CONTACT#1", "MEMBER#s", 900)}}},
			steps: []step{{op: "TransactWriteItems", req: map[string]any{"TransactItems": []any{map[string]any{"Update": map[string]any{"TableName": ledger, "Key": key("a"),
				"UpdateExpression": "SET #0 = :0", "ExpressionAttributeNames": map[string]string{"#0": "csk"}, "ExpressionAttributeValues": map[string]attrValue{":0": s("MEMBER#t")}}}}}}},
			want: Capacity{Write: 2, IndexWrite: 2}},
		{name: "a write outside the index costs it nothing",
			steps: []step{{op: "PutItem", req: map[string]any{"TableName": ledger, "Item": sized("a", 900)}}},
			want:  Capacity{Write: 1}},
		{name: "a delete from the index",
			setup: []step{{op: "PutItem", req: map[string]any{"TableName": ledger, "Item": indexed("a", "CONTACT#1", "MEMBER#s", 900)}}},
			steps: []step{{op: "DeleteItem", req: map[string]any{"TableName": ledger, "Key": key("a")}}},
			want:  Capacity{Write: 1, IndexWrite: 1}},
		{name: "a cancelled transaction: each write once, transactionally, on the item it found",
			steps: []step{{op: "TransactWriteItems", status: 400,
				req: map[string]any{"TransactItems": []any{
					map[string]any{"Put": map[string]any{"TableName": "t", "Item": sized("a", 500)}},
					map[string]any{"Put": map[string]any{"TableName": "t", "Item": sized("b", 500)}}}},
				resp: map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
					"CancellationReasons": []any{map[string]any{"Code": "None"}, map[string]any{"Code": "ConditionalCheckFailed", "Item": sized("b", 2000)}}}}},
			want: Capacity{Write: 2 + 4}},
		{name: "a refused request costs nothing",
			steps: []step{{op: "PutItem", req: map[string]any{"TableName": "t", "Item": sized("a", 500)}, status: 400,
				resp: map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#ValidationException"}}},
			want: Capacity{}},
		{name: "TransactGetItems: two units per 4 KB",
			steps: []step{{op: "TransactGetItems", req: map[string]any{"TransactItems": []any{map[string]any{"Get": map[string]any{"TableName": "t", "Key": key("a")}}}},
				resp: map[string]any{"Responses": []any{map[string]any{"Item": sized("a", 5000)}}}}},
			want: Capacity{Read: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newCapacityMeter()
			m.setTables(map[string]string{"ledger": ledger})
			run := func(st step) Capacity {
				status := st.status
				if status == 0 {
					status = 200
				}
				resp := []byte("{}")
				if st.resp != nil {
					resp = js(t, st.resp)
				}
				c, kinds := m.observeKinds(st.op, js(t, st.req), resp, status)
				// Every unit is attributed to some kind, none twice.
				var sum Capacity
				for _, u := range kinds {
					sum = sum.add(u.Capacity)
				}
				if !closeCapacity(sum, c) {
					t.Errorf("%s: by kind %+v sums to %+v, not %+v", st.op, kinds, sum, c)
				}
				return c
			}
			for _, st := range tc.setup {
				run(st)
			}
			var got Capacity
			for _, st := range tc.steps {
				got = got.add(run(st))
			}
			if got != tc.want {
				t.Errorf("capacity %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestApplyUpdate(t *testing.T) {
	base := &shadowItem{attrs: map[string]int{"pk": 2 + 3, "sk": 2 + 3, "status": 6 + 4, "n": 1 + 2}, keys: map[string]string{}}
	for _, tc := range []struct {
		name     string
		expr     string
		names    map[string]string
		values   map[string]attrValue
		want     map[string]int
		wantKeys map[string]string
	}{
		{"the expression builder's SET and REMOVE", "SET #0 = :0, #1 = :1\nREMOVE #2",
			map[string]string{"#0": "status", "#1": "cpk", "#2": "n"}, map[string]attrValue{":0": s("synced"), ":1": s("CONTACT#1")},
			map[string]int{"pk": 5, "sk": 5, "status": 6 + 6, "cpk": 3 + 9}, map[string]string{"cpk": "CONTACT#1"}},
		{"ADD a number, then SET", "ADD #n :one SET #last = :token",
			map[string]string{"#n": "n", "#last": "last"}, map[string]attrValue{":one": n("1"), ":token": s("abc")},
			map[string]int{"pk": 5, "sk": 5, "status": 10, "n": 1 + 2, "last": 4 + 3}, map[string]string{}},
		{"if_not_exists keeps what is there", "set #s = if_not_exists(#s, :v), #t = if_not_exists(#t, :v)",
			map[string]string{"#s": "status", "#t": "t"}, map[string]attrValue{":v": s("0123456789")},
			map[string]int{"pk": 5, "sk": 5, "status": 10, "n": 3, "t": 1 + 10}, map[string]string{}},
		{"a nested path adds to its attribute", "SET #m.#k = :v",
			map[string]string{"#m": "status", "#k": "x"}, map[string]attrValue{":v": s("ab")},
			map[string]int{"pk": 5, "sk": 5, "status": 10 + 2 + 1, "n": 3}, map[string]string{}},
		{"ADD to a set, DELETE from another", "ADD tags :a DELETE #s :b",
			map[string]string{"#s": "status"}, map[string]attrValue{":a": {SS: []string{"x", "yz"}}, ":b": {SS: []string{"ab"}}},
			map[string]int{"pk": 5, "sk": 5, "status": 10 - 2, "n": 3, "tags": 4 + 3}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := applyUpdate(base, tc.expr, tc.names, tc.values, map[string]bool{"cpk": true, "csk": true})
			if len(got.attrs) != len(tc.want) {
				t.Errorf("attributes %v, want %v", got.attrs, tc.want)
			}
			for k, v := range tc.want {
				if got.attrs[k] != v {
					t.Errorf("%s: %d, want %d (all: %v)", k, got.attrs[k], v, got.attrs)
				}
			}
			if len(got.keys) != len(tc.wantKeys) {
				t.Errorf("index keys %v, want %v", got.keys, tc.wantKeys)
			}
			if base.attrs["status"] != 10 || len(base.attrs) != 4 {
				t.Errorf("the item before was changed: %v", base.attrs)
			}
		})
	}
}

// BenchmarkTransact100 is the meter's work for the largest request the
// stack sends: a TransactWriteItems of 100 conditional puts into the
// indexed table (the proxy does it once per request, beside moto's
// 100-200 ms).
func BenchmarkTransact100(b *testing.B) {
	var items []any
	for i := range 100 {
		it := sized(strings.Repeat("p", 30)+string(rune('A'+i%26))+string(rune('a'+i/26)), 400)
		it["cpk"], it["csk"] = s("CONTACT#team#ct_1"), s("RECORD#person@example.com")
		items = append(items, map[string]any{"Put": map[string]any{"TableName": "bench-ledger", "Item": it, "ConditionExpression": "attribute_not_exists(pk)"}})
	}
	req, _ := json.Marshal(map[string]any{"TransactItems": items})
	m := newCapacityMeter()
	m.setTables(map[string]string{"ledger": "bench-ledger"})
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		m.observe("TransactWriteItems", req, []byte("{}"), 200)
	}
}

package main

import "testing"

// TestRequestsAndWriteUnitsRows: reads are told from writes by operation,
// and the targets are checked against the reads and against the table and
// index write units together, of the event's own items (a part's
// once-a-part writes set apart).
func TestRequestsAndWriteUnitsRows(t *testing.T) {
	t.Parallel()
	r := &Run{Events: 200, DynamoDB: 30, DynamoDBByOp: map[string]int64{"GetItem": 4, "BatchGetItem": 6, "Query": 2, "PutItem": 15, "UpdateItem": 3},
		Capacity: &Capacity{Read: 100, Write: 500, IndexWrite: 300}}
	withParts := &Run{Events: 200, Capacity: &Capacity{Write: 603}, CapacityByKind: []KindCapacity{
		{Kind: "activity", Op: "PutItem", WriteUnits: 400}, {Kind: "outcome", Op: "PutItem", WriteUnits: 200},
		{Kind: "connection", Op: "UpdateItem", WriteUnits: 1}, {Kind: "health-count", Op: "UpdateItem", WriteUnits: 1},
		{Kind: "task-fields", Op: "PutItem", WriteUnits: 1}}}
	if reads, writes := readsAndWrites(r); reads != 12 || writes != 18 {
		t.Errorf("reads, writes: got %d, %d; want 12, 18", reads, writes)
	}
	cases := []struct {
		name string
		row  Row
		want Row
	}{
		{"requests, reads within the target", requestsRow("x", r, 10), Row{"x", "15.0 (reads 6.0, writes 9.0)", "0 (keeps no state)", "", "reads <= 10", "yes"}},
		{"requests, reads over the target", requestsRow("x", r, 5), Row{"x", "15.0 (reads 6.0, writes 9.0)", "0 (keeps no state)", "", "reads <= 5", "NO"}},
		{"write units over the target", writeUnitsRow("w", r, 3), Row{"w", "4.000 (table 2.500, index 1.500): 4.000 the event's own items, and 0 units of once-a-part writes", "", "", "<= 3, the event's own", "NO"}},
		{"write units within the target", writeUnitsRow("w", r, 4), Row{"w", "4.000 (table 2.500, index 1.500): 4.000 the event's own items, and 0 units of once-a-part writes", "", "", "<= 4, the event's own", "yes"}},
		{"once-a-part writes set apart", writeUnitsRow("w", withParts, 3), Row{"w", "3.015 (table 3.015, index 0.000): 3.000 the event's own items, and 3 units of once-a-part writes", "", "", "<= 3, the event's own", "yes"}},
		{"the event's own items over", writeUnitsRow("w", withParts, 2.99), Row{"w", "3.015 (table 3.015, index 0.000): 3.000 the event's own items, and 3 units of once-a-part writes", "", "", "<= 2.99, the event's own", "NO"}},
	}
	for _, tc := range cases {
		if tc.row != tc.want {
			t.Errorf("%s: got %+v; want %+v", tc.name, tc.row, tc.want)
		}
	}
}

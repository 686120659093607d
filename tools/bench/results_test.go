package main

import "testing"

// TestRequestsAndWriteUnitsRows: reads are told from writes by operation,
// and the targets are checked against the reads and against the table and
// index write units together.
func TestRequestsAndWriteUnitsRows(t *testing.T) {
	t.Parallel()
	r := &Run{Events: 200, DynamoDB: 30, DynamoDBByOp: map[string]int64{"GetItem": 4, "BatchGetItem": 6, "Query": 2, "PutItem": 15, "UpdateItem": 3},
		Capacity: &Capacity{Read: 100, Write: 500, IndexWrite: 300}}
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
		{"write units over the target", writeUnitsRow("w", r, 3), Row{"w", "4.00 (table 2.50, index 1.50)", "", "", "<= 3", "NO"}},
		{"write units within the target", writeUnitsRow("w", r, 4), Row{"w", "4.00 (table 2.50, index 1.50)", "", "", "<= 4", "yes"}},
	}
	for _, tc := range cases {
		if tc.row != tc.want {
			t.Errorf("%s: got %+v; want %+v", tc.name, tc.row, tc.want)
		}
	}
}

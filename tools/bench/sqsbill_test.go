package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSQSBilled(t *testing.T) {
	body := func(n int) string { return strings.Repeat("x", n) }
	batch := func(sizes ...int) []byte {
		var entries []map[string]any
		for i, n := range sizes {
			entries = append(entries, map[string]any{"Id": string(rune('a' + i)), "MessageBody": body(n)})
		}
		b, _ := json.Marshal(map[string]any{"QueueUrl": "http://q/1/results", "Entries": entries})
		return b
	}
	for _, tc := range []struct {
		name      string
		op        string
		req, resp []byte
		want      int64
	}{
		{"a small send", "SendMessage", []byte(`{"QueueUrl":"q","MessageBody":"hi"}`), nil, 1},
		{"a 200 KB batch is four requests", "SendMessageBatch", batch(50*1024, 50*1024, 50*1024, 50*1024), nil, 4},
		{"64 KB exactly is one", "SendMessageBatch", batch(32*1024, 32*1024), nil, 1},
		{"attributes count", "SendMessage", []byte(`{"MessageBody":"` + body(64*1024-10) + `","MessageAttributes":{"kind":{"DataType":"String","StringValue":"contact"}}}`), nil, 2},
		{"an empty receive is one", "ReceiveMessage", []byte(`{}`), []byte(`{}`), 1},
		{"a receive by what it returns", "ReceiveMessage", []byte(`{}`), []byte(`{"Messages":[{"Body":"` + body(100*1024) + `"}]}`), 2},
		{"a delete is one", "DeleteMessageBatch", []byte(`{"Entries":[{"Id":"1"},{"Id":"2"}]}`), nil, 1},
	} {
		if got := sqsBilled(tc.op, tc.req, tc.resp); got != tc.want {
			t.Errorf("%s: %d billed requests, want %d", tc.name, got, tc.want)
		}
	}
}

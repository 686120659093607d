package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestProxyBills sends requests through the counting proxy to a fake AWS
// that answers with canned bodies, and checks that the requests arrive
// whole and are billed from their bodies and answers.
func TestProxyBills(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]byte{} // target -> body received
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		target := r.Header.Get("X-Amz-Target")
		mu.Lock()
		got[target] = body
		mu.Unlock()
		switch target {
		case "DynamoDB_20120810.GetItem":
			json.NewEncoder(w).Encode(map[string]any{"Item": sized("a", 5000)})
		case "AmazonSQS.ReceiveMessage":
			json.NewEncoder(w).Encode(map[string]any{"Messages": []any{map[string]any{"Body": strings.Repeat("x", 70*1024)}}})
		default:
			io.WriteString(w, "{}")
		}
	}))
	defer upstream.Close()
	p, err := startProxy(upstream.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	send := func(target string, body any) {
		t.Helper()
		b := js(t, body)
		req, _ := http.NewRequest("POST", p.URL+"/", bytes.NewReader(b))
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		if !bytes.Equal(got[target], b) {
			t.Errorf("%s: the request arrived as %d bytes of %d", target, len(got[target]), len(b))
		}
	}
	send("DynamoDB_20120810.PutItem", map[string]any{"TableName": "t", "Item": sized("a", 1500)})
	send("DynamoDB_20120810.GetItem", map[string]any{"TableName": "t", "Key": key("a"), "ConsistentRead": true})
	var entries []any
	for i := range 4 {
		entries = append(entries, map[string]any{"Id": string(rune('a' + i)), "MessageBody": strings.Repeat("y", 50*1024)})
	}
	send("AmazonSQS.SendMessageBatch", map[string]any{"QueueUrl": "http://localhost/123456789012/bench-results", "Entries": entries})
	send("AmazonSQS.ReceiveMessage", map[string]any{"QueueUrl": "http://localhost/123456789012/bench-contact-events"})
	send("TrentService.Decrypt", map[string]any{"CiphertextBlob": "AA=="})
	send("secretsmanager.GetSecretValue", map[string]any{"SecretId": "s"})

	c := p.Counts()
	if want := (Capacity{Read: 2, Write: 2}); c.Capacity != want {
		t.Errorf("capacity %+v, want %+v", c.Capacity, want)
	}
	if c.DynamoDB != 2 || c.SQS != 2 || c.Other != 2 || c.KMS != 1 || c.SecretsManager != 1 {
		t.Errorf("requests: %d DynamoDB, %d SQS, %d other (%d KMS, %d Secrets Manager)", c.DynamoDB, c.SQS, c.Other, c.KMS, c.SecretsManager)
	}
	if c.SQSBilled != 4+2 || c.SQSBilledByQueue["bench-results"] != 4 || c.SQSBilledByQueue["bench-contact-events"] != 2 {
		t.Errorf("SQS billed %d, by queue %v", c.SQSBilled, c.SQSBilledByQueue)
	}
	d := c.sub(Counts{Capacity: Capacity{Read: 2}, SQSBilled: 4, SQSBilledByQueue: map[string]int64{"bench-results": 4}})
	if d.Capacity.Read != 0 || d.SQSBilled != 2 || len(d.SQSBilledByQueue) != 1 {
		t.Errorf("sub: %+v", d)
	}
	if !p.settled() {
		t.Error("a DynamoDB request is still counted in flight")
	}
}

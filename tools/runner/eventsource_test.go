package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/jwtlocal"
)

// sqsHarness is a stack with one SQS-triggered test function on the
// contact queue, short visibility timeouts and a small maxReceiveCount.
type sqsHarness struct {
	stack   *Stack
	sqs     *sqs.Client
	queue   QueueInfo
	reports chan BatchReport
	out     *syncBuffer
}

const (
	testVisibility = 2 * time.Second
	testMaxReceive = 3
)

func startSQSHarness(t *testing.T, timeout time.Duration) *sqsHarness {
	t.Helper()
	keys, err := jwtlocal.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &sqsHarness{reports: make(chan BatchReport, 100), out: &syncBuffer{}}
	h.stack = &Stack{}
	err = h.stack.Start(context.Background(), StackOptions{
		Endpoint: endpoint,
		Prefix:   uniquePrefix(t),
		StateDir: t.TempDir(),
		Functions: []resources.Function{{
			Name:    "worker",
			Env:     []string{resources.EnvLedgerTable, resources.EnvResultsQueueURL},
			Source:  &resources.EventSource{Queue: "contact-events", BatchSize: 10, BatchingWindow: time.Second, MaxConcurrency: 1},
			Timeout: timeout, Memory: 128,
		}},
		Binaries:          map[string]string{"worker": testBin},
		APIAddr:           "127.0.0.1:0",
		Output:            h.out,
		Logger:            slog.New(slog.DiscardHandler),
		Verifier:          keys,
		VisibilityTimeout: testVisibility,
		MaxReceiveCount:   testMaxReceive,
		PollWait:          time.Second,
		OnBatch:           func(_ string, r BatchReport) { h.reports <- r },
	})
	if err != nil {
		t.Fatalf("Stack.Start: got %v; want nil", err)
	}
	t.Cleanup(func() {
		h.stack.Stop()
		if t.Failed() {
			t.Logf("function output:\n%s", h.out.String())
		}
	})
	h.sqs = sqs.NewFromConfig(awsConfig(t))
	h.queue = h.stack.Resources.Queues["contact-events"]
	return h
}

// send puts bodies on the queue in one batch and returns their message ids.
func (h *sqsHarness) send(t *testing.T, bodies ...string) []string {
	t.Helper()
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, b := range bodies {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"team_id": {DataType: aws.String("String"), StringValue: aws.String("team_acme")},
			},
		})
	}
	out, err := h.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(h.queue.URL), Entries: entries})
	if err != nil {
		t.Fatalf("SendMessageBatch: got %v; want nil", err)
	}
	if len(out.Failed) > 0 {
		t.Fatalf("SendMessageBatch failed entries: got %d; want 0", len(out.Failed))
	}
	ids := make([]string, len(bodies))
	for _, s := range out.Successful {
		i, _ := strconv.Atoi(aws.ToString(s.Id))
		ids[i] = aws.ToString(s.MessageId)
	}
	return ids
}

// next waits for the next batch report.
func (h *sqsHarness) next(t *testing.T) BatchReport {
	t.Helper()
	select {
	case r := <-h.reports:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("no batch delivered within 30s")
		return BatchReport{}
	}
}

// until reads batch reports until done says stop.
func (h *sqsHarness) until(t *testing.T, done func(BatchReport) bool) []BatchReport {
	t.Helper()
	var all []BatchReport
	for {
		r := h.next(t)
		all = append(all, r)
		if done(r) {
			return all
		}
	}
}

// counts returns the visible and in-flight message counts of url.
func (h *sqsHarness) counts(t *testing.T, url string) (visible, inFlight int) {
	t.Helper()
	a, err := h.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	visible, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight
}

func (h *sqsHarness) assertQueueEmpty(t *testing.T) {
	t.Helper()
	if v, f := h.counts(t, h.queue.URL); v != 0 || f != 0 {
		t.Errorf("queue: got %d visible, %d in flight; want empty", v, f)
	}
}

// dlq receives what the dead-letter queue holds, waiting up to 20s for want
// messages.
func (h *sqsHarness) dlq(t *testing.T, want int) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := h.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(h.queue.DLQURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	return got
}

func action(a string) string { return fmt.Sprintf(`{"action":%q}`, a) }

func TestPartialBatchFailureReturnsOnlyTheFailedMessage(t *testing.T) {
	t.Parallel()
	h := startSQSHarness(t, 5*time.Second)
	bodies := make([]string, 10)
	for i := range bodies {
		bodies[i] = action("ok")
	}
	bodies[4] = action("fail-once")
	ids := h.send(t, bodies...)

	first := h.next(t)
	if len(first.MessageIDs) != 10 {
		t.Fatalf("first batch size: got %d; want 10", len(first.MessageIDs))
	}
	if first.InvokeError != nil || first.ResponseError != nil {
		t.Fatalf("first batch errors: got %v, %v; want none", first.InvokeError, first.ResponseError)
	}
	if len(first.Deleted) != 9 {
		t.Errorf("first batch deleted: got %d; want 9", len(first.Deleted))
	}
	if !slices.Equal(first.Failed, []string{ids[4]}) {
		t.Errorf("first batch failed: got %v; want [%s]", first.Failed, ids[4])
	}
	// The failed message comes back after the visibility timeout, alone.
	again := h.next(t)
	if !slices.Equal(again.MessageIDs, []string{ids[4]}) {
		t.Fatalf("redelivery: got %v; want [%s]", again.MessageIDs, ids[4])
	}
	if got := again.ReceiveCounts[ids[4]]; got != 2 {
		t.Errorf("redelivery receive count: got %d; want 2", got)
	}
	if !slices.Equal(again.Deleted, []string{ids[4]}) {
		t.Errorf("redelivery deleted: got %v; want [%s]", again.Deleted, ids[4])
	}
	h.assertQueueEmpty(t)
	if v, f := h.counts(t, h.queue.DLQURL); v != 0 || f != 0 {
		t.Errorf("DLQ: got %d visible, %d in flight; want empty", v, f)
	}
}

func TestAlwaysFailingAndPoisonMessagesEndInTheDLQ(t *testing.T) {
	t.Parallel()
	h := startSQSHarness(t, 5*time.Second)
	const poison = `{"action": "ok", oops`
	failing := action("fail-always")
	ids := h.send(t, action("ok"), failing, poison, action("ok"))

	deliveries := map[string][]int{}
	h.until(t, func(r BatchReport) bool {
		for id, n := range r.ReceiveCounts {
			deliveries[id] = append(deliveries[id], n)
		}
		return len(deliveries[ids[1]]) >= testMaxReceive && len(deliveries[ids[2]]) >= testMaxReceive
	})
	for _, id := range []string{ids[0], ids[3]} {
		if got := deliveries[id]; !slices.Equal(got, []int{1}) {
			t.Errorf("good message %s deliveries: got %v; want [1]", id, got)
		}
	}
	dead := h.dlq(t, 2)
	if len(dead) != 2 {
		t.Fatalf("DLQ messages: got %d; want 2", len(dead))
	}
	bodies := map[string]string{}
	for _, m := range dead {
		bodies[aws.ToString(m.MessageId)] = aws.ToString(m.Body)
	}
	for id, want := range map[string]string{ids[1]: failing, ids[2]: poison} {
		if got := bodies[id]; got != want {
			t.Errorf("DLQ body of %s: got %q; want %q", id, got, want)
		}
		if got := deliveries[id]; !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("deliveries of %s: got %v; want [1 2 3] (maxReceiveCount %d, then the DLQ)", id, got, testMaxReceive)
		}
	}
	h.assertQueueEmpty(t)
}

func TestWholeBatchReturns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		action   string
		timeout  time.Duration
		invoke   string // InvokeError type; "" when the response failed the batch
		crashes  int64
		timeouts int64
	}{
		{"function error", "error-once", 5 * time.Second, "errorString", 0, 0},
		{"crash", "crash-once", 5 * time.Second, ErrorTypeExit, 1, 0},
		{"timeout", "sleep-once", time.Second, ErrorTypeTimeout, 0, 1},
		{"unknown itemIdentifier", "bad-id-once", 5 * time.Second, "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startSQSHarness(t, tc.timeout)
			ids := h.send(t, action("ok"), action(tc.action), action("ok"))
			first := h.next(t)
			if len(first.MessageIDs) != 3 {
				t.Fatalf("first batch size: got %d; want 3", len(first.MessageIDs))
			}
			if tc.invoke != "" {
				var ie *InvokeError
				if !errors.As(first.InvokeError, &ie) || ie.Type != tc.invoke {
					t.Fatalf("invoke error: got %v; want type %s", first.InvokeError, tc.invoke)
				}
			} else if !errors.Is(first.ResponseError, ErrBadBatchResponse) {
				t.Fatalf("response error: got %v; want ErrBadBatchResponse", first.ResponseError)
			}
			if len(first.Deleted) != 0 || len(first.Failed) != 3 {
				t.Fatalf("first batch: got %d deleted, %d failed; want 0 and 3", len(first.Deleted), len(first.Failed))
			}
			// Every message comes back and succeeds on its second receive.
			second := map[string]bool{}
			h.until(t, func(r BatchReport) bool {
				for _, id := range r.Deleted {
					if r.ReceiveCounts[id] == 2 {
						second[id] = true
					}
				}
				return len(second) == 3
			})
			for _, id := range ids {
				if !second[id] {
					t.Errorf("message %s: not deleted on its second receive", id)
				}
			}
			h.assertQueueEmpty(t)
			st := h.stack.Functions["worker"].Stats()
			if st.Crashes != tc.crashes || st.Timeouts != tc.timeouts {
				t.Errorf("stats: got %d crashes, %d timeouts; want %d, %d", st.Crashes, st.Timeouts, tc.crashes, tc.timeouts)
			}
		})
	}
}

func TestEventCarriesLambdaAttributes(t *testing.T) {
	t.Parallel()
	es := &EventSource{spec: EventSourceSpec{QueueARN: "arn:aws:sqs:us-east-1:123456789012:q", Region: "us-east-1"}}
	ev := es.Event([]sqstypes.Message{{
		MessageId: aws.String("m1"), ReceiptHandle: aws.String("rh"), Body: aws.String("b"), MD5OfBody: aws.String("md5"),
		Attributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000", "ApproximateFirstReceiveTimestamp": "1700000000001"},
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"team_id": {DataType: aws.String("String"), StringValue: aws.String("team_acme")},
		},
	}})
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	r := got.Records[0]
	for k, want := range map[string]any{"messageId": "m1", "receiptHandle": "rh", "body": "b", "md5OfBody": "md5",
		"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"} {
		if r[k] != want {
			t.Errorf("record %s: got %v; want %v", k, r[k], want)
		}
	}
	attrs := r["attributes"].(map[string]any)
	for _, k := range []string{"ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp"} {
		if attrs[k] == nil {
			t.Errorf("attribute %s: got nil; want a value", k)
		}
	}
	ma := r["messageAttributes"].(map[string]any)["team_id"].(map[string]any)
	if ma["stringValue"] != "team_acme" || ma["dataType"] != "String" {
		t.Errorf("message attribute: got %v; want team_acme String", ma)
	}
}

func TestBatchResponseRules(t *testing.T) {
	t.Parallel()
	batch := map[string]sqstypes.Message{"a": {}, "b": {}}
	es := &EventSource{spec: EventSourceSpec{ReportBatchItemFailures: true}}
	tests := []struct {
		name    string
		resp    string
		failed  []string
		wantErr bool
	}{
		{"null", `null`, nil, false},
		{"empty object", `{}`, nil, false},
		{"null list", `{"batchItemFailures":null}`, nil, false},
		{"empty list", `{"batchItemFailures":[]}`, nil, false},
		{"one failure", `{"batchItemFailures":[{"itemIdentifier":"b"}]}`, []string{"b"}, false},
		{"invalid JSON", `{"batchItemFailures":`, nil, true},
		{"empty identifier", `{"batchItemFailures":[{"itemIdentifier":""}]}`, nil, true},
		{"null identifier", `{"batchItemFailures":[{"itemIdentifier":null}]}`, nil, true},
		{"misspelt key", `{"batchItemFailures":[{"itemIdentifer":"a"}]}`, nil, true},
		{"unknown id", `{"batchItemFailures":[{"itemIdentifier":"zzz"}]}`, nil, true},
		{"not a list", `{"batchItemFailures":"a"}`, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			failed, err := es.failures([]byte(tc.resp), batch)
			if (err != nil) != tc.wantErr {
				t.Fatalf("failures(%s) error: got %v; want error %v", tc.resp, err, tc.wantErr)
			}
			var ids []string
			for id := range failed {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.failed) {
				t.Errorf("failures(%s): got %v; want %v", tc.resp, ids, tc.failed)
			}
		})
	}
}

func TestStopLeavesNoProcesses(t *testing.T) {
	t.Parallel()
	h := startSQSHarness(t, 5*time.Second)
	h.send(t, action("ok"))
	h.next(t)
	pids := h.stack.Functions["worker"].PIDs()
	if len(pids) == 0 {
		t.Fatalf("worker processes: got none; want at least one")
	}
	h.stack.Stop()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d after Stop: got %v; want ESRCH (gone)", pid, err)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d after Stop: got %v; want ESRCH (gone)", pid, err)
		}
	}
}

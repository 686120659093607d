package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/metrics"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var client *sqs.Client

func TestMain(m *testing.M) {
	ep, err := motoserver.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := motoserver.AWSConfig(context.Background(), ep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	client = sqs.NewFromConfig(cfg)
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

// recorder is the domain side: it records what it got and fails the ids asked.
type recorder struct {
	got  []string
	msgs []Message
	fail map[string]error
}

func (r *recorder) Process(_ context.Context, msgs []Message) map[string]error {
	out := map[string]error{}
	r.msgs = append(r.msgs, msgs...)
	for _, m := range msgs {
		r.got = append(r.got, m.ID)
		if err, ok := r.fail[m.ID]; ok {
			out[m.ID] = err
		}
	}
	return out
}

const validAdded = `{"id":"evt_1","type":"contact.added","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"team_acme",
 "data":{"sequence":{"id":"seq_1","name":"Q4"},"contact":{"id":"ct_1","email":"ada@example.com","last_name":"Lovelace"}}}`

const validSent = `{"id":"evt_2","type":"email.sent","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"team_acme",
 "data":{"sequence":{"id":"seq_1","name":"Q4"},"contact":{"id":"ct_1","email":"ada@example.com"},
 "message":{"id":"msg_1","subject":"Hi","body_text":"Hello","step":1,"sent_at":"2026-11-26T10:00:00Z"}}}`

func TestHandleSplitsABatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("queue-test-dlq-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{fail: map[string]error{"m3": errors.New("salesforce: transient failure")}}
	h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: *q.QueueUrl, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: validAdded, Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "m2", Body: `{"id":"evt_x","type":"contact.deleted","version":1}`},
		{MessageId: "m3", Body: validAdded},
		{MessageId: "m4", Body: validSent},
		{MessageId: "m5", Body: `not json`},
	}}
	resp, err := h.Handle(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"m1", "m3"}; !slices.Equal(rec.got, want) {
		t.Errorf("processed: got %v; want %v", rec.got, want)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if want := []string{"m3"}; !slices.Equal(failed, want) {
		t.Errorf("returned to the queue: got %v; want %v", failed, want)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, m := range out.Messages {
		reasons[*m.MessageAttributes["source_message_id"].StringValue] = *m.MessageAttributes["error"].StringValue
	}
	tests := []struct{ id, want string }{
		{"m2", `type: unknown event type "contact.deleted"`},
		{"m4", "type: email.sent events belong on the activity-events queue, not the contact-events queue: invalid event"},
		{"m5", "body: not JSON"},
	}
	for _, tt := range tests {
		got, ok := reasons[tt.id]
		if !ok || len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
			t.Errorf("DLQ reason of %s: got %q; want prefix %q", tt.id, got, tt.want)
		}
	}
	// SQS is at-least-once (an SDK retry can send twice): count distinct sources.
	if len(reasons) != 3 {
		t.Errorf("DLQ sources: got %v; want m2, m4, m5", reasons)
	}
}

func TestHandleParksHeldMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	own, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("queue-test-own-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{fail: map[string]error{"m1": fmt.Errorf("%w: %w", ErrHold, connection.ErrNeedsReauth)}}
	var emf bytes.Buffer
	h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: *own.QueueUrl, QueueURL: *own.QueueUrl,
		HoldDelay: time.Second, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: &metrics.EMF{W: &emf}}
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: validAdded}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures: got %v; want none (held, not failed)", resp.BatchItemFailures)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: own.QueueUrl, WaitTimeSeconds: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || *out.Messages[0].Body != validAdded {
		t.Errorf("parked copy: got %d messages; want the body once", len(out.Messages))
	}
	if got := emf.String(); !strings.Contains(got, `"NeedsReauth":1`) || !strings.Contains(got, `"TeamId":"team_acme"`) {
		t.Errorf("metric: got %q; want a NeedsReauth EMF line for team_acme", got)
	}
}

// TestHandleParksManyHeldMessagesInBatches: 25 held messages are parked in
// SendMessageBatch calls; when parking fails, they return to the queue as
// failures instead of being lost.
func TestHandleParksManyHeldMessagesInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	own, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("queue-test-many-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	hold := fmt.Errorf("%w: %w", ErrHold, connection.ErrNeedsReauth)
	rec := &recorder{fail: map[string]error{}}
	var in events.SQSEvent
	for i := range 25 {
		id := fmt.Sprintf("m%02d", i)
		rec.fail[id] = hold
		in.Records = append(in.Records, events.SQSMessage{MessageId: id, Body: strings.Replace(validAdded, `"evt_1"`, fmt.Sprintf(`"evt_%02d"`, i), 1)})
	}
	tests := []struct {
		name     string
		queueURL string
		parked   int
		failures int
	}{
		{"parked, ten to a call", *own.QueueUrl, 25, 0},
		{"own queue gone: back to the queue, not lost", *own.QueueUrl + "-missing", 0, 25},
	}
	for _, tt := range tests {
		h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: *own.QueueUrl, QueueURL: tt.queueURL,
			HoldDelay: time.Second, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		resp, err := h.Handle(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) != tt.failures {
			t.Errorf("%s: failures: got %d; want %d", tt.name, len(resp.BatchItemFailures), tt.failures)
		}
		seen := map[string]bool{}
		deadline := time.Now().Add(5 * time.Second)
		for len(seen) < tt.parked && time.Now().Before(deadline) {
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: own.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.Messages {
				seen[*m.Body] = true
			}
		}
		if len(seen) != tt.parked {
			t.Errorf("%s: parked copies: got %d distinct; want %d", tt.name, len(seen), tt.parked)
		}
	}
}

func TestParkBatches(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{}
	ids := func(n, size int, prefix string) []string {
		var out []string
		for i := range n {
			id := fmt.Sprintf("%s%d", prefix, i)
			bodies[id] = strings.Repeat("x", size)
			out = append(out, id)
		}
		return out
	}
	tests := []struct {
		name string
		ids  []string
		want []int // batch sizes
	}{
		{"25 small: 10, 10, 5", ids(25, 100, "s"), []int{10, 10, 5}},
		{"big bodies: by size", ids(5, 100<<10, "b"), []int{2, 2, 1}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		var got []int
		for _, b := range parkBatches(tt.ids, bodies) {
			got = append(got, len(b))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestHandleReadsDeliveryFacts(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := &Handler{Queue: event.ContactQueue, Processor: rec, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	_, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: validAdded, Attributes: map[string]string{"ApproximateReceiveCount": "3", "ApproximateFirstReceiveTimestamp": "1796040000123"}},
		{MessageId: "m2", Body: strings.Replace(validAdded, `"evt_1"`, `"evt_2"`, 1)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		n     int
		first time.Time
	}{"m1": {3, time.UnixMilli(1796040000123).UTC()}, "m2": {0, time.Time{}}}
	for _, m := range rec.msgs {
		if w := want[m.ID]; m.ReceiveCount != w.n || !m.FirstReceived.Equal(w.first) {
			t.Errorf("%s: got receive count %d, first received %v; want %d, %v", m.ID, m.ReceiveCount, m.FirstReceived, w.n, w.first)
		}
	}
	if len(rec.msgs) != 2 {
		t.Errorf("messages: got %d; want 2", len(rec.msgs))
	}
}

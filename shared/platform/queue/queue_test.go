package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/metrics"
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
	msgs []delivery.Delivery
	fail map[string]error
}

func (r *recorder) Process(_ context.Context, msgs []delivery.Delivery) map[string]error {
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
	resp, err := h.Handle(ctx, wire(t, batch))
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
		{"m4", "type: email.sent events belong on the activity-events queue, not the contact-events queue"},
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
	rec := &recorder{fail: map[string]error{"m1": fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth)}}
	var emf bytes.Buffer
	h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: *own.QueueUrl, QueueURL: *own.QueueUrl,
		HoldDelay: time.Second, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: &metrics.EMF{W: &emf}}
	resp, err := h.Handle(ctx, wire(t, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: validAdded}}}))
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
	hold := fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth)
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
		logged   string // the info lines about held messages
	}{
		{"parked, ten to a call", *own.QueueUrl, 25, 0, "messages held team_acme 25"},
		{"own queue gone: back to the queue, not lost", *own.QueueUrl + "-missing", 0, 25, ""},
	}
	for _, tt := range tests {
		var logs, emf bytes.Buffer
		h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: *own.QueueUrl, QueueURL: tt.queueURL,
			HoldDelay: time.Second, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: &metrics.EMF{W: &emf}}
		resp, err := h.Handle(ctx, wire(t, in))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) != tt.failures {
			t.Errorf("%s: failures: got %d; want %d", tt.name, len(resp.BatchItemFailures), tt.failures)
		}
		// One metric line and one log line for the team's 25, not 25 of each;
		// HeldEvents counts those parked, in one line too.
		if got := emf.String(); strings.Count(got, `"NeedsReauth":`) != 1 || !strings.Contains(got, `"NeedsReauth":25`) {
			t.Errorf("%s: metric: got %q; want one NeedsReauth line of 25", tt.name, got)
		}
		if got, want := strings.Count(emf.String(), `"HeldEvents":`+strconv.Itoa(tt.parked)), min(tt.parked, 1); got != want {
			t.Errorf("%s: metric: got %d HeldEvents lines of %d in %q; want %d", tt.name, got, tt.parked, emf.String(), want)
		}
		var held []string
		for line := range strings.Lines(logs.String()) {
			var l struct {
				TeamID   string `json:"team_id"`
				Messages int    `json:"messages"`
			}
			if err := json.Unmarshal([]byte(line), &l); err == nil && strings.Contains(line, `"msg":"messages held"`) {
				held = append(held, fmt.Sprintf("messages held %s %d", l.TeamID, l.Messages))
			}
		}
		if got := strings.Join(held, "; "); got != tt.logged {
			t.Errorf("%s: log: got %q; want %q", tt.name, got, tt.logged)
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

func TestResendBatches(t *testing.T) {
	t.Parallel()
	ids := func(n, size int, prefix string) []resend {
		var out []resend
		for i := range n {
			out = append(out, resend{id: fmt.Sprintf("%s%d", prefix, i), body: strings.Repeat("x", size)})
		}
		return out
	}
	tests := []struct {
		name string
		ids  []resend
		want []int // batch sizes
	}{
		{"25 small: 10, 10, 5", ids(25, 100, "s"), []int{10, 10, 5}},
		{"big bodies: by size", ids(5, 100<<10, "b"), []int{2, 2, 1}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		var got []int
		for _, b := range resendBatches(tt.ids) {
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
	_, err := h.Handle(context.Background(), wire(t, events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: validAdded, Attributes: map[string]string{"ApproximateReceiveCount": "3", "ApproximateFirstReceiveTimestamp": "1796040000123"}},
		{MessageId: "m2", Body: strings.Replace(validAdded, `"evt_1"`, `"evt_2"`, 1)},
		// A waiting copy carries when its wait started: the earlier time counts,
		waitingCopy("m3", "evt_3", "1796040000123", "1796040000000"),
		// a later one, or one that does not parse, does not.
		waitingCopy("m4", "evt_4", "1796040000123", "1796040009999"),
		waitingCopy("m5", "evt_5", "1796040000123", "soon"),
		waitingCopy("m6", "evt_6", "", "1796040000000"),
	}}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"m1": time.UnixMilli(1796040000123).UTC(), "m2": {},
		"m3": time.UnixMilli(1796040000000).UTC(), "m4": time.UnixMilli(1796040000123).UTC(),
		"m5": time.UnixMilli(1796040000123).UTC(), "m6": time.UnixMilli(1796040000000).UTC()}
	for _, m := range rec.msgs {
		if w := want[m.ID]; !m.FirstReceived.Equal(w) {
			t.Errorf("%s: got first received %v; want %v", m.ID, m.FirstReceived, w)
		}
	}
	if len(rec.msgs) != len(want) {
		t.Errorf("messages: got %d; want %d", len(rec.msgs), len(want))
	}
}

// waitingCopy is a delivery of a message sent again to wait, first
// received at first (Unix ms; none when empty), carrying since.
func waitingCopy(id, eventID, first, since string) events.SQSMessage {
	attrs := map[string]string{"ApproximateReceiveCount": "2"}
	if first != "" {
		attrs["ApproximateFirstReceiveTimestamp"] = first
	}
	return events.SQSMessage{MessageId: id, Body: strings.Replace(validAdded, `"evt_1"`, `"`+eventID+`"`, 1), Attributes: attrs,
		MessageAttributes: map[string]events.SQSMessageAttribute{WaitingSinceAttribute: {DataType: "Number", StringValue: &since}}}
}

func TestWaitDelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		waited time.Duration
		most   time.Duration
		want   time.Duration
	}{
		{"first look: the least", 0, time.Minute, MinWaitDelay},
		{"as long again as it waited", 7*time.Second + 400*time.Millisecond, time.Minute, 7 * time.Second},
		{"never more than most", 10 * time.Minute, time.Minute, time.Minute},
		{"most below the least: the least", time.Minute, 0, MinWaitDelay},
		{"a clock behind: the least", -time.Minute, time.Minute, MinWaitDelay},
	}
	for _, tt := range tests {
		if got := WaitDelay(now, now.Add(-tt.waited), tt.most); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	if got := WaitDelay(now, time.Time{}, time.Minute); got != MinWaitDelay {
		t.Errorf("unknown start: got %v; want %v", got, MinWaitDelay)
	}
}

// TestHandleSendsWaitingMessagesAgain: a message waiting for an earlier
// event is not failed (no receive counted) but sent to the queue again,
// delayed, carrying when its wait started and its retry mark.
func TestHandleSendsWaitingMessagesAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	own, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("queue-test-wait-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{fail: map[string]error{"m1": fmt.Errorf("%w: the contact.added is on its way", delivery.ErrWait)}}
	h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: *own.QueueUrl, QueueURL: *own.QueueUrl,
		WaitMax: time.Second, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	first := time.Now().Add(-time.Minute).UnixMilli()
	m := waitingCopy("m1", "evt_1", strconv.FormatInt(first, 10), strconv.FormatInt(first-5000, 10))
	m.MessageAttributes[RetryAttribute] = events.SQSMessageAttribute{DataType: "String", StringValue: aws.String("true")}
	resp, err := h.Handle(ctx, wire(t, events.SQSEvent{Records: []events.SQSMessage{m}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures: got %v; want none (sent again, not failed)", resp.BatchItemFailures)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: own.QueueUrl, WaitTimeSeconds: 5,
		MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("copies: got %d; want 1", len(out.Messages))
	}
	got := out.Messages[0]
	if aws.ToString(got.Body) != validAdded {
		t.Errorf("body: got %q; want the original", aws.ToString(got.Body))
	}
	if since := aws.ToString(got.MessageAttributes[WaitingSinceAttribute].StringValue); since != strconv.FormatInt(first-5000, 10) {
		t.Errorf("%s: got %q; want %d (the wait's start travels)", WaitingSinceAttribute, since, first-5000)
	}
	if r := aws.ToString(got.MessageAttributes[RetryAttribute].StringValue); r != "true" {
		t.Errorf("%s: got %q; want true", RetryAttribute, r)
	}
}

// wire is the Batch Lambda hands the function for ev: ev's JSON, the SQS
// event's wire format, decoded as the runtime decodes it.
func wire(t *testing.T, ev events.SQSEvent) Batch {
	t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
)

// sent records what a Handler sends, without SQS.
type sent struct {
	mu      sync.Mutex
	entries []sent1
}

type sent1 struct {
	body, since, outOfTime, group string
	delay                         int32
}

func (s *sent) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}

func (s *sent) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range in.Entries {
		s.entries = append(s.entries, sent1{body: aws.ToString(e.MessageBody), delay: e.DelaySeconds, group: aws.ToString(e.MessageGroupId),
			since: aws.ToString(e.MessageAttributes[WaitingSinceAttribute].StringValue), outOfTime: aws.ToString(e.MessageAttributes[OutOfTimeSinceAttribute].StringValue)})
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

// byTeam is a processor that answers each message by its team, and notes
// the deadline of the context it was given.
type byTeam struct {
	answer   map[string]error // team -> error (absent: done)
	deadline time.Time
}

func (p *byTeam) Process(ctx context.Context, msgs []delivery.Delivery) map[string]error {
	p.deadline, _ = ctx.Deadline()
	out := map[string]error{}
	for _, m := range msgs {
		if err := p.answer[m.Event.TeamID]; err != nil {
			out[m.ID] = err
		}
	}
	return out
}

func addedOf(team, id string) string {
	return strings.NewReplacer("team_acme", team, "evt_1", id).Replace(validAdded)
}

func millisOf(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// TestHandleOutOfTime: the messages of a team whose time ran out are sent
// back to the queue with a short delay, their first receipt and when their
// time first ran out, and the delivered copies deleted (not returned: no
// receive counted); those of the other teams are done. A message whose
// time first ran out over OutOfTimeFor ago returns as a failure; one held
// for longer than that (its copy's first receipt is old) whose time runs
// out for the first time is sent back: time held is not time out of time.
// A message not run at all (waiting) is sent back whatever its clock, and
// its copy carries none.
func TestHandleOutOfTime(t *testing.T) {
	t.Parallel()
	out := &sent{}
	cut := fmt.Errorf("the team's share of the batch's time ran out: %w", context.DeadlineExceeded)
	notRun := fmt.Errorf("%w: the batch's time ran out before the team's turn: %w", delivery.ErrWait, context.DeadlineExceeded)
	p := &byTeam{answer: map[string]error{"team_slow": cut, "team_broken": errors.New("salesforce: 503"), "team_later": notRun}}
	now := time.Now().Truncate(time.Millisecond)
	h := &Handler{Queue: event.ContactQueue, Processor: p, DLQ: out, DLQURL: "dlq", QueueURL: "queue",
		Reserve: 2 * time.Second, SendRound: 100 * time.Millisecond, OutOfTimeFor: time.Hour, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	recent, old, held := millisOf(now.Add(-10*time.Minute)), millisOf(now.Add(-2*time.Hour)), millisOf(now.Add(-3*24*time.Hour))
	attrs := func(extra map[string]string) map[string]events.SQSMessageAttribute {
		m := map[string]events.SQSMessageAttribute{}
		for k, v := range extra {
			m[k] = events.SQSMessageAttribute{StringValue: aws.String(v), DataType: "Number"}
		}
		return m
	}
	first := func(ms string) map[string]string { return map[string]string{"ApproximateFirstReceiveTimestamp": ms} }
	batch := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "s1", Body: addedOf("team_slow", "evt_s1"), Attributes: first(recent)},
		{MessageId: "a1", Body: addedOf("team_a", "evt_a1")},
		{MessageId: "s2", Body: addedOf("team_slow", "evt_s2"), Attributes: first(recent),
			MessageAttributes: attrs(map[string]string{OutOfTimeSinceAttribute: old})},
		{MessageId: "b1", Body: addedOf("team_broken", "evt_b1")},
		{MessageId: "s3", Body: addedOf("team_slow", "evt_s3"), Attributes: first(recent),
			MessageAttributes: attrs(map[string]string{WaitingSinceAttribute: held})},
		{MessageId: "s4", Body: addedOf("team_slow", "evt_s4"), Attributes: first(recent),
			MessageAttributes: attrs(map[string]string{WaitingSinceAttribute: held, OutOfTimeSinceAttribute: recent})},
		{MessageId: "a2", Body: addedOf("team_a", "evt_a2")},
		{MessageId: "l1", Body: addedOf("team_later", "evt_l1"), Attributes: first(recent),
			MessageAttributes: attrs(map[string]string{OutOfTimeSinceAttribute: old})},
	}}
	dl := now.Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	resp, err := h.Handle(ctx, wire(t, batch))
	if err != nil {
		t.Fatalf("Handle: %v; want no error (a whole-batch failure redelivers every team's messages)", err)
	}
	if want := dl.Add(-2*time.Second - 100*time.Millisecond); !p.deadline.Equal(want) {
		t.Errorf("processor's deadline: got %v; want the function's less the reserve and a round of sends, %v", p.deadline, want)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	slices.Sort(failed)
	if want := []string{"b1", "s2"}; !slices.Equal(failed, want) {
		t.Errorf("returned to the queue: got %v; want %v (a failure, and the message out of time for over an hour)", failed, want)
	}
	got := map[string]sent1{}
	for _, e := range out.entries {
		var ev struct{ ID string }
		if err := json.Unmarshal([]byte(e.body), &ev); err != nil {
			t.Fatal(err)
		}
		e.body = ""
		got[ev.ID] = e
	}
	waitMax := int32(DefaultWaitMax / time.Second)
	want := map[string]sent1{
		"evt_s1": {since: recent, outOfTime: millisOf(now), group: "team_slow", delay: waitMax},
		"evt_s3": {since: held, outOfTime: millisOf(now), group: "team_slow", delay: waitMax},
		"evt_s4": {since: held, outOfTime: recent, group: "team_slow", delay: waitMax},
		"evt_l1": {since: recent, group: "team_later", delay: waitMax}, // not run: waiting, whatever its clock
	}
	if !maps.Equal(got, want) {
		t.Errorf("sent back: got %+v; want %+v (the time out of time counted from the first time it ran out, not from the first receipt)", got, want)
	}
}

// TestReserve: the time kept for answering grows with the calls it may
// take to send every message of the batch back, ten calls at a time, and
// is bounded.
func TestReserve(t *testing.T) {
	t.Parallel()
	h := &Handler{Reserve: 2 * time.Second, SendRound: 100 * time.Millisecond}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, 2100 * time.Millisecond},
		{100, 2100 * time.Millisecond}, // ten calls, at once
		{101, 2200 * time.Millisecond},
		{1000, 3 * time.Second}, // a hundred calls, ten rounds
		{10000, MaxReserve},     // bounded: what cannot be sent back returns to the queue
	}
	for _, tt := range tests {
		if got := h.reserve(tt.n); got != tt.want {
			t.Errorf("reserve(%d): got %s; want %s", tt.n, got, tt.want)
		}
	}
	if got, want := (&Handler{}).reserve(1000), DefaultReserve+10*DefaultSendRound; got != want {
		t.Errorf("default reserve(1000): got %s; want %s", got, want)
	}
	if got := (&Handler{Reserve: 12 * time.Second}).reserve(10000); got != 12*time.Second {
		t.Errorf("a reserve set above MaxReserve: got %s; want it kept, 12s", got)
	}
}

// roundSQS is an SQS whose SendMessageBatch calls take one round of the
// injected clock: each waits until inFlight calls are under way together,
// then the clock moves to end, and they answer. It notes the calls and the
// most under way at once.
type roundSQS struct {
	sent
	inFlight int
	end      time.Time
	mu       sync.Mutex
	now      time.Time
	calls    int
	running  int
	most     int
	full     chan struct{} // closed when inFlight calls are under way
}

// endRound moves the clock to the round's end, once; s.mu is held.
func (s *roundSQS) endRound() {
	if s.now.Before(s.end) {
		s.now = s.end
		close(s.full)
	}
}

func (s *roundSQS) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *roundSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	s.calls++
	s.running++
	s.most = max(s.most, s.running)
	if s.running == s.inFlight {
		s.endRound()
	}
	s.mu.Unlock()
	select {
	case <-s.full:
	case <-time.After(10 * time.Second): // not concurrent: end the round rather than hang
	}
	s.mu.Lock()
	s.endRound()
	s.running--
	s.mu.Unlock()
	return s.sent.SendMessageBatch(ctx, in, opts...)
}

// TestResendConcurrentlyWithinTheDeadline: a slow team's 1,000 messages,
// all out of time, are sent back ten calls at once; once less than
// SendFloor is left before the function's deadline no call starts, and the
// messages not sent return to the queue as failures: the batch is
// answered, never failed whole.
func TestResendConcurrentlyWithinTheDeadline(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	dl := t0.Add(30 * time.Second)
	sqsc := &roundSQS{inFlight: sendConcurrency, now: t0, end: dl.Add(-SendFloor / 2), full: make(chan struct{})}
	cut := fmt.Errorf("the team's share of the batch's time ran out: %w", context.DeadlineExceeded)
	p := &byTeam{answer: map[string]error{"team_slow": cut}}
	h := &Handler{Queue: event.ContactQueue, Processor: p, DLQ: sqsc, DLQURL: "dlq", QueueURL: "queue", Now: sqsc.clock,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	var batch events.SQSEvent
	for i := range 1000 {
		batch.Records = append(batch.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%04d", i), Body: addedOf("team_slow", fmt.Sprintf("evt_%d", i))})
	}
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	resp, err := h.Handle(ctx, wire(t, batch))
	if err != nil {
		t.Fatalf("Handle: %v; want no error", err)
	}
	if want := dl.Add(-h.reserve(1000)); !p.deadline.Equal(want) || h.reserve(1000) <= DefaultReserve {
		t.Errorf("processor's deadline: got %v; want %v, the reserve of 1,000 messages", p.deadline, want)
	}
	if sqsc.calls != sendConcurrency || sqsc.most != sendConcurrency {
		t.Errorf("calls: got %d, at most %d at once; want %d at once, then none (less than %s left)", sqsc.calls, sqsc.most, sendConcurrency, SendFloor)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	if len(sqsc.entries) != 10*sendConcurrency || len(failed) != 1000-len(sqsc.entries) {
		t.Errorf("sent back %d, returned %d; want %d sent back, the other %d returned", len(sqsc.entries), len(failed), 10*sendConcurrency, 1000-10*sendConcurrency)
	}
	for _, e := range sqsc.entries {
		var ev struct{ ID string }
		_ = json.Unmarshal([]byte(e.body), &ev)
		if n, _ := strconv.Atoi(strings.TrimPrefix(ev.ID, "evt_")); failed[fmt.Sprintf("m%04d", n)] {
			t.Errorf("%s: sent back and returned; want one or the other", ev.ID)
		}
	}
}

func TestOutOfTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	cut := fmt.Errorf("find by email: %w", context.DeadlineExceeded)
	h := &Handler{OutOfTimeFor: time.Hour}
	tests := []struct {
		name  string
		err   error
		since time.Time
		want  bool
	}{
		{"out of time", cut, now.Add(-time.Minute), true},
		{"out of time, first receipt unknown", cut, time.Time{}, true},
		{"out of time for too long", cut, now.Add(-time.Hour), false},
		{"another failure", errors.New("salesforce: 503"), now, false},
		{"the context cancelled, not out of time", context.Canceled, now, false},
	}
	for _, tt := range tests {
		if got := h.outOfTime(tt.err, tt.since, now); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	if got := (&Handler{}).outOfTime(cut, now.Add(-DefaultOutOfTimeFor+time.Second), now); !got {
		t.Errorf("default OutOfTimeFor: got %v; want true within %s", got, DefaultOutOfTimeFor)
	}
}

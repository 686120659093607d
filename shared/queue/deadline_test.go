package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/event"
)

// sent records what a Handler sends, without SQS.
type sent struct {
	mu      sync.Mutex
	entries []sent1
}

type sent1 struct {
	body, since string
	delay       int32
}

func (s *sent) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}

func (s *sent) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range in.Entries {
		s.entries = append(s.entries, sent1{body: aws.ToString(e.MessageBody), delay: e.DelaySeconds,
			since: aws.ToString(e.MessageAttributes[WaitingSinceAttribute].StringValue)})
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

// byTeam is a processor that answers each message by its team, and notes
// the deadline of the context it was given.
type byTeam struct {
	answer   map[string]error // team -> error (absent: done)
	deadline time.Time
}

func (p *byTeam) Process(ctx context.Context, msgs []Message) map[string]error {
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

// TestHandleOutOfTime: the messages of a team whose time ran out are sent
// back to the queue with a short delay and their first receipt, and the
// delivered copies deleted (not returned: no receive counted); those of the
// other teams are done; a message past OutOfTimeFor returns as a failure.
func TestHandleOutOfTime(t *testing.T) {
	t.Parallel()
	out := &sent{}
	cut := fmt.Errorf("the team's share of the batch's time ran out: %w", context.DeadlineExceeded)
	p := &byTeam{answer: map[string]error{"team_slow": cut, "team_broken": errors.New("salesforce: 503")}}
	h := &Handler{Queue: event.ContactQueue, Processor: p, DLQ: out, DLQURL: "dlq", QueueURL: "queue",
		Reserve: 2 * time.Second, OutOfTimeFor: time.Hour, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	now := time.Now()
	recent := strconv.FormatInt(now.Add(-10*time.Minute).UnixMilli(), 10)
	old := strconv.FormatInt(now.Add(-2*time.Hour).UnixMilli(), 10)
	batch := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "s1", Body: addedOf("team_slow", "evt_s1"), Attributes: map[string]string{"ApproximateFirstReceiveTimestamp": recent}},
		{MessageId: "a1", Body: addedOf("team_a", "evt_a1")},
		{MessageId: "s2", Body: addedOf("team_slow", "evt_s2"), Attributes: map[string]string{"ApproximateFirstReceiveTimestamp": old}},
		{MessageId: "b1", Body: addedOf("team_broken", "evt_b1")},
		{MessageId: "a2", Body: addedOf("team_a", "evt_a2")},
	}}
	dl := now.Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	resp, err := h.Handle(ctx, wire(t, batch))
	if err != nil {
		t.Fatalf("Handle: %v; want no error (a whole-batch failure redelivers every team's messages)", err)
	}
	if !p.deadline.Equal(dl.Add(-2 * time.Second)) {
		t.Errorf("processor's deadline: got %v; want the function's less the reserve, %v", p.deadline, dl.Add(-2*time.Second))
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	slices.Sort(failed)
	if want := []string{"b1", "s2"}; !slices.Equal(failed, want) {
		t.Errorf("returned to the queue: got %v; want %v (a failure, and the message out of time for over an hour)", failed, want)
	}
	if len(out.entries) != 1 || !strings.Contains(out.entries[0].body, "evt_s1") {
		t.Fatalf("sent back: got %+v; want evt_s1 alone", out.entries)
	}
	if e := out.entries[0]; e.delay != int32(DefaultWaitMax/time.Second) || e.since != recent {
		t.Errorf("evt_s1 sent back: delay %d s, waiting since %s; want %s (a waiting message's), since its first receipt %s", e.delay, e.since, DefaultWaitMax, recent)
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

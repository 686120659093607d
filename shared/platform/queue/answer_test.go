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
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
)

// answerer records the invalid_event answers it is given, and fails when told.
type answerer struct {
	got []event.Outcome
	err error
}

func (a *answerer) AnswerInvalid(_ context.Context, outs []event.Outcome) error {
	a.got = append(a.got, outs...)
	return a.err
}

// dlqMessage is what the dead-letter queue got for one source message.
type dlqMessage struct{ reason, group string }

// drainDLQ reads every message of url, by source message id.
func drainDLQ(t *testing.T, url string, want int) map[string]dlqMessage {
	t.Helper()
	got := map[string]dlqMessage{}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.MessageAttributes["source_message_id"].StringValue)] = dlqMessage{
				reason: aws.ToString(m.MessageAttributes["error"].StringValue), group: m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]}
		}
	}
	return got
}

func newQueue(t *testing.T, name string) string {
	t.Helper()
	q, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("queue-test-%s-%d", name, time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl)
}

// TestHandleAnswersInvalidMessages: an invalid message that names its
// event and team is answered failed/invalid_event before it is
// dead-lettered, in its team's message group; one that does not is
// dead-lettered only; when the answer fails, the answerable messages come
// back instead of leaving unanswered.
func TestHandleAnswersInvalidMessages(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 5, 0, time.UTC)
	badEmail := strings.Replace(validAdded, `"ada@example.com"`, `"ada at example.com"`, 1)
	batch := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: badEmail},
		{MessageId: "m2", Body: validSent}, // on the wrong queue
		{MessageId: "m3", Body: `{"type":"contact.added","team_id":"team_acme"}`},
		{MessageId: "m4", Body: `not json`},
		{MessageId: "m5", Body: validAdded},
	}}
	for _, tt := range []struct {
		name     string
		err      error
		answered []string // event ids
		dlq      map[string]dlqMessage
		failures []string
	}{
		{name: "answered, then dead-lettered", answered: []string{"evt_1", "evt_2"},
			dlq: map[string]dlqMessage{
				"m1": {"data.contact.email: not an email address", "team_acme"},
				"m2": {"type: email.sent events belong on the activity-events queue", "team_acme"},
				"m3": {"version: missing", ""},
				"m4": {"body: not JSON", ""}}},
		{name: "the answer fails: they come back", err: errors.New("ledger unavailable"), answered: []string{"evt_1", "evt_2"},
			dlq:      map[string]dlqMessage{"m3": {"version: missing", ""}, "m4": {"body: not JSON", ""}},
			failures: []string{"m1", "m2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dlq := newQueue(t, "answer-dlq")
			a := &answerer{err: tt.err}
			rec := &recorder{}
			h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: dlq, Invalid: a,
				Now: func() time.Time { return at }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			resp, err := h.Handle(context.Background(), wire(t, batch))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, o := range a.got {
				ids = append(ids, o.EventID)
				if o.Status != event.StatusFailed || o.Reason != event.ReasonInvalidEvent || o.TeamID != "team_acme" || !o.At.Equal(at) {
					t.Errorf("answer of %s: got %s/%s for %s at %v; want failed/invalid_event for team_acme at %v", o.EventID, o.Status, o.Reason, o.TeamID, o.At, at)
				}
			}
			if !slices.Equal(ids, tt.answered) {
				t.Errorf("answered: got %v; want %v", ids, tt.answered)
			}
			var failures []string
			for _, f := range resp.BatchItemFailures {
				failures = append(failures, f.ItemIdentifier)
			}
			if !slices.Equal(failures, tt.failures) {
				t.Errorf("returned to the queue: got %v; want %v", failures, tt.failures)
			}
			if got := rec.got; !slices.Equal(got, []string{"m5"}) {
				t.Errorf("processed: got %v; want [m5]", got)
			}
			got := drainDLQ(t, dlq, len(tt.dlq))
			for id, w := range tt.dlq {
				g, ok := got[id]
				if !ok || !strings.HasPrefix(g.reason, w.reason) || g.group != w.group {
					t.Errorf("DLQ %s: got %+v (found %v); want reason prefix %q, group %q", id, g, ok, w.reason, w.group)
				}
			}
			if len(got) != len(tt.dlq) {
				t.Errorf("DLQ sources: got %v; want %v", got, tt.dlq)
			}
		})
	}
}

// TestHandleResendsInTheTeamsGroup: held and waiting copies go back to
// the queue in their team's message group, and a held copy carries when
// the queue first delivered its event, so its hold stays bounded however
// often it is sent again.
func TestHandleResendsInTheTeamsGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	own := newQueue(t, "group")
	first := time.Now().Add(-72 * time.Hour).UnixMilli()
	other := strings.Replace(strings.Replace(validAdded, `"evt_1"`, `"evt_2"`, 1), `"team_acme"`, `"team_globex"`, 1)
	rec := &recorder{fail: map[string]error{
		"m1": fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth),
		"m2": fmt.Errorf("%w: the contact.added is on its way", delivery.ErrWait),
	}}
	h := &Handler{Queue: event.ContactQueue, Processor: rec, DLQ: client, DLQURL: own, QueueURL: own,
		HoldDelay: time.Second, WaitMax: time.Second, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	resp, err := h.Handle(ctx, wire(t, events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: validAdded, Attributes: map[string]string{"ApproximateReceiveCount": "1",
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(first, 10)}},
		{MessageId: "m2", Body: other},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: got %v; want none", resp.BatchItemFailures)
	}
	type copyOf struct{ group, since string }
	got := map[string]copyOf{}
	deadline := time.Now().Add(8 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(own), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			ev, err := event.Decode([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatal(err)
			}
			got[ev.ID] = copyOf{m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)],
				aws.ToString(m.MessageAttributes[WaitingSinceAttribute].StringValue)}
		}
	}
	if g := got["evt_1"]; g.group != "team_acme" || g.since != strconv.FormatInt(first, 10) {
		t.Errorf("held copy: got group %q, %s %q; want team_acme, %d", g.group, WaitingSinceAttribute, g.since, first)
	}
	if g := got["evt_2"]; g.group != "team_globex" || g.since == "" {
		t.Errorf("waiting copy: got group %q, %s %q; want team_globex and a time", g.group, WaitingSinceAttribute, g.since)
	}
}

// Package queue is the SQS adapter of the sync functions: it decodes a batch
// of SQS messages into events, moves poison messages (malformed, or sent to
// the wrong queue) to the dead-letter queue with the reason, hands the valid
// events to the domain, and answers with a partial batch response so that
// only the messages that failed for a transient reason return to the queue.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/metrics"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Message is one valid event with its delivery facts.
type Message struct {
	ID           string // SQS message id
	ReceiveCount int
	Event        event.Event
	// Retry is set on a message the error inbox sent again after an admin
	// fixed the cause of a failure (message attribute RetryAttribute).
	Retry bool
	// FirstReceived is when the queue first delivered this message
	// (ApproximateFirstReceiveTimestamp); zero when the queue did not say.
	FirstReceived time.Time
}

// RetryAttribute is the SQS message attribute ("true") that marks an event
// sent again by the error inbox: its failed outcome is re-run, not repeated.
const RetryAttribute = "sfsync_retry"

func isRetry(rec events.SQSMessage) bool {
	a, ok := rec.MessageAttributes[RetryAttribute]
	return ok && a.StringValue != nil && *a.StringValue == "true"
}

// Processor is the domain side: it handles a batch and returns the ids of
// the messages that must be delivered again (transient failures), each with
// its reason.
type Processor interface {
	Process(ctx context.Context, msgs []Message) map[string]error
}

// Sender is the part of the SQS API used to dead-letter poison messages.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// ErrHold marks a message that must wait (its team needs to reconnect, or
// its org's API budget is spent): it is parked, not failed. Wrap it with the
// reason.
var ErrHold = errors.New("held until the team can sync")

// DefaultHoldDelay is how long a parked message stays invisible: SQS's maximum.
const DefaultHoldDelay = 15 * time.Minute

// Handler is the Lambda handler of one sync function.
type Handler struct {
	Queue     string // event.ContactQueue or event.ActivityQueue: the kinds this function accepts
	Processor Processor
	DLQ       Sender // sends poison messages to DLQURL and parks held ones on QueueURL
	DLQURL    string
	// QueueURL is the function's own queue. A held message is sent to it
	// again with a delay and the delivered copy deleted, so waiting never
	// counts towards maxReceiveCount and never ends in the DLQ. Events are
	// idempotent by id, so the copy is safe.
	QueueURL  string
	HoldDelay time.Duration
	Log       *slog.Logger
	// Metrics, when set, counts held events for the alarms: NeedsReauth and
	// BudgetExceeded per team.
	Metrics *metrics.EMF
}

// Handle processes one SQS batch.
func (h *Handler) Handle(ctx context.Context, in events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	msgs := make([]Message, 0, len(in.Records))
	bodies := make(map[string]string, len(in.Records))
	retries := map[string]bool{}
	for _, rec := range in.Records {
		bodies[rec.MessageId] = rec.Body
		retries[rec.MessageId] = isRetry(rec)
		ev, err := event.Decode([]byte(rec.Body))
		if err == nil && ev.Queue() != h.Queue {
			err = fmt.Errorf("type: %s events belong on the %s queue, not the %s queue: %w", ev.Type, ev.Queue(), h.Queue, event.ErrInvalid)
		}
		if err != nil {
			if derr := h.deadLetter(ctx, rec, err); derr != nil {
				h.Log.Error("dead-letter poison message", "message_id", rec.MessageId, "error", derr.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			}
			continue
		}
		n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
		m := Message{ID: rec.MessageId, ReceiveCount: n, Event: ev, Retry: isRetry(rec)}
		if ms, err := strconv.ParseInt(rec.Attributes["ApproximateFirstReceiveTimestamp"], 10, 64); err == nil && ms > 0 {
			m.FirstReceived = time.UnixMilli(ms).UTC()
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return resp, nil
	}
	teams := make(map[string]string, len(msgs))
	for _, m := range msgs {
		teams[m.ID] = m.Event.TeamID
	}
	failed := h.Processor.Process(ctx, msgs)
	var held []string
	for id, err := range failed {
		h.count(err, teams[id])
		if errors.Is(err, ErrHold) && h.QueueURL != "" {
			held = append(held, id)
			continue
		}
		h.Log.Warn("message returns to the queue", "message_id", id, "error", err.Error())
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	slices.Sort(held)
	parkErrs := h.park(ctx, held, bodies, retries)
	for _, id := range held {
		if perr := parkErrs[id]; perr != nil {
			h.Log.Error("park held message", "message_id", id, "error", perr.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
			continue
		}
		h.Log.Info("message held", "message_id", id, "reason", failed[id].Error())
	}
	return resp, nil
}

// count emits the metric of a held event, if it is one the alarms watch.
func (h *Handler) count(err error, team string) {
	if h.Metrics == nil || !errors.Is(err, ErrHold) {
		return
	}
	name := ""
	switch {
	case errors.Is(err, connection.ErrNeedsReauth):
		name = metrics.NeedsReauth
	case errors.Is(err, salesforce.ErrRequestLimit), errors.Is(err, budget.ErrCapped), errors.Is(err, budget.ErrNearCap):
		name = metrics.BudgetExceeded
	default:
		return
	}
	if merr := h.Metrics.Count(name, team, 1); merr != nil {
		h.Log.Warn("emit metric", "metric", name, "error", merr.Error())
	}
}

// park sends the held messages' bodies to the function's own queue again,
// invisible for the hold delay, ten to a call, and returns why any of them
// was not sent (those go back to the queue as failures instead).
func (h *Handler) park(ctx context.Context, ids []string, bodies map[string]string, retries map[string]bool) map[string]error {
	delay := h.HoldDelay
	if delay <= 0 || delay > DefaultHoldDelay {
		delay = DefaultHoldDelay
	}
	errs := map[string]error{}
	for _, chunk := range parkBatches(ids, bodies) {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(h.QueueURL)}
		for i, id := range chunk {
			e := sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(bodies[id]),
				DelaySeconds: int32(delay / time.Second)}
			if retries[id] {
				e.MessageAttributes = RetryAttributes()
			}
			in.Entries = append(in.Entries, e)
		}
		out, err := h.DLQ.SendMessageBatch(ctx, in)
		if err != nil {
			for _, id := range chunk {
				errs[id] = fmt.Errorf("send to %s: %w", h.QueueURL, err)
			}
			continue
		}
		for _, f := range out.Failed {
			if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i < len(chunk) {
				errs[chunk[i]] = fmt.Errorf("send to %s: %s: %s", h.QueueURL, aws.ToString(f.Code), aws.ToString(f.Message))
			}
		}
	}
	return errs
}

// SQS's limits on one SendMessageBatch: 10 entries, 256 KiB of payload in
// all (entryOverhead counts an entry's attributes and id, generously).
const (
	maxBatchEntries = 10
	maxBatchBytes   = 256 << 10
	entryOverhead   = 512
)

// parkBatches packs ids into SendMessageBatch calls within both limits, in order.
func parkBatches(ids []string, bodies map[string]string) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, id := range ids {
		n := len(bodies[id]) + entryOverhead
		if len(cur) == maxBatchEntries || (len(cur) > 0 && size+n > maxBatchBytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur, size = append(cur, id), size+n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// RetryAttributes are the message attributes of an event the error inbox
// sends again.
func RetryAttributes() map[string]sqstypes.MessageAttributeValue {
	return map[string]sqstypes.MessageAttributeValue{
		RetryAttribute: {DataType: aws.String("String"), StringValue: aws.String("true")}}
}

// deadLetter sends the message, body intact, to the DLQ with why it was rejected.
func (h *Handler) deadLetter(ctx context.Context, rec events.SQSMessage, reason error) error {
	if !errors.Is(reason, event.ErrInvalid) {
		return fmt.Errorf("not a poison message: %w", reason)
	}
	h.Log.Warn("poison message moved to the dead-letter queue", "message_id", rec.MessageId, "reason", reason.Error())
	_, err := h.DLQ.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(h.DLQURL),
		MessageBody: aws.String(rec.Body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"error":             {DataType: aws.String("String"), StringValue: aws.String(truncate(reason.Error(), 1000))},
			"source_message_id": {DataType: aws.String("String"), StringValue: aws.String(rec.MessageId)},
		},
	})
	if err != nil {
		return fmt.Errorf("send to DLQ: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ErrNoProcessor is the reason Hold gives.
var ErrNoProcessor = errors.New("queue: this function does not process these events yet; they stay queued")

// Hold returns every message to the queue (and, after maxReceiveCount
// receives, to the DLQ through the redrive policy). It keeps events safe while
// a function's domain processor is not deployed.
type Hold struct{}

// Process reports every message as not processed.
func (Hold) Process(_ context.Context, msgs []Message) map[string]error {
	out := make(map[string]error, len(msgs))
	for _, m := range msgs {
		out[m.ID] = ErrNoProcessor
	}
	return out
}

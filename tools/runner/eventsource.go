package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// EventSourceSpec is an SQS event source mapping.
type EventSourceSpec struct {
	QueueURL, QueueARN string
	BatchSize          int           // 1-10000
	BatchingWindow     time.Duration // how long to gather a batch after its first message
	MaxConcurrency     int           // batches in flight at once (pollers)
	// ReportBatchItemFailures turns on partial batch responses
	// (FunctionResponseTypes: ["ReportBatchItemFailures"]).
	ReportBatchItemFailures bool
	// PollWait is the long-poll wait of each ReceiveMessage (1-20s, default 20s).
	PollWait time.Duration
	Region   string
	Logger   *slog.Logger
	// OnBatch, when set, is told what became of every batch.
	OnBatch func(BatchReport)
}

// BatchReport tells what became of one batch.
type BatchReport struct {
	MessageIDs    []string
	ReceiveCounts map[string]int // message id -> ApproximateReceiveCount at delivery
	Deleted       []string       // deleted from the queue
	Failed        []string       // left on the queue, visible again after the visibility timeout
	// InvokeError is the invocation's failure (function error, crash,
	// timeout); the whole batch failed.
	InvokeError error
	// ResponseError is set when the function's response failed the whole
	// batch (invalid JSON, an empty or unknown itemIdentifier).
	ResponseError error
}

// ErrBadBatchResponse is the reason a partial batch response failed the
// whole batch, as Lambda does.
var ErrBadBatchResponse = errors.New("invalid partial batch response")

// EventSource polls one queue and invokes one function with its batches.
type EventSource struct {
	spec   EventSourceSpec
	fn     *Function
	sqs    *sqs.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartEventSource starts spec.MaxConcurrency pollers that deliver batches of
// the queue to fn, as Lambda's event source mapping does.
func StartEventSource(client *sqs.Client, fn *Function, spec EventSourceSpec) (*EventSource, error) {
	switch {
	case spec.QueueURL == "" || spec.QueueARN == "":
		return nil, errors.New("event source: queue URL and ARN are required")
	case spec.BatchSize < 1 || spec.BatchSize > 10000:
		return nil, fmt.Errorf("event source %s: batch size %d is outside 1-10000", spec.QueueARN, spec.BatchSize)
	case spec.BatchSize > 10 && spec.BatchingWindow <= 0:
		return nil, fmt.Errorf("event source %s: batch size %d needs a batching window, as Lambda requires above 10", spec.QueueARN, spec.BatchSize)
	case spec.BatchingWindow < 0 || spec.BatchingWindow > 5*time.Minute:
		return nil, fmt.Errorf("event source %s: batching window %s is outside 0-5m", spec.QueueARN, spec.BatchingWindow)
	case spec.PollWait < 0 || spec.PollWait > 20*time.Second:
		return nil, fmt.Errorf("event source %s: poll wait %s is outside 0-20s", spec.QueueARN, spec.PollWait)
	}
	if spec.MaxConcurrency <= 0 {
		spec.MaxConcurrency = 2
	}
	if spec.PollWait == 0 {
		spec.PollWait = 20 * time.Second
	}
	if spec.Region == "" {
		spec.Region = "us-east-1"
	}
	if spec.Logger == nil {
		spec.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	es := &EventSource{spec: spec, fn: fn, sqs: client, cancel: cancel}
	for range spec.MaxConcurrency {
		es.wg.Add(1)
		go es.poll(ctx)
	}
	return es, nil
}

// Stop stops receiving and waits for the batches in flight to finish.
func (es *EventSource) Stop() {
	es.cancel()
	es.wg.Wait()
}

func (es *EventSource) poll(ctx context.Context) {
	defer es.wg.Done()
	for ctx.Err() == nil {
		msgs, err := es.gather(ctx)
		if err != nil {
			if ctx.Err() == nil {
				es.spec.Logger.Warn("receive failed", "queue", es.spec.QueueARN, "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
		if len(msgs) == 0 {
			continue
		}
		if ctx.Err() != nil {
			// Stopping before the batch was delivered: make it visible again now.
			es.release(context.WithoutCancel(ctx), msgs)
			return
		}
		es.deliver(context.WithoutCancel(ctx), msgs)
	}
}

// recordOverhead approximates the JSON of one record besides its body.
const recordOverhead = 1024

// gather collects one batch: a long poll for the first messages, then short
// polls until the batch is full, its payload would pass Lambda's limit, or
// the batching window has passed.
func (es *EventSource) gather(ctx context.Context) ([]sqstypes.Message, error) {
	var msgs []sqstypes.Message
	size := 0
	var windowEnd time.Time
	for len(msgs) < es.spec.BatchSize {
		wait := int32(es.spec.PollWait / time.Second)
		if len(msgs) > 0 {
			wait = 0
		}
		out, err := es.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(es.spec.QueueURL),
			MaxNumberOfMessages:         int32(min(10, es.spec.BatchSize-len(msgs))),
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			return msgs, fmt.Errorf("receive from %s: %w", es.spec.QueueURL, err)
		}
		var over []sqstypes.Message
		for _, m := range out.Messages {
			n := len(aws.ToString(m.Body)) + recordOverhead
			if len(msgs) > 0 && size+n > MaxPayload {
				over = append(over, m)
				continue
			}
			size += n
			msgs = append(msgs, m)
		}
		if len(over) > 0 {
			es.release(ctx, over)
			return msgs, nil
		}
		if len(msgs) == 0 {
			if ctx.Err() != nil {
				return nil, nil
			}
			continue
		}
		if windowEnd.IsZero() {
			windowEnd = time.Now().Add(es.spec.BatchingWindow)
		}
		left := time.Until(windowEnd)
		if left <= 0 {
			break
		}
		if len(out.Messages) == 0 {
			select {
			case <-ctx.Done():
				return msgs, nil
			case <-time.After(min(left, 100*time.Millisecond)):
			}
		}
	}
	return msgs, nil
}

// release makes messages visible again at once.
func (es *EventSource) release(ctx context.Context, msgs []sqstypes.Message) {
	for start := 0; start < len(msgs); start += 10 {
		var entries []sqstypes.ChangeMessageVisibilityBatchRequestEntry
		for i, m := range msgs[start:min(start+10, len(msgs))] {
			entries = append(entries, sqstypes.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			})
		}
		if _, err := es.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(es.spec.QueueURL), Entries: entries,
		}); err != nil {
			es.spec.Logger.Warn("release messages failed", "queue", es.spec.QueueARN, "error", err)
		}
	}
}

// Event builds the SQS event Lambda would deliver for msgs.
func (es *EventSource) Event(msgs []sqstypes.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             map[string]string{},
			MessageAttributes:      map[string]events.SQSMessageAttribute{},
			EventSourceARN:         es.spec.QueueARN,
			EventSource:            "aws:sqs",
			AWSRegion:              es.spec.Region,
		}
		for k, v := range m.Attributes {
			rec.Attributes[k] = v
		}
		for k, v := range m.MessageAttributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{
				StringValue: v.StringValue, BinaryValue: v.BinaryValue,
				StringListValues: v.StringListValues, BinaryListValues: v.BinaryListValues,
				DataType: aws.ToString(v.DataType),
			}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

func (es *EventSource) deliver(ctx context.Context, msgs []sqstypes.Message) {
	rep := BatchReport{ReceiveCounts: map[string]int{}}
	byID := map[string]sqstypes.Message{}
	for _, m := range msgs {
		id := aws.ToString(m.MessageId)
		rep.MessageIDs = append(rep.MessageIDs, id)
		n, _ := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		rep.ReceiveCounts[id] = n
		byID[id] = m
	}
	payload, err := json.Marshal(es.Event(msgs))
	if err != nil {
		rep.InvokeError = fmt.Errorf("encode SQS event: %w", err)
	} else {
		var resp []byte
		resp, rep.InvokeError = es.fn.Invoke(ctx, payload)
		if rep.InvokeError == nil {
			var failed map[string]bool
			failed, rep.ResponseError = es.failures(resp, byID)
			var del []sqstypes.Message
			if rep.ResponseError == nil {
				for _, m := range msgs {
					if !failed[aws.ToString(m.MessageId)] {
						del = append(del, m)
					}
				}
			}
			rep.Deleted = es.delete(ctx, del)
		}
	}
	deleted := map[string]bool{}
	for _, id := range rep.Deleted {
		deleted[id] = true
	}
	for _, id := range rep.MessageIDs {
		if !deleted[id] {
			rep.Failed = append(rep.Failed, id)
		}
	}
	log := es.spec.Logger.With("function", es.fn.Name(), "queue", es.spec.QueueARN, "messages", len(msgs))
	switch {
	case rep.InvokeError != nil:
		log.Warn("batch failed: invocation error", "error", rep.InvokeError.Error())
	case rep.ResponseError != nil:
		log.Warn("batch failed: bad batch response", "error", rep.ResponseError.Error())
	case len(rep.Failed) > 0:
		log.Info("batch partly failed", "failed", len(rep.Failed))
	default:
		log.Debug("batch done")
	}
	if es.spec.OnBatch != nil {
		es.spec.OnBatch(rep)
	}
}

// failures reads the function's response: the ids to leave on the queue, or
// an error when the response fails the whole batch (as Lambda treats an
// invalid JSON response, an empty or missing itemIdentifier, or one that is
// not a message of the batch).
func (es *EventSource) failures(resp []byte, batch map[string]sqstypes.Message) (map[string]bool, error) {
	if !es.spec.ReportBatchItemFailures {
		return nil, nil
	}
	var raw any
	if err := json.Unmarshal(resp, &raw); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrBadBatchResponse, err)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, nil // null or a non-object: complete success
	}
	list, ok := obj["batchItemFailures"]
	if !ok || list == nil {
		return nil, nil
	}
	items, ok := list.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: batchItemFailures is not a list", ErrBadBatchResponse)
	}
	failed := map[string]bool{}
	for i, it := range items {
		entry, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: batchItemFailures[%d] is not an object", ErrBadBatchResponse, i)
		}
		id, _ := entry["itemIdentifier"].(string)
		if id == "" {
			return nil, fmt.Errorf("%w: batchItemFailures[%d].itemIdentifier is missing or empty", ErrBadBatchResponse, i)
		}
		if _, ok := batch[id]; !ok {
			return nil, fmt.Errorf("%w: batchItemFailures[%d].itemIdentifier %q is not a message of the batch", ErrBadBatchResponse, i, id)
		}
		failed[id] = true
	}
	return failed, nil
}

// delete deletes msgs and returns the ids deleted.
func (es *EventSource) delete(ctx context.Context, msgs []sqstypes.Message) []string {
	var done []string
	for start := 0; start < len(msgs); start += 10 {
		chunk := msgs[start:min(start+10, len(msgs))]
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := es.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(es.spec.QueueURL), Entries: entries})
		if err != nil {
			es.spec.Logger.Warn("delete failed", "queue", es.spec.QueueARN, "error", err)
			continue
		}
		for _, s := range out.Successful {
			i, _ := strconv.Atoi(aws.ToString(s.Id))
			done = append(done, aws.ToString(chunk[i].MessageId))
		}
		for _, f := range out.Failed {
			es.spec.Logger.Warn("delete failed", "queue", es.spec.QueueARN, "code", aws.ToString(f.Code), "message", aws.ToString(f.Message))
		}
	}
	return done
}

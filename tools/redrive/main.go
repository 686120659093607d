// Command redrive moves the messages of a dead-letter queue back to the
// queue they came from, after the cause of their failure was fixed.
//
//	go run ./tools/redrive -dlq <DLQ URL> -to <queue URL>
//
// By default it asks SQS to do the move itself (StartMessageMoveTask, the
// service's own redrive), and, where the API does not exist (an emulator, an
// old region), moves the messages itself: receive, send to the queue, then
// delete from the DLQ. Running it twice is safe: the second run finds the
// DLQ empty, or an SQS move task already running. A run stopped between a
// send and its delete leaves a message in both queues; the sync functions
// take an event once by its id, so the copy does no harm.
//
// Messages that were dead-lettered as malformed carry an "error" attribute
// saying why; they fail again unless the sequencer's fix changed them, so
// look at them first (aws sqs receive-message --message-attribute-names All).
//
// A message moved here goes back in its team's message group (the body's
// team_id, else the group it was in), as the sequencer sends it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sfsync/sfsync/shared/event"
)

func main() {
	dlq := flag.String("dlq", "", "URL of the dead-letter queue to empty (required)")
	to := flag.String("to", "", "URL of the queue to move the messages to (required)")
	mode := flag.String("mode", "auto", "auto: SQS's own move task where it exists, else move here; sqs: only SQS's task; copy: move here")
	max := flag.Int("max", 0, "move at most this many messages (copy mode; 0: all)")
	flag.Parse()
	if *dlq == "" || *to == "" {
		fmt.Fprintln(os.Stderr, "redrive: -dlq and -to are required (the stack's outputs name the queues)")
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redrive: AWS configuration:", err)
		os.Exit(1)
	}
	r := Redriver{SQS: sqs.NewFromConfig(cfg), Log: func(s string) { fmt.Println(s) }}
	res, err := r.Run(ctx, *dlq, *to, Mode(*mode), *max)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
	fmt.Println(res)
}

// Mode chooses how messages move.
type Mode string

const (
	ModeAuto Mode = "auto"
	ModeSQS  Mode = "sqs"
	ModeCopy Mode = "copy"
)

// API is the part of SQS the redrive uses.
type API interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Redriver moves messages from a DLQ back to their queue.
type Redriver struct {
	SQS API
	Log func(string)
}

// Result says what a run did.
type Result struct {
	Mode     Mode
	TaskID   string // SQS's move task, in sqs mode
	Moved    int    // messages moved here, in copy mode
	Existing bool   // an SQS move task was already running
}

func (r Result) String() string {
	switch {
	case r.Existing:
		return "an SQS message move task is already running for this DLQ; nothing started"
	case r.Mode == ModeSQS:
		return "SQS message move task started: " + r.TaskID + " (aws sqs list-message-move-tasks --source-arn <DLQ ARN> follows it)"
	default:
		return "moved " + strconv.Itoa(r.Moved) + " messages"
	}
}

// dlqAnnotations are the attributes the sync functions add when they
// dead-letter a message; the redriven message goes back without them.
var dlqAnnotations = map[string]bool{"error": true, "source_message_id": true}

// groupOf is the MessageGroupId a moved message goes back with: the team
// its body names, as the sequencer sends it, so SQS fair queueing counts it
// against its team; else the group it was in; none when neither is known.
func groupOf(m sqstypes.Message) *string {
	var body struct {
		TeamID string `json:"team_id"`
	}
	if json.Unmarshal([]byte(aws.ToString(m.Body)), &body) == nil && event.CheckTeamID(body.TeamID) == nil {
		return aws.String(body.TeamID)
	}
	if g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]; g != "" {
		return aws.String(g)
	}
	return nil
}

// Run moves the DLQ's messages to the queue.
func (r Redriver) Run(ctx context.Context, dlqURL, toURL string, mode Mode, max int) (Result, error) {
	switch mode {
	case ModeAuto, ModeSQS, ModeCopy:
	default:
		return Result{}, fmt.Errorf("mode: %q is not one of auto, sqs, copy", mode)
	}
	if dlqURL == toURL {
		return Result{}, errors.New("-dlq and -to name the same queue")
	}
	if mode != ModeCopy {
		res, err := r.sqsTask(ctx, dlqURL, toURL)
		if err == nil || mode == ModeSQS {
			return res, err
		}
		// Whatever kept the task from starting (an endpoint without the
		// API answers anything from 400 to 500), moving the messages here
		// is as safe, only slower.
		r.log("SQS's message move task is not available here (" + err.Error() + "); moving the messages one batch at a time")
	}
	return r.copy(ctx, dlqURL, toURL, max)
}

func (r Redriver) log(s string) {
	if r.Log != nil {
		r.Log(s)
	}
}

func (r Redriver) arn(ctx context.Context, url string) (string, error) {
	out, err := r.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", url, err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

func (r Redriver) sqsTask(ctx context.Context, dlqURL, toURL string) (Result, error) {
	src, err := r.arn(ctx, dlqURL)
	if err != nil {
		return Result{}, err
	}
	dst, err := r.arn(ctx, toURL)
	if err != nil {
		return Result{}, err
	}
	out, err := r.SQS.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(src), DestinationArn: aws.String(dst)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "AWS.SimpleQueueService.UnsupportedOperation" {
		// One move task per source at a time: a second run finds the first.
		return Result{Mode: ModeSQS, Existing: true}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("start message move task: %w", err)
	}
	return Result{Mode: ModeSQS, TaskID: aws.ToString(out.TaskHandle)}, nil
}

func (r Redriver) copy(ctx context.Context, dlqURL, toURL string, max int) (Result, error) {
	res := Result{Mode: ModeCopy}
	empty := 0
	for empty < 2 && (max == 0 || res.Moved < max) {
		n := int32(10)
		if max > 0 && max-res.Moved < 10 {
			n = int32(max - res.Moved)
		}
		out, err := r.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: n,
			WaitTimeSeconds: 1, VisibilityTimeout: 60, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId}})
		if err != nil {
			return res, fmt.Errorf("receive from the DLQ: %w", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			attrs := map[string]sqstypes.MessageAttributeValue{}
			for k, v := range m.MessageAttributes {
				if !dlqAnnotations[k] {
					attrs[k] = v
				}
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageGroupId: groupOf(m)}
			if len(attrs) > 0 {
				entries[i].MessageAttributes = attrs
			}
		}
		sent, err := r.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(toURL), Entries: entries})
		if err != nil {
			return res, fmt.Errorf("send to the queue: %w", err)
		}
		var del []sqstypes.DeleteMessageBatchRequestEntry
		for _, s := range sent.Successful {
			i, _ := strconv.Atoi(aws.ToString(s.Id))
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: s.Id, ReceiptHandle: out.Messages[i].ReceiptHandle})
		}
		if len(del) > 0 {
			// A message sent but not deleted comes back from the DLQ after
			// its visibility timeout and is sent again: harmless, events
			// are taken once by id.
			if _, err := r.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(dlqURL), Entries: del}); err != nil {
				return res, fmt.Errorf("delete from the DLQ: %w", err)
			}
		}
		res.Moved += len(del)
		if len(sent.Failed) > 0 {
			r.log(fmt.Sprintf("%d messages were not taken by the queue (%s); they stay in the DLQ", len(sent.Failed), aws.ToString(sent.Failed[0].Message)))
		}
		r.log(fmt.Sprintf("moved %d", res.Moved))
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

package motoserver_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/tools/motoserver"
)

// TestQueueAnswersAsSQS: the launcher's SQS fast paths (launcher.py) keep
// SQS's answers: delayed and in-flight messages are not received, the
// approximate counts add up, a visibility change makes a message visible
// again under a new receipt handle, a delete removes it and succeeds again,
// an unknown handle is refused, and a waiting long poll gets a message sent
// while it waits.
func TestQueueAnswersAsSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := sqs.NewFromConfig(sharedConfig(t))
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("launcher-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	url := created.QueueUrl
	send := func(body string, delay int32) {
		t.Helper()
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(body), DelaySeconds: delay}); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(wait int32) []sqstypes.Message {
		t.Helper()
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: wait,
			VisibilityTimeout: 300, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	counts := func() string {
		t.Helper()
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
		if err != nil {
			t.Fatal(err)
		}
		a := out.Attributes
		return fmt.Sprintf("visible %s, in flight %s, delayed %s", a["ApproximateNumberOfMessages"],
			a["ApproximateNumberOfMessagesNotVisible"], a["ApproximateNumberOfMessagesDelayed"])
	}
	bodies := func(ms []sqstypes.Message) string {
		var s []string
		for _, m := range ms {
			s = append(s, aws.ToString(m.Body)+"#"+m.Attributes["ApproximateReceiveCount"])
		}
		return fmt.Sprint(s)
	}

	send("a", 0)
	send("b", 0)
	send("later", 600)
	if got, want := counts(), "visible 2, in flight 0, delayed 1"; got != want {
		t.Errorf("after sending: got %v; want %v", got, want)
	}
	first := receive(0)
	if got, want := bodies(first), "[a#1 b#1]"; got != want {
		t.Fatalf("first receive: got %v; want %v", got, want)
	}
	if got, want := counts(), "visible 0, in flight 2, delayed 1"; got != want {
		t.Errorf("after receiving: got %v; want %v", got, want)
	}
	if got := receive(0); len(got) != 0 {
		t.Errorf("receive with all in flight: got %v; want none", bodies(got))
	}

	// a becomes visible again and comes back under a new handle.
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	again := receive(0)
	if got, want := bodies(again), "[a#2]"; got != want {
		t.Fatalf("receive after visibility change: got %v; want %v", got, want)
	}
	if aws.ToString(again[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Errorf("receipt handle: got the first one again; want a new one")
	}

	del := func(handle *string) error {
		out, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url,
			Entries: []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("0"), ReceiptHandle: handle}}})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return errors.New(aws.ToString(out.Failed[0].Code))
		}
		return nil
	}
	tests := []struct {
		name   string
		handle *string
		want   string
	}{
		{"current handle", again[0].ReceiptHandle, "<nil>"},
		{"deleted again", again[0].ReceiptHandle, "<nil>"},
		{"other message", first[1].ReceiptHandle, "<nil>"},
		{"unknown handle", aws.String("not-a-handle"), "ReceiptHandleIsInvalid"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(del(tt.handle)); got != tt.want {
			t.Errorf("delete, %s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	if got, want := counts(), "visible 0, in flight 0, delayed 1"; got != want {
		t.Errorf("after deleting: got %v; want %v", got, want)
	}
	var invalid *sqstypes.ReceiptHandleIsInvalid
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: aws.String("not-a-handle"), VisibilityTimeout: 0}); !errors.As(err, &invalid) {
		t.Errorf("visibility change, unknown handle: got %v; want ReceiptHandleIsInvalid", err)
	}

	// A long poll that starts on an empty queue gets the message sent while
	// it waits (it would answer empty at the end of its wait otherwise).
	got := make(chan []sqstypes.Message, 1)
	go func() { got <- receive(10) }()
	time.Sleep(500 * time.Millisecond)
	send("c", 0)
	if got, want := bodies(<-got), "[c#1]"; got != want {
		t.Errorf("long poll: got %v; want %v", got, want)
	}
}

// sharedConfig is the AWS configuration of the run's shared moto_server.
func sharedConfig(t *testing.T) aws.Config {
	t.Helper()
	ep, err := motoserver.Shared()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := motoserver.AWSConfig(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

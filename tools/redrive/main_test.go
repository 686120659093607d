package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/tools/motoserver"
)

var client *sqs.Client

func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) { client = sqs.NewFromConfig(cfg) }))
}

func queue(t *testing.T, name string) string {
	t.Helper()
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func drain(t *testing.T, url string) []sqstypes.Message {
	t.Helper()
	var all []sqstypes.Message
	for empty := 0; empty < 2; {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
		}
		all = append(all, out.Messages...)
	}
	return all
}

func TestRedriveMovesEveryMessageOnceAndIsSafeToRunTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	suffix := rand.Text()[:8]
	dlq, src := queue(t, "redrive-dlq-"+suffix), queue(t, "redrive-src-"+suffix)
	for i := range 23 {
		attrs := map[string]sqstypes.MessageAttributeValue{
			"error": {DataType: aws.String("String"), StringValue: aws.String("salesforce was down")}}
		if i == 0 {
			attrs["sfsync_retry"] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("true")}
		}
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlq),
			MessageBody: aws.String(fmt.Sprintf(`{"id":"evt_%d"}`, i)), MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	var logs []string
	r := Redriver{SQS: client, Log: func(s string) { logs = append(logs, s) }}
	res, err := r.Run(ctx, dlq, src, ModeAuto, 0)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if res.Mode != ModeCopy || res.Moved != 23 {
		t.Errorf("first run: got %+v; want 23 moved here (the emulator has no move task)", res)
	}
	if len(logs) == 0 || !strings.Contains(logs[0], "not available here") {
		t.Errorf("logs: got %q; want the fallback said", logs)
	}
	res, err = r.Run(ctx, dlq, src, ModeAuto, 0)
	if err != nil || res.Moved != 0 {
		t.Errorf("second run: got %+v %v; want nothing moved", res, err)
	}
	got := drain(t, src)
	seen := map[string]int{}
	for _, m := range got {
		seen[aws.ToString(m.Body)]++
		if _, ok := m.MessageAttributes["error"]; ok {
			t.Errorf("message %s: got the DLQ's error attribute; want it left behind", aws.ToString(m.Body))
		}
		if aws.ToString(m.Body) == `{"id":"evt_0"}` && m.MessageAttributes["sfsync_retry"].StringValue == nil {
			t.Errorf("the retry mark: got lost; want it kept")
		}
	}
	if len(seen) != 23 || len(got) != 23 {
		t.Errorf("queue: got %d messages, %d distinct; want 23 once each", len(got), len(seen))
	}
	if left := drain(t, dlq); len(left) != 0 {
		t.Errorf("DLQ after the runs: got %d messages; want 0", len(left))
	}
}

func TestRedriveRejectsBadArguments(t *testing.T) {
	t.Parallel()
	r := Redriver{SQS: client}
	tests := []struct {
		dlq, to string
		mode    Mode
		want    string
	}{
		{"http://q/a", "http://q/a", ModeAuto, "same queue"},
		{"http://q/a", "http://q/b", "fast", "mode"},
	}
	for _, tt := range tests {
		if _, err := r.Run(context.Background(), tt.dlq, tt.to, tt.mode, 0); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%q, %q, %q): got %v; want an error about %s", tt.dlq, tt.to, tt.mode, err, tt.want)
		}
	}
}

// TestRedriveKeepsTheTeamsGroup: a moved message goes back in its team's
// message group: the team_id of its body, else the group it was in (a body
// that does not parse, or names no valid team), else none.
func TestRedriveKeepsTheTeamsGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	suffix := rand.Text()[:8]
	dlq, src := queue(t, "redrive-group-dlq-"+suffix), queue(t, "redrive-group-src-"+suffix)
	msgs := []struct{ body, group, want string }{
		{`{"id":"evt_1","team_id":"team_a"}`, "", "team_a"},
		{`{"id":"evt_2","team_id":"team_a"}`, "team_x", "team_a"},
		{`not json`, "team_b", "team_b"},
		{`{"id":"evt_4","team_id":"bad#team"}`, "team_c", "team_c"},
		{`neither`, "", ""},
	}
	want := map[string]string{}
	for _, m := range msgs {
		in := &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(m.body)}
		if m.group != "" {
			in.MessageGroupId = aws.String(m.group)
		}
		if _, err := client.SendMessage(ctx, in); err != nil {
			t.Fatal(err)
		}
		want[m.body] = m.want
	}
	if res, err := (Redriver{SQS: client}).Run(ctx, dlq, src, ModeCopy, 0); err != nil || res.Moved != len(msgs) {
		t.Fatalf("run: got %+v %v; want %d moved", res, err, len(msgs))
	}
	got := map[string]string{}
	for len(got) < len(msgs) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("groups: got %v; want %v", got, want)
	}
}

package queue

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestBatchDecodesLambdaEvents: a Batch reads from Lambda's SQS event what
// an events.SQSEvent reads, for the fields the handler uses: the sample
// events under events/lambda, and one carrying our message attributes
// beside another.
func TestBatchDecodesLambdaEvents(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "events", "lambda", "*.sqs.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("sample SQS events: got %v, %v; want some", files, err)
	}
	inputs := map[string][]byte{"our attributes": []byte(`{"Records":[{"messageId":"m1","receiptHandle":"r","body":"{}",
		"attributes":{"ApproximateReceiveCount":"4","SentTimestamp":"1","ApproximateFirstReceiveTimestamp":"1796040000123"},
		"messageAttributes":{"sfsync_retry":{"stringValue":"true","dataType":"String"},
			"sfsync_waiting_since":{"stringValue":"1796040000000","dataType":"Number"},
			"sfsync_out_of_time_since":{"stringValue":"1796040060000","dataType":"Number"},
			"other":{"stringValue":"x","dataType":"String"}},
		"md5OfBody":"99914b932bd37a50b983c5e7c90ae93b","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:eu-west-1:1:q","awsRegion":"eu-west-1"}]}`)}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = b
	}
	for name, raw := range inputs {
		var lean Batch
		var full events.SQSEvent
		if err := json.Unmarshal(raw, &lean); err != nil {
			t.Fatalf("%s: decode Batch: %v", name, err)
		}
		if err := json.Unmarshal(raw, &full); err != nil {
			t.Fatalf("%s: decode SQSEvent: %v", name, err)
		}
		if got, want := len(lean.Records), len(full.Records); got != want || got == 0 {
			t.Fatalf("%s: records: got %d; want %d (at least one)", name, got, want)
		}
		for i, r := range full.Records {
			l := lean.Records[i]
			value := func(a *events.SQSMessageAttribute) string {
				if a == nil || a.StringValue == nil {
					return "<none>"
				}
				return *a.StringValue
			}
			mapValue := func(key string) string {
				a, ok := r.MessageAttributes[key]
				if !ok {
					return "<none>"
				}
				return value(&a)
			}
			got := []string{l.MessageID, l.Body, l.Attributes.ApproximateReceiveCount, l.Attributes.ApproximateFirstReceiveTimestamp,
				value(l.MessageAttributes.Retry), value(l.MessageAttributes.WaitingSince), value(l.MessageAttributes.OutOfTimeSince)}
			want := []string{r.MessageId, r.Body, r.Attributes["ApproximateReceiveCount"], r.Attributes["ApproximateFirstReceiveTimestamp"],
				mapValue(RetryAttribute), mapValue(WaitingSinceAttribute), mapValue(OutOfTimeSinceAttribute)}
			for j := range got {
				if got[j] != want[j] {
					t.Errorf("%s: record %d field %d: got %q; want %q", name, i, j, got[j], want[j])
				}
			}
		}
	}
	if r := (Batch{}); json.Unmarshal(inputs["our attributes"], &r) == nil && (!isRetry(r.Records[0]) || firstReceived(r.Records[0]).UnixMilli() != 1796040000000 ||
		outOfTimeSince(r.Records[0]).UnixMilli() != 1796040060000) {
		t.Errorf("our attributes: got retry %v, first received %v, out of time since %v; want true, 1796040000000, 1796040060000",
			isRetry(r.Records[0]), firstReceived(r.Records[0]).UnixMilli(), outOfTimeSince(r.Records[0]).UnixMilli())
	}
}

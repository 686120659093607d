package outcomes_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/outcomes"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) { awsCfg = cfg }))
}

// resultsQueue provisions a fresh stack and returns its results queue.
func resultsQueue(t *testing.T) (*sqs.Client, string) {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prov, err := runner.Provision(context.Background(), awsCfg, "outcomes-"+hex.EncodeToString(b), runner.ProvisionOptions{ClientSecret: "x"})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return sqs.NewFromConfig(awsCfg), prov.Env[resources.EnvResultsQueueURL]
}

// drain receives want distinct messages (or fails after a few seconds).
// SQS delivers at least once, and the SDK sends a batch again when an
// answer is lost (moto under load drops connections), so a body seen
// twice counts once: consumers of the results queue dedupe by outcome id.
func drain(t *testing.T, q *sqs.Client, url string, want int) []types.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []types.Message
	seen := map[string]bool{}
	for len(got) < want {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive after %d of %d messages: %v", len(got), want, err)
		}
		for _, m := range out.Messages {
			if !seen[aws.ToString(m.Body)] {
				seen[aws.ToString(m.Body)] = true
				got = append(got, m)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	extra := 0
	for _, m := range out.Messages {
		if !seen[aws.ToString(m.Body)] {
			extra++
		}
	}
	if extra != 0 {
		t.Errorf("extra messages: got %d more; want none", extra)
	}
	return got
}

func sample(i int) event.Outcome {
	at := time.Date(2026, 11, 26, 10, 0, 0, i*1000, time.UTC)
	o := event.Outcome{ID: fmt.Sprintf("out_%02d", i), Type: event.ContactOutcome, Version: event.Version, TeamID: "team_acme",
		EventID: fmt.Sprintf("evt_%02d", i), ContactID: fmt.Sprintf("ct_%02d", i), SequenceID: "seq_1", At: at}
	switch i % 4 {
	case 0:
		o.Status, o.Salesforce = event.StatusCreated, &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	case 1:
		o.Status, o.Reason = event.StatusSkipped, event.ReasonSequenceSyncDisabled
	case 2:
		o.Status, o.Error = event.StatusFailed, &event.OutcomeError{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: ‘x’ <\"ü\">", Fields: []string{"Email"}}
	default:
		o.Type, o.Status, o.Salesforce = event.DedupOutcome, event.StatusExistsInSalesforce, &event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001"}
	}
	return o
}

func TestPublishDeliversOutcomesIntact(t *testing.T) {
	t.Parallel()
	q, url := resultsQueue(t)
	var outs []event.Outcome
	for i := range 25 {
		outs = append(outs, sample(i))
	}
	calls := &faulty{API: q}
	if err := outcomes.New(calls, url).Publish(context.Background(), outs); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if got := calls.calls(); got != 3 {
		t.Errorf("SendMessageBatch calls for 25 outcomes: got %d; want 3", got)
	}
	msgs := drain(t, q, url, 25)
	byEvent := map[string]event.Outcome{}
	for _, o := range outs {
		byEvent[o.EventID] = o
	}
	for _, m := range msgs {
		var got event.Outcome
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &got); err != nil {
			t.Fatalf("body %q: %v", aws.ToString(m.Body), err)
		}
		want, ok := byEvent[got.EventID]
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("message: got %+v; want %+v", got, want)
		}
		delete(byEvent, got.EventID)
		if err := got.Validate(); err != nil {
			t.Errorf("message %s: got invalid (%v); want valid", got.EventID, err)
		}
		attrs := map[string]string{}
		for k, v := range m.MessageAttributes {
			attrs[k] = aws.ToString(v.StringValue)
		}
		wantAttrs := map[string]string{"team_id": want.TeamID, "type": string(want.Type), "status": string(want.Status)}
		if !reflect.DeepEqual(attrs, wantAttrs) {
			t.Errorf("attributes of %s: got %v; want %v", got.EventID, attrs, wantAttrs)
		}
	}
	if len(byEvent) != 0 {
		t.Errorf("outcomes not delivered: got %d missing; want none", len(byEvent))
	}
}

// faulty is the real SQS client with injected per-entry failures: the first
// failFirst sends of entries whose body contains a marker come back failed.
type faulty struct {
	outcomes.API
	faults
	mu          sync.Mutex
	n           int
	failedSoFar map[string]int
}

type faults struct {
	marker      string
	senderFault bool
	failFirst   int
	callErrs    int // whole calls to fail first
}

func (f *faulty) calls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.n }

func (f *faulty) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	f.n++
	if f.callErrs > 0 {
		f.callErrs--
		f.mu.Unlock()
		return nil, errors.New("connection reset by peer")
	}
	var keep []types.SendMessageBatchRequestEntry
	var failed []types.BatchResultErrorEntry
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		if f.marker != "" && strings.Contains(aws.ToString(e.MessageBody), f.marker) && f.failedSoFar[id] < f.failFirst {
			f.failedSoFar[id]++
			failed = append(failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("injected"), SenderFault: f.senderFault})
			continue
		}
		keep = append(keep, e)
	}
	f.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	if len(keep) > 0 {
		cp := *in
		cp.Entries = keep
		var err error
		if out, err = f.API.SendMessageBatch(ctx, &cp, o...); err != nil {
			return nil, err
		}
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

func TestPublishRetriesAndReports(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      faults
		invalid    bool
		wantCalls  int
		wantFailed int // 0: success
		wantSent   int
	}{
		{"a transient entry failure is resent", faults{marker: "ct_03", failFirst: 2}, false, 4, 0, 12},
		{"a failed call is resent whole", faults{callErrs: 1}, false, 3, 0, 12},
		{"a transient failure that persists is reported", faults{marker: "ct_05", failFirst: 99}, false, 5, 1, 11},
		{"the sender's fault is not resent", faults{marker: "ct_07", failFirst: 99, senderFault: true}, false, 2, 1, 11},
		{"an invalid outcome is reported, the rest sent", faults{}, true, 2, 1, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, url := resultsQueue(t)
			f := &faulty{API: q, faults: tt.fault, failedSoFar: map[string]int{}}
			var outs []event.Outcome
			for i := range 12 {
				outs = append(outs, sample(i))
			}
			if tt.invalid {
				outs[4].ContactID = ""
			}
			p := outcomes.New(f, url)
			p.Backoff = time.Millisecond
			err := p.Publish(context.Background(), outs)
			var pe *outcomes.Error
			switch {
			case tt.wantFailed == 0 && err != nil:
				t.Errorf("got %v; want nil", err)
			case tt.wantFailed > 0 && (!errors.As(err, &pe) || pe.Failed != tt.wantFailed || pe.Total != 12 || !errors.Is(err, outcomes.ErrNotPublished)):
				t.Errorf("got %v; want an *Error with %d of 12 failed", err, tt.wantFailed)
			}
			if tt.invalid && (err == nil || !strings.Contains(err.Error(), "outcomes[4] (evt_04): contact_id")) {
				t.Errorf("got %v; want it to name outcomes[4] and contact_id", err)
			}
			if got := f.calls(); got != tt.wantCalls {
				t.Errorf("calls: got %d; want %d", got, tt.wantCalls)
			}
			if got := len(drain(t, q, url, tt.wantSent)); got != tt.wantSent {
				t.Errorf("delivered: got %d; want %d", got, tt.wantSent)
			}
		})
	}
}

// TestPublishInWindows: outcomes go out a window at a time, and every one
// of them is sent or reported by its index in the whole list, whichever
// window it fell in.
func TestPublishInWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		window    int
		wantCalls int
	}{
		{"one window", 0, 3},            // 12 outcomes, 11 valid: 2 calls, and ct_07 resent
		{"windows of five", 5, 4},       // 5, 5, 2 outcomes: 3 calls, and ct_07 resent
		{"a window per outcome", 1, 12}, // 11 valid: 11 calls, and ct_07 resent
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, url := resultsQueue(t)
			f := &faulty{API: q, faults: faults{marker: "ct_07", failFirst: 1}, failedSoFar: map[string]int{}}
			var outs []event.Outcome
			for i := range 12 {
				outs = append(outs, sample(i))
			}
			outs[11].ContactID = "" // invalid, in the last window
			p := outcomes.New(f, url)
			p.Backoff, p.Window = time.Millisecond, tt.window
			err := p.Publish(context.Background(), outs)
			var pe *outcomes.Error
			if !errors.As(err, &pe) || pe.Failed != 1 || pe.Total != 12 || !strings.Contains(err.Error(), "outcomes[11] (evt_11): contact_id") {
				t.Errorf("got %v; want an *Error naming outcomes[11] alone of 12", err)
			}
			if got := f.calls(); got != tt.wantCalls {
				t.Errorf("calls: got %d; want %d", got, tt.wantCalls)
			}
			if got := len(drain(t, q, url, 11)); got != 11 {
				t.Errorf("delivered: got %d; want 11", got)
			}
		})
	}
}

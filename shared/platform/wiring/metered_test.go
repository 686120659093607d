package wiring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/platform/outcomes"
	"github.com/sfsync/sfsync/shared/platform/queue"
)

// emfLine is what a test reads of one EMF line: the root's members, and
// each metric's name with its dimension sets.
type emfLine struct {
	root    map[string]any
	metrics map[string][][]string
}

func readEMF(t *testing.T, out string) []emfLine {
	t.Helper()
	var lines []emfLine
	for raw := range strings.Lines(out) {
		var l struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace  string              `json:"Namespace"`
					Dimensions [][]string          `json:"Dimensions"`
					Metrics    []map[string]string `json:"Metrics"`
				} `json:"CloudWatchMetrics"`
			} `json:"_aws"`
		}
		var root map[string]any
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("not an EMF line: %v: %s", err, raw)
		}
		if err := json.Unmarshal([]byte(raw), &root); err != nil {
			t.Fatal(err)
		}
		line := emfLine{root: root, metrics: map[string][][]string{}}
		for _, d := range l.AWS.CloudWatchMetrics {
			if d.Namespace != metrics.Namespace {
				t.Errorf("namespace: got %q; want %q", d.Namespace, metrics.Namespace)
			}
			for _, m := range d.Metrics {
				line.metrics[m["Name"]] = d.Dimensions
			}
		}
		lines = append(lines, line)
	}
	return lines
}

// published is a publisher that records what it was given, or fails.
type published struct {
	err error
	got int
}

func (p *published) Publish(_ context.Context, outs []event.Outcome) error {
	if p.err != nil {
		return p.err
	}
	p.got += len(outs)
	return nil
}

func outcome(status event.Status, reason event.Reason) event.Outcome {
	return event.Outcome{TeamID: "team_acme", Status: status, Reason: reason}
}

// TestCountOutcomes: a published batch writes one line per status and
// reason, with its count, "none" for no reason, and never the team;
// activity held until its contact syncs counts in HeldEvents too; a
// batch not published counts nothing.
func TestCountOutcomes(t *testing.T) {
	t.Parallel()
	batch := []event.Outcome{
		outcome(event.StatusCreated, ""), outcome(event.StatusCreated, ""), outcome(event.StatusCreated, event.ReasonNoAccount),
		outcome(event.StatusSkipped, event.ReasonSyncOff), outcome(event.StatusPending, event.ReasonContactPending),
		outcome(event.StatusPending, event.ReasonContactPending), outcome(event.StatusFailed, ""),
	}
	tests := []struct {
		name string
		err  error
		want []string // "status reason outcomes [held]" per line, in order
	}{
		{"published", nil, []string{"created no_account 1", "created none 2", "failed none 1", "pending contact_pending 2 held 2", "skipped sync_off 1"}},
		{"not published", &outcomes.Error{Failed: 1, Total: 7}, nil},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		p := &published{err: tt.err}
		err := CountOutcomes(p, &metrics.EMF{W: &buf}, slog.New(slog.DiscardHandler)).Publish(context.Background(), batch)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: got %v; want %v", tt.name, err, tt.err)
		}
		var got []string
		for _, l := range readEMF(t, buf.String()) {
			s := fmt.Sprintf("%v %v %v", l.root[metrics.Status], l.root[metrics.Reason], l.root[metrics.Outcomes])
			if h, ok := l.root[metrics.HeldEvents]; ok {
				s += fmt.Sprintf(" held %v", h)
				if !slices.EqualFunc(l.metrics[metrics.HeldEvents], [][]string{{metrics.Reason}}, slices.Equal) {
					t.Errorf("%s: HeldEvents dimensions: got %v; want [[Reason]]", tt.name, l.metrics[metrics.HeldEvents])
				}
			}
			if !slices.EqualFunc(l.metrics[metrics.Outcomes], [][]string{{metrics.Status, metrics.Reason}, {metrics.Status}}, slices.Equal) {
				t.Errorf("%s: Outcomes dimensions: got %v; want [[Status Reason] [Status]]", tt.name, l.metrics[metrics.Outcomes])
			}
			if _, ok := l.root[metrics.TeamID]; ok {
				t.Errorf("%s: got a TeamId in %v; want none", tt.name, l.root)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got lines %q; want %q", tt.name, got, tt.want)
		}
	}
}

// usageStore is a connection store that records the usage reports of
// orgs' Close.
type usageStore struct {
	connection.Store
	mu    sync.Mutex
	calls int
}

func (s *usageStore) RecordUsage(_ context.Context, _ string, _ connection.Usage, calls int, _ bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls += calls
	return errors.New("table unavailable")
}

// closing is a sync engine whose team parts close their orgs, each
// reporting its calls to store, at once; and then fails each delivery
// with fail[team].
type closing struct {
	store connection.Store
	calls map[string]int // team -> calls of its org
	fail  map[string]error
}

func (c closing) Process(ctx context.Context, ds []delivery.Delivery) map[string]error {
	var wg sync.WaitGroup
	for team, n := range c.calls {
		wg.Go(func() {
			_ = c.store.RecordUsage(context.WithoutCancel(ctx), team, connection.Usage{}, n, false)
		})
	}
	wg.Wait()
	out := map[string]error{}
	for _, d := range ds {
		if err := c.fail[d.Event.TeamID]; err != nil {
			out[d.ID] = err
		}
	}
	return out
}

// parked takes every message sent back.
type parked struct{}

func (parked) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}

func (parked) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return &sqs.SendMessageBatchOutput{}, nil
}

const addedBody = `{"id":"evt_1","type":"contact.added","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"team_acme",
 "data":{"sequence":{"id":"seq_1","name":"Q4"},"contact":{"id":"ct_1","email":"ada@example.com","last_name":"Lovelace"}}}`

func batchOf(t *testing.T, teams ...string) queue.Batch {
	t.Helper()
	var b queue.Batch
	for _, team := range teams {
		b.Records = append(b.Records, queue.Record{MessageID: "m_" + team,
			Body: strings.NewReplacer("team_acme", team, "evt_1", "evt_"+team).Replace(addedBody)})
	}
	return b
}

// syncKit is a sync function's kit whose orgs report their usage to
// store, and its handler, writing metrics to out, on a queue that takes
// back every message.
func syncKit(t *testing.T, store connection.Store, p func(connection.Store) queue.Processor, out *bytes.Buffer) *queue.Handler {
	t.Helper()
	k := New(Base{Function: "contactsync"}, aws.Config{Region: "us-east-1"}, slog.New(slog.DiscardHandler))
	s := Sync{QueueURL: "queue", DeadLetterQueueURL: "dlq", HoldDelay: time.Second, AwaitAdd: time.Minute}
	counter, ok := k.SyncOrgs(s).Store.(callCounter)
	if !ok {
		t.Fatalf("SyncOrgs store: got %T; want the callCounter", k.SyncOrgs(s).Store)
	}
	counter.Store = store
	h := k.queueHandler(event.ContactQueue, s, p(counter), nil, &metrics.EMF{W: out})
	h.DLQ = parked{}
	return h
}

// TestSalesforceCallsPerBatch: the calls every org of a batch reports at
// its Close, however many at once, make one SalesforceCalls line of the
// function, whether or not the store kept the report; a batch that made
// no call writes none.
func TestSalesforceCallsPerBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		calls map[string]int
		want  []string
	}{
		{"three orgs", map[string]int{"team_a": 3, "team_b": 4, "team_c": 1}, []string{"contactsync 8"}},
		{"no call", map[string]int{"team_a": 0}, nil},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		store := &usageStore{}
		h := syncKit(t, store, func(s connection.Store) queue.Processor { return closing{store: s, calls: tt.calls} }, &out)
		if _, err := h.Handle(context.Background(), batchOf(t, "team_a")); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range readEMF(t, out.String()) {
			got = append(got, fmt.Sprintf("%v %v", l.root[metrics.Function], l.root[metrics.SalesforceCalls]))
			if !slices.EqualFunc(l.metrics[metrics.SalesforceCalls], [][]string{{metrics.Function}}, slices.Equal) {
				t.Errorf("%s: dimensions: got %v; want [[Function]]", tt.name, l.metrics[metrics.SalesforceCalls])
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got lines %q; want %q", tt.name, got, tt.want)
		}
		if want := tt.calls["team_a"] + tt.calls["team_b"] + tt.calls["team_c"]; store.calls != want {
			t.Errorf("%s: store: got %d calls reported; want %d (passed on)", tt.name, store.calls, want)
		}
	}
}

// TestEveryWrittenMetricIsWritten: the sync functions' wiring (the queue
// handler with its processor, the org store, the publisher) writes every
// name of metrics.Written, and no other: so the dashboard's and alarms'
// cross-checks against the list hold for what the functions write.
func TestEveryWrittenMetricIsWritten(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	heldFor := func(cause error) error { return fmt.Errorf("%w: %w", delivery.ErrHeld, cause) }
	fail := map[string]error{
		"team_reauth": heldFor(connection.ErrNeedsReauth),
		"team_admin":  heldFor(&connection.AdminError{Problem: connection.Problem{Reason: "inactive_user"}}),
		"team_app":    heldFor(&connection.AppRefusedError{Problem: connection.Problem{Reason: "invalid_client", Deployment: true}}),
		"team_budget": heldFor(budget.ErrCapped),
	}
	h := syncKit(t, &usageStore{}, func(s connection.Store) queue.Processor {
		return closing{store: s, calls: map[string]int{"team_ok": 2}, fail: fail}
	}, &out)
	if _, err := h.Handle(context.Background(), batchOf(t, slices.Sorted(maps.Keys(fail))...)); err != nil {
		t.Fatal(err)
	}
	pub := CountOutcomes(&published{}, &metrics.EMF{W: &out}, slog.New(slog.DiscardHandler))
	if err := pub.Publish(context.Background(), []event.Outcome{outcome(event.StatusCreated, "")}); err != nil {
		t.Fatal(err)
	}
	k := New(Base{Function: "activitysync"}, aws.Config{Region: "us-east-1"}, slog.New(slog.DiscardHandler))
	hc, ok := k.Publisher(Sync{ResultsQueueURL: "results"}).(*health.Counting)
	if !ok {
		t.Fatalf("Publisher: got %T; want the outcomes counted for the team's health", k.Publisher(Sync{}))
	}
	if c, ok := hc.Next.(outcomeCounter); !ok {
		t.Errorf("Publisher: got %T under the health count; want the outcomes counted", hc.Next)
	} else if _, ok := c.next.(*outcomes.Publisher); !ok {
		t.Errorf("Publisher: got %T counted; want the results queue's publisher", c.next)
	}
	got := map[string]bool{}
	for _, l := range readEMF(t, out.String()) {
		for name := range l.metrics {
			got[name] = true
		}
	}
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, slices.Sorted(slices.Values(metrics.Written))) {
		t.Errorf("written: got %v; want metrics.Written %v", names, slices.Sorted(slices.Values(metrics.Written)))
	}
}

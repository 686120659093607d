// Package stacktest is the harness of the end-to-end tests: it runs the whole
// local stack (the real function binaries behind the runner, on the shared
// moto_server) for a test package, starts simulated Salesforce orgs, connects
// teams through the OAuth flow, and sends events and awaits outcomes as the
// sequencer would.
package stacktest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sequencer"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// AwaitFor is how long a test waits for its outcomes. moto is the slow part
// of the local stack (every SQS and DynamoDB call goes through one Python
// process), and the test packages share it.
const AwaitFor = 5 * time.Minute

// Options shape a package's stack.
type Options struct {
	RepoDir  string            // the module root, relative to the test package: "../.."
	Prefix   string            // short resource name prefix
	ExtraEnv map[string]string // added to every function's environment
}

// Harness is one test package's running stack.
type Harness struct {
	Stack *runner.Stack
	Seq   *sequencer.Client
	SQS   *sqs.Client

	opts     Options
	endpoint string
	stateDir string
	landing  *httptest.Server

	mu      sync.Mutex
	batches []Batch
	ended   chan struct{} // closed when the next batch ends
}

// Batch is what became of one SQS batch the harness's stacks delivered to a
// function: which messages, received how many times, deleted or failed.
type Batch struct {
	Function string
	runner.BatchReport
}

// Batches returns every batch delivered so far, in the order they ended.
func (h *Harness) Batches() []Batch {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.batches)
}

func (h *Harness) record(function string, r runner.BatchReport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.batches = append(h.batches, Batch{Function: function, BatchReport: r})
	if h.ended != nil {
		close(h.ended)
		h.ended = nil
	}
}

// nextBatch returns a channel closed when the next batch ends.
func (h *Harness) nextBatch() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended == nil {
		h.ended = make(chan struct{})
	}
	return h.ended
}

// amongEnded reports whether each message is among the messages of `of` in an
// ended batch.
func (h *Harness) amongEnded(messageIDs []string, of func(Batch) []string) bool {
	seen := map[string]bool{}
	for _, b := range h.Batches() {
		for _, m := range of(b) {
			seen[m] = true
		}
	}
	for _, m := range messageIDs {
		if !seen[m] {
			return false
		}
	}
	return true
}

// awaitBatches waits until each message is among the messages of `of` in an
// ended batch, or fails the test after AwaitFor.
func (h *Harness) awaitBatches(t *testing.T, what string, messageIDs []string, of func(Batch) []string) {
	t.Helper()
	deadline := time.NewTimer(AwaitFor)
	defer deadline.Stop()
	for {
		next := h.nextBatch()
		if h.amongEnded(messageIDs, of) {
			return
		}
		select {
		case <-next:
		case <-deadline.C:
			t.Fatalf("no batch %s every one of the messages %v after %s", what, messageIDs, AwaitFor)
		}
	}
}

// AwaitHandled waits until, for each message, a batch that carried it has
// ended: the function has handled it once and answered for it (deleted,
// handed back, or sent back to wait). It is the positive signal a check
// that nothing came of a message waits for, rather than a fixed time; it
// fails the test after AwaitFor.
func (h *Harness) AwaitHandled(t *testing.T, messageIDs ...string) {
	t.Helper()
	h.awaitBatches(t, "carried", messageIDs, func(b Batch) []string { return b.MessageIDs })
}

// AwaitDeleted waits until, for each message, a batch has deleted it: it
// has left the queue, so nothing more comes of it (a check that an event
// was answered once waits for it). It fails the test after AwaitFor.
func (h *Harness) AwaitDeleted(t *testing.T, messageIDs ...string) {
	t.Helper()
	h.awaitBatches(t, "deleted", messageIDs, func(b Batch) []string { return b.Deleted })
}

// BatchWith returns the first batch that carried the message, once one has
// ended (AwaitHandled).
func (h *Harness) BatchWith(t *testing.T, messageID string) Batch {
	t.Helper()
	h.AwaitHandled(t, messageID)
	for _, b := range h.Batches() {
		if slices.Contains(b.MessageIDs, messageID) {
			return b
		}
	}
	t.Fatalf("no batch carried message %s", messageID)
	return Batch{}
}

// ReadAllOutcomes reads the results queue until it holds no message, visible
// or in flight: every outcome sent before the call is then in the
// sequencer's record (Seq.Outcomes). After AwaitHandled, an event with no
// outcome there has had none. It fails the test after AwaitFor.
func (h *Harness) ReadAllOutcomes(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(AwaitFor)
	for {
		// Poll records what it receives before deleting it, so a message
		// another test's poll holds is in flight until it is recorded.
		if err := h.Seq.Poll(ctx, 0); err != nil {
			t.Fatal(err)
		}
		out, err := h.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(h.Seq.ResultsQueue),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		visible, inFlight := out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)],
			out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)]
		if visible == "0" && inFlight == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("results queue: %s visible, %s in flight after %s; want it read to the end", visible, inFlight, AwaitFor)
		}
		// A long poll: it answers as soon as a message is visible.
		if err := h.Seq.Poll(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// AwaitNoOutcome waits until each event's message has been handled and
// every outcome sent meanwhile read, then fails the test for each event
// that has an outcome. messages maps event ids to their SQS message ids
// (SendTracked).
func (h *Harness) AwaitNoOutcome(t *testing.T, messages map[string]string, why string) {
	t.Helper()
	h.AwaitHandled(t, slices.Collect(maps.Values(messages))...)
	h.ReadAllOutcomes(t)
	for _, id := range slices.Sorted(maps.Keys(messages)) {
		if os := h.Seq.Outcomes(id); len(os) != 0 {
			t.Errorf("%s: got outcomes %+v of %s; want none", why, os, id)
		}
	}
}

// Main starts the stack, runs the package's tests, stops everything and
// returns the exit code; ready receives the harness before the tests run.
func Main(m *testing.M, opts Options, ready func(*Harness)) int {
	code, err := run(m, opts, ready)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	motoserver.StopShared()
	return code
}

func run(m *testing.M, opts Options, ready func(*Harness)) (int, error) {
	ep, err := motoserver.Shared()
	if err != nil {
		return 1, err
	}
	// DynamoDB is served by a moto_server of the package's own: moto
	// serves each request under Python's global lock, and the ledger writes
	// one item a request, so DynamoDB and SQS each get a process (and a
	// core) rather than queueing behind each other.
	dyn, err := motoserver.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		return 1, fmt.Errorf("start a moto_server for DynamoDB: %w", err)
	}
	defer dyn.Stop()
	// The stack talks to moto through a proxy that makes DynamoDB's
	// conditional writes atomic, as DynamoDB's are and moto's are not: the
	// claims the tests exercise rely on it.
	proxy, err := motoserver.StartSplitProxy(ep, dyn.Endpoint)
	if err != nil {
		return 1, err
	}
	defer proxy.Close()
	h := &Harness{opts: opts, endpoint: proxy.URL}
	if h.stateDir, err = os.MkdirTemp("", opts.Prefix+"-e2e-"); err != nil {
		return 1, err
	}
	defer os.RemoveAll(h.stateDir)
	h.landing = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer h.landing.Close()
	st, client, err := h.Start(context.Background(), SlowMoto(resources.Functions), nil, 15*time.Second)
	if err != nil {
		return 1, err
	}
	defer st.Stop()
	h.Stack, h.Seq = st, client
	ready(h)
	return m.Run(), nil
}

// SlowMoto gives the sync functions a timeout moto can meet: every SQS and
// DynamoDB call goes through one Python process here, far slower than AWS.
func SlowMoto(fns []resources.Function) []resources.Function {
	fns = slices.Clone(fns)
	for i := range fns {
		if fns[i].Source != nil {
			fns[i].Timeout = 5 * time.Minute
		}
	}
	return fns
}

// Endpoint is the moto_server the stack runs on.
func (h *Harness) Endpoint() string { return h.endpoint }

// Binaries names the function programs the harness built, to reuse them.
func (h *Harness) Binaries(fns []resources.Function) map[string]string {
	bins := map[string]string{}
	for _, f := range fns {
		bins[f.Name] = h.stateDir + "/bin/" + f.Name
	}
	return bins
}

// Start runs the functions (built once into the state directory) on moto
// with the given visibility timeout (short, so retries come quickly), and
// returns a sequencer acting on it.
func (h *Harness) Start(ctx context.Context, fns []resources.Function, bins map[string]string, visibility time.Duration) (*runner.Stack, *sequencer.Client, error) {
	return h.StartObserved(ctx, fns, bins, visibility, nil)
}

// StartObserved is Start, with onBatch (when not nil) told what became of
// every SQS batch the functions were given.
func (h *Harness) StartObserved(ctx context.Context, fns []resources.Function, bins map[string]string, visibility time.Duration,
	onBatch func(function string, r runner.BatchReport)) (*runner.Stack, *sequencer.Client, error) {
	port, err := motoserver.FreePort("127.0.0.1")
	if err != nil {
		return nil, nil, err
	}
	out := io.Discard
	if os.Getenv("E2E_LOGS") != "" {
		out = os.Stderr
	}
	st := &runner.Stack{}
	err = st.Start(ctx, runner.StackOptions{
		Endpoint: h.endpoint, Prefix: fmt.Sprintf("%s%d", h.opts.Prefix, time.Now().UnixNano()%1e8), RepoDir: h.opts.RepoDir,
		StateDir: h.stateDir, Functions: fns, Binaries: bins,
		APIAddr: "127.0.0.1:" + strconv.Itoa(port), Output: out, Logger: slog.New(slog.DiscardHandler),
		VisibilityTimeout: visibility, MaxReceiveCount: 5, PollWait: time.Second,
		OnBatch: func(function string, r runner.BatchReport) {
			h.record(function, r)
			if onBatch != nil {
				onBatch(function, r)
			}
		},
		ExtraEnv:       h.opts.ExtraEnv,
		SalesforceURL:  "http://127.0.0.1:1", // each test connects its teams to its own simulated org
		OAuthReturnURL: h.landing.URL + "/integrations",
	})
	if err != nil {
		return nil, nil, err
	}
	keys, err := jwtlocal.Load(h.stateDir)
	if err != nil {
		st.Stop()
		return nil, nil, err
	}
	cfg, err := motoserver.AWSConfig(ctx, h.endpoint)
	if err != nil {
		st.Stop()
		return nil, nil, err
	}
	h.SQS = sqs.NewFromConfig(cfg)
	return st, &sequencer.Client{SQS: h.SQS, APIURL: st.APIURL, Keys: keys,
		ContactQueue:  st.Resources.Queues["contact-events"].URL,
		ActivityQueue: st.Resources.Queues["activity-events"].URL,
		ResultsQueue:  st.Resources.Queues["results"].URL}, nil
}

// NewOrg starts a simulated org whose OAuth callbacks are the harness
// stack's and those of the extra stacks.
func (h *Harness) NewOrg(t *testing.T, cfg org.Config, stacks ...*runner.Stack) *org.Org {
	t.Helper()
	cfg.ClientID, cfg.ClientSecret, cfg.AutoApprove = "sfsync-local", "sfsync-local-secret", true
	cfg.RedirectURIs = []string{h.Stack.OAuthRedirectURL()}
	for _, st := range stacks {
		cfg.RedirectURIs = append(cfg.RedirectURIs, st.OAuthRedirectURL())
	}
	o := org.New(cfg)
	if _, err := o.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// Connect connects team to the org through the OAuth flow.
func Connect(t *testing.T, seq *sequencer.Client, team string, o *org.Org) {
	t.Helper()
	if err := seq.Connect(context.Background(), team, o.URL()); err != nil {
		t.Fatalf("connect %s: %v", team, err)
	}
}

// AwaitStatus waits until GET /v1/salesforce shows the team's connection in
// status (needs_reauth, say), or fails the test after AwaitFor.
func AwaitStatus(t *testing.T, seq *sequencer.Client, team, status string) {
	t.Helper()
	deadline := time.Now().Add(AwaitFor)
	for {
		var st struct {
			Status string `json:"status"`
		}
		if _, err := seq.Call(context.Background(), team, "GET", "/v1/salesforce", nil, nil, &st); err != nil {
			t.Fatal(err)
		}
		if st.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of %s: got %s; want %s", team, st.Status, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var (
	idMu sync.Mutex
	idN  int64
)

// NextID returns an id unique in the test run.
func NextID(prefix string) string {
	idMu.Lock()
	defer idMu.Unlock()
	idN++
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, idN)
}

// ContactEvent builds a contact event.
func ContactEvent(team string, t event.Type, sequence, contactID, email, company string, at time.Time) event.Event {
	d := event.ContactData{Contact: event.Contact{ID: contactID, Email: email, FirstName: "Test", LastName: "Person " + contactID, Company: company}}
	if sequence != "" {
		d.Sequence = &event.Sequence{ID: sequence, Name: sequence}
	}
	return event.Event{ID: NextID("evt"), Type: t, Version: event.Version, OccurredAt: at.UTC(), TeamID: team, Data: d}
}

// Await waits for an outcome of every event (a final one if final).
func Await(t *testing.T, seq *sequencer.Client, evs []event.Event, final bool) map[string]event.Outcome {
	t.Helper()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	var want func(event.Outcome) bool
	if final {
		want = sequencer.Final
	}
	got, err := seq.Await(context.Background(), ids, want, AwaitFor)
	if err != nil {
		t.Fatalf("await outcomes: %v", err)
	}
	return got
}

// SendTracked posts events to their queues (10 per call) and returns each
// event's SQS message id, for AwaitHandled.
func (h *Harness) SendTracked(t *testing.T, evs ...event.Event) map[string]string {
	t.Helper()
	byID := map[string]string{}
	for start := 0; start < len(evs); start += 10 {
		part := evs[start:min(start+10, len(evs))]
		var contacts, activities []int
		for i, ev := range part {
			if ev.Queue() == event.ActivityQueue {
				activities = append(activities, i)
			} else {
				contacts = append(contacts, i)
			}
		}
		for q, idx := range map[string][]int{h.Seq.ContactQueue: contacts, h.Seq.ActivityQueue: activities} {
			if len(idx) == 0 {
				continue
			}
			var entries []sqstypes.SendMessageBatchRequestEntry
			for _, i := range idx {
				body, err := event.Encode(part[i])
				if err != nil {
					t.Fatal(err)
				}
				entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(entries))), MessageBody: aws.String(string(body))})
			}
			for i, m := range h.SendRawTracked(t, q, entries) {
				byID[part[idx[i]].ID] = m
			}
		}
	}
	return byID
}

// SendRawTracked posts up to 10 message entries to queueURL as they are (a
// malformed body included) and returns their SQS message ids, in order.
func (h *Harness) SendRawTracked(t *testing.T, queueURL string, entries []sqstypes.SendMessageBatchRequestEntry) []string {
	t.Helper()
	out, err := h.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
	if err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %v %+v", err, out)
	}
	ids := make([]string, len(entries))
	for _, s := range out.Successful {
		for i, e := range entries {
			if aws.ToString(e.Id) == aws.ToString(s.Id) {
				ids[i] = aws.ToString(s.MessageId)
			}
		}
	}
	return ids
}

// Send posts events to their queues.
func Send(t *testing.T, seq *sequencer.Client, evs ...event.Event) {
	t.Helper()
	if err := seq.Send(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
)

const (
	benchTeam = "team_bench"
	benchSeq  = "seq_bench"
)

// contactEmail is contact i's email as the sequencer sends it: mixed letter
// case on every third contact, so matching must ignore case.
func contactEmail(i int) string {
	if i%3 == 0 {
		return fmt.Sprintf("Person%d@Bench.Example", i)
	}
	return fmt.Sprintf("person%d@bench.example", i)
}

// seedEmail is the email of the Lead already in Salesforce for every even
// contact, in a letter case of its own.
func seedEmail(i int) string { return fmt.Sprintf("PERSON%d@bench.EXAMPLE", i) }

func seedRecords(n int) []map[string]any {
	var recs []map[string]any
	for i := 0; i < n; i += 2 {
		recs = append(recs, map[string]any{"FirstName": "Seed", "LastName": "Person " + strconv.Itoa(i), "Company": "Seeded", "Email": seedEmail(i)})
	}
	return recs
}

func contactAdded(i int, at time.Time, run string) event.Event {
	return event.Event{ID: fmt.Sprintf("evt_%s_add_%d", run, i), Type: event.ContactAdded, Version: event.Version, OccurredAt: at, TeamID: benchTeam,
		Data: event.ContactData{Sequence: &event.Sequence{ID: benchSeq, Name: "Bench"},
			Contact: event.Contact{ID: "ct_" + strconv.Itoa(i), Email: contactEmail(i), FirstName: "Bench", LastName: "Person " + strconv.Itoa(i), Company: "Bench Co"}}}
}

func emailSent(i int, at time.Time, run string) event.Event {
	return event.Event{ID: fmt.Sprintf("evt_%s_sent_%d", run, i), Type: event.EmailSent, Version: event.Version, OccurredAt: at, TeamID: benchTeam,
		Data: event.EmailData{Sequence: event.Sequence{ID: benchSeq, Name: "Bench"}, Contact: event.ContactRef{ID: "ct_" + strconv.Itoa(i), Email: contactEmail(i)},
			Message: event.Message{ID: "msg_" + strconv.Itoa(i), Subject: "A short note", BodyText: "Hello, a short note about benchmarks.", Step: 1, SentAt: at}}}
}

// Run is one workload's figures.
type Run struct {
	Events       int              `json:"events"`
	Outcomes     map[string]int   `json:"outcomes"`
	Pending      int              `json:"pending_outcomes,omitempty"` // interim outcomes before the final ones
	Seconds      float64          `json:"seconds"`
	PerSecond    float64          `json:"per_second"`
	P50Ms        float64          `json:"p50_ms"`
	P99Ms        float64          `json:"p99_ms"`
	SFCalls      int              `json:"salesforce_calls"`
	DynamoDB     int64            `json:"dynamodb_requests,omitempty"`
	SQS          int64            `json:"sqs_requests,omitempty"`
	OtherAWS     int64            `json:"other_aws_requests,omitempty"`
	SFByEndpoint map[string]int   `json:"salesforce_calls_by_endpoint,omitempty"`
	DynamoDBByOp map[string]int64 `json:"dynamodb_requests_by_operation,omitempty"`

	// What the run would be billed for (cost.go). Capacity is the DynamoDB
	// request units its requests would consume (capacity.go); SQSBilled the
	// stack's SQS requests as billed (64 KB chunks), SequencerSQS and
	// SequencerSQSBilled the sequencer's (its sends of the events, its
	// reads of the outcomes: requests to the stack's queues); KMS and
	// SecretsManager are part of OtherAWS; Lambda is each function's CPU
	// time and invocations (lambda.go).
	Capacity *Capacity `json:"dynamodb_capacity,omitempty"`
	// CapacityByKind is where Capacity went: by item kind, operation, and
	// whether in a transaction (kinds.go).
	CapacityByKind     []KindCapacity         `json:"dynamodb_capacity_by_kind,omitempty"`
	SQSBilled          int64                  `json:"sqs_billed_requests,omitempty"`
	SequencerSQS       int64                  `json:"sequencer_sqs_requests,omitempty"`
	SequencerSQSBilled int64                  `json:"sequencer_sqs_billed_requests,omitempty"`
	KMS                int64                  `json:"kms_requests,omitempty"`
	SecretsManager     int64                  `json:"secretsmanager_requests,omitempty"`
	Lambda             map[string]FunctionUse `json:"lambda,omitempty"`
	Cost               *Cost                  `json:"cost,omitempty"`
}

// settle waits, 5 s at most, until no DynamoDB request of the stack awaits
// its answer and the function processes' CPU time has stopped growing, so
// a run's figures take in the end of its last batch (the writes after its
// outcomes went out).
func (b *bench) settle(ctx context.Context) {
	deadline := time.Now().Add(5 * time.Second)
	last := -1.0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cpu := b.lambdaSnapshot().cpuTotal()
		if b.proxy.settled() && cpu == last {
			return
		}
		last = cpu
		time.Sleep(250 * time.Millisecond)
	}
}

// drive sends evs as the sequencer does (4 senders, 10 a call), waits for a
// final outcome of each on the results queue, and measures the run.
func (b *bench) drive(ctx context.Context, label string, evs []event.Event) (*Run, error) {
	sfBefore, awsBefore, seqBefore, lambdaBefore := b.sim.Stats(), b.proxy.Counts(), b.seqProxy.Counts(), b.lambdaSnapshot()
	c := newCollector(b.seqr.SQS, b.seqr.ResultsQueue)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	c.start(cctx, 4)

	sent := make(map[string]time.Time, len(evs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := time.Now()
	part := (len(evs) + 3) / 4
	for p := 0; p < len(evs); p += part {
		chunk := evs[p:min(p+part, len(evs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(chunk) > 0 {
				n := min(10, len(chunk))
				now := time.Now()
				mu.Lock()
				for _, ev := range chunk[:n] {
					sent[ev.ID] = now
				}
				mu.Unlock()
				if err := b.seqr.Send(ctx, chunk[:n]...); err != nil {
					errs <- err
					return
				}
				chunk = chunk[n:]
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	stall := newStallWatch()
	for {
		n := c.done(ids)
		progress("%s: %d of %d outcomes, %d Salesforce calls so far", label, n, len(ids), b.sim.Stats().Total-sfBefore.Total)
		if n == len(ids) {
			break
		}
		if err := stall.check(n); err != nil {
			return nil, fmt.Errorf("%s: %d of %d events have no final outcome: %w", label, len(ids)-n, len(ids), err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	stop() // the outcomes are in: the collector's polls end here
	b.settle(ctx)
	sfAfter, awsAfter := b.sim.Stats(), b.proxy.Counts().sub(awsBefore)
	seq, lambda := b.seqProxy.Counts().sub(seqBefore), b.lambdaSnapshot().since(lambdaBefore)
	r := &Run{Events: len(evs), Outcomes: map[string]int{}, SFCalls: sfAfter.Total - sfBefore.Total,
		DynamoDB: awsAfter.DynamoDB, DynamoDBByOp: awsAfter.DynamoDBByOp, SQS: awsAfter.SQS, OtherAWS: awsAfter.Other, SFByEndpoint: map[string]int{},
		Capacity: &awsAfter.Capacity, CapacityByKind: awsAfter.CapacityByKind.list(), SQSBilled: awsAfter.SQSBilled, SequencerSQS: seq.SQS, SequencerSQSBilled: seq.SQSBilled,
		KMS: awsAfter.KMS, SecretsManager: awsAfter.SecretsManager, Lambda: lambda}
	for k, v := range sfAfter.ByEndpoint {
		if d := v - sfBefore.ByEndpoint[k]; d > 0 {
			r.SFByEndpoint[k] = d
		}
	}
	var lat []time.Duration
	var last time.Time
	for _, id := range ids {
		o, at := c.get(id)
		r.Outcomes[string(o.Status)]++
		lat = append(lat, at.Sub(sent[id]))
		if at.After(last) {
			last = at
		}
	}
	r.Seconds = last.Sub(start).Seconds()
	r.PerSecond = float64(len(evs)) / r.Seconds
	r.P50Ms, r.P99Ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	return r, nil
}

func (b *bench) contactBurst(ctx context.Context) error {
	progress("burst: seeding %d Leads and connecting %s", b.cfg.n/2, benchTeam)
	if _, err := b.sim.Seed("Lead", seedRecords(b.cfg.n)...); err != nil {
		return err
	}
	if err := b.seqr.Connect(ctx, benchTeam, b.sim.URL()); err != nil {
		return err
	}
	at := time.Now().UTC()
	evs := make([]event.Event, b.cfg.n)
	for i := range evs {
		evs[i] = contactAdded(i, at, "burst")
	}
	r, err := b.drive(ctx, "burst", evs)
	if err != nil {
		return err
	}
	if r.Outcomes[string(event.StatusCreated)]+r.Outcomes[string(event.StatusLinked)] != b.cfg.n {
		return fmt.Errorf("outcomes %v; every contact should be created or linked", r.Outcomes)
	}
	b.results.Burst = r
	return nil
}

func (b *bench) activityBurst(ctx context.Context) error {
	at := time.Now().UTC()
	evs := make([]event.Event, b.cfg.n)
	for i := range evs {
		evs[i] = emailSent(i, at, "act")
	}
	r, err := b.drive(ctx, "activity", evs)
	if err != nil {
		return err
	}
	if r.Outcomes[string(event.StatusCreated)] != b.cfg.n {
		return fmt.Errorf("outcomes %v; every email should be created as a Task", r.Outcomes)
	}
	b.results.Activity = r
	return nil
}

// stallTimeout is how long a run may go without a new outcome before the
// bench gives up on it: two visibility timeouts of the bench stack, so an
// event handed back for a retry has time to come round again. Runs
// themselves have no deadline: the mixed load takes many minutes on moto.
const stallTimeout = 12 * time.Minute

// stallWatch notices a run that stopped making progress.
type stallWatch struct {
	last  int
	since time.Time
}

func newStallWatch() *stallWatch { return &stallWatch{last: -1, since: time.Now()} }

// check notes the progress so far (any count that grows while the run
// moves) and fails once it has not grown for stallTimeout.
func (s *stallWatch) check(progress int) error {
	if progress != s.last {
		s.last, s.since = progress, time.Now()
		return nil
	}
	if d := time.Since(s.since); d > stallTimeout {
		return fmt.Errorf("no progress for %s", d.Round(time.Second))
	}
	return nil
}

// collector reads outcomes off the results queue and notes when each
// event's final outcome arrived.
type collector struct {
	sqs   *sqs.Client
	queue string
	// onFinal, when set, is called (outside the lock) with the event id of
	// each first final outcome.
	onFinal func(id string)

	mu      sync.Mutex
	got     map[string]event.Outcome
	at      map[string]time.Time
	pending map[string]int // interim (pending) outcomes by event id
}

func newCollector(c *sqs.Client, queue string) *collector {
	return &collector{sqs: c, queue: queue, got: map[string]event.Outcome{}, at: map[string]time.Time{}, pending: map[string]int{}}
}

func (c *collector) start(ctx context.Context, pollers int) {
	for range pollers {
		go func() {
			for ctx.Err() == nil {
				out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				now := time.Now()
				var del []sqstypes.DeleteMessageBatchRequestEntry
				var first []string
				c.mu.Lock()
				for i, m := range out.Messages {
					var o event.Outcome
					if json.Unmarshal([]byte(aws.ToString(m.Body)), &o) == nil {
						if o.Status == event.StatusPending {
							c.pending[o.EventID]++
						} else {
							if _, seen := c.got[o.EventID]; !seen {
								c.at[o.EventID] = now
								first = append(first, o.EventID)
							}
							c.got[o.EventID] = o
						}
					}
					del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				}
				c.mu.Unlock()
				if c.onFinal != nil {
					for _, id := range first {
						c.onFinal(id)
					}
				}
				if len(del) > 0 {
					_, _ = c.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.queue), Entries: del})
				}
			}
		}()
	}
}

func (c *collector) done(ids []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, ok := c.got[id]; ok {
			n++
		}
	}
	return n
}

// pendings is the number of interim outcomes received for id.
func (c *collector) pendings(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending[id]
}

func (c *collector) get(id string) (event.Outcome, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[id], c.at[id]
}

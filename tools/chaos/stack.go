package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
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
)

// env is one run's local stack: the runner with the real function binaries
// on moto, and the sequencer acting on it.
type env struct {
	st      *runner.Stack
	seq     *sequencer.Client
	sqs     *sqs.Client
	landing *httptest.Server

	mu      sync.Mutex
	batches map[string]*batchFigures // by function
}

// batchFigures sum up what the event sources reported.
type batchFigures struct {
	Batches      int `json:"batches"`
	Messages     int `json:"messages"`
	ItemFailures int `json:"item_failures"` // messages returned to the queue (partial batch responses)
	InvokeErrors int `json:"invoke_errors"` // whole batches failed
	MaxReceives  int `json:"max_receive_count"`
}

// startEnv starts a stack whose resources are named after prefix, its
// functions talking to AWS at stackEndpoint (the atomic proxy), the
// sequencer straight to moto. The function programs are built into
// stateDir/bin once and reused.
func startEnv(ctx context.Context, c Config, prefix, stateDir, stackEndpoint string) (*env, error) {
	e := &env{batches: map[string]*batchFigures{}}
	e.landing = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	fns := make([]resources.Function, len(resources.Functions))
	copy(fns, resources.Functions)
	for i := range fns {
		if fns[i].Source != nil {
			fns[i].Timeout = 5 * time.Minute // every SQS and DynamoDB call goes through one Python process
			if c.Concurrency > 0 {
				src := *fns[i].Source
				src.MaxConcurrency = c.Concurrency
				fns[i].Source = &src
			}
		}
	}
	bins := map[string]string{}
	for _, f := range fns {
		p := filepath.Join(stateDir, "bin", f.Name)
		if _, err := os.Stat(p); err == nil {
			bins[f.Name] = p
		}
	}
	port, err := motoserver.FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	out := io.Discard
	if c.Verbose {
		out = os.Stderr
	}
	e.st = &runner.Stack{}
	err = e.st.Start(ctx, runner.StackOptions{
		Endpoint: stackEndpoint, Prefix: fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e8), RepoDir: c.RepoDir,
		StateDir: stateDir, Functions: fns, Binaries: bins,
		APIAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Output: out, Logger: slog.New(slog.DiscardHandler),
		VisibilityTimeout: c.Visibility, MaxReceiveCount: 5, PollWait: time.Second,
		ExtraEnv: map[string]string{"HOLD_DELAY_SECONDS": strconv.Itoa(int(c.HoldDelay / time.Second)),
			"AWAIT_ADD_SECONDS": strconv.Itoa(int(c.AwaitAdd / time.Second)), "TEAMS_AT_ONCE": strconv.Itoa(c.TeamsAtOnce)},
		SalesforceURL:  "http://127.0.0.1:1", // every team connects its own simulated org
		OAuthReturnURL: e.landing.URL + "/integrations",
		OnBatch:        e.onBatch,
	})
	if err != nil {
		e.landing.Close()
		return nil, fmt.Errorf("start the stack: %w", err)
	}
	keys, err := jwtlocal.Load(stateDir)
	if err != nil {
		e.stop()
		return nil, err
	}
	cfg, err := motoserver.AWSConfig(ctx, c.Endpoint)
	if err != nil {
		e.stop()
		return nil, err
	}
	e.sqs = sqs.NewFromConfig(cfg)
	e.seq = &sequencer.Client{SQS: e.sqs, APIURL: e.st.APIURL, Keys: keys,
		ContactQueue:  e.st.Resources.Queues["contact-events"].URL,
		ActivityQueue: e.st.Resources.Queues["activity-events"].URL,
		ResultsQueue:  e.st.Resources.Queues["results"].URL}
	return e, nil
}

func (e *env) stop() {
	if e.st != nil {
		e.st.Stop()
	}
	e.landing.Close()
}

func (e *env) onBatch(fn string, r runner.BatchReport) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.batches[fn]
	if b == nil {
		b = &batchFigures{}
		e.batches[fn] = b
	}
	b.Batches++
	b.Messages += len(r.MessageIDs)
	b.ItemFailures += len(r.Failed)
	if r.InvokeError != nil || r.ResponseError != nil {
		b.InvokeErrors++
	}
	for _, n := range r.ReceiveCounts {
		b.MaxReceives = max(b.MaxReceives, n)
	}
}

func (e *env) batchFigures() map[string]batchFigures {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]batchFigures{}
	for k, v := range e.batches {
		out[k] = *v
	}
	return out
}

// send posts message bodies to a queue, ten a call.
func (e *env) send(ctx context.Context, queue string, bodies []string) error {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)}
	}
	return e.seq.SendRaw(ctx, queue, entries)
}

// queueDepth is what an event queue still holds: visible, in flight and
// delayed (parked) messages.
func (e *env) queueDepth(ctx context.Context) (int, error) {
	n := 0
	for _, q := range []string{e.seq.ContactQueue, e.seq.ActivityQueue} {
		out, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
		if err != nil {
			return 0, fmt.Errorf("queue attributes: %w", err)
		}
		for _, v := range out.Attributes {
			k, _ := strconv.Atoi(v)
			n += k
		}
	}
	return n, nil
}

// deadLetters drains both event DLQs and returns the event ids found there
// (the raw body when it is not an event).
func (e *env) deadLetters(ctx context.Context) ([]string, error) {
	var ids []string
	for _, name := range []string{"contact-events", "activity-events"} {
		q := e.st.Resources.Queues[name].DLQURL
		for {
			out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 10,
				WaitTimeSeconds: 0, VisibilityTimeout: 600})
			if err != nil {
				return ids, fmt.Errorf("receive from %s DLQ: %w", name, err)
			}
			if len(out.Messages) == 0 {
				break
			}
			for _, m := range out.Messages {
				var ev struct {
					ID string `json:"id"`
				}
				body := aws.ToString(m.Body)
				if json.Unmarshal([]byte(body), &ev) == nil && ev.ID != "" {
					ids = append(ids, ev.ID)
				} else {
					ids = append(ids, body)
				}
			}
		}
	}
	return ids, nil
}

// got is one outcome as it arrived on the results queue.
type got struct {
	o  event.Outcome
	at time.Time
}

// collector reads every outcome off the results queue and keeps them all,
// in arrival order, by event id.
type collector struct {
	sqs   *sqs.Client
	queue string
	mu    sync.Mutex
	by    map[string][]got
	total int
	bad   int // messages that are not outcomes
	// onFirst is called (under no lock) with the event id the first time any
	// outcome of it arrives.
	onFirst func(id string)
	wg      sync.WaitGroup
}

func (c *collector) start(ctx context.Context, pollers int) {
	for range pollers {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for ctx.Err() == nil {
				out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				now := time.Now()
				var del []sqstypes.DeleteMessageBatchRequestEntry
				var first []string
				c.mu.Lock()
				for i, m := range out.Messages {
					var o event.Outcome
					if json.Unmarshal([]byte(aws.ToString(m.Body)), &o) == nil && o.EventID != "" {
						if len(c.by[o.EventID]) == 0 {
							first = append(first, o.EventID)
						}
						c.by[o.EventID] = append(c.by[o.EventID], got{o: o, at: now})
						c.total++
					} else {
						c.bad++
					}
					del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				}
				c.mu.Unlock()
				if c.onFirst != nil {
					for _, id := range first {
						c.onFirst(id)
					}
				}
				if len(del) > 0 {
					_, _ = c.sqs.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.queue), Entries: del})
				}
			}
		}()
	}
}

// outcomes returns a copy of every event's outcomes.
func (c *collector) outcomes() map[string][]got {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]got, len(c.by))
	for k, v := range c.by {
		out[k] = append([]got(nil), v...)
	}
	return out
}

func (c *collector) counts() (total, bad int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, c.bad
}

// Package outcomes sends outcome messages (the outcome contract of the event
// package) to the results queue, for the sequencer.
//
// Each message body is one outcome's JSON; the message attributes team_id,
// type and status let consumers filter without parsing the body. Messages
// go in SendMessageBatch calls of at most 10 entries and 256 KiB; entries
// SQS fails for its own reasons (throttling, internal errors) are resent
// with backoff a few times, and what still fails is reported by count.
package outcomes

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/backoff"
)

// SQS's limits on one SendMessageBatch call.
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 262144
)

// Message attribute names.
const (
	AttrTeamID = "team_id"
	AttrType   = "type"
	AttrStatus = "status"
)

// API is the part of the SQS client the publisher uses.
type API interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Publisher sends outcomes to one queue. Use New.
type Publisher struct {
	sqs      API
	queueURL string
	// MaxAttempts bounds the sends of one message (1 + retries).
	MaxAttempts int
	// Backoff is the first wait before a resend; it doubles, with jitter.
	Backoff time.Duration
	// Window is how many outcomes are encoded and sent at a time
	// (DefaultWindow when zero): a batch of 10,000 outcomes encoded at once
	// would hold about 12 MB until the last was sent.
	Window int
}

// DefaultWindow is the Publisher's Window unless set: 50 SendMessageBatch
// calls, enough to keep sendParallelism of them in flight.
const DefaultWindow = 500

var _ delivery.Publisher = (*Publisher)(nil)

// New returns a publisher to the queue at queueURL.
func New(api API, queueURL string) *Publisher {
	return &Publisher{sqs: api, queueURL: queueURL, MaxAttempts: 4, Backoff: 100 * time.Millisecond}
}

// ErrNotPublished is wrapped by every *Error.
var ErrNotPublished = errors.New("outcomes not published")

// Error says how many outcomes of a Publish were not sent, and why.
type Error struct {
	Failed, Total int
	// Problems names each failed outcome ("outcomes[3] (evt_1): ...").
	Problems []string
}

func (e *Error) Error() string {
	const shown = 5
	p := e.Problems
	more := ""
	if len(p) > shown {
		p, more = p[:shown], fmt.Sprintf("; and %d more", len(e.Problems)-shown)
	}
	return fmt.Sprintf("%d of %d outcomes not published: %s%s", e.Failed, e.Total, strings.Join(p, "; "), more)
}

// Unwrap lets errors.Is find ErrNotPublished.
func (e *Error) Unwrap() error { return ErrNotPublished }

type entry struct {
	index int // in the outs of Publish
	req   types.SendMessageBatchRequestEntry
	size  int
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// Publish sends outs, Window at a time. Invalid outcomes are not sent;
// everything else is, and the error (an *Error) names the outcomes that
// were not.
func (p *Publisher) Publish(ctx context.Context, outs []event.Outcome) error {
	perr := &Error{Total: len(outs)}
	fail := func(i int, format string, args ...any) {
		perr.Failed++
		id := ""
		if i < len(outs) {
			id = " (" + outs[i].EventID + ")"
		}
		perr.Problems = append(perr.Problems, fmt.Sprintf("outcomes[%d]%s: ", i, id)+fmt.Sprintf(format, args...))
	}
	window := cmp.Or(p.Window, DefaultWindow)
	for from := 0; from < len(outs); from += window {
		p.publish(ctx, outs, from, min(from+window, len(outs)), fail)
	}
	if perr.Failed > 0 {
		slices.SortStableFunc(perr.Problems, func(a, b string) int { return cmp.Compare(problemIndex(a), problemIndex(b)) })
		return perr
	}
	return nil
}

// publish sends outs[from:to], resending what failed for a reason that may
// pass, and reports each outcome not sent through fail (with its index in
// outs).
func (p *Publisher) publish(ctx context.Context, outs []event.Outcome, from, to int, fail func(i int, format string, args ...any)) {
	var pending []entry
	for i := from; i < to; i++ {
		o := outs[i]
		if err := o.Validate(); err != nil {
			fail(i, "%v", err)
			continue
		}
		body, err := json.Marshal(o)
		if err != nil {
			fail(i, "encode: %v", err)
			continue
		}
		attrs := map[string]types.MessageAttributeValue{
			AttrTeamID: stringAttr(o.TeamID),
			AttrType:   stringAttr(string(o.Type)),
			AttrStatus: stringAttr(string(o.Status)),
		}
		size := len(body)
		for k, v := range attrs {
			size += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
		}
		if size > MaxBatchBytes {
			fail(i, "message of %d bytes exceeds the %d-byte limit", size, MaxBatchBytes)
			continue
		}
		pending = append(pending, entry{index: i, size: size, req: types.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)), MessageAttributes: attrs,
		}})
	}

	maxAttempts := max(p.MaxAttempts, 1)
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			if err := p.wait(ctx, attempt-1); err != nil {
				for _, e := range pending {
					fail(e.index, "not sent: %v", err)
				}
				break
			}
		}
		var retry []entry
		var mu sync.Mutex
		var g errgroup.Group
		g.SetLimit(sendParallelism)
		for _, batch := range batches(pending) {
			g.Go(func() error {
				again, permanent := p.send(ctx, batch)
				mu.Lock()
				defer mu.Unlock()
				for _, f := range permanent {
					fail(f.e.index, "%s", f.why)
				}
				if attempt >= maxAttempts || ctx.Err() != nil {
					for _, f := range again {
						fail(f.e.index, "%s after %d attempts", f.why, attempt)
					}
					return nil
				}
				for _, f := range again {
					retry = append(retry, f.e)
				}
				return nil
			})
		}
		_ = g.Wait() // sends report through fail and retry, never an error
		pending = retry
	}
}

// problemIndex is the i of a problem "outcomes[i]...".
func problemIndex(p string) int {
	p = strings.TrimPrefix(p, "outcomes[")
	n, _ := strconv.Atoi(p[:max(strings.IndexByte(p, ']'), 0)])
	return n
}

// sendParallelism is how many SendMessageBatch calls are in flight at once:
// a batch of thousands of outcomes goes out in hundreds of calls.
const sendParallelism = 8

// batches packs entries into batches within both limits, in order.
func batches(es []entry) [][]entry {
	var out [][]entry
	var cur []entry
	size := 0
	for _, e := range es {
		if len(cur) == MaxBatchEntries || (len(cur) > 0 && size+e.size > MaxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, e)
		size += e.size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

type failure struct {
	e   entry
	why string
}

// send sends one batch and sorts its failures into those worth resending
// and those that are the sender's fault.
func (p *Publisher) send(ctx context.Context, batch []entry) (again, permanent []failure) {
	reqs := make([]types.SendMessageBatchRequestEntry, len(batch))
	byID := make(map[string]entry, len(batch))
	for i, e := range batch {
		reqs[i] = e.req
		byID[aws.ToString(e.req.Id)] = e
	}
	out, err := p.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: reqs})
	if err != nil {
		for _, e := range batch {
			again = append(again, failure{e, fmt.Sprintf("send batch: %v", err)})
		}
		return again, nil
	}
	for _, f := range out.Failed {
		e, ok := byID[aws.ToString(f.Id)]
		if !ok {
			continue
		}
		why := fmt.Sprintf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		if f.SenderFault {
			permanent = append(permanent, failure{e, why})
		} else {
			again = append(again, failure{e, why})
		}
		delete(byID, aws.ToString(f.Id))
	}
	// An entry neither sent nor failed is resent.
	sent := make(map[string]bool, len(out.Successful))
	for _, s := range out.Successful {
		sent[aws.ToString(s.Id)] = true
	}
	for id, e := range byID {
		if !sent[id] {
			again = append(again, failure{e, "no answer for the entry"})
		}
	}
	return again, permanent
}

// wait sleeps before the n-th resend: exponential from p.Backoff, capped at
// 5 seconds, jittered in its upper half.
func (p *Publisher) wait(ctx context.Context, n int) error {
	return backoff.Wait(ctx, p.Backoff, 5*time.Second, n)
}

// Package queue is the SQS adapter of the sync functions: it decodes a batch
// of SQS messages into events, moves poison messages (malformed, or sent to
// the wrong queue) to the dead-letter queue with the reason, hands the valid
// events to the domain, and answers with a partial batch response so that
// only the messages that failed for a transient reason return to the queue.
// It keeps the last of the function's time to answer, in proportion to the
// batch (see reserve): messages whose time ran out are sent back, and a
// batch never fails whole.
package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Message is one valid event with its delivery facts.
type Message struct {
	ID    string // SQS message id
	Event event.Event
	// Retry is set on a message the error inbox sent again after an admin
	// fixed the cause of a failure (message attribute RetryAttribute).
	Retry bool
	// FirstReceived is when the queue first delivered this message
	// (ApproximateFirstReceiveTimestamp); zero when the queue did not say.
	FirstReceived time.Time
	// OutOfTimeSince is when the message's time first ran out
	// (OutOfTimeSinceAttribute, carried by an out-of-time resend); zero
	// when it has not, or not since it was last held or waiting.
	OutOfTimeSince time.Time
}

// Batch is the SQS event Lambda hands a sync function (the JSON of
// events.SQSEvent), decoded to the fields the handler reads. A batch of
// 10,000 messages decodes to about 4 MB this way and to 12 MB as an
// events.SQSEvent, for the whole invocation.
type Batch struct {
	Records []Record `json:"Records"`
}

// Record is one message of a Batch.
type Record struct {
	MessageID         string            `json:"messageId"`
	Body              string            `json:"body"`
	Attributes        RecordAttributes  `json:"attributes"`
	MessageAttributes MessageAttributes `json:"messageAttributes"`
}

// RecordAttributes are the SQS system attributes the handler reads.
type RecordAttributes struct {
	ApproximateReceiveCount          string `json:"ApproximateReceiveCount"`
	ApproximateFirstReceiveTimestamp string `json:"ApproximateFirstReceiveTimestamp"`
}

// MessageAttributes are the message attributes the handler reads; others
// are skipped.
type MessageAttributes struct {
	Retry          *events.SQSMessageAttribute `json:"sfsync_retry"`
	WaitingSince   *events.SQSMessageAttribute `json:"sfsync_waiting_since"`
	OutOfTimeSince *events.SQSMessageAttribute `json:"sfsync_out_of_time_since"`
}

// RetryAttribute is the SQS message attribute ("true") that marks an event
// sent again by the error inbox: its failed outcome is re-run, not repeated.
const RetryAttribute = "sfsync_retry"

func isRetry(rec Record) bool {
	a := rec.MessageAttributes.Retry
	return a != nil && a.StringValue != nil && *a.StringValue == "true"
}

// WaitingSinceAttribute is the SQS message attribute (Unix milliseconds)
// that a waiting or held event's copy carries: when the queue first
// delivered the event, so that its wait (and its hold: the team's
// held_event_max_days) stays bounded however often it is sent again. A copy
// sent again gets a fresh ApproximateFirstReceiveTimestamp.
const WaitingSinceAttribute = "sfsync_waiting_since"

// OutOfTimeSinceAttribute is the SQS message attribute (Unix
// milliseconds) that a copy sent back because its time ran out carries:
// when its time first ran out, the start of the clock of OutOfTimeFor. A
// held or waiting copy does not carry it, so time spent held (for days,
// perhaps) never counts as time out of time.
const OutOfTimeSinceAttribute = "sfsync_out_of_time_since"

// outOfTimeSince is when the message's time first ran out, as its copy
// carries it; zero when it carries none, or one that does not parse.
func outOfTimeSince(rec Record) time.Time {
	return millis(rec.MessageAttributes.OutOfTimeSince)
}

// millis is a message attribute of Unix milliseconds as a time; zero when
// absent or not a positive number.
func millis(a *events.SQSMessageAttribute) time.Time {
	if a == nil || a.StringValue == nil {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(*a.StringValue, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// firstReceived is when the queue first delivered the event: the copy's
// ApproximateFirstReceiveTimestamp, or the earlier time a waiting copy
// carries. A carried time later than the copy's own first delivery, or
// one that does not parse, is ignored. Zero when the queue did not say.
func firstReceived(rec Record) time.Time {
	var t time.Time
	if ms, err := strconv.ParseInt(rec.Attributes.ApproximateFirstReceiveTimestamp, 10, 64); err == nil && ms > 0 {
		t = time.UnixMilli(ms).UTC()
	}
	if since := millis(rec.MessageAttributes.WaitingSince); !since.IsZero() && (t.IsZero() || since.Before(t)) {
		return since
	}
	return t
}

// Processor is the domain side (both sync engines): it handles a batch of
// deliveries and returns the ids of those that must come back, each with
// its reason (see the errors of package delivery).
type Processor interface {
	Process(ctx context.Context, ds []delivery.Delivery) map[string]error
}

// InvalidAnswerer answers the messages that failed validation but name
// their event and team (R9): outs are their failed/invalid_event outcomes
// (event.InvalidOutcome). An error means none may be taken as answered:
// the messages come back, and are dead-lettered once answered.
type InvalidAnswerer interface {
	AnswerInvalid(ctx context.Context, outs []event.Outcome) error
}

// Sender is the part of the SQS API used to dead-letter poison messages.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// DefaultHoldDelay is how long a parked message stays invisible: SQS's maximum.
const DefaultHoldDelay = 15 * time.Minute

// A message that fails with delivery.ErrWait (it waits for an earlier event
// still on its way: an email for its contact's contact.added) is sent to
// the queue again with a short delay that grows with the time waited (see
// WaitDelay), and the delivered copy deleted: it comes back soon after what
// it waits for, rather than after the visibility timeout, and waiting never
// counts towards maxReceiveCount. The copy carries when the wait started
// (WaitingSinceAttribute), so the domain's bound on the wait holds. One
// that fails with delivery.ErrHeld is parked for the hold delay, not failed.
// Bounds of the delay of a waiting message: MinWaitDelay at first, then as
// long as it has waited so far, at most the Handler's WaitMax, itself at
// most DefaultWaitMax unless set.
const (
	MinWaitDelay   = time.Second
	DefaultWaitMax = time.Minute
)

// WaitDelay is how long a message that has waited since since sleeps
// before its next look, at now: as long again as it has waited, between
// MinWaitDelay and most, in whole seconds (SQS's unit). The number of
// looks thus grows with the logarithm of the wait, then linearly at most.
func WaitDelay(now, since time.Time, most time.Duration) time.Duration {
	most = max(most, MinWaitDelay)
	d := now.Sub(since)
	if since.IsZero() {
		d = 0
	}
	return min(max(d, MinWaitDelay), most).Truncate(time.Second)
}

// Handler is the Lambda handler of one sync function.
type Handler struct {
	Queue     string // event.ContactQueue or event.ActivityQueue: the kinds this function accepts
	Processor Processor
	DLQ       Sender // sends poison messages to DLQURL and parks held ones on QueueURL
	DLQURL    string
	// QueueURL is the function's own queue. A held message is sent to it
	// again with a delay and the delivered copy deleted, so waiting never
	// counts towards maxReceiveCount and never ends in the DLQ. Events are
	// idempotent by id, so the copy is safe.
	QueueURL  string
	HoldDelay time.Duration
	// WaitMax is the longest delay of a waiting message (delivery.ErrWait) between
	// two looks; DefaultWaitMax when zero.
	WaitMax time.Duration
	Log     *slog.Logger
	// Metrics, when set, counts held events for the alarms: NeedsReauth,
	// NeedsAdmin, AppRefused and BudgetExceeded per team; and, for the
	// dashboard, the events sent back to wait (HeldEvents) by reason.
	Metrics *metrics.EMF
	// Invalid, when set, answers the invalid messages that name their
	// event and team before they are dead-lettered; nil: dead-lettered only.
	Invalid InvalidAnswerer
	// Now is the clock of invalid_event answers, of the delays and times
	// messages are sent back with, and of the time left to send them (on
	// the clock of ctx's deadline), called from several goroutines at
	// once; time.Now when nil.
	Now func() time.Time

	// Reserve, and SendRound for each round of concurrent calls it may
	// take to send every valid message of the batch back, are kept from
	// the function's time for handing messages back: the processor's
	// context ends that long before the function's deadline (see reserve).
	// DefaultReserve and DefaultSendRound when zero.
	Reserve   time.Duration
	SendRound time.Duration
	// OutOfTimeFor is how long after its time first ran out a message that
	// runs out of time again is still sent back as a waiting one is; later
	// it returns as a failure. DefaultOutOfTimeFor when zero.
	OutOfTimeFor time.Duration
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle processes one SQS batch: it sorts the valid messages from the
// poison ones, answers and dead-letters the poison ones, has the processor
// handle the valid ones, decides what becomes of each that failed, sends
// back those that wait, and answers with the messages that return to the
// queue.
func (h *Handler) Handle(ctx context.Context, in Batch) (events.SQSEventResponse, error) {
	msgs, bodies, poison := h.classify(in)
	failures := h.reject(ctx, poison)
	if len(msgs) == 0 {
		return events.SQSEventResponse{BatchItemFailures: failures}, nil
	}
	failed := h.process(ctx, msgs)
	now := h.now()
	later, back := h.fates(msgs, bodies, failed, now)
	h.countHolds(holdsOf(msgs, failed))
	sendErrs := h.resend(ctx, later)
	h.countHeld(later, sendErrs)
	failures = append(failures, back...)
	failures = append(failures, h.report(later, failed, sendErrs)...)
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// classify decodes a batch into its valid messages, with their bodies
// (bodies[i] is msgs[i]'s, to send again), and its poison messages, with
// why: malformed, or sent to the wrong queue.
func (h *Handler) classify(in Batch) (msgs []Message, bodies []string, poison []poisoned) {
	msgs = make([]Message, 0, len(in.Records))
	bodies = make([]string, 0, len(in.Records))
	for _, rec := range in.Records {
		ev, err := event.Decode([]byte(rec.Body))
		if err == nil && ev.Queue() != h.Queue {
			err = &event.ValidationError{Field: "type", Problem: fmt.Sprintf("%s events belong on the %s queue, not the %s queue", ev.Type, ev.Queue(), h.Queue)}
		}
		if err != nil {
			poison = append(poison, poisoned{rec: rec, reason: err})
			continue
		}
		msgs = append(msgs, Message{ID: rec.MessageID, Event: ev, Retry: isRetry(rec), FirstReceived: firstReceived(rec),
			OutOfTimeSince: outOfTimeSince(rec)})
		bodies = append(bodies, rec.Body)
	}
	return msgs, bodies, poison
}

// process has the processor handle msgs until the reserve (see reserve)
// before the function's deadline, and returns what failed.
func (h *Handler) process(ctx context.Context, msgs []Message) map[string]error {
	work, cancel := h.workContext(ctx, len(msgs))
	defer cancel()
	ds := make([]delivery.Delivery, len(msgs))
	for i, m := range msgs {
		ds[i] = delivery.Delivery{ID: m.ID, Event: m.Event, Retry: m.Retry, FirstReceived: m.FirstReceived}
	}
	return h.Processor.Process(work, ds)
}

// fates decides, at now, what becomes of each failed message: sent back
// to the queue (held, waiting, or out of time), in order of id, or
// returned to the queue as a failure.
func (h *Handler) fates(msgs []Message, bodies []string, failed map[string]error, now time.Time) (later []resend, back []events.SQSBatchItemFailure) {
	// byID indexes msgs: a batch holds up to 10,000 messages, and a copy
	// of each would double what the batch keeps in memory.
	byID := make(map[string]int, len(msgs))
	for i := range msgs {
		byID[msgs[i].ID] = i
	}
	for id, err := range failed {
		i, ok := byID[id]
		if ok {
			if r, ok := h.fate(&msgs[i], bodies[i], err, now); ok {
				later = append(later, r)
				continue
			}
		} // else not one of the batch's ids: nothing to send again
		h.Log.Warn("message returns to the queue", "message_id", id, "error", err.Error())
		back = append(back, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	slices.SortFunc(later, func(a, b resend) int { return cmp.Compare(a.id, b.id) })
	return later, back
}

// fate is how a message that failed with err is sent back at now: held
// (delivery.ErrHeld) for the hold delay, or waiting (delivery.ErrWait, or out of time: see
// outOfTime) for its wait delay, or for the wait Salesforce asked for
// (retryAfter); false when it returns to the queue as a
// failure instead. Only an out-of-time resend carries when its time first
// ran out (OutOfTimeSinceAttribute).
func (h *Handler) fate(m *Message, body string, err error, now time.Time) (resend, bool) {
	r := resend{id: m.ID, team: m.Event.TeamID, body: body, retry: m.Retry, since: firstOr(m, now)}
	wait := func() time.Duration { return WaitDelay(now, r.since, cmp.Or(h.WaitMax, DefaultWaitMax)) }
	switch {
	case h.QueueURL == "":
		return resend{}, false
	case errors.Is(err, delivery.ErrHeld):
		r.delay, r.reason = h.holdDelay(), heldReason(err)
	case errors.Is(err, delivery.ErrWait):
		r.wait, r.delay, r.reason = true, wait(), waitReason(err)
	case retryAfter(err) > 0:
		r.wait, r.delay, r.reason = true, retryAfter(err), metrics.HeldRetryAfter
	case h.outOfTime(err, m.OutOfTimeSince, now):
		r.wait, r.delay, r.outOfTimeSince, r.reason = true, wait(), m.OutOfTimeSince, metrics.HeldOutOfTime
		if r.outOfTimeSince.IsZero() {
			r.outOfTimeSince = now
		}
	default:
		return resend{}, false
	}
	return r, true
}

// retryAfter is the wait the error of a Salesforce call asks for before
// the call is sent again (the org's concurrent long-running requests all
// taken: salesforce.RetryAfter), in whole seconds rounded up (SQS's unit),
// at most SQS's longest delay; zero when it asks for none. Such a message
// is sent back as a waiting one: a refusal that passes with time never
// counts towards maxReceiveCount.
func retryAfter(err error) time.Duration {
	d, ok := salesforce.RetryAfter(err)
	if !ok {
		return 0
	}
	return min((d + time.Second - 1).Truncate(time.Second), DefaultHoldDelay)
}

// holdsOf counts the held messages of the batch by alarm metric and
// team: a count each, not an EMF line per message.
func holdsOf(msgs []Message, failed map[string]error) map[holdKey]int {
	holds := map[holdKey]int{}
	for i := range msgs {
		if err, ok := failed[msgs[i].ID]; ok {
			if name := holdMetric(err); name != "" {
				holds[holdKey{name, msgs[i].Event.TeamID}]++
			}
		}
	}
	return holds
}

// report logs what was sent back, and returns the messages that could not
// be: they return to the queue as failures. A held team's batch may be
// thousands of messages: one line per team and reason says so, each
// message's own line is at debug level.
func (h *Handler) report(later []resend, failed, sendErrs map[string]error) []events.SQSBatchItemFailure {
	var back []events.SQSBatchItemFailure
	type heldBy struct{ team, reason string }
	held := map[heldBy]int{}
	var heldOrder []heldBy
	unsent := 0
	for _, r := range later {
		serr := sendErrs[r.id]
		if serr != nil {
			back = append(back, events.SQSBatchItemFailure{ItemIdentifier: r.id})
		}
		switch {
		case errors.Is(serr, ErrNoTimeToSend):
			unsent++
			continue
		case serr != nil:
			h.Log.Error("send message again", "message_id", r.id, "error", serr.Error())
			continue
		}
		if r.wait {
			h.Log.Debug("message waits", "message_id", r.id, "reason", failed[r.id].Error(), "delay_s", int(r.delay/time.Second))
			continue
		}
		h.Log.Debug("message held", "message_id", r.id, "reason", failed[r.id].Error())
		k := heldBy{r.team, failed[r.id].Error()}
		if held[k] == 0 {
			heldOrder = append(heldOrder, k)
		}
		held[k]++
	}
	if unsent > 0 {
		h.Log.Warn("messages return to the queue", "messages", unsent, "error", ErrNoTimeToSend.Error())
	}
	for _, k := range heldOrder {
		h.Log.Info("messages held", "team_id", k.team, "messages", held[k], "reason", k.reason, "delay_s", int(h.holdDelay()/time.Second))
	}
	h.logOutOfTime(later, failed, sendErrs)
	return back
}

// holdKey is an alarm metric of held messages, for one team.
type holdKey struct{ name, team string }

// resend is a message to send to the function's queue again, after delay.
type resend struct {
	id, team, body string
	retry          bool
	delay          time.Duration
	since          time.Time // when the queue first delivered the event (WaitingSinceAttribute)
	outOfTimeSince time.Time // when its time first ran out (OutOfTimeSinceAttribute); zero unless out of time
	wait           bool      // waiting (delivery.ErrWait, or out of time), not held
	reason         string    // why, as HeldEvents counts it (metrics.Held*)
}

// firstOr is when the queue first delivered m's event, now when it did not say.
func firstOr(m *Message, now time.Time) time.Time {
	if m.FirstReceived.IsZero() {
		return now
	}
	return m.FirstReceived
}

func (h *Handler) holdDelay() time.Duration {
	if h.HoldDelay <= 0 || h.HoldDelay > DefaultHoldDelay {
		return DefaultHoldDelay
	}
	return h.HoldDelay
}

// holdMetric is the alarm metric a held message counts towards:
// AppRefused, NeedsAdmin, NeedsReauth or BudgetExceeded; "" for none. A
// refused app's and a needs_admin error match ErrNeedsReauth too: they are
// asked first.
func holdMetric(err error) string {
	switch {
	case !errors.Is(err, delivery.ErrHeld):
		return ""
	case errors.Is(err, connection.ErrAppRefused):
		return metrics.AppRefused
	case errors.Is(err, connection.ErrNeedsAdmin):
		return metrics.NeedsAdmin
	case errors.Is(err, connection.ErrNeedsReauth):
		return metrics.NeedsReauth
	case errors.Is(err, salesforce.ErrRequestLimit), errors.Is(err, budget.ErrCapped), errors.Is(err, budget.ErrNearCap):
		return metrics.BudgetExceeded
	}
	return ""
}

// heldReason is the HeldEvents reason of a held message (err wraps
// delivery.ErrHeld): its alarm metric's, or metrics.HeldOther.
func heldReason(err error) string {
	switch holdMetric(err) {
	case metrics.AppRefused:
		return metrics.HeldAppRefused
	case metrics.NeedsAdmin:
		return metrics.HeldNeedsAdmin
	case metrics.NeedsReauth:
		return metrics.HeldNeedsReauth
	case metrics.BudgetExceeded:
		return metrics.HeldAPILimit
	}
	return metrics.HeldOther
}

// waitReason is the HeldEvents reason of a waiting message (err wraps
// delivery.ErrWait).
func waitReason(err error) string {
	switch {
	case errors.Is(err, delivery.ErrGathering):
		return metrics.HeldGathering
	case errors.Is(err, delivery.ErrNotRun):
		return metrics.HeldNotRun
	}
	return metrics.HeldAwaitingAdd
}

// countHeld emits the messages sent back to wait, one line per reason
// (HeldEvents has no team dimension); those not sent are not held: they
// return to the queue as failures.
func (h *Handler) countHeld(later []resend, sendErrs map[string]error) {
	if h.Metrics == nil {
		return
	}
	n := map[string]int{}
	for _, r := range later {
		if sendErrs[r.id] == nil {
			n[r.reason]++
		}
	}
	for _, reason := range slices.Sorted(maps.Keys(n)) {
		err := h.Metrics.Write(map[string]string{metrics.Reason: reason}, metrics.Metric{Name: metrics.HeldEvents, Value: n[reason]})
		if err != nil {
			h.Log.Warn("emit metric", "metric", metrics.HeldEvents, "error", err.Error())
		}
	}
}

// countHolds emits the batch's held messages per metric and team, in order.
func (h *Handler) countHolds(holds map[holdKey]int) {
	if h.Metrics == nil {
		return
	}
	for _, k := range slices.SortedFunc(maps.Keys(holds), func(a, b holdKey) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.team, b.team))
	}) {
		if err := h.Metrics.Count(k.name, k.team, holds[k]); err != nil {
			h.Log.Warn("emit metric", "metric", k.name, "error", err.Error())
		}
	}
}

// resend sends messages to the function's own queue again, each invisible
// for its delay, ten to a call and up to sendConcurrency calls at once, and
// returns why any of them was not sent (those go back to the queue as
// failures instead). A call never starts with less than SendFloor left
// before ctx's deadline: its messages are not sent (ErrNoTimeToSend), so
// the function answers in time whatever SQS's latency.
func (h *Handler) resend(ctx context.Context, rs []resend) map[string]error {
	chunks := resendBatches(rs)
	res := make([]map[string]error, len(chunks)) // res[i]: chunks[i]'s
	dl, bounded := ctx.Deadline()
	send, cancel := ctx, context.CancelFunc(func() {})
	if bounded {
		send, cancel = context.WithDeadline(ctx, dl.Add(-answerTime))
	}
	defer cancel()
	var g errgroup.Group
	g.SetLimit(sendConcurrency)
	for i, chunk := range chunks {
		g.Go(func() error {
			if bounded && dl.Sub(h.now()) < SendFloor {
				res[i] = chunkErrs(chunk, ErrNoTimeToSend)
				return nil
			}
			res[i] = h.sendChunk(send, chunk)
			return nil
		})
	}
	_ = g.Wait() // no call returns an error: each chunk's are in res
	errs := map[string]error{}
	for _, e := range res {
		maps.Copy(errs, e)
	}
	return errs
}

// Sending messages back: up to sendConcurrency SendMessageBatch calls at
// once; none starts with less than SendFloor left before the function's
// deadline, and each is cut answerTime before it, so that the function
// still answers.
const (
	sendConcurrency = 10
	SendFloor       = 500 * time.Millisecond
	answerTime      = 200 * time.Millisecond
)

// ErrNoTimeToSend is why a message was not sent back: too little of the
// function's time was left. It returns to the queue as a failure.
var ErrNoTimeToSend = errors.New("too little time left to send the message back")

// chunkErrs is err for each message of a chunk.
func chunkErrs(chunk []resend, err error) map[string]error {
	errs := make(map[string]error, len(chunk))
	for _, r := range chunk {
		errs[r.id] = err
	}
	return errs
}

// sendChunk sends one chunk in one SendMessageBatch call, and returns why
// any of its messages was not sent.
func (h *Handler) sendChunk(ctx context.Context, chunk []resend) map[string]error {
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(h.QueueURL)}
	for i, r := range chunk {
		in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(r.body),
			DelaySeconds: int32(r.delay / time.Second), MessageGroupId: groupID(r.team), MessageAttributes: r.attributes()})
	}
	out, err := h.DLQ.SendMessageBatch(ctx, in)
	if err != nil {
		return chunkErrs(chunk, fmt.Errorf("send to %s: %w", h.QueueURL, err))
	}
	errs := map[string]error{}
	for _, f := range out.Failed {
		if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i < len(chunk) {
			errs[chunk[i].id] = fmt.Errorf("send to %s: %s: %s", h.QueueURL, aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return errs
}

// attributes are the message attributes of r's copy: the retry mark, when
// its event was first received, and, out of time, when its time first ran
// out; nil when none.
func (r resend) attributes() map[string]sqstypes.MessageAttributeValue {
	if !r.retry && r.since.IsZero() && r.outOfTimeSince.IsZero() {
		return nil
	}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	if r.retry {
		maps.Copy(attrs, RetryAttributes())
	}
	if !r.since.IsZero() {
		attrs[WaitingSinceAttribute] = millisValue(r.since)
	}
	if !r.outOfTimeSince.IsZero() {
		attrs[OutOfTimeSinceAttribute] = millisValue(r.outOfTimeSince)
	}
	return attrs
}

// millisValue is t as a message attribute of Unix milliseconds.
func millisValue(t time.Time) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.FormatInt(t.UnixMilli(), 10))}
}

// SQS's limits on one SendMessageBatch: 10 entries, 256 KiB of payload in
// all (entryOverhead counts an entry's attributes and id, generously).
const (
	maxBatchEntries = 10
	maxBatchBytes   = 256 << 10
	entryOverhead   = 512
)

// resendBatches packs messages into SendMessageBatch calls within both limits, in order.
func resendBatches(rs []resend) [][]resend {
	var out [][]resend
	var cur []resend
	size := 0
	for _, r := range rs {
		n := len(r.body) + entryOverhead
		if len(cur) == maxBatchEntries || (len(cur) > 0 && size+n > maxBatchBytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur, size = append(cur, r), size+n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// RetryAttributes are the message attributes of an event the error inbox
// sends again.
func RetryAttributes() map[string]sqstypes.MessageAttributeValue {
	return map[string]sqstypes.MessageAttributeValue{
		RetryAttribute: {DataType: aws.String("String"), StringValue: aws.String("true")}}
}

// groupID is the MessageGroupId of a message of team: the team, as the
// sequencer sends it, so SQS fair queueing counts the messages the
// functions send themselves against their own team; none when unknown.
func groupID(team string) *string {
	if team == "" {
		return nil
	}
	return aws.String(team)
}

// poisoned is a message that failed validation, with why.
type poisoned struct {
	rec    Record
	reason error
}

// reject answers the invalid messages that name their event and team
// (Invalid), then dead-letters every invalid message with its reason, and
// returns those that must come back: their answer or their move failed.
func (h *Handler) reject(ctx context.Context, ps []poisoned) []events.SQSBatchItemFailure {
	if len(ps) == 0 {
		return nil
	}
	teams := make([]string, len(ps)) // teams[i]: ps[i]'s, when readable
	answered := make([]bool, len(ps))
	var outs []event.Outcome
	now := h.now()
	for i, p := range ps {
		o, ok := event.InvalidOutcome([]byte(p.rec.Body), h.Queue, p.reason, now)
		if !ok {
			continue
		}
		teams[i] = o.TeamID
		if h.Invalid != nil && errors.Is(p.reason, event.ErrInvalid) {
			outs, answered[i] = append(outs, o), true
		}
	}
	var answerErr error
	if len(outs) > 0 {
		if answerErr = h.Invalid.AnswerInvalid(ctx, outs); answerErr != nil {
			h.Log.Error("answer invalid messages", "messages", len(outs), "error", answerErr.Error())
		}
	}
	var failures []events.SQSBatchItemFailure
	for i, p := range ps {
		if answered[i] && answerErr != nil { // back to the queue: answered, then dead-lettered, next time
			failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: p.rec.MessageID})
			continue
		}
		if err := h.deadLetter(ctx, p.rec, p.reason, teams[i]); err != nil {
			h.Log.Error("dead-letter poison message", "message_id", p.rec.MessageID, "error", err.Error())
			failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: p.rec.MessageID})
		}
	}
	return failures
}

// deadLetter sends the message, body intact, to the DLQ with why it was
// rejected, in its team's message group when the team is known.
func (h *Handler) deadLetter(ctx context.Context, rec Record, reason error, team string) error {
	if !errors.Is(reason, event.ErrInvalid) {
		return fmt.Errorf("not a poison message: %w", reason)
	}
	h.Log.Warn("poison message moved to the dead-letter queue", "message_id", rec.MessageID, "reason", reason.Error())
	_, err := h.DLQ.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:       aws.String(h.DLQURL),
		MessageGroupId: groupID(team),
		MessageBody:    aws.String(rec.Body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"error":             {DataType: aws.String("String"), StringValue: aws.String(truncate(reason.Error(), 1000))},
			"source_message_id": {DataType: aws.String("String"), StringValue: aws.String(rec.MessageID)},
		},
	})
	if err != nil {
		return fmt.Errorf("send to DLQ: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

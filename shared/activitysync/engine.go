package activitysync

import (
	"context"
	"fmt"
	"github.com/sfsync/sfsync/shared/attribution"
	"log/slog"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Reasons activity sync adds to the event contract's.
const (
	ReasonKindOff event.Reason = "activity_kind_off" // the team does not log this kind of activity
)

// CodeNoClosedTaskStatus is the error code of an activity failed because
// the org offers no active closed Task status: a logged email is a
// completed Task, never an open one.
const CodeNoClosedTaskStatus = "NO_CLOSED_TASK_STATUS"

// noClosedStatus is the answer of a Task not sent for want of a closed status.
var noClosedStatus = salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: CodeNoClosedTaskStatus, Fields: []string{"Status"},
	Message: "the org has no active closed Task status, so the email cannot be logged as a completed Task: " +
		"mark a value of the Task Status picklist Closed (Setup, Object Manager, Task, Fields, Status)"}}}

// Defaults of the engine's knobs.
const (
	DefaultAwaitAdd      = delivery.DefaultAwaitAdd
	DefaultTaskFieldsTTL = 24 * time.Hour
	DefaultClaimTTL      = 5 * time.Minute
)

// Engine syncs email events. It handles one batch at a time.
type Engine struct {
	Ledger     Ledger
	Activities Activities
	Orgs       Orgs
	Settings   Settings
	Publisher  delivery.Publisher
	// Lifecycle keeps which bounce each record carries (required: a
	// bounce is written back when the team's bounce_writeback is on).
	Lifecycle lifecycle.Marks
	// Owner names this worker in claims; ClaimTTL must exceed the
	// function's timeout.
	Owner    string
	ClaimTTL time.Duration
	// Reps keeps what the orgs said of the reps' users, per team (see
	// attribution.Users); nil keeps nothing between batches.
	Reps *attribution.Users
	// AwaitAdd is how long an activity whose contact.added has not been
	// seen yet keeps coming back before it is skipped as not_added (from
	// when it occurred, or from when the team's parked events have all come
	// back: see delivery.AwaitAdd).
	AwaitAdd time.Duration
	// HoldDelay is how long a parked event waits (the queue's hold delay).
	HoldDelay time.Duration
	// Gather holds a team's small part back to run with its next events
	// (delivery.Gather); the zero value holds nothing back.
	Gather delivery.Gather
	// TeamsAtOnce is how many teams' parts of a batch run at once
	// (delivery.Runner.Teams; 0 or 1: one after the other).
	TeamsAtOnce int
	// Reruns and RerunWait: a team's batch that meets a passing Salesforce
	// fault is run again at once (see delivery.Rerun); zero values are
	// the defaults.
	Reruns    int
	RerunWait time.Duration
	// TaskFieldsTTL is how long the Task describe is trusted.
	TaskFieldsTTL time.Duration
	Now           func() time.Time
	Log           *slog.Logger
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Process handles one batch of deliveries and returns the ids of those that
// must come back, with why. Every other delivery has its final (or pending)
// outcome recorded and published.
func (e *Engine) Process(ctx context.Context, ds []delivery.Delivery) map[string]error {
	failed := map[string]error{}
	// A batch larger than the deployed one runs in parts, so what a run
	// keeps in memory is that of 1,000 (see delivery.Parts).
	delivery.RunParts(ctx, ds, failed, delivery.Runner{
		Reruns: e.Reruns, Wait: e.RerunWait, Log: e.logger(), Gather: e.Gather, Teams: e.TeamsAtOnce,
		Run: e.runPart,
	})
	e.answers().EndHeld(ctx, ds, failed)
	return failed
}

// answers gives the engine's answers outside a team's run.
func (e *Engine) answers() delivery.Answers {
	return delivery.Answers{Ledger: e.Ledger, Settings: e.Settings, Publisher: e.Publisher, Now: e.now, Log: e.logger()}
}

// AnswerInvalid answers messages that failed validation (see
// delivery.Answers.AnswerInvalid).
func (e *Engine) AnswerInvalid(ctx context.Context, outs []event.Outcome) error {
	return e.answers().AnswerInvalid(ctx, outs)
}

// runPart is one team's part of a batch as a pipeline: screen (what was
// answered before is only published again), sync (the steps in sync.go),
// then answer. It returns the deliveries that must come back, with why;
// an error brings the whole part back.
func (e *Engine) runPart(ctx context.Context, teamID string, ds []delivery.Delivery) (map[string]error, error) {
	todo, republish, screened, err := e.screen(ctx, teamID, ds)
	if err != nil {
		return nil, err
	}
	synced, drains, err := e.sync(ctx, teamID, todo)
	if err != nil {
		return nil, err
	}
	res := merge(screened, synced)
	// What the part did is recorded even past its share's end.
	if err := e.answer(delivery.WriteContext(ctx), teamID, res, republish, drains); err != nil {
		return nil, err
	}
	return res.back, nil
}

// screen is the first step: the first delivery of each event id goes on
// to sync, unless the event was answered for good before (its answer is
// returned, to be published again: it may not have reached the queue). A
// delivery that is not an email event comes back.
func (e *Engine) screen(ctx context.Context, teamID string, ds []delivery.Delivery) ([]delivery.Delivery, []event.Outcome, result, error) {
	refs := make([]ledger.EventRef, 0, len(ds))
	for _, d := range ds {
		refs = append(refs, ledger.RefOf(d.Event))
	}
	prior, err := e.Ledger.Outcomes(ctx, teamID, refs)
	if err != nil {
		return nil, nil, result{}, fmt.Errorf("read outcomes: %w", err)
	}
	var todo []delivery.Delivery
	var republish []event.Outcome
	var res result
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Event.ID] {
			continue
		}
		seen[d.Event.ID] = true
		if !d.Event.Type.IsEmail() {
			res.retry(d, fmt.Errorf("event %s: type %s is not an email event", d.Event.ID, d.Event.Type))
			continue
		}
		if o, ok := prior[d.Event.ID]; ok && answered(o) {
			republish = append(republish, o)
			continue
		}
		todo = append(todo, d)
	}
	return todo, republish, res, nil
}

// answered reports an outcome that answers its event for good: neither
// pending nor failed (a failed activity is tried again when redelivered).
func answered(o event.Outcome) bool {
	return o.Status != event.StatusPending && o.Status != event.StatusFailed
}

// answer is the last step: it records the part's outcomes, lets the held
// store forget the held activities now answered, and publishes the
// answers, those of events answered before first.
func (e *Engine) answer(ctx context.Context, teamID string, res result, republish []event.Outcome, drains []drain) error {
	if len(res.outcomes) > 0 {
		if err := e.Ledger.RecordOutcomes(ctx, res.outcomes, ledger.WithActivities(res.activities)); err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
	}
	e.unhold(ctx, teamID, drains, res.done())
	if all := append(republish, res.outcomes...); len(all) > 0 {
		if err := e.Publisher.Publish(ctx, all); err != nil {
			return fmt.Errorf("publish outcomes: %w", err)
		}
	}
	return nil
}

// unhold lets go of the drained memberships' held activities whose final
// outcome is recorded (done); a membership with some still held stays
// listed.
func (e *Engine) unhold(ctx context.Context, teamID string, drains []drain, done map[string]bool) {
	for _, dr := range drains {
		var gone []string
		for _, id := range dr.ids {
			if done[id] {
				gone = append(gone, id)
			}
		}
		mark := dr.mark
		if len(gone) < len(dr.ids) {
			mark = -1 // some stay held: keep the membership listed
		}
		if err := e.Activities.Unhold(ctx, teamID, dr.key, gone, mark); err != nil {
			e.logger().Warn("unhold activities", "team_id", teamID, "error", err.Error())
		}
	}
}

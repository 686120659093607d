package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// OutcomeLedger is the part of the ledger Answers reads and writes.
type OutcomeLedger interface {
	Outcomes(ctx context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error)
	// RecordOutcomesKept records outs and returns, for each, the outcome
	// kept for its event: outs[i] itself, or the one recorded before that
	// it may not replace (a copy of the event synced meanwhile).
	RecordOutcomesKept(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) (kept []event.Outcome, err error)
}

// TeamSettings gives a team's settings as of a time.
type TeamSettings interface {
	TeamSettingsAt(ctx context.Context, teamID string, at time.Time) (policy.TeamVersion, error)
}

// Answers gives the answers both sync functions owe outside a team's run
// (R9): to the events held longer than their team allows, and to the
// messages that failed validation but name their event and team.
type Answers struct {
	Ledger    OutcomeLedger
	Settings  TeamSettings
	Publisher Publisher
	Now       func() time.Time
	Log       *slog.Logger
}

func (a Answers) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a Answers) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// minHeld is the shortest hold any team allows: a delivery first received
// more recently is never looked at, so a held batch costs no read.
const minHeld = policy.MinHeldDays * 24 * time.Hour

// EndHeld answers the deliveries held (failed with an error wrapping ErrHeld)
// for longer than their team's held_event_max_days since the queue first
// delivered them: skipped, held_too_long, recorded and published, and
// takes them out of failed, so they leave the queue. An event answered
// before keeps that answer, published again. A team whose answers cannot
// be given now keeps its deliveries held, to be tried on their next
// return. Deliveries whose first receipt is unknown are left held.
func (a Answers) EndHeld(ctx context.Context, ds []Delivery, failed map[string]error) {
	now := a.now()
	var old []Delivery
	for _, d := range ds {
		if err, ok := failed[d.ID]; ok && errors.Is(err, ErrHeld) && !d.FirstReceived.IsZero() && now.Sub(d.FirstReceived) >= minHeld {
			old = append(old, d)
		}
	}
	teams, byTeam := ByTeam(old)
	for _, team := range teams {
		ended, err := a.endHeld(ctx, team, byTeam[team], now)
		if err != nil {
			a.log().Warn("answer events held too long", "team_id", team, "error", err.Error())
			continue
		}
		for _, d := range ended {
			delete(failed, d.ID)
		}
		if len(ended) > 0 {
			a.log().Info("held events answered held_too_long", "team_id", team, "events", len(ended))
		}
	}
}

// endHeld answers a team's deliveries held longer than its settings allow
// at now, and returns them.
func (a Answers) endHeld(ctx context.Context, team string, ds []Delivery, now time.Time) ([]Delivery, error) {
	tv, err := a.Settings.TeamSettingsAt(ctx, team, now)
	if err != nil {
		return nil, fmt.Errorf("resolve team settings: %w", err)
	}
	limit := tv.Document.HeldMax()
	var over []Delivery
	var outs []event.Outcome
	for _, d := range ds {
		if !now.Before(d.FirstReceived.Add(limit)) {
			o := event.NewOutcome(d.Event, "out_"+d.Event.ID, event.StatusSkipped, now)
			o.Reason = event.ReasonHeldTooLong
			over, outs = append(over, d), append(outs, o)
		}
	}
	if len(over) == 0 {
		return nil, nil
	}
	// An add held may have pinned its membership: its answer is kept as
	// long as the team keeps memberships, as the sync's own answers are.
	keep := ledger.Retaining(ledger.RetainOr(tv.Document.Retention()))
	err = a.answerTeam(ctx, team, outs, func(_, prior event.Outcome, answered bool) answerStep {
		if answered && !event.IsInvalidEvent(prior) {
			return publishPrior // answered before; its answer may not have reached the queue
		}
		return recordAnswer
	}, keep)
	if err != nil {
		return nil, err
	}
	return over, nil
}

// AnswerInvalid records and publishes the failed/invalid_event answers of
// messages that failed validation (event.InvalidOutcome), so the sequencer
// hears of every event it sent (R9). Their team and ids come from an
// invalid body, so an answer never takes the place of another: an event
// id answered otherwise before gets no answer here (the message is only
// dead-lettered), one answered invalid_event before is answered the same
// again (a redelivery), and the ledger never lets an invalid_event answer
// replace another (a valid copy that synced meanwhile keeps its answer,
// which is published again instead). An answer whose contact is unknown is
// published only: the ledger keeps outcomes by contact.
func (a Answers) AnswerInvalid(ctx context.Context, outs []event.Outcome) error {
	teams, byTeam := byTeamOf(slices.Clone(outs), func(o event.Outcome) string { return o.TeamID })
	for _, team := range teams {
		err := a.answerTeam(ctx, team, byTeam[team], func(o, prior event.Outcome, answered bool) answerStep {
			switch {
			case answered && event.IsInvalidEvent(prior):
				return publishPrior
			case answered:
				a.log().Warn("invalid message of an event answered before: not answered", "team_id", team, "event_id", o.EventID)
				return noAnswer
			case o.ContactID == "":
				return publishAnswer
			}
			return recordAnswer
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// answerStep is what answerTeam does with a proposed answer.
type answerStep int

const (
	noAnswer      answerStep = iota
	publishPrior             // publish the event's earlier answer again
	publishAnswer            // publish the new answer, unrecorded
	recordAnswer             // record the new answer; publish the answer the ledger kept
)

// answerTeam gives a team's events the answers outs propose, one per
// event: it reads what they were answered before, lets choose decide what
// to do with each (given the earlier answer, if answered), records the new
// answers, and publishes, for each recorded one, the answer the ledger
// kept: a copy of the event that synced since the read keeps its answer,
// and that one is published, never a second, different one.
func (a Answers) answerTeam(ctx context.Context, team string, outs []event.Outcome,
	choose func(o, prior event.Outcome, answered bool) answerStep, opts ...ledger.RecordOption) error {
	prior, err := a.Ledger.Outcomes(ctx, team, ledger.RefsOf(outs))
	if err != nil {
		return fmt.Errorf("read outcomes: %w", err)
	}
	var record, publish []event.Outcome
	seen := map[string]bool{}
	for _, o := range outs {
		if seen[o.EventID] {
			continue // the same event twice: one answer
		}
		seen[o.EventID] = true
		p, answered := prior[o.EventID]
		switch choose(o, p, answered) {
		case publishPrior:
			publish = append(publish, p)
		case publishAnswer:
			publish = append(publish, o)
		case recordAnswer:
			record = append(record, o)
		}
	}
	if len(record) > 0 {
		kept, err := a.Ledger.RecordOutcomesKept(ctx, record, opts...)
		if err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
		publish = append(publish, kept...)
	}
	if len(publish) == 0 {
		return nil
	}
	if err := a.Publisher.Publish(ctx, publish); err != nil {
		return fmt.Errorf("publish outcomes: %w", err)
	}
	return nil
}

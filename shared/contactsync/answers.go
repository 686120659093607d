package contactsync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
)

// OutcomeLedger is the part of the ledger Answers reads and writes.
type OutcomeLedger interface {
	Outcomes(ctx context.Context, teamID string, eventIDs []string) (map[string]event.Outcome, error)
	RecordOutcomes(ctx context.Context, outs []event.Outcome) error
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

// EndHeld answers the deliveries held (failed with an error held reports)
// for longer than their team's held_event_max_days since the queue first
// delivered them: skipped, held_too_long, recorded and published, and
// takes them out of failed, so they leave the queue. An event answered
// before keeps that answer, published again. A team whose answers cannot
// be given now keeps its deliveries held, to be tried on their next
// return. Deliveries whose first receipt is unknown are left held.
func (a Answers) EndHeld(ctx context.Context, ds []Delivery, failed map[string]error, held func(error) bool) {
	now := a.now()
	var teams []string
	byTeam := map[string][]Delivery{}
	for _, d := range ds {
		err, ok := failed[d.ID]
		if !ok || !held(err) || d.FirstReceived.IsZero() || now.Sub(d.FirstReceived) < minHeld {
			continue
		}
		if byTeam[d.Event.TeamID] == nil {
			teams = append(teams, d.Event.TeamID)
		}
		byTeam[d.Event.TeamID] = append(byTeam[d.Event.TeamID], d)
	}
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
	var ids []string
	for _, d := range ds {
		if !now.Before(d.FirstReceived.Add(limit)) {
			over = append(over, d)
			ids = append(ids, d.Event.ID)
		}
	}
	if len(over) == 0 {
		return nil, nil
	}
	prior, err := a.Ledger.Outcomes(ctx, team, ids)
	if err != nil {
		return nil, fmt.Errorf("read outcomes: %w", err)
	}
	var record, publish []event.Outcome
	seen := map[string]bool{}
	for _, d := range over {
		if seen[d.Event.ID] {
			continue // the same event twice: one answer
		}
		seen[d.Event.ID] = true
		if p, ok := prior[d.Event.ID]; ok && !event.IsInvalidEvent(p) {
			publish = append(publish, p) // answered before; its answer may not have reached the queue
			continue
		}
		o := event.NewOutcome(d.Event, "out_"+d.Event.ID, event.StatusSkipped, now)
		o.Reason = event.ReasonHeldTooLong
		record, publish = append(record, o), append(publish, o)
	}
	if len(record) > 0 {
		if err := a.Ledger.RecordOutcomes(ctx, record); err != nil {
			return nil, fmt.Errorf("record outcomes: %w", err)
		}
	}
	if err := a.Publisher.Publish(ctx, publish); err != nil {
		return nil, fmt.Errorf("publish outcomes: %w", err)
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
// replace another. An answer whose contact is unknown is published only:
// the ledger keeps outcomes by contact.
func (a Answers) AnswerInvalid(ctx context.Context, outs []event.Outcome) error {
	var teams []string
	byTeam := map[string][]event.Outcome{}
	for _, o := range outs {
		if byTeam[o.TeamID] == nil {
			teams = append(teams, o.TeamID)
		}
		byTeam[o.TeamID] = append(byTeam[o.TeamID], o)
	}
	var record, publish []event.Outcome
	for _, team := range teams {
		ids := make([]string, 0, len(byTeam[team]))
		for _, o := range byTeam[team] {
			ids = append(ids, o.EventID)
		}
		prior, err := a.Ledger.Outcomes(ctx, team, ids)
		if err != nil {
			return fmt.Errorf("read outcomes: %w", err)
		}
		seen := map[string]bool{}
		for _, o := range byTeam[team] {
			if seen[o.EventID] {
				continue
			}
			seen[o.EventID] = true
			p, ok := prior[o.EventID]
			switch {
			case ok && event.IsInvalidEvent(p):
				publish = append(publish, p)
			case ok:
				a.log().Warn("invalid message of an event answered before: not answered", "team_id", team, "event_id", o.EventID)
			default:
				if o.ContactID != "" {
					record = append(record, o)
				}
				publish = append(publish, o)
			}
		}
	}
	if len(record) > 0 {
		if err := a.Ledger.RecordOutcomes(ctx, record); err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
	}
	if len(publish) > 0 {
		if err := a.Publisher.Publish(ctx, publish); err != nil {
			return fmt.Errorf("publish outcomes: %w", err)
		}
	}
	return nil
}

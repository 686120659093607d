package activitysync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
)

// needsAdmin is a team whose connected user is inactive in Salesforce.
type needsAdmin struct{}

func (needsAdmin) Open(context.Context, string) (Org, delivery.Connection, error) {
	return nil, delivery.Connection{Status: string(connection.StatusNeedsAdmin)},
		&connection.AdminError{Problem: connection.Problem{Reason: "inactive_user", Message: "reactivate them"}}
}

// defaultSettings is a team that never saved settings (14 held days).
type defaultSettings struct{}

func (defaultSettings) TeamSettingsAt(context.Context, string, time.Time) (policy.TeamVersion, error) {
	return policy.TeamVersion{Document: policy.DefaultTeamSettings()}, nil
}

// TestNeedsAdminHoldsActivity: the email activity of a team whose
// connection needs an admin is held like that of one needing a new
// consent, and answered skipped/held_too_long once held longer than the
// team's limit.
func TestNeedsAdminHoldsActivity(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)
	pub := &keptOutcomes{}
	e := &Engine{Ledger: quietLedger{}, Orgs: needsAdmin{}, Settings: defaultSettings{}, Publisher: pub, Now: func() time.Time { return now }}
	deliver := func(n string, first time.Time) delivery.Delivery {
		return delivery.Delivery{ID: "msg_" + n, FirstReceived: first, Event: event.Event{ID: "evt_" + n, Type: event.EmailSent,
			TeamID: "team_admin", OccurredAt: now.Add(-20 * 24 * time.Hour)}}
	}
	failed := e.Process(context.Background(), []delivery.Delivery{deliver("young", now.Add(-time.Hour)), deliver("old", now.Add(-15*24*time.Hour))})
	if err := failed["msg_young"]; !errors.Is(err, connection.ErrNeedsAdmin) || !errors.Is(err, delivery.ErrHeld) {
		t.Errorf("young: got %v; want held for needs_admin", err)
	}
	if _, ok := failed["msg_old"]; ok || len(pub.outs) != 1 || pub.outs[0].EventID != "evt_old" ||
		pub.outs[0].Status != event.StatusSkipped || pub.outs[0].Reason != event.ReasonHeldTooLong {
		t.Errorf("old: got failure %v, outcomes %+v; want answered skipped/held_too_long", failed["msg_old"], pub.outs)
	}
}

// keptOutcomes keeps what is published.
type keptOutcomes struct{ outs []event.Outcome }

func (p *keptOutcomes) Publish(_ context.Context, outs []event.Outcome) error {
	p.outs = append(p.outs, outs...)
	return nil
}

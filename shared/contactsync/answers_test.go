package contactsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
)

// reauthOrgs is a team whose connection needs an admin to reconnect.
type reauthOrgs struct{}

func (reauthOrgs) Open(context.Context, string) (Org, delivery.Connection, error) {
	return nil, delivery.Connection{}, connection.ErrNeedsReauth
}
func (reauthOrgs) RecordHold(context.Context, string, time.Time) error { return nil }

// adminOrgs is a team whose connection needs an admin (its user is
// inactive in Salesforce).
type adminOrgs struct{}

func (adminOrgs) Open(context.Context, string) (Org, delivery.Connection, error) {
	return nil, delivery.Connection{Status: string(connection.StatusNeedsAdmin)},
		&connection.AdminError{Problem: connection.Problem{Reason: "inactive_user", Message: "reactivate them"}}
}
func (adminOrgs) RecordHold(context.Context, string, time.Time) error { return nil }

// holds are the connections that hold a team's events until an admin acts,
// each with the error its held events carry.
var holds = []struct {
	name string
	orgs Orgs
	want error
}{
	{"needs_reauth", reauthOrgs{}, connection.ErrNeedsReauth},
	{"needs_admin", adminOrgs{}, connection.ErrNeedsAdmin},
}

// heldDays is a team whose held_event_max_days is days (0: never saved).
type heldDays struct {
	Policies
	days int
}

func (p heldDays) TeamSettingsAt(context.Context, string, time.Time) (policy.TeamVersion, error) {
	s := policy.DefaultTeamSettings()
	s.HeldEventMaxDays = p.days
	return policy.TeamVersion{Document: s}, nil
}

// TestHeldEventsEndAfterTheTeamsLimit: an event held (its team must
// reconnect) for as long as its team allows since the queue first
// delivered it is answered skipped/held_too_long and leaves the queue; a
// younger one, or one whose first delivery is unknown, stays held; an
// event answered before is answered the same again.
func TestHeldEventsEndAfterTheTeamsLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	deliver := func(n string, firstReceived time.Time) delivery.Delivery {
		return delivery.Delivery{ID: "msg_" + n, FirstReceived: firstReceived, Event: event.Event{ID: "evt_" + n, Type: event.ContactAdded, TeamID: "team_held",
			OccurredAt: now.Add(-20 * day),
			Data:       event.ContactData{Contact: event.Contact{ID: "c_" + n, Email: n + "@held.example"}, Sequence: &event.Sequence{ID: "seq"}}}}
	}
	created := event.NewOutcome(deliver("answered", time.Time{}).Event, "out_evt_answered", event.StatusCreated, now.Add(-15*day))
	created.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001"}
	invalid := event.NewOutcome(deliver("was_invalid", time.Time{}).Event, "out_evt_was_invalid", event.StatusFailed, now.Add(-15*day))
	invalid.Reason, invalid.Error = event.ReasonInvalidEvent, &event.OutcomeError{Code: event.InvalidEventCode, Message: "version: missing"}
	for _, tt := range []struct {
		name      string
		days      int // the team's setting; 0: never saved (14)
		ds        []delivery.Delivery
		published map[string]string // event id: status/reason
		recorded  []string
		held      []string // message ids
	}{
		{name: "default: 14 days", ds: []delivery.Delivery{deliver("old", now.Add(-14*day)), deliver("young", now.Add(-14*day+time.Second)),
			deliver("unknown", time.Time{})},
			published: map[string]string{"evt_old": "skipped/held_too_long"}, recorded: []string{"evt_old"},
			held: []string{"msg_unknown", "msg_young"}},
		{name: "the team's own limit", days: 3, ds: []delivery.Delivery{deliver("old", now.Add(-3*day-time.Second)), deliver("young", now.Add(-2*day))},
			published: map[string]string{"evt_old": "skipped/held_too_long"}, recorded: []string{"evt_old"}, held: []string{"msg_young"}},
		{name: "answered before: the same answer", days: 1, ds: []delivery.Delivery{deliver("answered", now.Add(-2*day)), deliver("was_invalid", now.Add(-2*day))},
			published: map[string]string{"evt_answered": "created/", "evt_was_invalid": "skipped/held_too_long"}, recorded: []string{"evt_was_invalid"}},
		{name: "younger than the team's one day", days: 1, ds: []delivery.Delivery{deliver("young", now.Add(-day+time.Second))},
			published: map[string]string{}, held: []string{"msg_young"}},
	} {
		for _, hold := range holds {
			t.Run(hold.name+": "+tt.name, func(t *testing.T) {
				t.Parallel()
				fl := &answerLedger{prior: map[string]event.Outcome{"evt_answered": created, "evt_was_invalid": invalid}}
				pub := &keptPublisher{}
				e := &Engine{Ledger: fl, Orgs: hold.orgs, Policies: heldDays{days: tt.days}, Publisher: pub,
					Now: func() time.Time { return now }}
				failed := e.Process(context.Background(), slices.Clone(tt.ds))
				got := map[string]string{}
				for _, o := range pub.outs {
					got[o.EventID] = string(o.Status) + "/" + string(o.Reason)
					if o.Status == event.StatusSkipped && !o.At.Equal(now) {
						t.Errorf("%s: at %v; want %v", o.EventID, o.At, now)
					}
				}
				if !maps.Equal(got, tt.published) {
					t.Errorf("published: got %v; want %v", got, tt.published)
				}
				var rec []string
				for _, o := range fl.recorded {
					rec = append(rec, o.EventID)
				}
				if !slices.Equal(rec, tt.recorded) {
					t.Errorf("recorded: got %v; want %v", rec, tt.recorded)
				}
				held := slices.Sorted(maps.Keys(failed))
				if !slices.Equal(held, tt.held) {
					t.Errorf("held: got %v; want %v", held, tt.held)
				}
				for id, err := range failed {
					if !errors.Is(err, hold.want) || !errors.Is(err, delivery.ErrHeld) {
						t.Errorf("%s: got %v; want held for %s", id, err, hold.name)
					}
				}
			})
		}
	}
}

// TestAnswerInvalid: an invalid message's answer is recorded (when it
// names a contact) and published once; a redelivery is answered the same
// again; an event id answered otherwise before is not answered, so an
// invalid body never overrides a valid event's answer.
func TestAnswerInvalid(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	answer := func(team, id, contact string, at time.Time) event.Outcome {
		return event.Outcome{ID: "out_" + id, Type: event.ContactOutcome, Version: event.Version, TeamID: team, EventID: id, ContactID: contact,
			Status: event.StatusFailed, Reason: event.ReasonInvalidEvent, At: at,
			Error: &event.OutcomeError{Code: event.InvalidEventCode, Message: "data.contact.email: not an email address"}}
	}
	before := answer("team_a", "evt_again", "ct_2", at.Add(-time.Hour))
	synced := event.Outcome{ID: "out_evt_synced", Type: event.ContactOutcome, Version: event.Version, TeamID: "team_a", EventID: "evt_synced",
		ContactID: "ct_3", Status: event.StatusCreated, Salesforce: &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000003"}, At: at.Add(-time.Hour)}
	fl := &answerLedger{prior: map[string]event.Outcome{"evt_again": before, "evt_synced": synced}}
	pub := &keptPublisher{}
	a := delivery.Answers{Ledger: fl, Publisher: pub, Now: func() time.Time { return at }}
	err := a.AnswerInvalid(context.Background(), []event.Outcome{
		answer("team_a", "evt_new", "ct_1", at),
		answer("team_a", "evt_new", "ct_1", at), // twice in one batch
		answer("team_a", "evt_again", "ct_2", at),
		answer("team_a", "evt_synced", "ct_3", at),
		answer("team_b", "evt_nocontact", "", at),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, o := range pub.outs {
		if _, dup := got[o.EventID]; dup {
			t.Errorf("%s: published twice; want once", o.EventID)
		}
		got[o.EventID] = o.At
	}
	want := map[string]time.Time{"evt_new": at, "evt_again": before.At, "evt_nocontact": at}
	if !maps.Equal(got, want) {
		t.Errorf("published: got %v; want %v", got, want)
	}
	var rec []string
	for _, o := range fl.recorded {
		rec = append(rec, o.EventID)
	}
	if want := []string{"evt_new"}; !slices.Equal(rec, want) {
		t.Errorf("recorded: got %v; want %v", rec, want)
	}
}

// TestAValidEventIsProcessedOverAnInvalidAnswer: a valid event whose id an
// invalid message answered before is synced, not answered invalid_event.
func TestAValidEventIsProcessedOverAnInvalidAnswer(t *testing.T) {
	t.Parallel()
	d := delivery.Delivery{ID: "msg_1", Event: event.Event{ID: "evt_1", Type: event.ContactReplied, TeamID: "team_nc",
		OccurredAt: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
		Data:       event.ContactData{Contact: event.Contact{ID: "c_1", Email: "a@nc.example"}, Sequence: &event.Sequence{ID: "seq"}}}}
	invalid := event.NewOutcome(d.Event, "out_evt_1", event.StatusFailed, d.Event.OccurredAt)
	invalid.Reason, invalid.Error = event.ReasonInvalidEvent, &event.OutcomeError{Code: event.InvalidEventCode, Message: "x"}
	pub := &keptPublisher{}
	e := &Engine{Ledger: &answerLedger{prior: map[string]event.Outcome{"evt_1": invalid}}, Orgs: notConnectedOrgs{}, Publisher: pub}
	if failed := e.Process(context.Background(), []delivery.Delivery{d}); len(failed) != 0 {
		t.Fatalf("failed: got %v; want none", failed)
	}
	if len(pub.outs) != 1 || pub.outs[0].Reason != event.ReasonNotConnected {
		t.Errorf("published: got %+v; want skipped/not_connected", pub.outs)
	}
}

// TestAnswersPublishWhatTheLedgerKept: a copy of the event that synced
// between the read of its answers and the record of a held_too_long or
// invalid_event answer keeps its answer in the ledger; that answer is the
// one published, never a second, different one.
func TestAnswersPublishWhatTheLedgerKept(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)
	d := delivery.Delivery{ID: "msg_1", FirstReceived: now.Add(-15 * 24 * time.Hour), Event: event.Event{ID: "evt_1", Type: event.ContactAdded, TeamID: "team_race",
		OccurredAt: now.Add(-20 * 24 * time.Hour),
		Data:       event.ContactData{Contact: event.Contact{ID: "c_1", Email: "a@race.example"}, Sequence: &event.Sequence{ID: "seq"}}}}
	created := event.NewOutcome(d.Event, "out_evt_1", event.StatusCreated, now.Add(-time.Minute))
	created.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001"}
	invalid := event.NewOutcome(d.Event, "out_evt_1", event.StatusFailed, now)
	invalid.Reason, invalid.Error = event.ReasonInvalidEvent, &event.OutcomeError{Code: event.InvalidEventCode, Message: "version: missing"}
	for _, tt := range []struct {
		name   string
		answer func(delivery.Answers) error
	}{
		{"held too long", func(a delivery.Answers) error {
			failed := map[string]error{d.ID: fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth)}
			a.EndHeld(context.Background(), []delivery.Delivery{d}, failed)
			if len(failed) != 0 {
				return fmt.Errorf("still held: %v", failed)
			}
			return nil
		}},
		{"invalid event", func(a delivery.Answers) error { return a.AnswerInvalid(context.Background(), []event.Outcome{invalid}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fl := &answerLedger{synced: map[string]event.Outcome{"evt_1": created}}
			pub := &keptPublisher{}
			a := delivery.Answers{Ledger: fl, Settings: heldDays{}, Publisher: pub, Now: func() time.Time { return now }}
			if err := tt.answer(a); err != nil {
				t.Fatal(err)
			}
			if len(pub.outs) != 1 || pub.outs[0].Status != event.StatusCreated {
				t.Errorf("published: got %+v; want the created answer the ledger kept, alone", pub.outs)
			}
		})
	}
}

package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgertest"
	"github.com/sfsync/sfsync/shared/policy"
)

// holds are the connection statuses that hold a team's events until an
// admin acts, each with the error its held events carry.
var holds = []struct {
	status connection.Status
	want   error
}{
	{connection.StatusNeedsReauth, connection.ErrNeedsReauth},
	{connection.StatusNeedsAdmin, connection.ErrNeedsAdmin},
}

// record stores outcomes in the rig's ledger, as answered before.
func (r *rig) record(t *testing.T, outs ...event.Outcome) {
	t.Helper()
	if err := r.ledger.RecordOutcomes(context.Background(), outs); err != nil {
		t.Fatalf("record outcomes: %v", err)
	}
}

// recorded is the ledger's outcome of each event in brief ("" none).
func (r *rig) recorded(ids ...string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if o, ok := r.ledger.Outcome(team, id); ok {
			out[id] = brief(o)
		} else {
			out[id] = ""
		}
	}
	return out
}

// TestHeldEventsEndAfterTheTeamsLimit: an event held (its team must
// reconnect) for as long as its team allows since the queue first
// delivered it is answered skipped/held_too_long and leaves the queue; a
// younger one, or one whose first delivery is unknown, stays held; an
// event answered before is answered the same again.
func TestHeldEventsEndAfterTheTeamsLimit(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	deliver := func(n string, firstReceived time.Time) delivery.Delivery {
		d := added("evt_"+n, "seq", person("c_"+n, n+"@held.example"), start.Add(-20*day))
		d.FirstReceived = firstReceived
		return d
	}
	answered := event.NewOutcome(deliver("answered", time.Time{}).Event, "out_evt_answered", event.StatusCreated, start.Add(-15*day))
	answered.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001"}
	invalid := event.NewOutcome(deliver("was_invalid", time.Time{}).Event, "out_evt_was_invalid", event.StatusFailed, start.Add(-15*day))
	invalid.Reason, invalid.Error = event.ReasonInvalidEvent, &event.OutcomeError{Code: event.InvalidEventCode, Message: "version: missing"}
	for _, tt := range []struct {
		name      string
		days      int // the team's setting; 0: never saved (14)
		ds        []delivery.Delivery
		published map[string]string // event id: answer
		recorded  map[string]string // event id: what the ledger holds after
		held      []string          // message ids
	}{
		{name: "default: 14 days", ds: []delivery.Delivery{deliver("old", start.Add(-14*day)), deliver("young", start.Add(-14*day+time.Second)),
			deliver("unknown", time.Time{})},
			published: map[string]string{"evt_old": "skipped/held_too_long"},
			recorded:  map[string]string{"evt_old": "skipped/held_too_long", "evt_young": "", "evt_unknown": ""},
			held:      []string{"msg_evt_unknown", "msg_evt_young"}},
		{name: "the team's own limit", days: 3, ds: []delivery.Delivery{deliver("old", start.Add(-3*day-time.Second)), deliver("young", start.Add(-2*day))},
			published: map[string]string{"evt_old": "skipped/held_too_long"},
			recorded:  map[string]string{"evt_old": "skipped/held_too_long", "evt_young": ""}, held: []string{"msg_evt_young"}},
		{name: "answered before: the same answer", days: 1, ds: []delivery.Delivery{deliver("answered", start.Add(-2*day)), deliver("was_invalid", start.Add(-2*day))},
			published: map[string]string{"evt_answered": "created Lead", "evt_was_invalid": "skipped/held_too_long"},
			recorded:  map[string]string{"evt_answered": "created", "evt_was_invalid": "skipped/held_too_long"}},
		{name: "younger than the team's one day", days: 1, ds: []delivery.Delivery{deliver("young", start.Add(-day+time.Second))},
			published: map[string]string{}, recorded: map[string]string{"evt_young": ""}, held: []string{"msg_evt_young"}},
	} {
		for _, hold := range holds {
			t.Run(string(hold.status)+": "+tt.name, func(t *testing.T) {
				t.Parallel()
				r := newRig()
				r.record(t, answered, invalid)
				if tt.days > 0 {
					r.settings(t, at(0), func(s *policy.TeamSettings) { s.HeldEventMaxDays = tt.days })
				}
				r.orgs.SetStatus(team, hold.status)
				back := r.process(tt.ds...)
				got := map[string]string{}
				for _, o := range r.pub.all() {
					got[o.EventID] = r.answer(o.EventID)
					if o.Status == event.StatusSkipped && !o.At.Equal(start) {
						t.Errorf("%s: at %v; want %v", o.EventID, o.At, start)
					}
				}
				if !maps.Equal(got, tt.published) {
					t.Errorf("published: got %v; want %v", got, tt.published)
				}
				if rec := r.recorded(slices.Collect(maps.Keys(tt.recorded))...); !maps.Equal(rec, tt.recorded) {
					t.Errorf("recorded: got %v; want %v", rec, tt.recorded)
				}
				if held := slices.Sorted(maps.Keys(back)); !slices.Equal(held, tt.held) {
					t.Errorf("held: got %v; want %v", held, tt.held)
				}
				for id, err := range back {
					if !errors.Is(err, hold.want) || !errors.Is(err, delivery.ErrHeld) {
						t.Errorf("%s: got %v; want held for %s", id, err, hold.status)
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
	r := newRig()
	answer := func(team, id, contact string, at time.Time) event.Outcome {
		return event.Outcome{ID: "out_" + id, Type: event.ContactOutcome, Version: event.Version, TeamID: team, EventID: id, ContactID: contact,
			Status: event.StatusFailed, Reason: event.ReasonInvalidEvent, At: at,
			Error: &event.OutcomeError{Code: event.InvalidEventCode, Message: "data.contact.email: not an email address"}}
	}
	before := answer(team, "evt_again", "ct_2", start.Add(-time.Hour))
	synced := event.Outcome{ID: "out_evt_synced", Type: event.ContactOutcome, Version: event.Version, TeamID: team, EventID: "evt_synced",
		ContactID: "ct_3", Status: event.StatusCreated, Salesforce: &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000003"}, At: start.Add(-time.Hour)}
	r.record(t, before, synced)
	a := delivery.Answers{Ledger: r.ledger, Publisher: r.pub, Now: r.clock.Now}
	err := a.AnswerInvalid(context.Background(), []event.Outcome{
		answer(team, "evt_new", "ct_1", start),
		answer(team, "evt_new", "ct_1", start), // twice in one batch
		answer(team, "evt_again", "ct_2", start),
		answer(team, "evt_synced", "ct_3", start),
		answer("team_b", "evt_nocontact", "", start),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, o := range r.pub.all() {
		if _, dup := got[o.EventID]; dup {
			t.Errorf("%s: published twice; want once", o.EventID)
		}
		got[o.EventID] = o.At
	}
	want := map[string]time.Time{"evt_new": start, "evt_again": before.At, "evt_nocontact": start}
	if !maps.Equal(got, want) {
		t.Errorf("published: got %v; want %v", got, want)
	}
	if o, ok := r.ledger.Outcome(team, "evt_new"); !ok || !o.At.Equal(start) || !event.IsInvalidEvent(o) {
		t.Errorf("evt_new recorded: got %+v, %v; want its invalid_event answer", o, ok)
	}
	if o, _ := r.ledger.Outcome(team, "evt_again"); !o.At.Equal(before.At) {
		t.Errorf("evt_again recorded at %v; want the first answer's %v", o.At, before.At)
	}
	if o, _ := r.ledger.Outcome(team, "evt_synced"); o.Status != event.StatusCreated {
		t.Errorf("evt_synced recorded: got %s; want created kept", o.Status)
	}
	if o, ok := r.ledger.Outcome("team_b", "evt_nocontact"); ok {
		t.Errorf("evt_nocontact recorded: got %+v; want nothing (no contact)", o)
	}
}

// TestAValidEventIsProcessedOverAnInvalidAnswer: a valid event whose id an
// invalid message answered before is synced, not answered invalid_event.
func TestAValidEventIsProcessedOverAnInvalidAnswer(t *testing.T) {
	t.Parallel()
	r := newRig()
	d := replied("evt_1", "seq", person("c_1", "a@nc.example"), at(1))
	invalid := event.NewOutcome(d.Event, "out_evt_1", event.StatusFailed, d.Event.OccurredAt)
	invalid.Reason, invalid.Error = event.ReasonInvalidEvent, &event.OutcomeError{Code: event.InvalidEventCode, Message: "x"}
	r.record(t, invalid)
	r.orgs.SetStatus(team, connection.StatusDisconnected)
	if back := r.process(d); len(back) != 0 {
		t.Fatalf("back: got %v; want none", back)
	}
	if outs := r.pub.all(); len(outs) != 1 || brief(outs[0]) != "skipped/not_connected" {
		t.Errorf("published: got %+v; want skipped/not_connected", outs)
	}
}

// answeredMeanwhile is a ledger on which another copy of an event records
// its answer right after the first read of outcomes.
type answeredMeanwhile struct {
	*ledgertest.Memory
	t     *testing.T
	once  sync.Once
	other event.Outcome
}

func (l *answeredMeanwhile) Outcomes(ctx context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error) {
	got, err := l.Memory.Outcomes(ctx, teamID, refs)
	l.once.Do(func() {
		if rerr := l.Memory.RecordOutcomes(ctx, []event.Outcome{l.other}); rerr != nil {
			l.t.Errorf("the other copy's answer: %v", rerr)
		}
	})
	return got, err
}

// TestAnswersPublishWhatTheLedgerKept: a copy of the event that synced
// between the read of its answers and the record of a held_too_long or
// invalid_event answer keeps its answer in the ledger; that answer is the
// one published, never a second, different one.
func TestAnswersPublishWhatTheLedgerKept(t *testing.T) {
	t.Parallel()
	d := added("evt_1", "seq", person("c_1", "a@race.example"), start.Add(-20*24*time.Hour))
	d.FirstReceived = start.Add(-15 * 24 * time.Hour)
	created := event.NewOutcome(d.Event, "out_evt_1", event.StatusCreated, start.Add(-time.Minute))
	created.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001"}
	invalid := event.NewOutcome(d.Event, "out_evt_1", event.StatusFailed, start)
	invalid.Reason, invalid.Error = event.ReasonInvalidEvent, &event.OutcomeError{Code: event.InvalidEventCode, Message: "version: missing"}
	for _, tt := range []struct {
		name   string
		answer func(delivery.Answers) error
	}{
		{"held too long", func(a delivery.Answers) error {
			back := map[string]error{d.ID: fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth)}
			a.EndHeld(context.Background(), []delivery.Delivery{d}, back)
			if len(back) != 0 {
				return fmt.Errorf("still held: %v", back)
			}
			return nil
		}},
		{"invalid event", func(a delivery.Answers) error { return a.AnswerInvalid(context.Background(), []event.Outcome{invalid}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			l := &answeredMeanwhile{Memory: r.ledger, t: t, other: created}
			a := delivery.Answers{Ledger: l, Settings: r.policies, Publisher: r.pub, Now: r.clock.Now}
			if err := tt.answer(a); err != nil {
				t.Fatal(err)
			}
			if outs := r.pub.all(); len(outs) != 1 || outs[0].Status != event.StatusCreated {
				t.Errorf("published: got %+v; want the created answer the ledger kept, alone", outs)
			}
		})
	}
}

// TestHeldAnswersKeptAsTheirMemberships: an add held too long may have
// pinned its membership before it was held; its held_too_long answer is
// kept as long as the team keeps memberships (here 700 days), since an
// erasure finds the membership through it.
func TestHeldAnswersKeptAsTheirMemberships(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.settings(t, at(0), func(s *policy.TeamSettings) { s.RetentionDays = 700 })
	d := added("evt_held", "seq", person("c_held", "held@keep.example"), start.Add(-20*24*time.Hour))
	d.FirstReceived = start.Add(-15 * 24 * time.Hour)
	a := delivery.Answers{Ledger: r.ledger, Settings: r.policies, Publisher: r.pub, Now: r.clock.Now}
	back := map[string]error{d.ID: fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth)}
	a.EndHeld(context.Background(), []delivery.Delivery{d}, back)
	if outs := r.pub.all(); len(outs) != 1 || outs[0].Reason != event.ReasonHeldTooLong {
		t.Fatalf("published: got %+v; want held_too_long", outs)
	}
	ref := []ledger.EventRef{{EventID: "evt_held", ContactID: "c_held"}}
	r.clock.Advance(699 * 24 * time.Hour)
	if got, err := r.ledger.Outcomes(context.Background(), team, ref); err != nil || len(got) != 1 {
		t.Errorf("699 days later: got %v, %v; want the answer kept", got, err)
	}
	r.clock.Advance(2 * 24 * time.Hour)
	if got, err := r.ledger.Outcomes(context.Background(), team, ref); err != nil || len(got) != 0 {
		t.Errorf("701 days later: got %v, %v; want it gone", got, err)
	}
}

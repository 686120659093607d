package contactsync_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
)

// unsubscribed is a contact.unsubscribed of c.
func unsubscribed(id string, c event.Contact, h int) delivery.Delivery {
	d := contactEvent(id, event.ContactUnsubscribed, nil, c, at(h))
	cd := d.Event.Data.(event.ContactData)
	cd.Reason = "unsubscribe link"
	d.Event.Data = cd
	return d
}

// optedOut says whether the org's record of the answer to event id is
// opted out of email; ok false when the answer names no record.
func (r *rig) optedOut(id string) (opted, ok bool) {
	outs := r.pub.of(id)
	if len(outs) == 0 || outs[len(outs)-1].Salesforce == nil {
		return false, false
	}
	rec, found := r.org.Record(outs[len(outs)-1].Salesforce.ID)
	if !found {
		return false, false
	}
	v, _ := rec.Fields["HasOptedOutOfEmail"].(bool)
	return v, true
}

// TestOptOutRules: a contact.unsubscribed sets HasOptedOutOfEmail on the
// contact's Lead or Contact (updated), or, before the contact syncs, is
// kept so its record is created opted out (skipped not_synced); nothing
// ever sets it back; the team's optout_writeback turns it off; a refusal
// fails the event with Salesforce's code and field.
func TestOptOutRules(t *testing.T) {
	t.Parallel()
	ada := person("ct_ada", "ada@engines.example")
	tests := []struct {
		name     string
		setup    func(t *testing.T, r *rig)
		batches  [][]delivery.Delivery
		want     map[string]string // event id -> last answer
		opted    string            // the event whose record must be opted out
		notOpted string            // the event whose record must not be
		updates  int               // update calls the org saw
	}{
		{name: "before the contact syncs: kept, and the Lead is created opted out",
			batches: [][]delivery.Delivery{{unsubscribed("ev_u", ada, 1)}, {added("ev_a", "seq_1", ada, at(2))}},
			want:    map[string]string{"ev_u": "skipped/not_synced", "ev_a": "created Lead"}, opted: "ev_a", updates: 0},
		{name: "after the contact synced: the Lead updated",
			batches: [][]delivery.Delivery{{added("ev_a", "seq_1", ada, at(1))}, {unsubscribed("ev_u", ada, 2)}},
			want:    map[string]string{"ev_a": "created Lead", "ev_u": "updated Lead"}, opted: "ev_u", updates: 1},
		{name: "added and unsubscribed in one batch: created, then updated",
			batches: [][]delivery.Delivery{{added("ev_a", "seq_1", ada, at(1)), unsubscribed("ev_u", ada, 2)}},
			want:    map[string]string{"ev_a": "created Lead", "ev_u": "updated Lead"}, opted: "ev_u", updates: 1},
		{name: "delivered twice: one update",
			batches: [][]delivery.Delivery{{added("ev_a", "seq_1", ada, at(1))}, {unsubscribed("ev_u", ada, 2)}, {unsubscribed("ev_u", ada, 2)}, {unsubscribed("ev_u2", ada, 3)}},
			want:    map[string]string{"ev_u": "updated Lead", "ev_u2": "updated Lead"}, opted: "ev_u", updates: 1},
		{name: "later events never clear it",
			setup: func(t *testing.T, r *rig) {
				r.settings(t, at(0), func(s *policy.TeamSettings) { s.SyncMode = policy.ModeOnReply })
			},
			batches: [][]delivery.Delivery{{added("ev_a", "seq_1", ada, at(1)), replied("ev_r", "seq_1", ada, at(2))}, {unsubscribed("ev_u", ada, 3)},
				{added("ev_a2", "seq_2", ada, at(4)), replied("ev_r2", "seq_2", ada, at(5))}},
			want: map[string]string{"ev_r": "created Lead", "ev_u": "updated Lead", "ev_r2": "linked/already_synced Lead"}, opted: "ev_r2", updates: 1},
		{name: "a Lead Salesforce had: linked, then opted out",
			setup: func(t *testing.T, r *rig) {
				r.org.Seed("Lead", map[string]any{"Email": "ada@engines.example", "LastName": "Lovelace", "Company": "Engines"})
			},
			batches: [][]delivery.Delivery{{unsubscribed("ev_u", ada, 1)}, {added("ev_a", "seq_1", ada, at(2))}},
			want:    map[string]string{"ev_u": "skipped/not_synced", "ev_a": "linked/matched_lead Lead"}, opted: "ev_a", updates: 1},
		{name: "optout_writeback off: skipped, the record left as it is",
			setup: func(t *testing.T, r *rig) {
				r.settings(t, at(0), func(s *policy.TeamSettings) { s.SetOptOutWriteback(false) })
			},
			batches: [][]delivery.Delivery{{unsubscribed("ev_u", ada, 1)}, {added("ev_a", "seq_1", ada, at(2))}, {unsubscribed("ev_u2", ada, 3)}},
			want:    map[string]string{"ev_u": "skipped/optout_writeback_off", "ev_a": "created Lead", "ev_u2": "skipped/optout_writeback_off"}, notOpted: "ev_a", updates: 0},
		{name: "a mapping that sets the field: the opt-out wins at create",
			setup: func(t *testing.T, r *rig) {
				no := "false"
				m := mapping.Default(event.ObjectLead)
				m.Fields = append(m.Fields, mapping.Rule{SalesforceField: "HasOptedOutOfEmail", Source: mapping.Source{Constant: &no}})
				if _, err := r.mapping.Save(context.Background(), team, event.ObjectLead, m); err != nil {
					t.Fatal(err)
				}
			},
			batches: [][]delivery.Delivery{{unsubscribed("ev_u", ada, 1)}, {added("ev_a", "seq_1", ada, at(2))}},
			want:    map[string]string{"ev_u": "skipped/not_synced", "ev_a": "created Lead"}, opted: "ev_a", updates: 0},
		{name: "optout_writeback turned on later: the opt-out kept while off is honoured",
			setup: func(t *testing.T, r *rig) {
				r.settings(t, at(0), func(s *policy.TeamSettings) { s.SetOptOutWriteback(false) })
				r.settings(t, at(3), nil)
			},
			batches: [][]delivery.Delivery{{unsubscribed("ev_u", ada, 1)}, {added("ev_a", "seq_1", ada, at(4))}},
			want:    map[string]string{"ev_u": "skipped/optout_writeback_off", "ev_a": "created Lead"}, opted: "ev_a", updates: 0},
		{name: "the field not updateable for the connected user: failed, with the code",
			setup: func(t *testing.T, r *rig) {
				r.org.SetFieldUpdateable("Lead", "HasOptedOutOfEmail", false)
			},
			batches: [][]delivery.Delivery{{added("ev_a", "seq_1", ada, at(1))}, {unsubscribed("ev_u", ada, 2)}},
			want:    map[string]string{"ev_a": "created Lead", "ev_u": "failed/INVALID_FIELD_FOR_INSERT_UPDATE"}, notOpted: "ev_a", updates: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			if tt.setup != nil {
				tt.setup(t, r)
			}
			for i, b := range tt.batches {
				if back := r.process(b...); len(back) != 0 {
					t.Fatalf("batch %d: got %v back; want every event answered", i, back)
				}
			}
			for id, want := range tt.want {
				if got := r.answer(id); got != want {
					t.Errorf("answer of %s: got %q; want %q", id, got, want)
				}
			}
			if tt.opted != "" {
				if opted, ok := r.optedOut(tt.opted); !ok || !opted {
					t.Errorf("record of %s opted out: got %v (found %v); want true", tt.opted, opted, ok)
				}
			}
			if tt.notOpted != "" {
				if opted, ok := r.optedOut(tt.notOpted); !ok || opted {
					t.Errorf("record of %s opted out: got %v (found %v); want false", tt.notOpted, opted, ok)
				}
			}
			if got := r.org.Calls(orgtest.CallUpdate); got != tt.updates {
				t.Errorf("update calls: got %d; want %d", got, tt.updates)
			}
		})
	}
}

// TestOptOutRefusalFields: the failed answer names the field Salesforce
// refused, so the error inbox shows what an admin must open up.
func TestOptOutRefusalFields(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.org.SetFieldUpdateable("Lead", "HasOptedOutOfEmail", false)
	ada := person("ct_ada", "ada@engines.example")
	r.process(added("ev_a", "seq_1", ada, at(1)))
	r.process(unsubscribed("ev_u", ada, 2))
	outs := r.pub.of("ev_u")
	if len(outs) == 0 || outs[len(outs)-1].Error == nil {
		t.Fatalf("answer of ev_u: got %v; want a failure with an error", outs)
	}
	if got := outs[len(outs)-1].Error.Fields; len(got) != 1 || got[0] != "HasOptedOutOfEmail" {
		t.Errorf("fields of the refusal: got %v; want [HasOptedOutOfEmail]", got)
	}
}

// TestOptOutWithoutConnection: an opt-out that comes while the team has no
// connection is answered not_connected and still kept: the contact's
// record, synced once the team connects, is created opted out.
func TestOptOutWithoutConnection(t *testing.T) {
	t.Parallel()
	r := newRig()
	other := "team_later"
	ada := person("ct_ada", "ada@engines.example")
	u := unsubscribed("ev_u", ada, 1)
	u.Event.TeamID = other
	if back := r.process(u); len(back) != 0 {
		t.Fatalf("got %v back; want an answer", back)
	}
	if got := r.answer("ev_u"); got != "skipped/not_connected" {
		t.Fatalf("answer of ev_u: got %q; want skipped/not_connected", got)
	}
	o := r.orgs.Connect(other, connectedAt)
	a := added("ev_a", "seq_1", ada, at(2))
	a.Event.TeamID = other
	if back := r.process(a); len(back) != 0 {
		t.Fatalf("got %v back; want an answer", back)
	}
	outs := r.pub.of("ev_a")
	if len(outs) == 0 || outs[len(outs)-1].Salesforce == nil {
		t.Fatalf("answer of ev_a: got %v; want a record", outs)
	}
	rec, _ := o.Record(outs[len(outs)-1].Salesforce.ID)
	if opted, _ := rec.Fields["HasOptedOutOfEmail"].(bool); !opted {
		t.Errorf("the record created after connecting: HasOptedOutOfEmail got %v; want true", rec.Fields["HasOptedOutOfEmail"])
	}
}

// TestOptOutFollowsAConvertedLead: the contact's Lead was converted since
// it synced; the opt-out goes to the Contact it became (updated Contact),
// and the ledger's record follows it.
func TestOptOutFollowsAConvertedLead(t *testing.T) {
	t.Parallel()
	r := newRig()
	ada := person("ct_ada", "ada@engines.example")
	r.process(added("ev_a", "seq_1", ada, at(1)))
	outs := r.pub.of("ev_a")
	if len(outs) == 0 || outs[len(outs)-1].Salesforce == nil {
		t.Fatalf("answer of ev_a: got %v; want a Lead", outs)
	}
	contactID, ok := r.org.Convert(outs[len(outs)-1].Salesforce.ID)
	if !ok {
		t.Fatal("convert the Lead")
	}
	if back := r.process(unsubscribed("ev_u", ada, 2)); len(back) != 0 {
		t.Fatalf("got %v back; want an answer", back)
	}
	if got := r.answer("ev_u"); got != "updated Contact" {
		t.Errorf("answer of ev_u: got %q; want %q", got, "updated Contact")
	}
	if opted, ok := r.optedOut("ev_u"); !ok || !opted {
		t.Errorf("the Contact the Lead became: opted out got %v (found %v); want true", opted, ok)
	}
	if rec, _ := r.ledger.Record(team, "ada@engines.example"); rec.ID != contactID {
		t.Errorf("the ledger's record: got %s; want the Contact %s", rec.ID, contactID)
	}
}

// TestOptOutWhileTheContactSyncs: another worker holds the email's claim
// (it is creating the contact's record): the opt-out comes back, never
// answered not_synced, and once the record is saved it is updated.
func TestOptOutWhileTheContactSyncs(t *testing.T) {
	t.Parallel()
	r := newRig()
	ada := person("ct_ada", "ada@engines.example")
	ctx := context.Background()
	errs, err := r.ledger.ClaimAll(ctx, team, []string{"ada@engines.example"}, "worker_2", start.Add(time.Hour))
	if err != nil || errs[0] != nil {
		t.Fatalf("the other worker's claim: %v %v", errs, err)
	}
	u := unsubscribed("ev_u", ada, 1)
	back := r.process(u)
	if !errors.Is(back[u.ID], delivery.ErrRetry) || r.answer("ev_u") != "" {
		t.Fatalf("while the other worker syncs: got back %v, answer %q; want it back (ErrRetry), unanswered", back[u.ID], r.answer("ev_u"))
	}
	lead := r.org.Seed("Lead", map[string]any{"Email": "ada@engines.example", "LastName": "Lovelace", "Company": "Engines"})
	r.ledger.Owner = "worker_2" // the other worker saves under its claim
	if errs, err := r.ledger.SaveRecords(ctx, []ledger.Record{{TeamID: team, Email: "ada@engines.example", Object: event.ObjectLead, ID: lead,
		Status: event.StatusCreated, SyncedAt: start, EventID: "ev_other", ContactID: "ct_ada"}}); err != nil || errs[0] != nil {
		t.Fatalf("the other worker saves its record: %v %v", errs, err)
	}
	r.ledger.Owner = worker
	if back := r.process(u); len(back) != 0 {
		t.Fatalf("again: got %v back; want an answer", back)
	}
	if got := r.answer("ev_u"); got != "updated Lead" {
		t.Errorf("answer of ev_u: got %q; want updated Lead", got)
	}
}

// nowReads is the rig's policies, counting the reads of the team's
// settings as of now (the clock's time).
type nowReads struct {
	contactsync.Policies
	now func() time.Time
	mu  sync.Mutex
	n   int
}

func (p *nowReads) TeamSettingsAt(ctx context.Context, team string, at time.Time) (policy.TeamVersion, error) {
	if at.Equal(p.now()) {
		p.mu.Lock()
		p.n++
		p.mu.Unlock()
	}
	return p.Policies.TeamSettingsAt(ctx, team, at)
}

// TestSettingsAsOfNowReadOnce: the steps that act as of now (owners and
// Accounts, opt-outs at create and after the save, the retention of what
// is written) share one read of the team's settings per part, however
// many contacts it creates: each read as of now is a fresh read of the
// settings' head in the store.
func TestSettingsAsOfNowReadOnce(t *testing.T) {
	t.Parallel()
	r := newRig()
	reads := &nowReads{Policies: r.policies, now: r.clock.Now}
	r.e.Policies = reads
	r.org.Seed("Lead", map[string]any{"Email": "linked@engines.example", "LastName": "L", "Company": "Engines"})
	r.process(added("ev_1", "seq_1", person("c_1", "one@engines.example"), at(1)),
		added("ev_2", "seq_1", person("c_2", "two@engines.example"), at(1)),
		added("ev_3", "seq_1", person("c_3", "linked@engines.example"), at(1)))
	if reads.n != 1 {
		t.Errorf("reads of the settings as of now: got %d; want 1 for the part", reads.n)
	}
}

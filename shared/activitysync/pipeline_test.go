package activitysync

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// connectedAt is when the pipeline tests' team connected Salesforce.
var connectedAt = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// rig is an engine on in-memory ports, its clock at now.
type rig struct {
	e    *Engine
	l    *memLedger
	a    *memActivities
	org  *memOrg
	pub  *keptOutcomes
	back map[string]error
}

func newRig(now time.Time) *rig {
	r := &rig{l: newMemLedger(), a: newMemActivities(), org: &memOrg{}, pub: &keptOutcomes{}}
	r.e = &Engine{Ledger: r.l, Activities: r.a, Orgs: openOrg{org: r.org, conn: delivery.Connection{Status: "connected", ConnectedAt: connectedAt}},
		Settings: defaultSettings{}, Publisher: r.pub, Owner: "worker_1", Now: func() time.Time { return now }}
	return r
}

// member pins the test contact with status st (synced on a Lead).
func (r *rig) member(contact string, st ledger.MembershipStatus) {
	m := ledger.Membership{TeamID: "team_p", SequenceID: "seq_1", ContactID: contact, Status: st}
	if st == ledger.MemberSynced {
		m.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q00000000000" + contact[len(contact)-1:]}
	}
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	r.l.members[ledger.MemberKey{SequenceID: "seq_1", ContactID: contact}] = m
}

// process runs one batch and returns the answers published, by event id.
func (r *rig) process(ds ...delivery.Delivery) map[string]event.Outcome {
	r.pub.outs = nil
	r.back = r.e.Process(context.Background(), ds)
	out := map[string]event.Outcome{}
	for _, o := range r.pub.outs {
		out[o.EventID] = o
	}
	return out
}

// email is a delivery of an email event of contact at at.
func email(id string, typ event.Type, contact string, at time.Time) delivery.Delivery {
	return delivery.Delivery{ID: "msg_" + id, FirstReceived: at, Event: event.Event{ID: "evt_" + id, Type: typ, TeamID: "team_p", OccurredAt: at,
		Data: event.EmailData{Sequence: event.Sequence{ID: "seq_1"}, Contact: event.ContactRef{ID: contact, Email: contact + "@example.com"},
			Message: event.Message{ID: "m_" + id, Subject: "Hello " + id}}}}
}

// TestNoBackfill: activity that occurred before the team connected
// Salesforce is never logged, only skipped as before_connection (R7);
// activity from the moment of the connection on is.
func TestNoBackfill(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		at         time.Time
		wantStatus event.Status
		wantReason event.Reason
		wantTasks  int
	}{
		{"a day before the connection", connectedAt.Add(-24 * time.Hour), event.StatusSkipped, event.ReasonBeforeConnection, 0},
		{"a second before the connection", connectedAt.Add(-time.Second), event.StatusSkipped, event.ReasonBeforeConnection, 0},
		{"at the connection", connectedAt, event.StatusCreated, "", 1},
		{"after the connection", connectedAt.Add(time.Hour), event.StatusCreated, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(connectedAt.Add(48 * time.Hour))
			r.member("c1", ledger.MemberSynced)
			got := r.process(email("1", event.EmailSent, "c1", tc.at))["evt_1"]
			if got.Status != tc.wantStatus || got.Reason != tc.wantReason {
				t.Errorf("outcome: got %s/%s; want %s/%s", got.Status, got.Reason, tc.wantStatus, tc.wantReason)
			}
			if n := len(r.org.sent()); n != tc.wantTasks {
				t.Errorf("Tasks created: got %d; want %d", n, tc.wantTasks)
			}
		})
	}
}

// TestActivityByMembership: what becomes of a contact's activity follows
// where its sync stands: logged when synced, held while pending or
// syncing, skipped when it will never sync or failed, skipped as not_added
// when its contact.added never came.
func TestActivityByMembership(t *testing.T) {
	t.Parallel()
	at := connectedAt.Add(time.Hour)
	cases := []struct {
		name       string
		status     ledger.MembershipStatus // "" for no membership
		wantStatus event.Status
		wantReason event.Reason
		wantTasks  int
		wantHeld   int
	}{
		{"synced", ledger.MemberSynced, event.StatusCreated, "", 1, 0},
		{"pending", ledger.MemberPending, event.StatusPending, event.ReasonContactPending, 0, 1},
		{"syncing", ledger.MemberSyncing, event.StatusPending, event.ReasonContactPending, 0, 1},
		{"skipped", ledger.MemberSkipped, event.StatusSkipped, event.ReasonContactWillNotSync, 0, 0},
		{"failed", ledger.MemberFailed, event.StatusSkipped, event.ReasonContactFailed, 0, 0},
		{"not added", "", event.StatusSkipped, event.ReasonNotAdded, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(at.Add(24 * time.Hour)) // long past the wait for a contact.added
			if tc.status != "" {
				r.member("c1", tc.status)
			}
			got := r.process(email("1", event.EmailSent, "c1", at))["evt_1"]
			if got.Status != tc.wantStatus || got.Reason != tc.wantReason {
				t.Errorf("outcome: got %s/%s; want %s/%s", got.Status, got.Reason, tc.wantStatus, tc.wantReason)
			}
			if n := len(r.org.sent()); n != tc.wantTasks {
				t.Errorf("Tasks created: got %d; want %d", n, tc.wantTasks)
			}
			if n := len(r.a.held[ledger.MemberKey{SequenceID: "seq_1", ContactID: "c1"}]); n != tc.wantHeld {
				t.Errorf("held: got %d; want %d", n, tc.wantHeld)
			}
		})
	}
}

// TestHeldActivityReleasedInOrder: the activity held while its contact's
// sync was pending is logged, before the batch's own, once the contact
// synced, and leaves the held store.
func TestHeldActivityReleasedInOrder(t *testing.T) {
	t.Parallel()
	sent := connectedAt.Add(time.Hour)
	r := newRig(sent.Add(2 * time.Hour))
	r.member("c1", ledger.MemberPending)
	if got := r.process(email("sent", event.EmailSent, "c1", sent))["evt_sent"]; got.Status != event.StatusPending {
		t.Fatalf("sent while pending: got %s/%s; want pending", got.Status, got.Reason)
	}
	r.member("c1", ledger.MemberSynced)
	got := r.process(email("replied", event.EmailReplied, "c1", sent.Add(time.Hour)))
	for _, id := range []string{"evt_sent", "evt_replied"} {
		if got[id].Status != event.StatusCreated {
			t.Errorf("%s: got %s/%s; want created", id, got[id].Status, got[id].Reason)
		}
	}
	var subjects []string
	for _, task := range r.org.sent() {
		subjects = append(subjects, task["Subject"].(string))
	}
	want := []string{"[sfsync] Email: Hello sent", "[sfsync] Email replied: Hello replied"}
	if !slices.Equal(subjects, want) {
		t.Errorf("Tasks: got %q; want %q", subjects, want)
	}
	if n := len(r.a.held); n != 0 {
		t.Errorf("memberships with held activities: got %d; want none", n)
	}
}

// TestReleasedActivityAnswered: a held activity handed back to the queue
// once its contact's membership is final (contact sync's Releaser) gets
// that membership's answer, and leaves the held store whatever it is.
func TestReleasedActivityAnswered(t *testing.T) {
	t.Parallel()
	sent := connectedAt.Add(time.Hour)
	cases := []struct {
		final      ledger.MembershipStatus
		wantStatus event.Status
		wantReason event.Reason
		wantTasks  int
	}{
		{ledger.MemberSynced, event.StatusCreated, "", 1},
		{ledger.MemberSkipped, event.StatusSkipped, event.ReasonContactWillNotSync, 0},
		{ledger.MemberFailed, event.StatusSkipped, event.ReasonContactFailed, 0},
	}
	for _, tc := range cases {
		t.Run(string(tc.final), func(t *testing.T) {
			t.Parallel()
			r := newRig(sent.Add(time.Hour))
			r.member("c1", ledger.MemberPending)
			d := email("sent", event.EmailSent, "c1", sent)
			r.process(d)
			r.member("c1", tc.final)
			d.ID = "msg_released" // the same event, sent to the queue again
			got := r.process(d)["evt_sent"]
			if got.Status != tc.wantStatus || got.Reason != tc.wantReason {
				t.Errorf("outcome: got %s/%s; want %s/%s", got.Status, got.Reason, tc.wantStatus, tc.wantReason)
			}
			if n := len(r.org.sent()); n != tc.wantTasks {
				t.Errorf("Tasks created: got %d; want %d", n, tc.wantTasks)
			}
			if n := len(r.a.held); n != 0 {
				t.Errorf("memberships with held activities: got %d; want none", n)
			}
		})
	}
}

package main

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// bouncedEvent is an email.bounced of contact c at at, for reason.
func bouncedEvent(team, c, email, msg, reason string, at time.Time) event.Event {
	ev := emailEvent(team, event.EmailBounced, "seq_1", c, email, msg, "Hello", "", at)
	d := ev.Data.(event.EmailData)
	d.Message.Reason = reason
	ev.Data = d
	return ev
}

// TestBouncesAndOptOutsThroughSQS: through the real functions, SQS and
// the simulator, a bounce's reason and date reach the contact's Lead (the
// newer of two, whichever comes first; the newer delivered again changes
// nothing), an opt-out reaches a synced Lead (updated), and one sent before
// its contact syncs is kept: the Lead is created opted out.
func TestBouncesAndOptOutsThroughSQS(t *testing.T) {
	t.Parallel()
	team := "team_lifecycle"
	sim := newOrg(t, org.Config{})
	connect(t, team, sim)
	leads := syncContacts(t, team, "life.example", 2)
	at := time.Now().Add(2 * time.Minute).Truncate(time.Second)
	newer := bouncedEvent(team, "c0", "p0@life.example", "m_new", "550 5.1.1 no such user", at.Add(time.Minute))
	older := bouncedEvent(team, "c0", "p0@life.example", "m_old", "452 4.2.2 mailbox full", at)
	optSynced := contactEvent(team, event.ContactUnsubscribed, "", "c1", "p1@life.example", "X", at)
	optEarly := contactEvent(team, event.ContactUnsubscribed, "", "c9", "p9@life.example", "X", at)

	first := []event.Event{newer, optSynced, optEarly}
	send(t, first...)
	got := await(t, first, true)
	then := []event.Event{older, newer}
	send(t, then...)
	for id, o := range await(t, then, true) {
		got[id] = o
	}
	added := contactEvent(team, event.ContactAdded, "seq_1", "c9", "p9@life.example", "X", at.Add(2*time.Minute))
	send(t, added)
	got[added.ID] = await(t, []event.Event{added}, true)[added.ID]

	for _, c := range []struct {
		name   string
		ev     event.Event
		status event.Status
		reason event.Reason
	}{
		{"the newer bounce: its Task", newer, event.StatusCreated, ""},
		{"the older bounce: its Task", older, event.StatusCreated, ""},
		{"an opt-out of a synced contact", optSynced, event.StatusUpdated, ""},
		{"an opt-out before the contact syncs", optEarly, event.StatusSkipped, event.ReasonNotSynced},
		{"the contact added after its opt-out", added, event.StatusCreated, ""},
	} {
		if o := got[c.ev.ID]; o.Status != c.status || o.Reason != c.reason {
			t.Errorf("%s: got %s/%s %+v; want %s/%s", c.name, o.Status, o.Reason, o.Error, c.status, c.reason)
		}
	}
	lead, _ := sim.Record("Lead", leads["c0"])
	if r := str(lead["EmailBouncedReason"]); r != "550 5.1.1 no such user" {
		t.Errorf("EmailBouncedReason: got %q; want the newer bounce's", r)
	}
	// Salesforce answers a datetime as 2026-12-07T14:02:07.000+0000.
	if d, err := time.Parse("2006-01-02T15:04:05.000-0700", str(lead["EmailBouncedDate"])); err != nil || !d.Equal(newer.OccurredAt) {
		t.Errorf("EmailBouncedDate: got %q; want %s", str(lead["EmailBouncedDate"]), newer.OccurredAt.Format(time.RFC3339))
	}
	for _, c := range []struct{ name, id string }{
		{"the synced Lead, updated", leads["c1"]},
		{"the Lead created after the opt-out", salesforceID(got[added.ID])},
	} {
		rec, ok := sim.Record("Lead", c.id)
		if opted, _ := rec["HasOptedOutOfEmail"].(bool); !ok || !opted {
			t.Errorf("%s: HasOptedOutOfEmail got %v (found %v); want true", c.name, rec["HasOptedOutOfEmail"], ok)
		}
	}
}

func salesforceID(o event.Outcome) string {
	if o.Salesforce == nil {
		return ""
	}
	return o.Salesforce.ID
}

package main

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// nextAt is the first h:m UTC strictly after t.
func nextAt(t time.Time, h, m int) time.Time {
	at := time.Date(t.Year(), t.Month(), t.Day(), h, m, 0, 0, time.UTC)
	for !at.After(t) {
		at = at.AddDate(0, 0, 1)
	}
	return at
}

// TestTaskOwnerAndDateThroughSQS (R10): an email sent at 03:30 UTC by a
// team in America/Los_Angeles is dated the day before (19:30 or 20:30
// there), on a Task owned by the rep who sent it; an email whose rep has
// no Salesforce user goes to the connected user. A team with no time zone
// setting takes the connected user's (the org's API user is in Tokyo
// here, so the same instant is the day itself).
func TestTaskOwnerAndDateThroughSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	la, tokyo := "team_attr_la", "team_attr_tokyo"
	laOrg, tokyoOrg := newOrg(t, org.Config{}), newOrg(t, org.Config{TimeZone: "Asia/Tokyo"})
	connect(t, la, laOrg)
	connect(t, tokyo, tokyoOrg)
	for team, tz := range map[string]string{la: "America/Los_Angeles", tokyo: ""} {
		settings := map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true, "activity_tracking": true}
		if tz != "" {
			settings["time_zone"] = tz
		}
		if err := seqr.PutSettings(ctx, team, settings); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := laOrg.SeedUser("rep@attr.example", true, "")
	if err != nil {
		t.Fatal(err)
	}
	laIDs := syncContacts(t, la, "la.example", 2)
	tokyoIDs := syncContacts(t, tokyo, "tokyo.example", 1)
	at := nextAt(time.Now().Add(2*time.Minute), 3, 30)
	sent := emailEvent(la, event.EmailSent, "seq_1", "c0", "p0@la.example", "m_la", "Hello", "", at)
	d := sent.Data.(event.EmailData)
	d.User = &event.User{ID: "usr_rep", Email: "REP@attr.example", Name: "A Rep"}
	sent.Data = d
	unknown := emailEvent(la, event.EmailSent, "seq_1", "c1", "p1@la.example", "m_la_2", "Hello", "", at)
	d = unknown.Data.(event.EmailData)
	d.User = &event.User{ID: "usr_new", Email: "new.rep@attr.example"}
	unknown.Data = d
	inTokyo := emailEvent(tokyo, event.EmailSent, "seq_1", "c0", "p0@tokyo.example", "m_tokyo", "Hello", "", at)
	evs := []event.Event{sent, unknown, inTokyo}
	send(t, evs...)
	got := await(t, evs, true)
	utcDay, dayBefore := at.Format(time.DateOnly), at.AddDate(0, 0, -1).Format(time.DateOnly)
	for _, c := range []struct {
		name       string
		ev         event.Event
		sim        *org.Org
		who, owner string
		by, date   string
	}{
		{"the rep's Task, dated in Los Angeles", sent, laOrg, laIDs["c0"], rep, event.OwnerRep, dayBefore},
		{"a rep with no user: the connected user's", unknown, laOrg, laIDs["c1"], laOrg.UserID(), event.OwnerFallback, dayBefore},
		{"no time zone set: the connected user's (Tokyo)", inTokyo, tokyoOrg, tokyoIDs["c0"], tokyoOrg.UserID(), event.OwnerFallback, utcDay},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := got[c.ev.ID]
			if o.Status != event.StatusCreated || o.Salesforce == nil || o.Salesforce.Match == nil || o.Salesforce.Match.Owner != c.by {
				t.Fatalf("outcome: got %s %+v; want created, owner by %s", o.Status, o.Salesforce, c.by)
			}
			task, _ := c.sim.Record("Task", o.Salesforce.ID)
			if str(task["WhoId"]) == "" || !sameID(str(task["WhoId"]), c.who) {
				t.Errorf("WhoId: got %v; want %s", task["WhoId"], c.who)
			}
			if !sameID(str(task["OwnerId"]), c.owner) {
				t.Errorf("OwnerId: got %v; want %s", task["OwnerId"], c.owner)
			}
			if got := str(task["ActivityDate"]); got != c.date {
				t.Errorf("ActivityDate of an email at %s: got %s; want %s", at.Format(time.RFC3339), got, c.date)
			}
		})
	}
}

// sameID compares Salesforce ids in their 15- or 18-character forms.
func sameID(a, b string) bool { return len(a) >= 15 && len(b) >= 15 && a[:15] == b[:15] }

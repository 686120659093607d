package main

// End-to-end test of the team setting allow_save_on_duplicate_alert: the
// org's standard (alert) duplicate rules refuse a new Lead that matches an
// existing one on name and phone, unless the team chose to save over them.

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

// TestAllowSaveOnDuplicateAlertIsPerTeam: two teams, each with a default
// (realistic) org whose Lead matches the new contact's name and phone
// under another email, send their contacts together (so they usually share
// a batch). The team that turned allow_save_on_duplicate_alert on gets a
// new Lead; the other, with the default, gets failed/DUPLICATES_DETECTED
// and nothing created.
func TestAllowSaveOnDuplicateAlertIsPerTeam(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type side struct {
		team  string
		sim   *org.Org
		allow bool
		ev    event.Event
	}
	sides := []*side{{team: stacktest.NextID("team_allowsave_on"), allow: true}, {team: stacktest.NextID("team_allowsave_off")}}
	at := time.Now().Add(time.Minute) // after the settings are saved
	var evs []event.Event
	for i, s := range sides {
		s.sim = newOrg(t, org.Config{})
		connect(t, s.team, s.sim)
		if err := seqr.PutSettings(ctx, s.team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true,
			"activity_tracking": true, "allow_save_on_duplicate_alert": s.allow}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.sim.Seed("Lead", map[string]any{"FirstName": "Test", "LastName": "Person p1", "Company": "P",
			"Phone": "+1 415 555 0100", "Email": "old.address@allowsave.example"}); err != nil {
			t.Fatal(err)
		}
		ev := contactEvent(s.team, event.ContactAdded, "seq_allowsave", "p1", "new.address@allowsave.example", "P", at.Add(time.Duration(i)*time.Millisecond))
		c := ev.Data.(event.ContactData)
		c.Contact.Phone = "(415) 555-0100"
		ev.Data = c
		s.ev = ev
		evs = append(evs, ev)
	}
	send(t, evs...)
	got := await(t, evs, true)
	on, off := sides[0], sides[1]
	if o := got[on.ev.ID]; o.Status != event.StatusCreated || o.Salesforce == nil || o.Salesforce.Object != event.ObjectLead {
		t.Errorf("team with the setting on: got %s/%s %+v %+v; want created, a new Lead", o.Status, o.Reason, o.Salesforce, o.Error)
	}
	if n := countEmail(on.sim, "Lead", "new.address@allowsave.example"); n != 1 {
		t.Errorf("team with the setting on: Leads with the contact's email: got %d; want 1", n)
	}
	if o := got[off.ev.ID]; o.Status != event.StatusFailed || o.Error == nil || o.Error.Code != "DUPLICATES_DETECTED" || o.Salesforce != nil {
		t.Errorf("team with the setting off: got %s/%s %+v %+v; want failed DUPLICATES_DETECTED, linked to nothing", o.Status, o.Reason, o.Error, o.Salesforce)
	}
	if n := len(off.sim.Records("Lead")); n != 1 {
		t.Errorf("team with the setting off: Leads: got %d; want only the existing one", n)
	}
}

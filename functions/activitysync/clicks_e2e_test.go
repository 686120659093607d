package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// TestClicksLoggedWhenSwitchedOn: with clicks switched on, an email.clicked
// becomes one Task on the contact's record, with the link in its body.
func TestClicksLoggedWhenSwitchedOn(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := "team_clicks"
	connect(t, team, sim)
	if err := seqr.PutSettings(context.Background(), team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true,
		"activity_tracking": true, "activity_kinds": map[string]bool{"clicked": true}}); err != nil {
		t.Fatal(err)
	}
	ids := syncContacts(t, team, "clicks.example", 1)
	ev := emailEvent(team, event.EmailClicked, "seq_1", "c0", "p0@clicks.example", "m_click", "Pricing", "", time.Now().Add(2*time.Minute))
	send(t, ev, ev) // delivered twice
	o := await(t, []event.Event{ev}, true)[ev.ID]
	checkOutcome(t, sim, o, want{status: event.StatusCreated, who: ids["c0"], subject: "[sfsync] Email clicked (seq_1, step 1): Pricing"})
	tasks := tasksOf(sim, ids["c0"])
	if len(tasks) != 1 {
		t.Fatalf("Tasks: got %d; want 1", len(tasks))
	}
	if d := str(tasks[0]["Description"]); !strings.Contains(d, "https://example.com/pricing") {
		t.Errorf("Task description: got %q; want the clicked link in it", d)
	}
}

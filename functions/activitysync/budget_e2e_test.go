package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

func budgetState(t *testing.T, team string) (state string, calls int) {
	t.Helper()
	var st struct {
		Budget struct {
			CallsToday int    `json:"calls_today"`
			State      string `json:"state"`
		} `json:"budget"`
	}
	if _, err := seqr.Call(context.Background(), team, "GET", "/v1/salesforce", nil, nil, &st); err != nil {
		t.Fatal(err)
	}
	return st.Budget.State, st.Budget.CallsToday
}

// TestOpensWaitNearTheBudgetCap: near its API budget cap a team's opens wait
// (held, no outcome yet) while its sent emails are still logged; the opens
// are logged once the cap is raised.
func TestOpensWaitNearTheBudgetCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{DailyLimit: 2000})
	team := "team_near_cap"
	connect(t, team, sim)
	settings := func(percent int) {
		t.Helper()
		if err := seqr.PutSettings(ctx, team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true,
			"activity_tracking": true, "activity_kinds": map[string]bool{"opened": true}, "api_budget_percent": percent}); err != nil {
			t.Fatal(err)
		}
	}
	settings(1) // 20 calls a day; opens wait from 16
	ids := syncContacts(t, team, "nearcap.example", 1)
	at := time.Now().Add(2 * time.Minute)

	// Log sent emails until the team is near its cap.
	state, calls := budgetState(t, team)
	logged := 0
	for i := 0; state == "ok"; i++ {
		if i > 20 {
			t.Fatalf("budget never came near the cap: %d calls", calls)
		}
		ev := emailEvent(team, event.EmailSent, "seq_1", "c0", "p0@nearcap.example", fmt.Sprintf("m%d", i), "Hello", "Body", at)
		send(t, ev)
		if o := await(t, []event.Event{ev}, true)[ev.ID]; o.Status != event.StatusCreated {
			t.Fatalf("sent email %d: got %s/%s %+v; want created", i, o.Status, o.Reason, o.Error)
		}
		logged++
		state, calls = budgetState(t, team)
	}
	if state != "near_cap" {
		t.Fatalf("budget: got %s at %d calls; want near_cap (the step from ok skipped it)", state, calls)
	}

	opened := emailEvent(team, event.EmailOpened, "seq_1", "c0", "p0@nearcap.example", "m0", "Hello", "", at.Add(time.Minute))
	sent := emailEvent(team, event.EmailSent, "seq_1", "c0", "p0@nearcap.example", "m_last", "Last", "Body", at.Add(time.Minute))
	msgs := h.SendTracked(t, opened, sent)
	if o := await(t, []event.Event{sent}, true)[sent.ID]; o.Status != event.StatusCreated {
		t.Errorf("sent email near the cap: got %s/%s; want created", o.Status, o.Reason)
	}
	h.AwaitNoOutcome(t, map[string]string{opened.ID: msgs[opened.ID]}, "open near the cap (held)")

	settings(50)
	if o := await(t, []event.Event{opened}, true)[opened.ID]; o.Status != event.StatusCreated {
		t.Errorf("open after raising the cap: got %s/%s; want created", o.Status, o.Reason)
	}
	if got, want := len(tasksOf(sim, ids["c0"])), logged+2; got != want {
		t.Errorf("Tasks on the contact: got %d; want %d (each sent email and the open, once)", got, want)
	}
}

package main

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

type budgetStatus struct {
	Budget *struct {
		Percent    int    `json:"percent"`
		Cap        *int   `json:"cap"`
		CallsToday int    `json:"calls_today"`
		State      string `json:"state"`
	} `json:"budget"`
}

func putBudget(t *testing.T, team string, percent int) {
	t.Helper()
	if err := seqr.PutSettings(context.Background(), team, map[string]any{"sync_as": "lead", "sync_mode": "on_add",
		"deduplication": true, "activity_tracking": true, "api_budget_percent": percent}); err != nil {
		t.Fatal(err)
	}
}

func budgetOf(t *testing.T, team string) budgetStatus {
	t.Helper()
	var st budgetStatus
	code, err := seqr.Call(context.Background(), team, "GET", "/v1/salesforce", nil, nil, &st)
	if err != nil || code != 200 || st.Budget == nil {
		t.Fatalf("GET /v1/salesforce for %s: got %d %v %+v; want 200 with a budget", team, code, err, st.Budget)
	}
	return st
}

// TestBudgetCapHoldsOnlyThatTeam: a team at its API budget cap waits (its
// events held, not failed), another team on the same queue keeps syncing,
// and the held events sync once the cap is raised.
func TestBudgetCapHoldsOnlyThatTeam(t *testing.T) {
	t.Parallel()
	cappedOrg, freeOrg := newOrg(t, org.Config{DailyLimit: 300}), newOrg(t, org.Config{DailyLimit: 300})
	capped, free := "team_capped", "team_free"
	connect(t, capped, cappedOrg)
	connect(t, free, freeOrg)
	putBudget(t, capped, 1) // 1% of 300: three calls a day, one spent by the connect's readiness report
	at := time.Now().Add(time.Minute)

	// The first contact spends the capped team's two calls (a lookup, a create).
	first := contactEvent(capped, event.ContactAdded, "seq_b", "c1", "first@capped.example", "Capped", at)
	send(t, first)
	if o := await(t, []event.Event{first}, true)[first.ID]; o.Status != event.StatusCreated {
		t.Fatalf("first contact: got %s/%s; want created", o.Status, o.Reason)
	}
	if b := budgetOf(t, capped).Budget; b.State != "capped" || b.CallsToday != 3 || b.Cap == nil || *b.Cap != 3 {
		t.Fatalf("budget after three calls: got %+v; want capped, 3 of 3 calls", *b)
	}

	// Now one event of each team on the same queue.
	held := contactEvent(capped, event.ContactAdded, "seq_b", "c2", "second@capped.example", "Capped", at)
	goes := contactEvent(free, event.ContactAdded, "seq_b", "c3", "someone@free.example", "Free", at)
	before, since := cappedOrg.Stats().Total, time.Now()
	msgs := h.SendTracked(t, held, goes)
	if o := await(t, []event.Event{goes}, true)[goes.ID]; o.Status != event.StatusCreated {
		t.Errorf("other team: got %s/%s; want created", o.Status, o.Reason)
	}
	// The held event is parked and comes back meanwhile (hold delay 1 s):
	// these 3 s are the window the calls below are counted over.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		if err := seqr.Poll(context.Background(), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	h.AwaitNoOutcome(t, map[string]string{held.ID: msgs[held.ID]}, "capped team, while capped (held)")
	// While capped, each return of the held event may ask Salesforce once
	// whether the org's allocation grew (the report is older than the hold
	// delay, 1 s here); nothing is created.
	if calls, most := cappedOrg.Stats().Total-before, int(time.Since(since)/time.Second)+1; calls > most {
		t.Errorf("capped org: got %d calls while capped; want at most one per hold delay (%d)", calls, most)
	}
	if n := countEmail(cappedOrg, "Lead", "second@capped.example"); n != 0 {
		t.Errorf("Leads created while capped: got %d; want 0", n)
	}

	// Capacity returns: the admin raises the cap.
	putBudget(t, capped, 50)
	if o := await(t, []event.Event{held}, true)[held.ID]; o.Status != event.StatusCreated {
		t.Errorf("held contact after the cap was raised: got %s/%s; want created", o.Status, o.Reason)
	}
	if n := countEmail(cappedOrg, "Lead", "second@capped.example"); n != 1 {
		t.Errorf("Leads for the held contact: got %d; want 1", n)
	}
	if b := budgetOf(t, capped).Budget; b.State != "ok" || b.Percent != 50 {
		t.Errorf("budget after raising the cap: got %+v; want ok at 50%%", *b)
	}
}

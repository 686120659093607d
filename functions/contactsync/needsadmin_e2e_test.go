package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

// TestInactiveUserHoldsUntilReconnect: an admin deactivates the connected
// user in Salesforce. The refresh answers inactive_user: the team's
// connection becomes needs_admin, GET /v1/salesforce says to reactivate the
// user, and its events are held (never failed, nothing created). Once the
// user is reactivated and the team reconnects, the held event syncs.
func TestInactiveUserHoldsUntilReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_inactive")
	connect(t, team, sim)
	sim.SetUserActive(false)
	ev := contactEvent(team, event.ContactAdded, "seq_inactive", "c1", "one@inactive.example", "I", time.Now().Add(time.Minute))
	msgs := h.SendTracked(t, ev)
	stacktest.AwaitStatus(t, seqr, team, "needs_admin")
	var st struct {
		Problem struct {
			Reason, Message, Actor string
		} `json:"problem"`
	}
	if _, err := seqr.Call(ctx, team, "GET", "/v1/salesforce", nil, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Problem.Reason != "inactive_user" || st.Problem.Actor != "team_admin" || !strings.Contains(st.Problem.Message, "reactivate") {
		t.Errorf("status problem: got %+v; want inactive_user for the team's admin, saying to reactivate the user", st.Problem)
	}
	h.AwaitNoOutcome(t, msgs, "held event, while held")
	if n := countEmail(sim, "Lead", "one@inactive.example"); n != 0 {
		t.Errorf("Leads while held: got %d; want 0", n)
	}
	sim.SetUserActive(true)
	connect(t, team, sim)
	if o := await(t, []event.Event{ev}, true)[ev.ID]; o.Status != event.StatusCreated {
		t.Errorf("after the reconnect: got %s/%s %+v; want created", o.Status, o.Reason, o.Error)
	}
}

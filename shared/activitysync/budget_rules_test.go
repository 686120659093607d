package activitysync_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// allKinds is the setup of a team logging every kind of activity whose
// contact c1 is synced.
func allKinds(r *rig) {
	r.member("c1", ledger.MemberSynced)
	r.settings(connectedAt, func(s *policy.TeamSettings) {
		s.ActivityKinds = policy.ActivityKinds{policy.ActivityOpened: true, policy.ActivityClicked: true}
	})
}

// TestBudgetRules: the API budget governor (design §4) as activity sync
// applies it. Near the team's budget, low-value work waits: opens and
// clicks come back parked (delivery.ErrHeld) while sent, replied and
// bounced emails are logged; held activity of a contact that just synced
// goes on. With the budget spent, everything is parked.
func TestBudgetRules(t *testing.T) {
	t.Parallel()
	at := start.Add(-time.Hour)
	sent, opened, clicked := email("1", event.EmailSent, "c1", at), email("2", event.EmailOpened, "c1", at), email("3", event.EmailClicked, "c1", at)
	near := func(r *rig) { allKinds(r); r.org.SetBudget(nil, budget.ErrNearCap) }
	runRules(t, []rule{
		{rule: "within the budget: opens and clicks logged", setup: allKinds, events: ds(sent, opened, clicked),
			want: wants("evt_1", created(), "evt_2", created(), "evt_3", created()), tasks: 3},
		{rule: "near the budget: opens and clicks wait, the send is logged", setup: near, events: ds(sent, opened, clicked),
			want: wants("evt_1", created(), "evt_2", comesBack(delivery.ErrHeld), "evt_3", comesBack(delivery.ErrHeld)), tasks: 1,
			check: both(wantBackWith("2", budget.ErrNearCap), wantBackWith("3", budget.ErrNearCap))},
		{rule: "near the budget: an open held for a contact that just synced goes on",
			setup: func(r *rig) {
				allKinds(r)
				r.member("c2", ledger.MemberPending)
				r.process(email("4", event.EmailOpened, "c2", at))
				r.member("c2", ledger.MemberSynced)
				r.org.SetBudget(nil, budget.ErrNearCap)
			},
			events: ds(email("5", event.EmailSent, "c2", at.Add(time.Minute))), want: wants("evt_4", created(), "evt_5", created()), tasks: 2},
		{rule: "the budget spent: parked", setup: func(r *rig) { allKinds(r); r.org.SetBudget(budget.ErrCapped, budget.ErrCapped) },
			events: ds(sent, opened), want: wants("evt_1", comesBack(delivery.ErrHeld), "evt_2", comesBack(delivery.ErrHeld)),
			check: wantBackWith("1", budget.ErrCapped)},
	})
}

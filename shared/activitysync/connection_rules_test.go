package activitysync_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// status is the setup of a rule whose contact c1 is synced and whose team
// connection is at st.
func status(st connection.Status) func(r *rig) {
	return func(r *rig) {
		r.member("c1", ledger.MemberSynced)
		r.orgs.SetStatus(teamID, st)
	}
}

// TestConnectionRules: R1 as activity sync applies it. A team with no live
// connection logs nothing: not connected, each activity is skipped
// not_connected; needing a new consent (needs_reauth) or an admin
// (needs_admin), its activity is parked on the queue (delivery.ErrHeld)
// until the team can sync, and answered held_too_long once parked longer
// than the team's held_event_max_days.
func TestConnectionRules(t *testing.T) {
	t.Parallel()
	sent := email("1", event.EmailSent, "c1", start.Add(-time.Hour))
	parkedLong := sent
	parkedLong.FirstReceived = start.Add(-15 * 24 * time.Hour)
	parkedDays := func(days int) delivery.Delivery {
		d := sent
		d.FirstReceived = start.Add(-time.Duration(days) * 24 * time.Hour)
		return d
	}
	runRules(t, []rule{
		{rule: "connected: logged", setup: synced("c1"), events: ds(sent), want: wants("evt_1", created()), tasks: 1},
		{rule: "not connected: skipped not_connected", setup: status(connection.StatusDisconnected), events: ds(sent),
			want: wants("evt_1", skipped(event.ReasonNotConnected))},
		{rule: "needs_reauth: held", setup: status(connection.StatusNeedsReauth), events: ds(sent),
			want: wants("evt_1", comesBack(delivery.ErrHeld)), check: wantBackWith("1", connection.ErrNeedsReauth)},
		{rule: "needs_admin: held", setup: status(connection.StatusNeedsAdmin), events: ds(sent),
			want: wants("evt_1", comesBack(delivery.ErrHeld)), check: wantBackWith("1", connection.ErrNeedsAdmin)},
		{rule: "needs_admin, held longer than the default 14 days: skipped held_too_long", setup: status(connection.StatusNeedsAdmin),
			events: ds(parkedLong), want: wants("evt_1", skipped(event.ReasonHeldTooLong))},
		{rule: "needs_reauth, held 13 days: still held", setup: status(connection.StatusNeedsReauth),
			events: ds(parkedDays(13)), want: wants("evt_1", comesBack(delivery.ErrHeld))},
		{rule: "needs_reauth, held longer than the team's held_event_max_days: skipped held_too_long",
			setup: func(r *rig) {
				status(connection.StatusNeedsReauth)(r)
				r.settings(connectedAt, func(s *policy.TeamSettings) { s.HeldEventMaxDays = 3 })
			},
			events: ds(parkedDays(4)), want: wants("evt_1", skipped(event.ReasonHeldTooLong))},
		{rule: "reconnected: the held activity is logged",
			setup: func(r *rig) {
				status(connection.StatusNeedsReauth)(r)
				r.process(sent)
				r.orgs.SetStatus(teamID, connection.StatusConnected)
			},
			events: ds(again(sent)), want: wants("evt_1", created()), tasks: 1},
	})
}

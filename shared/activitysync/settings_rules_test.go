package activitysync_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// settingsReads checks how many times the batch read the team's settings.
func settingsReads(n int64) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		if got := r.reads.Load(); got != n {
			t.Errorf("settings reads: got %d; want %d", got, n)
		}
	}
}

// TestSettingsRules: R7's settings are those in effect when the activity
// happened, whatever they are when it is processed: activity_tracking off
// at that time skips it (activity_tracking_off), and so does its kind
// switched off (activity_kind_off; opened and clicked are off by default).
// A batch reads the settings once unless a change took effect within the
// span of its activities' times.
func TestSettingsRules(t *testing.T) {
	t.Parallel()
	at := start.Add(-2 * time.Hour)
	sent := email("1", event.EmailSent, "c1", at)
	opened := email("2", event.EmailOpened, "c1", at)
	tracking := func(on bool) func(s *policy.TeamSettings) {
		return func(s *policy.TeamSettings) { s.ActivityTracking = on }
	}
	kind := func(k policy.ActivityKind, on bool) func(s *policy.TeamSettings) {
		return func(s *policy.TeamSettings) { s.ActivityKinds = policy.ActivityKinds{k: on} }
	}
	// changed is the setup of a team whose settings were before, then
	// after from an hour after the activity (now).
	changed := func(before, after func(s *policy.TeamSettings)) func(r *rig) {
		return func(r *rig) {
			r.member("c1", ledger.MemberSynced)
			r.settings(connectedAt, before)
			r.settings(at.Add(time.Hour), after)
		}
	}
	runRules(t, []rule{
		{rule: "tracking on (the default): logged", setup: synced("c1"), events: ds(sent), want: wants("evt_1", created()), tasks: 1},
		{rule: "tracking off: skipped activity_tracking_off", setup: changed(tracking(false), tracking(false)), events: ds(sent),
			want: wants("evt_1", skipped(event.ReasonActivityTrackingOff))},
		{rule: "tracking off at the activity's time, on now: skipped activity_tracking_off", setup: changed(tracking(false), tracking(true)),
			events: ds(sent), want: wants("evt_1", skipped(event.ReasonActivityTrackingOff))},
		{rule: "tracking on at the activity's time, off now: logged", setup: changed(tracking(true), tracking(false)),
			events: ds(sent), want: wants("evt_1", created()), tasks: 1},
		{rule: "a change after the batch's activities: one settings read", setup: changed(tracking(true), tracking(false)),
			events: ds(sent, email("3", event.EmailReplied, "c1", at.Add(time.Minute))),
			want:   wants("evt_1", created(), "evt_3", created()), tasks: 2, check: settingsReads(1)},
		{rule: "tracking turned on within the batch's span: each activity by its own time", setup: changed(tracking(false), tracking(true)),
			events: ds(sent, email("3", event.EmailSent, "c1", at.Add(90*time.Minute))),
			want:   wants("evt_1", skipped(event.ReasonActivityTrackingOff), "evt_3", created()), tasks: 1},
		{rule: "tracking turned off within the batch's span: each activity by its own time", setup: changed(tracking(true), tracking(false)),
			events: ds(sent, email("3", event.EmailSent, "c1", at.Add(90*time.Minute))),
			want:   wants("evt_1", created(), "evt_3", skipped(event.ReasonActivityTrackingOff)), tasks: 1},
		{rule: "default kinds: sent, replied, bounced logged; opened, clicked skipped activity_kind_off", setup: synced("c1"),
			events: ds(sent, opened, email("3", event.EmailReplied, "c1", at), email("4", event.EmailClicked, "c1", at),
				email("5", event.EmailBounced, "c1", at)),
			want: wants("evt_1", created(), "evt_2", skipped(activitysync.ReasonKindOff), "evt_3", created(),
				"evt_4", skipped(activitysync.ReasonKindOff), "evt_5", created()), tasks: 3},
		{rule: "a kind switched on: logged", setup: changed(kind(policy.ActivityOpened, true), kind(policy.ActivityOpened, true)),
			events: ds(opened), want: wants("evt_2", created()), tasks: 1},
		{rule: "a kind switched off: skipped activity_kind_off", setup: changed(kind(policy.ActivitySent, false), kind(policy.ActivitySent, false)),
			events: ds(sent), want: wants("evt_1", skipped(activitysync.ReasonKindOff))},
		{rule: "a kind off at the activity's time, on now: skipped activity_kind_off",
			setup:  changed(kind(policy.ActivityOpened, false), kind(policy.ActivityOpened, true)),
			events: ds(opened), want: wants("evt_2", skipped(activitysync.ReasonKindOff))},
		{rule: "a kind on at the activity's time, off now: logged", setup: changed(kind(policy.ActivitySent, true), kind(policy.ActivitySent, false)),
			events: ds(sent), want: wants("evt_1", created()), tasks: 1},
		{rule: "tracking off with the kind on: skipped activity_tracking_off",
			setup: changed(func(s *policy.TeamSettings) {
				s.ActivityTracking, s.ActivityKinds = false, policy.ActivityKinds{policy.ActivityOpened: true}
			},
				tracking(false)),
			events: ds(opened), want: wants("evt_2", skipped(event.ReasonActivityTrackingOff))},
	})
}

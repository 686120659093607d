package activitysync_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// TestHeldActivityExpires: activity held for a contact that has not synced
// for longer than the team's retention_days is let go with a final answer
// (skipped hold_expired) by the team's next batch, so held activity never
// outlives the membership it waits for; younger holds stay held.
func TestHeldActivityExpires(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	tests := []struct {
		name      string
		retention int           // the team's retention_days; 0 the default (400)
		wait      time.Duration // from the hold to the next batch
		expired   bool
	}{
		{"held past the default retention", 0, 400*day + time.Hour, true},
		{"held just under the default retention", 0, 400*day - time.Hour, false},
		{"held past the team's own retention", 30, 30*day + time.Minute, true},
		{"held under the team's own retention", 30, 29 * day, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			if tt.retention > 0 {
				r.settings(connectedAt, func(s *policy.TeamSettings) { s.RetentionDays = tt.retention })
			}
			r.member("c1", ledger.MemberSynced)
			r.member("c2", ledger.MemberPending)
			held := email("held", event.EmailSent, "c2", start.Add(-time.Hour))
			r.process(held)
			if got := r.pub.last()["evt_held"]; got.Status != event.StatusPending {
				t.Fatalf("the held activity: got %s; want pending", got.Status)
			}
			r.clk.Advance(tt.wait)
			r.process(email("later", event.EmailSent, "c1", r.clk.Now().Add(-time.Minute)))
			var got event.Outcome
			answered := false
			for _, o := range r.pub.lastBatch() {
				if o.EventID == "evt_held" {
					got, answered = o, true
				}
			}
			left := len(r.held("c2"))
			if tt.expired {
				if !answered || got.Status != event.StatusSkipped || got.Reason != activitysync.ReasonHoldExpired || left != 0 {
					t.Errorf("got answer %v %s/%s and %d held; want skipped/%s and none held", answered, got.Status, got.Reason, left, activitysync.ReasonHoldExpired)
				}
				return
			}
			if answered || left != 1 {
				t.Errorf("got answer %v (%s) and %d held; want no new answer and the activity still held", answered, got.Status, left)
			}
		})
	}
}

// keeps is the rig's Activities, keeping how long each hold asked to be
// kept.
type keeps struct {
	activitysync.Activities
	mu   sync.Mutex
	keep []time.Duration
}

func (k *keeps) Hold(ctx context.Context, team string, m ledger.MemberKey, ev event.Event, keep time.Duration) error {
	k.mu.Lock()
	k.keep = append(k.keep, keep)
	k.mu.Unlock()
	return k.Activities.Hold(ctx, team, m, ev, keep)
}

// TestHeldForTheTeamsRetention: a hold asks the store to keep the activity
// for the team's retention_days, so a team keeping 500 days never has its
// held activity forgotten before it is answered.
func TestHeldForTheTeamsRetention(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.settings(connectedAt, func(s *policy.TeamSettings) { s.RetentionDays = 500 })
	k := &keeps{Activities: r.e.Activities}
	r.e.Activities = k
	r.member("c2", ledger.MemberPending)
	r.process(email("held", event.EmailSent, "c2", start.Add(-time.Hour)))
	if len(k.keep) != 1 || k.keep[0] != 500*24*time.Hour {
		t.Errorf("holds: got keeps %v; want one of 500 days", k.keep)
	}
}

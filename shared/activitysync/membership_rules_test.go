package activitysync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// at is the setup of a rule whose contact c1's membership is at st.
func at(st ledger.MembershipStatus) func(r *rig) {
	return func(r *rig) { r.member("c1", st) }
}

// heldOf checks how many activities the contact has held.
func heldOf(contact string, n int) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		if got := len(r.held(contact)); got != n {
			t.Errorf("held activities of %s: got %d; want %d", contact, got, n)
		}
	}
}

// TestMembershipRules: R7 by where the contact's sync stands. A synced
// contact's activity is logged; a pending (on_reply) or still syncing
// one's is held, answered pending; a skipped or failed one's is dropped
// with the outcome that says why; one whose contact.added was not seen
// yet waits for it (delivery.ErrWait), or is parked while the team's
// parked events come back, and is skipped not_added after the await.
func TestMembershipRules(t *testing.T) {
	t.Parallel()
	sent := email("1", event.EmailSent, "c1", start.Add(-time.Hour))
	fresh := email("1", event.EmailSent, "c1", start.Add(-time.Minute))
	runRules(t, []rule{
		{rule: "synced: logged", setup: at(ledger.MemberSynced), events: ds(sent), want: wants("evt_1", created()), tasks: 1,
			check: heldOf("c1", 0)},
		{rule: "pending (on_reply): held, answered pending", setup: at(ledger.MemberPending), events: ds(sent),
			want: wants("evt_1", pending()), check: heldOf("c1", 1)},
		{rule: "syncing: held, answered pending", setup: at(ledger.MemberSyncing), events: ds(sent),
			want: wants("evt_1", pending()), check: heldOf("c1", 1)},
		{rule: "skipped: skipped contact_will_not_sync", setup: at(ledger.MemberSkipped), events: ds(sent),
			want: wants("evt_1", skipped(event.ReasonContactWillNotSync)), check: heldOf("c1", 0)},
		{rule: "failed: skipped contact_failed", setup: at(ledger.MemberFailed), events: ds(sent),
			want: wants("evt_1", skipped(event.ReasonContactFailed)), check: heldOf("c1", 0)},
		{rule: "no membership yet: waits for its contact.added", events: ds(fresh), want: wants("evt_1", comesBack(delivery.ErrWait))},
		{rule: "no membership, a minute short of the await: still waits",
			setup:  func(r *rig) { r.process(fresh); r.clk.Advance(activitysync.DefaultAwaitAdd - 2*time.Minute) },
			events: ds(again(fresh)), want: wants("evt_1", comesBack(delivery.ErrWait))},
		{rule: "no membership after the await: skipped not_added",
			setup:  func(r *rig) { r.process(fresh); r.clk.Advance(activitysync.DefaultAwaitAdd) },
			events: ds(again(fresh)), want: wants("evt_1", skipped(event.ReasonNotAdded))},
		{rule: "no membership, its contact.added came during the await: logged",
			setup: func(r *rig) {
				r.process(fresh)
				r.clk.Advance(activitysync.DefaultAwaitAdd / 2)
				r.member("c1", ledger.MemberSynced)
			},
			events: ds(again(fresh)), want: wants("evt_1", created()), tasks: 1},
		{rule: "no membership while the team's parked events come back: parked",
			setup:  func(r *rig) { r.orgs.RecordHold(context.Background(), teamID, start.Add(-10*time.Minute)) },
			events: ds(sent), want: wants("evt_1", comesBack(delivery.ErrHeld))},
	})
}

// TestHeldActivityRules: R7's held activity. Activity held while its
// contact's sync was pending is logged when the contact syncs, before the
// contact's later activity and in order of occurrence, and answered once;
// when the contact will never sync, or its sync failed, it is dropped
// with the outcome that says why. Either way it leaves the held store.
func TestHeldActivityRules(t *testing.T) {
	t.Parallel()
	first := email("1", event.EmailSent, "c1", start.Add(-3*time.Hour))
	second := email("2", event.EmailSent, "c1", start.Add(-2*time.Hour))
	reply := email("3", event.EmailReplied, "c1", start.Add(-time.Hour))
	// heldThen holds the first two sends (the later one first), then puts
	// the membership at st.
	heldThen := func(st ledger.MembershipStatus) func(r *rig) {
		return func(r *rig) {
			r.member("c1", ledger.MemberPending)
			r.process(second)
			r.process(first)
			r.member("c1", st)
		}
	}
	// drained checks that nothing stays held and that each event got one
	// final answer.
	drained := func(t *testing.T, r *rig) {
		t.Helper()
		heldOf("c1", 0)(t, r)
		finals := map[string]int{}
		for _, o := range r.pub.all() {
			if o.Status != event.StatusPending {
				finals[o.EventID]++
			}
		}
		for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
			if finals[id] != 1 {
				t.Errorf("%s: got %d final answers; want 1", id, finals[id])
			}
		}
	}
	runRules(t, []rule{
		{rule: "synced: the held sends logged before the reply, in order of occurrence, each answered once",
			setup: heldThen(ledger.MemberSynced), events: ds(reply),
			want: wants("evt_1", created(), "evt_2", created(), "evt_3", created()), tasks: 3,
			check: func(t *testing.T, r *rig) {
				drained(t, r)
				var subjects []string
				for _, task := range r.tasks() {
					subjects = append(subjects, task.Fields["Subject"].(string))
				}
				want := []string{"[sfsync] Email (Q4, step 1): Hello 1", "[sfsync] Email (Q4, step 1): Hello 2", "[sfsync] Email replied (Q4, step 1): Hello 3"}
				if !slices.Equal(subjects, want) {
					t.Errorf("Tasks: got %q; want %q", subjects, want)
				}
			}},
		{rule: "skipped: the held sends dropped contact_will_not_sync", setup: heldThen(ledger.MemberSkipped), events: ds(reply),
			want: wants("evt_1", skipped(event.ReasonContactWillNotSync), "evt_2", skipped(event.ReasonContactWillNotSync),
				"evt_3", skipped(event.ReasonContactWillNotSync)), check: drained},
		{rule: "failed: the held sends dropped contact_failed", setup: heldThen(ledger.MemberFailed), events: ds(reply),
			want: wants("evt_1", skipped(event.ReasonContactFailed), "evt_2", skipped(event.ReasonContactFailed),
				"evt_3", skipped(event.ReasonContactFailed)), check: drained},
		{rule: "still pending: the reply held too", setup: heldThen(ledger.MemberPending), events: ds(reply),
			want: wants("evt_1", pending(), "evt_2", pending(), "evt_3", pending()), check: heldOf("c1", 3)},
		{rule: "another contact's sync: the held sends stay held", setup: func(r *rig) { heldThen(ledger.MemberPending)(r); r.member("c2", ledger.MemberSynced) },
			events: ds(email("4", event.EmailSent, "c2", start.Add(-time.Hour))),
			want:   wants("evt_1", pending(), "evt_2", pending(), "evt_4", created()), tasks: 1, check: heldOf("c1", 2)},
	})
	// Contact sync's Releaser sends the held activities back to the queue
	// once the membership is final: each gets the membership's answer.
	released := func(st ledger.MembershipStatus) func(r *rig) {
		return func(r *rig) {
			r.member("c1", ledger.MemberPending)
			r.process(first)
			r.member("c1", st)
		}
	}
	runRules(t, []rule{
		{rule: "released after the contact synced: logged", setup: released(ledger.MemberSynced), events: ds(again(first)),
			want: wants("evt_1", created()), tasks: 1, check: heldOf("c1", 0)},
		{rule: "released after the contact was skipped: skipped contact_will_not_sync", setup: released(ledger.MemberSkipped),
			events: ds(again(first)), want: wants("evt_1", skipped(event.ReasonContactWillNotSync)), check: heldOf("c1", 0)},
		{rule: "released after the contact's sync failed: skipped contact_failed", setup: released(ledger.MemberFailed),
			events: ds(again(first)), want: wants("evt_1", skipped(event.ReasonContactFailed)), check: heldOf("c1", 0)},
		{rule: "released twice: answered again, logged once",
			setup:  func(r *rig) { released(ledger.MemberSynced)(r); r.process(again(first)) },
			events: ds(again(again(first))), want: wants("evt_1", created()), tasks: 1, check: heldOf("c1", 0)},
	})
}

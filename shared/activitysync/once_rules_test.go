package activitysync_test

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
)

// sameTask checks that the events' last answers name the same Task, the
// org's only one.
func sameTask(ids ...string) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		tasks := r.tasks()
		if len(tasks) != 1 {
			t.Fatalf("Tasks: got %d; want 1", len(tasks))
		}
		last := r.pub.last()
		for _, id := range ids {
			if sf := last[id].Salesforce; sf == nil || sf.Object != event.ObjectTask || sf.ID != tasks[0].ID {
				t.Errorf("%s: got Task %v; want %s", id, sf, tasks[0].ID)
			}
		}
	}
}

// lookups checks how many times the org was asked for saved Tasks.
func lookups(n int) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		if got := r.org.Calls(orgtest.CallTasks); got != n {
			t.Errorf("Task lookups: got %d; want %d", got, n)
		}
	}
}

// TestExactlyOnceRules: R7's one Task per email event, exactly once. An
// event redelivered, or the same message and kind under another event id,
// makes no second Task (the other id is skipped duplicate_event, naming
// the Task); a create whose answer was lost is looked up before it is
// made again; the same message of another kind is an activity of its own.
func TestExactlyOnceRules(t *testing.T) {
	t.Parallel()
	sent := email("1", event.EmailSent, "c1", start.Add(-time.Hour))
	replied := sent
	replied.ID, replied.Event.ID, replied.Event.Type = "msg_2", "evt_2", event.EmailReplied
	// lost loses the answer of the first create of sent.
	lost := func(r *rig) {
		r.member("c1", ledger.MemberSynced)
		r.org.LoseNextAnswer()
		r.process(sent)
		if err := r.back[sent.ID]; err == nil {
			r.t.Fatalf("a create whose answer was lost: got no error; want the delivery back")
		}
	}
	runRules(t, []rule{
		{rule: "the same event redelivered: answered again, no second Task",
			setup:  func(r *rig) { synced("c1")(r); r.process(sent) },
			events: ds(again(sent)), want: wants("evt_1", created()), tasks: 1, check: sameTask("evt_1")},
		{rule: "the same event twice in one batch: one Task", setup: synced("c1"),
			events: ds(sent, again(sent)), want: wants("evt_1", created()), tasks: 1, check: sameTask("evt_1")},
		{rule: "the same message and kind under another event id: skipped duplicate_event, naming the Task",
			setup:  func(r *rig) { synced("c1")(r); r.process(sent) },
			events: ds(as(sent, "9")), want: wants("evt_1", created(), "evt_9", skipped(event.ReasonDuplicateEvent)), tasks: 1,
			check: sameTask("evt_1", "evt_9")},
		{rule: "the same message and kind under two event ids in one batch: one Task", setup: synced("c1"),
			events: ds(sent, as(sent, "9")), want: wants("evt_1", created(), "evt_9", skipped(event.ReasonDuplicateEvent)), tasks: 1,
			check: sameTask("evt_1", "evt_9")},
		{rule: "the same message of another kind: a Task of its own", setup: synced("c1"),
			events: ds(sent, replied), want: wants("evt_1", created(), "evt_2", created()), tasks: 2},
		{rule: "the same message and kind on another contact's event: one activity (its key is team, message and kind)", setup: synced("c1", "c2"),
			events: ds(sent, func() delivery.Delivery {
				d := email("2", event.EmailSent, "c2", start.Add(-time.Hour))
				d.Event.Data = withMessage(d.Event.Data.(event.EmailData), "m_1")
				return d
			}()),
			want: wants("evt_1", created(), "evt_2", skipped(event.ReasonDuplicateEvent)), tasks: 1},
		{rule: "a create whose answer was lost: looked up, not created again", setup: lost,
			events: ds(again(sent)), want: wants("evt_1", created()), tasks: 1, check: both(sameTask("evt_1"), lookups(1))},
		{rule: "a create whose answer was lost, the org with the key field: looked up through it",
			setup:  func(r *rig) { r.org.SetTaskFields(withKeyField()); lost(r) },
			events: ds(again(sent)), want: wants("evt_1", created()), tasks: 1, check: both(sameTask("evt_1"), lookups(1))},
		{rule: "a create that failed whole: looked up, then created",
			setup: func(r *rig) {
				synced("c1")(r)
				r.org.FailNext(orgtest.CallCreate, orgtest.Transient())
				r.process(sent)
			},
			events: ds(again(sent)), want: wants("evt_1", created()), tasks: 1, check: both(sameTask("evt_1"), lookups(1))},
		{rule: "a fresh claim: created without a lookup", setup: synced("c1"),
			events: ds(sent), want: wants("evt_1", created()), tasks: 1, check: lookups(0)},
		{rule: "another worker's live claim: comes back",
			setup:  func(r *rig) { synced("c1")(r); r.claimBy("worker_2", sent, start.Add(time.Minute)) },
			events: ds(sent), want: wants("evt_1", comesBack(delivery.ErrRetry))},
		{rule: "another worker's claim expired: looked up, then created",
			setup: func(r *rig) {
				synced("c1")(r)
				r.claimBy("worker_2", sent, start.Add(time.Minute))
				r.clk.Advance(2 * time.Minute)
			},
			events: ds(sent), want: wants("evt_1", created()), tasks: 1, check: lookups(1)},
	})
}

// withMessage is d with the message id id.
func withMessage(d event.EmailData, id string) event.EmailData {
	d.Message.ID = id
	return d
}

// withKeyField is the default Task with the activity key field.
func withKeyField() activitysync.TaskFields {
	return activitysync.TaskFields{TypeEmail: true, ClosedStatus: "Completed", KeyField: "Sfsync_Key__c"}
}

// claimBy claims d's activity for owner until until.
func (r *rig) claimBy(owner string, d delivery.Delivery, until time.Time) {
	r.t.Helper()
	key := activitysync.Key(teamID, d.Event.Data.(event.EmailData).Message.ID, activitysync.KindOf(d.Event.Type))
	res, err := r.acts.ClaimAll(context.Background(), teamID, []activitysync.ClaimRequest{{Key: key, EventID: "evt_other"}}, owner, until)
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		r.t.Fatalf("claim %s for %s: %v", key, owner, err)
	}
}

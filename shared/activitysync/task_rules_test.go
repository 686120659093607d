package activitysync_test

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgertest"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
)

// taskOn checks that the org's only Task is a completed email Task (its
// Status the org's closed status) on the record whoID of the contact.
func taskOn(contact, status string, whoID func(r *rig) string) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		tasks := r.tasks()
		if len(tasks) != 1 {
			t.Fatalf("Tasks: got %d; want 1", len(tasks))
		}
		f := tasks[0].Fields
		want := map[string]any{"WhoId": whoID(r), "Status": status, "TaskSubtype": "Email", "Type": "Email"}
		for k, v := range want {
			if f[k] != v {
				t.Errorf("Task %s: got %v; want %v", k, f[k], v)
			}
		}
		// The events name no rep: the Task goes to the fallback, and says so.
		if sf := r.pub.last()["evt_1"].Salesforce; sf == nil || sf.Object != event.ObjectTask || sf.ID != tasks[0].ID ||
			sf.Match == nil || sf.Match.Owner != event.OwnerFallback {
			t.Errorf("answer: got %+v; want Task %s, its owner the fallback", sf, tasks[0].ID)
		}
	}
}

// ledgerRecord is the ledger's record of the contact's email.
func ledgerRecord(contact string) func(r *rig) string {
	return func(r *rig) string {
		rec, _ := r.ledger.Record(teamID, emailOf(contact))
		return rec.ID
	}
}

// TestTaskRules: R7's Task. A synced contact's email event is logged as
// one completed Task, its Status the org's closed status, on the record
// the contact's email resolved to (the ledger's record, else the
// membership's); a Lead converted since it synced is followed to its
// Contact, and the ledger follows it too.
func TestTaskRules(t *testing.T) {
	t.Parallel()
	sent := email("1", event.EmailSent, "c1", start.Add(-time.Hour))
	runRules(t, []rule{
		{rule: "one completed Task on the contact's record", setup: synced("c1"), events: ds(sent),
			want: wants("evt_1", created()), tasks: 1, check: taskOn("c1", "Completed", ledgerRecord("c1"))},
		{rule: "the org's own closed status",
			setup: func(r *rig) {
				synced("c1")(r)
				r.org.SetTaskFields(activitysync.TaskFields{TypeEmail: true, ClosedStatus: "Done"})
			},
			events: ds(sent), want: wants("evt_1", created()), tasks: 1, check: taskOn("c1", "Done", ledgerRecord("c1"))},
		{rule: "the ledger's record, moved since the membership synced",
			setup: func(r *rig) {
				lead := r.member("c1", ledger.MemberSynced)
				contactID := r.org.Seed(orgtest.Contact, map[string]any{"LastName": "c1", "Email": emailOf("c1")})
				if _, err := r.ledger.FollowRecord(context.Background(), teamID, emailOf("c1"), lead,
					event.SalesforceRef{Object: event.ObjectContact, ID: contactID}); err != nil {
					r.t.Fatal(err)
				}
			},
			events: ds(sent), want: wants("evt_1", created()), tasks: 1, check: taskOn("c1", "Completed", ledgerRecord("c1"))},
		{rule: "no ledger record: the membership's record",
			setup: func(r *rig) {
				lead := r.org.Seed(orgtest.Lead, map[string]any{"LastName": "c1", "Company": "Acme", "Email": emailOf("c1")})
				r.memberOn("c1", event.SalesforceRef{Object: event.ObjectLead, ID: lead})
			},
			events: ds(sent), want: wants("evt_1", created()), tasks: 1,
			check: taskOn("c1", "Completed", func(r *rig) string { return r.org.Records(orgtest.Lead)[0].ID })},
		{rule: "a converted Lead: followed to its Contact, in the ledger too",
			setup: func(r *rig) {
				lead := r.member("c1", ledger.MemberSynced)
				if _, ok := r.org.Convert(lead); !ok {
					r.t.Fatalf("convert %s: not a Lead", lead)
				}
			},
			events: ds(sent), want: wants("evt_1", created()), tasks: 1,
			check: func(t *testing.T, r *rig) {
				contact := r.org.Records(orgtest.Contact)
				if len(contact) != 1 {
					t.Fatalf("Contacts: got %d; want the converted Lead's", len(contact))
				}
				taskOn("c1", "Completed", func(*rig) string { return contact[0].ID })(t, r)
				if rec, _ := r.ledger.Record(teamID, emailOf("c1")); rec.ID != contact[0].ID || rec.Object != event.ObjectContact ||
					rec.MatchRule != ledgertest.RuleFollowed {
					t.Errorf("ledger record: got %s %s (%s); want Contact %s (%s)", rec.Object, rec.ID, rec.MatchRule, contact[0].ID, ledgertest.RuleFollowed)
				}
			}},
	})
}

// memberOn pins the contact's membership synced on ref, with no record in
// the ledger.
func (r *rig) memberOn(contact string, ref event.SalesforceRef) {
	r.t.Helper()
	m := ledger.Membership{TeamID: teamID, SequenceID: seqID, ContactID: contact, Email: emailOf(contact),
		PinnedAt: connectedAt, EventID: "evt_added_" + contact, Status: ledger.MemberSynced, Salesforce: &ref}
	pins, err := r.ledger.PinMemberships(context.Background(), []ledger.Membership{m})
	if err == nil {
		err = pins[0].Err
	}
	if err != nil {
		r.t.Fatalf("membership of %s: %v", contact, err)
	}
}

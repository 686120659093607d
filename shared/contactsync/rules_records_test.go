package contactsync_test

import (
	"errors"
	"testing"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
)

// seed adds a record of object with email to the org, with a name.
func seed(r *rig, object, email string) string {
	return r.org.Seed(object, map[string]any{"LastName": "Lovelace", "Company": "Engines", "Email": email})
}

// TestNoDuplicateRecords (R5): an email is looked up before anything is
// created: found, the contact is linked to it (a Contact preferred over a
// Lead, a converted Lead resolving to its Contact), matched exactly but
// case-insensitively; not found, a record is created. A different email
// is a different record; an email synced for the team is never created
// again, whatever the order, and a create whose answer was lost is found
// on the next run, not made twice.
func TestNoDuplicateRecords(t *testing.T) {
	t.Parallel()
	bob := person("c_bob", "ada@example.com") // another contact of the sequencer, with Ada's email
	runStories(t, []story{
		{
			name: "found: linked, nothing created",
			setup: func(_ *testing.T, r *rig) map[string]string {
				return map[string]string{"lead": seed(r, orgtest.Lead, "ada@example.com")}
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "linked/matched_lead Lead"},
			same:  [][]string{{"evt_add", "@lead"}},
			leads: 1,
			check: noCreates,
		},
		{
			name: "a Contact preferred over a newer Lead",
			setup: func(_ *testing.T, r *rig) map[string]string {
				c := seed(r, orgtest.Contact, "ada@example.com")
				seed(r, orgtest.Lead, "ada@example.com")
				return map[string]string{"contact": c}
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "linked/matched_contact Contact"},
			same:  [][]string{{"evt_add", "@contact"}},
			leads: 1, contacts: 1,
			check: noCreates,
		},
		{
			name: "a converted Lead resolves to its Contact",
			setup: func(t *testing.T, r *rig) map[string]string {
				c, ok := r.org.Convert(seed(r, orgtest.Lead, "ada@example.com"))
				if !ok {
					t.Fatal("convert: got no Contact")
				}
				r.org.Update(c, map[string]any{"Email": "lovelace@engines.example"}) // the Contact kept its own email
				return map[string]string{"contact": c}
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "linked/matched_converted_lead Contact"},
			same:  [][]string{{"evt_add", "@contact"}},
			leads: 1, contacts: 1,
			check: noCreates,
		},
		{
			name: "matched case-insensitively in Salesforce",
			setup: func(_ *testing.T, r *rig) map[string]string {
				return map[string]string{"lead": seed(r, orgtest.Lead, "Ada@Example.COM")}
			},
			steps: []step{batch(added("evt_add", "seq_1", person("c_ada", "ada@EXAMPLE.com"), at(1)))},
			want:  map[string]string{"evt_add": "linked/matched_lead Lead"},
			same:  [][]string{{"evt_add", "@lead"}},
			leads: 1,
		},
		{
			name: "matched case-insensitively in the ledger",
			steps: []step{batch(added("evt_1", "seq_1", person("c_ada", "ADA@example.com"), at(1))),
				batch(added("evt_2", "seq_2", person("c_bob", " ada@Example.com"), at(2)))},
			want:  map[string]string{"evt_1": "created Lead", "evt_2": "linked/already_synced Lead"},
			same:  [][]string{{"evt_1", "evt_2"}},
			leads: 1,
		},
		{
			name: "a different email is a different record, for the same contact too",
			steps: []step{batch(added("evt_1", "seq_1", ada, at(1)), added("evt_2", "seq_2", person("c_ada", "ada@work.example"), at(1)),
				added("evt_3", "seq_1", person("c_eve", "eve@example.com"), at(1)))},
			want:  map[string]string{"evt_1": "created Lead", "evt_2": "created Lead", "evt_3": "created Lead"},
			apart: []string{"evt_1", "evt_2", "evt_3"},
			leads: 3,
		},
		{
			name: "synced for the team: never created again, by a second sequence or a replay",
			steps: []step{batch(added("evt_1", "seq_1", ada, at(1))), batch(added("evt_2", "seq_2", bob, at(2))),
				batch(added("evt_1", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_1": "created Lead", "evt_2": "linked/already_synced Lead"},
			same:  [][]string{{"evt_1", "evt_2"}},
			leads: 1,
		},
		{
			name:  "synced for the team: never created twice in one batch",
			steps: []step{batch(added("evt_1", "seq_1", ada, at(1)), added("evt_2", "seq_2", bob, at(1)), added("evt_1", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_1": "created Lead", "evt_2": "linked/already_synced Lead"},
			same:  [][]string{{"evt_1", "evt_2"}},
			leads: 1,
		},
		{
			name: "synced for the team: a reply first, then its add, then another add",
			steps: []step{batch(replied("evt_reply", "seq_2", bob, at(2))), batch(added("evt_1", "seq_1", ada, at(1))),
				batch(added("evt_2", "seq_2", bob, at(1)), replied("evt_reply", "seq_2", bob, at(2)))},
			want: map[string]string{"evt_1": "created Lead", "evt_2": "linked/already_synced Lead",
				"evt_reply": "linked/already_synced Lead"},
			same:  [][]string{{"evt_1", "evt_2", "evt_reply"}},
			leads: 1,
			check: func(t *testing.T, _ *rig, back []map[string]error) {
				if err := back[0]["msg_evt_reply"]; !errors.Is(err, delivery.ErrWait) {
					t.Errorf("the reply before its add: got %v; want it back to wait (ErrWait)", err)
				}
			},
		},
		{
			name: "a create whose answer was lost is found on the next run, not made again",
			steps: []step{{do: func(_ *testing.T, r *rig) { r.org.LoseNextAnswer() }, ds: ds(added("evt_add", "seq_1", ada, at(1)))},
				batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "linked/matched_lead Lead"},
			leads: 1,
			check: func(t *testing.T, r *rig, back []map[string]error) {
				if err := back[0]["msg_evt_add"]; !errors.Is(err, delivery.ErrRetry) {
					t.Errorf("the lost answer: got %v; want the delivery back (ErrRetry)", err)
				}
				if n := r.org.Calls(orgtest.CallCreate); n != 1 {
					t.Errorf("creates: got %d; want 1", n)
				}
				if rec, ok := r.ledger.Record(team, "ada@example.com"); !ok || rec.ID != r.refOf("evt_add", nil) {
					t.Errorf("ledger record: got %+v, %v; want the found Lead", rec, ok)
				}
			},
		},
	})
}

// ds is deliveries as a slice.
func ds(d ...delivery.Delivery) []delivery.Delivery { return d }

// noCreates checks that nothing was created in the org.
func noCreates(t *testing.T, r *rig, _ []map[string]error) {
	t.Helper()
	if n := r.org.Calls(orgtest.CallCreate); n != 0 {
		t.Errorf("create calls: got %d; want 0", n)
	}
}

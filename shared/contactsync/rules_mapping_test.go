package contactsync_test

import (
	"context"
	"testing"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
)

// saveMapping saves the team's next Lead mapping: the default with a
// Description, returned as the version saved.
func saveMapping(t *testing.T, r *rig, description string) {
	t.Helper()
	m := mapping.Default(event.ObjectLead)
	m.Fields = append(m.Fields, mapping.Rule{SalesforceField: "Description", Source: mapping.Source{Constant: &description}})
	if _, err := r.mapping.Save(context.Background(), team, event.ObjectLead, m); err != nil {
		t.Fatalf("save mapping: %v", err)
	}
}

// TestMappingVersionKept (R8): a created record keeps the mapping version
// it was made with, in the ledger and in the counts; a mapping saved later
// applies to the contacts synced afterwards only; a linked record was
// made with no mapping (0). A contact the mapping cannot render fails
// with the reason, and nothing is created for it.
func TestMappingVersionKept(t *testing.T) {
	t.Parallel()
	eve := person("c_eve", "eve@example.com")
	runStories(t, []story{
		{
			name: "each record keeps its version; the shipped default is 0",
			steps: []step{
				batch(added("evt_default", "seq_1", person("c_bob", "bob@example.com"), at(1))),
				{do: func(t *testing.T, r *rig) { saveMapping(t, r, "one") }, ds: ds(added("evt_v1", "seq_1", ada, at(1)))},
				{do: func(t *testing.T, r *rig) { saveMapping(t, r, "two") }, ds: ds(added("evt_v2", "seq_1", eve, at(1)))},
			},
			want:  map[string]string{"evt_default": "created Lead", "evt_v1": "created Lead", "evt_v2": "created Lead"},
			leads: 3,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				for email, want := range map[string]int{"bob@example.com": 0, ada.Email: 1, eve.Email: 2} {
					if rec, ok := r.ledger.Record(team, email); !ok || rec.MappingVersion != want {
						t.Errorf("%s: got mapping version %d (%v); want %d", email, rec.MappingVersion, ok, want)
					}
				}
				for v, want := range []int{1, 1, 1} {
					if got := r.counts.of(event.ObjectLead, v); got != want {
						t.Errorf("counted with version %d: got %d; want %d", v, got, want)
					}
				}
				descriptions := map[string]any{}
				for _, rec := range r.org.Records(orgtest.Lead) {
					descriptions[rec.Email()] = rec.Fields["Description"]
				}
				if descriptions[ada.Email] != "one" || descriptions[eve.Email] != "two" {
					t.Errorf("descriptions: got %v; want one for %s, two for %s", descriptions, ada.Email, eve.Email)
				}
			},
		},
		{
			name: "a linked record: no mapping used",
			setup: func(t *testing.T, r *rig) map[string]string {
				saveMapping(t, r, "one")
				return map[string]string{"lead": seed(r, orgtest.Lead, ada.Email)}
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "linked/matched_lead Lead"},
			leads: 1,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				if rec, _ := r.ledger.Record(team, ada.Email); rec.MappingVersion != 0 {
					t.Errorf("mapping version: got %d; want 0", rec.MappingVersion)
				}
			},
		},
		{
			name: "a contact the mapping cannot render fails with the reason",
			setup: func(t *testing.T, r *rig) map[string]string {
				unrenderable(t, r)
				return nil
			},
			steps: []step{batch(added("evt_bad", "seq_1", event.Contact{ID: "c_ada", Email: ada.Email, LastName: "Lovelace", Title: "many"}, at(1)),
				added("evt_good", "seq_1", eve, at(1)))},
			want:  map[string]string{"evt_bad": "failed/MAPPING_ERROR", "evt_good": "created Lead"},
			leads: 1,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				o := r.pub.of("evt_bad")[0]
				if o.Error == nil || o.Error.Message != `NumberOfEmployees: "many" is not a whole number` {
					t.Errorf("error: got %+v; want the field and why", o.Error)
				}
				if owner, _, ok := r.ledger.Claim(team, ada.Email); ok {
					t.Errorf("claim of %s: got one of %s; want it given up", ada.Email, owner)
				}
				if m, _ := r.membership("seq_1", "c_ada"); m.Status != ledger.MemberFailed {
					t.Errorf("membership: got %s; want failed", m.Status)
				}
			},
		},
	})
}

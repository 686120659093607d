package contactsync_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
)

// dedup sets a team's deduplication.
func dedup(on bool) func(*policy.TeamSettings) {
	return func(s *policy.TeamSettings) { s.Deduplication = on }
}

// TestDeduplicationWarning (R6): with the team's deduplication on (the
// default) as of the event, a contact.created looks the email up: found,
// exists_in_salesforce with the record's id and type; not found,
// not_in_salesforce. Off: no lookup and no warning. Nothing is created
// or pinned either way.
func TestDeduplicationWarning(t *testing.T) {
	t.Parallel()
	seedContact := func(_ *testing.T, r *rig) map[string]string {
		return map[string]string{"contact": seed(r, orgtest.Contact, "Ada@Example.com")}
	}
	runStories(t, []story{
		{
			name:     "on by default: found, exists_in_salesforce with the record",
			setup:    seedContact,
			steps:    []step{batch(created("evt_created", ada, at(1)))},
			want:     map[string]string{"evt_created": "exists_in_salesforce/matched_contact Contact"},
			same:     [][]string{{"evt_created", "@contact"}},
			contacts: 1,
			check:    nothingSynced,
		},
		{
			name: "on: a Lead found",
			setup: func(_ *testing.T, r *rig) map[string]string {
				return map[string]string{"lead": seed(r, orgtest.Lead, "ada@example.com")}
			},
			steps: []step{batch(created("evt_created", ada, at(1)))},
			want:  map[string]string{"evt_created": "exists_in_salesforce/matched_lead Lead"},
			same:  [][]string{{"evt_created", "@lead"}},
			leads: 1,
			check: nothingSynced,
		},
		{
			name:  "on: not found",
			steps: []step{batch(created("evt_created", ada, at(1)))},
			want:  map[string]string{"evt_created": "not_in_salesforce"},
			check: nothingSynced,
		},
		{
			name: "off: no lookup, no warning",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), dedup(false))
				return seedContact(t, r)
			},
			steps:    []step{batch(created("evt_created", ada, at(1)))},
			want:     map[string]string{"evt_created": "skipped/deduplication_off"},
			contacts: 1,
			check:    noOrgCalls,
		},
		{
			name: "turned off after the event: as of the event, looked up",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(2), dedup(false))
				return seedContact(t, r)
			},
			steps:    []step{batch(created("evt_created", ada, at(1)))},
			want:     map[string]string{"evt_created": "exists_in_salesforce/matched_contact Contact"},
			contacts: 1,
		},
		{
			name: "turned on after the event: as of the event, not looked up",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), dedup(false))
				r.settings(t, at(2), dedup(true))
				return seedContact(t, r)
			},
			steps:    []step{batch(created("evt_created", ada, at(1)))},
			want:     map[string]string{"evt_created": "skipped/deduplication_off"},
			contacts: 1,
			check:    noOrgCalls,
		},
	})
}

// nothingSynced checks that a contact.created pinned nothing and saved no
// record.
func nothingSynced(t *testing.T, r *rig, _ []map[string]error) {
	t.Helper()
	if _, ok := r.ledger.Record(team, ada.Email); ok {
		t.Errorf("ledger record of %s: got one; want none", ada.Email)
	}
	if _, ok := r.membership("", ada.ID); ok {
		t.Errorf("membership: got one; want none")
	}
	noCreates(t, r, nil)
}

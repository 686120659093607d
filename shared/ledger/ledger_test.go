package ledger_test

import (
	"reflect"
	"testing"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// TestNormalizeEmail: an email's ledger key is the email trimmed and
// lower-cased, as Salesforce matches emails case-insensitively (R5), so
// two spellings of one address are one record.
func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"ada@example.com", "ada@example.com"},
		{"Ada.Lovelace@Example.COM", "ada.lovelace@example.com"},
		{"  ada@example.com\t", "ada@example.com"},
		{" MIXED@Case.Example ", "mixed@case.example"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ledger.NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestSettledBy: a membership its add ended is read as the add's outcome
// leaves it, since the contact sync writes that end as the outcome only;
// any other outcome, or a membership another event ended (written
// itself), leaves it as stored.
func TestSettledBy(t *testing.T) {
	t.Parallel()
	lead := &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA", OwnerID: "005000000000001AAA"}
	add := func(st event.Status, mod func(*event.Outcome)) event.Outcome {
		o := event.Outcome{Type: event.ContactOutcome, TeamID: "team_a", EventID: "evt_add", ContactID: "ct_1", Status: st}
		if st == event.StatusCreated || st == event.StatusLinked {
			o.Salesforce = lead
		}
		if st == event.StatusFailed {
			o.Error = &event.OutcomeError{Code: "REQUIRED_FIELD_MISSING"}
		}
		if mod != nil {
			mod(&o)
		}
		return o
	}
	synced := &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	tests := []struct {
		name   string
		stored ledger.MembershipStatus
		add    event.Outcome
		want   ledger.MembershipStatus
		ref    *event.SalesforceRef
	}{
		{"syncing, created", ledger.MemberSyncing, add(event.StatusCreated, nil), ledger.MemberSynced, synced},
		{"syncing, linked", ledger.MemberSyncing, add(event.StatusLinked, nil), ledger.MemberSynced, synced},
		{"syncing, failed", ledger.MemberSyncing, add(event.StatusFailed, nil), ledger.MemberFailed, nil},
		{"failed, the add retried and created", ledger.MemberFailed, add(event.StatusCreated, nil), ledger.MemberSynced, synced},
		{"failed by a reply, the add failed", ledger.MemberFailed, add(event.StatusFailed, nil), ledger.MemberFailed, nil},
		{"syncing, pending", ledger.MemberSyncing, add(event.StatusPending, nil), ledger.MemberSyncing, nil},
		{"syncing, skipped", ledger.MemberSyncing, add(event.StatusSkipped, nil), ledger.MemberSyncing, nil},
		{"syncing, an invalid_event answer", ledger.MemberSyncing, add(event.StatusFailed, func(o *event.Outcome) { o.Reason = event.ReasonInvalidEvent }), ledger.MemberSyncing, nil},
		{"pending, created by another path", ledger.MemberPending, add(event.StatusCreated, nil), ledger.MemberPending, nil},
		{"skipped", ledger.MemberSkipped, add(event.StatusCreated, nil), ledger.MemberSkipped, nil},
		{"synced by a reply, the add failed", ledger.MemberSynced, add(event.StatusFailed, nil), ledger.MemberSynced, nil},
		{"another event's outcome", ledger.MemberSyncing, add(event.StatusCreated, func(o *event.Outcome) { o.EventID = "evt_reply" }), ledger.MemberSyncing, nil},
		{"another contact's outcome", ledger.MemberSyncing, add(event.StatusCreated, func(o *event.Outcome) { o.ContactID = "ct_2" }), ledger.MemberSyncing, nil},
		{"another team's outcome", ledger.MemberSyncing, add(event.StatusCreated, func(o *event.Outcome) { o.TeamID = "team_b" }), ledger.MemberSyncing, nil},
		{"an activity outcome", ledger.MemberSyncing, add(event.StatusCreated, func(o *event.Outcome) { o.Type = event.ActivityOutcome }), ledger.MemberSyncing, nil},
		{"created with no record", ledger.MemberSyncing, add(event.StatusCreated, func(o *event.Outcome) { o.Salesforce = nil }), ledger.MemberSyncing, nil},
	}
	for _, tt := range tests {
		m := ledger.Membership{TeamID: "team_a", SequenceID: "seq_1", ContactID: "ct_1", EventID: "evt_add", Status: tt.stored}
		if tt.stored == ledger.MemberSynced {
			m.Salesforce = &event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001AAA"}
		}
		got := m.SettledBy(tt.add)
		if got.Status != tt.want {
			t.Errorf("%s: got %s; want %s", tt.name, got.Status, tt.want)
		}
		if tt.ref != nil && (got.Salesforce == nil || *got.Salesforce != *tt.ref) {
			t.Errorf("%s: record got %+v; want %+v", tt.name, got.Salesforce, tt.ref)
		}
		if tt.want == tt.stored && !reflect.DeepEqual(got, m) {
			t.Errorf("%s: got %+v; want it as stored", tt.name, got)
		}
	}
}

package ledgerdb_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
)

// TestKeysKeepTheStoredLayout pins every key of the ledger table to the
// layout items are stored under: a changed builder would lose every item
// already written.
func TestKeysKeepTheStoredLayout(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 8900, time.FixedZone("x", 3600))
	k := ledger.MemberKey{SequenceID: "seq_1", ContactID: "ct_1"}
	for _, c := range []struct{ name, got, want string }{
		{"TeamPK", ledgerdb.TeamPK("t1"), "TEAM#t1"},
		{"EventPK", ledgerdb.EventPK("t1", "ev_1"), "TEAM#t1#EVENT#ev_1"},
		{"OutcomeSK", ledgerdb.OutcomeSK("ev_1"), "OUTCOME#ev_1"},
		{"LegacyOutcomeSK", ledgerdb.LegacyOutcomeSK, "OUTCOME"},
		{"OutcomeIndexSK", ledgerdb.OutcomeIndexSK(at, "ev_1"), "OUTCOME#2025-03-04T04:06:07.000008900Z#ev_1"},
		{"EmailPK", ledgerdb.EmailPK("t1", "ada@example.com"), "TEAM#t1#EMAIL#ada@example.com"},
		{"RecordSK", ledgerdb.RecordSK, "RECORD"},
		{"RecordIndexSK", ledgerdb.RecordIndexSK("ada@example.com"), "RECORD#ada@example.com"},
		{"ContactPK", ledgerdb.ContactPK("t1", "ct_1"), "TEAM#t1#CONTACT#ct_1"},
		{"FailuresSK", ledgerdb.FailuresSK, "FAILURES"},
		{"ErrorsPK", ledgerdb.ErrorsPK("t1"), "TEAM#t1#ERRORS"},
		{"ErrorSK", ledgerdb.ErrorSK("required_field_missing", "ct_1", "ev_1"), "required_field_missing#ct_1#ev_1"},
		{"MembershipPK", ledgerdb.MembershipPK("t1", "seq_1"), "TEAM#t1#SEQ#seq_1"},
		{"MemberSK", ledgerdb.MemberSK("ct_1"), "MEMBER#ct_1"},
		{"MemberIndexSK", ledgerdb.MemberIndexSK("seq_1"), "MEMBER#seq_1"},
		{"ActivityPK", ledgerdb.ActivityPK("t1", "ab12"), "TEAM#t1#ACTIVITY#ab12"},
		{"ActivitySK", ledgerdb.ActivitySK, "TASK"},
		{"ActivityIndexSK", ledgerdb.ActivityIndexSK("ab12"), "ACTIVITY#ab12"},
		{"HeldListPK", ledgerdb.HeldListPK("t1"), "TEAM#t1#HELD"},
		{"HeldListSK", ledgerdb.HeldListSK(k), "seq_1#ct_1"},
		{"HeldPK", ledgerdb.HeldPK("t1", k), "TEAM#t1#HELD#seq_1#ct_1"},
		{"HeldEventSK", ledgerdb.HeldEventSK(at, "ev_1"), "2025-03-04T04:06:07.000008900Z#ev_1"},
		{"TaskFieldsPK", ledgerdb.TaskFieldsPK("t1"), "TEAM#t1#TASK"},
		{"TaskFieldsSK", ledgerdb.TaskFieldsSK, "FIELDS"},
		{"MappingCountSK", ledgerdb.MappingCountSK(event.ObjectLead), "MAPPINGCOUNT#Lead"},
		{"MappingCountAttr", ledgerdb.MappingCountAttr(7), "v0000000007"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q; want %q", c.name, c.got, c.want)
		}
	}
}

// TestKeysSplitBack checks the parsers read back what the builders write,
// and refuse other keys.
func TestKeysSplitBack(t *testing.T) {
	for _, c := range []struct {
		pk            string
		team, contact string
		ok            bool
	}{
		{ledgerdb.ContactPK("t1", "ct_1"), "t1", "ct_1", true},
		{ledgerdb.ErrorsPK("t1"), "", "", false},
		{"CONTACT#ct_1", "", "", false},
	} {
		team, contact, ok := ledgerdb.ContactOf(c.pk)
		if team != c.team || contact != c.contact || ok != c.ok {
			t.Errorf("ContactOf(%q): got %q %q %v; want %q %q %v", c.pk, team, contact, ok, c.team, c.contact, c.ok)
		}
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, c := range []struct {
		sk, id string
		ok     bool
	}{
		{ledgerdb.HeldEventSK(at, "ev_1"), "ev_1", true},
		{"no-separator", "", false},
	} {
		if id, ok := ledgerdb.HeldEventID(c.sk); id != c.id || ok != c.ok {
			t.Errorf("HeldEventID(%q): got %q %v; want %q %v", c.sk, id, ok, c.id, c.ok)
		}
	}
	for _, c := range []struct {
		attr string
		n    int
		ok   bool
	}{
		{ledgerdb.MappingCountAttr(12), 12, true},
		{"mark", 0, false},
		{"vx", 0, false},
	} {
		if n, ok := ledgerdb.MappingCountVersion(c.attr); n != c.n || ok != c.ok {
			t.Errorf("MappingCountVersion(%q): got %d %v; want %d %v", c.attr, n, ok, c.n, c.ok)
		}
	}
}

package main

import "testing"

// TestItemKind classifies one key of each item of docs/tables.md.
func TestItemKind(t *testing.T) {
	claim := map[string]bool{"team_id": true, "email": true, "claim_owner": true, "claim_until": true}
	record := map[string]bool{"team_id": true, "email": true, "sf_id": true, "object": true}
	for _, tc := range []struct {
		pk, sk string
		attrs  map[string]bool // nil: only the key is known
		want   string
	}{
		// ledger
		{"TEAM#t1#SEQ#seq1", "MEMBER#ct1", nil, "member"},
		{"TEAM#t1#EMAIL#person@example.com", "RECORD", record, "record"},
		{"TEAM#t1#EMAIL#person@example.com", "RECORD", nil, "record"},
		{"TEAM#t1#EMAIL#person@example.com", "RECORD", claim, "claim"},
		{"TEAM#t1#EMAIL#odd#name@example.com", "RECORD", claim, "claim"},
		{"TEAM#t1#EMAIL#account:example.com", "RECORD", claim, "account-claim"},
		{"TEAM#t1#EMAIL#account:name:bench co", "RECORD", nil, "account-claim"},
		{"TEAM#t1#EVENT#evt1", "OUTCOME", nil, "outcome"},
		{"TEAM#t1#ERRORS", "duplicates_not_allowed#ct1#evt1", nil, "error-entry"},
		{"TEAM#t1#CONTACT#ct1", "FAILURES", nil, "failures"},
		{"TEAM#t1#CONTACT#ct1", "OUTCOME#evt1", nil, "outcome"},
		{"TEAM#t1#CONTACT#ct1", "MEMBER#seq1", nil, "other"},
		{"TEAM#t1#ACTIVITY#9f86d081884c7d65", "TASK", nil, "activity"},
		{"TEAM#t1#HELD", "seq1#ct1", nil, "held-list"},
		{"TEAM#t1#HELD#seq1#ct1", "2026-01-02T15:04:05.000000000Z#evt1", nil, "held-event"},
		{"TEAM#t1#EMAIL#person@example.com", "OPTOUT", nil, "optout"},
		{"TEAM#t1#EMAIL#person@example.com", "BOUNCE", nil, "bounce"},
		{"TEAM#t1#TASK", "FIELDS", nil, "task-fields"},
		{"TEAM#t1#ERASURE#0123456789abcdef", "RECEIPT", nil, "receipt"},
		{"TEAM#t1", "MAPPINGCOUNT#Lead", nil, "mapping-count"},
		{"TEAM#t1", "HEALTH#2026-01-02", nil, "health-count"},
		// policies
		{"TEAM#t1", "SETTINGS#v0000000001", nil, "settings"},
		{"TEAM#t1", "SETTINGS#HEAD", nil, "settings"},
		{"TEAM#t1#SEQ#seq1", "OVERRIDE#HEAD", nil, "override"},
		{"TEAM#t1", "MAPPING#Lead#v0000000002", nil, "mapping"},
		{"TEAM#t1", "MAPPING#Contact#HEAD", nil, "mapping"},
		{"TEAM#t1", "DESCRIBE#Lead", nil, "describe"},
		{"TEAM#t1", "REP#rep@sales.example", nil, "rep"},
		{"TEAM#t1", "READINESS", nil, "readiness"},
		// connections
		{"TEAM#t1", "CONNECTION", nil, "connection"},
		{"STATE#abc123", "STATE", nil, "state"},
		{"TEAM#t1", "CONSENT#abc123", nil, "consent"},
		{"TEAM#t1", "CALLS#2026-01-02", nil, "calls-day"},
		{"CONSENTS#2026-01-02T15", "1767366245000#abc123", nil, "consent"},
		{"LIMIT#t1#purge", "WINDOW#1767366240", nil, "limit"},
		{"COOLDOWN#t1#retry", "COOLDOWN", nil, "cooldown"},
		{"PURGE#t1", "PURGE", nil, "purge-cursor"},
		// none of the above
		{"TEAM#t1", "SOMETHING", nil, "other"},
		{"TEAM#t1#EVENT#evt1", "OTHER", nil, "other"},
		{"ELSEWHERE", "X", nil, "other"},
		{"", "", nil, "other"},
	} {
		var has func(string) bool
		if tc.attrs != nil {
			has = func(a string) bool { return tc.attrs[a] }
		}
		if got := itemKind(tc.pk, tc.sk, has); got != tc.want {
			t.Errorf("itemKind(%q, %q): %q, want %q", tc.pk, tc.sk, got, tc.want)
		}
	}
}

package policyhttp_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// TestGetSequenceCountsMembers: GET of a sequence with members=true says
// how many contacts were already added to it (they keep the rule they
// were added under), of the claims' team only, for a member as for an
// admin; the PUT's answer keeps members_keeping_previous_rule and no
// members.
func TestGetSequenceCountsMembers(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	path := "/v1/sequences/seq_7/salesforce"
	members := func(r response) any { return r.json(t)["members"] }

	if r := a.do(memberA, "GET", path+"?members=true", seqRoute, "", ""); r.status != 200 || members(r) != 0.0 {
		t.Fatalf("no members yet: got %d %s; want 200 with members 0", r.status, r.body)
	}
	a.addMembers("team_a", "seq_7", 3)
	a.addMembers("team_b", "seq_7", 5) // another team's sequence of the same id
	a.addMembers("team_a", "seq_8", 2) // another sequence of the team
	tests := []struct {
		name   string
		claims *httpapi.Claims
		path   string
		want   float64
	}{
		{"a member of team A", memberA, path + "?members=true", 3},
		{"an admin of team A", adminA, path + "?members=true", 3},
		{"team A naming team B", memberA, path + "?members=true&team_id=team_b", 3},
		{"team B", adminB, path + "?members=true", 5},
	}
	for _, tt := range tests {
		if r := a.do(tt.claims, "GET", tt.path, seqRoute, "", ""); r.status != 200 || members(r) != tt.want {
			t.Errorf("%s: got %d members %v; want 200 with %v", tt.name, r.status, members(r), tt.want)
		}
	}
	r := a.do(adminA, "PUT", path, seqRoute, `"0"`, `{"sync_mode":"on_reply","sync_as":"contact","sync_disabled":false}`)
	if body := r.json(t); r.status != 200 || body["members"] != nil || body["members_keeping_previous_rule"] != 3.0 {
		t.Errorf("PUT: got %d %s; want 200 with members_keeping_previous_rule 3 and no members", r.status, r.body)
	}
}

// TestGetSequenceCountsMembersOnlyWhenAsked: a GET of a sequence without
// members=true answers no members and reads no membership (the count reads
// every membership item of the sequence); a members value other than true
// or false, or given twice, is a 400 naming members, with nothing read.
func TestGetSequenceCountsMembersOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.addMembers("team_a", "seq_7", 3)
	path := "/v1/sequences/seq_7/salesforce"
	tests := []struct {
		name    string
		query   string
		status  int
		members any // nil: absent
		queries int64
	}{
		{"absent", "", 200, nil, 0},
		{"false", "?members=false", 200, nil, 0},
		{"true", "?members=true", 200, 3.0, 1},
		{"a word", "?members=yes", 400, nil, 0},
		{"empty", "?members=", 400, nil, 0},
		{"upper case", "?members=TRUE", 400, nil, 0},
		{"given twice", "?members=true&members=true", 400, nil, 0},
	}
	for _, tt := range tests {
		before := a.ledgerQueries.Load()
		r := a.do(memberA, "GET", path+tt.query, seqRoute, "", "")
		queries := a.ledgerQueries.Load() - before
		if r.status != tt.status || queries != tt.queries {
			t.Errorf("%s: got %d %s after %d ledger queries; want %d after %d", tt.name, r.status, r.body, queries, tt.status, tt.queries)
			continue
		}
		if tt.status == 400 {
			if field, _ := r.errorField(t); field != "members" {
				t.Errorf("%s: got error field %q; want members", tt.name, field)
			}
			continue
		}
		if got := r.json(t)["members"]; got != tt.members {
			t.Errorf("%s: got members %v; want %v", tt.name, got, tt.members)
		}
	}
}

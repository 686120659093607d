package policyhttp_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// TestGetSequenceCountsMembers: GET of a sequence says how many contacts
// were already added to it (they keep the rule they were added under), of
// the claims' team only, for a member as for an admin; the PUT's answer
// keeps members_keeping_previous_rule and no members.
func TestGetSequenceCountsMembers(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	path := "/v1/sequences/seq_7/salesforce"
	members := func(r response) any { return r.json(t)["members"] }

	if r := a.do(memberA, "GET", path, seqRoute, "", ""); r.status != 200 || members(r) != 0.0 {
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
		{"a member of team A", memberA, path, 3},
		{"an admin of team A", adminA, path, 3},
		{"team A naming team B", memberA, path + "?team_id=team_b", 3},
		{"team B", adminB, path, 5},
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

package attribution_test

import (
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/attribution"
)

// reps are the users a lookup found: an active one, an inactive one.
var reps = map[string]attribution.User{
	"rep@acme.com":  {ID: "005REP", Active: true},
	"gone@acme.com": {ID: "005GONE", Active: false},
}

func TestOwnerDecide(t *testing.T) {
	t.Parallel()
	withFallback := attribution.OwnerRules{TeamFallback: "005FB", ConnectedUser: "005CU"}
	connected := attribution.OwnerRules{ConnectedUser: "005CU"}
	rule := func(r attribution.OwnerRules, name policy.OwnerRule) attribution.OwnerRules { r.Rule = name; return r }
	tests := []struct {
		name   string
		rules  attribution.OwnerRules
		lead   bool
		rep    string
		wantID string
		wantBy string
		detail string // in the Detail
	}{
		{"active rep user: the rep", withFallback, false, "rep@acme.com", "005REP", event.OwnerRep, "005REP"},
		{"the rep rule spelled out", rule(withFallback, policy.OwnerRep), false, "rep@acme.com", "005REP", event.OwnerRep, "005REP"},
		{"a Lead under the rep rule: the rep", withFallback, true, "rep@acme.com", "005REP", event.OwnerRep, "005REP"},
		{"inactive rep user: the fallback", withFallback, false, "gone@acme.com", "005FB", event.OwnerFallback, "inactive"},
		{"unknown rep: the fallback", withFallback, false, "new@acme.com", "005FB", event.OwnerFallback, "no Salesforce user"},
		{"no rep: the fallback", withFallback, false, "", "005FB", event.OwnerFallback, "names no rep"},
		{"fallback_only, active rep: the fallback", rule(withFallback, policy.OwnerFallbackOnly), false, "rep@acme.com", "005FB", event.OwnerFallback, "fallback_only"},
		{"fallback_only, a Lead: the fallback", rule(withFallback, policy.OwnerFallbackOnly), true, "rep@acme.com", "005FB", event.OwnerFallback, "fallback_only"},
		{"assignment_rules, a Lead: left to the rules", rule(withFallback, policy.OwnerAssignmentRules), true, "rep@acme.com", "", event.OwnerAssignmentRules, "assignment rules"},
		{"assignment_rules, a Lead with no rep: left to the rules", rule(withFallback, policy.OwnerAssignmentRules), true, "", "", event.OwnerAssignmentRules, "assignment rules"},
		{"assignment_rules, a Contact or Task: the rep", rule(withFallback, policy.OwnerAssignmentRules), false, "rep@acme.com", "005REP", event.OwnerRep, "005REP"},
		{"assignment_rules, a Contact of an unknown rep: the fallback", rule(withFallback, policy.OwnerAssignmentRules), false, "new@acme.com", "005FB", event.OwnerFallback, "005FB"},
		{"no team fallback: the connected user", connected, false, "new@acme.com", "005CU", event.OwnerFallback, "connected user 005CU"},
		{"no team fallback, no rep: the connected user", connected, false, "", "005CU", event.OwnerFallback, "connected user 005CU"},
		{"no team fallback, fallback_only: the connected user", rule(connected, policy.OwnerFallbackOnly), false, "rep@acme.com", "005CU", event.OwnerFallback, "connected user 005CU"},
		{"team fallback named in the detail", withFallback, false, "gone@acme.com", "005FB", event.OwnerFallback, "fallback user 005FB"},
	}
	for _, tt := range tests {
		got := tt.rules.Decide(tt.lead, tt.rep, reps)
		if got.ID != tt.wantID || got.By != tt.wantBy {
			t.Errorf("%s: got %q by %s; want %q by %s", tt.name, got.ID, got.By, tt.wantID, tt.wantBy)
		}
		if !strings.Contains(got.Detail, tt.detail) {
			t.Errorf("%s: detail: got %q; want it to say %q", tt.name, got.Detail, tt.detail)
		}
	}
}

// TestOwnerAutoAssign: an owner set on purpose (rep or fallback) sends
// Sforce-Auto-Assign FALSE, so no rule overwrites it; a Lead left to the
// rules sends TRUE.
func TestOwnerAutoAssign(t *testing.T) {
	t.Parallel()
	rules := attribution.OwnerRules{Rule: policy.OwnerAssignmentRules, TeamFallback: "005FB", ConnectedUser: "005CU"}
	tests := []struct {
		name  string
		owner attribution.Owner
		want  string
	}{
		{"the rep", rules.Decide(false, "rep@acme.com", reps), "FALSE"},
		{"the fallback", rules.Decide(false, "gone@acme.com", reps), "FALSE"},
		{"the rules", rules.Decide(true, "rep@acme.com", reps), "TRUE"},
		{"the inactive's replacement", rules.Inactive(attribution.Owner{ID: "005REP", By: event.OwnerRep}), "FALSE"},
	}
	for _, tt := range tests {
		if got := tt.owner.AutoAssign(); got != tt.want {
			t.Errorf("%s (%+v): got %s; want %s", tt.name, tt.owner, got, tt.want)
		}
	}
}

// TestOwnerInactive: the owner Salesforce refused as inactive is replaced
// by the fallback, saying which user was refused.
func TestOwnerInactive(t *testing.T) {
	t.Parallel()
	was := attribution.Owner{ID: "005REP", By: event.OwnerRep}
	tests := []struct {
		rules  attribution.OwnerRules
		wantID string
	}{
		{attribution.OwnerRules{TeamFallback: "005FB", ConnectedUser: "005CU"}, "005FB"},
		{attribution.OwnerRules{ConnectedUser: "005CU"}, "005CU"},
	}
	for _, tt := range tests {
		got := tt.rules.Inactive(was)
		if got.ID != tt.wantID || got.By != event.OwnerFallback {
			t.Errorf("Inactive with %+v: got %q by %s; want %q by %s", tt.rules, got.ID, got.By, tt.wantID, event.OwnerFallback)
		}
		if !strings.Contains(got.Detail, "005REP") || !strings.Contains(got.Detail, "inactive") {
			t.Errorf("Inactive: detail %q; want it to name the refused user 005REP as inactive", got.Detail)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"ann@acme.com", "ann@acme.com"},
		{" Ann@ACME.com\t", "ann@acme.com"},
		{"", ""},
	} {
		if got := attribution.NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

package attribution

import (
	"fmt"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"strings"
)

// OwnerRules is what a team decided about owners.
type OwnerRules struct {
	Rule policy.OwnerRule // "" is policy.OwnerRep
	// TeamFallback is the team's fallback user id; "" means the connected
	// user, ConnectedUser.
	TeamFallback  string
	ConnectedUser string
}

// Owner is who a new record or Task is given to, and why.
type Owner struct {
	ID     string // the OwnerId to send; "" leaves it to the org's assignment rules
	By     string // event.OwnerRep, event.OwnerFallback or event.OwnerAssignmentRules
	Detail string
}

// AutoAssign is the Sforce-Auto-Assign header a create of a record with
// this owner sends: an owner set on purpose is never overwritten by an
// assignment rule (FALSE); one left to the rules lets them run (TRUE).
func (o Owner) AutoAssign() string {
	if o.By == event.OwnerAssignmentRules {
		return "TRUE"
	}
	return "FALSE"
}

// needsRep reports whether the subject's owner may be its rep's user, so
// the rep is worth looking up: not under fallback_only, nor for a Lead the
// assignment rules take (a Contact that may become a Lead is looked up).
func (r OwnerRules) needsRep(s Subject) bool {
	switch r.Rule {
	case policy.OwnerFallbackOnly:
		return false
	case policy.OwnerAssignmentRules:
		return !s.Lead || s.Contact != nil
	}
	return true
}

// fallback is the rules' fallback owner, with why it was chosen.
func (r OwnerRules) fallback(why string) Owner {
	if r.TeamFallback != "" {
		return Owner{ID: r.TeamFallback, By: event.OwnerFallback, Detail: why + "; the team's fallback user " + r.TeamFallback}
	}
	return Owner{ID: r.ConnectedUser, By: event.OwnerFallback, Detail: why + "; the connected user " + r.ConnectedUser}
}

// Decide gives the owner of a new record of a lead (or not) to a rep
// (normalized email, "" when the event names no rep), from the users found
// for the batch's reps.
func (r OwnerRules) Decide(lead bool, repEmail string, users map[string]User) Owner {
	switch {
	case r.Rule == policy.OwnerFallbackOnly:
		return r.fallback("the team's owner rule is fallback_only")
	case r.Rule == policy.OwnerAssignmentRules && lead:
		return Owner{By: event.OwnerAssignmentRules, Detail: "a Lead: left to the org's lead assignment rules"}
	case repEmail == "":
		return r.fallback("the event names no rep")
	}
	u, ok := users[repEmail]
	switch {
	case !ok:
		return r.fallback(fmt.Sprintf("no Salesforce user has the rep's email %s", repEmail))
	case !u.Active:
		return r.fallback(fmt.Sprintf("the rep's Salesforce user %s is inactive", u.ID))
	}
	return Owner{ID: u.ID, By: event.OwnerRep, Detail: fmt.Sprintf("the rep %s is the active Salesforce user %s", repEmail, u.ID)}
}

// Inactive is the owner that replaces one Salesforce refused as inactive:
// the fallback, saying so.
func (r OwnerRules) Inactive(was Owner) Owner {
	return r.fallback(fmt.Sprintf("Salesforce refused the rep's user %s as inactive", was.ID))
}

// NormalizeEmail is the form rep emails are matched and kept in.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

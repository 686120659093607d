// Package attribution decides who owns what the service creates in a team's
// Salesforce org, and which Account a new Contact belongs to: the rep's
// active Salesforce user (matched by email), else the team's fallback user;
// the Account whose website has the contact's email domain (or whose name
// is the contact's company), else the team's fallback (create the Account,
// sync a Lead instead, or leave the Contact private).
//
// It knows nothing of Salesforce's wire format or of DynamoDB: Directory is
// what it asks the org, UserStore where it keeps what it learned of reps.
package attribution

import (
	"context"
	"time"
)

// User is a Salesforce user a rep's email matched.
type User struct {
	ID     string
	Active bool
}

// Account is a Salesforce Account a lookup found.
type Account struct {
	ID      string
	Name    string
	Website string
	Created time.Time
}

// Query is what a batch needs to know of the org, asked at once: the users
// of these (normalized) rep emails, the Accounts whose Website contains one
// of these domains, and those named one of these names.
type Query struct {
	RepEmails []string
	Domains   []string
	Names     []string
}

// Found is the org's answer to a Query. Users is keyed by normalized email;
// an email with no user is absent. Accounts may hold Accounts whose
// website only contains a domain: the matcher keeps exact ones.
type Found struct {
	Users    map[string]User
	Accounts []Account
}

// Directory is the team's org, as attribution asks it.
type Directory interface {
	// Look answers q in as few API calls as Salesforce allows.
	Look(ctx context.Context, q Query) (Found, error)
	// ContactCounts counts, for each of the Accounts, its Contacts whose
	// email is at each of the domains: account id -> domain -> count.
	ContactCounts(ctx context.Context, accountIDs, domains []string) (map[string]map[string]int, error)
}

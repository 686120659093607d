package attribution

import (
	"cmp"
	"fmt"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"slices"
	"strings"
)

// AccountRules is what a team decided about Accounts.
type AccountRules struct {
	Matching policy.AccountMatching // "" is policy.AccountMatchDomain
	Fallback policy.AccountFallback // "" is policy.AccountFallbackCreate
	FreeMail []string               // the team's free-mail domains, besides the shipped list
}

// Contact is what the Account decision reads of a contact.
type Contact struct {
	Email   string
	Website string
	Company string
}

// NewAccount is an Account to create for contacts no Account matched. Key
// is the same for every contact of one company (its domain, else its
// name, lower-cased), so one batch creates it once.
type NewAccount struct {
	Key     string
	Name    string
	Website string
}

// AccountChoice is the Account a new Contact goes under, and why.
type AccountChoice struct {
	ID     string      // the AccountId; "" for a new Account (New), or none
	By     string      // event.AccountDomain, event.AccountName, event.AccountCreated, event.AccountPrivate or event.AccountNone
	Detail string      // what matched, or why nothing did
	New    *NewAccount // the Account to create first (By event.AccountCreated)
	AsLead bool        // no Account: the contact syncs as a Lead instead
}

// domainOf is the contact's business domain: its email's, else its
// website's; "" when both are free mail or absent.
func (r AccountRules) domainOf(c Contact) string {
	for _, d := range []string{EmailDomain(c.Email), NormalizeDomain(c.Website)} {
		if d != "" && !FreeMail(d, r.FreeMail) {
			return d
		}
	}
	return ""
}

// wants is what the lookup must ask for the contact: a domain, or a name
// (matching by name, or by domain for a contact with none).
func (r AccountRules) wants(c Contact) (domain, name string) {
	switch r.Matching {
	case policy.AccountMatchNone:
		return "", ""
	case policy.AccountMatchName:
		return "", strings.TrimSpace(c.Company)
	}
	if d := r.domainOf(c); d != "" {
		return d, ""
	}
	// No business domain: the company's name finds the Account a contact
	// like this one was given before (see fallback).
	return "", strings.TrimSpace(c.Company)
}

// accountIndex is the batch's Accounts by exact normalized website domain
// and by lower-cased name, and the Contact counts of ambiguous domains.
type accountIndex struct {
	byDomain map[string][]Account
	byName   map[string][]Account
	counts   map[string]map[string]int // account id -> domain -> contacts
}

func indexAccounts(accts []Account) accountIndex {
	ix := accountIndex{byDomain: map[string][]Account{}, byName: map[string][]Account{}}
	seen := map[string]bool{}
	for _, a := range accts {
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		if d := NormalizeDomain(a.Website); d != "" {
			ix.byDomain[d] = append(ix.byDomain[d], a)
		}
		if n := strings.ToLower(strings.TrimSpace(a.Name)); n != "" {
			ix.byName[n] = append(ix.byName[n], a)
		}
	}
	return ix
}

// ambiguous returns the ids of the Accounts of domains several Accounts
// share, and those domains: what ContactCounts must count.
func (ix accountIndex) ambiguous(domains []string) (ids, ds []string) {
	for _, d := range domains {
		if as := ix.byDomain[d]; len(as) > 1 {
			ds = append(ds, d)
			for _, a := range as {
				ids = append(ids, a.ID)
			}
		}
	}
	return ids, ds
}

// oldest orders Accounts oldest first, then by id, so a choice is stable.
func oldest(a, b Account) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// choose picks among the Accounts of one domain: the one with the most
// Contacts at the domain, then the oldest.
func (ix accountIndex) choose(domain string, as []Account) (Account, string) {
	if len(as) == 1 {
		return as[0], fmt.Sprintf("%s is the website of Account %s (%s)", domain, as[0].ID, as[0].Website)
	}
	ranked := slices.Clone(as)
	slices.SortFunc(ranked, func(a, b Account) int {
		if c := cmp.Compare(ix.counts[b.ID][domain], ix.counts[a.ID][domain]); c != 0 {
			return c
		}
		return oldest(a, b)
	})
	best, next := ranked[0], ranked[1]
	why := "the oldest"
	if n := ix.counts[best.ID][domain]; n > ix.counts[next.ID][domain] {
		why = fmt.Sprintf("the most Contacts at %s (%d, against %d)", domain, n, ix.counts[next.ID][domain])
	} else if n > 0 {
		why = fmt.Sprintf("as many Contacts at %s as another (%d), and the oldest", domain, n)
	}
	return best, fmt.Sprintf("%s is the website of %d Accounts; %s has %s", domain, len(as), best.ID, why)
}

// Choose decides the Account of a new Contact from the batch's index.
func (r AccountRules) choose(c Contact, ix accountIndex) AccountChoice {
	domain, name := r.wants(c)
	switch {
	case r.Matching == policy.AccountMatchNone:
		return AccountChoice{By: event.AccountNone, Detail: "the team's account matching is none: no Account"}
	case domain != "":
		if as := ix.byDomain[domain]; len(as) > 0 {
			a, why := ix.choose(domain, as)
			return AccountChoice{ID: a.ID, By: event.AccountDomain, Detail: why}
		}
		return r.fallback(c, domain, "no Account's website is "+domain)
	case name != "":
		if as := ix.byName[strings.ToLower(name)]; len(as) > 0 {
			slices.SortFunc(as, oldest)
			why := fmt.Sprintf("Account %s is named %q", as[0].ID, as[0].Name)
			if len(as) > 1 {
				why += fmt.Sprintf(", the oldest of %d with that name", len(as))
			}
			return AccountChoice{ID: as[0].ID, By: event.AccountName, Detail: why}
		}
		return r.fallback(c, r.domainOf(c), fmt.Sprintf("no Account is named %q", name))
	case r.Matching == policy.AccountMatchName:
		return r.fallback(c, r.domainOf(c), "the contact has no company")
	}
	return r.fallback(c, "", "the contact's email and website are free mail or absent")
}

// fallback is the choice when no Account matched: create one (named after
// the company, else the domain), sync as a Lead, or leave it private.
func (r AccountRules) fallback(c Contact, domain, why string) AccountChoice {
	switch r.Fallback {
	case policy.AccountFallbackLead:
		return AccountChoice{By: event.AccountNone, AsLead: true, Detail: why + "; synced as a Lead (account_fallback lead)"}
	case policy.AccountFallbackPrivate:
		return AccountChoice{By: event.AccountPrivate, Detail: why + "; created without an Account (account_fallback private)"}
	}
	company := strings.TrimSpace(c.Company)
	key := domain
	if key == "" {
		key = "name:" + strings.ToLower(company)
	}
	name := company
	if name == "" {
		name = domain
	}
	if name == "" {
		return AccountChoice{By: event.AccountPrivate, Detail: why + "; no company or business domain to name a new Account: created without one"}
	}
	return AccountChoice{By: event.AccountCreated, New: &NewAccount{Key: key, Name: name, Website: domain},
		Detail: why + fmt.Sprintf("; a new Account %q was created (account_fallback create)", name)}
}

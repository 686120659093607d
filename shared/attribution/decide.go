package attribution

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Subject is one new record (or Task) of a batch to attribute.
type Subject struct {
	Lead bool   // a Lead (assignment rules apply to Leads only)
	Rep  string // the rep's normalized email; "" when the event names none
	// Contact, when set, is a new Contact: its Account is decided too.
	Contact *Contact
}

// Decision is a subject's owner and, for a Contact, its Account. When the
// Account's fallback makes the contact a Lead, Account.AsLead is set and
// Owner is decided for a Lead.
type Decision struct {
	Owner   Owner
	Account *AccountChoice
}

// Batch decides the owners and Accounts of one team's batch.
type Batch struct {
	Team string
	// Since is when the team connected its org: what was learned of its
	// reps before is of another connection, maybe another org.
	Since    time.Time
	Owners   OwnerRules
	Accounts AccountRules
	Users    *Users
}

// Decide attributes the subjects with one lookup of the org for the reps
// not known yet and the Accounts the Contacts need, and, when a domain is
// the website of several Accounts, one count of their Contacts.
func (b Batch) Decide(ctx context.Context, dir Directory, subjects []Subject) ([]Decision, error) {
	if b.Users == nil {
		b.Users = &Users{}
	}
	q, users := b.query(ctx, subjects)
	found := Found{Users: map[string]User{}}
	if len(q.RepEmails)+len(q.Domains)+len(q.Names) > 0 {
		var err error
		if found, err = dir.Look(ctx, q); err != nil {
			return nil, fmt.Errorf("look up reps and accounts: %w", err)
		}
		b.Users.Learned(ctx, b.Team, q.RepEmails, found.Users)
	}
	for e, u := range found.Users {
		users[e] = u
	}
	ix := indexAccounts(found.Accounts)
	if ids, ds := ix.ambiguous(q.Domains); len(ids) > 0 {
		counts, err := dir.ContactCounts(ctx, ids, ds)
		if err != nil {
			return nil, fmt.Errorf("count contacts of accounts: %w", err)
		}
		ix.counts = counts
	}
	out := make([]Decision, len(subjects))
	for i, s := range subjects {
		lead := s.Lead
		if s.Contact != nil {
			a := b.Accounts.choose(*s.Contact, ix)
			out[i].Account = &a
			lead = a.AsLead
		}
		out[i].Owner = b.Owners.Decide(lead, s.Rep, users)
	}
	return oneNewAccountPerCompany(out), nil
}

// oneNewAccountPerCompany gives a contact whose new Account is keyed by
// its company's name (no business domain: free mail, say) the new Account
// of a batch-mate of the same company that has a domain, so one batch
// never makes two Accounts named alike.
func oneNewAccountPerCompany(ds []Decision) []Decision {
	byName := map[string]*NewAccount{}
	for _, d := range ds {
		if n := newOf(d); n != nil && n.Website != "" {
			if _, ok := byName[strings.ToLower(n.Name)]; !ok {
				byName[strings.ToLower(n.Name)] = n
			}
		}
	}
	for i, d := range ds {
		if n := newOf(d); n != nil && n.Website == "" {
			if same, ok := byName[strings.ToLower(n.Name)]; ok {
				c := *d.Account
				c.New = same
				ds[i].Account = &c
			}
		}
	}
	return ds
}

func newOf(d Decision) *NewAccount {
	if d.Account == nil {
		return nil
	}
	return d.Account.New
}

// query is what the batch must ask the org, and the users already known.
func (b Batch) query(ctx context.Context, subjects []Subject) (Query, map[string]User) {
	var reps []string
	domains, names := map[string]bool{}, map[string]bool{}
	var q Query
	for _, s := range subjects {
		if s.Rep != "" && b.Owners.needsRep(s) {
			reps = append(reps, s.Rep)
		}
		if s.Contact == nil {
			continue
		}
		d, n := b.Accounts.wants(*s.Contact)
		if d != "" && !domains[d] {
			domains[d] = true
			q.Domains = append(q.Domains, d)
		}
		if n != "" && !names[strings.ToLower(n)] {
			names[strings.ToLower(n)] = true
			q.Names = append(q.Names, n)
		}
	}
	var users map[string]User
	q.RepEmails, users = b.Users.UnknownSince(ctx, b.Team, b.Since, reps)
	return q, users
}

package orgtest

import (
	"context"
	"slices"
	"testing"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func init() {
	cases = append(cases, []struct {
		name  string
		check func(t *testing.T, s Subject)
	}{
		{"reps' users are found by email, an active one first", usersByEmail},
		{"Accounts are found by website and by name", accountsFound},
		{"Contacts of Accounts are counted by email domain", contactsCounted},
		{"an unknown or inactive owner refuses its record alone", ownersChecked},
	}...)
}

// usersByEmail: Look finds each rep's user whatever the letter case, says
// whether it is active, prefers an active user to an inactive one with the
// same email, and finds nothing for an email no user has.
func usersByEmail(t *testing.T, s Subject) {
	ada := s.Seed(t, User, map[string]any{"LastName": "Lovelace", "Email": "Ada@Example.com", "Username": "ada@example.com.org", "IsActive": true})
	s.Seed(t, User, map[string]any{"LastName": "Old", "Email": "grace@example.com", "Username": "grace.old@example.com.org", "IsActive": false})
	grace := s.Seed(t, User, map[string]any{"LastName": "Hopper", "Email": "grace@example.com", "Username": "grace@example.com.org", "IsActive": true})
	gone := s.Seed(t, User, map[string]any{"LastName": "Gone", "Email": "gone@example.com", "Username": "gone@example.com.org", "IsActive": false})
	// A partner user is never a rep's user, whatever its email.
	s.Seed(t, User, map[string]any{"LastName": "Partner", "Email": "partner@example.com", "Username": "partner@example.com.org", "IsActive": true, "UserType": "PowerPartner"})
	found, err := s.Contacts(t).Look(context.Background(), attribution.Query{RepEmails: []string{"ada@example.com", "grace@example.com", "gone@example.com", "nobody@example.com", "partner@example.com"}})
	if err != nil {
		t.Fatalf("Look: %v", err)
	}
	want := map[string]attribution.User{"ada@example.com": {ID: ada, Active: true}, "grace@example.com": {ID: grace, Active: true}, "gone@example.com": {ID: gone}}
	if len(found.Users) != len(want) {
		t.Errorf("users: got %v; want %v", found.Users, want)
	}
	for e, w := range want {
		if u := found.Users[e]; !sameID(u.ID, w.ID) || u.Active != w.Active {
			t.Errorf("user of %s: got %+v; want %+v", e, u, w)
		}
	}
}

// accountsFound: Look returns the Accounts whose Website contains a domain
// (the matcher keeps exact ones) and those named one of the names, in any
// letter case, and no other.
func accountsFound(t *testing.T, s Subject) {
	acme := s.Seed(t, Account, map[string]any{"Name": "Acme", "Website": "https://www.ACME.com/about"})
	globex := s.Seed(t, Account, map[string]any{"Name": "Globex Corporation", "Website": "globex.example"})
	s.Seed(t, Account, map[string]any{"Name": "Initech", "Website": "initech.example"})
	found, err := s.Contacts(t).Look(context.Background(), attribution.Query{Domains: []string{"acme.com"}, Names: []string{"globex corporation"}})
	if err != nil {
		t.Fatalf("Look: %v", err)
	}
	var ids []string
	for _, a := range found.Accounts {
		ids = append(ids, a.ID[:15])
	}
	slices.Sort(ids)
	want := []string{acme[:15], globex[:15]}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("accounts: got %v; want %v", ids, want)
	}
}

// contactsCounted: ContactCounts counts each Account's Contacts at each
// domain asked, and no other Contact.
func contactsCounted(t *testing.T, s Subject) {
	a := s.Seed(t, Account, map[string]any{"Name": "Acme One", "Website": "acme.com"})
	b := s.Seed(t, Account, map[string]any{"Name": "Acme Two", "Website": "acme.com"})
	for _, c := range []struct{ email, account string }{
		{"x@acme.com", a}, {"y@ACME.com", a}, {"z@other.example", a}, {"w@acme.com", b},
	} {
		s.Seed(t, Contact, map[string]any{"LastName": "C", "Email": c.email, "AccountId": c.account})
	}
	counts, err := s.Contacts(t).ContactCounts(context.Background(), []string{a, b}, []string{"acme.com"})
	if err != nil {
		t.Fatalf("ContactCounts: %v", err)
	}
	got := map[string]int{}
	for id, byDomain := range counts {
		got[id[:15]] = byDomain["acme.com"]
	}
	if got[a[:15]] != 2 || got[b[:15]] != 1 || len(got) != 2 {
		t.Errorf("counts: got %v; want %s: 2, %s: 1", got, a[:15], b[:15])
	}
}

// ownersChecked: a record whose OwnerId is no user fails with
// INVALID_CROSS_REFERENCE_KEY, one owned by an inactive user with
// INACTIVE_OWNER_OR_USER, each alone; the one owned by an active user is
// created.
func ownersChecked(t *testing.T, s Subject) {
	active := s.Seed(t, User, map[string]any{"LastName": "On", "Email": "on@example.com", "Username": "on@example.com.org", "IsActive": true})
	inactive := s.Seed(t, User, map[string]any{"LastName": "Off", "Email": "off@example.com", "Username": "off@example.com.org", "IsActive": false})
	lead := func(owner string) salesforce.SObject {
		r := salesforce.NewSObject("Lead")
		r["LastName"], r["Company"], r["OwnerId"] = "L "+owner, "C "+owner, owner
		return r
	}
	res, err := s.Contacts(t).Create(context.Background(), []salesforce.SObject{lead(active), lead(inactive), lead("005000000000999AAA")},
		salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !res[0].Success {
		t.Errorf("active owner: got %+v; want created", res[0])
	}
	if res[1].Success || !hasError(res[1], salesforce.CodeInactiveOwnerOrUser) {
		t.Errorf("inactive owner: got %+v; want %s", res[1], salesforce.CodeInactiveOwnerOrUser)
	}
	if res[2].Success || !hasError(res[2], "INVALID_CROSS_REFERENCE_KEY") {
		t.Errorf("unknown owner: got %+v; want INVALID_CROSS_REFERENCE_KEY", res[2])
	}
}

func hasError(r salesforce.SaveResult, code string) bool {
	for _, e := range r.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

package attribution_test

import (
	"context"
	"errors"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
)

var (
	u1 = attribution.User{ID: "005U1", Active: true}
	u2 = attribution.User{ID: "005U2", Active: true}
)

// owners are the rules of most batches: the rep, else the team's fallback.
var owners = attribution.OwnerRules{TeamFallback: "005FB", ConnectedUser: "005CU"}

func account(id, name, website string, age time.Duration) attribution.Account {
	return attribution.Account{ID: id, Name: name, Website: website, Created: t0.Add(-age)}
}

func contact(email, website, company string) *attribution.Contact {
	return &attribution.Contact{Email: email, Website: website, Company: company}
}

func newBatch(accounts attribution.AccountRules) attribution.Batch {
	clk := newClock()
	return attribution.Batch{Team: "team_a", Owners: owners, Accounts: accounts,
		Users: &attribution.Users{Store: newStore(), TTL: time.Hour, Now: clk.Now, Log: quiet}}
}

func decide(t *testing.T, b attribution.Batch, dir *directory, subjects []attribution.Subject) []attribution.Decision {
	t.Helper()
	got, err := b.Decide(context.Background(), dir, subjects)
	if err != nil {
		t.Fatalf("Decide: got error %v; want none", err)
	}
	if len(got) != len(subjects) {
		t.Fatalf("Decide: got %d decisions for %d subjects", len(got), len(subjects))
	}
	return got
}

// TestBatchOneLookup: a batch of many subjects asks the org once: the
// reps (each once), the business domains (each once; free mail never),
// and the decisions follow from that one answer. The next batch asks
// nothing of the reps learned, those with no user included.
func TestBatchOneLookup(t *testing.T) {
	t.Parallel()
	dir := &directory{
		users: map[string]attribution.User{"rep1@seller.io": u1, "rep2@seller.io": u2},
		accounts: []attribution.Account{
			account("001ACME", "Acme", "acme.com", time.Hour),
			account("001BETA", "Beta", "https://www.beta.io/", time.Hour),
			account("001GAMMA", "Gamma", "gamma.org", time.Hour),
		},
	}
	b := newBatch(attribution.AccountRules{})
	subjects := []attribution.Subject{
		{Rep: "rep1@seller.io", Contact: contact("ann@acme.com", "", "Acme")},
		{Rep: "rep2@seller.io", Contact: contact("bob@acme.com", "", "")},
		{Rep: "rep1@seller.io", Contact: contact("cy@beta.io", "acme.com", "")},
		{Rep: "rep3@seller.io", Contact: contact("dee@gmail.com", "", "Dee Co")},
		{Rep: "rep2@seller.io", Lead: true},
		{Rep: ""},
		{Rep: "rep1@seller.io", Contact: contact("eve@yahoo.com", "https://www.gamma.org/x", "")},
		{Contact: contact("fay@hotmail.com", "gmail.com", "")},
	}
	got := decide(t, b, dir, subjects)

	if len(dir.looks) != 1 {
		t.Fatalf("Look: got %d calls; want 1", len(dir.looks))
	}
	q := dir.looks[0]
	if want := []string{"rep1@seller.io", "rep2@seller.io", "rep3@seller.io"}; !reflect.DeepEqual(sorted(q.RepEmails), want) {
		t.Errorf("Look reps: got %q; want %q", q.RepEmails, want)
	}
	if want := []string{"acme.com", "beta.io", "gamma.org"}; !reflect.DeepEqual(sorted(q.Domains), want) {
		t.Errorf("Look domains: got %q; want %q (no free mail, each once)", q.Domains, want)
	}
	// Under domain matching, a contact with no business domain is looked
	// up by its company's name: dee's Dee Co; fay has no company.
	if want := []string{"Dee Co"}; !reflect.DeepEqual(q.Names, want) {
		t.Errorf("Look names: got %q; want %q", q.Names, want)
	}
	if len(dir.countCalls) != 0 {
		t.Errorf("ContactCounts: got %d calls; want 0 (no domain has two Accounts)", len(dir.countCalls))
	}

	want := []struct {
		owner, ownerBy string
		account, by    string
	}{
		{"005U1", event.OwnerRep, "001ACME", event.AccountDomain},
		{"005U2", event.OwnerRep, "001ACME", event.AccountDomain},
		{"005U1", event.OwnerRep, "001BETA", event.AccountDomain},
		{"005FB", event.OwnerFallback, "", event.AccountCreated},
		{"005U2", event.OwnerRep, "", ""},
		{"005FB", event.OwnerFallback, "", ""},
		{"005U1", event.OwnerRep, "001GAMMA", event.AccountDomain},
		{"005FB", event.OwnerFallback, "", event.AccountPrivate},
	}
	for i, w := range want {
		d := got[i]
		if d.Owner.ID != w.owner || d.Owner.By != w.ownerBy {
			t.Errorf("subject %d: owner: got %q by %s; want %q by %s", i, d.Owner.ID, d.Owner.By, w.owner, w.ownerBy)
		}
		switch {
		case w.by == "" && d.Account != nil:
			t.Errorf("subject %d: account: got %+v; want none (not a Contact)", i, *d.Account)
		case w.by != "" && d.Account == nil:
			t.Errorf("subject %d: account: got none; want %q by %s", i, w.account, w.by)
		case w.by != "" && (d.Account.ID != w.account || d.Account.By != w.by):
			t.Errorf("subject %d: account: got %q by %s; want %q by %s", i, d.Account.ID, d.Account.By, w.account, w.by)
		}
	}
	if n := got[3].Account.New; n == nil || *n != (attribution.NewAccount{Key: "name:dee co", Name: "Dee Co"}) {
		t.Errorf("subject 3: new account: got %+v; want Dee Co keyed by its name", n)
	}

	// The reps are known now, rep3 as having no user: no lookup.
	again := decide(t, b, dir, []attribution.Subject{{Rep: "rep1@seller.io"}, {Rep: "rep3@seller.io", Lead: true}})
	if len(dir.looks) != 1 {
		t.Errorf("second batch: got %d more Look calls (%+v); want 0", len(dir.looks)-1, dir.looks[1:])
	}
	if again[0].Owner.ID != "005U1" || again[1].Owner.ID != "005FB" {
		t.Errorf("second batch: got owners %q, %q; want 005U1, 005FB", again[0].Owner.ID, again[1].Owner.ID)
	}
}

// TestBatchAsksOnlyWhatItNeeds: the lookup asks only reps not known yet;
// under name matching it asks each company once, whatever its case.
func TestBatchAsksOnlyWhatItNeeds(t *testing.T) {
	t.Parallel()
	dir := &directory{users: map[string]attribution.User{"rep1@seller.io": u1, "rep2@seller.io": u2}}
	b := newBatch(attribution.AccountRules{Matching: policy.AccountMatchName})
	b.Users.Learned(context.Background(), "team_a", []string{"rep1@seller.io"}, map[string]attribution.User{"rep1@seller.io": u1})
	decide(t, b, dir, []attribution.Subject{
		{Rep: "rep1@seller.io", Contact: contact("ann@acme.com", "", "Acme")},
		{Rep: "rep2@seller.io", Contact: contact("bob@acme.com", "", "ACME")},
		{Rep: "rep2@seller.io", Contact: contact("cy@acme.com", "", " acme ")},
		{Rep: "rep1@seller.io", Contact: contact("dee@beta.io", "", "Beta")},
		{Rep: "rep1@seller.io", Contact: contact("eve@gamma.org", "", "")},
	})
	if len(dir.looks) != 1 {
		t.Fatalf("Look: got %d calls; want 1", len(dir.looks))
	}
	q := dir.looks[0]
	if want := []string{"rep2@seller.io"}; !reflect.DeepEqual(q.RepEmails, want) {
		t.Errorf("Look reps: got %q; want %q (rep1 is known)", q.RepEmails, want)
	}
	if len(q.Names) != 2 || !strings.EqualFold(sorted(q.Names)[0], "acme") || sorted(q.Names)[1] != "Beta" {
		t.Errorf("Look names: got %q; want Acme (once) and Beta", q.Names)
	}
	if len(q.Domains) != 0 {
		t.Errorf("Look domains: got %q; want none under name matching", q.Domains)
	}
}

// TestBatchNoLookup: a batch that knows its reps and needs no Account asks
// the org nothing.
func TestBatchNoLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		owners   attribution.OwnerRules
		accounts attribution.AccountRules
		subjects []attribution.Subject
		owner    []string
	}{
		{"known reps, Leads and Tasks", owners, attribution.AccountRules{},
			[]attribution.Subject{{Rep: "rep1@seller.io", Lead: true}, {Rep: "rep1@seller.io"}, {Rep: "none@seller.io"}, {}},
			[]string{"005U1", "005U1", "005FB", "005FB"}},
		{"fallback_only: reps are not asked", attribution.OwnerRules{Rule: policy.OwnerFallbackOnly, TeamFallback: "005FB"}, attribution.AccountRules{},
			[]attribution.Subject{{Rep: "new1@seller.io"}, {Rep: "new2@seller.io", Lead: true}},
			[]string{"005FB", "005FB"}},
		{"matching none", owners, attribution.AccountRules{Matching: policy.AccountMatchNone},
			[]attribution.Subject{{Rep: "rep1@seller.io", Contact: contact("ann@acme.com", "acme.com", "Acme")}},
			[]string{"005U1"}},
		{"only free mail and no website or company", owners, attribution.AccountRules{FreeMail: []string{"corp-mail.net"}},
			[]attribution.Subject{{Contact: contact("ann@gmail.com", "", " ")}, {Contact: contact("bob@corp-mail.net", "hotmail.com", "")}},
			[]string{"005FB", "005FB"}},
		{"name matching, no company", owners, attribution.AccountRules{Matching: policy.AccountMatchName},
			[]attribution.Subject{{Rep: "rep1@seller.io", Contact: contact("ann@acme.com", "acme.com", "  ")}},
			[]string{"005U1"}},
		{"assignment_rules: a new rep of a Lead is not asked", attribution.OwnerRules{Rule: policy.OwnerAssignmentRules, TeamFallback: "005FB"}, attribution.AccountRules{},
			[]attribution.Subject{{Rep: "new1@seller.io", Lead: true}},
			[]string{""}},
		{"nothing", owners, attribution.AccountRules{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := &directory{users: map[string]attribution.User{"rep1@seller.io": u1, "new1@seller.io": u2}}
			b := newBatch(tt.accounts)
			b.Owners = tt.owners
			b.Users.Learned(context.Background(), "team_a", []string{"rep1@seller.io", "none@seller.io"}, map[string]attribution.User{"rep1@seller.io": u1})
			got := decide(t, b, dir, tt.subjects)
			if len(dir.looks)+len(dir.countCalls) != 0 {
				t.Errorf("got %d Look and %d ContactCounts calls (%+v); want none", len(dir.looks), len(dir.countCalls), dir.looks)
			}
			for i, d := range got {
				if d.Owner.ID != tt.owner[i] {
					t.Errorf("subject %d: owner: got %q (%s); want %q", i, d.Owner.ID, d.Owner.Detail, tt.owner[i])
				}
			}
		})
	}
}

// TestBatchContactCounts: Contacts are counted, in one call for the batch,
// only when a domain is the website of several Accounts, and only for
// those Accounts and domains.
func TestBatchContactCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		accounts []attribution.Account
		counts   int // calls
		ids      []string
		domains  []string
	}{
		{"one Account a domain: no count", []attribution.Account{
			account("001A", "Acme", "acme.com", time.Hour), account("001B", "Beta", "beta.io", time.Hour)}, 0, nil, nil},
		{"one Account found twice is one", []attribution.Account{
			account("001A", "Acme", "acme.com", time.Hour), account("001A", "Acme", "acme.com", time.Hour)}, 0, nil, nil},
		{"an Account only containing the domain does not make it ambiguous", []attribution.Account{
			account("001A", "Acme", "acme.com", time.Hour), account("001X", "Not Acme", "notacme.com", time.Hour)}, 0, nil, nil},
		{"two Accounts of acme.com", []attribution.Account{
			account("001A", "Acme", "acme.com", time.Hour), account("001A2", "Acme EU", "https://www.acme.com/eu", time.Hour),
			account("001B", "Beta", "beta.io", time.Hour)}, 1, []string{"001A", "001A2"}, []string{"acme.com"}},
		{"two ambiguous domains: one call", []attribution.Account{
			account("001A", "Acme", "acme.com", time.Hour), account("001A2", "Acme EU", "acme.com", time.Hour),
			account("001B", "Beta", "beta.io", time.Hour), account("001B2", "Beta 2", "http://beta.io", time.Hour)},
			1, []string{"001A", "001A2", "001B", "001B2"}, []string{"acme.com", "beta.io"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := &directory{accounts: tt.accounts}
			decide(t, newBatch(attribution.AccountRules{}), dir, []attribution.Subject{
				{Contact: contact("ann@acme.com", "", "")}, {Contact: contact("bob@acme.com", "", "")}, {Contact: contact("cy@beta.io", "", "")},
			})
			if len(dir.countCalls) != tt.counts {
				t.Fatalf("ContactCounts: got %d calls; want %d", len(dir.countCalls), tt.counts)
			}
			if tt.counts == 0 {
				return
			}
			c := dir.countCalls[0]
			if !reflect.DeepEqual(sorted(c.ids), tt.ids) || !reflect.DeepEqual(sorted(c.domains), tt.domains) {
				t.Errorf("ContactCounts: got %q, %q; want %q, %q", c.ids, c.domains, tt.ids, tt.domains)
			}
		})
	}
}

// TestBatchAccount: the Account of one new Contact.
func TestBatchAccount(t *testing.T) {
	t.Parallel()
	acme := account("001ACME", "Acme", "acme.com", 24*time.Hour)
	byDomain := attribution.AccountRules{}
	byName := attribution.AccountRules{Matching: policy.AccountMatchName}
	newAcme := &attribution.NewAccount{Key: "acme.com", Name: "Acme", Website: "acme.com"}
	tests := []struct {
		name     string
		rules    attribution.AccountRules
		accounts []attribution.Account
		counts   map[string]map[string]int
		contact  *attribution.Contact
		wantID   string
		wantBy   string
		wantNew  *attribution.NewAccount
		wantLead bool
		looks    int
	}{
		{"website with www. and a path", byDomain, []attribution.Account{account("001A", "Acme", "https://www.acme.com/about", time.Hour)},
			nil, contact("ann@acme.com", "", "Acme"), "001A", event.AccountDomain, nil, false, 1},
		{"website with a scheme, port and capitals", byDomain, []attribution.Account{account("001A", "Acme", "HTTP://ACME.com:443", time.Hour)},
			nil, contact("Ann@Acme.com", "", "Acme"), "001A", event.AccountDomain, nil, false, 1},
		{"a website containing the domain is not the domain", byDomain, []attribution.Account{
			account("001X", "Not Acme", "notacme.com", time.Hour), account("001Y", "Evil", "acme.com.evil.io", time.Hour),
			account("001Z", "Evil 2", "https://evil.io/acme.com", time.Hour), account("001W", "Sub", "eu.acme.com", time.Hour)},
			nil, contact("ann@acme.com", "", "Acme"), "", event.AccountCreated, newAcme, false, 1},
		{"two Accounts: the most Contacts at the domain", byDomain, []attribution.Account{
			account("001OLD", "Acme", "acme.com", 48*time.Hour), account("001NEW", "Acme Inc", "www.acme.com", time.Hour)},
			map[string]map[string]int{"001OLD": {"acme.com": 2}, "001NEW": {"acme.com": 5}},
			contact("ann@acme.com", "", ""), "001NEW", event.AccountDomain, nil, false, 1},
		{"two Accounts, as many Contacts: the oldest", byDomain, []attribution.Account{
			account("001NEW", "Acme Inc", "www.acme.com", time.Hour), account("001OLD", "Acme", "acme.com", 48*time.Hour)},
			map[string]map[string]int{"001OLD": {"acme.com": 3}, "001NEW": {"acme.com": 3}},
			contact("ann@acme.com", "", ""), "001OLD", event.AccountDomain, nil, false, 1},
		{"two Accounts, no Contacts: the oldest", byDomain, []attribution.Account{
			account("001NEW", "Acme Inc", "www.acme.com", time.Hour), account("001OLD", "Acme", "acme.com", 48*time.Hour)},
			nil, contact("ann@acme.com", "", ""), "001OLD", event.AccountDomain, nil, false, 1},
		{"counts at another domain do not count", byDomain, []attribution.Account{
			account("001NEW", "Acme Inc", "www.acme.com", time.Hour), account("001OLD", "Acme", "acme.com", 48*time.Hour)},
			map[string]map[string]int{"001NEW": {"beta.io": 9}},
			contact("ann@acme.com", "", ""), "001OLD", event.AccountDomain, nil, false, 1},
		{"two Accounts as old: the smaller id", byDomain, []attribution.Account{
			account("001B", "Acme Inc", "www.acme.com", time.Hour), account("001A", "Acme", "acme.com", time.Hour)},
			nil, contact("ann@acme.com", "", ""), "001A", event.AccountDomain, nil, false, 1},
		{"free-mail email, business website", byDomain, []attribution.Account{acme},
			nil, contact("ann@gmail.com", "https://www.acme.com/", "Acme"), "001ACME", event.AccountDomain, nil, false, 1},
		{"the team's free mail, business website", attribution.AccountRules{FreeMail: []string{"corp-mail.net"}}, []attribution.Account{acme},
			nil, contact("ann@corp-mail.net", "acme.com", ""), "001ACME", event.AccountDomain, nil, false, 1},
		{"without the team's list, its domain is a company's", byDomain, []attribution.Account{acme},
			nil, contact("ann@corp-mail.net", "acme.com", ""), "", event.AccountCreated,
			&attribution.NewAccount{Key: "corp-mail.net", Name: "corp-mail.net", Website: "corp-mail.net"}, false, 1},
		{"the email's domain before the website's", byDomain, []attribution.Account{acme, account("001BETA", "Beta", "beta.io", time.Hour)},
			nil, contact("ann@beta.io", "acme.com", ""), "001BETA", event.AccountDomain, nil, false, 1},
		{"free mail, no website: the fallback, named after the company", byDomain, []attribution.Account{account("001BETA", "Beta", "acme.com", time.Hour)},
			nil, contact("ann@gmail.com", "", "Acme"), "", event.AccountCreated, &attribution.NewAccount{Key: "name:acme", Name: "Acme"}, false, 1},
		{"free mail, no website: the Account named as the company (one created so before)", byDomain, []attribution.Account{
			account("001NEW", "acme", "", time.Hour), account("001OLD", "Acme", "", 48*time.Hour)},
			nil, contact("ann@gmail.com", "", " ACME "), "001OLD", event.AccountName, nil, false, 1},
		{"free mail, no website, no company: nothing to name", byDomain, []attribution.Account{acme},
			nil, contact("ann@gmail.com", "", ""), "", event.AccountPrivate, nil, false, 0},
		{"no match: created, named after the domain without a company", byDomain, nil,
			nil, contact("ann@acme.com", "", ""), "", event.AccountCreated, &attribution.NewAccount{Key: "acme.com", Name: "acme.com", Website: "acme.com"}, false, 1},
		{"name, another case", byName, []attribution.Account{account("001A", "Acme Inc", "", time.Hour)},
			nil, contact("ann@gmail.com", "", "  ACME inc "), "001A", event.AccountName, nil, false, 1},
		{"name, the oldest of several", byName, []attribution.Account{
			account("001NEW", "Acme", "", time.Hour), account("001OLD", "ACME", "", 48*time.Hour), account("001MID", "acme", "", 24*time.Hour)},
			nil, contact("ann@acme.com", "", "Acme"), "001OLD", event.AccountName, nil, false, 1},
		{"name matching does not match by website", byName, []attribution.Account{acme},
			nil, contact("ann@acme.com", "acme.com", "Beta"), "", event.AccountCreated,
			&attribution.NewAccount{Key: "acme.com", Name: "Beta", Website: "acme.com"}, false, 1},
		{"name matching, no company: created after the domain", byName, []attribution.Account{acme},
			nil, contact("ann@acme.com", "", ""), "", event.AccountCreated, &attribution.NewAccount{Key: "acme.com", Name: "acme.com", Website: "acme.com"}, false, 0},
		{"none: no Account, no lookup", attribution.AccountRules{Matching: policy.AccountMatchNone}, []attribution.Account{acme},
			nil, contact("ann@acme.com", "acme.com", "Acme"), "", event.AccountNone, nil, false, 0},
		{"fallback lead", attribution.AccountRules{Fallback: policy.AccountFallbackLead}, nil,
			nil, contact("ann@acme.com", "", "Acme"), "", event.AccountNone, nil, true, 1},
		{"fallback lead, free mail", attribution.AccountRules{Fallback: policy.AccountFallbackLead}, nil,
			nil, contact("ann@gmail.com", "", "Acme"), "", event.AccountNone, nil, true, 1},
		{"fallback lead under name matching", attribution.AccountRules{Matching: policy.AccountMatchName, Fallback: policy.AccountFallbackLead}, nil,
			nil, contact("ann@acme.com", "", "Acme"), "", event.AccountNone, nil, true, 1},
		{"fallback private", attribution.AccountRules{Fallback: policy.AccountFallbackPrivate}, nil,
			nil, contact("ann@acme.com", "", "Acme"), "", event.AccountPrivate, nil, false, 1},
		{"fallback create spelled out", attribution.AccountRules{Fallback: policy.AccountFallbackCreate}, nil,
			nil, contact("ann@acme.com", "", "Acme"), "", event.AccountCreated, newAcme, false, 1},
		{"a match is not a fallback", attribution.AccountRules{Fallback: policy.AccountFallbackLead}, []attribution.Account{acme},
			nil, contact("ann@acme.com", "", "Acme"), "001ACME", event.AccountDomain, nil, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := &directory{accounts: tt.accounts, counts: tt.counts}
			got := decide(t, newBatch(tt.rules), dir, []attribution.Subject{{Contact: tt.contact}})
			a := got[0].Account
			if a == nil {
				t.Fatalf("got no Account decision; want %q by %s", tt.wantID, tt.wantBy)
			}
			if a.ID != tt.wantID || a.By != tt.wantBy || a.AsLead != tt.wantLead {
				t.Errorf("got %q by %s (as a Lead %v: %s); want %q by %s (as a Lead %v)", a.ID, a.By, a.AsLead, a.Detail, tt.wantID, tt.wantBy, tt.wantLead)
			}
			if !reflect.DeepEqual(a.New, tt.wantNew) {
				t.Errorf("new Account: got %+v; want %+v", a.New, tt.wantNew)
			}
			if a.Detail == "" {
				t.Errorf("got no detail; want why")
			}
			if len(dir.looks) != tt.looks {
				t.Errorf("Look: got %d calls; want %d", len(dir.looks), tt.looks)
			}
		})
	}
}

// TestBatchCreateOnce: contacts of one company no Account matched get
// new Accounts with one Key (one Account is created for them): by domain,
// else by the company's name in any case.
func TestBatchCreateOnce(t *testing.T) {
	t.Parallel()
	dir := &directory{}
	for _, rules := range []attribution.AccountRules{{}, {Matching: policy.AccountMatchName}} {
		got := decide(t, newBatch(rules), dir, []attribution.Subject{
			{Contact: contact("ann@acme.com", "", "Acme")},
			{Contact: contact("bob@acme.com", "", "Acme")},
			{Contact: contact("cy@gmail.com", "", "Beta")},
			{Contact: contact("dee@yahoo.com", "", " BETA ")},
			{Contact: contact("eve@gamma.org", "", "Acme")},
		})
		var keys []string
		for i, d := range got {
			if d.Account == nil || d.Account.New == nil {
				t.Fatalf("%+v: subject %d: got %+v; want a new Account", rules, i, d.Account)
			}
			keys = append(keys, d.Account.New.Key)
		}
		if keys[0] != keys[1] || keys[2] != keys[3] || keys[0] == keys[2] || keys[4] == keys[0] {
			t.Errorf("%+v: keys: got %q; want one for acme.com, one for Beta, another for gamma.org", rules, keys)
		}
		if n := got[0].Account.New; n.Name != "Acme" || n.Website != "acme.com" {
			t.Errorf("%+v: got %+v; want Acme with website acme.com", rules, *n)
		}
		if n := got[2].Account.New; n.Name != "Beta" || n.Website != "" {
			t.Errorf("%+v: got %+v; want Beta without a website", rules, *n)
		}
	}
}

// TestBatchLeadFallbackOwner: a contact that syncs as a Lead instead (no
// Account, account_fallback lead) gets a Lead's owner: under
// assignment_rules it is left to the rules; a matched contact is a
// Contact, its owner the rep.
func TestBatchLeadFallbackOwner(t *testing.T) {
	t.Parallel()
	acme := account("001ACME", "Acme", "acme.com", time.Hour)
	tests := []struct {
		name    string
		rule    policy.OwnerRule
		contact *attribution.Contact
		asLead  bool
		owner   string
		ownerBy string
		auto    string
	}{
		{"assignment_rules, unmatched: the rules", policy.OwnerAssignmentRules, contact("ann@beta.io", "", "Beta"), true, "", event.OwnerAssignmentRules, "TRUE"},
		{"assignment_rules, matched: the rep", policy.OwnerAssignmentRules, contact("ann@acme.com", "", "Acme"), false, "005U1", event.OwnerRep, "FALSE"},
		{"rep, unmatched: the rep", policy.OwnerRep, contact("ann@beta.io", "", "Beta"), true, "005U1", event.OwnerRep, "FALSE"},
		{"fallback_only, unmatched: the fallback", policy.OwnerFallbackOnly, contact("ann@beta.io", "", "Beta"), true, "005FB", event.OwnerFallback, "FALSE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := &directory{users: map[string]attribution.User{"rep1@seller.io": u1}, accounts: []attribution.Account{acme}}
			b := newBatch(attribution.AccountRules{Fallback: policy.AccountFallbackLead})
			b.Owners.Rule = tt.rule
			d := decide(t, b, dir, []attribution.Subject{{Rep: "rep1@seller.io", Contact: tt.contact}})[0]
			if d.Account == nil || d.Account.AsLead != tt.asLead {
				t.Fatalf("got account %+v; want as a Lead %v", d.Account, tt.asLead)
			}
			if d.Owner.ID != tt.owner || d.Owner.By != tt.ownerBy || d.Owner.AutoAssign() != tt.auto {
				t.Errorf("owner: got %q by %s (auto-assign %s); want %q by %s (%s)", d.Owner.ID, d.Owner.By, d.Owner.AutoAssign(), tt.owner, tt.ownerBy, tt.auto)
			}
		})
	}
	// Private: the contact is a Contact, under assignment_rules too.
	dir := &directory{users: map[string]attribution.User{"rep1@seller.io": u1}}
	b := newBatch(attribution.AccountRules{Fallback: policy.AccountFallbackPrivate})
	b.Owners.Rule = policy.OwnerAssignmentRules
	d := decide(t, b, dir, []attribution.Subject{{Rep: "rep1@seller.io", Contact: contact("ann@beta.io", "", "Beta")}})[0]
	if d.Account.By != event.AccountPrivate || d.Account.AsLead || d.Owner.ID != "005U1" {
		t.Errorf("private: got account %+v, owner %+v; want private, the rep", *d.Account, d.Owner)
	}
}

// TestBatchErrors: a lookup or count that fails fails the batch, wrapped.
func TestBatchErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("REQUEST_LIMIT_EXCEEDED")
	subjects := []attribution.Subject{{Rep: "rep1@seller.io", Contact: contact("ann@acme.com", "", "")}}
	two := []attribution.Account{account("001A", "Acme", "acme.com", time.Hour), account("001B", "Acme 2", "acme.com", time.Hour)}
	for _, dir := range []*directory{{lookErr: boom}, {accounts: two, countErr: boom}} {
		_, err := newBatch(attribution.AccountRules{}).Decide(context.Background(), dir, subjects)
		if !errors.Is(err, boom) {
			t.Errorf("got %v; want the directory's error", err)
		}
	}
	// A failed lookup teaches nothing: the rep is asked again.
	b := newBatch(attribution.AccountRules{})
	_, _ = b.Decide(context.Background(), &directory{lookErr: boom}, subjects)
	if missing, _ := b.Users.Unknown(context.Background(), "team_a", []string{"rep1@seller.io"}); len(missing) != 1 {
		t.Errorf("after a failed lookup: got missing %q; want the rep", missing)
	}
}

// TestBatchWithoutUsers: a Batch with no Users still decides, asking the
// org its reps.
func TestBatchWithoutUsers(t *testing.T) {
	t.Parallel()
	dir := &directory{users: map[string]attribution.User{"rep1@seller.io": u1}}
	b := attribution.Batch{Team: "team_a", Owners: owners}
	got := decide(t, b, dir, []attribution.Subject{{Rep: "rep1@seller.io"}})
	if got[0].Owner.ID != "005U1" || len(dir.looks) != 1 {
		t.Errorf("got %+v after %d lookups; want 005U1 after 1", got[0].Owner, len(dir.looks))
	}
}

// TestBatchOneNewAccountPerCompany: a free-mail contact of a company whose
// batch-mate has its business domain joins that contact's new Account.
func TestBatchOneNewAccountPerCompany(t *testing.T) {
	t.Parallel()
	dir := &directory{}
	got := decide(t, newBatch(attribution.AccountRules{}), dir, []attribution.Subject{
		{Contact: contact("ann@gmail.com", "", "Hooli")},
		{Contact: contact("bob@hooli.example", "", "HOOLI")},
		{Contact: contact("cy@yahoo.com", "", "Other Co")},
	})
	if got[0].Account.New == nil || got[1].Account.New == nil || got[0].Account.New.Key != got[1].Account.New.Key || got[0].Account.New.Website != "hooli.example" {
		t.Errorf("Hooli: got %+v and %+v; want one new Account, with the domain", got[0].Account.New, got[1].Account.New)
	}
	if got[2].Account.New == nil || got[2].Account.New.Key == got[1].Account.New.Key {
		t.Errorf("Other Co: got %+v; want an Account of its own", got[2].Account.New)
	}
}

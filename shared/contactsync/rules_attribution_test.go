package contactsync_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// addedBy is a contact.added of c to seq by the rep with email rep ("" for
// an event that names no rep).
func addedBy(id, seq, rep string, c event.Contact) delivery.Delivery {
	d := added(id, seq, c, at(1))
	if rep != "" {
		cd := d.Event.Data.(event.ContactData)
		cd.User = &event.User{ID: "usr_" + id, Email: rep, Name: "A Rep"}
		d.Event.Data = cd
	}
	return d
}

// sentHeaders keeps the Sforce-Auto-Assign header each created record was
// sent with, by its Email.
type sentHeaders struct {
	mu     sync.Mutex
	assign map[string]string
}

func (h *sentHeaders) watch(r *rig) {
	h.assign = map[string]string{}
	r.onCreate(func(recs []salesforce.SObject, opts salesforce.WriteOptions) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, rec := range recs {
			if e, ok := rec["Email"].(string); ok {
				h.assign[e] = opts.AutoAssign
			}
		}
	})
}

// TestOwnerRules (R10): a new Lead or Contact belongs to the rep's active
// Salesforce user, else to the team's fallback user, else the connected
// user; an owner set on purpose is sent with Sforce-Auto-Assign FALSE, so
// an assignment rule cannot overwrite it, and a Lead the team leaves to
// its assignment rules is sent with TRUE and no owner. The outcome says
// who and why.
func TestOwnerRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rep      string
		settings func(*policy.TeamSettings)
		wantBy   string
		wantUser string // "active", "inactive", "fallback", "connected" or "" (none sent)
		auto     string
	}{
		{"a rep with an active user", "Rep@Sales.example", nil, event.OwnerRep, "active", "FALSE"},
		{"a rep with an inactive user", "gone@sales.example", nil, event.OwnerFallback, "connected", "FALSE"},
		{"a rep no user has", "nobody@sales.example", nil, event.OwnerFallback, "connected", "FALSE"},
		{"no rep on the event", "", nil, event.OwnerFallback, "connected", "FALSE"},
		{"the team's fallback user", "nobody@sales.example", func(s *policy.TeamSettings) { s.OwnerFallbackUserID = "FALLBACK" }, event.OwnerFallback, "fallback", "FALSE"},
		{"fallback_only, even with an active rep", "rep@sales.example", func(s *policy.TeamSettings) { s.Owner = policy.OwnerFallbackOnly }, event.OwnerFallback, "connected", "FALSE"},
		{"assignment_rules, a Lead", "rep@sales.example", func(s *policy.TeamSettings) { s.Owner = policy.OwnerAssignmentRules }, event.OwnerAssignmentRules, "", "TRUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			users := map[string]string{
				"active":    r.org.Seed(orgtest.User, map[string]any{"LastName": "Rep", "Email": "rep@sales.example", "IsActive": true}),
				"inactive":  r.org.Seed(orgtest.User, map[string]any{"LastName": "Gone", "Email": "gone@sales.example", "IsActive": false}),
				"fallback":  r.org.Seed(orgtest.User, map[string]any{"LastName": "Fallback", "Email": "fb@sales.example", "IsActive": true}),
				"connected": orgtest.ConnectedUserID,
			}
			r.settings(t, connectedAt, func(s *policy.TeamSettings) {
				if tt.settings != nil {
					tt.settings(s)
				}
				if s.OwnerFallbackUserID == "FALLBACK" {
					s.OwnerFallbackUserID = users["fallback"]
				}
			})
			var h sentHeaders
			h.watch(r)
			if back := r.process(addedBy("evt_add", "seq_1", tt.rep, ada)); len(back) != 0 {
				t.Fatalf("got %v back; want none", back)
			}
			leads := r.org.Records(orgtest.Lead)
			if len(leads) != 1 {
				t.Fatalf("Leads: got %d; want 1", len(leads))
			}
			if got, want := leads[0].Fields["OwnerId"], users[tt.wantUser]; (want == "" && got != nil) || (want != "" && got != want) {
				t.Errorf("OwnerId: got %v; want %q (%s)", got, want, tt.wantUser)
			}
			if got := h.assign[ada.Email]; got != tt.auto {
				t.Errorf("Sforce-Auto-Assign: got %q; want %q", got, tt.auto)
			}
			o := r.pub.of("evt_add")
			if len(o) != 1 || o[0].Salesforce == nil || o[0].Salesforce.Match == nil || o[0].Salesforce.Match.Owner != tt.wantBy ||
				o[0].Salesforce.OwnerID != users[tt.wantUser] {
				t.Fatalf("outcome: got %+v; want owner %s by %s", o, users[tt.wantUser], tt.wantBy)
			}
		})
	}
}

// TestInactiveOwnerGoesToTheFallback: a rep's user Salesforce refuses as
// inactive (deactivated since it was looked up) gets its record created
// again for the fallback, once, and is known inactive for the next batch.
func TestInactiveOwnerGoesToTheFallback(t *testing.T) {
	t.Parallel()
	r := newRig()
	rep := r.org.Seed(orgtest.User, map[string]any{"LastName": "Rep", "Email": "rep@sales.example", "IsActive": true})
	if back := r.process(addedBy("evt_1", "seq_1", "rep@sales.example", person("c1", "one@acme.example"))); len(back) != 0 {
		t.Fatalf("first: got %v back", back)
	}
	r.org.Update(rep, map[string]any{"IsActive": false}) // deactivated while known active
	if back := r.process(addedBy("evt_2", "seq_1", "rep@sales.example", person("c2", "two@acme.example"))); len(back) != 0 {
		t.Fatalf("second: got %v back", back)
	}
	creates := r.org.Calls(orgtest.CallCreate)
	if back := r.process(addedBy("evt_3", "seq_1", "rep@sales.example", person("c3", "three@acme.example"))); len(back) != 0 {
		t.Fatalf("third: got %v back", back)
	}
	owners := map[string]any{}
	for _, l := range r.org.Records(orgtest.Lead) {
		owners[l.Email()] = l.Fields["OwnerId"]
	}
	if owners["one@acme.example"] != rep || owners["two@acme.example"] != orgtest.ConnectedUserID || owners["three@acme.example"] != orgtest.ConnectedUserID {
		t.Errorf("owners: got %v; want the rep, then the connected user twice", owners)
	}
	if n := r.org.Calls(orgtest.CallCreate) - creates; n != 1 {
		t.Errorf("creates for the third contact: got %d; want 1 (the rep known inactive)", n)
	}
	if o := r.pub.of("evt_2"); len(o) != 1 || o[0].Salesforce == nil || o[0].Salesforce.Match.Owner != event.OwnerFallback {
		t.Errorf("second outcome: got %+v; want the fallback", o)
	}
}

// TestAccountRules (R10): a contact synced as a Contact goes under the
// Account its email's domain (or company) resolves to; when none does,
// the team's fallback creates one Account per company, syncs a Lead
// instead (no_account), or creates a private Contact (private_contact).
func TestAccountRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fallback   policy.AccountFallback
		contacts   []event.Contact
		wantAnswer string
		wantBy     string
		wantAcct   string // "acme" (the seeded one), "new" or ""
		accounts   int    // Accounts in the org after
	}{
		{"the website's domain", "", []event.Contact{person("c1", "ann@acme.com")}, "created Contact", event.AccountDomain, "acme", 1},
		{"create: two contacts of a new company, one Account", policy.AccountFallbackCreate,
			[]event.Contact{person("c1", "ann@beta.example"), person("c2", "bob@beta.example")}, "created Contact", event.AccountCreated, "new", 2},
		{"lead: a Lead instead", policy.AccountFallbackLead, []event.Contact{person("c1", "ann@beta.example")}, "created/no_account Lead", event.AccountNone, "", 1},
		{"private: no Account", policy.AccountFallbackPrivate, []event.Contact{person("c1", "ann@beta.example")}, "created/private_contact Contact", event.AccountPrivate, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			acme := r.org.Seed(orgtest.Account, map[string]any{"Name": "Acme", "Website": "https://www.acme.com/about"})
			r.settings(t, connectedAt, func(s *policy.TeamSettings) { s.SyncAs, s.AccountFallback = policy.SyncAsContact, tt.fallback })
			var ds []delivery.Delivery
			for _, c := range tt.contacts {
				ds = append(ds, addedBy("evt_"+c.ID, "seq_1", "", c))
			}
			if back := r.process(ds...); len(back) != 0 {
				t.Fatalf("got %v back; want none", back)
			}
			accounts := r.org.Records(orgtest.Account)
			if len(accounts) != tt.accounts {
				t.Errorf("Accounts: got %d; want %d", len(accounts), tt.accounts)
			}
			want := map[string]string{"acme": acme, "": ""}
			if tt.wantAcct == "new" {
				want["new"] = accounts[len(accounts)-1].ID
			}
			for _, c := range tt.contacts {
				if got := r.answer("evt_" + c.ID); got != tt.wantAnswer {
					t.Errorf("%s: got %q; want %q", c.ID, got, tt.wantAnswer)
				}
				o := r.pub.of("evt_" + c.ID)
				if len(o) == 0 || o[0].Salesforce == nil || o[0].Salesforce.Match == nil {
					t.Fatalf("%s: got %+v; want a match", c.ID, o)
				}
				if sf := o[0].Salesforce; sf.Match.Account != tt.wantBy || sf.AccountID != want[tt.wantAcct] {
					t.Errorf("%s: account %q by %q; want %q by %q (%s)", c.ID, sf.AccountID, sf.Match.Account, want[tt.wantAcct], tt.wantBy, sf.Match.Detail)
				}
			}
		})
	}
}

// TestNewAccountClaimed: a company whose new Account another worker holds
// the claim of comes back, and goes under that Account once it exists.
func TestNewAccountClaimed(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.settings(t, connectedAt, func(s *policy.TeamSettings) { s.SyncAs = policy.SyncAsContact })
	if _, err := r.ledger.ClaimAll(t.Context(), team, []string{contactsync.AccountClaim("beta.example")}, "worker_2", start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	d := addedBy("evt_c1", "seq_1", "", person("c1", "ann@beta.example"))
	back := r.process(d)
	if !errors.Is(back[d.ID], delivery.ErrRetry) || !errors.Is(back[d.ID], ledger.ErrClaimed) {
		t.Fatalf("first: got %v back; want ErrRetry and ErrClaimed", back)
	}
	if n := len(r.org.Records(orgtest.Account)) + len(r.org.Records(orgtest.Contact)); n != 0 {
		t.Errorf("records: got %d; want none while the other worker creates the Account", n)
	}
	other := r.org.Seed(orgtest.Account, map[string]any{"Name": "Engines", "Website": "beta.example"}) // what the other worker made
	if back := r.process(d); len(back) != 0 {
		t.Fatalf("again: got %v back; want none", back)
	}
	if o := r.pub.of("evt_c1"); len(o) != 1 || o[0].Salesforce == nil || o[0].Salesforce.AccountID != other {
		t.Errorf("outcome: got %+v; want the other worker's Account %s", o, other)
	}
}

// lookHook is an org that runs before ahead of each Look, with how many
// Looks came before.
type lookHook struct {
	contactsync.Org
	n      *int
	before func(n int)
}

func (o lookHook) Look(ctx context.Context, q attribution.Query) (attribution.Found, error) {
	o.before(*o.n)
	*o.n++
	return o.Org.Look(ctx, q)
}

// TestNewAccountAwaited: when the worker holding a company's claim creates
// its Account while this one waits, the contact goes under it in this run:
// one more lookup, no second pass through the queue.
func TestNewAccountAwaited(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.settings(t, connectedAt, func(s *policy.TeamSettings) { s.SyncAs = policy.SyncAsContact })
	if _, err := r.ledger.ClaimAll(t.Context(), team, []string{contactsync.AccountClaim("beta.example")}, "worker_2", start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var other string
	looks := 0
	r.e.Orgs = hookedOrgs{Orgs: r.e.Orgs, wrap: func(o contactsync.Org) contactsync.Org {
		return lookHook{Org: o, n: &looks, before: func(n int) {
			if n == 1 { // the other worker made it during the wait
				other = r.org.Seed(orgtest.Account, map[string]any{"Name": "Engines", "Website": "beta.example"})
			}
		}}
	}}
	if back := r.process(addedBy("evt_c1", "seq_1", "", person("c1", "ann@beta.example"))); len(back) != 0 {
		t.Fatalf("got %v back; want none", back)
	}
	if o := r.pub.of("evt_c1"); len(o) != 1 || o[0].Salesforce == nil || o[0].Salesforce.AccountID != other || o[0].Salesforce.Match.Account != event.AccountDomain {
		t.Errorf("outcome: got %+v; want under the other worker's Account %s, by domain", o, other)
	}
	if looks != 2 || len(r.org.Records(orgtest.Account)) != 1 {
		t.Errorf("looks %d, Accounts %d; want 2 and 1", looks, len(r.org.Records(orgtest.Account)))
	}
}

// TestLongCompanyNameClaimed: a company named with more bytes than a
// ledger key may hold still gets its one Account (its claim key is a hash).
func TestLongCompanyNameClaimed(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.settings(t, connectedAt, func(s *policy.TeamSettings) { s.SyncAs = policy.SyncAsContact })
	c := person("c1", "ann@gmail.com")
	c.Company = strings.Repeat("株", 110) // 330 bytes, no business domain: keyed by name
	if back := r.process(addedBy("evt_c1", "seq_1", "", c)); len(back) != 0 {
		t.Fatalf("got %v back; want none", back)
	}
	if got := r.answer("evt_c1"); got != "created Contact" || len(r.org.Records(orgtest.Account)) != 1 {
		t.Errorf("got %q and %d Accounts; want created Contact under one new Account", got, len(r.org.Records(orgtest.Account)))
	}
}

// TestFailedAccountCreateGivesTheClaimUp: when the call creating a new
// Account fails, its company's claim is given up, so the contact's next
// attempt creates it at once instead of waiting for the claim to lapse.
func TestFailedAccountCreateGivesTheClaimUp(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.settings(t, connectedAt, func(s *policy.TeamSettings) { s.SyncAs = policy.SyncAsContact })
	r.org.FailNext(orgtest.CallCreate, orgtest.Transient())
	d := addedBy("evt_c1", "seq_1", "", person("c1", "ann@beta.example"))
	if back := r.process(d); !errors.Is(back[d.ID], delivery.ErrRetry) {
		t.Fatalf("first: got %v back; want ErrRetry", back)
	}
	other := r.engine(workerLedger{Memory: r.ledger, owner: "worker_2", saves: &sync.Mutex{}}, "worker_2") // the redelivery reaches another instance
	other.Reps, other.AccountWait = &attribution.Users{Now: r.clock.Now}, time.Millisecond
	if back := other.Process(t.Context(), []delivery.Delivery{d}); len(back) != 0 {
		t.Fatalf("again, on another worker: got %v back; want none (the claim given up)", back)
	}
	if got := r.answer("evt_c1"); got != "created Contact" || len(r.org.Records(orgtest.Account)) != 1 {
		t.Errorf("got %q and %d Accounts; want created Contact under one new Account", got, len(r.org.Records(orgtest.Account)))
	}
}

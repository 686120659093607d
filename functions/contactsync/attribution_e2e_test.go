package main

// End-to-end tests of attribution (R10) through SQS: the owner of each new
// Lead or Contact and the Account of each new Contact, as the simulated org
// holds them and as the outcome explains them.

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

// byRep is a contact event of the team whose rep is repEmail ("" names none).
func byRep(team string, t event.Type, seq, id, email, company, repEmail string, at time.Time) event.Event {
	ev := contactEvent(team, t, seq, id, email, company, at)
	if repEmail != "" {
		d := ev.Data.(event.ContactData)
		d.User = &event.User{ID: "usr_" + id, Email: repEmail, Name: "Rep " + id}
		ev.Data = d
	}
	return ev
}

// ownerCase is one contact whose owner the test checks.
type ownerCase struct {
	name   string
	ev     event.Event
	sim    *org.Org
	owner  func() string // the OwnerId wanted in the org
	match  string        // the outcome's match.owner
	object string
}

// TestOwnersThroughSQS: a rep with an active user owns the record; one whose
// user is inactive, a rep no user has and an event naming no rep give it to
// the connected user; fallback_only does so even for an active rep; under
// assignment_rules a Lead goes to the org's assignment rule (its queue),
// the service sending no owner and Sforce-Auto-Assign TRUE.
func TestOwnersThroughSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Now().Add(time.Minute) // after the settings are saved
	probe := org.New(org.Config{})
	queue := probe.QueueID()
	repTeam, onlyTeam, rulesTeam := stacktest.NextID("team_own_rep"), stacktest.NextID("team_own_only"), stacktest.NextID("team_own_rules")
	repOrg, onlyOrg, rulesOrg := newOrg(t, org.Config{}), newOrg(t, org.Config{}), newOrg(t, org.Config{LeadQueue: queue})
	users := map[*org.Org]map[string]string{}
	for team, sim := range map[string]*org.Org{repTeam: repOrg, onlyTeam: onlyOrg, rulesTeam: rulesOrg} {
		connect(t, team, sim)
		users[sim] = map[string]string{}
		for email, active := range map[string]bool{"active@reps.example": true, "inactive@reps.example": false} {
			id, err := sim.SeedUser(email, active, "")
			if err != nil {
				t.Fatal(err)
			}
			users[sim][email] = id
		}
	}
	put := func(team, owner string) {
		if err := seqr.PutSettings(ctx, team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true,
			"activity_tracking": true, "owner": owner}); err != nil {
			t.Fatal(err)
		}
	}
	put(onlyTeam, "fallback_only")
	put(rulesTeam, "assignment_rules")
	connected := func(sim *org.Org) func() string { return func() string { return sim.UserID() } }
	user := func(sim *org.Org, email string) func() string { return func() string { return users[sim][email] } }
	cases := []ownerCase{
		{"a rep with an active user", byRep(repTeam, event.ContactAdded, "seq_own", "o1", "o1@own.example", "Own", "Active@Reps.example", at), repOrg, user(repOrg, "active@reps.example"), event.OwnerRep, "Lead"},
		{"a rep with an inactive user", byRep(repTeam, event.ContactAdded, "seq_own", "o2", "o2@own.example", "Own", "inactive@reps.example", at), repOrg, connected(repOrg), event.OwnerFallback, "Lead"},
		{"a rep no user has", byRep(repTeam, event.ContactAdded, "seq_own", "o3", "o3@own.example", "Own", "nobody@reps.example", at), repOrg, connected(repOrg), event.OwnerFallback, "Lead"},
		{"no data.user", byRep(repTeam, event.ContactAdded, "seq_own", "o4", "o4@own.example", "Own", "", at), repOrg, connected(repOrg), event.OwnerFallback, "Lead"},
		{"fallback_only", byRep(onlyTeam, event.ContactAdded, "seq_own", "o5", "o5@own.example", "Own", "active@reps.example", at), onlyOrg, connected(onlyOrg), event.OwnerFallback, "Lead"},
		{"assignment_rules for a Lead", byRep(rulesTeam, event.ContactAdded, "seq_own", "o6", "o6@own.example", "Own", "active@reps.example", at), rulesOrg, func() string { return queue }, event.OwnerAssignmentRules, "Lead"},
	}
	var evs []event.Event
	for _, c := range cases {
		evs = append(evs, c.ev)
	}
	send(t, evs...)
	got := await(t, evs, true)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := got[c.ev.ID]
			if o.Status != event.StatusCreated || o.Salesforce == nil || string(o.Salesforce.Object) != c.object || o.Salesforce.Match == nil {
				t.Fatalf("outcome: got %s/%s %+v %+v; want a created %s with a match", o.Status, o.Reason, o.Salesforce, o.Error, c.object)
			}
			if o.Salesforce.Match.Owner != c.match {
				t.Errorf("match.owner: got %q (%s); want %q", o.Salesforce.Match.Owner, o.Salesforce.Match.Detail, c.match)
			}
			rec, ok := c.sim.Record(c.object, o.Salesforce.ID)
			if !ok {
				t.Fatalf("no %s %s in the org", c.object, o.Salesforce.ID)
			}
			if owner, _ := rec["OwnerId"].(string); !sameID(owner, c.owner()) {
				t.Errorf("OwnerId: got %q; want %q", owner, c.owner())
			}
		})
	}
}

// accountCase is one contact whose Account the test checks.
type accountCase struct {
	name    string
	ev      event.Event
	sim     *org.Org
	account func() string // the AccountId wanted ("" none)
	match   string        // the outcome's match.account; "" for created or domain (see the case)
	object  string
	reason  event.Reason
}

// TestAccountsThroughSQS: a website with "www." and a path matches its
// domain; of two Accounts of one domain the one with more Contacts there
// wins; a free-mail address never matches an Account by its domain;
// name matching finds the company's Account in another letter case; and
// each fallback: create (two contacts of one new company make one
// Account), lead (a Lead, no_account) and private (no Account,
// private_contact).
func TestAccountsThroughSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Now().Add(time.Minute)
	teams := map[string]string{"domain": stacktest.NextID("team_acct_domain"), "name": stacktest.NextID("team_acct_name"),
		"lead": stacktest.NextID("team_acct_lead"), "private": stacktest.NextID("team_acct_private")}
	orgs := map[string]*org.Org{}
	for kind, team := range teams {
		orgs[kind] = newOrg(t, org.Config{})
		connect(t, team, orgs[kind])
		settings := map[string]any{"sync_as": "contact", "sync_mode": "on_add", "deduplication": true, "activity_tracking": true,
			"account_matching": "domain", "account_fallback": "create"}
		switch kind {
		case "name":
			settings["account_matching"] = "name"
		case "lead", "private":
			settings["account_fallback"] = kind
		}
		if err := seqr.PutSettings(ctx, team, settings); err != nil {
			t.Fatal(err)
		}
	}
	seed := func(sim *org.Org, object string, fields map[string]any) string {
		ids, err := sim.Seed(object, fields)
		if err != nil {
			t.Fatalf("seed %s: %v", object, err)
		}
		return ids[0]
	}
	d := orgs["domain"]
	acme := seed(d, "Account", map[string]any{"Name": "Acme", "Website": "https://www.Acme-E2E.example/about"})
	seed(d, "Account", map[string]any{"Name": "Not Acme", "Website": "notacme-e2e.example"})
	seed(d, "Account", map[string]any{"Name": "Globex One", "Website": "globex-e2e.example"})
	globexTwo := seed(d, "Account", map[string]any{"Name": "Globex Two", "Website": "http://globex-e2e.example"})
	for _, e := range []string{"a@globex-e2e.example", "b@globex-e2e.example"} {
		seed(d, "Contact", map[string]any{"LastName": "Seeded", "Email": e, "AccountId": globexTwo})
	}
	seed(d, "Account", map[string]any{"Name": "Mail", "Website": "gmail.com"})
	umbrella := seed(orgs["name"], "Account", map[string]any{"Name": "Umbrella Corp", "Website": "elsewhere.example"})
	ev := func(kind, id, email, company string) event.Event {
		return byRep(teams[kind], event.ContactAdded, "seq_acct", id, email, company, "", at)
	}
	none := func() string { return "" }
	is := func(id string) func() string { return func() string { return id } }
	var hooli func() string // the Account the fallback creates, found after the run
	cases := []accountCase{
		{"website with www. and a path", ev("domain", "a1", "ann@acme-e2e.example", "Acme"), d, is(acme), event.AccountDomain, "Contact", ""},
		{"two Accounts of one domain: more Contacts wins", ev("domain", "a2", "new@globex-e2e.example", "Globex"), d, is(globexTwo), event.AccountDomain, "Contact", ""},
		{"free mail: no Account by its domain, one made for the company", ev("domain", "a3", "someone@gmail.com", "Initech Free"), d, nil, event.AccountCreated, "Contact", ""},
		{"create: the first contact of a new company", ev("domain", "a4", "one@hooli-e2e.example", "Hooli"), d, nil, event.AccountCreated, "Contact", ""},
		// In the first's batch it joins the Account made there (created); in
		// a later batch, or another worker's that waited for the first's
		// claim, it finds it by its domain: the same Account either way.
		{"create: the second contact of that company, the same Account", ev("domain", "a5", "two@hooli-e2e.example", "Hooli"), d, nil, "", "Contact", ""},
		{"name matching, another letter case", ev("name", "a6", "x@umbrella-e2e.example", "umbrella corp"), orgs["name"], is(umbrella), event.AccountName, "Contact", ""},
		{"lead fallback", ev("lead", "a7", "y@nomatch-e2e.example", "No Match"), orgs["lead"], none, event.AccountNone, "Lead", event.ReasonNoAccount},
		{"private fallback", ev("private", "a8", "z@nomatch-e2e.example", "No Match"), orgs["private"], none, event.AccountPrivate, "Contact", event.ReasonPrivateContact},
	}
	var evs []event.Event
	for _, c := range cases {
		evs = append(evs, c.ev)
	}
	send(t, evs...)
	got := await(t, evs, true)
	var hoolis []string
	for _, a := range d.Records("Account") {
		if a["Name"] == "Hooli" {
			hoolis = append(hoolis, a["Id"].(string))
		}
	}
	if len(hoolis) != 1 {
		t.Fatalf("Accounts named Hooli: got %d; want 1 for its two contacts", len(hoolis))
	}
	hooli = is(hoolis[0])
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := got[c.ev.ID]
			if o.Status != event.StatusCreated || o.Reason != c.reason || o.Salesforce == nil || string(o.Salesforce.Object) != c.object || o.Salesforce.Match == nil {
				t.Fatalf("outcome: got %s/%s %+v %+v; want created/%s, a %s with a match", o.Status, o.Reason, o.Salesforce, o.Error, c.reason, c.object)
			}
			switch got := o.Salesforce.Match.Account; {
			case c.match == "" && got != event.AccountCreated && got != event.AccountDomain:
				t.Errorf("match.account: got %q (%s); want created or domain", got, o.Salesforce.Match.Detail)
			case c.match != "" && got != c.match:
				t.Errorf("match.account: got %q (%s); want %q", got, o.Salesforce.Match.Detail, c.match)
			}
			want := c.account
			if want == nil && c.ev.Email() != "someone@gmail.com" {
				want = hooli
			}
			rec, _ := c.sim.Record(c.object, o.Salesforce.ID)
			acct, _ := rec["AccountId"].(string)
			switch {
			case want == nil: // the free-mail contact's new Account: named after its company, never the gmail.com one
				if a, _ := c.sim.Record("Account", acct); a["Name"] != "Initech Free" {
					t.Errorf("Account: got %v; want a new one named Initech Free", a)
				}
			case !(want() == "" && acct == "") && !sameID(acct, want()):
				t.Errorf("AccountId: got %q; want %q", acct, want())
			}
			if !sameID(o.Salesforce.AccountID, acct) && !(acct == "" && o.Salesforce.AccountID == "") {
				t.Errorf("outcome account_id %q; the record's %q", o.Salesforce.AccountID, acct)
			}
		})
	}
}

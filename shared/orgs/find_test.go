package orgs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

func TestFindByEmailMatchesExactlyAndSafely(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	ids := e.seed("Contact",
		map[string]any{"LastName": "Lovelace", "Email": "Ada.Lovelace@Example.com"},
		map[string]any{"LastName": "O'Brien", "Email": "o'brien@example.ie"},
		map[string]any{"LastName": "Percent", "Email": "100%_sure@example.com"},
		map[string]any{"LastName": "Near", "Email": "ada.lovelace@example.co"},
		map[string]any{"LastName": "Quote", "Email": "y@example.com"},
	)
	leadIDs := e.seed("Lead", map[string]any{"LastName": "Hopper", "Company": "Navy", "Email": "GRACE@navy.example.mil"})

	type want struct {
		object event.SalesforceObject
		id     string
		rule   string
	}
	tests := []struct {
		name   string
		emails []string
		want   map[string]want
	}{
		{"mixed case finds one contact", []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", " Ada.Lovelace@example.com "},
			map[string]want{"ada.lovelace@example.com": {event.ObjectContact, ids[0], orgs.RuleContact}}},
		{"apostrophe", []string{"O'Brien@Example.ie"},
			map[string]want{"o'brien@example.ie": {event.ObjectContact, ids[1], orgs.RuleContact}}},
		{"percent and underscore are literal", []string{"100%_SURE@example.com", "100xxsure@example.com", "1%@example.com"},
			map[string]want{"100%_sure@example.com": {event.ObjectContact, ids[2], orgs.RuleContact}}},
		{"a different email is a different record", []string{"ada.lovelace@example.co"},
			map[string]want{"ada.lovelace@example.co": {event.ObjectContact, ids[3], orgs.RuleContact}}},
		{"lead in upper case", []string{"grace@NAVY.example.mil"},
			map[string]want{"grace@navy.example.mil": {event.ObjectLead, leadIDs[0], orgs.RuleLead}}},
		{"backslashes match nothing and break nothing", []string{`a\b@example.com`, `o\'brien@example.ie`, `\\`, `x\`},
			map[string]want{}},
		{"unicode matches nothing and breaks nothing", []string{"josé@exämple.com", "Ünïcødé@例え.jp", "😀@example.com"},
			map[string]want{}},
		{"hostile email matches nothing", []string{"x' OR Email != null OR Email = 'y"},
			map[string]want{}},
		{"hostile email beside a real one", []string{"x') OR (Email != null", "o'brien@example.ie", "') OR Id != null OR Email IN ('"},
			map[string]want{"o'brien@example.ie": {event.ObjectContact, ids[1], orgs.RuleContact}}},
		{"unsearchable emails are skipped", []string{"", "   ", "a\x00b@example.com", "line\nbreak@example.com", "\xff@example.com",
			strings.Repeat("a", 80) + "@example.com"}, map[string]want{}},
		{"nothing asked", nil, map[string]want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := e.open()
			got, err := o.FindByEmail(context.Background(), tc.emails)
			if err != nil {
				t.Fatalf("FindByEmail: got error %v; want nil", err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("matches: got %d %v; want %d %v", len(got), got, len(tc.want), tc.want)
			}
			for k, w := range tc.want {
				m, ok := got[k]
				if !ok {
					t.Errorf("match for %q: got none; want %v", k, w)
					continue
				}
				if m.Object != w.object || !sameID(m.ID, w.id) || m.Rule != w.rule {
					t.Errorf("match for %q: got %+v; want %+v", k, m, w)
				}
			}
		})
	}
}

func sameID(a, b string) bool { return len(a) >= 15 && len(b) >= 15 && a[:15] == b[:15] }

func TestFindByEmailPrefersContactThenConvertedLeadThenLead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	ctx := context.Background()

	type setup func(t *testing.T, email string) (object event.SalesforceObject, id, rule string)
	contactAndLead := func(t *testing.T, email string) (event.SalesforceObject, string, string) {
		e.seed("Lead", map[string]any{"LastName": "L", "Company": "C", "Email": strings.ToUpper(email)})
		id := e.seed("Contact", map[string]any{"LastName": "C", "Email": email})[0]
		e.seed("Lead", map[string]any{"LastName": "L2", "Company": "C", "Email": email})
		return event.ObjectContact, id, orgs.RuleContact
	}
	convertedLead := func(t *testing.T, email string) (event.SalesforceObject, string, string) {
		lead := e.seed("Lead", map[string]any{"LastName": "L", "Company": "C", "Email": email})[0]
		conv, err := e.sim.Convert(lead)
		if err != nil {
			t.Fatalf("convert: %v", err)
		}
		// the sales rep changed the Contact's address after converting
		e.update("Contact", conv.ContactID, map[string]any{"Email": "moved." + email})
		// an unconverted Lead with the address loses to the converted one
		e.seed("Lead", map[string]any{"LastName": "Later", "Company": "C", "Email": email})
		return event.ObjectContact, conv.ContactID, orgs.RuleConvertedLead
	}
	convertedLeadKeepsEmail := func(t *testing.T, email string) (event.SalesforceObject, string, string) {
		lead := e.seed("Lead", map[string]any{"LastName": "L", "Company": "C", "Email": email})[0]
		conv, err := e.sim.Convert(lead)
		if err != nil {
			t.Fatalf("convert: %v", err)
		}
		return event.ObjectContact, conv.ContactID, orgs.RuleContact
	}
	leadOnly := func(t *testing.T, email string) (event.SalesforceObject, string, string) {
		id := e.seed("Lead", map[string]any{"LastName": "L", "Company": "C", "Email": email})[0]
		return event.ObjectLead, id, orgs.RuleLead
	}
	newestContact := func(t *testing.T, email string) (event.SalesforceObject, string, string) {
		old := e.seed("Contact", map[string]any{"LastName": "Old", "Email": email})[0]
		nextMillisecond()
		newer := e.seed("Contact", map[string]any{"LastName": "New", "Email": strings.ToUpper(email)})[0]
		_ = old
		return event.ObjectContact, newer, orgs.RuleContact
	}
	editedContact := func(t *testing.T, email string) (event.SalesforceObject, string, string) {
		first := e.seed("Contact", map[string]any{"LastName": "First", "Email": email})[0]
		e.seed("Contact", map[string]any{"LastName": "Second", "Email": email})
		nextMillisecond()
		e.update("Contact", first, map[string]any{"Title": "Edited last"})
		return event.ObjectContact, first, orgs.RuleContact
	}
	editedLead := func(t *testing.T, email string) (event.SalesforceObject, string, string) {
		first := e.seed("Lead", map[string]any{"LastName": "First", "Company": "C", "Email": email})[0]
		e.seed("Lead", map[string]any{"LastName": "Second", "Company": "C", "Email": email})
		nextMillisecond()
		e.update("Lead", first, map[string]any{"Title": "Edited last"})
		return event.ObjectLead, first, orgs.RuleLead
	}

	tests := []struct {
		name  string
		setup setup
	}{
		{"contact over leads", contactAndLead},
		{"converted lead resolves to its contact", convertedLead},
		{"converted lead whose contact kept the email", convertedLeadKeepsEmail},
		{"unconverted lead", leadOnly},
		{"newest of two contacts", newestContact},
		{"most recently edited contact", editedContact},
		{"most recently edited lead", editedLead},
	}
	for i, tc := range tests {
		email := fmt.Sprintf("case%d@prefer.example.com", i)
		obj, id, rule := tc.setup(t, email)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.open().FindByEmail(ctx, []string{strings.ToUpper(email)})
			if err != nil {
				t.Fatalf("FindByEmail: got error %v; want nil", err)
			}
			m, ok := got[email]
			if !ok || len(got) != 1 {
				t.Fatalf("matches: got %v; want exactly one for %s", got, email)
			}
			if m.Object != obj || !sameID(m.ID, id) || m.Rule != rule {
				t.Errorf("match: got %+v; want {%s %s %s}", m, obj, id, rule)
			}
		})
	}
}

func TestFindByEmailFollowsMorePages(t *testing.T) {
	t.Parallel()
	// A tiny page size makes every query answer in several pages.
	e := newEnv(t, org.Config{PageSize: 3})
	var contacts, leads []map[string]any
	var emails []string
	for i := range 20 {
		email := fmt.Sprintf("paged%02d@example.com", i)
		emails = append(emails, email)
		if i%2 == 0 {
			contacts = append(contacts, map[string]any{"LastName": "P", "Email": email})
		} else {
			leads = append(leads, map[string]any{"LastName": "P", "Company": "C", "Email": email})
		}
	}
	contactIDs, leadIDs := e.seed("Contact", contacts...), e.seed("Lead", leads...)
	o := e.open()
	before := e.calls()
	got, err := o.FindByEmail(context.Background(), emails)
	if err != nil {
		t.Fatalf("FindByEmail: got error %v; want nil", err)
	}
	for i, email := range emails {
		want := contactIDs[i/2]
		if i%2 == 1 {
			want = leadIDs[i/2]
		}
		if m := got[email]; !sameID(m.ID, want) {
			t.Errorf("match for %s: got %+v; want %s", email, m, want)
		}
	}
	// 10 rows each in pages of 3: the first call runs both queries, and the
	// next pages of both go together, three more calls (not six).
	if calls := e.calls() - before; calls != 4 {
		t.Errorf("API calls: got %d; want 4", calls)
	}
	if int(o.Calls()) != e.calls()-before {
		t.Errorf("Calls(): got %d; want %d", o.Calls(), e.calls()-before)
	}
}

// TestBurstOfAThousand is the budget target: 1,000 emails, half already in
// Salesforce in another letter case, looked up and the rest created.
func TestBurstOfAThousand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	ctx := context.Background()
	var emails []string
	var contacts, leads []map[string]any
	for i := range 1000 {
		email := fmt.Sprintf("prospect.%04d@customer-%02d.example.com", i, i%37)
		emails = append(emails, email)
		switch {
		case i%4 == 0:
			contacts = append(contacts, map[string]any{"LastName": "Existing", "Email": strings.ToUpper(email)})
		case i%4 == 1:
			leads = append(leads, map[string]any{"LastName": "Existing", "Company": "Co", "Email": "Prospect" + strings.TrimPrefix(email, "prospect")})
		}
	}
	e.seed("Contact", contacts...)
	e.seed("Lead", leads...)

	// Every query must stay far inside Salesforce's limits: the URL as a
	// plain GET could send it, the statement under 100,000 characters.
	var longest atomic.Int64
	hook := func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/composite") || r.Body == nil {
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		var body struct {
			CompositeRequest []salesforce.CompositeSubrequest `json:"compositeRequest"`
		}
		_ = json.Unmarshal(b, &body)
		for _, sub := range body.CompositeRequest {
			if sub.Method == http.MethodGet && int64(len(sub.URL)) > longest.Load() {
				longest.Store(int64(len(sub.URL)))
			}
		}
	}
	e.dataHook.Store(&hook)
	o := e.open()
	start := e.calls()
	found, err := o.FindByEmail(ctx, emails)
	if n := longest.Load(); n == 0 || n > 16384-2048 {
		t.Errorf("longest query URL: got %d bytes; want 1..%d", n, 16384-2048)
	}
	if err != nil {
		t.Fatalf("FindByEmail: %v", err)
	}
	lookup := e.calls() - start
	if len(found) != 500 {
		t.Fatalf("found: got %d; want 500", len(found))
	}
	var missing []salesforce.SObject
	for i, email := range emails {
		m, ok := found[email]
		switch {
		case i%4 == 0 && (!ok || m.Rule != orgs.RuleContact):
			t.Errorf("match for %s: got %+v; want a Contact", email, m)
		case i%4 == 1 && (!ok || m.Rule != orgs.RuleLead):
			t.Errorf("match for %s: got %+v; want a Lead", email, m)
		case i%4 >= 2 && ok:
			t.Errorf("match for %s: got %+v; want none", email, m)
		}
		if !ok {
			rec := salesforce.NewSObject("Lead")
			rec["LastName"], rec["Company"], rec["Email"] = "New", "Co", email
			missing = append(missing, rec)
		}
	}

	mid := e.calls()
	res, err := o.Create(ctx, missing, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	create := e.calls() - mid
	for i, r := range res {
		if !r.Success || !strings.HasPrefix(r.ID, "00Q") {
			t.Fatalf("result %d: got %+v; want a created Lead", i, r)
		}
	}
	t.Logf("1,000 emails, 500 in Salesforce: lookup %d API calls, create of 500: %d API calls, %d in all; longest query URL %d bytes",
		lookup, create, lookup+create, longest.Load())
	if lookup > 2 {
		t.Errorf("lookup API calls: got %d; want <= 2", lookup)
	}
	if create > 1 {
		t.Errorf("create API calls: got %d; want <= 1", create)
	}
	if lookup+create > 4 {
		t.Errorf("API calls in all: got %d; want <= 4", lookup+create)
	}

	again, err := e.open().FindByEmail(ctx, emails)
	if err != nil {
		t.Fatalf("FindByEmail after create: %v", err)
	}
	if len(again) != 1000 {
		t.Errorf("found after create: got %d; want 1000", len(again))
	}
	for i, email := range emails {
		if i%4 >= 2 && !sameID(again[email].ID, res[(i/4)*2+i%4-2].ID) {
			t.Errorf("match for %s after create: got %+v; want Lead %s", email, again[email], res[(i/4)*2+i%4-2].ID)
		}
	}
	if got := len(e.sim.Records("Lead")); got != 750 {
		t.Errorf("Leads in the org: got %d; want 750", got)
	}
}

func TestFindByEmailResultIsKeyedByNormalizedEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	id := e.seed("Contact", map[string]any{"LastName": "K", "Email": "Mixed.Case@Example.COM"})[0]
	got, err := e.open().FindByEmail(context.Background(), []string{"  MIXED.case@example.com\t"})
	if err != nil {
		t.Fatalf("FindByEmail: %v", err)
	}
	key := ledger.NormalizeEmail("Mixed.Case@Example.COM")
	if m, ok := got[key]; !ok || !sameID(m.ID, id) {
		t.Errorf("match for %q: got %+v (all: %v); want Contact %s", key, m, got, id)
	}
}

func TestSplitInList(t *testing.T) {
	t.Parallel()
	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("someone.%04d@example.com", i))
	}
	long := strings.Repeat("é", 80)
	tests := []struct {
		name       string
		values     []string
		budget     salesforce.InListBudget
		wantGroups int
	}{
		{"none", nil, orgs.LookupBudget, 0},
		{"one", []string{"a@example.com"}, orgs.LookupBudget, 1},
		{"by count", many, salesforce.InListBudget{MaxValues: 300}, 4},
		{"by bytes", many, salesforce.InListBudget{MaxBytes: 4000}, 0},
		{"lookup budget", many, orgs.LookupBudget, 0},
		{"a value over the budget stands alone", []string{"a@x.io", long, "b@x.io"}, salesforce.InListBudget{MaxBytes: 100}, 3},
		{"quotes and backslashes count escaped", []string{`a'b@x.io`, `c\d@x.io`, `e"f@x.io`}, salesforce.InListBudget{MaxBytes: 30}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			groups := salesforce.SplitInList(tc.values, tc.budget)
			if tc.wantGroups > 0 && len(groups) != tc.wantGroups {
				t.Errorf("groups: got %d; want %d", len(groups), tc.wantGroups)
			}
			var joined []string
			for _, g := range groups {
				if len(g) == 0 {
					t.Errorf("group: got an empty one; want none empty")
				}
				joined = append(joined, g...)
				enc := len(url.QueryEscape(salesforce.QuoteList(g)))
				if len(g) > 1 && tc.budget.MaxBytes > 0 && enc > tc.budget.MaxBytes {
					t.Errorf("group of %d: got %d encoded bytes; want <= %d", len(g), enc, tc.budget.MaxBytes)
				}
				if tc.budget.MaxValues > 0 && len(g) > tc.budget.MaxValues {
					t.Errorf("group: got %d values; want <= %d", len(g), tc.budget.MaxValues)
				}
			}
			if strings.Join(joined, "\x00") != strings.Join(tc.values, "\x00") {
				t.Errorf("values: got %d in another order or changed; want all %d in order", len(joined), len(tc.values))
			}
		})
	}
}

func TestFindByEmailConcurrently(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	ids := e.seed("Contact",
		map[string]any{"LastName": "A", "Email": "shared.a@example.com"},
		map[string]any{"LastName": "B", "Email": "shared.b@example.com"})
	o := e.open()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := []string{"SHARED.A@example.com", "shared.b@EXAMPLE.com"}[i%2]
			got, err := o.FindByEmail(context.Background(), []string{email})
			if err != nil {
				errs <- err
				return
			}
			if m := got[ledger.NormalizeEmail(email)]; !sameID(m.ID, ids[i%2]) {
				errs <- fmt.Errorf("match for %s: got %+v; want %s", email, m, ids[i%2])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := e.db.updates.Load(); n != 1 {
		t.Errorf("usage writes: got %d; want 1", n)
	}
}

package org

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// saveErr is the first error of a SaveResult-like answer: a collection
// result ({success, errors}) or a REST error array.
func saveErr(body any) (code, msg, fields string) {
	var e map[string]any
	switch b := body.(type) {
	case map[string]any:
		if errs, _ := b["errors"].([]any); len(errs) > 0 {
			e, _ = errs[0].(map[string]any)
		}
	case []any:
		e = firstErr(b)
	}
	if e == nil {
		return "", "", ""
	}
	code, _ = e["statusCode"].(string)
	if c, ok := e["errorCode"].(string); ok {
		code = c
	}
	msg, _ = e["message"].(string)
	return code, msg, fmt.Sprint(e["fields"])
}

func TestOwnerOnCreate(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	active, err := o.SeedUser("rep@example.com", true, "")
	if err != nil {
		t.Fatal(err)
	}
	inactive, err := o.SeedUser("gone@example.com", false, "Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	unknown := makeID("005", "5g", 999999)
	inactiveMsg := func(object string) string {
		return "operation performed with inactive user [" + inactive[:15] + "] as owner of " + object
	}
	cases := []struct {
		name     string
		object   string
		owner    any // nil: no OwnerId; explicitNull: "OwnerId": null
		code     string
		msg      string
		fields   string
		wantOwnr string // the owner a created record has
	}{
		{"lead, no owner", "Lead", nil, "", "", "", o.UserID()},
		{"contact, active owner", "Contact", active, "", "", "", active},
		{"task, active owner as 15 characters", "Task", active[:15], "", "", "", active},
		{"lead, the lead queue", "Lead", o.QueueID(), "", "", "", o.QueueID()},
		{"account, inactive owner (allowed since Spring '15)", "Account", inactive, "", "", "", inactive},
		{"account, no owner", "Account", nil, "", "", "", o.UserID()},
		{"lead, unknown user", "Lead", unknown, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "[OwnerId]", ""},
		{"task, unknown user", "Task", unknown, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "[OwnerId]", ""},
		{"account, unknown user", "Account", unknown, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "[OwnerId]", ""},
		{"task, the lead queue", "Task", o.QueueID(), "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "[OwnerId]", ""},
		{"lead, another queue", "Lead", makeID("00G", "5g", 77), "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "[OwnerId]", ""},
		{"account, a queue", "Account", o.QueueID(), "FIELD_INTEGRITY_EXCEPTION", "Owner ID: id value of incorrect type: " + o.QueueID(), "[OwnerId]", ""},
		{"contact, a queue", "Contact", o.QueueID(), "FIELD_INTEGRITY_EXCEPTION", "Owner ID: id value of incorrect type: " + o.QueueID(), "[OwnerId]", ""},
		{"contact, not an id", "Contact", "rep@example.com", "MALFORMED_ID", "Owner ID: id value of incorrect type: rep@example.com", "[OwnerId]", ""},
		{"lead, inactive owner", "Lead", inactive, "INACTIVE_OWNER_OR_USER", inactiveMsg("lead"), "[]", ""},
		{"contact, inactive owner", "Contact", inactive, "INACTIVE_OWNER_OR_USER", inactiveMsg("contact"), "[]", ""},
		{"task, inactive owner", "Task", inactive, "INACTIVE_OWNER_OR_USER", inactiveMsg("task"), "[]", ""},
		{"contact, null owner", "Contact", explicitNull{}, "INVALID_CROSS_REFERENCE_KEY", "Owner ID: owner cannot be blank", "[OwnerId]", ""},
		{"lead, empty owner", "Lead", "", "INVALID_CROSS_REFERENCE_KEY", "Owner ID: owner cannot be blank", "[OwnerId]", ""},
	}
	record := func(path string, i int, object string, owner any) map[string]any {
		last := fmt.Sprintf("%s%d", path, i)
		rec := map[string]any{"attributes": map[string]any{"type": object}}
		switch object {
		case "Lead":
			rec["LastName"], rec["Company"] = last, "C"
		case "Contact":
			rec["LastName"] = last
		case "Account":
			rec["Name"] = last
		case "Task":
			rec["Subject"] = last
		}
		switch ow := owner.(type) {
		case nil:
		case explicitNull:
			rec["OwnerId"] = nil
		default:
			rec["OwnerId"] = ow
		}
		return rec
	}
	check := func(path string, i int, body any, id string) {
		t.Helper()
		tc := cases[i]
		code, msg, fields := saveErr(body)
		if code != tc.code || msg != tc.msg || (tc.code != "" && fields != tc.fields) {
			t.Errorf("%s: %s: got %q %q %s; want %q %q %s", path, tc.name, code, msg, fields, tc.code, tc.msg, tc.fields)
			return
		}
		if tc.code != "" {
			if id != "" {
				t.Errorf("%s: %s: got id %s; want none for a failed create", path, tc.name, id)
			}
			return
		}
		rec, ok := o.Record(tc.object, id)
		if !ok || rec["OwnerId"] != tc.wantOwnr {
			t.Errorf("%s: %s: got owner %v (found %v); want %v", path, tc.name, rec["OwnerId"], ok, tc.wantOwnr)
		}
	}

	// sObject create, one call each
	for i, tc := range cases {
		rec := record("one", i, tc.object, tc.owner)
		delete(rec, "attributes")
		r := c.do("POST", v+"/sobjects/"+tc.object, rec)
		id, _ := mapOf(r.body)["id"].(string)
		if (r.status == 201) != (tc.code == "") {
			t.Errorf("one: %s: got %d %s; want %s", tc.name, r.status, r.raw, map[bool]string{true: "201", false: "400"}[tc.code == ""])
		}
		check("one", i, r.body, id)
	}

	// sObject Collections: every case in one request of mixed records
	// (contiguous types: at most 10 chunks)
	order := make([]int, len(cases))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return cases[order[a]].object < cases[order[b]].object })
	var recs []any
	for _, i := range order {
		recs = append(recs, record("coll", i, cases[i].object, cases[i].owner))
	}
	r := c.do("POST", v+"/composite/sobjects", map[string]any{"allOrNone": false, "records": recs})
	if r.status != 200 {
		t.Fatalf("collection: got %d %s; want 200", r.status, r.raw)
	}
	for j, i := range order {
		res := r.body.([]any)[j].(map[string]any)
		id, _ := res["id"].(string)
		if res["success"] != (cases[i].code == "") {
			t.Errorf("collection: %s: got success %v; want %v", cases[i].name, res["success"], cases[i].code == "")
		}
		check("collection", i, res, id)
	}

	// composite: each case a create subrequest (up to 25 a call)
	var subs []any
	for i, tc := range cases {
		rec := record("comp", i, tc.object, tc.owner)
		delete(rec, "attributes")
		subs = append(subs, map[string]any{"method": "POST", "url": v + "/sobjects/" + tc.object, "referenceId": fmt.Sprintf("r%d", i), "body": rec})
	}
	r = c.do("POST", v+"/composite", map[string]any{"allOrNone": false, "compositeRequest": subs})
	if r.status != 200 {
		t.Fatalf("composite: got %d %s; want 200", r.status, r.raw)
	}
	for _, x := range r.body.(map[string]any)["compositeResponse"].([]any) {
		sub := x.(map[string]any)
		var i int
		fmt.Sscanf(sub["referenceId"].(string), "r%d", &i)
		id, _ := mapOf(sub["body"])["id"].(string)
		check("composite", i, sub["body"], id)
	}

	// Seed: the same validation, one record at a time
	for i, tc := range cases {
		rec := record("seed", i, tc.object, tc.owner)
		delete(rec, "attributes")
		ids, err := o.Seed(tc.object, rec)
		var id string
		var body any = map[string]any{"errors": []any{}}
		if se, ok := err.(*SaveError); ok {
			e := se.Errors[0]
			body = map[string]any{"errors": []any{map[string]any{"statusCode": e.Code, "message": e.Message, "fields": anyList(e.Fields)}}}
		} else if err != nil {
			t.Errorf("seed: %s: got %v; want a *SaveError or nil", tc.name, err)
			continue
		} else {
			id = ids[0]
		}
		check("seed", i, body, id)
	}
}

type explicitNull struct{}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func anyList(s []string) []any {
	out := []any{}
	for _, x := range s {
		out = append(out, x)
	}
	return out
}

func TestInactiveOwnerOnUpdate(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	c := newClient(t, o)
	rep, _ := o.SeedUser("rep@example.com", true, "")
	lead := mustSeed(t, o, "Lead", map[string]any{"LastName": "L", "Company": "C", "OwnerId": rep})[0]
	// an admin deactivates the rep (the HTTP switch)
	sc := &client{t: t, base: base, hc: http.DefaultClient}
	if r := sc.do("PUT", "/_sim/user-active", map[string]any{"id": rep, "active": false}); r.status != 204 {
		t.Fatalf("deactivate over HTTP: got %d %s; want 204", r.status, r.raw)
	}
	if u := recordsOf(t, c.query("SELECT IsActive FROM User WHERE Id = '"+rep+"'")); len(u) != 1 || u[0]["IsActive"] != false {
		t.Errorf("deactivated rep: got %v; want IsActive false", u)
	}
	r := c.do("PATCH", v+"/sobjects/Lead/"+lead, map[string]any{"OwnerId": rep})
	if code, _, _ := saveErr(r.body); r.status != 400 || code != "INACTIVE_OWNER_OR_USER" {
		t.Errorf("give a lead to an inactive user: got %d %s; want 400 INACTIVE_OWNER_OR_USER", r.status, r.raw)
	}
	if err := o.SetUserActiveByID(rep, true); err != nil {
		t.Fatal(err)
	}
	if r = c.do("PATCH", v+"/sobjects/Lead/"+lead, map[string]any{"OwnerId": rep}); r.status != 204 {
		t.Errorf("after reactivation: got %d %s; want 204", r.status, r.raw)
	}
	if err := o.SetUserActiveByID(makeID("005", "5g", 424242), false); err == nil {
		t.Errorf("SetUserActiveByID of an unknown user: got nil; want an error")
	}
}

func TestLeadAssignmentOverridesExplicitOwner(t *testing.T) {
	t.Parallel()
	probe := New(Config{})
	o, _ := testOrg(t, Config{LeadQueue: probe.QueueID()})
	c := newClient(t, o)
	rep, _ := o.SeedUser("rep@example.com", true, "")
	cases := []struct {
		path   string
		header string // "" sends none
		owner  string // "" sends none
		want   string
	}{
		{"one", "", rep, o.QueueID()},
		{"one", "TRUE", rep, o.QueueID()},
		{"one", "FALSE", rep, rep},
		{"one", "false", "", o.UserID()},
		{"collection", "", rep, o.QueueID()},
		{"collection", "FALSE", rep, rep},
		{"composite", "", rep, o.QueueID()},
		{"composite", "FALSE", rep, rep},
	}
	for i, tc := range cases {
		rec := map[string]any{"LastName": fmt.Sprintf("Assigned%d", i), "Company": "C"}
		if tc.owner != "" {
			rec["OwnerId"] = tc.owner
		}
		var hdr []string
		if tc.header != "" {
			hdr = []string{"Sforce-Auto-Assign", tc.header}
		}
		var id string
		switch tc.path {
		case "one":
			id, _ = mapOf(c.do("POST", v+"/sobjects/Lead", rec, hdr...).body)["id"].(string)
		case "collection":
			rec["attributes"] = map[string]any{"type": "Lead"}
			r := c.do("POST", v+"/composite/sobjects", map[string]any{"records": []any{rec}}, hdr...)
			if arr, ok := r.body.([]any); ok {
				id, _ = mapOf(arr[0])["id"].(string)
			}
		case "composite":
			sub := map[string]any{"method": "POST", "url": v + "/sobjects/Lead", "referenceId": "lead", "body": rec}
			if tc.header != "" {
				sub["httpHeaders"] = map[string]string{"Sforce-Auto-Assign": tc.header}
			}
			r := c.do("POST", v+"/composite", map[string]any{"compositeRequest": []any{sub}})
			if arr, ok := mapOf(r.body)["compositeResponse"].([]any); ok {
				id, _ = mapOf(mapOf(arr[0])["body"])["id"].(string)
			}
		}
		got, _ := o.Record("Lead", id)
		if got["OwnerId"] != tc.want {
			t.Errorf("%s, Sforce-Auto-Assign %q, OwnerId %q: got owner %v; want %v", tc.path, tc.header, tc.owner, got["OwnerId"], tc.want)
		}
	}
}

func TestAccountsAndContactAccountId(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	clock := newClock()
	o.mu.Lock()
	o.now = func() time.Time { clock.advance(time.Second); return clock.now() }
	o.mu.Unlock()
	c := newClient(t, o)
	existing := mustSeed(t, o, "Account", map[string]any{"Name": "Gamma LLC", "Website": "https://gamma.dev"})[0]
	lead := mustSeed(t, o, "Lead", map[string]any{"LastName": "L", "Company": "C"})[0]
	gone := mustSeed(t, o, "Account", map[string]any{"Name": "Gone"})[0]
	if r := c.do("DELETE", v+"/sobjects/Account/"+gone, nil); r.status != 204 {
		t.Fatalf("delete: got %d; want 204", r.status)
	}
	acc := func(name, site string) map[string]any {
		r := map[string]any{"attributes": map[string]any{"type": "Account"}, "Name": name}
		if site != "" {
			r["Website"] = site
		}
		return r
	}
	con := func(last, account string) map[string]any {
		return map[string]any{"attributes": map[string]any{"type": "Contact"}, "LastName": last, "Email": strings.ToLower(last) + "@example.com", "AccountId": account}
	}
	before := o.Stats().Total
	r := c.do("POST", v+"/composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
		acc("Acme Inc", "https://www.acme.com"),
		acc("Beta", "beta.io/about"),
		acc("", "https://nameless.example"),
		acc("Long", "https://"+strings.Repeat("w", 250)+".com"),
		con("Fine", existing),
		con("Unknown", makeID("001", "5g", 888888)),
		con("Deleted", gone),
		con("Lead", lead),
		con("Malformed", "acme"),
	}})
	if r.status != 200 {
		t.Fatalf("collection: got %d %s; want 200", r.status, r.raw)
	}
	if got := o.Stats().Total - before; got != 1 {
		t.Errorf("API calls for one collection: got %d; want 1", got)
	}
	want := []struct{ code, fields string }{
		{"", ""}, {"", ""},
		{"REQUIRED_FIELD_MISSING", "[Name]"},
		{"STRING_TOO_LONG", "[Website]"},
		{"", ""},
		{"INVALID_CROSS_REFERENCE_KEY", "[AccountId]"},
		{"INVALID_CROSS_REFERENCE_KEY", "[AccountId]"},
		{"FIELD_INTEGRITY_EXCEPTION", "[AccountId]"},
		{"MALFORMED_ID", "[AccountId]"},
	}
	res := r.body.([]any)
	for i, w := range want {
		code, _, fields := saveErr(res[i])
		if code != w.code || (w.code != "" && fields != w.fields) {
			t.Errorf("record %d: got %q %s; want %q %s", i, code, fields, w.code, w.fields)
		}
	}
	acme := mapOf(res[0])["id"].(string)
	beta := mapOf(res[1])["id"].(string)

	names := func(q string) string {
		var out []string
		for _, rec := range recordsOf(t, c.query(q)) {
			out = append(out, fmt.Sprint(rec["Name"]))
		}
		return strings.Join(out, ",")
	}
	queries := []struct{ q, want string }{
		{"SELECT Id, Name, Website, OwnerId, CreatedDate FROM Account WHERE Website LIKE '%acme.com%' OR Website LIKE '%beta.io%' ORDER BY CreatedDate", "Acme Inc,Beta"},
		{"SELECT Id, Name FROM Account WHERE Website LIKE '%acme.com%' OR Website LIKE '%beta.io%' ORDER BY CreatedDate DESC", "Beta,Acme Inc"},
		{"SELECT Name FROM Account WHERE Name IN ('ACME INC', 'beta', 'nobody') ORDER BY Name", "Acme Inc,Beta"},
		{"SELECT Name FROM Account WHERE Website LIKE '%.dev' ORDER BY CreatedDate", "Gamma LLC"},
		{"SELECT Name FROM Account WHERE OwnerId = '" + o.UserID() + "' ORDER BY CreatedDate", "Gamma LLC,Acme Inc,Beta"},
	}
	for _, tc := range queries {
		if got := names(tc.q); got != tc.want {
			t.Errorf("%s: got %s; want %s", tc.q, got, tc.want)
		}
	}
	mustSeed(t, o, "Contact", map[string]any{"LastName": "AtAcme", "Email": "a@acme.com", "AccountId": acme},
		map[string]any{"LastName": "AtBeta", "Email": "b@beta.io", "AccountId": beta[:15]})
	var got []string
	for _, rec := range recordsOf(t, c.query("SELECT AccountId, Email FROM Contact WHERE AccountId IN ('"+acme+"', '"+beta+"') ORDER BY Email")) {
		got = append(got, fmt.Sprintf("%v=%v", rec["Email"], rec["AccountId"]))
	}
	if want := "a@acme.com=" + acme + ",b@beta.io=" + beta; strings.Join(got, ",") != want {
		t.Errorf("contacts by account: got %v; want %s (18-character AccountIds)", got, want)
	}
}

func TestPrivateContacts(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	acc := mustSeed(t, o, "Account", map[string]any{"Name": "Acme", "OwnerId": o.OtherUserID()})[0]
	mustSeed(t, o, "Contact",
		map[string]any{"LastName": "MinePrivate", "Email": "mine@example.com"},
		map[string]any{"LastName": "TheirsPrivate", "Email": "theirs@example.com", "OwnerId": o.OtherUserID()},
		map[string]any{"LastName": "TheirsAtAcme", "Email": "acme@example.com", "OwnerId": o.OtherUserID(), "AccountId": acc})
	visible := func() string {
		var out []string
		for _, r := range recordsOf(t, c.query("SELECT LastName FROM Contact ORDER BY LastName")) {
			out = append(out, r["LastName"].(string))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name        string
		viewAllData bool
		viewAll     bool
		sharing     Sharing
		want        string
	}{
		{"default org (no View All Data)", false, false, SharingPublic, "MinePrivate,TheirsAtAcme"},
		{"View All Data", true, false, SharingPublic, "MinePrivate,TheirsAtAcme,TheirsPrivate"},
		{"View All on Contact is not enough", false, true, SharingPublic, "MinePrivate,TheirsAtAcme"},
		{"private sharing", false, false, SharingPrivate, "MinePrivate"},
		{"private sharing, View All Data", true, false, SharingPrivate, "MinePrivate,TheirsAtAcme,TheirsPrivate"},
	}
	for _, tc := range cases {
		o.SetViewAllData(tc.viewAllData)
		_ = o.SetViewAll("Contact", tc.viewAll)
		_ = o.SetSharing("Contact", tc.sharing)
		if got := visible(); got != tc.want {
			t.Errorf("%s: got %s; want %s", tc.name, got, tc.want)
		}
	}
	o.SetViewAllData(false)
	_ = o.SetViewAll("Contact", false)
	_ = o.SetSharing("Contact", SharingPublic)
	// the duplicate rule still sees the hidden private contact
	r := c.do("POST", v+"/sobjects/Contact", map[string]any{"LastName": "TheirsPrivate", "Email": "theirs@example.com"})
	if code, _, _ := saveErr(r.body); r.status != 400 || code != "DUPLICATES_DETECTED" {
		t.Errorf("duplicate of a private contact: got %d %s; want 400 DUPLICATES_DETECTED", r.status, r.raw)
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{Email: "Admin@Example.com", Username: "admin@example.com.sfsim"})
	c := newClient(t, o)
	rep, err := o.SeedUser("Rep.One@Example.com", true, "Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	sc := &client{t: t, base: base, hc: http.DefaultClient}
	r := sc.do("POST", "/_sim/records/User", map[string]any{"FirstName": "Old", "LastName": "Rep", "Email": "old.rep@example.com", "IsActive": false})
	if r.status != 201 {
		t.Fatalf("seed a user over HTTP: got %d %s; want 201", r.status, r.raw)
	}
	old := mapOf(r.body)["ids"].([]any)[0].(string)
	// left out, IsActive is true and the time zone the org's
	plain, err := o.Seed("User", map[string]any{"LastName": "Plain", "Email": "plain@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep, "005") || !strings.HasPrefix(old, "005") {
		t.Errorf("user ids: got %s, %s; want the 005 key prefix", rep, old)
	}
	type row struct {
		id, email, tz, name string
		active              bool
	}
	rows := func(q string) []row {
		var out []row
		for _, x := range recordsOf(t, c.query(q)) {
			out = append(out, row{x["Id"].(string), fmt.Sprint(x["Email"]), fmt.Sprint(x["TimeZoneSidKey"]), fmt.Sprint(x["Name"]), x["IsActive"] == true})
		}
		return out
	}
	cases := []struct {
		q    string
		want []row
	}{
		{"SELECT Id, Email, IsActive, TimeZoneSidKey, Name FROM User WHERE Email IN ('rep.one@example.com', 'OLD.REP@EXAMPLE.COM', 'admin@example.com') ORDER BY Email",
			[]row{{o.UserID(), "Admin@Example.com", "America/Los_Angeles", "Sim Admin", true}, {old, "old.rep@example.com", "America/Los_Angeles", "Old Rep", false}, {rep, "Rep.One@Example.com", "Europe/Paris", "Rep.One", true}}},
		{"SELECT Id, Email, IsActive, TimeZoneSidKey, Name FROM User WHERE Id = '" + o.OtherUserID() + "'",
			[]row{{o.OtherUserID(), OtherUserEmail, "America/Los_Angeles", "Other User", true}}},
		{"SELECT Id, Email, IsActive, TimeZoneSidKey, Name FROM User WHERE Username = 'PLAIN@example.com'",
			[]row{{plain[0], "plain@example.com", "America/Los_Angeles", "Plain", true}}},
		{"SELECT Id, Email, IsActive, TimeZoneSidKey, Name FROM User WHERE IsActive = false",
			[]row{{old, "old.rep@example.com", "America/Los_Angeles", "Old Rep", false}}},
	}
	for _, tc := range cases {
		if got := rows(tc.q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v; want %v", tc.q, got, tc.want)
		}
	}
	// every user sees every User, whatever the sharing
	_ = o.SetSharing("Contact", SharingPrivate)
	if n := len(rows("SELECT Id, Email, IsActive, TimeZoneSidKey, Name FROM User")); n != 5 {
		t.Errorf("all users: got %d; want 5", n)
	}
	// SetUserActive shows on the API user's record
	o.SetUserActive(false)
	rec, _ := o.Record("User", o.UserID())
	o.SetUserActive(true)
	after, _ := o.Record("User", o.UserID())
	if rec["IsActive"] != false || after["IsActive"] != true {
		t.Errorf("API user's IsActive after SetUserActive(false), (true): got %v, %v; want false, true", rec["IsActive"], after["IsActive"])
	}
	// seeding validates what Setup would
	for _, tc := range []struct {
		name string
		rec  map[string]any
		code string
	}{
		{"bad time zone", map[string]any{"LastName": "X", "Email": "x@example.com", "TimeZoneSidKey": "Mars/Base"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"},
		{"duplicate username", map[string]any{"LastName": "X", "Email": "x@example.com", "Username": "REP.ONE@example.com"}, "DUPLICATE_USERNAME"},
		{"no email", map[string]any{"LastName": "X"}, "REQUIRED_FIELD_MISSING"},
	} {
		_, err := o.Seed("User", tc.rec)
		se, ok := err.(*SaveError)
		if !ok || se.Errors[0].Code != tc.code {
			t.Errorf("seed user, %s: got %v; want %s", tc.name, err, tc.code)
		}
	}
}

func TestUserWritesAreRefused(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	before := len(o.Records("User"))
	user := map[string]any{"LastName": "New", "Email": "new@example.com", "Username": "new@example.com", "TimeZoneSidKey": "GMT"}
	cases := []struct {
		name   string
		method string
		path   string
		body   any
	}{
		{"create", "POST", v + "/sobjects/User", user},
		{"update", "PATCH", v + "/sobjects/User/" + o.OtherUserID(), map[string]any{"IsActive": false}},
		{"delete", "DELETE", v + "/sobjects/User/" + o.OtherUserID(), nil},
	}
	for _, tc := range cases {
		want := "INSUFFICIENT_ACCESS_OR_READONLY"
		if tc.method == "DELETE" {
			want = "INVALID_TYPE_FOR_OPERATION" // User supports no delete()
		}
		r := c.do(tc.method, tc.path, tc.body)
		if code, _, _ := saveErr(r.body); r.status != 400 || code != want {
			t.Errorf("%s: got %d %s; want 400 %s", tc.name, r.status, r.raw, want)
		}
	}
	rec := map[string]any{"attributes": map[string]any{"type": "User"}}
	for k, val := range user {
		rec[k] = val
	}
	r := c.do("POST", v+"/composite/sobjects", map[string]any{"records": []any{rec,
		map[string]any{"attributes": map[string]any{"type": "Lead"}, "LastName": "Fine", "Company": "C"}}})
	res, _ := r.body.([]any)
	if code, _, _ := saveErr(res[0]); len(res) != 2 || code != "INSUFFICIENT_ACCESS_OR_READONLY" || mapOf(res[1])["success"] != true {
		t.Errorf("collection with a user: got %s; want the user refused, the lead created", r.raw)
	}
	if after := len(o.Records("User")); after != before {
		t.Errorf("users after refused writes: got %d; want %d", after, before)
	}
	if r := c.do("GET", v+"/sobjects/User/"+o.OtherUserID(), nil); r.status != 200 || mapOf(r.body)["Email"] != OtherUserEmail {
		t.Errorf("read a user: got %d %s; want 200 with its Email", r.status, r.raw)
	}
	d := c.do("GET", v+"/sobjects/User/describe", nil)
	if d.status != 200 || mapOf(d.body)["keyPrefix"] != "005" || mapOf(d.body)["createable"] != true || mapOf(d.body)["deletable"] != false {
		t.Errorf("describe User: got %d %v; want 200, keyPrefix 005, createable (as Salesforce always says), not deletable", d.status, d.body)
	}
}

func TestIdentityTimeZone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tz     string
		want   string
		offset float64
	}{
		{"default: a US org", "", "America/Los_Angeles", -8 * 3600 * 1000},
		{"Config.TimeZone", "Europe/Paris", "Europe/Paris", 3600 * 1000},
		{"southern hemisphere", "Australia/Sydney", "Australia/Sydney", 10 * 3600 * 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, base := testOrg(t, Config{TimeZone: tc.tz})
			c := newClient(t, o)
			r := c.do("GET", base+"/id/"+o.OrgID()+"/"+o.UserID(), nil)
			if r.status != 200 {
				t.Fatalf("identity: got %d %s; want 200", r.status, r.raw)
			}
			id := mapOf(r.body)
			if id["timezone"] != tc.want || id["utcOffset"] != tc.offset || id["active"] != true {
				t.Errorf("identity: got timezone %v, utcOffset %v, active %v; want %s, %v, true", id["timezone"], id["utcOffset"], id["active"], tc.want, tc.offset)
			}
			u := recordsOf(t, c.query("SELECT TimeZoneSidKey FROM User WHERE Id = '"+o.UserID()+"'"))
			if len(u) != 1 || u[0]["TimeZoneSidKey"] != tc.want {
				t.Errorf("API user's TimeZoneSidKey: got %v; want %s", u, tc.want)
			}
		})
	}
}

func TestRecordsPageNamesOwnersAndAccounts(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	rep := mustSeed(t, o, "User", map[string]any{"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@example.com"})[0]
	acc := mustSeed(t, o, "Account", map[string]any{"Name": "Acme Widgets"})[0]
	mustSeed(t, o, "Contact", map[string]any{"LastName": "Hopper", "AccountId": acc, "OwnerId": rep})
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	// each id is followed by its name: the contact's owner and account,
	// the account's owner (the API user)
	for _, want := range []string{"<th>OwnerId</th><th>Owner</th>", "<th>AccountId</th><th>Account</th>",
		"<td>" + rep + "</td><td>Grace Hopper</td>", "<td>" + acc + "</td><td>Acme Widgets</td>", "<td>" + o.UserID() + "</td><td>Sim Admin</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("records page: got no %q; want it", want)
		}
	}
}

package org

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordsOf returns a query answer's records.
func recordsOf(t *testing.T, r result) []map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("query: got %d %s; want 200", r.status, r.raw)
	}
	var out []map[string]any
	for _, x := range r.body.(map[string]any)["records"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func TestDefaultDuplicateRulesMatchNamePlusOneMore(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	acc := mustSeed(t, o, "Account", map[string]any{"Name": "Acme"})[0]
	mustSeed(t, o, "Contact", map[string]any{"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@navy.example",
		"Phone": "+1 (555) 010-2000", "Title": "Rear Admiral", "AccountId": acc})
	mustSeed(t, o, "Lead", map[string]any{"FirstName": "Alan", "LastName": "Turing", "Company": "Bletchley", "Title": "Cryptanalyst"})
	cases := []struct {
		name   string
		object string
		rec    map[string]any
		dup    bool
	}{
		{"same name, same phone, another email", "Contact", map[string]any{"FirstName": "Grace", "LastName": "Hopper", "Email": "g.hopper@other.example", "Phone": "555-010-2000 x"}, true},
		{"initial and same email", "Contact", map[string]any{"FirstName": "G.", "LastName": "hopper", "Email": "GRACE@navy.example"}, true},
		{"same email, another name", "Contact", map[string]any{"FirstName": "Ada", "LastName": "Byron", "Email": "grace@navy.example"}, false},
		{"same name only", "Contact", map[string]any{"FirstName": "Grace", "LastName": "Hopper", "Email": "x@other.example"}, false},
		{"lead vs contact: name and title and company", "Lead", map[string]any{"FirstName": "Grace", "LastName": "Hopper", "Company": "ACME", "Title": "rear admiral"}, true},
		{"lead: name and title, another company", "Lead", map[string]any{"FirstName": "Alan", "LastName": "Turing", "Company": "Manchester", "Title": "Cryptanalyst"}, false},
		{"lead: name, title and company", "Lead", map[string]any{"FirstName": "Alan", "LastName": "Turing", "Company": "Bletchley", "Title": "Cryptanalyst"}, true},
	}
	for _, tc := range cases {
		r := c.do("POST", v+"/sobjects/"+tc.object, tc.rec)
		got := r.status == 400 && errorsOf(r.body)[0] == "DUPLICATES_DETECTED"
		if got != tc.dup || (!tc.dup && r.status != 201) {
			t.Errorf("%s: got %d %s; want duplicate %v", tc.name, r.status, r.raw, tc.dup)
		}
		if got && firstErr(r.body)["duplicateResut"].(map[string]any)["allowSave"] != true {
			t.Errorf("%s: got %s; want an alert rule (allowSave true)", tc.name, r.raw)
		}
	}
	// the alert rule yields to the allowSave header
	r := c.do("POST", v+"/sobjects/Contact", cases[0].rec, "Sforce-Duplicate-Rule-Header", "allowSave=true")
	if r.status != 201 {
		t.Errorf("allowSave=true: got %d %s; want 201", r.status, r.raw)
	}
	// an update that makes a record match runs the rule too
	id := c.do("POST", v+"/sobjects/Contact", map[string]any{"FirstName": "Grace", "LastName": "Brewster"}).body.(map[string]any)["id"].(string)
	if r := c.do("PATCH", v+"/sobjects/Contact/"+id, map[string]any{"LastName": "Hopper", "Phone": "5550102000"}); r.status != 400 {
		t.Errorf("update into a duplicate: got %d %s; want 400 DUPLICATES_DETECTED", r.status, r.raw)
	}
}

func TestLenientOrgHasNoDuplicateRule(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{Lenient: true})
	c := newClient(t, o)
	mustSeed(t, o, "Lead", map[string]any{"FirstName": "Alan", "LastName": "Turing", "Company": "B", "Email": "alan@example.com"})
	if r := c.do("POST", v+"/sobjects/Lead", map[string]any{"FirstName": "Alan", "LastName": "Turing", "Company": "B", "Email": "alan@example.com"}); r.status != 201 {
		t.Errorf("lenient duplicate: got %d %s; want 201", r.status, r.raw)
	}
}

func TestLengthsCountUTF16Units(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	const emoji = "😀" // 1 rune, 2 UTF-16 units
	cases := []struct {
		name   string
		object string
		rec    map[string]any
		ok     bool
	}{
		{"title of 64 emoji (128 units)", "Lead", map[string]any{"LastName": "L", "Company": "C", "Title": strings.Repeat(emoji, 64)}, true},
		{"title of 65 emoji (130 units)", "Lead", map[string]any{"LastName": "L", "Company": "C", "Title": strings.Repeat(emoji, 65)}, false},
		{"title of 128 accented letters (one unit each)", "Lead", map[string]any{"LastName": "L", "Company": "C", "Title": strings.Repeat("é", 128)}, true},
		{"subject of 127 emoji and a letter (255 units)", "Task", map[string]any{"Subject": strings.Repeat(emoji, 127) + "a"}, true},
		{"subject of 128 emoji (256 units)", "Task", map[string]any{"Subject": strings.Repeat(emoji, 128)}, false},
	}
	for _, tc := range cases {
		r := c.do("POST", v+"/sobjects/"+tc.object, tc.rec)
		if tc.ok && r.status != 201 {
			t.Errorf("%s: got %d %s; want 201", tc.name, r.status, r.raw)
		}
		if !tc.ok && (r.status != 400 || errorsOf(r.body)[0] != "STRING_TOO_LONG") {
			t.Errorf("%s: got %d %s; want 400 STRING_TOO_LONG", tc.name, r.status, r.raw)
		}
	}
}

func TestTaskStatusesFromTheOrg(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	// the default org's admin relabeled Completed "Done": the API name stays
	recs := recordsOf(t, c.query("SELECT ApiName, MasterLabel, IsClosed, IsDefault FROM TaskStatus WHERE IsClosed = true"))
	if len(recs) != 1 || recs[0]["MasterLabel"] != "Done" || recs[0]["ApiName"] != "Completed" {
		t.Fatalf("closed statuses: got %v; want ApiName Completed, MasterLabel Done", recs)
	}
	if r := c.do("POST", v+"/sobjects/Task", map[string]any{"Subject": "s", "Status": "Done"}); r.status != 400 || errorsOf(r.body)[0] != "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" {
		t.Errorf("Status Done (a label): got %d %s; want 400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", r.status, r.raw)
	}
	r := c.do("POST", v+"/sobjects/Task", map[string]any{"Subject": "s", "Status": "Completed"})
	if r.status != 201 {
		t.Fatalf("Status Completed: got %d %s; want 201", r.status, r.raw)
	}
	if rec, _ := o.Record("Task", r.body.(map[string]any)["id"].(string)); rec["IsClosed"] != true || rec["CompletedDateTime"] == nil {
		t.Errorf("task with Completed: got IsClosed %v CompletedDateTime %v; want closed", rec["IsClosed"], rec["CompletedDateTime"])
	}
	if r := c.do("POST", v+"/sobjects/TaskStatus", map[string]any{"MasterLabel": "x"}); r.status != 400 || errorsOf(r.body)[0] != "INVALID_TYPE_FOR_OPERATION" {
		t.Errorf("create TaskStatus: got %d %s; want 400 INVALID_TYPE_FOR_OPERATION", r.status, r.raw)
	}
	// an admin edits the statuses, the API name too: describe and TaskStatus follow
	if err := o.SetTaskStatuses([]TaskStatus{{Label: "Open", Default: true}, {Label: "Logged", APIName: "Logged_Email", Closed: true}}); err != nil {
		t.Fatal(err)
	}
	recs = recordsOf(t, c.query("SELECT ApiName, MasterLabel FROM TaskStatus WHERE IsClosed = true"))
	if len(recs) != 1 || recs[0]["MasterLabel"] != "Logged" || recs[0]["ApiName"] != "Logged_Email" {
		t.Errorf("closed statuses after edit: got %v; want Logged_Email labeled Logged", recs)
	}
	if r := c.do("POST", v+"/sobjects/Task", map[string]any{"Subject": "s", "Status": "Logged_Email"}); r.status != 201 {
		t.Errorf("Status Logged_Email: got %d %s; want 201", r.status, r.raw)
	}
	if err := o.SetTaskStatuses([]TaskStatus{{Label: "Open", Default: true}, {Label: "Closed", APIName: "Open", Closed: true}}); err == nil {
		t.Errorf("repeated API name: got nil; want an error")
	}
}

func TestSharingHidesOthersRecords(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	mustSeed(t, o, "Lead", map[string]any{"LastName": "Mine", "Company": "C", "Email": "mine@example.com"},
		map[string]any{"LastName": "Theirs", "Company": "C", "Email": "theirs@example.com", "OwnerId": o.OtherUserID()})
	count := func() int { return len(recordsOf(t, c.query("SELECT Id FROM Lead"))) }
	if n := count(); n != 2 {
		t.Errorf("public sharing (a new org's default): got %d leads; want 2", n)
	}
	access := func() string {
		return fmt.Sprint(recordsOf(t, c.query("SELECT DefaultLeadAccess FROM Organization"))[0]["DefaultLeadAccess"])
	}
	if a := access(); a != "ReadEditTransfer" {
		t.Errorf("DefaultLeadAccess: got %s; want ReadEditTransfer", a)
	}
	if err := o.SetSharing("Lead", SharingPrivate); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("private sharing: got %d leads; want only the API user's 1", n)
	}
	if a := access(); a != "None" {
		t.Errorf("DefaultLeadAccess: got %s; want None", a)
	}
	// the permission queries a readiness check runs see the missing grant
	ps := recordsOf(t, c.query("SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = '"+o.UserID()+"'"))
	if len(ps) != 1 {
		t.Fatalf("assignments: got %v; want the profile's permission set", ps)
	}
	psID := ps[0]["PermissionSetId"].(string)
	viewAll := func() string {
		var got []string
		for _, r := range recordsOf(t, c.query("SELECT SobjectType, PermissionsViewAllRecords FROM ObjectPermissions WHERE ParentId IN ('"+psID+"') AND SobjectType IN ('Lead', 'Contact') ORDER BY SobjectType")) {
			got = append(got, fmt.Sprintf("%v=%v", r["SobjectType"], r["PermissionsViewAllRecords"]))
		}
		return strings.Join(got, ",")
	}
	if got := viewAll(); got != "Contact=false,Lead=false" {
		t.Errorf("view all: got %s; want Contact=false,Lead=false", got)
	}
	if err := o.SetViewAll("Lead", true); err != nil {
		t.Fatal(err)
	}
	if n, got := count(), viewAll(); n != 2 || got != "Contact=false,Lead=true" {
		t.Errorf("with View All on Lead: got %d leads, %s; want 2, Contact=false,Lead=true", n, got)
	}
	_ = o.SetViewAll("Lead", false)
	o.SetViewAllData(true)
	vad := recordsOf(t, c.query("SELECT PermissionsViewAllData FROM PermissionSet WHERE Id IN ('"+psID+"')"))
	if n := count(); n != 2 || vad[0]["PermissionsViewAllData"] != true {
		t.Errorf("with View All Data: got %d leads, %v; want 2, true", n, vad)
	}
	o.SetViewAllData(false)
	// the duplicate rule still sees the hidden record
	r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "Theirs", "Company": "C", "Email": "theirs@example.com"})
	if r.status != 400 || errorsOf(r.body)[0] != "DUPLICATES_DETECTED" {
		t.Errorf("duplicate of a hidden record: got %d %s; want 400 DUPLICATES_DETECTED", r.status, r.raw)
	}
}

func TestConcurrentLongRequestLimit(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{LongRequest: time.Nanosecond})
	c := newClient(t, o)
	o.SetLatency(time.Hour) // every call is long-running until cancelled
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", c.base+v+"/limits", nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	for o.InFlight() < 25 {
		time.Sleep(time.Millisecond) // waiting for the 25 requests to arrive, not for time to pass
	}
	r := c.do("GET", v+"/limits", nil)
	if r.status != 403 || errorsOf(r.body)[0] != "REQUEST_LIMIT_EXCEEDED" || firstErr(r.body)["message"] != "ConcurrentPerOrgLongTxn Limit exceeded." {
		t.Errorf("26th long request: got %d %s; want 403 REQUEST_LIMIT_EXCEEDED ConcurrentPerOrgLongTxn", r.status, r.raw)
	}
	if st := o.Stats(); st.Total != 0 || o.ConcurrencyRefusals() != 1 {
		t.Errorf("counting: got %d calls, %d refusals; want 0 and 1 (a refusal is not counted)", st.Total, o.ConcurrencyRefusals())
	}
	cancel()
	wg.Wait()
	for o.InFlight() > 0 {
		time.Sleep(time.Millisecond) // waiting for the org to see the cancellations
	}
	o.SetLatency(0)
	if r := c.do("GET", v+"/limits", nil); r.status != 200 {
		t.Errorf("after the long requests ended: got %d %s; want 200", r.status, r.raw)
	}
}

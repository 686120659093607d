package org

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantCode   string
		wantHTML   bool
	}{
		{"server unavailable", Fault{Method: "POST", PathPrefix: "/services/data/", ErrorCode: "SERVER_UNAVAILABLE"}, 503, "SERVER_UNAVAILABLE", false},
		{"lock row 400", Fault{PathRegexp: `/sobjects/Lead$`, ErrorCode: "UNABLE_TO_LOCK_ROW"}, 400, "UNABLE_TO_LOCK_ROW", false},
		{"lock row 500", Fault{ErrorCode: "UNABLE_TO_LOCK_ROW", Status: 500}, 500, "UNABLE_TO_LOCK_ROW", false},
		{"bad gateway", Fault{Status: 502}, 502, "", true},
		{"session expired mid-batch", Fault{ErrorCode: "INVALID_SESSION_ID"}, 401, "INVALID_SESSION_ID", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, _ := testOrg(t, Config{})
			c := newClient(t, o)
			tc.fault.Times = 1
			if _, err := o.AddFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"})
			if r.status != tc.wantStatus {
				t.Fatalf("status: got %d; want %d", r.status, tc.wantStatus)
			}
			if tc.wantHTML {
				if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.raw), "<html>") {
					t.Errorf("body: got %q; want HTML", r.raw)
				}
			} else if got := errorsOf(r.body); len(got) != 1 || got[0] != tc.wantCode {
				t.Errorf("errorCode: got %v; want %s", got, tc.wantCode)
			}
			if n := len(o.Records("Lead")); n != 0 {
				t.Errorf("records after fault: got %d; want 0", n)
			}
			// the rule fired once; the next call goes through
			if r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"}); r.status != 201 {
				t.Errorf("after the fault: got %d; want 201", r.status)
			}
		})
	}
}

func TestFaultDropAfterCommit(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	tok := o.IssueTokens()
	if _, err := o.AddFault(Fault{Method: "POST", PathPrefix: "/services/data/", DropAfterCommit: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+v+"/composite/sobjects", strings.NewReader(`{"records":[{"attributes":{"type":"Lead"},"LastName":"A","Company":"C"}]}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d; want a dropped connection", resp.StatusCode)
	}
	if n := len(o.Records("Lead")); n != 1 {
		t.Errorf("records after the dropped answer: got %d; want 1 (committed)", n)
	}
	if got := o.Stats().Total; got != 1 {
		t.Errorf("calls counted: got %d; want 1", got)
	}
}

func TestFaultLatencyAndFraction(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{Seed: 7})
	tok := o.IssueTokens()
	if _, err := o.AddFault(Fault{PathPrefix: "/services/data/v62.0/limits", Latency: time.Minute, Times: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+v+"/limits", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delayed call: got %v; want the client's deadline to pass first", err)
	}
	if _, err := o.AddFault(Fault{PathPrefix: "/services/data/", ErrorCode: "SERVER_UNAVAILABLE", Fraction: 0.5}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, o)
	failed := 0
	for i := 0; i < 200; i++ {
		if r := c.do("GET", v+"/limits", nil); r.status == 503 {
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Errorf("fraction 0.5 over 200 calls: got %d failures; want about 100", failed)
	}
	o.ClearFaults()
	if r := c.do("GET", v+"/limits", nil); r.status != 200 {
		t.Errorf("after ClearFaults: got %d; want 200", r.status)
	}
}

func TestFaultValidation(t *testing.T) {
	t.Parallel()
	o := New(Config{})
	for name, f := range map[string]Fault{
		"bad regexp":        {PathRegexp: "(", Status: 503},
		"bad fraction":      {Fraction: 2, Status: 503},
		"bad status":        {Status: 200},
		"bad code":          {ErrorCode: "NOPE"},
		"nothing to do":     {PathPrefix: "/x"},
		"status with drop":  {Status: 503, DropAfterCommit: true},
		"negative skip":     {Skip: -1, Status: 503},
		"record bad regexp": {RecordRegexp: "(", ErrorCode: "UNABLE_TO_LOCK_ROW"},
		"record bad code":   {RecordRegexp: "x", ErrorCode: "SERVER_UNAVAILABLE"},
		"record no code":    {RecordRegexp: "x"},
		"record status":     {RecordRegexp: "x", ErrorCode: "UNABLE_TO_LOCK_ROW", Status: 500},
		"record drop":       {RecordRegexp: "x", ErrorCode: "UNABLE_TO_LOCK_ROW", DropAfterCommit: true},
	} {
		if _, err := o.AddFault(f); err == nil {
			t.Errorf("%s: got nil; want an error", name)
		}
	}
	for name, c := range map[string]struct {
		body, field string
	}{
		"negative skip":        {`{"skip":-1,"status":503}`, "skip"},
		"record without code":  {`{"record_regexp":"x"}`, "error_code"},
		"record with a status": {`{"record_regexp":"x","error_code":"UNABLE_TO_LOCK_ROW","status":500}`, "status"},
	} {
		_, base := testOrg(t, Config{})
		r := (&client{t: t, base: base, hc: http.DefaultClient}).do("POST", "/_sim/faults", c.body)
		if r.status != 400 || !strings.Contains(string(r.raw), c.field) {
			t.Errorf("%s: got %d %s; want 400 naming %s", name, r.status, r.raw, c.field)
		}
	}
}

// TestFaultSkip: a rule lets the first Skip matching requests through, then
// fires; requests it does not match do not count.
func TestFaultSkip(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	sc := &client{t: t, base: base, hc: http.DefaultClient}
	if r := sc.do("POST", "/_sim/faults", `{"method":"POST","path_regexp":"/sobjects/Lead$","skip":2,"times":1,"error_code":"SERVER_UNAVAILABLE"}`); r.status != 201 {
		t.Fatalf("add fault: got %d %s; want 201", r.status, r.raw)
	}
	c := newClient(t, o)
	want := []struct {
		method, path string
		status       int
	}{
		{"POST", v + "/sobjects/Lead", 201},
		{"GET", v + "/limits", 200}, // not matched: not skipped either
		{"POST", v + "/sobjects/Lead", 201},
		{"POST", v + "/sobjects/Lead", 503},
		{"POST", v + "/sobjects/Lead", 201},
	}
	for i, w := range want {
		var body any
		if w.method == "POST" {
			body = map[string]any{"LastName": fmt.Sprint("S", i), "Company": "C"}
		}
		if r := c.do(w.method, w.path, body); r.status != w.status {
			t.Errorf("call %d (%s %s): got %d; want %d", i, w.method, w.path, r.status, w.status)
		}
	}
	if n := len(o.Records("Lead")); n != 3 {
		t.Errorf("leads: got %d; want 3", n)
	}
}

// TestFaultRecordRegexp: a record rule fails only the matching records of a
// create collection, alone or in a composite call; the others are saved.
func TestFaultRecordRegexp(t *testing.T) {
	t.Parallel()
	lead := func(email string) map[string]any { return leadRec("R", email) }
	coll := func(allOrNone bool, emails ...string) map[string]any {
		recs := []any{}
		for _, e := range emails {
			recs = append(recs, lead(e))
		}
		return map[string]any{"allOrNone": allOrNone, "records": recs}
	}
	sub := func(ref string, body any) map[string]any {
		return map[string]any{"method": "POST", "url": v + "/composite/sobjects", "referenceId": ref, "body": body}
	}
	cases := []struct {
		name      string
		path      string
		body      any
		wantCodes [][]string // per collection, per record: "" for saved
		wantLeads []string
		wantCalls int
	}{
		{"collection, one record locked", v + "/composite/sobjects", coll(false, "a@r.example", "lock@r.example", "b@r.example"),
			[][]string{{"", "UNABLE_TO_LOCK_ROW", ""}}, []string{"a@r.example", "b@r.example"}, 1},
		{"collection with allOrNone", v + "/composite/sobjects", coll(true, "a@r.example", "lock@r.example"),
			[][]string{{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "UNABLE_TO_LOCK_ROW"}}, nil, 0},
		{"collection, every record locked", v + "/composite/sobjects", coll(false, "lock@r.example"),
			[][]string{{"UNABLE_TO_LOCK_ROW"}}, nil, 0},
		{"composite, one collection partly locked, one wholly", v + "/composite", map[string]any{"compositeRequest": []any{
			map[string]any{"method": "GET", "url": v + "/limits", "referenceId": "limits"},
			sub("c0", coll(false, "lock@r.example", "a@r.example")),
			sub("c1", coll(false, "LOCK@r.example")),
			sub("c2", coll(false, "b@r.example")),
		}}, [][]string{{"UNABLE_TO_LOCK_ROW", ""}, {"UNABLE_TO_LOCK_ROW"}, {""}}, []string{"a@r.example", "b@r.example"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, _ := testOrg(t, Config{})
			c := newClient(t, o)
			if _, err := o.AddFault(Fault{RecordRegexp: `(?i)"lock@`, ErrorCode: "UNABLE_TO_LOCK_ROW", Times: 1}); err != nil {
				t.Fatal(err)
			}
			r := c.do("POST", tc.path, tc.body)
			if r.status != 200 {
				t.Fatalf("status: got %d %s; want 200", r.status, r.raw)
			}
			var colls [][]any
			if _, ok := r.body.(map[string]any); ok {
				for _, e := range byRef(t, r.body, "limits", "c0", "c1", "c2") {
					e := e.(map[string]any)
					if e["referenceId"] == "limits" {
						if e["httpStatusCode"] != 200.0 {
							t.Errorf("other subrequest: got %v; want 200", e["httpStatusCode"])
						}
						continue
					}
					if e["httpStatusCode"] != 200.0 {
						t.Errorf("%v: status got %v; want 200", e["referenceId"], e["httpStatusCode"])
					}
					colls = append(colls, e["body"].([]any))
				}
			} else {
				colls = [][]any{r.body.([]any)}
			}
			var got [][]string
			for _, results := range colls {
				var codes []string
				for _, res := range results {
					res := res.(map[string]any)
					code := strings.Join(errorsOf(res["errors"]), ",")
					if (code == "") != (res["success"] == true) {
						t.Errorf("result %v: success and errors disagree", res)
					}
					codes = append(codes, code)
				}
				got = append(got, codes)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantCodes) {
				t.Errorf("results: got %v; want %v", got, tc.wantCodes)
			}
			var leads []string
			for _, rec := range o.Records("Lead") {
				leads = append(leads, rec["Email"].(string))
			}
			sort.Strings(leads)
			if fmt.Sprint(leads) != fmt.Sprint(tc.wantLeads) {
				t.Errorf("leads saved: got %v; want %v", leads, tc.wantLeads)
			}
			if got := o.Stats().Total; got != tc.wantCalls {
				t.Errorf("calls counted: got %d; want %d", got, tc.wantCalls)
			}
			// Times 1: the rule is spent, so the same record now saves.
			if r := c.do("POST", v+"/composite/sobjects", coll(false, "lock@r.example")); r.status != 200 || r.body.([]any)[0].(map[string]any)["success"] != true {
				t.Errorf("after the rule fired: got %d %s; want the record saved", r.status, r.raw)
			}
		})
	}
}

// TestFaultRecordRegexpUnmatched: requests without a matching record, and
// other requests, go through and leave the rule unspent.
func TestFaultRecordRegexpUnmatched(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	if _, err := o.AddFault(Fault{RecordRegexp: `lock\d*@`, ErrorCode: "UNABLE_TO_LOCK_ROW", Times: 1, Skip: 1}); err != nil {
		t.Fatal(err)
	}
	if r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "L", "Company": "C", "Email": "lock9@u.example"}); r.status != 201 {
		t.Errorf("a single-record create: got %d; want 201 (record rules fail collections only)", r.status)
	}
	one := func(email string) map[string]any {
		return map[string]any{"allOrNone": false, "records": []any{leadRec("U", email)}}
	}
	for i, step := range []struct {
		email   string
		success bool
	}{{"free@u.example", true}, {"lock1@u.example", true}, {"free2@u.example", true}, {"lock2@u.example", false}, {"lock3@u.example", true}} {
		r := c.do("POST", v+"/composite/sobjects", one(step.email))
		if got := r.body.([]any)[0].(map[string]any)["success"] == true; r.status != 200 || got != step.success {
			t.Errorf("step %d (%s): got %d success=%v; want 200 success=%v", i, step.email, r.status, got, step.success)
		}
	}
}

// TestFaultOnFire: the hook runs when the rule fires, before the org answers,
// so a record it adds is seen by the faulted request.
func TestFaultOnFire(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	fired := 0
	if _, err := o.AddFault(Fault{Method: "GET", PathRegexp: `/query$`, Skip: 1, Times: 1, OnFire: func() {
		fired++
		mustSeed(t, o, "Lead", map[string]any{"LastName": "Late", "Company": "C", "Email": "late@fire.example"})
	}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0, 1, 1} {
		r := c.query("SELECT Id FROM Lead WHERE Email = 'late@fire.example'")
		if got := r.body.(map[string]any)["totalSize"]; r.status != 200 || got != want {
			t.Errorf("query %d: got %d totalSize %v; want 200 and %v", i, r.status, got, want)
		}
	}
	if fired != 1 {
		t.Errorf("hook runs: got %d; want 1", fired)
	}
}

func TestSimEndpoints(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	sc := &client{t: t, base: base, hc: http.DefaultClient}
	r := sc.do("POST", "/_sim/records/Lead", []any{map[string]any{"LastName": "A", "Company": "C", "Email": "a@example.com"}, map[string]any{"LastName": "B", "Company": "C"}})
	if r.status != 201 || len(r.body.(map[string]any)["ids"].([]any)) != 2 {
		t.Fatalf("seed: got %d %s; want 201 with two ids", r.status, r.raw)
	}
	r = sc.do("POST", "/_sim/records/Lead", map[string]any{"Company": "C"})
	if r.status != 400 || !strings.Contains(string(r.raw), "REQUIRED_FIELD_MISSING") {
		t.Errorf("seed invalid: got %d %s; want 400 naming REQUIRED_FIELD_MISSING", r.status, r.raw)
	}
	if r = sc.do("POST", "/_sim/records/Widget", map[string]any{"X": 1}); r.status != 404 {
		t.Errorf("seed unknown object: got %d; want 404", r.status)
	}
	r = sc.do("GET", "/_sim/records/lead", nil)
	if r.status != 200 || len(r.body.([]any)) != 2 {
		t.Errorf("records: got %d %s; want two leads", r.status, r.raw)
	}
	if got := o.Stats().Total; got != 0 {
		t.Errorf("seeding counted calls: got %d; want 0", got)
	}
	c := newClient(t, o)
	c.do("GET", v+"/limits", nil)
	c.query("SELECT Id FROM Lead")
	r = sc.do("GET", "/_sim/stats", nil)
	st := r.body.(map[string]any)
	if st["total"] != 2.0 || st["byEndpoint"].(map[string]any)["GET query"] != 1.0 {
		t.Errorf("stats: got %s; want total 2 with one query", r.raw)
	}
	r = sc.do("POST", "/_sim/faults", `{"method":"GET","path":"/services/data/","error_code":"SERVER_UNAVAILABLE","times":1}`)
	if r.status != 201 {
		t.Errorf("add fault: got %d %s; want 201", r.status, r.raw)
	}
	if r = c.do("GET", v+"/limits", nil); r.status != 503 {
		t.Errorf("injected fault: got %d; want 503", r.status)
	}
	r = sc.do("POST", "/_sim/faults", `{"fraction":3,"status":503}`)
	if r.status != 400 || !strings.Contains(string(r.raw), "fraction") {
		t.Errorf("bad fault: got %d %s; want 400 naming fraction", r.status, r.raw)
	}
	if r = sc.do("POST", "/_sim/faults", `{"bogus":1}`); r.status != 400 {
		t.Errorf("unknown fault key: got %d; want 400", r.status)
	}
	if r = sc.do("PUT", "/_sim/limit", `{"daily":5,"used":5}`); r.status != 200 {
		t.Errorf("set limit: got %d; want 200", r.status)
	}
	if r = c.do("GET", v+"/limits", nil); r.status != 403 {
		t.Errorf("after using the allocation: got %d; want 403", r.status)
	}
	if r = sc.do("PUT", "/_sim/duplicate-rules/Lead", `{"enabled":true}`); r.status != 204 {
		t.Errorf("duplicate rule: got %d; want 204", r.status)
	}
	if r = sc.do("POST", "/_sim/custom-fields/Lead", `{"name":"Src__c","type":"text","length":10}`); r.status != 201 {
		t.Errorf("custom field: got %d %s; want 201", r.status, r.raw)
	}
	if r = sc.do("DELETE", "/_sim/custom-fields/Lead/Src__c", nil); r.status != 204 {
		t.Errorf("delete custom field: got %d %s; want 204", r.status, r.raw)
	}
	// the page lists the records
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		page.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(page.String(), "a@example.com") || !strings.Contains(page.String(), `id="Task"`) {
		t.Errorf("index page: got %d; want the seeded lead and a Task section", resp.StatusCode)
	}
	if r = sc.do("POST", "/_sim/reset", nil); r.status != 204 || len(o.Records("Lead")) != 0 || o.Stats().Total != 0 {
		t.Errorf("reset: got %d, %d leads, %d calls; want 204 and an empty org", r.status, len(o.Records("Lead")), o.Stats().Total)
	}
	if r = sc.do("GET", "/_sim/nothing", nil); r.status != 404 {
		t.Errorf("unknown sim endpoint: got %d; want 404", r.status)
	}
}

func TestStateFileSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "org.json")
	o := New(Config{StateFile: path})
	if _, err := o.Start(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, o)
	r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "Kept", "Company": "C", "AnnualRevenue": 12.5})
	if r.status != 201 {
		t.Fatalf("create: got %d; want 201", r.status)
	}
	id := r.body.(map[string]any)["id"].(string)
	if err := o.AddCustomField("Contact", CustomField{Name: "Tier__c", Type: "picklist", Values: []string{"A"}, Restricted: true}); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o2 := New(Config{StateFile: path})
	if _, err := o2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o2.Close() })
	rec, ok := o2.Record("Lead", id)
	if !ok || rec["LastName"] != "Kept" || rec["AnnualRevenue"] != 12.5 {
		t.Errorf("after restart: got %v %v; want the lead", ok, rec)
	}
	c2 := &client{t: t, base: o2.URL(), token: c.token, hc: http.DefaultClient}
	if r := c2.do("GET", v+"/sobjects/Lead/"+id, nil); r.status != 200 {
		t.Errorf("old session after restart: got %d; want 200", r.status)
	}
	if r := c2.do("POST", v+"/sobjects/Contact", map[string]any{"LastName": "X", "Tier__c": "B"}); r.status != 400 || errorsOf(r.body)[0] != "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" {
		t.Errorf("custom field after restart: got %d %s; want 400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", r.status, r.raw)
	}
	if r := c2.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "New", "Company": "C"}); r.status != 201 || r.body.(map[string]any)["id"] == id {
		t.Errorf("create after restart: got %d %v; want 201 with a fresh id", r.status, r.body)
	}
}

func TestLoadDefinition(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name, json, wantErr string
	}{
		{"good", `{"customFields":{"Lead":[{"name":"A__c","type":"text","length":20}]}}`, ""},
		{"unknown object", `{"customFields":{"Widget":[{"name":"A__c","type":"text"}]}}`, "customFields.Widget"},
		{"bad name", `{"customFields":{"Lead":[{"name":"A","type":"text"}]}}`, "customFields.Lead[0]: name"},
		{"bad type", `{"customFields":{"Lead":[{"name":"A__c","type":"blob"}]}}`, "customFields.Lead[0]: type"},
		{"too long", `{"customFields":{"Lead":[{"name":"A__c","type":"text","length":300}]}}`, "length"},
		{"clash", `{"customFields":{"Lead":[{"name":"A__c","type":"text"},{"name":"a__c","type":"text"}]}}`, "customFields.Lead[1].name"},
		{"not json", `{`, "parse org definition"},
	}
	for _, tc := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
		if err := writeFile(p, tc.json); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDefinition(p)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: got %v; want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: got %v; want an error naming %q", tc.name, err, tc.wantErr)
		}
	}
}

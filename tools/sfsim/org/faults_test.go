package org

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
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
		"bad regexp":       {PathRegexp: "(", Status: 503},
		"bad fraction":     {Fraction: 2, Status: 503},
		"bad status":       {Status: 200},
		"bad code":         {ErrorCode: "NOPE"},
		"nothing to do":    {PathPrefix: "/x"},
		"status with drop": {Status: 503, DropAfterCommit: true},
	} {
		if _, err := o.AddFault(f); err == nil {
			t.Errorf("%s: got nil; want an error", name)
		}
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

package org

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/tools/sfsim/soql"
)

func TestQueryEscapingAndCase(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	values := []string{
		"o'brien@example.com",
		`back\slash@example.com`,
		"dq\"uote@example.com",
		"line\nbreak",
		"tab\there",
		"ünïcödé@example.com",
		"100%_real@example.com",
		"100xxreal@example.com",
		"MiXeD@Example.COM",
	}
	for i, val := range values {
		rec := map[string]any{"LastName": fmt.Sprint("L", i), "Company": "C", "Description": val}
		mustSeed(t, o, "Lead", rec)
	}
	count := func(q string) (int, result) {
		r := c.query(q)
		if r.status != 200 {
			return -1, r
		}
		return len(r.body.(map[string]any)["records"].([]any)), r
	}
	cases := []struct {
		name  string
		where string
		want  int // -1: a 400
		code  string
	}{
		{"quoted single quote", `Description = 'o\'brien@example.com'`, 1, ""},
		{"backslash", `Description = 'back\\slash@example.com'`, 1, ""},
		{"double quote", `Description = 'dq\"uote@example.com'`, 1, ""},
		{"newline escape", `Description = 'line\nbreak'`, 1, ""},
		{"uppercase escape", `Description = 'tab\There'`, 1, ""},
		{"unicode escape", `Description = '\u00fcn\u00efc\u00f6d\u00e9@example.com'`, 1, ""},
		{"percent is literal in =", `Description = '100%_real@example.com'`, 1, ""},
		{"like wildcard", `Description LIKE '100%real@example.com'`, 2, ""},
		{"like escaped wildcards", `Description LIKE '100\%\_real@example.com'`, 1, ""},
		{"escaped percent outside like", `Description = '100\%_real@example.com'`, -1, "MALFORMED_QUERY"},
		{"unknown escape", `Description = 'a\qb'`, -1, "MALFORMED_QUERY"},
		{"double-quoted literal", `Description = "x"`, -1, "MALFORMED_QUERY"},
		{"case-insensitive =", `Description = 'mixed@example.com'`, 1, ""},
		{"case-insensitive IN", `Description IN ('MIXED@EXAMPLE.COM', 'nobody@example.com')`, 1, ""},
		{"case-insensitive LIKE", `Description LIKE 'mixed@%'`, 1, ""},
		{"NOT IN", `Description NOT IN ('MIXED@EXAMPLE.COM')`, len(values) - 1, ""},
		{"!=", `Description != 'mixed@example.com' AND Description != null`, len(values) - 1, ""},
		{"or with parens", `(Description = 'tab\there' OR Description = 'line\nbreak') AND IsConverted = false`, 2, ""},
	}
	for _, tc := range cases {
		got, r := count("SELECT Id, Description FROM Lead WHERE " + tc.where)
		if tc.want == -1 {
			if r.status != 400 || errorsOf(r.body)[0] != tc.code {
				t.Errorf("%s: got %d %s; want 400 %s", tc.name, r.status, r.raw, tc.code)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %d records (%s); want %d", tc.name, got, r.raw, tc.want)
		}
	}
	// values quoted by the escaping function match exactly themselves
	for _, val := range values {
		if got, r := count("SELECT Id FROM Lead WHERE Description = " + soql.Quote(val)); got != 1 {
			t.Errorf("Quote(%q): got %d (%s); want 1", val, got, r.raw)
		}
	}
	hostile := `x' OR Email != null OR Email = 'y`
	mustSeed(t, o, "Lead", map[string]any{"LastName": "Victim", "Company": "C", "Email": "victim@example.com"})
	if got, r := count("SELECT Id FROM Lead WHERE Email = " + soql.Quote(hostile)); got != 0 {
		t.Errorf("hostile value: got %d (%s); want 0", got, r.raw)
	}
	// the same value pasted in unescaped would have widened the filter
	if got, r := count("SELECT Id FROM Lead WHERE Email = '" + hostile + "'"); got != 1 {
		t.Errorf("unescaped hostile value: got %d (%s); want 1 (the injection the escaping prevents)", got, r.raw)
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	r := c.query("invalid")
	if r.status != 400 {
		t.Fatalf("status: got %d; want 400", r.status)
	}
	assertShape(t, "error_malformed_query.json", r.body, false)
	if e := firstErr(r.body); e["message"] != "unexpected token: 'invalid'" {
		t.Errorf("message: got %q; want unexpected token: 'invalid'", e["message"])
	}
	r = c.query("SELECT Id, Emial FROM Lead")
	want := "\nSELECT Id, Emial FROM Lead\n           ^\nERROR at Row:1:Column:12\nNo such column 'Emial' on entity 'Lead'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
	if e := firstErr(r.body); r.status != 400 || e["errorCode"] != "INVALID_FIELD" || e["message"] != want {
		t.Errorf("no such column: got %d %q; want 400 INVALID_FIELD %q", r.status, e["message"], want)
	}
	if r = c.query("SELECT Id FROM Widget"); r.status != 400 || errorsOf(r.body)[0] != "INVALID_TYPE" {
		t.Errorf("unknown object: got %d %s; want 400 INVALID_TYPE", r.status, r.raw)
	}
	if r = c.do("GET", v+"/query", nil); r.status != 400 || errorsOf(r.body)[0] != "MALFORMED_QUERY" {
		t.Errorf("no q: got %d %s; want 400 MALFORMED_QUERY", r.status, r.raw)
	}
	if r = c.do("GET", v+"/query/01gNOPE-2000", nil); r.status != 400 || errorsOf(r.body)[0] != "INVALID_QUERY_LOCATOR" {
		t.Errorf("bad locator: got %d %s; want 400 INVALID_QUERY_LOCATOR", r.status, r.raw)
	}
}

func TestQueryPagination(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{PageSize: 3})
	c := newClient(t, o)
	for i := 0; i < 8; i++ {
		mustSeed(t, o, "Contact", map[string]any{"LastName": fmt.Sprintf("C%02d", i), "Email": fmt.Sprintf("c%d@example.com", i)})
	}
	r := c.query("SELECT Id, Name FROM Contact ORDER BY LastName DESC")
	body := r.body.(map[string]any)
	assertShape(t, "query_result.json", body, false)
	var names []string
	pages := 0
	for {
		pages++
		if body["totalSize"] != 8.0 {
			t.Errorf("totalSize: got %v; want 8", body["totalSize"])
		}
		for _, rec := range body["records"].([]any) {
			m := rec.(map[string]any)
			names = append(names, m["Name"].(string))
			if a := m["attributes"].(map[string]any); a["type"] != "Contact" || !strings.HasPrefix(a["url"].(string), v+"/sobjects/Contact/") {
				t.Errorf("attributes: got %v; want Contact and its URL", a)
			}
		}
		if body["done"] == true {
			if _, has := body["nextRecordsUrl"]; has {
				t.Errorf("last page: got nextRecordsUrl; want none")
			}
			break
		}
		next := body["nextRecordsUrl"].(string)
		if !strings.HasPrefix(next, v+"/query/") {
			t.Fatalf("nextRecordsUrl: got %q; want under %s/query/", next, v)
		}
		r = c.do("GET", next, nil)
		if r.status != 200 {
			t.Fatalf("queryMore: got %d %s; want 200", r.status, r.raw)
		}
		body = r.body.(map[string]any)
	}
	if pages != 3 || strings.Join(names, ",") != "C07,C06,C05,C04,C03,C02,C01,C00" {
		t.Errorf("pages: got %d pages %v; want 3 pages in descending order", pages, names)
	}
	if st := o.Stats(); st.ByEndpoint["GET query"] != 1 || st.ByEndpoint["GET query/{locator}"] != 2 {
		t.Errorf("stats: got %v; want 1 query and 2 queryMore", st.ByEndpoint)
	}
	r = c.query("SELECT Id FROM Contact WHERE Email IN ('c1@example.com','C2@EXAMPLE.COM') LIMIT 1")
	if b := r.body.(map[string]any); b["totalSize"] != 1.0 || b["done"] != true {
		t.Errorf("limit: got %s; want one record, done", r.raw)
	}
	// the batch-size header is a hint within 200..2000
	r = c.query("SELECT Id FROM Contact", "Sforce-Query-Options", "batchSize=200")
	if b := r.body.(map[string]any); len(b["records"].([]any)) != 8 {
		t.Errorf("batchSize=200: got %d records; want 8", len(b["records"].([]any)))
	}
}

package org

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestVersionsListIsPublicAndUncounted(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	c := &client{t: t, base: base, hc: http.DefaultClient}
	r := c.do("GET", "/services/data/", nil)
	if r.status != 200 || r.header.Get("Sforce-Limit-Info") != "" {
		t.Fatalf("versions: got %d, Sforce-Limit-Info %q; want 200 and no header", r.status, r.header.Get("Sforce-Limit-Info"))
	}
	assertShape(t, "versions.json", r.body, false)
	list := r.body.([]any)
	first, last := list[0].(map[string]any), list[len(list)-1].(map[string]any)
	if first["version"] != "31.0" || last["version"] != "66.0" || last["label"] != "Spring '26" {
		t.Errorf("versions: got %v..%v; want 31.0..66.0 (Spring '26)", first, last)
	}
	if got := o.Stats().Total; got != 0 {
		t.Errorf("calls counted: got %d; want 0", got)
	}
	c = newClient(t, o)
	for path, want := range map[string]int{"/services/data/v30.0/limits": 410, "/services/data/v67.0/limits": 404, "/services/data/v31.0/limits": 200, "/services/data/v66.0/limits": 200} {
		if r := c.do("GET", path, nil); r.status != want {
			t.Errorf("%s: got %d; want %d", path, r.status, want)
		}
	}
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "Lovelace", "FirstName": "Ada", "Company": "Analytical Engines", "Email": "ada@example.com"})
	if r.status != 201 {
		t.Fatalf("create: got %d %s; want 201", r.status, r.raw)
	}
	assertShape(t, "create_result.json", r.body, false)
	id := r.body.(map[string]any)["id"].(string)
	if len(id) != 18 || !strings.HasPrefix(id, "00Q") {
		t.Errorf("id: got %q; want 18 characters starting 00Q", id)
	}
	if got := r.header.Get("Sforce-Limit-Info"); got != "api-usage=2/15000" && got != "api-usage=1/15000" {
		t.Errorf("Sforce-Limit-Info: got %q; want api-usage=N/15000", got)
	}
	r = c.do("GET", v+"/sobjects/Lead/"+id, nil)
	rec := r.body.(map[string]any)
	attrs := rec["attributes"].(map[string]any)
	if r.status != 200 || rec["Name"] != "Ada Lovelace" || rec["Status"] != "Open - Not Contacted" || rec["IsConverted"] != false || attrs["url"] != v+"/sobjects/Lead/"+id {
		t.Errorf("read: got %d %v; want the lead with defaults", r.status, rec)
	}
	if _, has := rec["Title"]; !has {
		t.Errorf("read: got no Title key; want every field, null when unset")
	}
	r = c.do("GET", v+"/sobjects/Lead/"+id[:15]+"?fields=Id,Email", nil)
	rec = r.body.(map[string]any)
	if r.status != 200 || len(rec) != 3 || rec["Email"] != "ada@example.com" || rec["Id"] != id {
		t.Errorf("read 15-char id with fields: got %d %v; want attributes, Id, Email", r.status, rec)
	}
	if r = c.do("PATCH", v+"/sobjects/Lead/"+id, map[string]any{"Title": "CTO"}); r.status != 204 || len(r.raw) != 0 {
		t.Errorf("update: got %d %s; want 204 and no body", r.status, r.raw)
	}
	if got, _ := o.Record("Lead", id); got["Title"] != "CTO" {
		t.Errorf("after update: got Title %v; want CTO", got["Title"])
	}
	if r = c.do("DELETE", v+"/sobjects/Lead/"+id, nil); r.status != 204 {
		t.Errorf("delete: got %d; want 204", r.status)
	}
	for _, m := range []string{"GET", "DELETE", "PATCH"} {
		r = c.do(m, v+"/sobjects/Lead/"+id, map[string]any{"Title": "x"})
		if r.status != 404 {
			t.Errorf("%s deleted: got %d; want 404", m, r.status)
		}
		assertShape(t, "error_entity_is_deleted.json", r.body, false)
		if e := firstErr(r.body); e["errorCode"] != "ENTITY_IS_DELETED" || e["message"] != "entity is deleted" {
			t.Errorf("%s deleted: got %v; want ENTITY_IS_DELETED", m, e)
		}
	}
	for path, want := range map[string]string{
		v + "/sobjects/Lead/00Q5g0000000ZZZ": "NOT_FOUND", v + "/sobjects/Lead/xyz": "NOT_FOUND", v + "/sobjects/Widget/describe": "NOT_FOUND",
	} {
		if r := c.do("GET", path, nil); r.status != 404 || errorsOf(r.body)[0] != want {
			t.Errorf("GET %s: got %d %s; want 404 %s", path, r.status, r.raw, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	def := &Definition{CustomFields: map[string][]CustomField{"Lead": {
		{Name: "Sequence__c", Type: "text", Length: 50},
		{Name: "Tier__c", Type: "picklist", Values: []string{"A", "B"}, Restricted: true},
		{Name: "Score__c", Type: "number", Required: true},
	}}}
	o, _ := testOrg(t, Config{Definition: def})
	c := newClient(t, o)
	fieldsOf := func(obj string) map[string]map[string]any {
		r := c.do("GET", v+"/sobjects/"+obj+"/describe", nil)
		if r.status != 200 {
			t.Fatalf("describe %s: got %d; want 200", obj, r.status)
		}
		if obj == "Lead" {
			// compare the top level and the Status field with the documented excerpt
			excerpt := map[string]any{}
			for k, val := range r.body.(map[string]any) {
				excerpt[k] = val
			}
			for _, f := range r.body.(map[string]any)["fields"].([]any) {
				if f.(map[string]any)["name"] == "Status" {
					excerpt["fields"] = []any{f}
				}
			}
			assertShape(t, "describe_excerpt.json", excerpt, true)
		}
		out := map[string]map[string]any{}
		for _, f := range r.body.(map[string]any)["fields"].([]any) {
			m := f.(map[string]any)
			out[m["name"].(string)] = m
		}
		return out
	}
	lead := fieldsOf("Lead")
	cases := []struct {
		obj, field, key string
		want            any
	}{
		{"Lead", "LastName", "nillable", false},
		{"Lead", "LastName", "length", 80.0},
		{"Lead", "Company", "nillable", false},
		{"Lead", "Email", "type", "email"},
		{"Lead", "Email", "length", 80.0},
		{"Lead", "Status", "restrictedPicklist", true},
		{"Lead", "Status", "defaultedOnCreate", true},
		{"Lead", "Name", "createable", false},
		{"Lead", "IsConverted", "updateable", false},
		{"Lead", "Sequence__c", "length", 50.0},
		{"Lead", "Sequence__c", "custom", true},
		{"Lead", "Tier__c", "restrictedPicklist", true},
		{"Lead", "Score__c", "nillable", false},
		{"Lead", "Score__c", "defaultedOnCreate", false},
		{"Lead", "Score__c", "type", "double"},
		{"Task", "Subject", "length", 255.0},
		{"Task", "Description", "length", 32000.0},
		{"Task", "TaskSubtype", "updateable", false},
		{"Task", "TaskSubtype", "createable", true},
		{"Task", "Status", "restrictedPicklist", true},
		{"Task", "Priority", "type", "picklist"},
		{"Contact", "LastName", "nillable", false},
		{"Contact", "AccountId", "type", "reference"},
		{"Account", "Name", "nillable", false},
	}
	all := map[string]map[string]map[string]any{"Lead": lead, "Task": fieldsOf("Task"), "Contact": fieldsOf("Contact"), "Account": fieldsOf("Account")}
	for _, tc := range cases {
		if got := all[tc.obj][tc.field][tc.key]; got != tc.want {
			t.Errorf("%s.%s.%s: got %v; want %v", tc.obj, tc.field, tc.key, got, tc.want)
		}
	}
	who := all["Task"]["WhoId"]["referenceTo"].([]any)
	if fmt.Sprint(who) != "[Contact Lead]" {
		t.Errorf("Task.WhoId.referenceTo: got %v; want [Contact Lead]", who)
	}
	var statuses []string
	for _, p := range all["Task"]["Status"]["picklistValues"].([]any) {
		pv := p.(map[string]any)
		statuses = append(statuses, pv["value"].(string)+"="+pv["label"].(string))
	}
	// the admin relabeled Completed: the value is the API name, the label what users see
	if s := strings.Join(statuses, ","); !strings.Contains(s, "Completed=Done") {
		t.Errorf("Task.Status values: got %v; want value Completed labeled Done", statuses)
	}
}

func TestCreateValidationErrors(t *testing.T) {
	t.Parallel()
	def := &Definition{CustomFields: map[string][]CustomField{"Lead": {
		{Name: "Tier__c", Type: "picklist", Values: []string{"A", "B"}, Restricted: true},
		{Name: "Score__c", Type: "number"},
		{Name: "Flag__c", Type: "checkbox"},
	}}}
	o, _ := testOrg(t, Config{Definition: def})
	c := newClient(t, o)
	ids := mustSeed(t, o, "Account", map[string]any{"Name": "Acme"})
	acct := ids[0]
	lead := mustSeed(t, o, "Lead", map[string]any{"LastName": "Conv", "Company": "C"})[0]
	if _, err := o.Convert(lead); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 81)
	cases := []struct {
		name       string
		object     string
		body       map[string]any
		wantCode   string
		wantMsg    string
		wantFields []string
	}{
		{"missing last name", "Contact", map[string]any{"FirstName": "A"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", []string{"LastName"}},
		{"missing lead fields", "Lead", map[string]any{"FirstName": "A"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Company]", []string{"LastName", "Company"}},
		{"empty string is missing", "Lead", map[string]any{"LastName": "", "Company": "X"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", []string{"LastName"}},
		{"too long", "Lead", map[string]any{"LastName": long, "Company": "X"}, "STRING_TOO_LONG", "Last Name: data value too large: " + long + " (max length=80)", []string{"LastName"}},
		{"bad email", "Lead", map[string]any{"LastName": "A", "Company": "X", "Email": "not an email"}, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: not an email", []string{"Email"}},
		{"unknown field", "Lead", map[string]any{"LastName": "A", "Company": "X", "Nope__c": "1"}, "INVALID_FIELD", "No such column 'Nope__c' on sobject of type Lead", nil},
		{"restricted picklist", "Lead", map[string]any{"LastName": "A", "Company": "X", "Status": "Hot"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status: bad value for restricted picklist field: Hot", []string{"Status"}},
		{"custom restricted picklist", "Lead", map[string]any{"LastName": "A", "Company": "X", "Tier__c": "C"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Tier: bad value for restricted picklist field: C", []string{"Tier__c"}},
		{"not createable", "Lead", map[string]any{"LastName": "A", "Company": "X", "IsConverted": true}, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: IsConverted. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", []string{"IsConverted"}},
		{"wrong json type", "Lead", map[string]any{"LastName": "A", "Company": "X", "Score__c": "high"}, "JSON_PARSER_ERROR", "", nil},
		{"wrong json type bool", "Lead", map[string]any{"LastName": "A", "Company": "X", "Flag__c": "yes"}, "JSON_PARSER_ERROR", "", nil},
		{"id on insert", "Lead", map[string]any{"Id": lead, "LastName": "A", "Company": "X"}, "INVALID_FIELD", "cannot specify Id in an insert call", []string{"Id"}},
		{"who is account", "Task", map[string]any{"Subject": "s", "WhoId": acct}, "FIELD_INTEGRITY_EXCEPTION", "Name ID: id value of incorrect type: " + acct, []string{"WhoId"}},
		{"who malformed", "Task", map[string]any{"Subject": "s", "WhoId": "abc"}, "MALFORMED_ID", "Name ID: id value of incorrect type: abc", []string{"WhoId"}},
		{"who missing", "Task", map[string]any{"Subject": "s", "WhoId": "003000000000000AAA"}, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []string{"WhoId"}},
		{"who converted lead", "Task", map[string]any{"Subject": "s", "WhoId": lead}, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", []string{"WhoId"}},
		{"task subject too long", "Task", map[string]any{"Subject": strings.Repeat("s", 256)}, "STRING_TOO_LONG", "", []string{"Subject"}},
		// "Done" is the default org's label of Completed, not a value
		{"task status", "Task", map[string]any{"Subject": "s", "Status": "Done"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status: bad value for restricted picklist field: Done", []string{"Status"}},
	}
	before := len(o.Records("Lead"))
	for _, tc := range cases {
		r := c.do("POST", v+"/sobjects/"+tc.object, tc.body)
		if r.status != 400 {
			t.Errorf("%s: status: got %d %s; want 400", tc.name, r.status, r.raw)
			continue
		}
		e := firstErr(r.body)
		if e["errorCode"] != tc.wantCode {
			t.Errorf("%s: errorCode: got %v; want %v (%s)", tc.name, e["errorCode"], tc.wantCode, r.raw)
		}
		if tc.wantMsg != "" && e["message"] != tc.wantMsg {
			t.Errorf("%s: message: got %q; want %q", tc.name, e["message"], tc.wantMsg)
		}
		if tc.wantFields != nil {
			if got := fmt.Sprint(e["fields"]); got != fmt.Sprint(tc.wantFields) {
				t.Errorf("%s: fields: got %v; want %v", tc.name, got, tc.wantFields)
			}
		}
		if tc.wantCode == "REQUIRED_FIELD_MISSING" && len(tc.wantFields) == 1 {
			assertShape(t, "error_required_field_missing.json", r.body, false)
		}
	}
	if got := len(o.Records("Lead")); got != before {
		t.Errorf("leads after rejected creates: got %d; want %d", got, before)
	}
	// update-side checks
	live := mustSeed(t, o, "Lead", map[string]any{"LastName": "Live", "Company": "C"})[0]
	for name, tc := range map[string]struct {
		body map[string]any
		code string
	}{
		"null required":     {map[string]any{"LastName": nil}, "REQUIRED_FIELD_MISSING"},
		"read-only":         {map[string]any{"Name": "x"}, "INVALID_FIELD_FOR_INSERT_UPDATE"},
		"converted lead":    {map[string]any{"Title": "x"}, "CANNOT_UPDATE_CONVERTED_LEAD"},
		"task subtype edit": {map[string]any{"TaskSubtype": "Email"}, "INVALID_FIELD_FOR_INSERT_UPDATE"},
	} {
		target := v + "/sobjects/Lead/" + live
		if name == "converted lead" {
			target = v + "/sobjects/Lead/" + lead
		}
		if name == "task subtype edit" {
			tid := mustSeed(t, o, "Task", map[string]any{"Subject": "t", "TaskSubtype": "Email"})[0]
			target = v + "/sobjects/Task/" + tid
		}
		r := c.do("PATCH", target, tc.body)
		if r.status != 400 || errorsOf(r.body)[0] != tc.code {
			t.Errorf("update %s: got %d %s; want 400 %s", name, r.status, r.raw, tc.code)
		}
	}
}

func TestCustomFieldLifecycle(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	if err := o.AddCustomField("Lead", CustomField{Name: "Seq__c", Type: "text", Length: 5, Required: true}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []CustomField{{Name: "NoSuffix", Type: "text"}, {Name: "X__c", Type: "blob"}, {Name: "Seq__c", Type: "text"}} {
		if err := o.AddCustomField("Lead", bad); err == nil {
			t.Errorf("AddCustomField(%+v): got nil; want an error", bad)
		}
	}
	r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"})
	if r.status != 400 || errorsOf(r.body)[0] != "REQUIRED_FIELD_MISSING" {
		t.Errorf("required custom field missing: got %d %s; want 400 REQUIRED_FIELD_MISSING", r.status, r.raw)
	}
	r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C", "Seq__c": "toolong"})
	if r.status != 400 || errorsOf(r.body)[0] != "STRING_TOO_LONG" {
		t.Errorf("custom field too long: got %d %s; want 400 STRING_TOO_LONG", r.status, r.raw)
	}
	r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C", "Seq__c": "s1"})
	if r.status != 201 {
		t.Fatalf("create with custom field: got %d %s; want 201", r.status, r.raw)
	}
	if err := o.DeleteCustomField("Lead", "Seq__c"); err != nil {
		t.Fatal(err)
	}
	r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C", "Seq__c": "s1"})
	if r.status != 400 || errorsOf(r.body)[0] != "INVALID_FIELD" {
		t.Errorf("write deleted custom field: got %d %s; want 400 INVALID_FIELD", r.status, r.raw)
	}
	r = c.query("SELECT Id, Seq__c FROM Lead")
	if r.status != 400 || errorsOf(r.body)[0] != "INVALID_FIELD" || !strings.Contains(firstErr(r.body)["message"].(string), "No such column 'Seq__c'") {
		t.Errorf("query deleted custom field: got %d %s; want 400 INVALID_FIELD No such column", r.status, r.raw)
	}
	if err := o.DeleteCustomField("Lead", "Email"); err == nil {
		t.Errorf("DeleteCustomField(Email): got nil; want an error (standard field)")
	}
}

func TestDuplicateRules(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{DuplicateRules: map[string]DuplicateRule{"Lead": {Enabled: true, AllowSave: true}, "Contact": {Enabled: true}}})
	c := newClient(t, o)
	lead := mustSeed(t, o, "Lead", map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Company": "C", "Email": "Ada@Example.com"})[0]
	// email alone does not match: the standard rules need the name too
	if r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "B", "Company": "C", "Email": "ada@example.com"}); r.status != 201 {
		t.Fatalf("same email, another name: got %d %s; want 201", r.status, r.raw)
	}
	r := c.do("POST", v+"/sobjects/Lead", map[string]any{"FirstName": "ada", "LastName": "LOVELACE", "Company": "C", "Email": "ada@example.COM"})
	if r.status != 400 {
		t.Fatalf("duplicate lead: got %d %s; want 400", r.status, r.raw)
	}
	assertShape(t, "duplicates_detected.json", r.body, false)
	dup := firstErr(r.body)["duplicateResut"].(map[string]any)
	match := dup["matchResults"].([]any)[0].(map[string]any)["matchRecords"].([]any)[0].(map[string]any)["record"].(map[string]any)
	if match["Id"] != lead || dup["allowSave"] != true {
		t.Errorf("duplicate match: got %v allowSave %v; want %s and true", match["Id"], dup["allowSave"], lead)
	}
	// allowSave header saves an alert-rule duplicate
	r = c.do("POST", v+"/sobjects/Lead", map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Company": "C", "Email": "ada@example.com"}, "Sforce-Duplicate-Rule-Header", "allowSave=true; includeRecordDetails=true")
	if r.status != 201 {
		t.Errorf("allowSave on alert rule: got %d %s; want 201", r.status, r.raw)
	}
	// Contact rule blocks, and matches the Leads too (cross-object)
	r = c.do("POST", v+"/sobjects/Contact", map[string]any{"FirstName": "A", "LastName": "Lovelace", "Email": "ADA@example.com"}, "Sforce-Duplicate-Rule-Header", "allowSave=true")
	if r.status != 400 || errorsOf(r.body)[0] != "DUPLICATES_DETECTED" {
		t.Fatalf("contact vs lead: got %d %s; want 400 DUPLICATES_DETECTED", r.status, r.raw)
	}
	dup = firstErr(r.body)["duplicateResut"].(map[string]any)
	mr := dup["matchResults"].([]any)[0].(map[string]any)
	if dup["allowSave"] != false || mr["entityType"] != "Lead" || mr["size"] != 2.0 {
		t.Errorf("contact dup: got allowSave %v entity %v size %v; want false, Lead, 2", dup["allowSave"], mr["entityType"], mr["size"])
	}
	// inside a collection the error is only statusCode/message/fields
	r = c.do("POST", v+"/composite/sobjects", map[string]any{"records": []any{map[string]any{"attributes": map[string]any{"type": "Lead"}, "FirstName": "Ada", "LastName": "Lovelace", "Company": "C", "Email": "ada@example.com"}}})
	res := r.body.([]any)[0].(map[string]any)
	e := res["errors"].([]any)[0].(map[string]any)
	if r.status != 200 || e["statusCode"] != "DUPLICATES_DETECTED" || e["message"] != "Use one of these records?" || len(e) != 3 {
		t.Errorf("collection duplicate: got %d %v; want 200 with a DUPLICATES_DETECTED statusCode error", r.status, e)
	}
	// switched off
	if err := o.SetDuplicateRule("Contact", DuplicateRule{}); err != nil {
		t.Fatal(err)
	}
	if r = c.do("POST", v+"/sobjects/Contact", map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}); r.status != 201 {
		t.Errorf("rule off: got %d %s; want 201", r.status, r.raw)
	}
}

func TestLeadAssignment(t *testing.T) {
	t.Parallel()
	probe := New(Config{})
	o, _ := testOrg(t, Config{LeadQueue: probe.QueueID()})
	c := newClient(t, o)
	cases := []struct {
		header string
		want   string
	}{
		{"", o.QueueID()},
		{"TRUE", o.QueueID()},
		{"FALSE", o.UserID()},
		{"false", o.UserID()},
	}
	for _, tc := range cases {
		var r result
		if tc.header == "" {
			r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"})
		} else {
			r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"}, "Sforce-Auto-Assign", tc.header)
		}
		rec, _ := o.Record("Lead", r.body.(map[string]any)["id"].(string))
		if rec["OwnerId"] != tc.want {
			t.Errorf("Sforce-Auto-Assign %q: got owner %v; want %v", tc.header, rec["OwnerId"], tc.want)
		}
	}
}

func TestConvertLead(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	c := newClient(t, o)
	lead := mustSeed(t, o, "Lead", map[string]any{"LastName": "Lovelace", "FirstName": "Ada", "Company": "AE", "Email": "ada@example.com"})[0]
	task := mustSeed(t, o, "Task", map[string]any{"Subject": "Email: hi", "WhoId": lead, "Status": "Completed"})[0]
	sc := &client{t: t, base: base, hc: http.DefaultClient}
	r := sc.do("POST", "/_sim/convert/"+lead, nil)
	if r.status != 200 {
		t.Fatalf("convert: got %d %s; want 200", r.status, r.raw)
	}
	conv := r.body.(map[string]any)
	l, _ := o.Record("Lead", lead)
	if l["IsConverted"] != true || l["ConvertedContactId"] != conv["contactId"] || l["ConvertedAccountId"] != conv["accountId"] {
		t.Errorf("converted lead: got %v; want IsConverted and the new ids %v", l, conv)
	}
	con, _ := o.Record("Contact", conv["contactId"].(string))
	if con["Email"] != "ada@example.com" || con["AccountId"] != conv["accountId"] {
		t.Errorf("contact: got %v; want the lead's email and the new account", con)
	}
	if tk, _ := o.Record("Task", task); tk["WhoId"] != conv["contactId"] {
		t.Errorf("task after conversion: got WhoId %v; want the contact %v", tk["WhoId"], conv["contactId"])
	}
	if r = sc.do("POST", "/_sim/convert/"+lead, nil); r.status != 400 {
		t.Errorf("convert twice: got %d; want 400", r.status)
	}
	if r = c.do("PATCH", v+"/sobjects/Lead/"+lead, map[string]any{"Title": "x"}); r.status != 400 || errorsOf(r.body)[0] != "CANNOT_UPDATE_CONVERTED_LEAD" {
		t.Errorf("update converted: got %d %s; want 400 CANNOT_UPDATE_CONVERTED_LEAD", r.status, r.raw)
	}
	r = c.query("SELECT Id, IsConverted, ConvertedContactId FROM Lead WHERE Email = 'ADA@example.com'")
	recs := r.body.(map[string]any)["records"].([]any)
	if len(recs) != 1 || recs[0].(map[string]any)["ConvertedContactId"] != conv["contactId"] {
		t.Errorf("query converted lead: got %s; want it with ConvertedContactId", r.raw)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{DailyLimit: 3})
	c := newClient(t, o)
	r := c.do("GET", v+"/limits", nil)
	assertShape(t, "limits.json", map[string]any{"DailyApiRequests": r.body.(map[string]any)["DailyApiRequests"]}, false)
	if got := r.body.(map[string]any)["DailyApiRequests"].(map[string]any); got["Max"] != 3.0 || got["Remaining"] != 2.0 {
		t.Errorf("limits: got %v; want Max 3 Remaining 2", got)
	}
	c.do("GET", v+"/limits", nil)
	r = c.do("GET", v+"/limits", nil)
	if r.header.Get("Sforce-Limit-Info") != "api-usage=3/3" {
		t.Errorf("Sforce-Limit-Info: got %q; want api-usage=3/3", r.header.Get("Sforce-Limit-Info"))
	}
	r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"})
	if r.status != 403 {
		t.Fatalf("over limit: got %d; want 403", r.status)
	}
	assertShape(t, "error_request_limit.json", r.body, false)
	if e := firstErr(r.body); e["message"] != "TotalRequests Limit exceeded." || e["errorCode"] != "REQUEST_LIMIT_EXCEEDED" {
		t.Errorf("over limit body: got %v; want REQUEST_LIMIT_EXCEEDED", e)
	}
	if got := len(o.Records("Lead")); got != 0 {
		t.Errorf("leads created over the limit: got %d; want 0", got)
	}
	if st := o.Stats(); st.Total != 3 || st.ByEndpoint["GET limits"] != 3 {
		t.Errorf("stats: got %+v; want 3 limits calls", st)
	}
	o.SetDailyLimit(10)
	if r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"}); r.status != 201 {
		t.Errorf("after raising the limit: got %d; want 201", r.status)
	}
}

func TestLongURI(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	q := "SELECT Id FROM Lead WHERE Email IN ('" + strings.Repeat("a", 17000) + "')"
	if r := c.query(q); r.status != 414 {
		t.Errorf("long query URI: got %d; want 414", r.status)
	}
	if got := o.Stats().Total; got != 0 {
		t.Errorf("calls counted: got %d; want 0", got)
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	var wg sync.WaitGroup
	ids := make(chan string, 200)
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				r := c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": fmt.Sprintf("L%d-%d", g, i), "Company": "C"})
				if r.status == 201 {
					ids <- r.body.(map[string]any)["id"].(string)
				}
				o.Stats()
				o.Records("Lead")
			}
		}(g)
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 200 || len(o.Records("Lead")) != 200 || o.Stats().Total != 200 {
		t.Errorf("concurrent creates: got %d ids, %d leads, %d calls; want 200 each", len(seen), len(o.Records("Lead")), o.Stats().Total)
	}
}

func TestRequestFormat(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	r := c.do("POST", v+"/sobjects/Lead", "LastName=A&Company=C", "Content-Type", "application/x-www-form-urlencoded")
	if r.status != 415 || errorsOf(r.body)[0] != "UNSUPPORTED_MEDIA_TYPE" {
		t.Errorf("form body: got %d %s; want 415 UNSUPPORTED_MEDIA_TYPE", r.status, r.raw)
	}
	if r = c.do("POST", v+"/sobjects/Lead", "{not json"); r.status != 400 || errorsOf(r.body)[0] != "JSON_PARSER_ERROR" {
		t.Errorf("malformed JSON: got %d %s; want 400 JSON_PARSER_ERROR", r.status, r.raw)
	}
	r = c.do("POST", v+"/sobjects/Lead", map[string]any{"lastname": "A", "COMPANY": "C", "Status": nil})
	if r.status != 201 {
		t.Fatalf("case-insensitive field names: got %d %s; want 201", r.status, r.raw)
	}
	rec, _ := o.Record("Lead", r.body.(map[string]any)["id"].(string))
	if rec["LastName"] != "A" || rec["Status"] != "Open - Not Contacted" {
		t.Errorf("stored: got LastName %v Status %v; want A and the default status", rec["LastName"], rec["Status"])
	}
	if r = c.do("PUT", v+"/sobjects/Lead", map[string]any{}); r.status != 405 {
		t.Errorf("PUT: got %d; want 405", r.status)
	}
}

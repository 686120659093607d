package org

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Bounces and opt-outs written back to Leads and Contacts, the API user's
// field-level security, and deletes for privacy erasures.

// outcome summarises one SaveResult or DeleteResult: "ok <id>", or the
// error codes, with "+id" when the failed result still names its record.
func outcome(x any) string {
	m, _ := x.(map[string]any)
	id, hasID := m["id"].(string)
	if m["success"] == true {
		return "ok " + id
	}
	codes := strings.Join(errorsOf(m["errors"]), ",")
	if hasID {
		return codes + " +" + id
	}
	return codes
}

func outcomes(t *testing.T, r result) []string {
	t.Helper()
	list, ok := r.body.([]any)
	if r.status != 200 || !ok {
		t.Fatalf("collection: got %d %s; want 200 and a result list", r.status, r.raw)
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = outcome(x)
	}
	return out
}

func rec(typ, id string, fields map[string]any) map[string]any {
	m := map[string]any{"attributes": map[string]any{"type": typ}, "id": id}
	for k, val := range fields {
		m[k] = val
	}
	return m
}

// flipCase changes the case of one letter of an 18-character id's first 15
// characters, which its suffix then contradicts.
func flipCase(id string) string {
	b := []byte(id)
	for i := 3; i < 15; i++ {
		switch c := b[i]; {
		case c >= 'a' && c <= 'z':
			b[i] = c - 32
			return string(b)
		case c >= 'A' && c <= 'Z':
			b[i] = c + 32
			return string(b)
		}
	}
	panic("no letter in " + id)
}

func TestBounceAndOptOutFieldsDescribe(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	fields := map[string]map[string]map[string]any{}
	for _, obj := range []string{"Lead", "Contact"} {
		r := c.do("GET", v+"/sobjects/"+obj+"/describe", nil)
		fields[obj] = map[string]map[string]any{}
		for _, f := range r.body.(map[string]any)["fields"].([]any) {
			m := f.(map[string]any)
			fields[obj][m["name"].(string)] = m
		}
	}
	want := map[string]map[string]any{
		"EmailBouncedReason": {"type": "string", "length": 255.0, "nillable": true, "createable": true, "updateable": true, "defaultedOnCreate": false, "permissionable": true},
		"EmailBouncedDate":   {"type": "datetime", "nillable": true, "createable": true, "updateable": true, "defaultedOnCreate": false, "permissionable": true},
		"HasOptedOutOfEmail": {"type": "boolean", "nillable": false, "createable": true, "updateable": true, "defaultedOnCreate": true, "permissionable": true, "soapType": "xsd:boolean"},
	}
	for _, obj := range []string{"Lead", "Contact"} {
		for field, props := range want {
			for key, w := range props {
				if got := fields[obj][field][key]; got != w {
					t.Errorf("%s.%s %s: got %v; want %v", obj, field, key, got, w)
				}
			}
		}
	}
	// a new record is not opted out, and never null
	id := mustSeed(t, o, "Contact", map[string]any{"LastName": "New", "AccountId": mustSeed(t, o, "Account", map[string]any{"Name": "A"})[0]})[0]
	r := c.query("SELECT HasOptedOutOfEmail, EmailBouncedReason FROM Contact WHERE Id = '" + id + "'")
	got := r.body.(map[string]any)["records"].([]any)[0].(map[string]any)
	if got["HasOptedOutOfEmail"] != false || got["EmailBouncedReason"] != nil {
		t.Errorf("new contact: got HasOptedOutOfEmail %v, EmailBouncedReason %v; want false and null", got["HasOptedOutOfEmail"], got["EmailBouncedReason"])
	}
}

func TestCollectionUpdateBouncesAndOptOuts(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	acct := mustSeed(t, o, "Account", map[string]any{"Name": "Acme"})[0]
	leads := mustSeed(t, o, "Lead",
		map[string]any{"LastName": "Bounced", "Company": "C", "Email": "b@acme.com"},
		map[string]any{"LastName": "TooLong", "Company": "C"},
		map[string]any{"LastName": "Converted", "Company": "C"},
		map[string]any{"LastName": "Gone", "Company": "C"},
		map[string]any{"LastName": "Exact", "Company": "C"},
		map[string]any{"LastName": "Nulls", "Company": "C"},
	)
	contact := mustSeed(t, o, "Contact", map[string]any{"LastName": "Opted", "AccountId": acct})[0]
	if _, err := o.Convert(leads[2]); err != nil {
		t.Fatal(err)
	}
	if err := o.Delete(leads[3]); err != nil {
		t.Fatal(err)
	}
	never := makeID("00Q", "5g", 99999)
	tooLong := strings.Repeat("😀", 128)     // 128 characters, 256 UTF-16 units
	exact := strings.Repeat("😀", 127) + "x" // 255 units
	bounced := "550 5.1.1 mailbox unavailable"
	cases := []struct {
		name   string
		record map[string]any
		want   string // outcome, "ok" for success
	}{
		{"bounce written", rec("Lead", leads[0], map[string]any{"EmailBouncedReason": bounced, "EmailBouncedDate": "2026-11-26T10:00:00Z"}), "ok"},
		{"opt-out written", rec("Contact", contact, map[string]any{"HasOptedOutOfEmail": true}), "ok"},
		{"reason too long in UTF-16 units", rec("Lead", leads[1], map[string]any{"EmailBouncedReason": tooLong}), "STRING_TOO_LONG +" + leads[1]},
		{"converted lead", rec("Lead", leads[2], map[string]any{"HasOptedOutOfEmail": true}), "CANNOT_UPDATE_CONVERTED_LEAD +" + leads[2]},
		{"deleted lead", rec("Lead", leads[3], map[string]any{"HasOptedOutOfEmail": true}), "ENTITY_IS_DELETED +" + leads[3]},
		{"never-existing lead", rec("Lead", never, map[string]any{"HasOptedOutOfEmail": true}), "INVALID_CROSS_REFERENCE_KEY +" + never},
		{"id with a changed case", rec("Lead", flipCase(leads[4]), map[string]any{"HasOptedOutOfEmail": true}), "MALFORMED_ID"},
		{"a Contact id sent as a Lead", rec("Lead", contact, map[string]any{"HasOptedOutOfEmail": true}), "MALFORMED_ID"},
		{"255 units exactly", rec("Lead", leads[4], map[string]any{"EmailBouncedReason": exact}), "ok"},
		{"opt-out nulled", rec("Lead", leads[5], map[string]any{"HasOptedOutOfEmail": nil}), "INVALID_TYPE_ON_FIELD_IN_RECORD +" + leads[5]},
		{"required field nulled", rec("Lead", leads[5], map[string]any{"LastName": nil}), "REQUIRED_FIELD_MISSING +" + leads[5]},
		{"read-only field", rec("Lead", leads[5], map[string]any{"IsConverted": true}), "INVALID_FIELD_FOR_INSERT_UPDATE +" + leads[5]},
		{"restricted picklist", rec("Lead", leads[5], map[string]any{"Status": "Bounced"}), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST +" + leads[5]},
		{"bounce cleared", rec("Lead", leads[5], map[string]any{"EmailBouncedReason": nil, "EmailBouncedDate": nil}), "ok"},
	}
	var records []any
	for _, tc := range cases {
		records = append(records, tc.record)
	}
	r := c.do("PATCH", v+"/composite/sobjects", map[string]any{"allOrNone": false, "records": records})
	got := outcomes(t, r)
	if len(got) != len(cases) {
		t.Fatalf("results: got %d; want %d (%s)", len(got), len(cases), r.raw)
	}
	for i, tc := range cases {
		want := tc.want
		if want == "ok" {
			want = "ok " + fmt.Sprint(tc.record["id"])
		}
		if got[i] != want {
			t.Errorf("%s: got %s; want %s", tc.name, got[i], want)
		}
	}
	res := r.body.([]any)
	if e := res[2].(map[string]any)["errors"].([]any)[0].(map[string]any); e["message"] != "Email Bounced Reason: data value too large: "+tooLong+" (max length=255)" || fmt.Sprint(e["fields"]) != "[EmailBouncedReason]" {
		t.Errorf("too long: got %v; want the field named in message and fields", e)
	}
	if e := res[6].(map[string]any)["errors"].([]any)[0].(map[string]any); e["message"] != "Lead ID: id value of incorrect type: "+flipCase(leads[4]) || fmt.Sprint(e["fields"]) != "[Id]" {
		t.Errorf("changed case: got %v; want Lead ID: id value of incorrect type, fields [Id]", e)
	}
	if e := res[9].(map[string]any)["errors"].([]any)[0].(map[string]any); e["message"] != "Email Opt Out: value not of required type: " || fmt.Sprint(e["fields"]) != "[HasOptedOutOfEmail]" {
		t.Errorf("opt-out nulled: got %v; want Email Opt Out: value not of required type", e)
	}
	stored := []struct {
		object, id, field string
		want              any
	}{
		{"Lead", leads[0], "EmailBouncedReason", bounced},
		{"Lead", leads[0], "EmailBouncedDate", "2026-11-26T10:00:00.000+0000"},
		{"Lead", leads[0], "HasOptedOutOfEmail", false},
		{"Contact", contact, "HasOptedOutOfEmail", true},
		{"Lead", leads[1], "EmailBouncedReason", nil},
		{"Lead", leads[2], "HasOptedOutOfEmail", false},
		{"Lead", leads[4], "EmailBouncedReason", exact},
		{"Lead", leads[5], "HasOptedOutOfEmail", false},
		{"Lead", leads[5], "LastName", "Nulls"},
	}
	for _, s := range stored {
		got, _ := o.Record(s.object, s.id)
		if got[s.field] != s.want {
			t.Errorf("%s %s.%s: got %v; want %v", s.object, s.id, s.field, got[s.field], s.want)
		}
	}
	if st := o.Stats(); st.Total != 1 || st.ByEndpoint["PATCH composite/sobjects"] != 1 {
		t.Errorf("stats: got %+v; want one PATCH composite/sobjects call", st)
	}

	// allOrNone: one failure rolls every record back
	r = c.do("PATCH", v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		rec("Contact", contact, map[string]any{"HasOptedOutOfEmail": false, "EmailBouncedReason": "full"}),
		rec("Lead", leads[0], map[string]any{"EmailBouncedReason": tooLong}),
		rec("Lead", leads[4], map[string]any{"HasOptedOutOfEmail": true}),
	}})
	if got, want := strings.Join(outcomes(t, r), "; "), "ALL_OR_NONE_OPERATION_ROLLED_BACK +"+contact+"; STRING_TOO_LONG +"+leads[0]+"; ALL_OR_NONE_OPERATION_ROLLED_BACK +"+leads[4]; got != want {
		t.Errorf("allOrNone: got %s; want %s", got, want)
	}
	for _, s := range []struct {
		object, id, field string
		want              any
	}{{"Contact", contact, "HasOptedOutOfEmail", true}, {"Contact", contact, "EmailBouncedReason", nil}, {"Lead", leads[0], "EmailBouncedReason", bounced}, {"Lead", leads[4], "HasOptedOutOfEmail", false}} {
		if got, _ := o.Record(s.object, s.id); got[s.field] != s.want {
			t.Errorf("after rollback %s.%s: got %v; want %v", s.object, s.field, got[s.field], s.want)
		}
	}
	if st := o.Stats(); st.Total != 2 || st.ByEndpoint["PATCH composite/sobjects"] != 2 {
		t.Errorf("stats after allOrNone: got %+v; want two PATCH composite/sobjects calls", st)
	}

	// inside a composite request: one call in all
	r = c.do("POST", v+"/composite", map[string]any{"compositeRequest": []any{
		map[string]any{"method": "PATCH", "url": v + "/composite/sobjects", "referenceId": "optout", "body": map[string]any{"records": []any{
			rec("Lead", leads[4], map[string]any{"HasOptedOutOfEmail": true}),
		}}},
	}})
	sub := byRef(t, r.body, "optout")[0].(map[string]any)
	if body, _ := sub["body"].([]any); sub["httpStatusCode"] != 200.0 || len(body) != 1 || outcome(body[0]) != "ok "+leads[4] {
		t.Errorf("composite subrequest: got %v; want 200 and one success", sub)
	}
	if got, _ := o.Record("Lead", leads[4]); got["HasOptedOutOfEmail"] != true {
		t.Errorf("composite update: got HasOptedOutOfEmail %v; want true", got["HasOptedOutOfEmail"])
	}
	if st := o.Stats(); st.Total != 3 || st.ByEndpoint["POST composite"] != 1 {
		t.Errorf("stats after composite: got %+v; want 3 calls, one POST composite", st)
	}
}

// TestCollectionUpdateDuplicateRules: the duplicate rules run on an update
// that sets a field the matching reads, not on bounce or opt-out fields.
func TestCollectionUpdateDuplicateRules(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	// seeded records skip the rules: two that already match each other
	ids := mustSeed(t, o, "Lead",
		map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Company": "C", "Email": "ada@acme.com"},
		map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Company": "C", "Email": "ada@acme.com"},
		map[string]any{"FirstName": "Grace", "LastName": "Lovelace", "Company": "C"},
	)
	for _, tc := range []struct {
		name   string
		fields map[string]any
		id     string
		want   string
	}{
		{"bounce fields only", map[string]any{"EmailBouncedReason": "full", "HasOptedOutOfEmail": true}, ids[0], "ok " + ids[0]},
		{"a matching field", map[string]any{"FirstName": "Ada", "Email": "ada@acme.com"}, ids[2], "DUPLICATES_DETECTED +" + ids[2]},
	} {
		r := c.do("PATCH", v+"/composite/sobjects", map[string]any{"records": []any{rec("Lead", tc.id, tc.fields)}})
		if got := outcomes(t, r); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: got %v; want %s", tc.name, got, tc.want)
		}
	}
}

func TestFieldAccessSwitch(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	c := newClient(t, o)
	sim := &client{t: t, base: base, hc: http.DefaultClient}
	acct := mustSeed(t, o, "Account", map[string]any{"Name": "Acme"})[0]
	lead := mustSeed(t, o, "Lead", map[string]any{"LastName": "L", "Company": "C"})[0]
	contact := mustSeed(t, o, "Contact", map[string]any{"LastName": "K", "AccountId": acct})[0]
	describe := func(obj, field string) (createable, updateable any) {
		r := c.do("GET", v+"/sobjects/"+obj+"/describe", nil)
		for _, f := range r.body.(map[string]any)["fields"].([]any) {
			if m := f.(map[string]any); m["name"] == field {
				return m["createable"], m["updateable"]
			}
		}
		t.Fatalf("describe %s: no field %s", obj, field)
		return nil, nil
	}
	if err := o.SetFieldUpdateable("Lead", "hasoptedoutofemail", false); err != nil {
		t.Fatal(err)
	}
	if r := sim.do("PUT", "/_sim/field-access/Contact/EmailBouncedReason", map[string]any{"updateable": false}); r.status != 204 {
		t.Fatalf("PUT field-access: got %d %s; want 204", r.status, r.raw)
	}
	for _, f := range [][2]string{{"Lead", "HasOptedOutOfEmail"}, {"Contact", "EmailBouncedReason"}} {
		if cr, up := describe(f[0], f[1]); cr != false || up != false {
			t.Errorf("describe %s.%s: got createable %v, updateable %v; want false, false", f[0], f[1], cr, up)
		}
	}
	if cr, up := describe("Contact", "HasOptedOutOfEmail"); cr != true || up != true {
		t.Errorf("describe Contact.HasOptedOutOfEmail (untouched): got createable %v, updateable %v; want true, true", cr, up)
	}
	const fls = "Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set."
	r := c.do("PATCH", v+"/composite/sobjects", map[string]any{"records": []any{
		rec("Lead", lead, map[string]any{"HasOptedOutOfEmail": true}),
		rec("Contact", contact, map[string]any{"EmailBouncedReason": "full", "HasOptedOutOfEmail": true}),
		rec("Lead", lead, map[string]any{"EmailBouncedReason": "full"}),
	}})
	if got, want := strings.Join(outcomes(t, r), "; "), "INVALID_FIELD_FOR_INSERT_UPDATE +"+lead+"; INVALID_FIELD_FOR_INSERT_UPDATE +"+contact+"; ok "+lead; got != want {
		t.Errorf("updates: got %s; want %s", got, want)
	}
	res := r.body.([]any)
	for i, field := range map[int]string{0: "HasOptedOutOfEmail", 1: "EmailBouncedReason"} {
		e := res[i].(map[string]any)["errors"].([]any)[0].(map[string]any)
		if e["message"] != fmt.Sprintf(fls, field) || fmt.Sprint(e["fields"]) != "["+field+"]" {
			t.Errorf("refusal of %s: got %v; want %q naming it", field, e, fmt.Sprintf(fls, field))
		}
	}
	if got, _ := o.Record("Contact", contact); got["HasOptedOutOfEmail"] != false {
		t.Errorf("refused record: got HasOptedOutOfEmail %v; want false (nothing saved)", got["HasOptedOutOfEmail"])
	}
	// a create that sends it, alone or in a collection
	r = c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "N", "Company": "C", "HasOptedOutOfEmail": false})
	if e := firstErr(r.body); r.status != 400 || e["errorCode"] != "INVALID_FIELD_FOR_INSERT_UPDATE" || e["message"] != fmt.Sprintf(fls, "HasOptedOutOfEmail") {
		t.Errorf("create: got %d %s; want 400 INVALID_FIELD_FOR_INSERT_UPDATE", r.status, r.raw)
	}
	// an admin's seed still writes it
	if _, err := o.Seed("Lead", map[string]any{"LastName": "S", "Company": "C", "HasOptedOutOfEmail": true}); err != nil {
		t.Errorf("seed: got %v; want success (field-level security is the API user's)", err)
	}
	// on again
	if r := sim.do("PUT", "/_sim/field-access/Lead/HasOptedOutOfEmail", map[string]any{"updateable": true}); r.status != 204 {
		t.Fatalf("PUT field-access on: got %d; want 204", r.status)
	}
	r = c.do("PATCH", v+"/composite/sobjects", map[string]any{"records": []any{rec("Lead", lead, map[string]any{"HasOptedOutOfEmail": true})}})
	if got := outcomes(t, r); got[0] != "ok "+lead {
		t.Errorf("after switching back: got %v; want success", got)
	}
	for _, tc := range []struct {
		path   string
		body   any
		status int
	}{
		{"/_sim/field-access/Widget/Name", map[string]any{"updateable": false}, 404},
		{"/_sim/field-access/Lead/Nope__c", map[string]any{"updateable": false}, 400},
		{"/_sim/field-access/Lead/LastName", map[string]any{"updateable": false}, 400}, // required: no field-level security
		{"/_sim/field-access/Lead/IsConverted", map[string]any{"updateable": false}, 400},
		{"/_sim/field-access/Lead/Title", map[string]any{}, 400},
		{"/_sim/field-access/Lead/Title", map[string]any{"on": true}, 400},
	} {
		if r := sim.do("PUT", tc.path, tc.body); r.status != tc.status {
			t.Errorf("PUT %s %v: got %d %s; want %d", tc.path, tc.body, r.status, r.raw, tc.status)
		}
	}
	o.Reset()
	c = newClient(t, o)
	if cr, up := describe("Contact", "EmailBouncedReason"); cr != true || up != true {
		t.Errorf("after Reset: got createable %v, updateable %v; want true, true", cr, up)
	}
}

func TestCollectionDelete(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	acct := mustSeed(t, o, "Account", map[string]any{"Name": "Acme"})[0]
	leads := mustSeed(t, o, "Lead",
		map[string]any{"LastName": "Erase", "Company": "C"},
		map[string]any{"LastName": "Gone", "Company": "C"},
		map[string]any{"LastName": "Theirs", "Company": "C", "OwnerId": o.OtherUserID()},
		map[string]any{"LastName": "Case", "Company": "C"},
	)
	contacts := mustSeed(t, o, "Contact",
		map[string]any{"LastName": "Erase", "AccountId": acct},
		map[string]any{"LastName": "Keep", "AccountId": acct},
	)
	tasks := mustSeed(t, o, "Task",
		map[string]any{"Subject": "sent", "WhoId": contacts[0]},
		map[string]any{"Subject": "opened", "WhoId": contacts[0], "OwnerId": o.OtherUserID()},
		map[string]any{"Subject": "lead's", "WhoId": leads[0]},
		map[string]any{"Subject": "kept", "WhoId": contacts[1]},
	)
	if err := o.Delete(leads[1]); err != nil {
		t.Fatal(err)
	}
	never := makeID("003", "5g", 99999)
	del := func(ids []string, allOrNone string) result {
		q := url.Values{"ids": {strings.Join(ids, ",")}}
		if allOrNone != "" {
			q.Set("allOrNone", allOrNone)
		}
		return c.do("DELETE", v+"/composite/sobjects?"+q.Encode(), nil)
	}
	cases := []struct {
		name, id, want string
	}{
		{"a lead", leads[0], "ok " + leads[0]},
		{"a contact, by its 15-character id", contacts[0][:15], "ok " + contacts[0]},
		{"already deleted", leads[1], "ENTITY_IS_DELETED"},
		{"never existed", never, "INVALID_CROSS_REFERENCE_KEY"},
		{"not an id", "nope", "MALFORMED_ID"},
		{"an id with a changed case", flipCase(leads[3]), "MALFORMED_ID"},
		{"another user's lead", leads[2], "INSUFFICIENT_ACCESS_OR_READONLY"},
		{"a user", o.OtherUserID(), "INVALID_TYPE_FOR_OPERATION"},
		{"a task cascade-deleted earlier in the call", tasks[0], "ENTITY_IS_DELETED"},
	}
	var ids []string
	for _, tc := range cases {
		ids = append(ids, tc.id)
	}
	r := del(ids, "false")
	got := outcomes(t, r)
	for i, tc := range cases {
		if i >= len(got) || got[i] != tc.want {
			t.Errorf("%s: got %v; want %s", tc.name, got, tc.want)
			break
		}
	}
	if e := r.body.([]any)[4].(map[string]any)["errors"].([]any)[0].(map[string]any); e["message"] != "malformed id nope" || fmt.Sprint(e["fields"]) != "[]" {
		t.Errorf("malformed: got %v; want message \"malformed id nope\", fields []", e)
	}
	if e := r.body.([]any)[2].(map[string]any)["errors"].([]any)[0].(map[string]any); e["message"] != "entity is deleted" {
		t.Errorf("deleted: got %v; want message \"entity is deleted\"", e)
	}
	if st := o.Stats(); st.Total != 1 || st.ByEndpoint["DELETE composite/sobjects"] != 1 {
		t.Errorf("stats: got %+v; want one DELETE composite/sobjects call", st)
	}
	// the records and the Tasks of the deleted Lead and Contact are gone, others stay
	for _, tc := range []struct {
		object, id string
		live       bool
	}{
		{"Lead", leads[0], false}, {"Contact", contacts[0], false}, {"Lead", leads[2], true}, {"Lead", leads[3], true},
		{"Task", tasks[0], false}, {"Task", tasks[1], false}, {"Task", tasks[2], false}, {"Task", tasks[3], true}, {"Contact", contacts[1], true},
	} {
		if _, live := o.Record(tc.object, tc.id); live != tc.live {
			t.Errorf("%s %s: live %v; want %v", tc.object, tc.id, live, tc.live)
		}
	}
	for q, want := range map[string]float64{
		"SELECT Id FROM Task":                                    1,
		"SELECT Id FROM Contact WHERE LastName = 'Erase'":        0,
		"SELECT Id FROM Lead WHERE LastName IN ('Erase','Gone')": 0,
	} {
		if r := c.query(q); r.body.(map[string]any)["totalSize"] != want {
			t.Errorf("%s: got %v; want %v records", q, r.body.(map[string]any)["totalSize"], want)
		}
	}
	// a deleted record's GET, PATCH and its update through a collection
	if r := c.do("GET", v+"/sobjects/Contact/"+contacts[0], nil); r.status != 404 || errorsOf(r.body)[0] != "ENTITY_IS_DELETED" {
		t.Errorf("GET deleted: got %d %s; want 404 ENTITY_IS_DELETED", r.status, r.raw)
	}

	// allOrNone: one failure keeps every record
	r = del([]string{leads[3], never}, "true")
	if got, want := strings.Join(outcomes(t, r), "; "), "ALL_OR_NONE_OPERATION_ROLLED_BACK +"+leads[3]+"; INVALID_CROSS_REFERENCE_KEY"; got != want {
		t.Errorf("allOrNone: got %s; want %s", got, want)
	}
	if _, live := o.Record("Lead", leads[3]); !live {
		t.Errorf("allOrNone: the rolled-back lead is gone; want it kept")
	}
	r = del([]string{contacts[1], never}, "true")
	if _, live := o.Record("Task", tasks[3]); !live {
		t.Errorf("allOrNone: the rolled-back contact's task is gone; want it kept (%s)", r.raw)
	}

	// Modify All lets the API user delete other users' records
	if err := o.SetModifyAll("Lead", true); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, del([]string{leads[2]}, "")); got[0] != "ok "+leads[2] {
		t.Errorf("with Modify All: got %v; want success", got)
	}

	// request-level errors
	many := make([]string, 201)
	for i := range many {
		many[i] = makeID("00Q", "5g", uint64(50000+i))
	}
	for _, tc := range []struct {
		name, query, code string
	}{
		{"201 ids", "ids=" + strings.Join(many, ","), "EXCEEDED_ID_LIMIT"},
		{"no ids", "allOrNone=false", "MISSING_ARGUMENT"},
		{"empty ids", "ids=", "MISSING_ARGUMENT"},
	} {
		r := c.do("DELETE", v+"/composite/sobjects?"+tc.query, nil)
		if r.status != 400 || len(errorsOf(r.body)) == 0 || errorsOf(r.body)[0] != tc.code {
			t.Errorf("%s: got %d %s; want 400 %s", tc.name, r.status, r.raw, tc.code)
		}
	}
	if r := del(many[:200], ""); r.status != 200 || len(r.body.([]any)) != 200 {
		t.Errorf("200 ids: got %d; want 200 with 200 results", r.status)
	}
	if st := o.Stats(); st.ByEndpoint["DELETE composite/sobjects"] != 8 {
		t.Errorf("stats: got %+v; want 8 DELETE composite/sobjects calls, refused ones included", st)
	}
	if r := c.do("GET", v+"/composite/sobjects?ids="+leads[3], nil); r.status != 405 || r.header.Get("Allow") != "POST,PATCH,DELETE" {
		t.Errorf("GET: got %d Allow %q; want 405 POST,PATCH,DELETE", r.status, r.header.Get("Allow"))
	}
}

func TestDeleteOwnershipAndCascade(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	c := newClient(t, o)
	sim := &client{t: t, base: base, hc: http.DefaultClient}
	leads := mustSeed(t, o, "Lead",
		map[string]any{"LastName": "Mine", "Company": "C"},
		map[string]any{"LastName": "Theirs", "Company": "C", "OwnerId": o.OtherUserID()},
		map[string]any{"LastName": "Admin", "Company": "C", "OwnerId": o.OtherUserID()},
	)
	task := mustSeed(t, o, "Task", map[string]any{"Subject": "s", "WhoId": leads[0]})[0]
	for _, tc := range []struct {
		name   string
		setup  func()
		id     string
		status int
		code   string
	}{
		{"own lead, its task goes too", func() {}, leads[0], 204, ""},
		{"another user's lead", func() {}, leads[1], 400, "INSUFFICIENT_ACCESS_OR_READONLY"},
		{"with Modify All Data", func() { o.SetModifyAllData(true) }, leads[1], 204, ""},
	} {
		tc.setup()
		r := c.do("DELETE", v+"/sobjects/Lead/"+tc.id, nil)
		if r.status != tc.status || (tc.code != "" && errorsOf(r.body)[0] != tc.code) {
			t.Errorf("%s: got %d %s; want %d %s", tc.name, r.status, r.raw, tc.status, tc.code)
		}
	}
	if _, live := o.Record("Task", task); live {
		t.Errorf("the deleted lead's task is live; want it deleted with the lead")
	}
	// the setup objects say what the API user holds
	r := c.query("SELECT PermissionsModifyAllData, PermissionsViewAllData FROM PermissionSet")
	if ps := r.body.(map[string]any)["records"].([]any)[0].(map[string]any); ps["PermissionsModifyAllData"] != true || ps["PermissionsViewAllData"] != true {
		t.Errorf("PermissionSet: got %v; want Modify All Data and View All Data", ps)
	}
	// an admin deletes in Salesforce: not counted, any owner
	calls := o.Stats().Total
	if r := sim.do("DELETE", "/_sim/records/Lead/"+leads[2], nil); r.status != 204 {
		t.Errorf("DELETE /_sim/records: got %d %s; want 204", r.status, r.raw)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/_sim/records/Lead/" + leads[2], 404},
		{"/_sim/records/Contact/" + leads[2], 400},
		{"/_sim/records/Widget/" + leads[2], 404},
		{"/_sim/records/User/" + o.OtherUserID(), 400},
	} {
		if r := sim.do("DELETE", tc.path, nil); r.status != tc.status {
			t.Errorf("DELETE %s: got %d %s; want %d", tc.path, r.status, r.raw, tc.status)
		}
	}
	if got := o.Stats().Total; got != calls {
		t.Errorf("admin deletes counted: got %d calls; want %d", got, calls)
	}
	if r := c.do("PATCH", v+"/sobjects/Lead/"+leads[2], map[string]any{"HasOptedOutOfEmail": true}); r.status != 404 || errorsOf(r.body)[0] != "ENTITY_IS_DELETED" {
		t.Errorf("update after an admin's delete: got %d %s; want 404 ENTITY_IS_DELETED", r.status, r.raw)
	}
	if err := o.Delete(leads[2]); err == nil {
		t.Errorf("Delete of a deleted lead: got nil; want ErrNotFound")
	}
}

func TestCollectionDeleteInComposite(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	ids := mustSeed(t, o, "Lead", map[string]any{"LastName": "A", "Company": "C"}, map[string]any{"LastName": "B", "Company": "C"})
	r := c.do("POST", v+"/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
		map[string]any{"method": "DELETE", "url": v + "/composite/sobjects?ids=" + ids[0] + "," + ids[1], "referenceId": "erase"},
		map[string]any{"method": "POST", "url": v + "/sobjects/Contact", "referenceId": "bad", "body": map[string]any{"FirstName": "NoLast"}},
	}})
	cr := byRef(t, r.body, "erase", "bad")
	if cr[0].(map[string]any)["httpStatusCode"] != 400.0 || cr[1].(map[string]any)["httpStatusCode"] != 400.0 {
		t.Errorf("composite allOrNone: got %s; want both 400 (halted, required field)", r.raw)
	}
	if len(o.Records("Lead")) != 2 {
		t.Errorf("after the composite rolled back: got %d leads; want 2", len(o.Records("Lead")))
	}
	r = c.do("POST", v+"/composite", map[string]any{"compositeRequest": []any{
		map[string]any{"method": "DELETE", "url": v + "/composite/sobjects?ids=" + ids[0] + "&allOrNone=false", "referenceId": "erase"},
	}})
	sub := byRef(t, r.body, "erase")[0].(map[string]any)
	if body, _ := sub["body"].([]any); sub["httpStatusCode"] != 200.0 || len(body) != 1 || outcome(body[0]) != "ok "+ids[0] {
		t.Errorf("composite delete: got %v; want 200 and one success", sub)
	}
	if st := o.Stats(); st.Total != 2 || st.ByEndpoint["POST composite"] != 2 || st.ByEndpoint["DELETE composite/sobjects"] != 0 {
		t.Errorf("stats: got %+v; want 2 POST composite calls and nothing else", st)
	}
}

func TestRecordsPageShowsBounceFields(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	mustSeed(t, o, "Lead", map[string]any{"LastName": "L", "Company": "C"})
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	lead := string(page)[strings.Index(string(page), `id="Lead"`):]
	lead = lead[:strings.Index(lead, "</table>")]
	for _, col := range []string{"<th>HasOptedOutOfEmail</th>", "<th>EmailBouncedReason</th>", "<th>EmailBouncedDate</th>", "<td>false</td>"} {
		if !strings.Contains(lead, col) {
			t.Errorf("records page, Lead table: got no %s; want it", col)
		}
	}
	if strings.Contains(string(page), `id="Contact"`) && strings.Contains(string(page)[strings.Index(string(page), `id="Contact"`):], "<th>EmailBouncedReason</th>") {
		t.Errorf("records page: an empty Contact table shows columns; want \"No records.\"")
	}
}

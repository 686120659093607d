package org

import (
	"fmt"
	"strings"
	"testing"
)

func leadRec(last, email string) map[string]any {
	r := map[string]any{"attributes": map[string]any{"type": "Lead"}, "LastName": last, "Company": "C"}
	if email != "" {
		r["Email"] = email
	}
	return r
}

func TestCollectionsCreate(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	body := map[string]any{"allOrNone": false, "records": []any{
		leadRec("A", "a@example.com"),
		map[string]any{"attributes": map[string]any{"type": "Lead"}, "Company": "C"},
		map[string]any{"attributes": map[string]any{"type": "Contact"}, "LastName": "B"},
	}}
	r := c.do("POST", v+"/composite/sobjects", body)
	if r.status != 200 {
		t.Fatalf("status: got %d %s; want 200", r.status, r.raw)
	}
	assertShape(t, "saveresult_collection.json", []any{r.body.([]any)[0], r.body.([]any)[1]}, false)
	res := r.body.([]any)
	if res[0].(map[string]any)["success"] != true || res[1].(map[string]any)["success"] != false || res[2].(map[string]any)["success"] != true {
		t.Errorf("results: got %s; want success, failure, success in order", r.raw)
	}
	if id := res[2].(map[string]any)["id"].(string); !strings.HasPrefix(id, "003") {
		t.Errorf("mixed types: got id %s; want a Contact id", id)
	}
	if st := o.Stats(); st.Total != 1 || st.ByEndpoint["POST composite/sobjects"] != 1 {
		t.Errorf("stats: got %+v; want one collection call", st)
	}

	// allOrNone rolls back the valid records
	before := len(o.Records("Lead"))
	body["allOrNone"] = true
	// new people: the same ones again would now be duplicates
	body["records"].([]any)[0] = leadRec("A2", "a2@example.com")
	body["records"].([]any)[2] = map[string]any{"attributes": map[string]any{"type": "Contact"}, "LastName": "B2"}
	r = c.do("POST", v+"/composite/sobjects", body)
	if r.status != 200 {
		t.Fatalf("allOrNone status: got %d; want 200", r.status)
	}
	fx := loadFixture(t, "saveresult_collection.json").([]any)
	if d := shapeDiff("$", fx[2], r.body.([]any)[0], false); d != "" {
		t.Errorf("rolled-back result shape: %s", d)
	}
	if d := shapeDiff("$", fx[1], r.body.([]any)[1], false); d != "" {
		t.Errorf("failed result shape: %s", d)
	}
	codes := []string{}
	for _, x := range r.body.([]any) {
		codes = append(codes, errorsOf(x.(map[string]any)["errors"])...)
	}
	if want := "ALL_OR_NONE_OPERATION_ROLLED_BACK,REQUIRED_FIELD_MISSING,ALL_OR_NONE_OPERATION_ROLLED_BACK"; strings.Join(codes, ",") != want {
		t.Errorf("allOrNone errors: got %v; want %s", codes, want)
	}
	if got := len(o.Records("Lead")); got != before || len(o.Records("Contact")) != 1 {
		t.Errorf("after rollback: got %d leads, %d contacts; want %d and 1", got, len(o.Records("Contact")), before)
	}

	// request-level errors
	many := make([]any, 201)
	for i := range many {
		many[i] = leadRec(fmt.Sprint(i), "")
	}
	chunks := []any{}
	for i := 0; i < 11; i++ {
		typ := []string{"Lead", "Contact"}[i%2]
		rec := map[string]any{"attributes": map[string]any{"type": typ}, "LastName": "x"}
		if typ == "Lead" {
			rec["Company"] = "c"
		}
		chunks = append(chunks, rec)
	}
	for name, tc := range map[string]struct {
		body any
		code string
	}{
		"over 200":        {map[string]any{"records": many}, "EXCEEDED_ID_LIMIT"},
		"no type":         {map[string]any{"records": []any{map[string]any{"LastName": "A", "Company": "C"}}}, "INVALID_TYPE"},
		"unknown type":    {map[string]any{"records": []any{map[string]any{"attributes": map[string]any{"type": "Widget"}}}}, "INVALID_TYPE"},
		"unknown field":   {map[string]any{"records": []any{map[string]any{"attributes": map[string]any{"type": "Lead"}, "LastName": "A", "Company": "C", "Bogus": 1}}}, "INVALID_FIELD"},
		"not json":        {"{", "JSON_PARSER_ERROR"},
		"eleven chunks":   {map[string]any{"records": chunks}, "INVALID_BATCH_REQUEST"},
		"no records list": {map[string]any{"records": []any{}}, "INVALID_FIELD"},
	} {
		r := c.do("POST", v+"/composite/sobjects", tc.body)
		if r.status != 400 || len(errorsOf(r.body)) == 0 || errorsOf(r.body)[0] != tc.code {
			t.Errorf("%s: got %d %s; want 400 %s", name, r.status, r.raw, tc.code)
		}
	}
	// 200 records is fine
	r = c.do("POST", v+"/composite/sobjects", map[string]any{"records": many[:200]})
	if r.status != 200 || len(r.body.([]any)) != 200 {
		t.Errorf("200 records: got %d; want 200 with 200 results", r.status)
	}
}

func TestCollectionsUpdate(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	ids := mustSeed(t, o, "Lead", map[string]any{"LastName": "A", "Company": "C"}, map[string]any{"LastName": "B", "Company": "C"})
	upd := func(id string, f map[string]any) map[string]any {
		m := map[string]any{"attributes": map[string]any{"type": "Lead"}, "id": id}
		for k, val := range f {
			m[k] = val
		}
		return m
	}
	r := c.do("PATCH", v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		upd(ids[0], map[string]any{"Title": "T"}), upd(ids[1], map[string]any{"Email": "bad"}),
	}})
	res := r.body.([]any)
	if r.status != 200 || res[0].(map[string]any)["id"] != ids[0] || errorsOf(res[0].(map[string]any)["errors"])[0] != "ALL_OR_NONE_OPERATION_ROLLED_BACK" ||
		errorsOf(res[1].(map[string]any)["errors"])[0] != "INVALID_EMAIL_ADDRESS" {
		t.Errorf("allOrNone update: got %d %s; want rollback + INVALID_EMAIL_ADDRESS with ids", r.status, r.raw)
	}
	if rec, _ := o.Record("Lead", ids[0]); rec["Title"] != nil {
		t.Errorf("rolled-back update: got Title %v; want nil", rec["Title"])
	}
	r = c.do("PATCH", v+"/composite/sobjects", map[string]any{"records": []any{
		upd(ids[0], map[string]any{"Title": "T"}), upd("", map[string]any{"Title": "x"}), upd("00Q5g0000000zzzAAA", map[string]any{"Title": "x"}),
	}})
	res = r.body.([]any)
	if res[0].(map[string]any)["success"] != true || errorsOf(res[1].(map[string]any)["errors"])[0] != "MISSING_ARGUMENT" || res[2].(map[string]any)["success"] != false {
		t.Errorf("partial update: got %s; want success, MISSING_ARGUMENT, failure", r.raw)
	}
	if rec, _ := o.Record("Lead", ids[0]); rec["Title"] != "T" {
		t.Errorf("update: got Title %v; want T", rec["Title"])
	}
}

func TestComposite(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{})
	c := newClient(t, o)
	mustSeed(t, o, "Contact", map[string]any{"LastName": "Known", "Email": "known@example.com"})
	body := map[string]any{"allOrNone": false, "compositeRequest": []any{
		map[string]any{"method": "POST", "url": v + "/sobjects/Account", "referenceId": "refAccount", "body": map[string]any{"Name": "Acme"}},
		map[string]any{"method": "POST", "url": v + "/sobjects/Contact", "referenceId": "refContact", "body": map[string]any{"LastName": "Lee", "AccountId": "@{refAccount.id}"}},
		map[string]any{"method": "GET", "url": v + "/query?q=" + strings.ReplaceAll("SELECT Id FROM Contact WHERE Email = 'known@example.com'", " ", "+"), "referenceId": "refQuery"},
		map[string]any{"method": "POST", "url": v + "/sobjects/Task", "referenceId": "refTask", "body": map[string]any{"Subject": "s", "WhoId": "@{refQuery.records[0].Id}", "Status": "Completed"}},
		map[string]any{"method": "POST", "url": v + "/composite/sobjects", "referenceId": "refColl", "body": map[string]any{"records": []any{leadRec("L", "")}}},
		map[string]any{"method": "GET", "url": v + "/sobjects/Contact/@{refContact.id}?fields=AccountId", "referenceId": "refRead"},
	}}
	r := c.do("POST", v+"/composite", body)
	if r.status != 200 {
		t.Fatalf("composite: got %d %s; want 200", r.status, r.raw)
	}
	// the answers come out of request order (collateSubrequests): match them by referenceId
	cr := byRef(t, r.body, "refAccount", "refContact", "refQuery", "refTask", "refColl", "refRead")
	if got := r.body.(map[string]any)["compositeResponse"].([]any)[0].(map[string]any)["referenceId"]; got == "refAccount" {
		t.Errorf("first answer: got refAccount; want the answers out of request order")
	}
	assertShape(t, "composite_response.json", map[string]any{"compositeResponse": cr[:1]}, false)
	statuses := []string{}
	for _, x := range cr {
		statuses = append(statuses, fmt.Sprint(x.(map[string]any)["httpStatusCode"]))
	}
	if strings.Join(statuses, ",") != "201,201,200,201,200,200" {
		t.Errorf("statuses: got %v; want 201,201,200,201,200,200 (%s)", statuses, r.raw)
	}
	acct := cr[0].(map[string]any)["body"].(map[string]any)["id"]
	if got := cr[5].(map[string]any)["body"].(map[string]any)["AccountId"]; got != acct {
		t.Errorf("reference substitution: got AccountId %v; want %v", got, acct)
	}
	if loc := cr[0].(map[string]any)["httpHeaders"].(map[string]any)["Location"]; loc != v+"/sobjects/Account/"+acct.(string) {
		t.Errorf("Location: got %v; want the new account's URL", loc)
	}
	if st := o.Stats(); st.Total != 1 || st.ByEndpoint["POST composite"] != 1 {
		t.Errorf("stats: got %+v; want one composite call", st)
	}

	// allOrNone: a failure rolls back the earlier creates and halts the rest
	accounts := len(o.Records("Account"))
	body = map[string]any{"allOrNone": true, "compositeRequest": []any{
		map[string]any{"method": "POST", "url": v + "/sobjects/Account", "referenceId": "a", "body": map[string]any{"Name": "Acme 2"}},
		map[string]any{"method": "POST", "url": v + "/sobjects/Contact", "referenceId": "bad", "body": map[string]any{"FirstName": "NoLast"}},
		map[string]any{"method": "POST", "url": v + "/sobjects/Account", "referenceId": "c", "body": map[string]any{"Name": "Acme 3"}},
	}}
	r = c.do("POST", v+"/composite", body)
	cr = byRef(t, r.body, "a", "bad", "c")
	got := []string{}
	for _, x := range cr {
		m := x.(map[string]any)
		got = append(got, fmt.Sprintf("%v:%s", m["httpStatusCode"], strings.Join(errorsOf(m["body"]), "")))
	}
	if want := "400:PROCESSING_HALTED,400:REQUIRED_FIELD_MISSING,400:PROCESSING_HALTED"; strings.Join(got, ",") != want {
		t.Errorf("allOrNone composite: got %v; want %s", got, want)
	}
	assertShape(t, "composite_processing_halted.json", cr[0].(map[string]any)["body"], false)
	if n := len(o.Records("Account")); n != accounts {
		t.Errorf("accounts after rollback: got %d; want %d", n, accounts)
	}

	// without allOrNone, a dependent subrequest fails and independent ones run
	body = map[string]any{"compositeRequest": []any{
		map[string]any{"method": "POST", "url": v + "/sobjects/Contact", "referenceId": "bad", "body": map[string]any{"FirstName": "NoLast"}},
		map[string]any{"method": "POST", "url": v + "/sobjects/Task", "referenceId": "dep", "body": map[string]any{"Subject": "s", "WhoId": "@{bad.id}"}},
		map[string]any{"method": "POST", "url": v + "/sobjects/Account", "referenceId": "ok", "body": map[string]any{"Name": "Indep"}},
	}}
	r = c.do("POST", v+"/composite", body)
	cr = byRef(t, r.body, "bad", "dep", "ok")
	if cr[1].(map[string]any)["httpStatusCode"] != 400.0 || cr[2].(map[string]any)["httpStatusCode"] != 201.0 {
		t.Errorf("dependent/independent: got %s; want 400 then 201", r.raw)
	}

	// more than 25 subrequests
	many := []any{}
	for i := 0; i < 26; i++ {
		many = append(many, map[string]any{"method": "GET", "url": v + "/limits", "referenceId": fmt.Sprintf("r%d", i)})
	}
	if r = c.do("POST", v+"/composite", map[string]any{"compositeRequest": many}); r.status != 400 {
		t.Errorf("26 subrequests: got %d; want 400", r.status)
	}
}

// byRef returns a composite answer's subresponses in the order of refs,
// matched by referenceId.
func byRef(t *testing.T, body any, refs ...string) []any {
	t.Helper()
	got := map[any]any{}
	for _, x := range body.(map[string]any)["compositeResponse"].([]any) {
		got[x.(map[string]any)["referenceId"]] = x
	}
	out := make([]any, len(refs))
	for i, ref := range refs {
		if out[i] = got[ref]; out[i] == nil {
			t.Fatalf("composite answer: no subresponse for %s in %v", ref, body)
		}
	}
	return out
}

func TestCompositeLenientKeepsOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lenient bool
		want    string
	}{{false, "c,b,a"}, {true, "a,b,c"}} {
		o, _ := testOrg(t, Config{Lenient: tc.lenient})
		c := newClient(t, o)
		var subs []any
		for _, ref := range []string{"a", "b", "c"} {
			subs = append(subs, map[string]any{"method": "GET", "url": v + "/limits", "referenceId": ref})
		}
		r := c.do("POST", v+"/composite", map[string]any{"compositeRequest": subs})
		var got []string
		for _, x := range r.body.(map[string]any)["compositeResponse"].([]any) {
			got = append(got, x.(map[string]any)["referenceId"].(string))
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("lenient %v: answer order got %v; want %s", tc.lenient, got, tc.want)
		}
	}
}

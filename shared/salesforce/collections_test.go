package salesforce_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/salesforce"
)

func update(object, id string, fields map[string]any) salesforce.SObject {
	r := salesforce.NewSObject(object)
	r["Id"] = id
	for k, v := range fields {
		r[k] = v
	}
	return r
}

// outcome is a result in a word: "ok <id>" or "<code> <id>" (the id
// Salesforce answered, possibly none).
func outcome(r salesforce.SaveResult) string {
	if r.Success {
		return "ok " + r.ID
	}
	code := "?"
	if len(r.Errors) > 0 {
		code = r.Errors[0].Code
	}
	return strings.TrimSpace(code + " " + r.ID)
}

// TestUpdateCollectionAgainstTheSimulator: 203 updates take two calls, each
// record answered in input order, a refused record failing alone; the
// values read back; interleaved types past 10 chunks take another call.
func TestUpdateCollectionAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, c := newSim(t)
	leads := make([]map[string]any, 201)
	for i := range leads {
		leads[i] = map[string]any{"LastName": fmt.Sprint("L", i), "Company": "C"}
	}
	leadIDs, err := sim.Seed("Lead", leads...)
	if err != nil {
		t.Fatal(err)
	}
	contactIDs, err := sim.Seed("Contact", map[string]any{"LastName": "K"}, map[string]any{"LastName": "Gone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Delete(contactIDs[1]); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetFieldUpdateable("Contact", "EmailBouncedReason", false); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var records []salesforce.SObject
	for i, id := range leadIDs {
		records = append(records, update("Lead", id, map[string]any{"EmailBouncedReason": fmt.Sprint("full ", i), "EmailBouncedDate": when.Format(time.RFC3339), "HasOptedOutOfEmail": true}))
	}
	records = append(records,
		update("Contact", contactIDs[0], map[string]any{"EmailBouncedReason": "refused"}),
		update("Contact", contactIDs[1], map[string]any{"HasOptedOutOfEmail": true}),
		update("Contact", contactIDs[0], map[string]any{"HasOptedOutOfEmail": true}))
	res, err := c.UpdateCollection(ctx, records, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		t.Fatalf("UpdateCollection: %v", err)
	}
	if len(res) != len(records) {
		t.Fatalf("results: got %d; want %d", len(res), len(records))
	}
	for i, id := range leadIDs {
		if got := outcome(res[i]); got != "ok "+id {
			t.Fatalf("lead %d: got %s; want ok %s", i, got, id)
		}
	}
	want := []string{"INVALID_FIELD_FOR_INSERT_UPDATE " + contactIDs[0], "ENTITY_IS_DELETED " + contactIDs[1], "ok " + contactIDs[0]}
	for i, w := range want {
		if got := outcome(res[len(leadIDs)+i]); got != w {
			t.Errorf("contact update %d: got %s; want %s", i, got, w)
		}
	}
	if e := res[len(leadIDs)].Errors[0]; len(e.Fields) != 1 || e.Fields[0] != "EmailBouncedReason" {
		t.Errorf("refusal of a field the user may not edit: got %+v; want it named", e)
	}
	if got := c.Calls.Load(); got != 2 {
		t.Errorf("calls: got %d; want 2 (200 records a call)", got)
	}
	rec, _ := sim.Record("Lead", leadIDs[200])
	if rec["EmailBouncedReason"] != "full 200" || rec["HasOptedOutOfEmail"] != true || rec["EmailBouncedDate"] != "2026-11-26T10:00:00.000+0000" {
		t.Errorf("the last lead read back: got %v, %v, %v", rec["EmailBouncedReason"], rec["HasOptedOutOfEmail"], rec["EmailBouncedDate"])
	}
	if rec, _ := sim.Record("Contact", contactIDs[0]); rec["EmailBouncedReason"] != nil || rec["HasOptedOutOfEmail"] != true {
		t.Errorf("the contact read back: got %v, %v; want nothing refused saved, the opt-out saved", rec["EmailBouncedReason"], rec["HasOptedOutOfEmail"])
	}

	// Salesforce takes at most 10 chunks (runs of one type) per request.
	var mixed []salesforce.SObject
	for i := range 11 {
		if i%2 == 0 {
			mixed = append(mixed, update("Lead", leadIDs[i], map[string]any{"Title": "T"}))
		} else {
			mixed = append(mixed, update("Contact", contactIDs[0], map[string]any{"Title": fmt.Sprint("T", i)}))
		}
	}
	before := c.Calls.Load()
	res, err = c.UpdateCollection(ctx, mixed, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		t.Fatalf("UpdateCollection of 11 chunks: %v", err)
	}
	for i, r := range res {
		if !r.Success {
			t.Errorf("chunked update %d: got %s; want ok", i, outcome(r))
		}
	}
	if got := c.Calls.Load() - before; got != 2 {
		t.Errorf("calls for 11 chunks: got %d; want 2", got)
	}
}

// TestDeleteCollectionAgainstTheSimulator: 201 ids take two calls, each
// answered in order; a Lead's Tasks go with it; deleting again answers
// ENTITY_IS_DELETED for each id.
func TestDeleteCollectionAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, c := newSim(t)
	leads := make([]map[string]any, 201)
	for i := range leads {
		leads[i] = map[string]any{"LastName": fmt.Sprint("L", i), "Company": "C"}
	}
	ids, err := sim.Seed("Lead", leads...)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := sim.Seed("Task", map[string]any{"Subject": "sent", "WhoId": ids[0]}, map[string]any{"Subject": "last", "WhoId": ids[200]})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.DeleteCollection(ctx, ids)
	if err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	if len(res) != len(ids) {
		t.Fatalf("results: got %d; want %d", len(res), len(ids))
	}
	for i, id := range ids {
		if got := outcome(res[i]); got != "ok "+id {
			t.Fatalf("delete %d: got %s; want ok %s", i, got, id)
		}
	}
	if got := c.Calls.Load(); got != 2 {
		t.Errorf("calls: got %d; want 2 (200 ids a call)", got)
	}
	for _, id := range tasks {
		if _, live := sim.Record("Task", id); live {
			t.Errorf("task %s of a deleted lead: still there; want it deleted with the lead", id)
		}
	}
	res, err = c.DeleteCollection(ctx, ids[:2])
	if err != nil {
		t.Fatalf("DeleteCollection again: %v", err)
	}
	for i, r := range res {
		if got := outcome(r); got != salesforce.CodeEntityIsDeleted {
			t.Errorf("delete %d again: got %s; want %s without an id", i, got, salesforce.CodeEntityIsDeleted)
		}
	}
}

// TestCollectionWritesOnTheWire: the requests are what Salesforce
// documents (method, path, allOrNone false, attributes and Id in each
// record, the ids listed), bad input is refused before any call, and a
// write is never sent again after a failure.
func TestCollectionWritesOnTheWire(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []*http.Request
	var bodies []string
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen, bodies = append(seen, r), append(bodies, string(b))
		failing := fail
		mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`[{"message":"Server is temporarily unavailable","errorCode":"SERVER_UNAVAILABLE"}]`))
			return
		}
		n := 0
		if r.Method == http.MethodDelete {
			n = len(strings.Split(r.URL.Query().Get("ids"), ","))
		} else {
			var in struct{ Records []map[string]any }
			_ = json.Unmarshal(b, &in)
			n = len(in.Records)
		}
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"id": fmt.Sprintf("00Q%012dAAA", i), "success": true, "errors": []any{}}
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	c := &salesforce.Client{Session: staticSession{salesforce.Token{AccessToken: "t", InstanceURL: srv.URL}}}
	ctx := context.Background()
	reset := func(failing bool) {
		mu.Lock()
		seen, bodies, fail = nil, nil, failing
		mu.Unlock()
		c.Calls.Store(0)
	}

	records := make([]salesforce.SObject, 201)
	for i := range records {
		records[i] = update("Lead", fmt.Sprintf("00Q%012dAAA", i), map[string]any{"HasOptedOutOfEmail": true})
	}
	if _, err := c.UpdateCollection(ctx, records, salesforce.WriteOptions{AutoAssign: "FALSE"}); err != nil {
		t.Fatalf("UpdateCollection: %v", err)
	}
	mu.Lock()
	if len(seen) != 2 {
		t.Fatalf("update calls: got %d; want 2", len(seen))
	}
	for i, r := range seen {
		if r.Method != http.MethodPatch || r.URL.Path != dataPath+"/composite/sobjects" || r.Header.Get("Sforce-Auto-Assign") != "FALSE" {
			t.Errorf("update call %d: got %s %s, Sforce-Auto-Assign %q; want PATCH .../composite/sobjects, FALSE", i, r.Method, r.URL.Path, r.Header.Get("Sforce-Auto-Assign"))
		}
	}
	var first struct {
		AllOrNone *bool            `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &first); err != nil || first.AllOrNone == nil || *first.AllOrNone || len(first.Records) != 200 {
		t.Fatalf("update body: got %.200s (%v); want allOrNone false and 200 records", bodies[0], err)
	}
	if a, _ := first.Records[0]["attributes"].(map[string]any); a["type"] != "Lead" || first.Records[0]["Id"] != records[0]["Id"] {
		t.Errorf("update record: got %v; want attributes.type Lead and the Id", first.Records[0])
	}
	mu.Unlock()

	reset(false)
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprintf("003%012dAAA", i)
	}
	res, err := c.DeleteCollection(ctx, ids)
	if err != nil || len(res) != 201 {
		t.Fatalf("DeleteCollection: got %d results, %v; want 201", len(res), err)
	}
	mu.Lock()
	if len(seen) != 2 {
		t.Fatalf("delete calls: got %d; want 2", len(seen))
	}
	if r := seen[0]; r.Method != http.MethodDelete || r.URL.Path != dataPath+"/composite/sobjects" ||
		r.URL.RawQuery != "ids="+strings.Join(ids[:200], ",")+"&allOrNone=false" {
		t.Errorf("delete call: got %s %s?%.80s; want DELETE .../composite/sobjects?ids=...&allOrNone=false", r.Method, r.URL.Path, r.URL.RawQuery)
	}
	if got := seen[1].URL.Query().Get("ids"); got != ids[200] {
		t.Errorf("second delete call: got ids %s; want %s", got, ids[200])
	}
	mu.Unlock()

	reset(false)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"an update without a type", func() error {
			_, err := c.UpdateCollection(ctx, []salesforce.SObject{{"Id": ids[0], "Title": "x"}}, salesforce.WriteOptions{})
			return err
		}},
		{"an update without an Id", func() error {
			_, err := c.UpdateCollection(ctx, []salesforce.SObject{update("Lead", "", nil)}, salesforce.WriteOptions{})
			return err
		}},
		{"a delete of an id with a comma", func() error {
			_, err := c.DeleteCollection(ctx, []string{ids[0] + ",x"})
			return err
		}},
		{"a delete of an empty id", func() error {
			_, err := c.DeleteCollection(ctx, []string{ids[0], ""})
			return err
		}},
	} {
		if err := tc.call(); err == nil {
			t.Errorf("%s: got no error; want it refused", tc.name)
		}
	}
	if got := c.Calls.Load(); got != 0 {
		t.Errorf("calls for bad input: got %d; want 0", got)
	}

	reset(true)
	if _, err := c.UpdateCollection(ctx, records[:1], salesforce.WriteOptions{}); !isTransient(err) {
		t.Errorf("update on a 503: got %v; want ErrTransient", err)
	}
	if _, err := c.DeleteCollection(ctx, ids[:1]); !isTransient(err) {
		t.Errorf("delete on a 503: got %v; want ErrTransient", err)
	}
	if got := c.Calls.Load(); got != 2 {
		t.Errorf("calls after two 503s: got %d; want 2 (writes are not resent)", got)
	}
}

func isTransient(err error) bool { return errors.Is(err, salesforce.ErrTransient) }

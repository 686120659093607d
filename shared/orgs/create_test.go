package orgs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

func lead(email string) salesforce.SObject {
	r := salesforce.NewSObject("Lead")
	r["LastName"], r["Company"], r["Email"] = "Lead", "Co", email
	return r
}

func contact(email string) salesforce.SObject {
	r := salesforce.NewSObject("Contact")
	r["LastName"], r["Email"] = "Contact", email
	return r
}

// wantResult describes one expected SaveResult: the id prefix of a created
// record, or the error code of a failed one.
type wantResult struct {
	prefix string
	code   string
}

func checkResults(t *testing.T, got []salesforce.SaveResult, want []wantResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("results: got %d; want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		switch {
		case w.prefix != "" && (!r.Success || !strings.HasPrefix(r.ID, w.prefix)):
			t.Errorf("result %d: got %+v; want success with an id starting %s", i, r, w.prefix)
		case w.code != "" && (r.Success || len(r.Errors) == 0 || r.Errors[0].Code != w.code):
			t.Errorf("result %d: got %+v; want failure %s", i, r, w.code)
		}
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	e.seed("Contact", map[string]any{"LastName": "Dup", "Email": "dup.alert@example.com"})
	e.seed("Contact", map[string]any{"LastName": "Dup", "Email": "dup.block@example.com"})

	many := func(n int, mk func(string) salesforce.SObject, tag string) []salesforce.SObject {
		out := make([]salesforce.SObject, n)
		for i := range out {
			out[i] = mk(fmt.Sprintf("%s.%04d@example.com", tag, i))
		}
		return out
	}
	repeat := func(n int, w wantResult) []wantResult {
		out := make([]wantResult, n)
		for i := range out {
			out[i] = w
		}
		return out
	}
	noType := salesforce.SObject{"LastName": "NoType", "Email": "notype@example.com"}
	badField := lead("badfield.0@example.com")
	badField["NoSuchField__c"] = "x"

	tests := []struct {
		name      string
		records   []salesforce.SObject
		opts      salesforce.WriteOptions
		want      []wantResult
		wantCalls int
	}{
		{name: "nothing to create", want: []wantResult{}, wantCalls: 0},
		{name: "interleaved types keep input order",
			records: []salesforce.SObject{lead("mix.1@example.com"), contact("mix.2@example.com"), lead("mix.3@example.com"), contact("mix.4@example.com")},
			want:    []wantResult{{prefix: "00Q"}, {prefix: "003"}, {prefix: "00Q"}, {prefix: "003"}}, wantCalls: 1},
		{name: "a rejected record fails alone",
			records: []salesforce.SObject{lead("ok.1@example.com"), lead("not an email"), contact("ok.2@example.com")},
			want:    []wantResult{{prefix: "00Q"}, {code: "INVALID_EMAIL_ADDRESS"}, {prefix: "003"}}, wantCalls: 1},
		{name: "a record without a type never reaches Salesforce",
			records: []salesforce.SObject{noType, lead("typed@example.com")},
			want:    []wantResult{{code: orgs.CodeMissingType}, {prefix: "00Q"}}, wantCalls: 1},
		{name: "only untyped records cost no call",
			records: []salesforce.SObject{noType},
			want:    []wantResult{{code: orgs.CodeMissingType}}, wantCalls: 0},
		{name: "a collection Salesforce refuses fails its records only",
			records: []salesforce.SObject{badField, contact("fine@example.com")},
			want:    []wantResult{{code: "INVALID_FIELD"}, {prefix: "003"}}, wantCalls: 1},
		{name: "1,001 records: six collections, two calls",
			records: append(many(600, lead, "bulk.lead"), many(401, contact, "bulk.contact")...),
			want:    append(repeat(600, wantResult{prefix: "00Q"}), repeat(401, wantResult{prefix: "003"})...), wantCalls: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := e.open()
			got, err := o.Create(context.Background(), tc.records, tc.opts)
			if err != nil {
				t.Fatalf("Create: got error %v; want nil", err)
			}
			checkResults(t, got, tc.want)
			if int(o.Calls()) != tc.wantCalls {
				t.Errorf("API calls: got %d; want %d", o.Calls(), tc.wantCalls)
			}
		})
	}
}

// TestCreateHonoursWriteOptions checks that assignment and duplicate rules
// follow the options, and that the options travel both on the composite
// call and in every collection subrequest.
func TestCreateHonoursWriteOptions(t *testing.T) {
	t.Parallel()
	// The org's lead queue owns the leads its assignment rule routes.
	queueID := org.New(org.Config{}).QueueID()
	e := newEnv(t, org.Config{LeadQueue: queueID})
	if err := e.sim.SetDuplicateRule("Lead", org.DuplicateRule{Enabled: true, AllowSave: true}); err != nil {
		t.Fatalf("duplicate rule: %v", err)
	}
	if err := e.sim.SetDuplicateRule("Contact", org.DuplicateRule{Enabled: true, AllowSave: false}); err != nil {
		t.Fatalf("duplicate rule: %v", err)
	}
	// the standard rules match the name plus the email, not the email alone
	e.seed("Lead", map[string]any{"LastName": "Lead", "Company": "Co", "Email": "taken@example.com"})
	e.seed("Contact", map[string]any{"LastName": "Contact", "Email": "taken@example.com"})

	var mu sync.Mutex
	var sent []*http.Request
	var bodies [][]byte
	hook := func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/composite") || r.Body == nil {
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		mu.Lock()
		sent, bodies = append(sent, r), append(bodies, b)
		mu.Unlock()
	}
	e.dataHook.Store(&hook)

	tests := []struct {
		name      string
		opts      salesforce.WriteOptions
		records   []salesforce.SObject
		want      []wantResult
		wantOwner string // of the first record
		header    map[string]string
	}{
		{name: "assignment rules off", opts: salesforce.WriteOptions{AutoAssign: "FALSE"},
			records: []salesforce.SObject{lead("assign.off@example.com")}, want: []wantResult{{prefix: "00Q"}},
			wantOwner: e.sim.UserID(), header: map[string]string{"Sforce-Auto-Assign": "FALSE", "Sforce-Duplicate-Rule-Header": "allowSave=false"}},
		{name: "assignment rules on", opts: salesforce.WriteOptions{AutoAssign: "TRUE"},
			records: []salesforce.SObject{lead("assign.on@example.com")}, want: []wantResult{{prefix: "00Q"}},
			wantOwner: queueID, header: map[string]string{"Sforce-Auto-Assign": "TRUE", "Sforce-Duplicate-Rule-Header": "allowSave=false"}},
		{name: "alert rule blocks without allowSave", opts: salesforce.WriteOptions{AutoAssign: "FALSE"},
			records: []salesforce.SObject{lead("Taken@example.com"), lead("free.1@example.com")},
			want:    []wantResult{{code: salesforce.CodeDuplicatesDetected}, {prefix: "00Q"}},
			header:  map[string]string{"Sforce-Auto-Assign": "FALSE", "Sforce-Duplicate-Rule-Header": "allowSave=false"}},
		{name: "alert rule passes with allowSave", opts: salesforce.WriteOptions{AutoAssign: "FALSE", AllowSaveOnDuplicate: true},
			records: []salesforce.SObject{lead("TAKEN@example.com")}, want: []wantResult{{prefix: "00Q"}},
			header: map[string]string{"Sforce-Auto-Assign": "FALSE", "Sforce-Duplicate-Rule-Header": "allowSave=true"}},
		{name: "block rule blocks even with allowSave", opts: salesforce.WriteOptions{AutoAssign: "FALSE", AllowSaveOnDuplicate: true},
			records: []salesforce.SObject{contact("taken@example.com")}, want: []wantResult{{code: salesforce.CodeDuplicatesDetected}},
			header: map[string]string{"Sforce-Auto-Assign": "FALSE", "Sforce-Duplicate-Rule-Header": "allowSave=true"}},
	}
	// Sequential: the rows share one org whose duplicate state they change.
	for _, tc := range tests {
		mu.Lock()
		sent, bodies = nil, nil
		mu.Unlock()
		got, err := e.open().Create(context.Background(), tc.records, tc.opts)
		if err != nil {
			t.Fatalf("%s: Create: got error %v; want nil", tc.name, err)
		}
		checkResults(t, got, tc.want)
		if tc.wantOwner != "" {
			rec, _ := e.sim.Record("Lead", got[0].ID)
			if owner, _ := rec["OwnerId"].(string); !sameID(owner, tc.wantOwner) {
				t.Errorf("%s: owner: got %s; want %s", tc.name, owner, tc.wantOwner)
			}
		}
		mu.Lock()
		if len(sent) != 1 {
			t.Fatalf("%s: composite calls: got %d; want 1", tc.name, len(sent))
		}
		var body struct {
			CompositeRequest []salesforce.CompositeSubrequest `json:"compositeRequest"`
		}
		if err := json.Unmarshal(bodies[0], &body); err != nil {
			t.Fatalf("%s: composite body: %v", tc.name, err)
		}
		for k, v := range tc.header {
			if got := sent[0].Header.Get(k); got != v {
				t.Errorf("%s: composite header %s: got %q; want %q", tc.name, k, got, v)
			}
			for i, sub := range body.CompositeRequest {
				if got := sub.HTTPHeaders[k]; got != v {
					t.Errorf("%s: subrequest %d header %s: got %q; want %q", tc.name, i, k, got, v)
				}
			}
		}
		mu.Unlock()
	}
}

func TestCreateFailuresThatMayPassOnRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault org.Fault
		want  error
		saved bool // the org saved the records although the answer failed
	}{
		{"503 on the composite call", org.Fault{PathPrefix: "/services/data/v62.0/composite", Status: 503, ErrorCode: "SERVER_UNAVAILABLE", Times: 1}, salesforce.ErrTransient, false},
		{"502 with an HTML body", org.Fault{PathPrefix: "/services/data/v62.0/composite", Status: 502, Times: 1}, salesforce.ErrTransient, false},
		{"UNABLE_TO_LOCK_ROW", org.Fault{PathPrefix: "/services/data/v62.0/composite", ErrorCode: "UNABLE_TO_LOCK_ROW", Times: 1}, salesforce.ErrTransient, false},
		{"answer lost after commit", org.Fault{PathPrefix: "/services/data/v62.0/composite", DropAfterCommit: true, Times: 1}, salesforce.ErrTransient, true},
		{"REQUEST_LIMIT_EXCEEDED", org.Fault{PathPrefix: "/services/data/v62.0/composite", ErrorCode: "REQUEST_LIMIT_EXCEEDED", Times: 1}, salesforce.ErrRequestLimit, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, org.Config{})
			if _, err := e.sim.AddFault(tc.fault); err != nil {
				t.Fatalf("add fault: %v", err)
			}
			emails := []string{"retry.1@example.com", "retry.2@example.com"}
			res, err := e.open().Create(context.Background(), []salesforce.SObject{lead(emails[0]), contact(emails[1])}, salesforce.WriteOptions{AutoAssign: "FALSE"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Create: got error %v; want one wrapping %v", err, tc.want)
			}
			if res != nil {
				t.Errorf("results: got %v; want none", res)
			}
			// The caller looks the emails up again before creating anything.
			found, err := e.open().FindByEmail(context.Background(), emails)
			if err != nil {
				t.Fatalf("FindByEmail after the failure: %v", err)
			}
			if tc.saved != (len(found) == 2) || (!tc.saved && len(found) != 0) {
				t.Errorf("found after the failure: got %v; want saved=%v", found, tc.saved)
			}
		})
	}
}

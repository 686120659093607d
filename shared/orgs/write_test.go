package orgs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

func change(object, id string, fields map[string]any) salesforce.SObject {
	r := salesforce.NewSObject(object)
	r["Id"] = id
	for k, v := range fields {
		r[k] = v
	}
	return r
}

// wantSaved describes one expected result of an update or a delete: the
// id it answers ("" for none) and the error code of a refused record.
type wantSaved struct {
	id   string
	code string
}

func checkSaved(t *testing.T, got []salesforce.SaveResult, want []wantSaved) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("results: got %d %+v; want %d", len(got), got, len(want))
	}
	for i, w := range want {
		r := got[i]
		code := ""
		if len(r.Errors) > 0 {
			code = r.Errors[0].Code
		}
		if r.Success != (w.code == "") || code != w.code || r.ID != w.id {
			t.Errorf("result %d: got %+v; want id %q, code %q", i, r, w.id, w.code)
		}
	}
}

func TestUpdateRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	leads := make([]map[string]any, 250)
	for i := range leads {
		leads[i] = map[string]any{"LastName": fmt.Sprint("L", i), "Company": "C"}
	}
	leadIDs := e.seed("Lead", leads...)
	contacts := make([]map[string]any, 201)
	for i := range contacts {
		contacts[i] = map[string]any{"LastName": fmt.Sprint("C", i)}
	}
	contactIDs := e.seed("Contact", contacts...)
	gone := e.seed("Lead", map[string]any{"LastName": "Gone", "Company": "C"})[0]
	if err := e.sim.Delete(gone); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetFieldUpdateable("Contact", "EmailBouncedDate", false); err != nil {
		t.Fatal(err)
	}
	optOut := map[string]any{"HasOptedOutOfEmail": true}

	var interleaved []salesforce.SObject
	var all []wantSaved
	// 250 Leads and 201 Contacts, alternating while both last
	li, ci := 0, 0
	for li < len(leadIDs) || ci < len(contactIDs) {
		if li < len(leadIDs) && (li <= ci || ci == len(contactIDs)) {
			interleaved = append(interleaved, change("Lead", leadIDs[li], optOut))
			all = append(all, wantSaved{id: leadIDs[li]})
			li++
			continue
		}
		interleaved = append(interleaved, change("Contact", contactIDs[ci], optOut))
		all = append(all, wantSaved{id: contactIDs[ci]})
		ci++
	}
	var contactUpdates []salesforce.SObject
	var contactResults []wantSaved
	for _, id := range contactIDs {
		contactUpdates = append(contactUpdates, change("Contact", id, map[string]any{"Title": "Updated"}))
		contactResults = append(contactResults, wantSaved{id: id})
	}
	unknownField := change("Lead", leadIDs[0], map[string]any{"NoSuchField__c": "x"})

	tests := []struct {
		name      string
		records   []salesforce.SObject
		want      []wantSaved
		wantCalls int
	}{
		{name: "nothing to update", want: []wantSaved{}, wantCalls: 0},
		{name: "each record answered in input order, refused ones alone",
			records: []salesforce.SObject{
				change("Lead", leadIDs[0], map[string]any{"EmailBouncedReason": "full", "EmailBouncedDate": "2026-11-26T10:00:00Z"}),
				change("Contact", contactIDs[0], map[string]any{"EmailBouncedDate": "2026-11-26T10:00:00Z"}),
				change("Lead", gone, optOut),
				change("Contact", contactIDs[1], map[string]any{"HasOptedOutOfEmail": nil}),
				change("Contact", contactIDs[2], optOut),
			},
			want: []wantSaved{{id: leadIDs[0]}, {id: contactIDs[0], code: "INVALID_FIELD_FOR_INSERT_UPDATE"},
				{id: gone, code: salesforce.CodeEntityIsDeleted}, {id: contactIDs[1], code: "INVALID_TYPE_ON_FIELD_IN_RECORD"}, {id: contactIDs[2]}},
			wantCalls: 1},
		{name: "records without a type or an Id never reach Salesforce",
			records:   []salesforce.SObject{{"Id": leadIDs[1], "Title": "x"}, change("Lead", "", optOut), change("Lead", leadIDs[1], optOut)},
			want:      []wantSaved{{code: orgs.CodeMissingType}, {code: orgs.CodeMissingArgument}, {id: leadIDs[1]}},
			wantCalls: 1},
		{name: "only records that cannot be sent cost no call",
			records: []salesforce.SObject{change("Lead", "", optOut)}, want: []wantSaved{{code: orgs.CodeMissingArgument}}, wantCalls: 0},
		{name: "a call Salesforce refuses fails its records only",
			// sorted by type, the 200 Contacts fill the first call and
			// the Lead with the unknown field makes the second
			records: append([]salesforce.SObject{unknownField}, contactUpdates[:200]...),
			want:    append([]wantSaved{{code: "INVALID_FIELD"}}, contactResults[:200]...), wantCalls: 2},
		{name: "451 records of two types interleaved: three calls",
			records: interleaved, want: all, wantCalls: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := e.open()
			got, err := o.UpdateRecords(context.Background(), tc.records)
			if err != nil {
				t.Fatalf("UpdateRecords: got error %v; want nil", err)
			}
			checkSaved(t, got, tc.want)
			if int(o.Calls()) != tc.wantCalls {
				t.Errorf("API calls: got %d; want %d", o.Calls(), tc.wantCalls)
			}
		})
	}
	if rec, _ := e.sim.Record("Lead", leadIDs[0]); rec["EmailBouncedReason"] != "full" || rec["EmailBouncedDate"] != "2026-11-26T10:00:00.000+0000" {
		t.Errorf("lead read back: got %v, %v; want the bounce", rec["EmailBouncedReason"], rec["EmailBouncedDate"])
	}
}

func TestDeleteRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	other := e.sim.OtherUserID()
	leads := e.seed("Lead", map[string]any{"LastName": "Mine", "Company": "C"}, map[string]any{"LastName": "Theirs", "Company": "C", "OwnerId": other},
		map[string]any{"LastName": "Also theirs", "Company": "C", "OwnerId": other})
	contact := e.seed("Contact", map[string]any{"LastName": "Mine"})[0]
	tasks := e.seed("Task", map[string]any{"Subject": "lead's", "WhoId": leads[0]}, map[string]any{"Subject": "contact's", "WhoId": contact, "OwnerId": other})
	ctx := context.Background()

	o := e.open()
	got, err := o.DeleteRecords(ctx, []string{leads[0], "nope", leads[1], contact[:15], tasks[1]})
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	checkSaved(t, got, []wantSaved{{id: leads[0]}, {code: orgs.CodeMalformedID}, {code: "INSUFFICIENT_ACCESS_OR_READONLY"}, {id: contact},
		{code: salesforce.CodeEntityIsDeleted}}) // the Task went with its Contact, earlier in the call
	if o.Calls() != 1 {
		t.Errorf("API calls: got %d; want 1", o.Calls())
	}
	for _, id := range tasks {
		if _, live := e.sim.Record("Task", id); live {
			t.Errorf("task %s: still there; want it deleted with its Lead or Contact", id)
		}
	}
	if _, live := e.sim.Record("Lead", leads[1]); !live {
		t.Errorf("another user's lead: deleted; want it kept (no Modify All)")
	}
	if err := e.sim.SetModifyAll("Lead", true); err != nil {
		t.Fatal(err)
	}
	got, err = o.DeleteRecords(ctx, []string{leads[1], leads[0]})
	if err != nil {
		t.Fatalf("DeleteRecords with Modify All: %v", err)
	}
	checkSaved(t, got, []wantSaved{{id: leads[1]}, {code: salesforce.CodeEntityIsDeleted}})

	if got, err := o.DeleteRecords(ctx, []string{"", "a,b"}); err != nil || o.Calls() != 2 {
		t.Errorf("ids that are none: got %+v, %v after %d calls; want refused without a call", got, err, o.Calls())
	} else {
		checkSaved(t, got, []wantSaved{{code: orgs.CodeMalformedID}, {code: orgs.CodeMalformedID}})
	}
}

// TestUpdateKeepsTheOwner: an update sends Sforce-Auto-Assign: FALSE (which
// Salesforce defaults to TRUE on updates too), so a Lead whose bounce is
// written back keeps its owner whatever the org's assignment rules.
func TestUpdateKeepsTheOwner(t *testing.T) {
	t.Parallel()
	queueID := org.New(org.Config{}).QueueID()
	e := newEnv(t, org.Config{LeadQueue: queueID})
	lead := e.seed("Lead", map[string]any{"LastName": "L", "Company": "C"})[0]
	var mu sync.Mutex
	var assign []string
	hook := func(r *http.Request) {
		if r.Method == http.MethodPatch {
			mu.Lock()
			assign = append(assign, r.Header.Get("Sforce-Auto-Assign"))
			mu.Unlock()
		}
	}
	e.dataHook.Store(&hook)
	got, err := e.open().UpdateRecords(context.Background(), []salesforce.SObject{change("Lead", lead, map[string]any{"HasOptedOutOfEmail": true})})
	if err != nil {
		t.Fatal(err)
	}
	checkSaved(t, got, []wantSaved{{id: lead}})
	mu.Lock()
	defer mu.Unlock()
	if len(assign) != 1 || assign[0] != "FALSE" {
		t.Errorf("Sforce-Auto-Assign sent: got %q; want FALSE once", assign)
	}
	if rec, _ := e.sim.Record("Lead", lead); !sameID(rec["OwnerId"].(string), e.sim.UserID()) {
		t.Errorf("owner after the update: got %v; want %s, unchanged", rec["OwnerId"], e.sim.UserID())
	}
}

// TestWritesThatMayPassOnRetry: a whole call that fails in a way that may
// pass is an error and no results; sending the same update or delete
// again, with no lookup, finishes the work, even after a lost answer.
func TestWritesThatMayPassOnRetry(t *testing.T) {
	t.Parallel()
	const path = "/services/data/v62.0/composite/sobjects"
	tests := []struct {
		name    string
		fault   org.Fault
		want    error
		applied bool // the org did the work although the answer failed
	}{
		{"503", org.Fault{PathPrefix: path, Status: 503, ErrorCode: "SERVER_UNAVAILABLE", Times: 1}, salesforce.ErrTransient, false},
		{"502 with an HTML body", org.Fault{PathPrefix: path, Status: 502, Times: 1}, salesforce.ErrTransient, false},
		{"UNABLE_TO_LOCK_ROW", org.Fault{PathPrefix: path, ErrorCode: "UNABLE_TO_LOCK_ROW", Times: 1}, salesforce.ErrTransient, false},
		{"answer lost after commit", org.Fault{PathPrefix: path, DropAfterCommit: true, Times: 1}, salesforce.ErrTransient, true},
		{"REQUEST_LIMIT_EXCEEDED", org.Fault{PathPrefix: path, ErrorCode: "REQUEST_LIMIT_EXCEEDED", Times: 1}, salesforce.ErrRequestLimit, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, org.Config{})
			ids := e.seed("Lead", map[string]any{"LastName": "A", "Company": "C"}, map[string]any{"LastName": "B", "Company": "C"})
			update := []salesforce.SObject{change("Lead", ids[0], map[string]any{"HasOptedOutOfEmail": true})}

			for _, method := range []string{http.MethodPatch, http.MethodDelete} {
				f := tc.fault
				f.Method = method
				if _, err := e.sim.AddFault(f); err != nil {
					t.Fatalf("add fault: %v", err)
				}
				var res []salesforce.SaveResult
				var err error
				if method == http.MethodPatch {
					res, err = e.open().UpdateRecords(ctx, update)
				} else {
					res, err = e.open().DeleteRecords(ctx, ids[1:])
				}
				if !errors.Is(err, tc.want) || res != nil {
					t.Fatalf("%s: got %v, %v; want no results and an error wrapping %v", method, res, err, tc.want)
				}
			}
			rec, _ := e.sim.Record("Lead", ids[0])
			_, live := e.sim.Record("Lead", ids[1])
			if (rec["HasOptedOutOfEmail"] == true) != tc.applied || live == tc.applied {
				t.Errorf("after the failure: opted out %v, deleted %v; want both %v", rec["HasOptedOutOfEmail"], !live, tc.applied)
			}
			// The same writes again, as the caller's retry sends them.
			res, err := e.open().UpdateRecords(ctx, update)
			if err != nil {
				t.Fatalf("update again: %v", err)
			}
			checkSaved(t, res, []wantSaved{{id: ids[0]}})
			res, err = e.open().DeleteRecords(ctx, ids[1:])
			if err != nil {
				t.Fatalf("delete again: %v", err)
			}
			if tc.applied {
				checkSaved(t, res, []wantSaved{{code: salesforce.CodeEntityIsDeleted}})
			} else {
				checkSaved(t, res, []wantSaved{{id: ids[1]}})
			}
		})
	}
}

// TestWritesAtTheCap: at the team's budget cap no update or delete leaves.
func TestWritesAtTheCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e := governedEnv(t, 1000, 1, &now, connection.Usage{Used: 10, Limit: 1000, At: now}, 10)
	lead := e.seed("Lead", map[string]any{"LastName": "A", "Company": "C"})[0]
	before := e.sim.Stats().Total
	o := e.open()
	if _, err := o.UpdateRecords(ctx, []salesforce.SObject{change("Lead", lead, map[string]any{"HasOptedOutOfEmail": true})}); !errors.Is(err, budget.ErrCapped) {
		t.Errorf("update at the cap: got %v; want budget.ErrCapped", err)
	}
	if _, err := o.DeleteRecords(ctx, []string{lead}); !errors.Is(err, budget.ErrCapped) {
		t.Errorf("delete at the cap: got %v; want budget.ErrCapped", err)
	}
	if got := e.sim.Stats().Total - before; got != 0 {
		t.Errorf("calls that reached Salesforce at the cap: got %d; want 0", got)
	}
}

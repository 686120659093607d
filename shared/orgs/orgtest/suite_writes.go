package orgtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func init() {
	cases = append(cases, []struct {
		name  string
		check func(t *testing.T, s Subject)
	}{
		{"an update writes bounce and opt-out fields; a null checkbox is refused", updateWritesBounces},
		{"an update of a field the user may not edit is refused, naming it", updateNotUpdateable},
		{"an update of a deleted record answers ENTITY_IS_DELETED", updateDeleted},
		{"a delete takes records and their Tasks in one call; again, ENTITY_IS_DELETED", deleteCascades},
		{"201 ids take two delete calls", deleteInTwoCalls},
		{"another user's record is not deleted without Modify All", deleteOthersRefused},
	}...)
}

// writer is an org port as a RecordWriter: both engines' ports must offer
// UpdateRecords and DeleteRecords.
func writer(t *testing.T, port any) orgs.RecordWriter {
	t.Helper()
	w, ok := port.(orgs.RecordWriter)
	if !ok {
		t.Fatalf("%T: no UpdateRecords and DeleteRecords", port)
	}
	return w
}

func change(object, id string, fields map[string]any) salesforce.SObject {
	r := salesforce.NewSObject(object)
	r["Id"] = id
	for k, v := range fields {
		r[k] = v
	}
	return r
}

// saved is a result in a word: "ok", or the code of its first error.
func saved(r salesforce.SaveResult) string {
	if r.Success {
		return "ok"
	}
	return firstError(r).Code
}

// checkWrites compares results with codes ("ok" for a success) and, where
// ids names one, the record id each answers ("" for none).
func checkWrites(t *testing.T, res []salesforce.SaveResult, codes []string, ids []string) {
	t.Helper()
	if len(res) != len(codes) {
		t.Fatalf("results: got %d %+v; want %d", len(res), res, len(codes))
	}
	for i, r := range res {
		if saved(r) != codes[i] || r.Success != (codes[i] == "ok") {
			t.Errorf("result %d: got %+v; want %s", i, r, codes[i])
			continue
		}
		if i < len(ids) && (ids[i] == "" && r.ID != "" || ids[i] != "" && !sameID(r.ID, ids[i])) {
			t.Errorf("result %d: got id %q; want %q", i, r.ID, ids[i])
		}
	}
}

// sameInstant compares a datetime as the org stores it with an RFC 3339 one.
func sameInstant(stored any, want string) bool {
	s, _ := stored.(string)
	w, err := time.Parse(time.RFC3339, want)
	if err != nil {
		return false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700"} {
		if at, err := time.Parse(layout, s); err == nil {
			return at.Equal(w)
		}
	}
	return false
}

// updateWritesBounces: activity sync's port updates a Lead's bounce and a
// Contact's opt-out in one call, which read back; a checkbox set to null
// is refused alone; records without a type or an Id fail alone, unsent;
// the bounce is cleared with nulls.
func updateWritesBounces(t *testing.T, s Subject) {
	ctx := context.Background()
	lead := s.Seed(t, Lead, map[string]any{"LastName": "Bounce", "Company": "C", "Email": "bounce@writes.example.com"})
	contact := s.Seed(t, Contact, map[string]any{"LastName": "Opt", "Email": "opt@writes.example.com"})
	const at = "2026-11-26T10:00:00Z"
	o := writer(t, s.Activities(t))
	before := s.Calls(t)
	res, err := o.UpdateRecords(ctx, []salesforce.SObject{
		change(Lead, lead, map[string]any{"EmailBouncedReason": "550 mailbox full", "EmailBouncedDate": at}),
		change(Contact, contact, map[string]any{"HasOptedOutOfEmail": true}),
		change(Lead, lead, map[string]any{"HasOptedOutOfEmail": nil}),
		{"Id": lead, "HasOptedOutOfEmail": true},
		change(Contact, "", map[string]any{"HasOptedOutOfEmail": true}),
	})
	if err != nil {
		t.Fatalf("UpdateRecords: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{"ok", "ok", "INVALID_TYPE_ON_FIELD_IN_RECORD", orgs.CodeMissingType, orgs.CodeMissingArgument},
		[]string{lead, contact, lead, "", ""})
	if e := firstError(res[2]); !slices.Equal(e.Fields, []string{"HasOptedOutOfEmail"}) {
		t.Errorf("the null checkbox's refusal: got %+v; want it named", e)
	}
	if got := s.Calls(t) - before; got != 1 {
		t.Errorf("calls: got %d; want 1", got)
	}
	rec, ok := s.Record(t, Lead, lead)
	if !ok || rec["EmailBouncedReason"] != "550 mailbox full" || !sameInstant(rec["EmailBouncedDate"], at) || rec["HasOptedOutOfEmail"] == true {
		t.Errorf("the Lead read back: got %v, %v, opted out %v (%v); want the bounce, not opted out",
			rec["EmailBouncedReason"], rec["EmailBouncedDate"], rec["HasOptedOutOfEmail"], ok)
	}
	if rec, ok := s.Record(t, Contact, contact); !ok || rec["HasOptedOutOfEmail"] != true {
		t.Errorf("the Contact read back: got opted out %v (%v); want true", rec["HasOptedOutOfEmail"], ok)
	}
	res, err = o.UpdateRecords(ctx, []salesforce.SObject{change(Lead, lead, map[string]any{"EmailBouncedReason": nil, "EmailBouncedDate": nil})})
	if err != nil {
		t.Fatalf("UpdateRecords clearing the bounce: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{"ok"}, []string{lead})
	if rec, _ := s.Record(t, Lead, lead); rec["EmailBouncedReason"] != nil || rec["EmailBouncedDate"] != nil {
		t.Errorf("the Lead's cleared bounce: got %v, %v; want null", rec["EmailBouncedReason"], rec["EmailBouncedDate"])
	}
}

// updateNotUpdateable: a field the connected user may not edit refuses
// its record with INVALID_FIELD_FOR_INSERT_UPDATE naming it, nothing of
// the record saved; the other records are saved; Edit given back, the
// same update passes.
func updateNotUpdateable(t *testing.T, s Subject) {
	ctx := context.Background()
	lead := s.Seed(t, Lead, map[string]any{"LastName": "Locked", "Company": "C"})
	contact := s.Seed(t, Contact, map[string]any{"LastName": "Open"})
	s.SetFieldUpdateable(t, Lead, "EmailBouncedReason", false)
	o := writer(t, s.Contacts(t))
	records := []salesforce.SObject{
		change(Lead, lead, map[string]any{"EmailBouncedReason": "full", "HasOptedOutOfEmail": true}),
		change(Contact, contact, map[string]any{"EmailBouncedReason": "full"}),
	}
	res, err := o.UpdateRecords(ctx, records)
	if err != nil {
		t.Fatalf("UpdateRecords: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{"INVALID_FIELD_FOR_INSERT_UPDATE", "ok"}, []string{lead, contact})
	if e := firstError(res[0]); !slices.Equal(e.Fields, []string{"EmailBouncedReason"}) || !strings.Contains(e.Message, "EmailBouncedReason") {
		t.Errorf("the refusal: got %+v; want EmailBouncedReason named in its fields and message", e)
	}
	if rec, _ := s.Record(t, Lead, lead); rec["EmailBouncedReason"] != nil || rec["HasOptedOutOfEmail"] == true {
		t.Errorf("the refused Lead: got %v, opted out %v; want nothing saved", rec["EmailBouncedReason"], rec["HasOptedOutOfEmail"])
	}
	s.SetFieldUpdateable(t, Lead, "EmailBouncedReason", true)
	res, err = o.UpdateRecords(ctx, records[:1])
	if err != nil {
		t.Fatalf("UpdateRecords with Edit back: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{"ok"}, []string{lead})
}

// updateDeleted: an update of a record deleted since answers
// ENTITY_IS_DELETED with its id.
func updateDeleted(t *testing.T, s Subject) {
	ctx := context.Background()
	lead := s.Seed(t, Lead, map[string]any{"LastName": "Gone", "Company": "C"})
	o := writer(t, s.Activities(t))
	res, err := o.DeleteRecords(ctx, []string{lead})
	if err != nil {
		t.Fatalf("DeleteRecords: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{"ok"}, []string{lead})
	res, err = o.UpdateRecords(ctx, []salesforce.SObject{change(Lead, lead, map[string]any{"HasOptedOutOfEmail": true})})
	if err != nil {
		t.Fatalf("UpdateRecords: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{salesforce.CodeEntityIsDeleted}, []string{lead})
}

// deleteCascades: one call deletes a Lead and a Contact and their Tasks,
// not another Contact's; deleting them again (or a Task that went with
// them) answers ENTITY_IS_DELETED for each, without an id; what is no id
// fails alone.
func deleteCascades(t *testing.T, s Subject) {
	ctx := context.Background()
	lead := s.Seed(t, Lead, map[string]any{"LastName": "Erase", "Company": "C", "Email": "erase.lead@writes.example.com"})
	contact := s.Seed(t, Contact, map[string]any{"LastName": "Erase", "Email": "erase.contact@writes.example.com"})
	keep := s.Seed(t, Contact, map[string]any{"LastName": "Keep", "Email": "keep@writes.example.com"})
	tasks := []string{
		s.Seed(t, Task, map[string]any{"Subject": "lead's", "WhoId": lead}),
		s.Seed(t, Task, map[string]any{"Subject": "contact's", "WhoId": contact}),
		s.Seed(t, Task, map[string]any{"Subject": "kept", "WhoId": keep}),
	}
	o := writer(t, s.Contacts(t))
	before := s.Calls(t)
	res, err := o.DeleteRecords(ctx, []string{lead, contact})
	if err != nil {
		t.Fatalf("DeleteRecords: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{"ok", "ok"}, []string{lead, contact})
	if got := s.Calls(t) - before; got != 1 {
		t.Errorf("calls: got %d; want 1", got)
	}
	for _, r := range []struct {
		object, id string
		live       bool
	}{{Lead, lead, false}, {Contact, contact, false}, {Task, tasks[0], false}, {Task, tasks[1], false}, {Task, tasks[2], true}, {Contact, keep, true}} {
		if _, live := s.Record(t, r.object, r.id); live != r.live {
			t.Errorf("%s %s after the delete: live %v; want %v", r.object, r.id, live, r.live)
		}
	}
	if got, err := s.Contacts(t).FindByEmail(ctx, []string{"erase.lead@writes.example.com", "erase.contact@writes.example.com"}); err != nil || len(got) != 0 {
		t.Errorf("lookup of the deleted: got %v, %v; want nothing found", got, err)
	}
	res, err = o.DeleteRecords(ctx, []string{lead, contact, tasks[0], "nope"})
	if err != nil {
		t.Fatalf("DeleteRecords again: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{salesforce.CodeEntityIsDeleted, salesforce.CodeEntityIsDeleted, salesforce.CodeEntityIsDeleted, orgs.CodeMalformedID},
		[]string{"", "", "", ""})
}

// deleteInTwoCalls: 201 ids are two calls of at most 200, answered in
// order.
func deleteInTwoCalls(t *testing.T, s Subject) {
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = s.Seed(t, Contact, map[string]any{"LastName": fmt.Sprint("Bulk ", i)})
	}
	o := writer(t, s.Activities(t))
	before := s.Calls(t)
	res, err := o.DeleteRecords(context.Background(), ids)
	if err != nil {
		t.Fatalf("DeleteRecords: got error %v; want nil", err)
	}
	codes := make([]string, len(ids))
	for i := range codes {
		codes[i] = "ok"
	}
	checkWrites(t, res, codes, ids)
	if got := s.Calls(t) - before; got != 2 {
		t.Errorf("calls: got %d; want 2", got)
	}
}

// deleteOthersRefused: without Modify All, the connected user may delete
// only the records it owns: another user's Lead is refused with
// INSUFFICIENT_ACCESS_OR_READONLY, without an id, and kept.
func deleteOthersRefused(t *testing.T, s Subject) {
	other := s.Seed(t, User, map[string]any{"LastName": "Other", "Email": "other@writes.example.com", "Username": "other@writes.example.com.org", "IsActive": true})
	theirs := s.Seed(t, Lead, map[string]any{"LastName": "Theirs", "Company": "C", "OwnerId": other})
	mine := s.Seed(t, Lead, map[string]any{"LastName": "Mine", "Company": "C"})
	res, err := writer(t, s.Contacts(t)).DeleteRecords(context.Background(), []string{theirs, mine})
	if err != nil {
		t.Fatalf("DeleteRecords: got error %v; want nil", err)
	}
	checkWrites(t, res, []string{"INSUFFICIENT_ACCESS_OR_READONLY", "ok"}, []string{"", mine})
	if _, live := s.Record(t, Lead, theirs); !live {
		t.Errorf("another user's Lead: deleted; want it kept")
	}
}

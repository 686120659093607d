package orgs

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// RecordWriter changes and deletes records the org already has: what the
// engines' Org ports take for bounce and opt-out write-back and for
// erasure. *Org, the activity port's wrapper and the in-memory org
// (orgtest) implement it.
type RecordWriter interface {
	UpdateRecords(ctx context.Context, records []salesforce.SObject) ([]salesforce.SaveResult, error)
	DeleteRecords(ctx context.Context, ids []string) ([]salesforce.SaveResult, error)
}

var (
	_ RecordWriter = (*Org)(nil)
	_ RecordWriter = taskOrg{}
)

// Per-record codes and messages of the records UpdateRecords and
// DeleteRecords refuse without sending them, as Salesforce answers them.
const (
	// CodeMissingArgument: an update without an Id.
	CodeMissingArgument = "MISSING_ARGUMENT"
	// CodeMalformedID: a delete of something that is no record id.
	CodeMalformedID = "MALFORMED_ID"
)

// UpdateOptions are the write options of every update: assignment rules
// off (Salesforce applies Sforce-Auto-Assign to updates too and defaults
// it to TRUE, which would hand a Lead whose bounce is written back to
// another owner), duplicate rules as on create (allowSave=false; they run
// only when an update changes a field they match on).
var UpdateOptions = salesforce.WriteOptions{AutoAssign: "FALSE"}

// UpdateRecords updates records (each with attributes.type and its Id)
// through sObject Collections (PATCH composite/sobjects, allOrNone false),
// one API call per 200 records: the records are grouped by type, so a call
// is one chunk per type, and the results come back in the order of
// records. Every call goes through the team's API budget governor and
// counts in Calls, as Create's do.
//
// A record Salesforce refuses (a field the user may not edit,
// INVALID_FIELD_FOR_INSERT_UPDATE naming it; a deleted record,
// ENTITY_IS_DELETED; a checkbox set to null...) carries the refusal in its
// SaveResult, never in the error. So does a record without attributes.type
// (orgs.CodeMissingType) or without an Id (MISSING_ARGUMENT), which is
// never sent, and each record of a call Salesforce rejects as a whole for
// a lasting reason (an unknown field, say). The error is the whole call's
// failure, sorted as Create sorts it: one that may pass (5xx,
// UNABLE_TO_LOCK_ROW, a lost answer) wraps salesforce.ErrTransient, an
// exhausted allocation salesforce.ErrRequestLimit, the concurrent-request
// limit salesforce.ErrConcurrentLimit, the team's budget budget.ErrCapped;
// then no results are returned, though calls before the failed one were
// made and the failed one may have been applied.
//
// Unlike a create, an update that sets the same values is idempotent: after
// a failure, even a lost answer, the caller may simply send the same
// records again, with no lookup first. Nothing here resends on its own:
// the caller's retry (the queue's) decides, and the budget counts each
// attempt.
func (o *Org) UpdateRecords(ctx context.Context, records []salesforce.SObject) ([]salesforce.SaveResult, error) {
	results := make([]salesforce.SaveResult, len(records))
	var order []int
	for i, r := range records {
		switch {
		case r.Type() == "":
			results[i] = refusal(CodeMissingType, fmt.Sprintf("records[%d].attributes.type is missing", i))
		case r.ID() == "":
			results[i] = refusal(CodeMissingArgument, "Id not specified in an update call")
		default:
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return records[order[a]].Type() < records[order[b]].Type() })
	for start := 0; start < len(order); start += salesforce.MaxCollection {
		batch := order[start:min(start+salesforce.MaxCollection, len(order))]
		recs := make([]salesforce.SObject, len(batch))
		for j, at := range batch {
			recs[j] = records[at]
		}
		saved, err := o.client.UpdateCollection(ctx, recs, UpdateOptions)
		if err := place(results, batch, saved, err); err != nil {
			return nil, fmt.Errorf("update %d records: %w", len(records), err)
		}
	}
	return results, nil
}

// DeleteRecords deletes records by id through sObject Collections (DELETE
// composite/sobjects?ids=..., allOrNone false), one API call per 200 ids,
// and answers one result per id, in the order of ids. Deleting a Lead or
// a Contact deletes its Tasks too (Salesforce's cascade). Every call goes
// through the team's API budget governor and counts in Calls.
//
// An id Salesforce does not delete carries why in its result, with no id:
// ENTITY_IS_DELETED for a record deleted already (by an earlier call, or
// earlier in this one, a Task with its Lead), INVALID_CROSS_REFERENCE_KEY
// for one the org never had, INSUFFICIENT_ACCESS_OR_READONLY for another
// user's record when the connected user has no Modify All, MALFORMED_ID
// for something that is no record id (never sent). The error is the whole
// call's failure, sorted as UpdateRecords sorts it.
//
// A delete is idempotent: after a failure, even a lost answer, the caller
// may simply send the same ids again. The ids a lost call did delete then
// answer ENTITY_IS_DELETED, which the caller counts as deleted.
func (o *Org) DeleteRecords(ctx context.Context, ids []string) ([]salesforce.SaveResult, error) {
	results := make([]salesforce.SaveResult, len(ids))
	var order []int
	for i, id := range ids {
		if !salesforce.ValidID(id) {
			results[i] = refusal(CodeMalformedID, "malformed id "+id)
			continue
		}
		order = append(order, i)
	}
	for start := 0; start < len(order); start += salesforce.MaxCollection {
		batch := order[start:min(start+salesforce.MaxCollection, len(order))]
		chunk := make([]string, len(batch))
		for j, at := range batch {
			chunk[j] = ids[at]
		}
		deleted, err := o.client.DeleteCollection(ctx, chunk)
		if err := place(results, batch, deleted, err); err != nil {
			return nil, fmt.Errorf("delete %d records: %w", len(ids), err)
		}
	}
	return results, nil
}

// place puts one call's answers at their positions; a call Salesforce
// refused as a whole for a lasting reason gives each of its records the
// refusal. It returns the error that fails the whole write: one that may
// pass, the budget's, or one that is no answer of Salesforce's.
func place(results []salesforce.SaveResult, at []int, answers []salesforce.SaveResult, err error) error {
	if err != nil {
		var api *salesforce.APIError
		if retryable(err) || errors.Is(err, budget.ErrCapped) || errors.Is(err, budget.ErrNearCap) || !errors.As(err, &api) {
			return err
		}
		items := rejection(err)
		for _, i := range at {
			results[i] = salesforce.SaveResult{Errors: items}
		}
		return nil
	}
	if len(answers) != len(at) {
		return fmt.Errorf("%d results for %d records", len(answers), len(at))
	}
	for j, i := range at {
		results[i] = answers[j]
	}
	return nil
}

func refusal(code, message string) salesforce.SaveResult {
	return salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: code, Message: message}}}
}

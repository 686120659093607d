package orgs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sfsync/sfsync/shared/salesforce"
)

// TaskKeyField is the optional custom field on Task that holds activity
// sync's idempotency key. An org admin who adds it as a unique external ID
// lets a retry find a saved Task with an exact query.
const TaskKeyField = "Sfsync_Key__c"

// TaskFields is what activity sync needs to know of the org's Task object,
// read in one API call.
type TaskFields struct {
	TypeEmail bool   // the Type picklist offers an active "Email" value
	KeyField  string // TaskKeyField when the org has it, createable text; "" otherwise
	// ClosedStatus is the API name of the Status that closes a Task in
	// this org (salesforce.ClosedTaskStatus): admins relabel, rename and add
	// Task statuses, so it is read from the org's TaskStatus values
	// (IsClosed, ApiName), not assumed to be "Completed". "" when the org
	// offers no active closed status.
	ClosedStatus string
}

// DescribeTask reads Task's describe and the org's closed Task statuses
// (one composite call) and says which optional fields activity sync may set
// and which Status closes a Task.
func (o *Org) DescribeTask(ctx context.Context) (TaskFields, error) {
	subs := []salesforce.CompositeSubrequest{
		{Method: http.MethodGet, URL: o.client.DataPath("sobjects/Task/describe"), ReferenceID: "describe"},
		o.client.QuerySubrequest("statuses", salesforce.TaskStatusQuery),
	}
	resps, err := o.client.Composite(ctx, false, subs, nil)
	if err != nil {
		return TaskFields{}, fmt.Errorf("describe Task: %w", err)
	}
	var d salesforce.Describe
	var statuses salesforce.QueryResult[salesforce.TaskStatus]
	for i, into := range []any{&d, &statuses} {
		if err := resps[i].Err(); err != nil {
			return TaskFields{}, fmt.Errorf("describe Task: %s: %w", subs[i].ReferenceID, err)
		}
		if err := json.Unmarshal(resps[i].Body, into); err != nil {
			return TaskFields{}, fmt.Errorf("describe Task: decode %s: %w", subs[i].ReferenceID, err)
		}
	}
	tf := TaskFields{}
	if closed, ok := salesforce.ClosedTaskStatus(statuses.Records, &d); ok {
		tf.ClosedStatus = closed.APIName
	}
	if f, ok := d.Field("Type"); ok && f.Createable {
		for _, v := range f.PicklistValues {
			if v.Active && v.Value == "Email" {
				tf.TypeEmail = true
			}
		}
	}
	if f, ok := d.Field(TaskKeyField); ok && f.Createable && f.Custom && (f.Type == "string" || f.Type == "textarea") {
		tf.KeyField = f.Name
	}
	return tf, nil
}

// TaskKeyBudget sizes the IN-lists of task lookups, like LookupBudget.
var TaskKeyBudget = salesforce.InListBudget{MaxBytes: 12000, MaxValues: 300}

// taskRow is a Task of a lookup query.
type taskRow struct {
	ID          string `json:"Id"`
	Description string `json:"Description"`
}

// FindTasks finds Tasks saved earlier by activity sync, by key. With
// keyField set it queries that field (exact, one query per IN-list); without
// it, it queries the Tasks of whoIDs whose Subject starts with
// subjectPrefix and reads each key from the Description's footer with
// keyOf. The map is keyed by activity key; keys not found are absent.
// Every value reaches SOQL through salesforce.QuoteString.
func (o *Org) FindTasks(ctx context.Context, keyField string, keys, whoIDs []string, subjectPrefix string, keyOf func(description string) string) (map[string]string, error) {
	found := map[string]string{}
	if len(keys) == 0 {
		return found, nil
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	if keyField != "" {
		if !fieldNameOK(keyField) {
			return nil, fmt.Errorf("find tasks: key field %q: %w", keyField, ErrBadInput)
		}
		for _, chunk := range salesforce.SplitInList(keys, TaskKeyBudget) {
			rows, err := salesforce.Query[map[string]any](ctx, o.client,
				"SELECT Id, "+keyField+" FROM Task WHERE "+keyField+" IN "+salesforce.QuoteList(chunk))
			if err != nil {
				return nil, fmt.Errorf("find tasks by %s: %w", keyField, err)
			}
			for _, r := range rows {
				id, _ := r["Id"].(string)
				k, _ := r[keyField].(string)
				if want[k] && id != "" {
					found[k] = id
				}
			}
		}
		return found, nil
	}
	if keyOf == nil {
		return nil, fmt.Errorf("find tasks: no key reader: %w", ErrBadInput)
	}
	if subjectPrefix == "" || strings.ContainsAny(subjectPrefix, "%_") {
		return nil, fmt.Errorf("find tasks: subject prefix %q must be non-empty and free of LIKE wildcards: %w", subjectPrefix, ErrBadInput)
	}
	like := salesforce.QuoteString(subjectPrefix + "%")
	for _, chunk := range salesforce.SplitInList(whoIDs, TaskKeyBudget) {
		rows, err := salesforce.Query[taskRow](ctx, o.client,
			"SELECT Id, Description FROM Task WHERE WhoId IN "+salesforce.QuoteList(chunk)+" AND Subject LIKE "+like)
		if err != nil {
			return nil, fmt.Errorf("find tasks by subject: %w", err)
		}
		for _, r := range rows {
			if k := keyOf(r.Description); want[k] && r.ID != "" {
				found[k] = r.ID
			}
		}
	}
	return found, nil
}

func fieldNameOK(s string) bool {
	if s == "" || len(s) > 80 {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// MaxCollectionChunks is the most chunks one sObject Collections write
// takes: Salesforce processes the records of one type that follow each
// other as a chunk, and refuses a request of more than 10.
const MaxCollectionChunks = 10

// Type returns the record's attributes.type, however it was built
// (NewSObject, a decoded map); "" when it has none.
func (r SObject) Type() string {
	switch a := r["attributes"].(type) {
	case Attributes:
		return a.Type
	case *Attributes:
		if a != nil {
			return a.Type
		}
	case map[string]any:
		t, _ := a["type"].(string)
		return t
	case map[string]string:
		return a["type"]
	}
	return ""
}

// ID returns the record's Id field (its name matched case-insensitively,
// as Salesforce matches field names); "" when it has none.
func (r SObject) ID() string {
	if id, ok := r["Id"].(string); ok {
		return id
	}
	for k, v := range r {
		if strings.EqualFold(k, "Id") {
			id, _ := v.(string)
			return id
		}
	}
	return ""
}

// ValidID reports whether id has the shape of a Salesforce record id: 15
// or 18 letters and digits. It says nothing of its checksum or its object.
func ValidID(id string) bool {
	if len(id) != 15 && len(id) != 18 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// collectionBatches cuts records into consecutive runs that one sObject
// Collections call takes: at most MaxCollection records and
// MaxCollectionChunks chunks (runs of one type) each.
func collectionBatches(records []SObject) [][]SObject {
	var out [][]SObject
	start, chunks, last := 0, 0, ""
	for i, r := range records {
		typ := r.Type()
		newChunk := i == start || typ != last
		if i > start && (i-start == MaxCollection || (newChunk && chunks == MaxCollectionChunks)) {
			out = append(out, records[start:i])
			start, chunks = i, 0
			newChunk = true
		}
		if newChunk {
			chunks++
		}
		last = typ
	}
	if start < len(records) {
		out = append(out, records[start:])
	}
	return out
}

// UpdateCollection updates records through sObject Collections with
// allOrNone false: PATCH composite/sobjects, each record carrying
// attributes.type and its Id, at most 200 records (and 10 chunks of one
// type) per call. Longer input is sent in several calls, in order; the
// results come back in the order of records, one per record, a record
// Salesforce refused carrying its errors (Salesforce answers them in
// request order: developer.salesforce.com/docs/platform/api-rest/guide/
// resources-composite-sobjects-collections-update.html). Keep the records
// of one type together: each change of type starts a chunk, and more than
// 10 chunks cost one more call.
//
// The write options are sent as headers: mind that Salesforce applies
// Sforce-Auto-Assign to updates too, and defaults it to TRUE, so an update
// of a Lead that must keep its owner sends AutoAssign "FALSE"
// (developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api/
// headers_autoassign.htm).
//
// A record without attributes.type or Id is refused before any call. An
// error of any call (see the package's sentinel errors) ends the update:
// no results are returned, though the calls before it were made, and the
// failed call may have been applied. The client never resends it.
func (c *Client) UpdateCollection(ctx context.Context, records []SObject, opts WriteOptions) ([]SaveResult, error) {
	if len(records) == 0 {
		return nil, nil
	}
	for i, r := range records {
		if r.Type() == "" {
			return nil, fmt.Errorf("update collection: records[%d].attributes.type is missing", i)
		}
		if r.ID() == "" {
			return nil, fmt.Errorf("update collection: records[%d] has no Id", i)
		}
	}
	out := make([]SaveResult, 0, len(records))
	for _, batch := range collectionBatches(records) {
		body := map[string]any{"allOrNone": false, "records": batch}
		var saved []SaveResult
		if err := c.do(ctx, http.MethodPatch, c.DataPath("composite/sobjects"), body, opts.headers(), &saved); err != nil {
			return nil, fmt.Errorf("update collection of %d: %w", len(batch), err)
		}
		if len(saved) != len(batch) {
			return nil, fmt.Errorf("update collection: %d results for %d records", len(saved), len(batch))
		}
		out = append(out, saved...)
	}
	return out, nil
}

// DeleteCollection deletes records by id through sObject Collections with
// allOrNone false: DELETE composite/sobjects?ids=a,b&allOrNone=false, at
// most 200 ids (of any types) per call. Longer input is sent in several
// calls, in order; the results come back in the order of ids, one per id:
// a DeleteResult, the same shape as a SaveResult, whose errors say why an
// id was not deleted (ENTITY_IS_DELETED for one deleted already). Salesforce
// answers them in the order of the ids:
// developer.salesforce.com/docs/platform/api-rest/guide/
// resources-composite-sobjects-collections-delete.html.
//
// An id that is not 15 or 18 letters and digits is refused before any
// call (it would break the list). An error of any call ends the delete as
// UpdateCollection's does.
func (c *Client) DeleteCollection(ctx context.Context, ids []string) ([]SaveResult, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	for i, id := range ids {
		if !ValidID(id) {
			return nil, fmt.Errorf("delete collection: ids[%d] %q is not a record id", i, id)
		}
	}
	out := make([]SaveResult, 0, len(ids))
	for start := 0; start < len(ids); start += MaxCollection {
		batch := ids[start:min(start+MaxCollection, len(ids))]
		path := c.DataPath("composite/sobjects") + "?ids=" + strings.Join(batch, ",") + "&allOrNone=false"
		var deleted []SaveResult
		if err := c.do(ctx, http.MethodDelete, path, nil, nil, &deleted); err != nil {
			return nil, fmt.Errorf("delete collection of %d: %w", len(batch), err)
		}
		if len(deleted) != len(batch) {
			return nil, fmt.Errorf("delete collection: %d results for %d ids", len(deleted), len(batch))
		}
		out = append(out, deleted...)
	}
	return out, nil
}

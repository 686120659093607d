package orgs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/sfsync/sfsync/shared/salesforce"
)

// CodeMissingType is the per-record error code of a record handed to Create
// without attributes.type; such a record never reaches Salesforce.
const CodeMissingType = "INVALID_TYPE"

// collection is one sObject Collections request: positions into the input.
type collection struct {
	index []int
}

// Create creates records through sObject Collections of up to 200 records
// (allOrNone false), packed 5 collections per composite call. Records are
// grouped by type so every collection is one chunk; the results come back in
// the order of records.
//
// The write options go on the composite call and on every collection
// subrequest. A record without attributes.type fails alone (INVALID_TYPE).
// When Salesforce rejects a whole collection for a lasting reason (an unknown
// field, say), each of its records carries that error. When a call fails in
// a way that may pass on retry (5xx, UNABLE_TO_LOCK_ROW, a lost answer) Create
// returns an error wrapping salesforce.ErrTransient and no results: some
// records may have been saved, so the caller looks the emails up again
// before creating anything anew. An exhausted API allocation wraps
// salesforce.ErrRequestLimit, and the org's concurrent requests all taken
// salesforce.ErrConcurrentLimit (nothing was saved: Salesforce refused the
// call before running it).
func (o *Org) Create(ctx context.Context, records []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	results := make([]salesforce.SaveResult, len(records))
	if len(records) == 0 {
		return results, nil
	}
	var order []int
	for i, r := range records {
		if r.Type() == "" {
			results[i] = salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: CodeMissingType,
				Message: fmt.Sprintf("records[%d].attributes.type is missing", i)}}}
			continue
		}
		order = append(order, i)
	}
	sort.SliceStable(order, func(a, b int) bool { return records[order[a]].Type() < records[order[b]].Type() })

	var cols []collection
	for start := 0; start < len(order); {
		typ := records[order[start]].Type()
		end := start
		for end < len(order) && end-start < salesforce.MaxCollection && records[order[end]].Type() == typ {
			end++
		}
		cols = append(cols, collection{index: order[start:end]})
		start = end
	}

	hdr := opts.Header()
	for start := 0; start < len(cols); start += salesforce.MaxCompositeHeavy {
		batch := cols[start:min(start+salesforce.MaxCompositeHeavy, len(cols))]
		subs := make([]salesforce.CompositeSubrequest, len(batch))
		for i, c := range batch {
			recs := make([]salesforce.SObject, len(c.index))
			for j, at := range c.index {
				recs[j] = records[at]
			}
			sub, err := o.client.CreateCollectionSubrequest(fmt.Sprintf("create_%d", start+i), recs, opts)
			if err != nil {
				return nil, fmt.Errorf("create %d records: %w", len(records), err)
			}
			subs[i] = sub
		}
		resps, err := o.client.Composite(ctx, false, subs, hdr)
		if err != nil {
			return nil, fmt.Errorf("create %d records: %w", len(records), err)
		}
		if len(resps) != len(batch) {
			return nil, fmt.Errorf("create %d records: %d composite answers for %d collections: %w", len(records), len(resps), len(batch), salesforce.ErrTransient)
		}
		for i, r := range resps {
			c := batch[i]
			if err := r.Err(); err != nil {
				if retryable(err) {
					return nil, fmt.Errorf("create %d records: collection of %d: %w", len(records), len(c.index), err)
				}
				items := rejection(err)
				for _, at := range c.index {
					results[at] = salesforce.SaveResult{Errors: items}
				}
				continue
			}
			var saved []salesforce.SaveResult
			if err := json.Unmarshal(r.Body, &saved); err != nil {
				return nil, fmt.Errorf("create %d records: decode collection answer: %w", len(records), err)
			}
			if len(saved) != len(c.index) {
				return nil, fmt.Errorf("create %d records: %d results for a collection of %d", len(records), len(saved), len(c.index))
			}
			for j, at := range c.index {
				results[at] = saved[j]
			}
		}
	}
	return results, nil
}

// retryable reports whether a failed subrequest may pass on retry.
func retryable(err error) bool {
	return errors.Is(err, salesforce.ErrTransient) || errors.Is(err, salesforce.ErrRequestLimit) ||
		errors.Is(err, salesforce.ErrConcurrentLimit) || errors.Is(err, salesforce.ErrSessionExpired)
}

// rejection turns a collection-level error into per-record error items.
func rejection(err error) []salesforce.ErrorItem {
	var apiErr *salesforce.APIError
	if errors.As(err, &apiErr) {
		if len(apiErr.All) > 0 {
			return apiErr.All
		}
		code := apiErr.Code
		if code == "" {
			code = fmt.Sprintf("HTTP_%d", apiErr.StatusCode)
		}
		return []salesforce.ErrorItem{{Code: code, Message: apiErr.Message, Fields: apiErr.Fields}}
	}
	return []salesforce.ErrorItem{{Code: "UNKNOWN_EXCEPTION", Message: err.Error()}}
}

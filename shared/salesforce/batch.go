package salesforce

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Header returns the request headers that carry o, for a composite call or
// a subrequest's httpHeaders.
func (o WriteOptions) Header() http.Header { return o.headers() }

// subrequestHeaders flattens h into a composite subrequest's httpHeaders,
// which Salesforce takes as a map of single strings.
func subrequestHeaders(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

// CreateCollectionSubrequest returns a composite subrequest that creates up
// to 200 records through sObject Collections with allOrNone false. The write
// options travel in the subrequest's own httpHeaders, which Salesforce
// documents as applying to that subrequest; callers also send them on the
// composite call itself.
func (c *Client) CreateCollectionSubrequest(ref string, records []SObject, opts WriteOptions) (CompositeSubrequest, error) {
	if len(records) == 0 {
		return CompositeSubrequest{}, fmt.Errorf("create collection subrequest %s: no records", ref)
	}
	if len(records) > MaxCollection {
		return CompositeSubrequest{}, fmt.Errorf("create collection subrequest %s: %d records exceed the limit of %d", ref, len(records), MaxCollection)
	}
	return CompositeSubrequest{
		Method:      http.MethodPost,
		URL:         c.DataPath("composite/sobjects"),
		ReferenceID: ref,
		Body:        map[string]any{"allOrNone": false, "records": records},
		HTTPHeaders: subrequestHeaders(opts.headers()),
	}, nil
}

// QueryMoreSubrequest returns a composite subrequest that fetches the next
// page of a query from the nextRecordsUrl Salesforce returned.
func QueryMoreSubrequest(ref, nextRecordsURL string) CompositeSubrequest {
	return CompositeSubrequest{Method: http.MethodGet, URL: nextRecordsURL, ReferenceID: ref}
}

// InListBudget bounds one IN-list built by SplitInList.
type InListBudget struct {
	// MaxBytes bounds the URL-encoded size of the list, as it appears in a
	// query's ?q= parameter.
	MaxBytes int
	// MaxValues bounds the number of values.
	MaxValues int
}

// SplitInList splits values into consecutive groups whose quoted IN-lists
// each fit the budget. A single value larger than MaxBytes gets a group of
// its own; callers drop values that can never match before splitting.
func SplitInList(values []string, b InListBudget) [][]string {
	var out [][]string
	var cur []string
	size := len(url.QueryEscape("()"))
	for _, v := range values {
		n := len(url.QueryEscape(QuoteString(v)))
		if len(cur) > 0 {
			n += len(url.QueryEscape(","))
		}
		if len(cur) > 0 && ((b.MaxBytes > 0 && size+n > b.MaxBytes) || (b.MaxValues > 0 && len(cur) >= b.MaxValues)) {
			out = append(out, cur)
			cur, size = nil, len(url.QueryEscape("()"))
			n = len(url.QueryEscape(QuoteString(v)))
		}
		cur = append(cur, v)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

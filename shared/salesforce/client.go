// Package salesforce is a small client of Salesforce's REST data API: the
// calls this product makes (query, sObject Collections, composite, describe,
// identity), with Salesforce's error shapes as typed errors, the
// Sforce-Limit-Info usage header, and one refresh-and-retry on an expired
// session. Every SOQL literal goes through QuoteString.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sfsync/sfsync/shared/platform/backoff"
)

// DefaultVersion is the REST API version the product speaks unless configured.
const DefaultVersion = "v62.0"

// Token is what a data call needs: the access token and the org's instance URL.
type Token struct {
	AccessToken string
	InstanceURL string
}

// Session supplies tokens. Current returns the stored token; Refresh is called
// after Salesforce rejected stale and returns a newer token (refreshing it
// only if nobody else already did).
type Session interface {
	Current(ctx context.Context) (Token, error)
	Refresh(ctx context.Context, stale Token) (Token, error)
}

// Client calls one org's REST data API.
type Client struct {
	HTTP    *http.Client
	Session Session
	Version string // e.g. "v62.0"
	// OnUsage, when set, receives the org's API usage from every response
	// that carries Sforce-Limit-Info.
	OnUsage func(Usage)
	// BeforeCall, when set, is asked before every call; an error stops the
	// call and is returned as is (the API budget governor says no here).
	BeforeCall func() error
	// Calls counts the API calls this client made (as Salesforce counts them).
	Calls atomic.Int64
	// ReadRetries is how many more times a read (a GET, or a composite of
	// GETs only) is sent after a transient failure (5xx, a lost connection),
	// after a short wait, before the error reaches the caller: 0 means
	// DefaultReadRetries, a negative number none. A read changes nothing, so
	// sending it again is safe. Writes are never sent again here: a lost
	// answer may hide a saved record, and the caller looks it up first.
	ReadRetries int
	// ReadBackoff is the wait before the first resend of a read, doubling
	// (see package backoff); 0 means DefaultReadBackoff.
	ReadBackoff time.Duration
}

// DefaultReadRetries is Client.ReadRetries when it is zero.
const DefaultReadRetries = 2

// DefaultReadBackoff is Client.ReadBackoff when it is zero.
const DefaultReadBackoff = 150 * time.Millisecond

func (c *Client) readRetries() int {
	switch {
	case c.ReadRetries < 0:
		return 0
	case c.ReadRetries == 0:
		return DefaultReadRetries
	}
	return c.ReadRetries
}

// WriteOptions are the headers that decide Salesforce's side effects on a
// create, chosen on purpose rather than left to defaults.
type WriteOptions struct {
	// AutoAssign sets Sforce-Auto-Assign: "TRUE", "FALSE" or an assignment
	// rule id. Empty leaves Salesforce's default (TRUE).
	AutoAssign string
	// AllowSaveOnDuplicate sends Sforce-Duplicate-Rule-Header: allowSave=true,
	// which overrides alert-type duplicate rules (block rules still block).
	AllowSaveOnDuplicate bool
}

func (o WriteOptions) headers() http.Header {
	h := http.Header{}
	if o.AutoAssign != "" {
		h.Set("Sforce-Auto-Assign", o.AutoAssign)
	}
	if o.AllowSaveOnDuplicate {
		h.Set("Sforce-Duplicate-Rule-Header", "allowSave=true")
	} else {
		h.Set("Sforce-Duplicate-Rule-Header", "allowSave=false")
	}
	return h
}

func (c *Client) version() string {
	if c.Version == "" {
		return DefaultVersion
	}
	return c.Version
}

// Timeouts of the default HTTP clients (Client.HTTP nil). A write waits
// longer than a read: a slow org (triggers, flows, duplicate rules on each
// of 200 records) may take well over a minute to answer a create, and an
// answer given up on is a create whose result is lost, looked up again and
// paid for twice. Salesforce itself stops a call after 10 minutes
// (developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/
// guide/salesforce-app-limits-platform-api.html); the caller's context
// (the function's deadline) still bounds both.
const (
	DefaultReadTimeout  = 60 * time.Second
	DefaultWriteTimeout = 5 * time.Minute
)

var (
	readHTTP  = &http.Client{Timeout: DefaultReadTimeout}
	writeHTTP = &http.Client{Timeout: DefaultWriteTimeout}
)

func (c *Client) httpClient(method string) *http.Client {
	switch {
	case c.HTTP != nil:
		return c.HTTP
	case method == http.MethodGet:
		return readHTTP
	}
	return writeHTTP
}

// DataPath returns the absolute path of a data API resource.
func (c *Client) DataPath(resource string) string {
	return "/services/data/" + c.version() + "/" + strings.TrimPrefix(resource, "/")
}

// do sends one request to path (absolute, under the instance URL) and decodes
// a 2xx JSON answer into out. On 401 it refreshes the session once and
// retries once. A GET is a read: see ReadRetries.
func (c *Client) do(ctx context.Context, method, path string, body any, hdr http.Header, out any) error {
	return c.call(ctx, method, path, body, hdr, out, method == http.MethodGet)
}

// call is do, resending a read after a transient failure.
func (c *Client) call(ctx context.Context, method, path string, body any, hdr http.Header, out any, read bool) error {
	err := c.once(ctx, method, path, body, hdr, out)
	if !read {
		return err
	}
	first := c.ReadBackoff
	if first <= 0 {
		first = DefaultReadBackoff
	}
	for n := 1; n <= c.readRetries(); n++ {
		if !errors.Is(err, ErrTransient) {
			return err
		}
		if backoff.Wait(ctx, first, 2*time.Second, n) != nil {
			return err
		}
		err = c.once(ctx, method, path, body, hdr, out)
	}
	return err
}

func (c *Client) once(ctx context.Context, method, path string, body any, hdr http.Header, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode %s %s body: %w", method, redactPath(path), err)
		}
	}
	tok, err := c.Session.Current(ctx)
	if err != nil {
		return fmt.Errorf("salesforce token: %w", err)
	}
	err = c.send(ctx, tok, method, path, payload, hdr, out)
	if errors.Is(err, ErrSessionExpired) {
		fresh, rerr := c.Session.Refresh(ctx, tok)
		if rerr != nil {
			return fmt.Errorf("refresh after %s %s: %w", method, redactPath(path), rerr)
		}
		err = c.send(ctx, fresh, method, path, payload, hdr, out)
	}
	return err
}

func (c *Client) send(ctx context.Context, tok Token, method, path string, payload []byte, hdr http.Header, out any) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(tok.InstanceURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", method, redactPath(path), redactURLError(err))
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.BeforeCall != nil {
		if err := c.BeforeCall(); err != nil {
			return err
		}
	}
	c.Calls.Add(1)
	resp, err := c.httpClient(method).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, redactPath(path), ctx.Err())
		}
		// The request may or may not have been processed: the caller must
		// treat a write as possibly saved.
		return fmt.Errorf("%s %s: %w: %v", method, redactPath(path), ErrTransient, redactURLError(err))
	}
	defer resp.Body.Close()
	if u, ok := ParseLimitInfo(resp.Header.Get("Sforce-Limit-Info")); ok && c.OnUsage != nil {
		c.OnUsage(u)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w: %v", method, redactPath(path), ErrTransient, err)
	}
	if resp.StatusCode >= 300 {
		return parseErrorBody(resp.StatusCode, data)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, redactPath(path), err)
	}
	return nil
}

// redactPath keeps query strings (which can hold emails) out of error text.
func redactPath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// redactURLError strips the query string from the URL a *url.Error (what
// net/http answers for a transport failure or an unparsable URL) prints, so
// that a SOQL query's emails never reach a log or an outcome.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: redactPath(ue.URL), Err: redactURLError(ue.Err)}
}

// Attributes is the "attributes" member of every record.
type Attributes struct {
	Type string `json:"type"`
	URL  string `json:"url,omitempty"`
}

// QueryResult is one page of a query.
type QueryResult[T any] struct {
	TotalSize      int    `json:"totalSize"`
	Done           bool   `json:"done"`
	NextRecordsURL string `json:"nextRecordsUrl,omitempty"`
	Records        []T    `json:"records"`
}

// Query runs soql and follows nextRecordsUrl until done, decoding records as T.
func Query[T any](ctx context.Context, c *Client, soql string) ([]T, error) {
	var all []T
	path := c.DataPath("query") + "?q=" + url.QueryEscape(soql)
	for {
		var page QueryResult[T]
		if err := c.do(ctx, http.MethodGet, path, nil, nil, &page); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		all = append(all, page.Records...)
		if page.Done || page.NextRecordsURL == "" {
			return all, nil
		}
		path = page.NextRecordsURL
	}
}

// SaveResult is the per-record answer of sObject Collections.
type SaveResult struct {
	ID      string      `json:"id,omitempty"`
	Success bool        `json:"success"`
	Errors  []ErrorItem `json:"errors"`
	Created *bool       `json:"created,omitempty"`
}

// SObject is a record to write: its fields plus attributes.type.
type SObject map[string]any

// NewSObject returns an SObject of the given type.
func NewSObject(sobjectType string) SObject {
	return SObject{"attributes": Attributes{Type: sobjectType}}
}

// MaxCollection is the most records one sObject Collections call takes.
const MaxCollection = 200

// CreateCollection creates up to 200 records in one call with allOrNone false;
// the results are in the order of records.
func (c *Client) CreateCollection(ctx context.Context, records []SObject, opts WriteOptions) ([]SaveResult, error) {
	if len(records) == 0 {
		return nil, nil
	}
	if len(records) > MaxCollection {
		return nil, fmt.Errorf("create collection: %d records exceed the limit of %d", len(records), MaxCollection)
	}
	body := map[string]any{"allOrNone": false, "records": records}
	var out []SaveResult
	if err := c.do(ctx, http.MethodPost, c.DataPath("composite/sobjects"), body, opts.headers(), &out); err != nil {
		return nil, fmt.Errorf("create collection of %d: %w", len(records), err)
	}
	if len(out) != len(records) {
		return nil, fmt.Errorf("create collection: %d results for %d records", len(out), len(records))
	}
	return out, nil
}

// CompositeSubrequest is one subrequest of a composite call.
type CompositeSubrequest struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        any               `json:"body,omitempty"`
	HTTPHeaders map[string]string `json:"httpHeaders,omitempty"`
}

// CompositeSubresponse is one subresponse of a composite call.
type CompositeSubresponse struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// Err returns the subresponse's error, or nil for a 2xx.
func (s CompositeSubresponse) Err() error {
	if s.HTTPStatusCode < 300 {
		return nil
	}
	return parseErrorBody(s.HTTPStatusCode, s.Body)
}

// Limits of the composite resource.
const (
	MaxCompositeSubrequests = 25
	MaxCompositeHeavy       = 5 // queries and sObject Collections per composite call
)

// Composite sends up to 25 subrequests in one API call and returns their
// answers in the order of subs. Salesforce does not promise to answer in
// request order (collateSubrequests, the default since v49, may run them in
// another), so each answer is matched to its subrequest by referenceId; an
// answer that does not name every subrequest exactly once is an error
// wrapping ErrTransient (a write may have been saved).
func (c *Client) Composite(ctx context.Context, allOrNone bool, subs []CompositeSubrequest, hdr http.Header) ([]CompositeSubresponse, error) {
	if len(subs) > MaxCompositeSubrequests {
		return nil, fmt.Errorf("composite: %d subrequests exceed the limit of %d", len(subs), MaxCompositeSubrequests)
	}
	body := map[string]any{"allOrNone": allOrNone, "compositeRequest": subs}
	var out struct {
		CompositeResponse []CompositeSubresponse `json:"compositeResponse"`
	}
	reads := true
	for _, s := range subs {
		reads = reads && s.Method == http.MethodGet
	}
	if err := c.call(ctx, http.MethodPost, c.DataPath("composite"), body, hdr, &out, reads); err != nil {
		return nil, fmt.Errorf("composite of %d: %w", len(subs), err)
	}
	return byReference(subs, out.CompositeResponse)
}

// byReference orders a composite call's answers as its subrequests, by
// referenceId.
func byReference(subs []CompositeSubrequest, answers []CompositeSubresponse) ([]CompositeSubresponse, error) {
	if len(answers) != len(subs) {
		return nil, fmt.Errorf("composite of %d: %d answers: %w", len(subs), len(answers), ErrTransient)
	}
	at := make(map[string]int, len(subs))
	for i, s := range subs {
		if _, dup := at[s.ReferenceID]; dup {
			return nil, fmt.Errorf("composite of %d: referenceId %q used twice", len(subs), s.ReferenceID)
		}
		at[s.ReferenceID] = i
	}
	out := make([]CompositeSubresponse, len(subs))
	seen := make([]bool, len(subs))
	for _, a := range answers {
		i, ok := at[a.ReferenceID]
		if !ok || seen[i] {
			return nil, fmt.Errorf("composite of %d: an answer for referenceId %q, unknown or repeated: %w", len(subs), a.ReferenceID, ErrTransient)
		}
		out[i], seen[i] = a, true
	}
	return out, nil
}

// QuerySubrequest returns a composite subrequest running soql.
func (c *Client) QuerySubrequest(ref, soql string) CompositeSubrequest {
	return CompositeSubrequest{Method: http.MethodGet, URL: c.DataPath("query") + "?q=" + url.QueryEscape(soql), ReferenceID: ref}
}

// DescribeField is one field of an object's describe.
type DescribeField struct {
	Name               string `json:"name"`
	Label              string `json:"label"`
	Type               string `json:"type"`
	Length             int    `json:"length"`
	Nillable           bool   `json:"nillable"`
	Createable         bool   `json:"createable"`
	Updateable         bool   `json:"updateable"`
	DefaultedOnCreate  bool   `json:"defaultedOnCreate"`
	Custom             bool   `json:"custom"`
	ExternalID         bool   `json:"externalId"`
	Unique             bool   `json:"unique"`
	RestrictedPicklist bool   `json:"restrictedPicklist"`
	PicklistValues     []struct {
		Value        string `json:"value"`
		Label        string `json:"label"`
		Active       bool   `json:"active"`
		DefaultValue bool   `json:"defaultValue"`
	} `json:"picklistValues"`
	ReferenceTo []string `json:"referenceTo"`
}

// RequiredOnCreate reports whether a create must give the field a value.
func (f DescribeField) RequiredOnCreate() bool {
	return f.Createable && !f.Nillable && !f.DefaultedOnCreate && f.Type != "boolean"
}

// Describe is an object's describe result (the parts the product reads).
type Describe struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	KeyPrefix  string          `json:"keyPrefix"`
	Createable bool            `json:"createable"`
	Fields     []DescribeField `json:"fields"`
}

// Field returns the named field (case-insensitively, as Salesforce matches names).
func (d *Describe) Field(name string) (DescribeField, bool) {
	for _, f := range d.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return DescribeField{}, false
}

// Describe returns the metadata of sobject.
func (c *Client) Describe(ctx context.Context, sobject string) (*Describe, error) {
	var d Describe
	if err := c.do(ctx, http.MethodGet, c.DataPath("sobjects/"+url.PathEscape(sobject)+"/describe"), nil, nil, &d); err != nil {
		return nil, fmt.Errorf("describe %s: %w", sobject, err)
	}
	return &d, nil
}

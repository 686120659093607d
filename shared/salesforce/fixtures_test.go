package salesforce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// The simulator's fixtures are shapes captured from Salesforce's
// documentation. Each test decodes the fixture and the simulator's live answer
// to the same call with the product's client, and expects the same reading.

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "tools", "sfsim", "org", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type staticSession struct{ tok salesforce.Token }

func (s staticSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s staticSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return salesforce.Token{}, errors.New("no refresh in this test")
}

func newSim(t *testing.T) (*org.Org, *salesforce.Client) {
	t.Helper()
	sim := org.New(org.Config{})
	if _, err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	tok := sim.IssueTokens()
	return sim, &salesforce.Client{Session: staticSession{salesforce.Token{AccessToken: tok.AccessToken, InstanceURL: tok.InstanceURL}}}
}

func codes(rs []salesforce.SaveResult) []string {
	var out []string
	for _, r := range rs {
		c := ""
		if len(r.Errors) > 0 {
			c = r.Errors[0].Code
		}
		out = append(out, c)
	}
	return out
}

func TestSaveResultsDecodeAlike(t *testing.T) {
	t.Parallel()
	var doc []salesforce.SaveResult
	if err := json.Unmarshal(fixture(t, "saveresult_collection.json"), &doc); err != nil {
		t.Fatal(err)
	}
	if got := codes(doc)[1]; got != "REQUIRED_FIELD_MISSING" || !doc[0].Success || doc[0].ID == "" {
		t.Fatalf("fixture: got %v; want a success then REQUIRED_FIELD_MISSING", codes(doc))
	}
	_, c := newSim(t)
	good := salesforce.NewSObject("Lead")
	good["LastName"], good["Company"], good["Email"] = "Lovelace", "Analytical Engines", "ada@example.com"
	bad := salesforce.NewSObject("Lead")
	bad["Company"] = "No Name Ltd"
	live, err := c.CreateCollection(context.Background(), []salesforce.SObject{good, bad}, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := codes(live), codes(doc)[:2]; !slices.Equal(got, want) || !live[0].Success || len(live[0].ID) != 18 {
		t.Errorf("live: got %v %+v; want %v with an 18-character id", got, live, want)
	}
	if got := live[1].Errors[0].Fields; !slices.Equal(got, doc[1].Errors[0].Fields) {
		t.Errorf("live fields: got %v; want %v", got, doc[1].Errors[0].Fields)
	}
}

func TestDuplicatesDetectedDecodeAlike(t *testing.T) {
	t.Parallel()
	var doc []salesforce.ErrorItem
	if err := json.Unmarshal(fixture(t, "duplicates_detected.json"), &doc); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := doc[0].Duplicates.FirstMatch(); !ok || doc[0].Code != salesforce.CodeDuplicatesDetected {
		t.Fatalf("fixture: got %+v; want DUPLICATES_DETECTED with a match", doc[0])
	}
	sim, c := newSim(t)
	if err := sim.SetDuplicateRule("Lead", org.DuplicateRule{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	ids, err := sim.Seed("Lead", map[string]any{"LastName": "Lovelace", "Company": "AE", "Email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	sub := salesforce.CompositeSubrequest{Method: "POST", URL: c.DataPath("sobjects/Lead"), ReferenceID: "lead",
		Body: map[string]any{"LastName": "Lovelace", "Company": "AE", "Email": "ADA@example.com"}}
	resp, err := c.Composite(context.Background(), false, []salesforce.CompositeSubrequest{sub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *salesforce.APIError
	if !errors.As(resp[0].Err(), &apiErr) || apiErr.Code != salesforce.CodeDuplicatesDetected {
		t.Fatalf("live: got %v; want DUPLICATES_DETECTED", resp[0].Err())
	}
	obj, id, ok := apiErr.All[0].Duplicates.FirstMatch()
	if !ok || obj != "Lead" || id != ids[0] {
		t.Errorf("live match: got %q %q %v; want Lead %s", obj, id, ok, ids[0])
	}
}

func TestQueryAndDescribeDecodeAlike(t *testing.T) {
	t.Parallel()
	var page salesforce.QueryResult[map[string]any]
	if err := json.Unmarshal(fixture(t, "query_result.json"), &page); err != nil || page.NextRecordsURL == "" || len(page.Records) == 0 {
		t.Fatalf("query fixture: got %+v %v", page, err)
	}
	var d salesforce.Describe
	if err := json.Unmarshal(fixture(t, "describe_excerpt.json"), &d); err != nil || d.KeyPrefix != "00Q" {
		t.Fatalf("describe fixture: got %+v %v", d, err)
	}
	sim, c := newSim(t)
	if _, err := sim.Seed("Contact", map[string]any{"LastName": "O'Brien", "Email": "o'brien@example.com"}); err != nil {
		t.Fatal(err)
	}
	type contact struct {
		ID    string `json:"Id"`
		Email string `json:"Email"`
	}
	got, err := salesforce.Query[contact](context.Background(), c, "SELECT Id, Email FROM Contact WHERE Email = "+salesforce.QuoteString("O'BRIEN@example.com"))
	if err != nil || len(got) != 1 || got[0].Email != "o'brien@example.com" {
		t.Errorf("live query: got %+v %v; want the one contact, matched case-insensitively", got, err)
	}
	live, err := c.Describe(context.Background(), "Lead")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"LastName", "Company"} {
		f, ok := live.Field(name)
		if !ok || !f.RequiredOnCreate() {
			t.Errorf("live describe %s: got %+v; want required on create", name, f)
		}
	}
}

func TestErrorsClassifyAlike(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t)
	sim.SetDailyLimit(1)
	_, _ = salesforce.Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead")
	_, err := salesforce.Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead")
	if !errors.Is(err, salesforce.ErrRequestLimit) {
		t.Errorf("over the limit: got %v; want ErrRequestLimit", err)
	}
	var doc []salesforce.ErrorItem
	if err := json.Unmarshal(fixture(t, "error_request_limit.json"), &doc); err != nil || doc[0].Code != salesforce.CodeRequestLimitExceeded {
		t.Errorf("fixture: got %+v %v; want REQUEST_LIMIT_EXCEEDED", doc, err)
	}
}

// answer is one canned HTTP answer of a recorded Salesforce.
type answer struct {
	status int
	body   []byte
}

// recorded starts a server that answers each path (without query) with its
// canned answer, as Salesforce answered in its documentation, and returns a
// client of it. Any other path is a test failure.
func recorded(t *testing.T, answers map[string]answer) *salesforce.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			t.Errorf("recorded Salesforce: unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	t.Cleanup(srv.Close)
	return &salesforce.Client{Session: &sameTokenSession{tok: salesforce.Token{AccessToken: "00Dx0000000BV7z!AR8AQ", InstanceURL: srv.URL}}}
}

// sameTokenSession "refreshes" to the token it already has, so a 401 comes
// back from the retry as the client's typed error.
type sameTokenSession struct {
	tok       salesforce.Token
	refreshes atomic.Int64
}

func (s *sameTokenSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s *sameTokenSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	s.refreshes.Add(1)
	return s.tok, nil
}

// envelope nests a fixture as the body of the only subresponse of a
// composite answer, the way the product receives single-record answers.
func envelope(status int, body []byte) []byte {
	return fmt.Appendf(nil, `{"compositeResponse":[{"body":%s,"httpHeaders":{},"httpStatusCode":%d,"referenceId":"ref"}]}`,
		bytes.TrimSpace(body), status)
}

const (
	dataPath      = "/services/data/" + salesforce.DefaultVersion
	queryPath     = dataPath + "/query"
	compositePath = dataPath + "/composite"
)

// subresponseErr runs one composite subrequest and returns its error.
func subresponseErr(ctx context.Context, c *salesforce.Client, sub salesforce.CompositeSubrequest) (any, error) {
	resps, err := c.Composite(ctx, false, []salesforce.CompositeSubrequest{sub}, nil)
	if err != nil {
		return nil, err
	}
	if len(resps) != 1 {
		return nil, fmt.Errorf("%d subresponses; want 1", len(resps))
	}
	return nil, resps[0].Err()
}

// subresponseBody runs one composite subrequest and decodes its 2xx body as T.
func subresponseBody[T any](ctx context.Context, c *salesforce.Client, sub salesforce.CompositeSubrequest) (any, error) {
	resps, err := c.Composite(ctx, false, []salesforce.CompositeSubrequest{sub}, nil)
	if err != nil {
		return nil, err
	}
	if len(resps) != 1 {
		return nil, fmt.Errorf("%d subresponses; want 1", len(resps))
	}
	if err := resps[0].Err(); err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(resps[0].Body, &v); err != nil {
		return nil, err
	}
	return v, nil
}

var sentinels = []error{salesforce.ErrSessionExpired, salesforce.ErrRequestLimit, salesforce.ErrTransient, salesforce.ErrNotFound}

// matched lists the sentinels err is (errors.Is).
func matched(err error) []error {
	var out []error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			out = append(out, s)
		}
	}
	return out
}

type contactRecord struct {
	Attributes salesforce.Attributes `json:"attributes"`
	ID         string                `json:"Id"`
	Name       string                `json:"Name"`
}

// The element types of Describe and DuplicateResult are unnamed; these
// aliases spell them so whole decoded values can be compared.
type (
	picklistValue = struct {
		Value        string `json:"value"`
		Label        string `json:"label"`
		Active       bool   `json:"active"`
		DefaultValue bool   `json:"defaultValue"`
	}
	matchRecord = struct {
		MatchConfidence float64 `json:"matchConfidence"`
		Record          struct {
			Attributes salesforce.Attributes `json:"attributes"`
			ID         string                `json:"Id"`
		} `json:"record"`
	}
)

type limit struct{ Max, Remaining int }

func leadSubrequest(c *salesforce.Client, body map[string]any) salesforce.CompositeSubrequest {
	return salesforce.CompositeSubrequest{Method: "POST", URL: c.DataPath("sobjects/Lead"), ReferenceID: "ref", Body: body}
}

// TestClientDecodesEveryFixture serves each documented answer the product can
// receive to the product's client, at the call that receives it, and compares
// the whole decoded value, or the whole typed error and the sentinels it
// matches.
func TestClientDecodesEveryFixture(t *testing.T) {
	t.Parallel()
	dupMatch := matchRecord{MatchConfidence: 100}
	dupMatch.Record.Attributes = salesforce.Attributes{Type: "Lead", URL: "/services/data/v51.0/sobjects/Lead/00Q5f000004KdBeEAK"}
	dupMatch.Record.ID = "00Q5f000004KdBeEAK"
	dup := &salesforce.DuplicateResult{AllowSave: true, DuplicateRule: "Standard_Lead_Duplicate_Rule", EntityType: "Lead",
		ErrorMessage: "Use one of these records?", MatchResults: []salesforce.MatchResult{{EntityType: "Lead", MatchEngine: "FuzzyMatchEngine",
			Rule: "Standard_Lead_Match_Rule_v1_0", Size: 1, MatchRecords: []matchRecord{dupMatch}}}}

	tests := []struct {
		name    string
		fixture string
		serve   func(fx []byte) map[string]answer
		call    func(ctx context.Context, c *salesforce.Client) (any, error)
		want    any
		wantErr *salesforce.APIError
		wantIs  []error
		// wantSends is how many requests the client sends: two when it
		// refreshes the session and retries once.
		wantSends int64
	}{
		{
			name: "query page with nextRecordsUrl", fixture: "query_result.json",
			serve: func(fx []byte) map[string]answer {
				return map[string]answer{queryPath: {200, fx},
					"/services/data/v56.0/query/01gRO0000016PIAYA2-500": {200, []byte(`{"totalSize":3222,"done":true,"records":[]}`)}}
			},
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return salesforce.Query[contactRecord](ctx, c, "SELECT Id, Name FROM Contact")
			},
			want: []contactRecord{{Attributes: salesforce.Attributes{Type: "Contact", URL: "/services/data/v56.0/sobjects/Contact/003RO0000035WQgYAM"},
				ID: "003RO0000035WQgYAM", Name: "John Smith"}},
			wantSends: 2,
		},
		{
			name: "query page as a composite subresponse", fixture: "query_result.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, envelope(200, fx)}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return subresponseBody[salesforce.QueryResult[contactRecord]](ctx, c, c.QuerySubrequest("ref", "SELECT Id, Name FROM Contact"))
			},
			want: salesforce.QueryResult[contactRecord]{TotalSize: 3222, Done: false, NextRecordsURL: "/services/data/v56.0/query/01gRO0000016PIAYA2-500",
				Records: []contactRecord{{Attributes: salesforce.Attributes{Type: "Contact", URL: "/services/data/v56.0/sobjects/Contact/003RO0000035WQgYAM"},
					ID: "003RO0000035WQgYAM", Name: "John Smith"}}},
			wantSends: 1,
		},
		{
			name: "describe", fixture: "describe_excerpt.json",
			serve: func(fx []byte) map[string]answer {
				return map[string]answer{dataPath + "/sobjects/Lead/describe": {200, fx}}
			},
			call: func(ctx context.Context, c *salesforce.Client) (any, error) { return c.Describe(ctx, "Lead") },
			want: &salesforce.Describe{Name: "Lead", Label: "Lead", KeyPrefix: "00Q", Createable: true, Fields: []salesforce.DescribeField{{
				Name: "Status", Label: "Status", Type: "picklist", Length: 255, Createable: true, Updateable: true, DefaultedOnCreate: true,
				RestrictedPicklist: true, ReferenceTo: []string{},
				PicklistValues: []picklistValue{{Value: "Open - Not Contacted", Label: "Open - Not Contacted", Active: true, DefaultValue: true}}}}},
			wantSends: 1,
		},
		{
			name: "sObject Collections save results", fixture: "saveresult_collection.json",
			serve: func(fx []byte) map[string]answer {
				return map[string]answer{dataPath + "/composite/sobjects": {200, fx}}
			},
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				recs := []salesforce.SObject{salesforce.NewSObject("Lead"), salesforce.NewSObject("Lead"), salesforce.NewSObject("Lead")}
				return c.CreateCollection(ctx, recs, salesforce.WriteOptions{})
			},
			want: []salesforce.SaveResult{
				{ID: "00Q5f000004KdBeEAK", Success: true, Errors: []salesforce.ErrorItem{}},
				{Errors: []salesforce.ErrorItem{{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}}},
				{Errors: []salesforce.ErrorItem{{Code: salesforce.CodeAllOrNoneRolledBack,
					Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}}},
			},
			wantSends: 1,
		},
		{
			name: "composite response", fixture: "composite_response.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, fx}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				sub := salesforce.CompositeSubrequest{Method: "POST", URL: c.DataPath("sobjects/Account"), ReferenceID: "refAccount", Body: map[string]any{"Name": "Acme"}}
				return c.Composite(ctx, false, []salesforce.CompositeSubrequest{sub}, nil)
			},
			want: []salesforce.CompositeSubresponse{{Body: json.RawMessage(`{"id":"001R00000033I6AIAU","success":true,"errors":[]}`),
				HTTPHeaders:    map[string]string{"Location": "/services/data/v51.0/sobjects/Account/001R00000033I6AIAU"},
				HTTPStatusCode: 201, ReferenceID: "refAccount"}},
			wantSends: 1,
		},
		{
			name: "create result", fixture: "create_result.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, envelope(201, fx)}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return subresponseBody[salesforce.SaveResult](ctx, c, leadSubrequest(c, map[string]any{"LastName": "Lovelace", "Company": "AE"}))
			},
			want:      salesforce.SaveResult{ID: "00Q5f000004KdBeEAK", Success: true, Errors: []salesforce.ErrorItem{}},
			wantSends: 1,
		},
		{
			name: "limits", fixture: "limits.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, envelope(200, fx)}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return subresponseBody[map[string]limit](ctx, c, salesforce.CompositeSubrequest{Method: "GET", URL: c.DataPath("limits"), ReferenceID: "ref"})
			},
			want:      map[string]limit{"DailyApiRequests": {Max: 15000, Remaining: 14998}},
			wantSends: 1,
		},
		{
			name: "invalid session: refresh once, retry once, then the typed error", fixture: "error_invalid_session.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{queryPath: {401, fx}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return salesforce.Query[contactRecord](ctx, c, "SELECT Id FROM Contact")
			},
			wantErr: &salesforce.APIError{StatusCode: 401, Code: salesforce.CodeInvalidSession, Message: "Session expired or invalid",
				All: []salesforce.ErrorItem{{Code: salesforce.CodeInvalidSession, Message: "Session expired or invalid"}}},
			wantIs: []error{salesforce.ErrSessionExpired}, wantSends: 2,
		},
		{
			name: "malformed query", fixture: "error_malformed_query.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{queryPath: {400, fx}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return salesforce.Query[contactRecord](ctx, c, "SELECT Id FROM Contact WHERE invalid")
			},
			wantErr: &salesforce.APIError{StatusCode: 400, Code: "MALFORMED_QUERY", Message: "unexpected token: 'invalid'",
				All: []salesforce.ErrorItem{{Code: "MALFORMED_QUERY", Message: "unexpected token: 'invalid'"}}},
			wantSends: 1,
		},
		{
			name: "request limit exceeded: no retry", fixture: "error_request_limit.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{queryPath: {403, fx}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return salesforce.Query[contactRecord](ctx, c, "SELECT Id FROM Contact")
			},
			wantErr: &salesforce.APIError{StatusCode: 403, Code: salesforce.CodeRequestLimitExceeded, Message: "TotalRequests Limit exceeded.",
				All: []salesforce.ErrorItem{{Code: salesforce.CodeRequestLimitExceeded, Message: "TotalRequests Limit exceeded."}}},
			wantIs: []error{salesforce.ErrRequestLimit}, wantSends: 1,
		},
		{
			name: "entity is deleted", fixture: "error_entity_is_deleted.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, envelope(404, fx)}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return subresponseErr(ctx, c, salesforce.CompositeSubrequest{Method: "GET", URL: c.DataPath("sobjects/Lead/00Q5f000004KdBeEAK"), ReferenceID: "ref"})
			},
			wantErr: &salesforce.APIError{StatusCode: 404, Code: salesforce.CodeEntityIsDeleted, Message: "entity is deleted", Fields: []string{},
				All: []salesforce.ErrorItem{{Code: salesforce.CodeEntityIsDeleted, Message: "entity is deleted", Fields: []string{}}}},
			wantIs: []error{salesforce.ErrNotFound}, wantSends: 1,
		},
		{
			name: "required field missing", fixture: "error_required_field_missing.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, envelope(400, fx)}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return subresponseErr(ctx, c, leadSubrequest(c, map[string]any{"Company": "AE"}))
			},
			wantErr: &salesforce.APIError{StatusCode: 400, Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]",
				Fields: []string{"LastName"}, All: []salesforce.ErrorItem{{Code: "REQUIRED_FIELD_MISSING",
					Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}}},
			wantSends: 1,
		},
		{
			name: "composite processing halted", fixture: "composite_processing_halted.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, envelope(400, fx)}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return subresponseErr(ctx, c, leadSubrequest(c, map[string]any{"LastName": "Lovelace", "Company": "AE"}))
			},
			wantErr: &salesforce.APIError{StatusCode: 400, Code: salesforce.CodeProcessingHalted,
				Message: "The transaction was rolled back since another operation in the same transaction failed.",
				All: []salesforce.ErrorItem{{Code: salesforce.CodeProcessingHalted,
					Message: "The transaction was rolled back since another operation in the same transaction failed."}}},
			wantSends: 1,
		},
		{
			name: "duplicates detected", fixture: "duplicates_detected.json",
			serve: func(fx []byte) map[string]answer { return map[string]answer{compositePath: {200, envelope(400, fx)}} },
			call: func(ctx context.Context, c *salesforce.Client) (any, error) {
				return subresponseErr(ctx, c, leadSubrequest(c, map[string]any{"LastName": "Lovelace", "Company": "AE"}))
			},
			wantErr: &salesforce.APIError{StatusCode: 400, Code: salesforce.CodeDuplicatesDetected, Message: "Use one of these records?",
				All: []salesforce.ErrorItem{{Code: salesforce.CodeDuplicatesDetected, Message: "Use one of these records?", Duplicates: dup}}},
			wantSends: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := recorded(t, tt.serve(fixture(t, tt.fixture)))
			got, err := tt.call(context.Background(), c)
			if sends := c.Calls.Load(); sends != tt.wantSends {
				t.Errorf("requests sent: got %d; want %d", sends, tt.wantSends)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v; want %+v", err, tt.want)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("decoded:\ngot  %#v;\nwant %#v", got, tt.want)
				}
				return
			}
			var apiErr *salesforce.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v; want *salesforce.APIError %+v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(apiErr, tt.wantErr) {
				t.Errorf("typed error:\ngot  %#v;\nwant %#v", apiErr, tt.wantErr)
			}
			if got := matched(err); !slices.Equal(got, tt.wantIs) {
				t.Errorf("sentinels matched: got %v; want %v", got, tt.wantIs)
			}
		})
	}
	// The duplicate block names the record to link to.
	if obj, id, ok := dup.FirstMatch(); !ok || obj != "Lead" || id != "00Q5f000004KdBeEAK" {
		t.Errorf("FirstMatch: got %s %s %v; want Lead 00Q5f000004KdBeEAK", obj, id, ok)
	}
}

// fixtureError is the typed error the product's client makes of an error
// fixture answered with status inside a composite answer.
func fixtureError(t *testing.T, name string, status int) *salesforce.APIError {
	t.Helper()
	c := recorded(t, map[string]answer{compositePath: {200, envelope(status, fixture(t, name))}})
	_, err := subresponseErr(context.Background(), c, salesforce.CompositeSubrequest{Method: "GET", URL: c.DataPath("limits"), ReferenceID: "ref"})
	var apiErr *salesforce.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("fixture %s: got %v; want an *APIError", name, err)
	}
	return apiErr
}

// TestSimulatorErrorsMatchTheFixtures makes the simulator answer each
// documented error and expects the product's client to produce the same
// typed error as from the fixture: status, code, message (except where the
// text names the request), fields and sentinels.
func TestSimulatorErrorsMatchTheFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, fixture string
		status        int
		messageVaries bool // Salesforce's text quotes the request
		provoke       func(ctx context.Context, t *testing.T, sim *org.Org, c *salesforce.Client) error
	}{
		{"invalid session", "error_invalid_session.json", 401, false,
			func(ctx context.Context, t *testing.T, sim *org.Org, c *salesforce.Client) error {
				sim.ExpireAccessTokens()
				_, err := salesforce.Query[contactRecord](ctx, c, "SELECT Id FROM Contact")
				return err
			}},
		{"malformed query", "error_malformed_query.json", 400, true,
			func(ctx context.Context, t *testing.T, sim *org.Org, c *salesforce.Client) error {
				_, err := salesforce.Query[contactRecord](ctx, c, "SELECT Id FROM Contact WHERE invalid")
				return err
			}},
		{"request limit", "error_request_limit.json", 403, false,
			func(ctx context.Context, t *testing.T, sim *org.Org, c *salesforce.Client) error {
				sim.SetDailyLimit(1)
				if _, err := salesforce.Query[contactRecord](ctx, c, "SELECT Id FROM Contact"); err != nil {
					t.Fatalf("first call: %v", err)
				}
				_, err := salesforce.Query[contactRecord](ctx, c, "SELECT Id FROM Contact")
				return err
			}},
		{"entity is deleted", "error_entity_is_deleted.json", 404, false,
			func(ctx context.Context, t *testing.T, sim *org.Org, c *salesforce.Client) error {
				ids, err := sim.Seed("Lead", map[string]any{"LastName": "Gone", "Company": "AE"})
				if err != nil {
					t.Fatal(err)
				}
				resps, err := c.Composite(ctx, false, []salesforce.CompositeSubrequest{
					{Method: "DELETE", URL: c.DataPath("sobjects/Lead/" + ids[0]), ReferenceID: "del"},
					{Method: "GET", URL: c.DataPath("sobjects/Lead/" + ids[0]), ReferenceID: "get"},
				}, nil)
				if err != nil || len(resps) != 2 || resps[0].Err() != nil {
					t.Fatalf("delete then read: got %+v, %v", resps, err)
				}
				return resps[1].Err()
			}},
		{"required field missing", "error_required_field_missing.json", 400, false,
			func(ctx context.Context, t *testing.T, sim *org.Org, c *salesforce.Client) error {
				_, err := subresponseErr(ctx, c, leadSubrequest(c, map[string]any{"Company": "AE"}))
				return err
			}},
		{"processing halted", "composite_processing_halted.json", 400, false,
			func(ctx context.Context, t *testing.T, sim *org.Org, c *salesforce.Client) error {
				resps, err := c.Composite(ctx, true, []salesforce.CompositeSubrequest{
					{Method: "POST", URL: c.DataPath("sobjects/Lead"), ReferenceID: "good", Body: map[string]any{"LastName": "Lovelace", "Company": "AE"}},
					{Method: "POST", URL: c.DataPath("sobjects/Lead"), ReferenceID: "bad", Body: map[string]any{"Company": "AE"}},
				}, nil)
				if err != nil || len(resps) != 2 {
					t.Fatalf("composite: got %+v, %v", resps, err)
				}
				if n := len(sim.Records("Lead")); n != 0 {
					t.Errorf("Leads after a halted allOrNone composite: got %d; want 0", n)
				}
				return resps[0].Err() // the good one was rolled back
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := fixtureError(t, tt.fixture, tt.status)
			sim, _ := newSim(t)
			tok := sim.IssueTokens()
			c := &salesforce.Client{Session: &sameTokenSession{tok: salesforce.Token{AccessToken: tok.AccessToken, InstanceURL: tok.InstanceURL}}}
			err := tt.provoke(context.Background(), t, sim, c)
			var got *salesforce.APIError
			if !errors.As(err, &got) {
				t.Fatalf("simulator: got %v; want an *APIError like %+v", err, want)
			}
			if tt.messageVaries {
				if got.Message == "" {
					t.Errorf("simulator: empty message")
				}
				got.Message, got.All[0].Message = want.Message, want.All[0].Message
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("simulator vs fixture:\ngot  %#v;\nwant %#v", got, want)
			}
			if g, w := matched(err), matched(want); !slices.Equal(g, w) {
				t.Errorf("sentinels: got %v; want %v", g, w)
			}
		})
	}
}

// TestSimulatorSuccessesMatchTheFixtures compares the simulator's successful
// answers with the fixtures' decoded values, ids and counts aside.
func TestSimulatorSuccessesMatchTheFixtures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := org.New(org.Config{PageSize: 2})
	if _, err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	tok := sim.IssueTokens()
	var usage atomic.Pointer[salesforce.Usage]
	c := &salesforce.Client{Session: staticSession{salesforce.Token{AccessToken: tok.AccessToken, InstanceURL: tok.InstanceURL}},
		OnUsage: func(u salesforce.Usage) { usage.Store(&u) }}

	t.Run("composite create", func(t *testing.T) {
		var doc struct {
			CompositeResponse []salesforce.CompositeSubresponse `json:"compositeResponse"`
		}
		if err := json.Unmarshal(fixture(t, "composite_response.json"), &doc); err != nil {
			t.Fatal(err)
		}
		sub := salesforce.CompositeSubrequest{Method: "POST", URL: c.DataPath("sobjects/Account"), ReferenceID: "refAccount", Body: map[string]any{"Name": "Acme"}}
		live, err := c.Composite(ctx, false, []salesforce.CompositeSubrequest{sub}, nil)
		if err != nil || len(live) != 1 {
			t.Fatalf("composite: got %+v, %v", live, err)
		}
		var saved salesforce.SaveResult
		if err := json.Unmarshal(live[0].Body, &saved); err != nil {
			t.Fatal(err)
		}
		var wantSaved salesforce.SaveResult
		_ = json.Unmarshal(fixture(t, "create_result.json"), &wantSaved)
		if len(saved.ID) != 18 || saved.ID[:3] != "001" {
			t.Errorf("created id: got %q; want an 18-character Account id", saved.ID)
		}
		wantLoc := dataPath + "/sobjects/Account/" + saved.ID
		saved.ID, wantSaved.ID = "", ""
		if !reflect.DeepEqual(saved, wantSaved) {
			t.Errorf("create result: got %#v; want %#v", saved, wantSaved)
		}
		if got, want := live[0].HTTPStatusCode, doc.CompositeResponse[0].HTTPStatusCode; got != want {
			t.Errorf("subresponse status: got %d; want %d", got, want)
		}
		if got := live[0].HTTPHeaders["Location"]; got != wantLoc || live[0].ReferenceID != "refAccount" {
			t.Errorf("subresponse: got Location %q, reference %q; want %q, refAccount", got, live[0].ReferenceID, wantLoc)
		}
	})

	t.Run("query page with nextRecordsUrl", func(t *testing.T) {
		if _, err := sim.Seed("Contact", map[string]any{"LastName": "One"}, map[string]any{"LastName": "Two"}, map[string]any{"LastName": "Three"}); err != nil {
			t.Fatal(err)
		}
		var doc salesforce.QueryResult[contactRecord]
		_ = json.Unmarshal(fixture(t, "query_result.json"), &doc)
		page, err := subresponseBody[salesforce.QueryResult[contactRecord]](ctx, c, c.QuerySubrequest("ref", "SELECT Id, Name FROM Contact"))
		if err != nil {
			t.Fatal(err)
		}
		p := page.(salesforce.QueryResult[contactRecord])
		if p.TotalSize != 3 || p.Done != doc.Done || len(p.Records) != 2 || !strings.HasPrefix(p.NextRecordsURL, dataPath+"/query/01g") {
			t.Fatalf("first page: got %+v; want 3 in all, 2 here, not done, a nextRecordsUrl like %s", p, doc.NextRecordsURL)
		}
		for _, r := range p.Records {
			if r.Attributes.Type != "Contact" || r.Attributes.URL != dataPath+"/sobjects/Contact/"+r.ID || len(r.ID) != 18 || r.Name == "" {
				t.Errorf("record: got %+v; want the fixture's shape %+v", r, doc.Records[0])
			}
		}
		all, err := salesforce.Query[contactRecord](ctx, c, "SELECT Id, Name FROM Contact")
		if err != nil || len(all) != 3 {
			t.Errorf("query following nextRecordsUrl: got %d records, %v; want 3", len(all), err)
		}
	})

	t.Run("limits agree with Sforce-Limit-Info", func(t *testing.T) {
		var doc map[string]limit
		_ = json.Unmarshal(fixture(t, "limits.json"), &doc)
		got, err := subresponseBody[map[string]limit](ctx, c, salesforce.CompositeSubrequest{Method: "GET", URL: c.DataPath("limits"), ReferenceID: "ref"})
		if err != nil {
			t.Fatal(err)
		}
		live := got.(map[string]limit)["DailyApiRequests"]
		u := usage.Load()
		if _, ok := doc["DailyApiRequests"]; !ok || u == nil || live.Max != u.Limit || live.Remaining < u.Limit-u.Used-1 || live.Remaining > u.Limit-u.Used {
			t.Errorf("limits: got %+v with Sforce-Limit-Info %+v; want DailyApiRequests of the same budget", live, u)
		}
	})
}

// The simulator's default org answers composite subrequests out of request
// order, as Salesforce may with collateSubrequests: each answer must still
// reach its own subrequest (matching by position would swap them).
func TestCompositeAnswersOutOfOrderReachTheirSubrequests(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t)
	emails := []string{"first@shuffle.example", "second@shuffle.example", "third@shuffle.example"}
	for i, e := range emails {
		if _, err := sim.Seed("Contact", map[string]any{"LastName": fmt.Sprint("N", i), "Email": e}); err != nil {
			t.Fatal(err)
		}
	}
	var subs []salesforce.CompositeSubrequest
	for i, e := range emails {
		subs = append(subs, c.QuerySubrequest(fmt.Sprint("q", i), "SELECT Email FROM Contact WHERE Email = "+salesforce.QuoteString(e)))
	}
	resps, err := c.Composite(context.Background(), false, subs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resps {
		var res salesforce.QueryResult[struct{ Email string }]
		if err := json.Unmarshal(r.Body, &res); err != nil || len(res.Records) != 1 {
			t.Fatalf("answer %d: got %s (%v); want one record", i, r.Body, err)
		}
		if got := res.Records[0].Email; got != emails[i] || r.ReferenceID != subs[i].ReferenceID {
			t.Errorf("answer %d: got %s (%s); want %s (%s)", i, got, r.ReferenceID, emails[i], subs[i].ReferenceID)
		}
	}
}

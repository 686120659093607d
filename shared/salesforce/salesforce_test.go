package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQuoteString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"ada@example.com", `'ada@example.com'`},
		{"o'brien@example.com", `'o\'brien@example.com'`},
		{`back\slash@example.com`, `'back\\slash@example.com'`},
		{`say "hi"`, `'say \"hi\"'`},
		{"line\nbreak\r\t", `'line\nbreak\r\t'`},
		{"bell\bform\f", `'bell\bform\f'`},
		{"x' OR Email != null OR Email = 'y", `'x\' OR Email != null OR Email = \'y'`},
		{"100%_match", `'100%_match'`},
		{"ünïcødé@例え.jp", `'ünïcødé@例え.jp'`},
		{"", `''`},
	}
	for _, tt := range tests {
		if got := QuoteString(tt.in); got != tt.want {
			t.Errorf("QuoteString(%q): got %s; want %s", tt.in, got, tt.want)
		}
	}
	if got, want := QuoteList([]string{"a", "b'c"}), `('a','b\'c')`; got != want {
		t.Errorf("QuoteList: got %s; want %s", got, want)
	}
}

func TestParseLimitInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   Usage
		wantOK bool
	}{
		{"api-usage=18/5000", Usage{18, 5000}, true},
		{"api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", Usage{25, 5000}, true},
		{"per-app-api-usage=17/250(appName=x); api-usage=3/15000", Usage{3, 15000}, true},
		{"", Usage{}, false},
		{"api-usage=abc/100", Usage{}, false},
		{"api-usage=5", Usage{}, false},
		{"api-usage=5/0", Usage{}, false},
		{"api-usage=-1/10", Usage{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseLimitInfo(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseLimitInfo(%q): got %v,%v; want %v,%v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseLimitInfo(f *testing.F) {
	for _, s := range []string{"api-usage=18/5000", "api-usage=1/2; api-bursts=1/750", "", "api-usage=/", "api-usage=99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, ok := ParseLimitInfo(s)
		if ok && (u.Used < 0 || u.Limit <= 0) {
			t.Fatalf("ParseLimitInfo(%q) = %+v: accepted an impossible usage", s, u)
		}
	})
}

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		wantCode   string
		wantFields []string
		is         error
	}{
		{"session", 401, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, CodeInvalidSession, nil, ErrSessionExpired},
		{"limit", 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, CodeRequestLimitExceeded, nil, ErrRequestLimit},
		{"required", 400, `[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`, "REQUIRED_FIELD_MISSING", []string{"LastName"}, nil},
		{"lock", 400, `[{"message":"unable to obtain exclusive access to this record or 1 records: 00Q000000000001AAA","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`, CodeUnableToLockRow, []string{}, ErrTransient},
		{"html 502", 502, `<html><body>Bad Gateway</body></html>`, "", nil, ErrTransient},
		{"deleted", 404, `[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}]`, CodeEntityIsDeleted, []string{}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseErrorBody(tt.status, []byte(tt.body))
			if e.Code != tt.wantCode {
				t.Errorf("code: got %q; want %q", e.Code, tt.wantCode)
			}
			if len(e.Fields) != len(tt.wantFields) {
				t.Errorf("fields: got %v; want %v", e.Fields, tt.wantFields)
			}
			if tt.is != nil && !errors.Is(e, tt.is) {
				t.Errorf("errors.Is(%v, %v): got false; want true", e, tt.is)
			}
			if strings.Contains(e.Error(), "<html") {
				t.Errorf("error text carries the HTML body: %s", e.Error())
			}
		})
	}
}

func TestDuplicateResultFirstMatch(t *testing.T) {
	t.Parallel()
	body := `[{"duplicateResut":{"allowSave":true,"duplicateRule":"Standard_Lead_Duplicate_Rule","duplicateRuleEntityType":"Lead",
	  "errorMessage":"Use one of these records?","matchResults":[{"entityType":"Contact","errors":[],"matchEngine":"ExactMatchEngine",
	  "matchRecords":[{"additionalInformation":[],"fieldDiffs":[],"matchConfidence":100.0,
	  "record":{"attributes":{"type":"Contact","url":"/services/data/v62.0/sobjects/Contact/003000000000001AAA"},"Id":"003000000000001AAA"}}],
	  "rule":"Standard_Contact_Match_Rule_v1_1","size":1,"success":true}]},"errorCode":"DUPLICATES_DETECTED","message":"Use one of these records?"}]`
	e := parseErrorBody(400, []byte(body))
	obj, id, ok := e.All[0].Duplicates.FirstMatch()
	if !ok || obj != "Contact" || id != "003000000000001AAA" {
		t.Errorf("FirstMatch: got %q,%q,%v; want Contact,003000000000001AAA,true", obj, id, ok)
	}
}

// session is a Session that hands out tokens and counts refreshes.
type session struct {
	mu        sync.Mutex
	tok       Token
	refreshes int
}

func (s *session) Current(context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok, nil
}

func (s *session) Refresh(_ context.Context, stale Token) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stale.AccessToken == s.tok.AccessToken {
		s.refreshes++
		s.tok.AccessToken = "fresh"
	}
	return s.tok, nil
}

func TestClientRefreshesOnceAndRetriesOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		acceptFresh   bool
		wantErr       error
		wantCalls     int64
		wantRefreshes int
	}{
		{"expired then fresh works", true, nil, 2, 1},
		{"still rejected after refresh", false, ErrSessionExpired, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Sforce-Limit-Info", "api-usage=7/15000")
				if r.Header.Get("Authorization") == "Bearer fresh" && tt.acceptFresh {
					w.Write([]byte(`{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Lead"},"Id":"00Q000000000001AAA"}]}`))
					return
				}
				w.WriteHeader(401)
				w.Write([]byte(`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`))
			}))
			defer srv.Close()
			s := &session{tok: Token{AccessToken: "stale", InstanceURL: srv.URL}}
			var seen Usage
			c := &Client{Session: s, OnUsage: func(u Usage) { seen = u }}
			_, err := Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead")
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Errorf("err: got %v; want %v", err, tt.wantErr)
			}
			if got := c.Calls.Load(); got != tt.wantCalls {
				t.Errorf("calls: got %d; want %d", got, tt.wantCalls)
			}
			if s.refreshes != tt.wantRefreshes {
				t.Errorf("refreshes: got %d; want %d", s.refreshes, tt.wantRefreshes)
			}
			if seen != (Usage{7, 15000}) {
				t.Errorf("usage: got %v; want {7 15000}", seen)
			}
		})
	}
}

// TestReadsAreResentAfterTransientFailures: a read (a GET, or a composite of
// GETs) is sent again after a 5xx; a write never is; nor is a read the org
// refused for its concurrent long-running requests (each slot is held for
// 20 seconds or more: a resend within a second is refused again).
func TestReadsAreResentAfterTransientFailures(t *testing.T) {
	t.Parallel()
	query := func(ctx context.Context, c *Client) error {
		_, err := Query[map[string]any](ctx, c, "SELECT Id FROM Lead")
		return err
	}
	lookups := func(ctx context.Context, c *Client) error {
		_, err := c.Composite(ctx, false, []CompositeSubrequest{c.QuerySubrequest("a", "SELECT Id FROM Lead"), c.QuerySubrequest("b", "SELECT Id FROM Contact")}, nil)
		return err
	}
	create := func(ctx context.Context, c *Client) error {
		rec := NewSObject("Lead")
		rec["LastName"] = "X"
		_, err := c.CreateCollection(ctx, []SObject{rec}, WriteOptions{})
		return err
	}
	createInComposite := func(ctx context.Context, c *Client) error {
		_, err := c.Composite(ctx, false, []CompositeSubrequest{c.QuerySubrequest("a", "SELECT Id FROM Lead"),
			{Method: http.MethodPost, URL: c.DataPath("composite/sobjects"), ReferenceID: "b", Body: map[string]any{"records": []any{}}}}, nil)
		return err
	}
	tests := []struct {
		name      string
		call      func(context.Context, *Client) error
		failures  int // 503s (or concurrent-request refusals) before the org answers
		retries   int // Client.ReadRetries
		wantErr   error
		wantCalls int64
		// concurrent: the failures are 403 ConcurrentPerOrgLongTxn, not 503s
		concurrent bool
	}{
		{"query: one 503, then the answer", query, 1, 0, nil, 2, false},
		{"query: two 503s, then the answer", query, 2, 0, nil, 3, false},
		{"query: three 503s are too many", query, 3, 0, ErrTransient, 3, false},
		{"query: resending switched off", query, 1, -1, ErrTransient, 1, false},
		{"composite of queries: one 503, then the answers", lookups, 1, 0, nil, 2, false},
		{"create: never resent", create, 1, 0, ErrTransient, 1, false},
		{"composite with a create: never resent", createInComposite, 1, 0, ErrTransient, 1, false},
		{"query refused for concurrent requests: not resent", query, 1, 0, ErrConcurrentLimit, 1, true},
		{"composite of queries refused for concurrent requests: not resent", lookups, 1, 0, ErrConcurrentLimit, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			seen := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen++
				n := seen
				mu.Unlock()
				if n <= tt.failures && tt.concurrent {
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(`[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`))
					return
				}
				if n <= tt.failures {
					w.WriteHeader(http.StatusServiceUnavailable)
					w.Write([]byte(`[{"message":"Server is temporarily unavailable","errorCode":"SERVER_UNAVAILABLE"}]`))
					return
				}
				switch {
				case strings.HasSuffix(r.URL.Path, "/composite/sobjects"):
					w.Write([]byte(`[{"id":"00Q000000000001AAA","success":true,"errors":[]}]`))
				case strings.HasSuffix(r.URL.Path, "/composite"):
					w.Write([]byte(`{"compositeResponse":[{"body":{"totalSize":0,"done":true,"records":[]},"httpStatusCode":200,"referenceId":"a"},{"body":{"totalSize":0,"done":true,"records":[]},"httpStatusCode":200,"referenceId":"b"}]}`))
				default:
					w.Write([]byte(`{"totalSize":0,"done":true,"records":[]}`))
				}
			}))
			defer srv.Close()
			c := &Client{Session: &session{tok: Token{AccessToken: "t", InstanceURL: srv.URL}}, ReadRetries: tt.retries, ReadBackoff: time.Millisecond}
			err := tt.call(context.Background(), c)
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Errorf("err: got %v; want %v", err, tt.wantErr)
			}
			if got := c.Calls.Load(); got != tt.wantCalls {
				t.Errorf("calls: got %d; want %d", got, tt.wantCalls)
			}
		})
	}
}

// failingSession hands out a token and fails every refresh.
type failingSession struct{ tok Token }

func (s failingSession) Current(context.Context) (Token, error) { return s.tok, nil }
func (s failingSession) Refresh(context.Context, Token) (Token, error) {
	return Token{}, errors.New("refresh refused")
}

// TestErrorsCarryNoQueryString: a query's SOQL holds emails; no error the
// client returns (and so no log line or outcome built from it) carries the
// query string, whether the connection drops, the URL cannot be built or
// the session cannot be refreshed.
func TestErrorsCarryNoQueryString(t *testing.T) {
	t.Parallel()
	const email = "ada.secret@example.com"
	dropped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(dropped.Close)
	expired := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		w.Write([]byte(`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`))
	}))
	t.Cleanup(expired.Close)
	tests := []struct {
		name    string
		session Session
		wantErr error
	}{
		{"connection dropped", &session{tok: Token{AccessToken: "t", InstanceURL: dropped.URL}}, ErrTransient},
		{"unparsable instance URL", &session{tok: Token{AccessToken: "t", InstanceURL: "http://[::1"}}, nil},
		{"refresh refused", failingSession{Token{AccessToken: "t", InstanceURL: expired.URL}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Client{Session: tt.session, ReadRetries: -1}
			_, err := Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead WHERE Email = "+QuoteString(email))
			if err == nil {
				t.Fatal("got no error; want one")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v; want %v", err, tt.wantErr)
			}
			if msg := err.Error(); strings.Contains(msg, "ada.secret") || strings.Contains(msg, "?q=") || strings.Contains(msg, "SELECT") {
				t.Errorf("got %q; want no query string in the error", msg)
			}
		})
	}
}

func TestRequestLimitsAreTold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		body                         string
		daily, concurrent, transient bool
	}{
		{"daily allocation", `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, true, false, false},
		{"concurrent long requests", `[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, false, true, false},
		{"concurrent requests, older wording", `[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, false, true, false},
		{"server unavailable", `[{"message":"Server is temporarily unavailable","errorCode":"SERVER_UNAVAILABLE"}]`, false, false, true},
	}
	for _, tt := range tests {
		e := parseErrorBody(403, []byte(tt.body))
		got := [3]bool{errors.Is(e, ErrRequestLimit), errors.Is(e, ErrConcurrentLimit), errors.Is(e, ErrTransient)}
		if want := [3]bool{tt.daily, tt.concurrent, tt.transient}; got != want {
			t.Errorf("%s: daily, concurrent, transient got %v; want %v", tt.name, got, want)
		}
	}
}

// TestConcurrentRefusalAsksForAWait: a concurrent-request refusal carries
// a wait between its bounds, wrapped or not, and jittered so that the
// refused workers of one org spread out; no other error asks for one.
func TestConcurrentRefusalAsksForAWait(t *testing.T) {
	t.Parallel()
	const concurrent = `[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`
	seen := map[time.Duration]bool{}
	for range 50 {
		err := fmt.Errorf("composite of 2: %w", parseErrorBody(403, []byte(concurrent)))
		d, ok := RetryAfter(err)
		if !ok || d < MinConcurrentRetryAfter || d > MaxConcurrentRetryAfter {
			t.Fatalf("got %v, %v; want a wait within [%v, %v]", d, ok, MinConcurrentRetryAfter, MaxConcurrentRetryAfter)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Errorf("got %d distinct waits in 50 refusals; want them jittered", len(seen))
	}
	for _, body := range []string{
		`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
		`[{"message":"Server is temporarily unavailable","errorCode":"SERVER_UNAVAILABLE"}]`,
	} {
		if d, ok := RetryAfter(parseErrorBody(403, []byte(body))); ok {
			t.Errorf("%s: got a wait of %v; want none", body, d)
		}
	}
	if d, ok := RetryAfter(ErrTransient); ok {
		t.Errorf("ErrTransient: got a wait of %v; want none", d)
	}
}

func TestCompositeAnswersAreMatchedByReferenceID(t *testing.T) {
	t.Parallel()
	subs := []CompositeSubrequest{{Method: "GET", URL: "/a", ReferenceID: "a"}, {Method: "GET", URL: "/b", ReferenceID: "b"}, {Method: "GET", URL: "/c", ReferenceID: "c"}}
	tests := []struct {
		name    string
		answer  string
		want    string // bodies in the order of subs
		wantErr bool
	}{
		{"shuffled", `{"compositeResponse":[{"body":"C","httpStatusCode":200,"referenceId":"c"},{"body":"A","httpStatusCode":200,"referenceId":"a"},{"body":"B","httpStatusCode":200,"referenceId":"b"}]}`, `"A","B","C"`, false},
		{"in order", `{"compositeResponse":[{"body":"A","httpStatusCode":200,"referenceId":"a"},{"body":"B","httpStatusCode":200,"referenceId":"b"},{"body":"C","httpStatusCode":200,"referenceId":"c"}]}`, `"A","B","C"`, false},
		{"one repeated", `{"compositeResponse":[{"body":"A","httpStatusCode":200,"referenceId":"a"},{"body":"A","httpStatusCode":200,"referenceId":"a"},{"body":"C","httpStatusCode":200,"referenceId":"c"}]}`, "", true},
		{"unknown reference", `{"compositeResponse":[{"body":"A","httpStatusCode":200,"referenceId":"a"},{"body":"X","httpStatusCode":200,"referenceId":"x"},{"body":"C","httpStatusCode":200,"referenceId":"c"}]}`, "", true},
		{"one missing", `{"compositeResponse":[{"body":"A","httpStatusCode":200,"referenceId":"a"}]}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tt.answer))
			}))
			defer srv.Close()
			c := &Client{Session: &session{tok: Token{AccessToken: "t", InstanceURL: srv.URL}}, ReadRetries: -1}
			got, err := c.Composite(context.Background(), false, subs, nil)
			if tt.wantErr {
				if !errors.Is(err, ErrTransient) {
					t.Errorf("error: got %v; want one wrapping ErrTransient", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var bodies []string
			for _, a := range got {
				bodies = append(bodies, string(a.Body))
			}
			if strings.Join(bodies, ",") != tt.want {
				t.Errorf("answers: got %v; want %s", bodies, tt.want)
			}
		})
	}
}

func TestWritesWaitLongerThanReads(t *testing.T) {
	t.Parallel()
	c := &Client{}
	read, write := c.httpClient(http.MethodGet).Timeout, c.httpClient(http.MethodPost).Timeout
	if write < 2*time.Minute || write <= read {
		t.Errorf("timeouts: read %v, write %v; want a write to wait at least 2 minutes, longer than a read", read, write)
	}
	own := &http.Client{}
	if got := (&Client{HTTP: own}).httpClient(http.MethodPost); got != own {
		t.Errorf("an injected HTTP client: got another; want it used as is")
	}
}

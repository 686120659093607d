package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/contactsync/contacthttp"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// TestTeamLimits drives the function's own router, limits and DynamoDB
// store: team A over its limit gets 429 while team B's calls succeed, and a
// second retry inside the cooldown gets 409.
func TestTeamLimits(t *testing.T) {
	t.Parallel()
	// 30 s into a minute: the minute's window has 30 s left.
	clk := &testClock{now: time.Date(2031, 5, 6, 7, 8, 30, 0, time.UTC)}
	w := newWorldAt(t, clk.Now)
	serve := func(team, method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		rec := w.serve(team, method, path, body)
		openapitest.Validate(t, method, path, rec.Code, rec.Body.Bytes())
		return rec
	}
	const retry, dedup, errorsPath = "/v1/salesforce/errors/retry", "/v1/salesforce/dedup-check", "/v1/salesforce/errors"

	// The cooldown: the same retry again is 409 with when it may run.
	if rec := serve("team_a", "POST", retry, `{"all":true}`); rec.Code != 200 {
		t.Fatalf("team A's first retry: got %d %s; want 200", rec.Code, rec.Body.String())
	}
	rec := serve("team_a", "POST", retry, `{"all":true}`)
	if rec.Code != 409 || rec.Header().Get("Retry-After") != "120" || !strings.Contains(rec.Body.String(), `"retry_after":120`) {
		t.Errorf("team A's second retry inside the cooldown: got %d Retry-After %q %s; want 409, Retry-After 120",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := serve("team_b", "POST", retry, `{"all":true}`); rec.Code != 200 {
		t.Errorf("team B's retry meanwhile: got %d %s; want 200", rec.Code, rec.Body.String())
	}

	// The retry route's limit: both calls above counted; the rest of the
	// minute's allowance goes to other selectors, then 429.
	n := contacthttp.RetryLimit.Limit.Requests
	for i := 2; i < n; i++ {
		if rec := serve("team_a", "POST", retry, fmt.Sprintf(`{"code":"CODE_%d"}`, i)); rec.Code != 200 {
			t.Fatalf("team A's retry %d of %d: got %d %s; want 200", i+1, n, rec.Code, rec.Body.String())
		}
	}
	rec = serve("team_a", "POST", retry, `{"code":"ONE_MORE"}`)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "30" || !strings.Contains(rec.Body.String(), `"code":"rate_limited"`) {
		t.Errorf("team A over the retry limit: got %d Retry-After %q %s; want 429 rate_limited, Retry-After 30",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := serve("team_b", "POST", retry, `{"code":"ANY"}`); rec.Code != 200 {
		t.Errorf("team B's retry while A is limited: got %d %s; want 200", rec.Code, rec.Body.String())
	}
	if rec := serve("team_a", "GET", errorsPath, ""); rec.Code != 200 {
		t.Errorf("team A's other routes while its retries are limited: got %d %s; want 200", rec.Code, rec.Body.String())
	}

	// The dedup check's limit, counted apart from the retries'.
	for i := range contacthttp.DedupLimit.Limit.Requests {
		if rec := serve("team_a", "POST", dedup, `{"emails":["a@acme.example"]}`); rec.Code == 429 {
			t.Fatalf("team A's dedup check %d: got 429; want it within the limit of %d", i+1, contacthttp.DedupLimit.Limit.Requests)
		}
	}
	if rec := serve("team_a", "POST", dedup, `{"emails":["a@acme.example"]}`); rec.Code != 429 {
		t.Errorf("team A over the dedup-check limit: got %d %s; want 429", rec.Code, rec.Body.String())
	}
	if rec := serve("team_b", "POST", dedup, `{"emails":["a@acme.example"]}`); rec.Code == 429 {
		t.Errorf("team B's dedup check while A is limited: got 429; want it served")
	}

	// The next minute refills; the cooldown still runs.
	clk.Add(30 * time.Second)
	if rec := serve("team_a", "POST", retry, `{"code":"ONE_MORE"}`); rec.Code != 200 {
		t.Errorf("team A's retry in the next minute: got %d %s; want 200", rec.Code, rec.Body.String())
	}
	if rec := serve("team_a", "POST", retry, `{"all":true}`); rec.Code != 409 || rec.Header().Get("Retry-After") != "90" {
		t.Errorf("team A's first retry again, 30 s later: got %d Retry-After %q; want 409, Retry-After 90", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestPurgeLimit: a team's disconnects (each a purge of its items) are
// limited to DisconnectLimit a minute; another team's are not counted with
// them.
func TestPurgeLimit(t *testing.T) {
	t.Parallel()
	clk := &testClock{now: time.Date(2031, 5, 6, 7, 8, 30, 0, time.UTC)}
	w := newWorldAt(t, clk.Now)
	const purge = "/v1/salesforce?purge=true"
	n := connecthttp.DisconnectLimit.Limit.Requests
	for i := range n {
		if rec := w.serve("team_a", "DELETE", purge, ""); rec.Code == 429 {
			t.Fatalf("team A's purge %d of %d: got 429; want it served", i+1, n)
		}
	}
	rec := w.serve("team_a", "DELETE", purge, "")
	openapitest.Validate(t, "DELETE", "/v1/salesforce", rec.Code, rec.Body.Bytes())
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), `"code":"rate_limited"`) {
		t.Errorf("team A's purge over the limit: got %d %s; want 429 rate_limited", rec.Code, rec.Body.String())
	}
	if rec := w.serve("team_b", "DELETE", purge, ""); rec.Code == 429 {
		t.Errorf("team B's purge while A is limited: got 429; want it served")
	}
}

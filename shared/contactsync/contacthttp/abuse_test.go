package contacthttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/contactsync/contacthttp"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/ratelimit"
)

// dedupOrg finds one email.
type dedupOrg struct{ contactsync.Org }

func (dedupOrg) Close(context.Context) error { return nil }

func (dedupOrg) FindByEmail(_ context.Context, emails []string) (map[string]ledger.Match, error) {
	return map[string]ledger.Match{"known@acme.example": {Object: event.ObjectContact, ID: "003000000000001AAA", Rule: "contact"}}, nil
}

type dedupOrgs struct{}

func (dedupOrgs) Open(context.Context, string) (contactsync.Org, delivery.Connection, error) {
	return dedupOrg{}, delivery.Connection{}, nil
}
func (dedupOrgs) RecordHold(context.Context, string, time.Time) error { return nil }

type dedupOn struct{}

func (dedupOn) TeamSettingsAt(context.Context, string, time.Time) (policy.TeamVersion, error) {
	return policy.TeamVersion{Document: policy.TeamSettings{Deduplication: true}}, nil
}

// TestDedupCheckNamesRecordsToAdminsOnly: a member learns whether an email
// exists; only an admin learns which record it is.
func TestDedupCheckNamesRecordsToAdminsOnly(t *testing.T) {
	t.Parallel()
	rt := httpapi.NewRouter()
	contacthttp.RegisterDedupCheck(rt, contacthttp.DedupDeps{Orgs: dedupOrgs{}, Settings: dedupOn{}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	for _, tt := range []struct {
		role       string
		wantRecord bool
	}{{"member", false}, {"", false}, {"Admin", false}, {"admin", true}} {
		req := httptest.NewRequest("POST", "/v1/salesforce/dedup-check", strings.NewReader(`{"emails":["Known@acme.example","new@acme.example"]}`))
		req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: "team_a", Role: tt.role, Subject: "u1"}))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("role %q: got %d %s; want 200", tt.role, rec.Code, rec.Body.String())
		}
		openapitest.Validate(t, "POST", "/v1/salesforce/dedup-check", rec.Code, rec.Body.Bytes())
		body := rec.Body.String()
		if !strings.Contains(body, `"status":"exists_in_salesforce"`) || !strings.Contains(body, `"status":"not_in_salesforce"`) {
			t.Errorf("role %q: got %s; want both statuses", tt.role, body)
		}
		if got := strings.Contains(body, "003000000000001AAA") || strings.Contains(body, `"salesforce"`); got != tt.wantRecord {
			t.Errorf("role %q: got the record shown %v (%s); want %v", tt.role, got, body, tt.wantRecord)
		}
	}
}

// retryLedger has one failed contact of team_a.
type retryLedger struct{ err error }

func (l retryLedger) Failures(_ context.Context, team string, _ int) ([]ledgerdb.FailureGroup, bool, error) {
	if l.err != nil {
		return nil, false, l.err
	}
	if team != "team_a" {
		return nil, true, nil
	}
	return []ledgerdb.FailureGroup{{Code: "REQUIRED_FIELD_MISSING", Count: 1, Failures: []ledgerdb.Failure{{Type: event.ContactOutcome,
		ContactID: "ct_1", EventID: "evt_1", SequenceID: "seq_1", Code: "REQUIRED_FIELD_MISSING", At: time.Unix(1700000000, 0)}}}}, true, nil
}

func (retryLedger) Memberships(_ context.Context, team string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error) {
	out := map[ledger.MemberKey]ledger.Membership{}
	for _, k := range keys {
		out[k] = ledger.Membership{TeamID: team, SequenceID: k.SequenceID, ContactID: k.ContactID, EventID: "evt_1",
			PinnedAt: time.Unix(1700000000, 0), Contact: event.Contact{ID: k.ContactID, Email: "a@acme.example"}}
	}
	return out, nil
}

// sentBatches records what the route sends.
type sentBatches struct {
	mu      sync.Mutex
	entries []string // MessageGroupId of each entry
}

func (s *sentBatches) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range in.Entries {
		s.entries = append(s.entries, aws.ToString(e.MessageGroupId))
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

func TestRetryCooldown(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	sent := &sentBatches{}
	rt := httpapi.NewRouter()
	contacthttp.RegisterRetry(rt, contacthttp.RetryDeps{Ledger: retryLedger{}, SQS: sent, QueueURL: "q",
		Cooldown: &ratelimit.Cooldown{Marks: ratelimit.NewMemory(), Period: contacthttp.RetryCooldown, Now: clk.Now},
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil))})
	steps := []struct {
		name      string
		at        time.Duration
		team      string
		body      string
		wantCode  int
		wantAfter string // Retry-After
	}{
		{"a retry by code", 0, "team_a", `{"code":"REQUIRED_FIELD_MISSING"}`, 200, ""},
		{"the same code 30 s later", 30 * time.Second, "team_a", `{"code":"REQUIRED_FIELD_MISSING"}`, 409, "90"},
		{"another code", 30 * time.Second, "team_a", `{"code":"INVALID_EMAIL_ADDRESS"}`, 200, ""},
		{"all", 31 * time.Second, "team_a", `{"all":true}`, 200, ""},
		{"all again", 31*time.Second + 200*time.Millisecond, "team_a", `{"all":true}`, 409, "120"},
		{"the same code as another team", 40 * time.Second, "team_b", `{"code":"REQUIRED_FIELD_MISSING"}`, 200, ""},
		{"contacts", 41 * time.Second, "team_a", `{"contact_ids":["ct_1","ct_2"]}`, 200, ""},
		{"the same contacts in another order, repeated", 42 * time.Second, "team_a", `{"contact_ids":["ct_2","ct_1","ct_2"]}`, 409, "119"},
		{"other contacts", 42 * time.Second, "team_a", `{"contact_ids":["ct_1"]}`, 200, ""},
		{"a bad request is not a retry", 43 * time.Second, "team_a", `{"code":""}`, 400, ""},
		{"the first code once the cooldown ran out", 2 * time.Minute, "team_a", `{"code":"REQUIRED_FIELD_MISSING"}`, 200, ""},
	}
	for _, st := range steps {
		clk.Set(t0.Add(st.at))
		req := httptest.NewRequest("POST", "/v1/salesforce/errors/retry", strings.NewReader(st.body))
		req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: st.team, Role: "admin", Subject: "u1"}))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code != st.wantCode || rec.Header().Get("Retry-After") != st.wantAfter {
			t.Errorf("%s: got %d Retry-After %q %s; want %d Retry-After %q", st.name, rec.Code, rec.Header().Get("Retry-After"), rec.Body.String(), st.wantCode, st.wantAfter)
			continue
		}
		openapitest.Validate(t, "POST", "/v1/salesforce/errors/retry", rec.Code, rec.Body.Bytes())
		if rec.Code == 409 {
			var body struct {
				Error httpapi.ErrorDetail `json:"error"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if body.Error.Code != "retry_too_soon" || body.Error.RetryAfter == 0 || !strings.Contains(body.Error.Message, "may run again at") {
				t.Errorf("%s: got %s; want retry_too_soon with retry_after and when", st.name, rec.Body.String())
			}
		}
	}
	for i, g := range sent.entries {
		if g != "team_a" {
			t.Errorf("message %d: got MessageGroupId %q; want team_a", i, g)
		}
	}
	if len(sent.entries) != 5 {
		t.Errorf("messages sent: got %d; want 5 (one per retry of team_a that found ct_1)", len(sent.entries))
	}
}

// TestFailedRetryCanRunAgain: a retry that failed before sending anything
// leaves no cooldown behind.
func TestFailedRetryCanRunAgain(t *testing.T) {
	t.Parallel()
	marks := ratelimit.NewMemory()
	cool := &ratelimit.Cooldown{Marks: marks, Period: contacthttp.RetryCooldown}
	serve := func(ledger retryLedger) int {
		rt := httpapi.NewRouter()
		contacthttp.RegisterRetry(rt, contacthttp.RetryDeps{Ledger: ledger, SQS: &sentBatches{}, QueueURL: "q", Cooldown: cool,
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		req := httptest.NewRequest("POST", "/v1/salesforce/errors/retry", strings.NewReader(`{"all":true}`))
		req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: "team_a", Role: "admin"}))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		return rec.Code
	}
	if got := serve(retryLedger{err: errors.New("ledger down")}); got != 500 {
		t.Fatalf("a retry whose ledger read fails: got %d; want 500", got)
	}
	if got := serve(retryLedger{}); got != 200 {
		t.Errorf("the same retry after a failure: got %d; want 200", got)
	}
	if got := serve(retryLedger{}); got != 409 {
		t.Errorf("the same retry after a success: got %d; want 409", got)
	}
}

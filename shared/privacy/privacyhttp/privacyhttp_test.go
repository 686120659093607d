package privacyhttp_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/privacy/privacyhttp"
	"github.com/sfsync/sfsync/shared/privacy/privacytest"
	"github.com/sfsync/sfsync/shared/salesforce"
)

var at = time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)

type api struct {
	t     *testing.T
	rt    *httpapi.Router
	store *privacytest.Memory
	orgs  *privacytest.Orgs
}

func newAPI(t *testing.T) *api {
	t.Helper()
	a := &api{t: t, rt: httpapi.NewRouter(), store: privacytest.NewMemory(), orgs: privacytest.NewOrgs()}
	privacyhttp.Register(a.rt, privacyhttp.Deps{Logger: slog.New(slog.DiscardHandler), Erasures: &privacy.Eraser{
		Store: a.store, Orgs: a.orgs, Receipts: privacytest.NewReceipts(), Now: func() time.Time { return at }}})
	return a
}

// call serves a request as team's role (no claims when team is ""),
// checks the answer against the OpenAPI document and returns it.
func (a *api) call(team, role, method, path, route, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if team != "" {
		req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: role, Subject: "u-" + team}))
	}
	rec := httptest.NewRecorder()
	a.rt.ServeHTTP(rec, req)
	openapitest.Validate(a.t, method, route, rec.Code, rec.Body.Bytes())
	return rec
}

func (a *api) erase(team, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.call(team, "admin", "POST", "/v1/privacy/erasures", "/v1/privacy/erasures", body)
}

func (a *api) seed(team string) {
	a.t.Helper()
	privacytest.Seed(a.t, a.store, team, privacytest.Person{Contact: "ct_ada", Email: "ada@example.com", ClaimedEmail: "ada.l@example.com",
		LeadID: "00Q000000000001AAA", TaskID: "00T000000000001AAA"})
}

type errorBody struct {
	Error httpapi.ErrorDetail `json:"error"`
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) httpapi.ErrorDetail {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %s: %v", rec.Body, err)
	}
	return e.Error
}

// TestEraseAndReadTheReceipt: an admin's erasure answers 201 with the
// receipt and its Location; the receipt reads back the same, names
// neither the email nor the contact, and holds every count.
func TestEraseAndReadTheReceipt(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.seed("team_a")
	org := a.orgs.Connect("team_a")
	org.Seed("Lead", "00Q000000000001AAA")
	org.Seed("Task", "00T000000000001AAA")
	rec := a.erase("team_a", `{"email":"Ada@Example.com","contact_id":"ct_ada","salesforce":"delete"}`)
	if rec.Code != 201 {
		t.Fatalf("erase: got %d %s; want 201", rec.Code, rec.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	id, _ := got["id"].(string)
	if !privacy.ValidReceiptID(id) || rec.Header().Get("Location") != "/v1/privacy/erasures/"+id {
		t.Errorf("erase: got id %q, Location %q; want a receipt id and its path", id, rec.Header().Get("Location"))
	}
	wantCounts := `{"activities":1,"bounces":1,"failures":1,"held_events":2,"memberships":2,"optouts":1,"outcomes":5,"records":2,"salesforce_already_deleted":0,"salesforce_deleted":2,"salesforce_kept":0}`
	if c, _ := json.Marshal(got["counts"]); string(c) != wantCounts {
		t.Errorf("counts: got %s; want %s", c, wantCounts)
	}
	if got["at"] != "2026-12-07T09:30:00Z" || got["salesforce"] != "delete" || fmt.Sprint(got["salesforce_refused"]) != "[]" {
		t.Errorf("receipt: got %s", rec.Body)
	}
	for _, secret := range []string{"ada@", "Ada@", "ct_ada", "team_a"} {
		if strings.Contains(rec.Body.String(), secret) {
			t.Errorf("receipt: got %q in %s; want it named by hashes only", secret, rec.Body)
		}
	}
	read := a.call("team_a", "admin", "GET", "/v1/privacy/erasures/"+id, "/v1/privacy/erasures/{id}", "")
	if read.Code != 200 || read.Body.String() != rec.Body.String() {
		t.Errorf("read: got %d %s; want 200 %s", read.Code, read.Body, rec.Body)
	}
	if org.Has("00Q000000000001AAA") || org.Has("00T000000000001AAA") {
		t.Errorf("org: got the Lead or its Task kept; want both deleted")
	}
}

// TestAnotherTeamCannotReachTheReceiptOrThePerson: team b's admin, with
// team a's receipt id, contact id and email, reads nothing and erases
// nothing of team a's.
func TestAnotherTeamCannotReachTheReceiptOrThePerson(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.seed("team_a")
	before := a.store.Kinds("team_a")
	first := a.erase("team_a", `{"email":"nobody@example.com"}`)
	var rc struct{ ID string }
	_ = json.Unmarshal(first.Body.Bytes(), &rc)
	rec := a.call("team_b", "admin", "GET", "/v1/privacy/erasures/"+rc.ID, "/v1/privacy/erasures/{id}", "")
	if e := decodeError(t, rec); rec.Code != 404 || e.Code != "not_found" {
		t.Errorf("team b reads team a's receipt: got %d %s; want 404 not_found", rec.Code, rec.Body)
	}
	rec = a.erase("team_b", `{"email":"ada@example.com","contact_id":"ct_ada"}`)
	var zero struct {
		Counts privacy.Counts `json:"counts"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &zero)
	if rec.Code != 201 || zero.Counts != (privacy.Counts{}) {
		t.Errorf("team b erases team a's person: got %d %s; want 201 with zero counts", rec.Code, rec.Body)
	}
	if after := a.store.Kinds("team_a"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("team a's items: got %v; want %v as before", after, before)
	}
}

func TestEraseAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		team   string
		role   string
		setup  func(a *api)
		body   string
		status int
		code   string
		field  string
		retry  string
	}{
		{name: "no token", body: `{"email":"a@example.com"}`, status: 401, code: "unauthorized"},
		{name: "a member", role: "member", body: `{"email":"a@example.com"}`, status: 403, code: "forbidden"},
		{name: "no identifier", body: `{}`, status: 400, code: "invalid_request", field: "email"},
		{name: "salesforce only", body: `{"salesforce":"delete"}`, status: 400, code: "invalid_request", field: "email"},
		{name: "a bad email", body: `{"email":"ada at example"}`, status: 400, code: "invalid_request", field: "email"},
		{name: "an empty email", body: `{"email":"","contact_id":"ct_1"}`, status: 400, code: "invalid_request", field: "email"},
		{name: "a bad contact id", body: `{"contact_id":"ct#1"}`, status: 400, code: "invalid_request", field: "contact_id"},
		{name: "a number for a contact id", body: `{"contact_id":12}`, status: 400, code: "invalid_request", field: "contact_id"},
		{name: "an unknown mode", body: `{"email":"a@example.com","salesforce":"purge"}`, status: 400, code: "invalid_request", field: "salesforce"},
		{name: "an empty mode", body: `{"email":"a@example.com","salesforce":""}`, status: 400, code: "invalid_request", field: "salesforce"},
		{name: "an unknown field", body: `{"email":"a@example.com","team_id":"team_b"}`, status: 400, code: "invalid_request", field: "team_id"},
		{name: "keep by default", body: `{"contact_id":"ct_1"}`, status: 201},
		{name: "delete, not connected", body: `{"email":"a@example.com","salesforce":"delete"}`, status: 409, code: "not_connected", field: "salesforce"},
		{name: "delete, the budget spent", setup: func(a *api) { a.orgs.Connect("team_a").Budget = fmt.Errorf("team_a: %w", budget.ErrCapped) },
			body: `{"email":"ada@example.com","salesforce":"delete"}`, status: 429, code: "api_budget_spent", retry: "3600"},
		{name: "delete, the org's limit spent", setup: func(a *api) {
			o := a.orgs.Connect("team_a")
			o.FailCall, o.FailErr = 1, fmt.Errorf("composite: %w", salesforce.ErrRequestLimit)
		}, body: `{"email":"ada@example.com","salesforce":"delete"}`, status: 429, code: "api_limit", retry: "3600"},
		{name: "delete, Salesforce down", setup: func(a *api) {
			o := a.orgs.Connect("team_a")
			o.FailCall, o.FailErr = 1, fmt.Errorf("composite: %w", salesforce.ErrTransient)
		}, body: `{"email":"ada@example.com","salesforce":"delete"}`, status: 502, code: "salesforce_unavailable"},
		{name: "the store fails", setup: func(a *api) { a.store.Fail = fmt.Errorf("table gone") }, body: `{"email":"ada@example.com"}`, status: 500, code: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			a.seed("team_a")
			if tt.setup != nil {
				tt.setup(a)
			}
			before := a.store.Kinds("team_a")
			team, role := "team_a", "admin"
			if tt.name == "no token" {
				team = ""
			}
			if tt.role != "" {
				role = tt.role
			}
			rec := a.call(team, role, "POST", "/v1/privacy/erasures", "/v1/privacy/erasures", tt.body)
			if rec.Code != tt.status {
				t.Fatalf("got %d %s; want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.status == 201 {
				return
			}
			e := decodeError(t, rec)
			if e.Code != tt.code || e.Field != tt.field {
				t.Errorf("got code %q field %q (%s); want %q, %q", e.Code, e.Field, e.Message, tt.code, tt.field)
			}
			if rec.Header().Get("Retry-After") != tt.retry {
				t.Errorf("Retry-After: got %q; want %q", rec.Header().Get("Retry-After"), tt.retry)
			}
			a.store.Fail = nil
			if after := a.store.Kinds("team_a"); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("items: got %v; want %v (nothing deleted)", after, before)
			}
		})
	}
}

func TestReceiptAnswers(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, tt := range []struct {
		name, team, role, id string
		status               int
		code                 string
	}{
		{"a member", "team_a", "member", privacy.NewReceiptID(), 403, "forbidden"},
		{"an unknown id", "team_a", "admin", privacy.NewReceiptID(), 404, "not_found"},
		{"a malformed id", "team_a", "admin", "era_x", 400, "invalid_request"},
		{"no token", "", "", privacy.NewReceiptID(), 401, "unauthorized"},
	} {
		rec := a.call(tt.team, tt.role, "GET", "/v1/privacy/erasures/"+tt.id, "/v1/privacy/erasures/{id}", "")
		if e := decodeError(t, rec); rec.Code != tt.status || e.Code != tt.code {
			t.Errorf("%s: got %d %s; want %d %s", tt.name, rec.Code, rec.Body, tt.status, tt.code)
		}
	}
}

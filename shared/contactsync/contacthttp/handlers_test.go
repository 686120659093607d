package contacthttp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/contactsync/contacthttp"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

func TestMain(m *testing.M) {
	code := run(m)
	motoserver.StopShared()
	os.Exit(code)
}

func run(m *testing.M) int {
	endpoint, err := motoserver.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, "moto:", err)
		return 1
	}
	if awsCfg, err = motoserver.AWSConfig(context.Background(), endpoint); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

type api struct {
	t      *testing.T
	rt     *httpapi.Router
	ledger *ledgerdb.Store
	logs   *bytes.Buffer
}

func newAPI(t *testing.T) *api {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prov, err := runner.Provision(context.Background(), awsCfg, "contacthttp-"+hex.EncodeToString(b), runner.ProvisionOptions{ClientSecret: "x"})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	store := ledgerdb.New(dynamodb.NewFromConfig(awsCfg), prov.Env[resources.EnvLedgerTable])
	rt := httpapi.NewRouter()
	logs := &bytes.Buffer{}
	contacthttp.Register(rt, contacthttp.Deps{Ledger: store, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	return &api{t: t, rt: rt, ledger: store, logs: logs}
}

// get serves a GET as team (no claims when team is ""), checks the answer
// against the OpenAPI document and decodes it into v (when not nil).
func (a *api) get(team, path, route string, v any) (int, string) {
	a.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if team != "" {
		req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: "member", Subject: "u1"}))
	}
	rec := httptest.NewRecorder()
	a.rt.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	openapitest.Validate(a.t, "GET", route, rec.Code, body)
	if v != nil && rec.Code == 200 {
		if err := json.Unmarshal(body, v); err != nil {
			a.t.Fatalf("decode %s: %v", body, err)
		}
	}
	return rec.Code, string(body)
}

const (
	contactRoute = "/v1/contacts/{contact_id}/salesforce"
	errorsRoute  = "/v1/salesforce/errors"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func out(team, eventID, contact string, typ event.OutcomeType, status event.Status, at time.Time) event.Outcome {
	o := event.Outcome{ID: "out_" + eventID, Type: typ, Version: event.Version, TeamID: team, EventID: eventID,
		ContactID: contact, SequenceID: "seq_1", Status: status, At: at}
	switch status {
	case event.StatusCreated, event.StatusLinked:
		o.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	case event.StatusPending:
		o.Reason = event.ReasonAwaitingReply
	}
	return o
}

func failed(team, eventID, contact, code string, at time.Time) event.Outcome {
	o := out(team, eventID, contact, event.ContactOutcome, event.StatusFailed, at)
	o.Error = &event.OutcomeError{Code: code, Message: code + " on " + contact, Fields: []string{"Email"}}
	return o
}

func TestContactRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	rec := ledger.Record{TeamID: "team_a", Email: "Ada@Example.com", Object: event.ObjectLead, ID: "00Q000000000001AAA",
		Status: event.StatusCreated, PolicyVersion: 2, MappingVersion: 3, SyncedAt: t0.Add(time.Second), EventID: "evt_2", ContactID: "ct_1"}
	if err := a.ledger.Claim(ctx, "team_a", rec.Email, "evt_2", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.ledger.SaveRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// The record is the contact's through its membership of the email,
	// which its outcomes name (seq_1).
	if _, err := a.ledger.PinMembership(ctx, ledger.Membership{TeamID: "team_a", SequenceID: "seq_1", ContactID: "ct_1", Email: "ada@example.com",
		Contact: event.Contact{ID: "ct_1", Email: "ada@example.com"}, PinnedAt: t0, EventID: "evt_1", Status: ledger.MemberPending,
		Reason: event.ReasonAwaitingReply}); err != nil {
		t.Fatal(err)
	}
	outs := []event.Outcome{
		out("team_a", "evt_1", "ct_1", event.ContactOutcome, event.StatusPending, t0),
		out("team_a", "evt_2", "ct_1", event.ContactOutcome, event.StatusCreated, t0.Add(time.Second)),
		out("team_a", "evt_pending_only", "ct_2", event.ContactOutcome, event.StatusPending, t0),
		out("team_b", "evt_9", "ct_b", event.ContactOutcome, event.StatusCreated, t0),
	}
	for i := range 105 {
		outs = append(outs, out("team_a", fmt.Sprintf("evt_many_%03d", i), "ct_many", event.ActivityOutcome, event.StatusPending, t0.Add(time.Duration(i)*time.Second)))
	}
	if err := a.ledger.RecordOutcomes(ctx, outs); err != nil {
		t.Fatal(err)
	}

	var got contacthttp.ContactJSON
	if code, body := a.get("team_a", "/v1/contacts/ct_1/salesforce", contactRoute, &got); code != 200 {
		t.Fatalf("got %d %s; want 200", code, body)
	}
	wantRecords := []contacthttp.RecordJSON{{Email: "ada@example.com", Object: event.ObjectLead, ID: "00Q000000000001AAA",
		Status: event.StatusCreated, MappingVersion: 3, PolicyVersion: 2, SyncedAt: t0.Add(time.Second), EventID: "evt_2"}}
	if !reflect.DeepEqual(got.Records, wantRecords) {
		t.Errorf("records: got %+v; want %+v", got.Records, wantRecords)
	}
	if len(got.Outcomes) != 2 || got.Outcomes[0].EventID != "evt_2" || got.Outcomes[1].EventID != "evt_1" || got.OutcomesTruncated {
		t.Errorf("outcomes: got %+v truncated=%v; want evt_2 then evt_1, complete", got.Outcomes, got.OutcomesTruncated)
	}

	var many contacthttp.ContactJSON
	a.get("team_a", "/v1/contacts/ct_many/salesforce", contactRoute, &many)
	if len(many.Outcomes) != 100 || !many.OutcomesTruncated || many.Outcomes[0].EventID != "evt_many_104" || many.OutcomesLimit != 100 {
		t.Errorf("a contact with 105 outcomes: got %d, truncated=%v, newest %q; want the newest 100, truncated, evt_many_104",
			len(many.Outcomes), many.OutcomesTruncated, many.Outcomes[0].EventID)
	}

	long := strings.Repeat("c", 129)
	tests := []struct {
		name       string
		team       string
		path       string
		wantCode   int
		wantInBody string
	}{
		{"a contact with outcomes only", "team_a", "/v1/contacts/ct_2/salesforce", 200, `"records":[]`},
		{"an unknown contact", "team_a", "/v1/contacts/ct_unknown/salesforce", 404, `"field":"contact_id"`},
		{"team B never sees team A's contact", "team_b", "/v1/contacts/ct_1/salesforce", 404, `"code":"not_found"`},
		{"team A never sees team B's contact", "team_a", "/v1/contacts/ct_b/salesforce", 404, `"code":"not_found"`},
		{"team B sees its own", "team_b", "/v1/contacts/ct_b/salesforce", 200, `"evt_9"`},
		{"a # in the id", "team_a", "/v1/contacts/ct%231/salesforce", 400, `"field":"contact_id"`},
		{"a space in the id", "team_a", "/v1/contacts/ct%201/salesforce", 400, `"field":"contact_id"`},
		{"an id starting with a dot", "team_a", "/v1/contacts/.ct/salesforce", 400, `"field":"contact_id"`},
		{"an id of 129 characters", "team_a", "/v1/contacts/" + long + "/salesforce", 400, `"field":"contact_id"`},
		{"an id of 128 characters", "team_a", "/v1/contacts/" + long[:128] + "/salesforce", 404, `"code":"not_found"`},
		{"no claims", "", "/v1/contacts/ct_1/salesforce", 401, `"code":"unauthorized"`},
	}
	for _, tt := range tests {
		code, body := a.get(tt.team, tt.path, contactRoute, nil)
		if code != tt.wantCode || !strings.Contains(body, tt.wantInBody) {
			t.Errorf("%s: got %d %s; want %d containing %s", tt.name, code, body, tt.wantCode, tt.wantInBody)
		}
	}
}

func TestErrorsRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	outs := []event.Outcome{
		failed("team_a", "e1", "ct_1", "INVALID_EMAIL_ADDRESS", t0),
		failed("team_a", "e2", "ct_2", "INVALID_EMAIL_ADDRESS", t0.Add(time.Second)),
		failed("team_a", "e3", "ct_3", "FIELD_CUSTOM_VALIDATION_EXCEPTION", t0),
		failed("team_a", "e4", "ct_4", "SOME_NEW_CODE", t0),
		failed("team_b", "e5", "ct_5", "DUPLICATES_DETECTED", t0),
	}
	for i := range 103 {
		outs = append(outs, failed("team_a", fmt.Sprintf("req_%03d", i), fmt.Sprintf("ct_r%03d", i), "REQUIRED_FIELD_MISSING", t0.Add(time.Duration(i)*time.Second)))
	}
	if err := a.ledger.RecordOutcomes(ctx, outs); err != nil {
		t.Fatal(err)
	}
	var got contacthttp.ErrorsJSON
	if code, body := a.get("team_a", "/v1/salesforce/errors", errorsRoute, &got); code != 200 {
		t.Fatalf("got %d %s; want 200", code, body)
	}
	type summary struct {
		Code      string
		Count     int
		Listed    int
		Truncated bool
		First     string
	}
	var sums []summary
	for _, g := range got.Groups {
		sums = append(sums, summary{g.Code, g.Count, len(g.Contacts), g.ContactsTruncated, g.Contacts[0].ContactID})
		if g.Hint == "" || g.ContactsLimit != 100 {
			t.Errorf("group %s: got hint %q, limit %d; want a hint and limit 100", g.Code, g.Hint, g.ContactsLimit)
		}
		if g.Hint != contacthttp.Hint(g.Code) {
			t.Errorf("group %s: got hint %q; want %q", g.Code, g.Hint, contacthttp.Hint(g.Code))
		}
	}
	want := []summary{
		{"REQUIRED_FIELD_MISSING", 103, 100, true, "ct_r102"},
		{"INVALID_EMAIL_ADDRESS", 2, 2, false, "ct_2"},
		{"FIELD_CUSTOM_VALIDATION_EXCEPTION", 1, 1, false, "ct_3"},
		{"SOME_NEW_CODE", 1, 1, false, "ct_4"},
	}
	if !reflect.DeepEqual(sums, want) || !got.Complete {
		t.Errorf("groups: got %+v complete=%v; want %+v complete", sums, got.Complete, want)
	}
	first := got.Groups[1].Contacts[0]
	wantFirst := contacthttp.FailedContactJSON{ContactID: "ct_2", EventID: "e2", Type: event.ContactOutcome, SequenceID: "seq_1",
		Message: "INVALID_EMAIL_ADDRESS on ct_2", Fields: []string{"Email"}, At: t0.Add(time.Second)}
	if !reflect.DeepEqual(first, wantFirst) {
		t.Errorf("newest INVALID_EMAIL_ADDRESS: got %+v; want %+v", first, wantFirst)
	}

	// A later success clears the contact's failure from the list.
	if err := a.ledger.RecordOutcomes(ctx, []event.Outcome{out("team_a", "e6", "ct_3", event.ContactOutcome, event.StatusLinked, t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	var after contacthttp.ErrorsJSON
	a.get("team_a", "/v1/salesforce/errors", errorsRoute, &after)
	for _, g := range after.Groups {
		if g.Code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
			t.Errorf("after ct_3 synced: got its group %+v; want it gone", g)
		}
	}

	var b contacthttp.ErrorsJSON
	a.get("team_b", "/v1/salesforce/errors", errorsRoute, &b)
	if len(b.Groups) != 1 || b.Groups[0].Code != "DUPLICATES_DETECTED" || b.Groups[0].Contacts[0].ContactID != "ct_5" {
		t.Errorf("team_b's errors: got %+v; want only its DUPLICATES_DETECTED of ct_5", b.Groups)
	}
	var empty contacthttp.ErrorsJSON
	if code, body := a.get("team_c", "/v1/salesforce/errors", errorsRoute, &empty); code != 200 || !strings.Contains(body, `"groups":[]`) {
		t.Errorf("a team without errors: got %d %s; want 200 with no groups", code, body)
	}
	if code, body := a.get("", "/v1/salesforce/errors", errorsRoute, nil); code != 401 {
		t.Errorf("no claims: got %d %s; want 401", code, body)
	}
}

func TestHints(t *testing.T) {
	t.Parallel()
	codes := []string{"REQUIRED_FIELD_MISSING", "INVALID_EMAIL_ADDRESS", "STRING_TOO_LONG", "FIELD_CUSTOM_VALIDATION_EXCEPTION",
		"INVALID_FIELD", "DUPLICATES_DETECTED", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "CANNOT_UPDATE_CONVERTED_LEAD"}
	fallback := contacthttp.Hint("NOT_A_KNOWN_CODE")
	seen := map[string]string{}
	for _, c := range codes {
		h := contacthttp.Hint(c)
		if h == "" || h == fallback {
			t.Errorf("Hint(%s): got %q; want its own hint", c, h)
		}
		if other, dup := seen[h]; dup {
			t.Errorf("Hint(%s): got the hint of %s; want a distinct one", c, other)
		}
		seen[h] = c
	}
	if fallback == "" {
		t.Errorf("Hint of an unknown code: got empty; want the default hint")
	}
}

func TestLedgerFailureIsA500WithoutDetails(t *testing.T) {
	t.Parallel()
	// A ledger on a table that does not exist: every read fails.
	store := ledgerdb.New(dynamodb.NewFromConfig(awsCfg), "no-such-table-"+fmt.Sprint(time.Now().UnixNano()))
	rt := httpapi.NewRouter()
	logs := &bytes.Buffer{}
	contacthttp.Register(rt, contacthttp.Deps{Ledger: store, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	a := &api{t: t, rt: rt, ledger: store, logs: logs}
	for _, p := range []struct{ path, route string }{{"/v1/contacts/ct_1/salesforce", contactRoute}, {"/v1/salesforce/errors", errorsRoute}} {
		code, body := a.get("team_a", p.path, p.route, nil)
		if code != 500 || strings.Contains(body, "no-such-table") || !strings.Contains(body, `"code":"internal"`) {
			t.Errorf("%s: got %d %s; want 500 internal without the table's name", p.path, code, body)
		}
	}
	if n := strings.Count(logs.String(), "ledger read failed"); n != 2 {
		t.Errorf("log lines: got %d; want 2 (one per failed request)\n%s", n, logs.String())
	}
}

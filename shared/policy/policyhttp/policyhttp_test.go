package policyhttp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/policy/policyhttp"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) {
		db = dynamodb.NewFromConfig(cfg)
	}))
}

func createTable(t *testing.T, name string) {
	t.Helper()
	err := motoserver.CreateTable(context.Background(), db, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
}

// api is the settings API on fresh tables, driven through httpapi.Router.
type api struct {
	t      *testing.T
	rt     *httpapi.Router
	ledger string
	store  *policydb.Store
	// ledgerQueries counts the store's queries of the ledger table.
	ledgerQueries *atomic.Int64
}

// countingDB counts the queries of one table.
type countingDB struct {
	policydb.API
	table string
	n     *atomic.Int64
}

func (c countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if aws.ToString(in.TableName) == c.table {
		c.n.Add(1)
	}
	return c.API.Query(ctx, in, opts...)
}

func newAPI(t *testing.T) *api { return newAPIWith(t, nil) }

// newAPIWith is newAPI checking fallback users with users (nil: no check).
func newAPIWith(t *testing.T, users policyhttp.UserChecker) *api {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	sfx := hex.EncodeToString(b)
	pol, led := "policies-"+sfx, "ledger-"+sfx
	createTable(t, pol)
	createTable(t, led)
	rt := httpapi.NewRouter()
	queries := new(atomic.Int64)
	store := policydb.New(countingDB{API: db, table: led, n: queries}, pol, led)
	policyhttp.Register(rt, policyhttp.Deps{Store: store, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Users: users})
	return &api{t: t, rt: rt, ledger: led, store: store, ledgerQueries: queries}
}

var (
	adminA  = &httpapi.Claims{Subject: "admin_a", TeamID: "team_a", Role: httpapi.RoleAdmin}
	memberA = &httpapi.Claims{Subject: "rep_a", TeamID: "team_a", Role: "member"}
	adminB  = &httpapi.Claims{Subject: "admin_b", TeamID: "team_b", Role: httpapi.RoleAdmin}
)

type response struct {
	status int
	etag   string
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return m
}

func (r response) errorField(t *testing.T) (field, message string) {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	f, _ := e["field"].(string)
	m, _ := e["message"].(string)
	return f, m
}

// do sends one request as claims (nil: no token) and checks the answer
// against the OpenAPI document for route (the declared template).
func (a *api) do(claims *httpapi.Claims, method, path, route, ifMatch, body string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	req = req.WithContext(httpapi.WithClaims(req.Context(), claims))
	rec := httptest.NewRecorder()
	a.rt.ServeHTTP(rec, req)
	openapitest.Validate(a.t, method, route, rec.Code, rec.Body.Bytes())
	return response{status: rec.Code, etag: rec.Header().Get("ETag"), body: rec.Body.Bytes()}
}

const (
	settingsPath = "/v1/salesforce/settings"
	historyPath  = "/v1/salesforce/settings/history"
	seqRoute     = "/v1/sequences/{sequence_id}/salesforce"
	seqHistRoute = "/v1/sequences/{sequence_id}/salesforce/history"
	goodSettings = `{"sync_as":"contact","sync_mode":"on_reply","deduplication":false,"activity_tracking":true,"activity_kinds":{"opened":true}}`
)

func TestTeamSettingsLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	r := a.do(adminA, "GET", settingsPath, settingsPath, "", "")
	if r.status != 200 || r.etag != `"0"` {
		t.Fatalf("got %d ETag %s; want 200 \"0\"", r.status, r.etag)
	}
	s := r.json(t)["settings"].(map[string]any)
	if s["sync_as"] != "lead" || s["sync_mode"] != "on_add" || s["deduplication"] != true || s["activity_tracking"] != true {
		t.Errorf("got defaults %v; want lead, on_add, true, true", s)
	}

	if r = a.do(adminA, "PUT", settingsPath, settingsPath, "", goodSettings); r.status != 428 {
		t.Errorf("got %d without If-Match; want 428", r.status)
	}
	if f, _ := r.errorField(t); f != "If-Match" {
		t.Errorf("got field %q; want If-Match", f)
	}
	if r = a.do(adminA, "PUT", settingsPath, settingsPath, "3 ", goodSettings); r.status != 400 {
		t.Errorf("got %d for a malformed If-Match; want 400", r.status)
	}
	r = a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, goodSettings)
	if r.status != 200 || r.etag != `"1"` {
		t.Fatalf("got %d ETag %s body %s; want 200 \"1\"", r.status, r.etag, r.body)
	}
	body := r.json(t)
	if body["updated_by"] != "admin_a" {
		t.Errorf("got updated_by %v; want admin_a", body["updated_by"])
	}
	kinds := body["settings"].(map[string]any)["activity_kinds"].(map[string]any)
	if kinds["opened"] != true || kinds["sent"] != true || kinds["clicked"] != false {
		t.Errorf("got kinds %v; want opened on, sent on (default), clicked off (default)", kinds)
	}

	// Stale version: 412 with the current ETag, nothing written.
	r = a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, `{"sync_as":"lead","sync_mode":"off","deduplication":true,"activity_tracking":true}`)
	if r.status != 412 || r.etag != `"1"` {
		t.Errorf("got %d ETag %s; want 412 \"1\"", r.status, r.etag)
	}
	// A weak tag never matches.
	if r = a.do(adminA, "PUT", settingsPath, settingsPath, `W/"1"`, goodSettings); r.status != 412 {
		t.Errorf("got %d for a weak If-Match; want 412", r.status)
	}
	// * writes on top of whatever is current.
	if r = a.do(adminA, "PUT", settingsPath, settingsPath, "*", `{"sync_as":"lead","sync_mode":"off","deduplication":true,"activity_tracking":true}`); r.status != 200 || r.etag != `"2"` {
		t.Errorf("got %d ETag %s for If-Match *; want 200 \"2\"", r.status, r.etag)
	}

	// A member may read but not write.
	if r = a.do(memberA, "GET", settingsPath, settingsPath, "", ""); r.status != 200 || r.etag != `"2"` {
		t.Errorf("got %d ETag %s for a member's GET; want 200 \"2\"", r.status, r.etag)
	}
	if r = a.do(memberA, "PUT", settingsPath, settingsPath, `"2"`, goodSettings); r.status != 403 {
		t.Errorf("got %d for a member's PUT; want 403", r.status)
	}
	if r = a.do(nil, "GET", settingsPath, settingsPath, "", ""); r.status != 401 {
		t.Errorf("got %d without a token; want 401", r.status)
	}

	// History, newest first, paged.
	r = a.do(adminA, "GET", historyPath+"?limit=1", historyPath, "", "")
	h := r.json(t)
	vs := h["versions"].([]any)
	if r.status != 200 || len(vs) != 1 || vs[0].(map[string]any)["version"] != 2.0 || h["next_before"] != 2.0 {
		t.Fatalf("got %d %s; want version 2 and next_before 2", r.status, r.body)
	}
	r = a.do(adminA, "GET", historyPath+"?limit=5&before=2", historyPath, "", "")
	h = r.json(t)
	vs = h["versions"].([]any)
	if len(vs) != 1 || vs[0].(map[string]any)["version"] != 1.0 || h["next_before"] != nil {
		t.Errorf("got %s; want only version 1 and no next_before", r.body)
	}
	for _, q := range []struct{ query, field string }{{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=x", "limit"}, {"before=0", "before"}, {"before=-1", "before"}} {
		r = a.do(adminA, "GET", historyPath+"?"+q.query, historyPath, "", "")
		if f, _ := r.errorField(t); r.status != 400 || f != q.field {
			t.Errorf("?%s: got %d field %q; want 400 naming %s", q.query, r.status, f, q.field)
		}
	}
}

func TestBadSettingsRejectedAndNothingChanges(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if r := a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, goodSettings); r.status != 200 {
		t.Fatalf("got %d; want 200", r.status)
	}
	before := a.do(adminA, "GET", settingsPath, settingsPath, "", "")
	tests := []struct {
		name, body, field, allowed string
	}{
		{"unknown field", `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"colour":"red"}`, "colour", "unknown field"},
		{"team in body", `{"team_id":"team_b","sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true}`, "team_id", "unknown field"},
		{"sync_as value", `{"sync_as":"account","sync_mode":"on_add","deduplication":true,"activity_tracking":true}`, "sync_as", "lead, contact"},
		{"sync_as type", `{"sync_as":true,"sync_mode":"on_add","deduplication":true,"activity_tracking":true}`, "sync_as", "lead, contact"},
		{"sync_mode value", `{"sync_as":"lead","sync_mode":"weekly","deduplication":true,"activity_tracking":true}`, "sync_mode", "off, on_add, on_reply"},
		{"sync_mode missing", `{"sync_as":"lead","deduplication":true,"activity_tracking":true}`, "sync_mode", "off, on_add, on_reply"},
		{"deduplication type", `{"sync_as":"lead","sync_mode":"on_add","deduplication":"on","activity_tracking":true}`, "deduplication", "true or false"},
		{"activity_tracking null", `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":null}`, "activity_tracking", "true or false"},
		{"unknown kind", `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"printed":true}}`, "activity_kinds.printed", "sent, replied, opened, clicked, bounced"},
		{"kind type", `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":"yes"}}`, "activity_kinds.sent", "true or false"},
		{"not JSON", `{"sync_as":`, "body", "JSON"},
		{"empty body", ``, "body", "empty"},
		{"array", `[]`, "body", "object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(adminA, "PUT", settingsPath, settingsPath, `"1"`, tt.body)
			field, msg := r.errorField(t)
			if r.status != 400 || field != tt.field || !strings.Contains(msg, tt.allowed) {
				t.Errorf("got %d field %q message %q; want 400 naming %s with %q", r.status, field, msg, tt.field, tt.allowed)
			}
		})
	}
	big := `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"x":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`
	if r := a.do(adminA, "PUT", settingsPath, settingsPath, `"1"`, big); r.status != 413 {
		t.Errorf("got %d for an oversized body; want 413", r.status)
	}
	after := a.do(adminA, "GET", settingsPath, settingsPath, "", "")
	if after.etag != before.etag || string(after.body) != string(before.body) {
		t.Errorf("got %s %s after bad input; want unchanged %s %s", after.etag, after.body, before.etag, before.body)
	}
}

func TestConcurrentPutsSameIfMatch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const writers = 6
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"sync_as":"lead","sync_mode":"on_add","deduplication":%v,"activity_tracking":true}`, i%2 == 0)
			statuses[i] = a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, body).status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[200] != 1 || counts[412] != writers-1 {
		t.Errorf("got statuses %v; want one 200 and %d 412", counts, writers-1)
	}
	r := a.do(adminA, "GET", historyPath, historyPath, "", "")
	if vs := r.json(t)["versions"].([]any); len(vs) != 1 {
		t.Errorf("got %d versions in the history; want exactly 1", len(vs))
	}
}

func TestTeamsAreIsolated(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if r := a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, goodSettings); r.status != 200 {
		t.Fatalf("got %d; want 200", r.status)
	}
	seqPath := "/v1/sequences/seq_1/salesforce"
	if r := a.do(adminA, "PUT", seqPath, seqRoute, `"0"`, `{"sync_mode":"off","sync_as":"inherit","sync_disabled":true}`); r.status != 200 {
		t.Fatalf("got %d; want 200", r.status)
	}

	// Team B reads its own (default) documents, not team A's.
	r := a.do(adminB, "GET", settingsPath, settingsPath, "", "")
	if r.etag != `"0"` || r.json(t)["settings"].(map[string]any)["sync_as"] != "lead" {
		t.Errorf("got team_b %s %s; want its defaults at version 0", r.etag, r.body)
	}
	r = a.do(adminB, "GET", seqPath, seqRoute, "", "")
	if r.etag != `"0"` || r.json(t)["override"].(map[string]any)["sync_disabled"] != false {
		t.Errorf("got team_b sequence %s %s; want its defaults at version 0", r.etag, r.body)
	}
	if r = a.do(adminB, "GET", historyPath, historyPath, "", ""); len(r.json(t)["versions"].([]any)) != 0 {
		t.Errorf("got team_b history %s; want empty", r.body)
	}
	if r = a.do(adminB, "GET", "/v1/sequences/seq_1/salesforce/history", seqHistRoute, "", ""); len(r.json(t)["versions"].([]any)) != 0 {
		t.Errorf("got team_b sequence history %s; want empty", r.body)
	}

	// Team B's writes land in team B, even with team A's ETag in hand.
	if r = a.do(adminB, "PUT", settingsPath, settingsPath, `"1"`, `{"sync_as":"lead","sync_mode":"off","deduplication":true,"activity_tracking":true}`); r.status != 412 {
		t.Errorf("got %d for team_b with team_a's version; want 412", r.status)
	}
	if r = a.do(adminB, "PUT", settingsPath, settingsPath, `"0"`, `{"sync_as":"lead","sync_mode":"off","deduplication":true,"activity_tracking":true}`); r.status != 200 {
		t.Errorf("got %d for team_b; want 200", r.status)
	}
	r = a.do(adminA, "GET", settingsPath, settingsPath, "", "")
	s := r.json(t)["settings"].(map[string]any)
	if r.etag != `"1"` || s["sync_as"] != "contact" || s["sync_mode"] != "on_reply" {
		t.Errorf("got team_a %s %v; want its own version 1 (contact, on_reply)", r.etag, s)
	}
}

func (a *api) addMembers(team, seq string, n int) {
	a.t.Helper()
	for i := range n {
		_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(a.ledger), Item: map[string]types.AttributeValue{
			resources.PartitionKey: &types.AttributeValueMemberS{Value: ledgerdb.MembershipPK(team, seq)},
			resources.SortKey:      &types.AttributeValueMemberS{Value: ledgerdb.MemberSK(fmt.Sprintf("ct_%d", i))},
		}})
		if err != nil {
			a.t.Fatal(err)
		}
	}
}

func TestSequenceOverride(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	path := "/v1/sequences/seq_9/salesforce"

	r := a.do(adminA, "GET", path, seqRoute, "", "")
	body := r.json(t)
	eff := body["effective"].(map[string]any)
	if r.status != 200 || r.etag != `"0"` || body["override"].(map[string]any)["sync_mode"] != "inherit" || eff["sync_mode"] != "on_add" || eff["sync_as"] != "lead" {
		t.Fatalf("got %d %s %s; want version 0 inheriting the team defaults", r.status, r.etag, r.body)
	}

	// No members yet: the change reports no count.
	r = a.do(adminA, "PUT", path, seqRoute, `"0"`, `{"sync_mode":"on_reply","sync_as":"contact","sync_disabled":false}`)
	body = r.json(t)
	if r.status != 200 || r.etag != `"1"` || body["members_keeping_previous_rule"] != nil {
		t.Fatalf("got %d %s %s; want 200 version 1 without a member count", r.status, r.etag, r.body)
	}
	if eff := body["effective"].(map[string]any); eff["sync_mode"] != "on_reply" || eff["sync_as"] != "contact" || eff["sequence_version"] != 1.0 {
		t.Errorf("got effective %v; want on_reply as contact from sequence version 1", eff)
	}

	a.addMembers("team_a", "seq_9", 3)
	a.addMembers("team_b", "seq_9", 5) // another team's sequence of the same id
	tests := []struct {
		name, ifMatch, body string
		etag                string
		members             float64 // 0: absent
		reason              string
	}{
		{"same rule again", `"1"`, `{"sync_mode":"on_reply","sync_as":"contact","sync_disabled":false}`, `"2"`, 0, ""},
		{"mode changes", `"2"`, `{"sync_mode":"on_add","sync_as":"contact","sync_disabled":false}`, `"3"`, 3, ""},
		{"sync_as changes", `"3"`, `{"sync_mode":"on_add","sync_as":"inherit","sync_disabled":false}`, `"4"`, 3, ""},
		{"disabled", `"4"`, `{"sync_mode":"on_add","sync_as":"inherit","sync_disabled":true}`, `"5"`, 3, "sequence_sync_disabled"},
	}
	for _, tt := range tests {
		r := a.do(adminA, "PUT", path, seqRoute, tt.ifMatch, tt.body)
		body := r.json(t)
		got, _ := body["members_keeping_previous_rule"].(float64)
		if r.status != 200 || r.etag != tt.etag || got != tt.members {
			t.Errorf("%s: got %d %s members %v; want 200 %s members %v", tt.name, r.status, r.etag, got, tt.etag, tt.members)
		}
		if note, _ := body["note"].(string); tt.members > 0 && !strings.Contains(note, "from now on") {
			t.Errorf("%s: got note %q; want one saying the rule applies from now on", tt.name, note)
		}
		if reason, _ := body["effective"].(map[string]any)["reason"].(string); reason != tt.reason {
			t.Errorf("%s: got reason %q; want %q", tt.name, reason, tt.reason)
		}
	}

	// Stale and missing If-Match write nothing.
	if r = a.do(adminA, "PUT", path, seqRoute, `"1"`, `{"sync_mode":"off","sync_as":"lead","sync_disabled":false}`); r.status != 412 || r.etag != `"5"` {
		t.Errorf("got %d %s; want 412 \"5\"", r.status, r.etag)
	}
	if r = a.do(adminA, "PUT", path, seqRoute, "", `{"sync_mode":"off","sync_as":"lead","sync_disabled":false}`); r.status != 428 {
		t.Errorf("got %d; want 428", r.status)
	}
	r = a.do(adminA, "GET", "/v1/sequences/seq_9/salesforce/history?limit=100", seqHistRoute, "", "")
	if vs := r.json(t)["versions"].([]any); len(vs) != 5 || vs[0].(map[string]any)["version"] != 5.0 {
		t.Errorf("got %s; want versions 5 down to 1", r.body)
	}
}

func TestBadSequenceInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	good := `{"sync_mode":"inherit","sync_as":"inherit","sync_disabled":false}`
	long := strings.Repeat("s", 129)
	tests := []struct {
		name, method, path, route, body, field, allowed string
	}{
		{"id too long", "GET", "/v1/sequences/" + long + "/salesforce", seqRoute, "", "sequence_id", "128"},
		{"id with separator", "GET", "/v1/sequences/seq%231/salesforce", seqRoute, "", "sequence_id", "letters, digits"},
		{"id with space", "PUT", "/v1/sequences/seq%201/salesforce", seqRoute, good, "sequence_id", "letters, digits"},
		{"history id", "GET", "/v1/sequences/%2Eseq/salesforce/history", seqHistRoute, "", "sequence_id", "letters, digits"},
		{"mode", "PUT", "/v1/sequences/s1/salesforce", seqRoute, `{"sync_mode":"always","sync_as":"inherit","sync_disabled":false}`, "sync_mode", "inherit, off, on_add, on_reply"},
		{"sync_as", "PUT", "/v1/sequences/s1/salesforce", seqRoute, `{"sync_mode":"off","sync_as":"account","sync_disabled":false}`, "sync_as", "inherit, lead, contact"},
		{"disabled type", "PUT", "/v1/sequences/s1/salesforce", seqRoute, `{"sync_mode":"off","sync_as":"lead","sync_disabled":1}`, "sync_disabled", "true or false"},
		{"unknown field", "PUT", "/v1/sequences/s1/salesforce", seqRoute, `{"sync_mode":"off","sync_as":"lead","sync_disabled":false,"team_id":"team_b"}`, "team_id", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ifMatch := ""
			if tt.method == "PUT" {
				ifMatch = `"0"`
			}
			r := a.do(adminA, tt.method, tt.path, tt.route, ifMatch, tt.body)
			field, msg := r.errorField(t)
			if r.status != 400 || field != tt.field || !strings.Contains(msg, tt.allowed) {
				t.Errorf("got %d field %q message %q; want 400 naming %s with %q", r.status, field, msg, tt.field, tt.allowed)
			}
		})
	}
	r := a.do(adminA, "GET", "/v1/sequences/s1/salesforce", seqRoute, "", "")
	if r.etag != `"0"` {
		t.Errorf("got ETag %s after bad input; want \"0\" (nothing saved)", r.etag)
	}
}

package mappinghttp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/mapping/describe"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/mapping/mappinghttp"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// TestMain stops the moto_server the tests that need one started; the
// tests of the handlers alone run without it.
func TestMain(m *testing.M) {
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

var (
	awsOnce sync.Once
	awsCfg  aws.Config
	awsErr  error
)

// awsConfig is the SDK configuration pointed at the shared moto_server,
// started by the first test that asks for it.
func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	awsOnce.Do(func() {
		ep, err := motoserver.Shared()
		if err != nil {
			awsErr = err
			return
		}
		awsCfg, awsErr = motoserver.AWSConfig(context.Background(), ep)
	})
	if awsErr != nil {
		t.Fatalf("moto: %v", awsErr)
	}
	return awsCfg
}

const clientSecret = "test-consumer-secret"

// orgDefinition is a simulated org with a custom field of each kind the
// mapping handles.
var orgDefinition = &org.Definition{CustomFields: map[string][]org.CustomField{
	"Lead": {
		{Name: "Notes__c", Type: "text", Length: 20},
		{Name: "Tier__c", Type: "picklist", Values: []string{"Gold", "Silver"}},
		{Name: "Region__c", Type: "picklist", Values: []string{"EMEA", "AMER", "APAC"}, Restricted: true},
		{Name: "Seats__c", Type: "number"},
		{Name: "Vip__c", Type: "checkbox"},
		{Name: "Segment__c", Type: "text", Length: 40, Required: true},
	},
	"Contact": {{Name: "Notes__c", Type: "text", Length: 20}},
}}

// world is one test's moto tables, simulated org, team connection and API.
type world struct {
	t        *testing.T
	sim      *org.Org
	router   *httpapi.Router
	store    *mappingdb.Store
	cache    *describe.Cache
	conns    *connectiondb.Store
	describe *describe.Org
}

// provision creates the stack's tables and key under a fresh prefix.
func provision(t *testing.T) *runner.Provisioned {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prov, err := runner.Provision(context.Background(), awsConfig(t), "m"+hex.EncodeToString(b), runner.ProvisionOptions{ClientSecret: clientSecret})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return prov
}

func newWorld(t *testing.T) *world {
	t.Helper()
	prov := provision(t)
	sim := org.New(org.Config{ClientID: "test-client", ClientSecret: clientSecret, Definition: orgDefinition})
	if _, err := sim.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	db := dynamodb.NewFromConfig(awsConfig(t))
	conns := &connectiondb.Store{DB: db, Table: prov.Env[resources.EnvConnectionsTable],
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(awsConfig(t)), KeyID: prov.KeyID}}
	connector := &connection.Connector{Store: conns, HTTP: &http.Client{Timeout: 10 * time.Second},
		Config: connection.OAuthConfig{ClientID: "test-client", ClientSecret: func(context.Context) (string, error) { return clientSecret, nil },
			RedirectURL: "https://api.example.com/oauth/salesforce/callback", AllowInsecureLoginURLs: true}}
	policies := prov.Env[resources.EnvPoliciesTable]
	w := &world{t: t, sim: sim, conns: conns, store: mappingdb.New(db, policies),
		describe: &describe.Org{Connections: conns, Connector: connector, Holder: "test"}}
	w.cache = &describe.Cache{DB: db, Table: policies, Source: w.describe}
	w.router = httpapi.NewRouter()
	mappinghttp.Register(w.router, mappinghttp.Deps{Store: w.store, Describes: w.cache, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	w.connect("team_a")
	return w
}

// connect stores a live connection of team to the simulated org.
func (w *world) connect(team string) {
	w.t.Helper()
	tok := w.sim.IssueTokens()
	if _, err := w.conns.Replace(context.Background(), connection.Connection{TeamID: team, ID: "conn-" + team, Environment: connection.EnvCustom,
		LoginURL: w.sim.URL(), InstanceURL: tok.InstanceURL, OrgID: w.sim.OrgID(), UserID: w.sim.UserID(), ConnectedAt: time.Now(),
		Status: connection.StatusConnected, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Version: 1}); err != nil {
		w.t.Fatalf("store connection: %v", err)
	}
}

func (w *world) describes() int { return w.sim.Stats().Total }

type reply struct {
	code int
	hdr  http.Header
	body string
}

func (w *world) call(team, method, path, body string, hdr map[string]string) reply {
	w.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: "admin", Subject: "admin-of-" + team}))
	rec := httptest.NewRecorder()
	w.router.ServeHTTP(rec, req)
	return reply{rec.Code, rec.Header(), rec.Body.String()}
}

// validate checks a reply against the OpenAPI document.
func validate(t *testing.T, method, route string, r reply) {
	t.Helper()
	openapitest.Validate(t, method, route, r.code, []byte(r.body))
}

const (
	routeOne     = "/v1/salesforce/field-mappings/{object}"
	routePreview = "/v1/salesforce/field-mappings/{object}/preview"
)

func ifMatch(tag string) map[string]string {
	return map[string]string{"If-Match": tag, "Content-Type": "application/json"}
}

// defaultLead is the default Lead mapping's rows as JSON, plus extra rows.
func leadBody(extra ...string) string {
	rows := []string{
		`{"salesforce_field":"FirstName","source":{"field":"first_name"}}`,
		`{"salesforce_field":"LastName","source":{"field":"last_name"}}`,
		`{"salesforce_field":"Company","source":{"field":"company"}}`,
		`{"salesforce_field":"Email","source":{"field":"email"}}`,
	}
	segment := false
	for _, e := range extra {
		segment = segment || strings.Contains(e, `"Segment__c"`)
	}
	if !segment {
		rows = append(rows, `{"salesforce_field":"Segment__c","source":{"constant":"SMB"}}`)
	}
	return `{"fields":[` + strings.Join(append(rows, extra...), ",") + `]}`
}

type problem struct {
	Row             *int   `json:"row"`
	SalesforceField string `json:"salesforce_field"`
	Field           string `json:"field"`
	Code            string `json:"code"`
}

func problems(t *testing.T, body string) []string {
	t.Helper()
	var out struct {
		Problems []problem `json:"problems"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	var got []string
	for _, p := range out.Problems {
		row := "-"
		if p.Row != nil {
			row = fmt.Sprint(*p.Row)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", row, p.SalesforceField, p.Field, p.Code))
	}
	return got
}

func TestSaveMappingsAgainstTheOrg(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		name   string
		object string
		body   string
		code   int
		want   []string // problems: "row salesforce_field field code"
	}{
		{"default lead plus required custom field", "lead", leadBody(), 200, nil},
		{"every custom kind", "lead", leadBody(
			`{"salesforce_field":"Notes__c","source":{"template":"{{title}} at {{company}}"}}`,
			`{"salesforce_field":"Tier__c","source":{"field":"custom.tier"}}`,
			`{"salesforce_field":"Region__c","source":{"constant":"EMEA"}}`,
			`{"salesforce_field":"Seats__c","source":{"field":"custom.seats"},"on_empty":"1"}`,
			`{"salesforce_field":"Vip__c","source":{"constant":"true"}}`), 200, nil},
		{"required custom field unmapped", "lead", `{"fields":[{"salesforce_field":"LastName","source":{"field":"last_name"}}]}`, 400,
			[]string{"- Segment__c fields required_unmapped"}},
		{"required custom field may be empty", "lead", leadBody(`{"salesforce_field":"Segment__c","source":{"field":"custom.segment"}}`), 400,
			[]string{"4 Segment__c fields[4].on_empty required_may_be_empty"}},
		{"unknown field", "lead", leadBody(`{"salesforce_field":"Bogus__c","source":{"field":"title"}}`), 400,
			[]string{"5 Bogus__c fields[5].salesforce_field unknown_field"}},
		{"not createable", "lead", leadBody(`{"salesforce_field":"IsConverted","source":{"constant":"true"}}`), 400,
			[]string{"5 IsConverted fields[5].salesforce_field not_createable"}},
		{"text too long", "lead", leadBody(`{"salesforce_field":"Notes__c","source":{"constant":"` + strings.Repeat("n", 21) + `"}}`), 400,
			[]string{"5 Notes__c fields[5].source.constant too_long"}},
		{"restricted picklist", "lead", leadBody(`{"salesforce_field":"Region__c","source":{"constant":"Mars"}}`), 400,
			[]string{"5 Region__c fields[5].source.constant not_in_picklist"}},
		{"number from a name", "lead", leadBody(`{"salesforce_field":"Seats__c","source":{"field":"last_name"}}`), 400,
			[]string{"5 Seats__c fields[5].source.field type_mismatch"}},
		{"checkbox constant", "lead", leadBody(`{"salesforce_field":"Vip__c","source":{"constant":"sometimes"}}`), 400,
			[]string{"5 Vip__c fields[5].source.constant type_mismatch"}},
		{"all problems in one answer", "lead", leadBody(
			`{"salesforce_field":"Bogus__c","source":{"field":"title"}}`,
			`{"salesforce_field":"Vip__c","source":{"field":"title"}}`,
			`{"salesforce_field":"Notes__c","source":{"constant":"x"},"on_empty":"`+strings.Repeat("n", 25)+`"}`), 400,
			[]string{"5 Bogus__c fields[5].salesforce_field unknown_field", "6 Vip__c fields[6].source.field type_mismatch", "7 Notes__c fields[7].on_empty too_long"}},
		{"malformed rows, all at once", "lead", `{"fields":[{"salesforce_field":"Title","source":{"field":"nick"}},{"salesforce_field":"Title","source":{"constant":"x"},"extra":1}]}`, 400,
			[]string{"0 Title fields[0].source.field unknown_source_field", "1 Title fields[1].extra unknown_field"}},
		{"contact custom field", "contact", `{"fields":[{"salesforce_field":"LastName","source":{"field":"last_name"}},{"salesforce_field":"Notes__c","source":{"field":"custom.notes"}}]}`, 200, nil},
		{"a contact has no company", "contact", `{"fields":[{"salesforce_field":"Company","source":{"field":"company"}}]}`, 400,
			[]string{"0 Company fields[0].salesforce_field unknown_field"}},
	}
	for _, tc := range tests {
		// Sequential: every case saves on the same team and org.
		r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/"+tc.object, tc.body, ifMatch("*"))
		if r.code != tc.code {
			t.Errorf("%s: got %d %s; want %d", tc.name, r.code, r.body, tc.code)
			continue
		}
		validate(t, "PUT", routeOne, r)
		if tc.code != 200 {
			if got := problems(t, r.body); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: got problems %q; want %q", tc.name, got, tc.want)
			}
		}
	}
	// Two objects were described once each, for every save above.
	if got := w.sim.Stats().ByEndpoint; len(got) != 1 {
		t.Errorf("got Salesforce calls %v; want only the two describes", got)
	}
	if got := w.describes(); got != 2 {
		t.Errorf("got %d Salesforce calls; want 2 (one describe per object, then the cache)", got)
	}
	// A field added in the org is unknown until the describe is refreshed.
	if err := w.sim.AddCustomField("Lead", org.CustomField{Name: "Fresh__c", Type: "text"}); err != nil {
		t.Fatal(err)
	}
	body := leadBody(`{"salesforce_field":"Fresh__c","source":{"field":"title"}}`)
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", body, ifMatch("*")); r.code != 400 {
		t.Errorf("cached describe: got %d %s; want 400 unknown_field", r.code, r.body)
	}
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead?refresh=true", body, ifMatch("*")); r.code != 200 {
		t.Errorf("refreshed describe: got %d %s; want 200", r.code, r.body)
	}
	if got := w.describes(); got != 3 {
		t.Errorf("got %d Salesforce calls; want 3 after one refresh", got)
	}
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead?refresh=yes", body, ifMatch("*")); r.code != 400 || !strings.Contains(r.body, `"field":"refresh"`) {
		t.Errorf("refresh=yes: got %d %s; want 400 naming refresh", r.code, r.body)
	}
	// After the TTL the cache refreshes by itself.
	w.cache.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", body, ifMatch("*")); r.code != 200 {
		t.Errorf("after the TTL: got %d %s; want 200", r.code, r.body)
	}
	if got := w.describes(); got != 4 {
		t.Errorf("got %d Salesforce calls; want 4 after the TTL expired", got)
	}
}

func TestVersionsAndIfMatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	r := w.call("team_a", "GET", "/v1/salesforce/field-mappings/lead", "", nil)
	validate(t, "GET", routeOne, r)
	if r.code != 200 || r.hdr.Get("ETag") != `"0"` || !strings.Contains(r.body, `"default":true`) || !strings.Contains(r.body, `"Company"`) {
		t.Fatalf("first GET: got %d %s %s; want 200, ETag \"0\", the default mapping", r.code, r.hdr.Get("ETag"), r.body)
	}
	steps := []struct {
		name, tag string
		code      int
		etag      string
	}{
		{"no If-Match", "", 428, ""},
		{"malformed If-Match", "3", 400, ""},
		{"from the default", `"0"`, 200, `"1"`},
		{"stale", `"0"`, 412, `"1"`},
		{"weak tag", `W/"1"`, 412, `"1"`},
		{"current", `"1"`, 200, `"2"`},
		{"any", `*`, 200, `"3"`},
	}
	for _, s := range steps {
		hdr := map[string]string{"Content-Type": "application/json"}
		if s.tag != "" {
			hdr["If-Match"] = s.tag
		}
		r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(), hdr)
		validate(t, "PUT", routeOne, r)
		if r.code != s.code || r.hdr.Get("ETag") != s.etag {
			t.Errorf("%s: got %d ETag %q %s; want %d ETag %q", s.name, r.code, r.hdr.Get("ETag"), r.body, s.code, s.etag)
		}
	}
	// Concurrent saves from the same version: exactly one wins.
	var wg sync.WaitGroup
	codes := make([]int, 5)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(), ifMatch(`"3"`)).code
		}()
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		if c == 200 {
			wins++
		} else if c != 412 {
			t.Errorf("concurrent save: got %d; want 200 or 412", c)
		}
	}
	if wins != 1 {
		t.Errorf("concurrent saves: got %d winners (%v); want 1", wins, codes)
	}
	// Contacts synced with older versions keep them; the answer counts them.
	for _, c := range []struct{ version, n int }{{0, 2}, {1, 3}, {4, 4}} {
		if err := w.store.CountSynced(ctx, "team_a", event.ObjectLead, c.version, c.n); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.CountSynced(ctx, "team_a", event.ObjectContact, 0, 50); err != nil {
		t.Fatal(err)
	}
	r = w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(), ifMatch(`"4"`))
	validate(t, "PUT", routeOne, r)
	var out struct {
		Version int    `json:"version"`
		Keeping *int   `json:"contacts_keeping_previous_version"`
		Note    string `json:"note"`
		By      string `json:"updated_by"`
	}
	_ = json.Unmarshal([]byte(r.body), &out)
	if r.code != 200 || out.Version != 5 || out.Keeping == nil || *out.Keeping != 9 || !strings.Contains(out.Note, "9 contacts") || out.By != "admin-of-team_a" {
		t.Errorf("save over synced contacts: got %d %s; want version 5 with 9 contacts keeping older versions", r.code, r.body)
	}
	// The saved versions are kept.
	v1, err := w.store.Version(ctx, "team_a", event.ObjectLead, 1)
	if err != nil || v1.Number != 1 || len(v1.Mapping.Fields) != 5 {
		t.Errorf("version 1: got %+v, %v; want the first save", v1, err)
	}
	r = w.call("team_a", "GET", "/v1/salesforce/field-mappings/lead", "", nil)
	if r.hdr.Get("ETag") != `"5"` || strings.Contains(r.body, `"default":true`) {
		t.Errorf("GET after saves: got ETag %s %s; want \"5\"", r.hdr.Get("ETag"), r.body)
	}
	if r := w.call("team_a", "GET", "/v1/salesforce/field-mappings/account", "", nil); r.code != 400 || !strings.Contains(r.body, `"field":"object"`) {
		t.Errorf("GET account: got %d %s; want 400 naming object", r.code, r.body)
	}
}

func TestPreviewWritesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	contact := `{"id":"ct_1","email":"ada@example.com","first_name":"Ada","company":"Analytical Engines","title":"Chief Technology Officer","custom":{"vip":"yes","seats":"1,200","region":"emea"}}`
	proposed := `{"fields":[{"salesforce_field":"Vip__c","source":{"field":"custom.vip"}},{"salesforce_field":"Seats__c","source":{"field":"custom.seats"}},{"salesforce_field":"Notes__c","source":{"field":"title"}},{"salesforce_field":"Region__c","source":{"field":"custom.region"}}]}`
	type preview struct {
		Object   string         `json:"object"`
		Version  *int           `json:"mapping_version"`
		Proposed bool           `json:"proposed"`
		Typed    bool           `json:"typed"`
		Record   map[string]any `json:"record"`
		Problems []problem      `json:"problems"`
	}
	do := func(body string) (reply, preview) {
		t.Helper()
		r := w.call("team_a", "POST", "/v1/salesforce/field-mappings/lead/preview", body, map[string]string{"Content-Type": "application/json"})
		validate(t, "POST", routePreview, r)
		var p preview
		_ = json.Unmarshal([]byte(r.body), &p)
		return r, p
	}
	// Cold: the default mapping, as text, with the required fields filled.
	r, p := do(`{"contact":` + contact + `}`)
	want := map[string]any{"FirstName": "Ada", "LastName": "ada", "Company": "Analytical Engines", "Email": "ada@example.com", "Title": "Chief Technology Officer"}
	if r.code != 200 || p.Typed || p.Version == nil || *p.Version != 0 || !reflect.DeepEqual(p.Record, want) {
		t.Errorf("cold preview: got %d %s; want the default record %v, untyped", r.code, r.body, want)
	}
	// A proposed mapping, cold: text.
	r, p = do(`{"contact":` + contact + `,"mapping":` + proposed + `}`)
	if r.code != 200 || !p.Proposed || p.Version != nil || p.Record["Vip__c"] != "yes" || p.Record["Seats__c"] != "1,200" {
		t.Errorf("cold proposed preview: got %d %s; want text values", r.code, r.body)
	}
	if got := w.describes(); got != 0 {
		t.Errorf("got %d Salesforce calls; want none for previews", got)
	}
	// Saving describes the org; previews then type and trim.
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(), ifMatch(`"0"`)); r.code != 200 {
		t.Fatalf("save: got %d %s", r.code, r.body)
	}
	r, p = do(`{"contact":` + contact + `,"mapping":` + proposed + `}`)
	wantTyped := map[string]any{"Vip__c": true, "Seats__c": 1200.0, "Notes__c": "Chief Technology Off", "Region__c": "EMEA",
		"LastName": "ada", "Company": "Analytical Engines", "Email": "ada@example.com"}
	if r.code != 200 || !p.Typed || !reflect.DeepEqual(p.Record, wantTyped) {
		t.Errorf("warm proposed preview: got %d %s; want %v", r.code, r.body, wantTyped)
	}
	if len(p.Problems) != 1 || p.Problems[0].Code != "required_unmapped" || p.Problems[0].SalesforceField != "Segment__c" {
		t.Errorf("warm proposed preview: got problems %+v; want Segment__c required_unmapped", p.Problems)
	}
	r, p = do(`{"contact":{"email":"x@y.example","custom":{"vip":"perhaps"}},"mapping":{"fields":[{"salesforce_field":"Vip__c","source":{"field":"custom.vip"}}]}}`)
	if r.code != 400 || !strings.Contains(r.body, "Vip__c") || !strings.Contains(r.body, "invalid_value") {
		t.Errorf("unreadable checkbox value: got %d %s; want 400 invalid_value naming Vip__c", r.code, r.body)
	}
	for _, bad := range []struct{ body, field string }{
		{`{}`, "contact"},
		{`{"contact":{"nickname":"x"}}`, "contact.nickname"},
		{`{"contact":{"first_name":7}}`, "contact.first_name"},
		{`{"contact":{},"extra":1}`, "extra"},
		{`{"contact":{},"mapping":{"fields":[{"salesforce_field":"X","source":{}}]}}`, "mapping.fields[0].source"},
		{`[]`, "body"},
	} {
		r, _ := do(bad.body)
		if r.code != 400 || !strings.Contains(r.body, `"field":"`+bad.field+`"`) {
			t.Errorf("preview %s: got %d %s; want 400 naming %s", bad.body, r.code, r.body, bad.field)
		}
	}
	// Nothing was written: still version 1, one describe.
	if r := w.call("team_a", "GET", "/v1/salesforce/field-mappings/lead", "", nil); r.hdr.Get("ETag") != `"1"` {
		t.Errorf("after previews: got ETag %s; want \"1\"", r.hdr.Get("ETag"))
	}
	if got := w.describes(); got != 1 {
		t.Errorf("got %d Salesforce calls; want 1 (the save's describe)", got)
	}
}

func TestTeamsAreIsolated(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Team A saves and caches its org's describe; team B has no connection.
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(`{"salesforce_field":"Tier__c","source":{"constant":"Gold"}}`), ifMatch("*")); r.code != 200 {
		t.Fatalf("team A save: got %d %s", r.code, r.body)
	}
	r := w.call("team_b", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(), ifMatch("*"))
	validate(t, "PUT", routeOne, r)
	if r.code != 409 || !strings.Contains(r.body, "not_connected") {
		t.Errorf("team B save without a connection: got %d %s; want 409 not_connected", r.code, r.body)
	}
	r = w.call("team_b", "GET", "/v1/salesforce/field-mappings/lead?team_id=team_a", "", nil)
	if r.code != 200 || r.hdr.Get("ETag") != `"0"` || strings.Contains(r.body, "Tier__c") || strings.Contains(r.body, "admin-of-team_a") {
		t.Errorf("team B GET: got %d %s; want its own default", r.code, r.body)
	}
	r = w.call("team_b", "POST", "/v1/salesforce/field-mappings/lead/preview", `{"contact":{"email":"a@b.example"}}`, nil)
	if r.code != 200 || strings.Contains(r.body, "Tier__c") || strings.Contains(r.body, `"typed":true`) {
		t.Errorf("team B preview: got %d %s; want the default, untyped (team A's describe is not B's)", r.code, r.body)
	}
	if r := w.call("team_b", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(), ifMatch(`"1"`)); r.code != 412 {
		t.Errorf("team B If-Match of team A's version: got %d %s; want 412", r.code, r.body)
	}
}

func TestRendererForTheSyncEngine(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	rnd := &mappingdb.Renderer{Store: w.store, Describes: w.cache}
	ada := event.Contact{ID: "ct_1", Email: "ada@example.com", LastName: "Lovelace", Company: "Analytical Engines",
		Title: "Chief Technology Officer", Custom: map[string]string{"vip": "yes", "seats": "12"}}
	// Cold cache: the default mapping (version 0), as text, no Salesforce call.
	rec, v, err := rnd.Render(ctx, "team_a", event.ObjectLead, ada)
	if err != nil || v != 0 || rec["LastName"] != "Lovelace" || rec["Email"] != "ada@example.com" {
		t.Fatalf("cold render: got %v, %d, %v; want the default mapping, version 0", rec, v, err)
	}
	if got := w.describes(); got != 0 {
		t.Errorf("cold render: got %d Salesforce calls; want 0", got)
	}
	body := leadBody(`{"salesforce_field":"Vip__c","source":{"field":"custom.vip"}}`, `{"salesforce_field":"Seats__c","source":{"field":"custom.seats"}}`,
		`{"salesforce_field":"Notes__c","source":{"field":"title"}}`)
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", body, ifMatch(`"0"`)); r.code != 200 {
		t.Fatalf("save: got %d %s", r.code, r.body)
	}
	calls := w.describes()
	// Warm: version 1, typed and trimmed by the cached describe, no call.
	for range 3 {
		rec, v, err = rnd.Render(ctx, "team_a", event.ObjectLead, ada)
	}
	if err != nil || v != 1 || rec["Vip__c"] != true || rec["Seats__c"] != 12.0 || rec["Notes__c"] != "Chief Technology Off" || rec["Segment__c"] != "SMB" {
		t.Errorf("warm render: got %v, %d, %v; want version 1, typed", rec, v, err)
	}
	if got := w.describes(); got != calls {
		t.Errorf("warm render: got %d Salesforce calls; want %d", got, calls)
	}
	// The rendered record is one the org accepts.
	tok := w.sim.IssueTokens()
	client := &salesforce.Client{Session: fixedSession{salesforce.Token{AccessToken: tok.AccessToken, InstanceURL: tok.InstanceURL}}}
	res, err := client.CreateCollection(ctx, []salesforce.SObject{rec}, salesforce.WriteOptions{})
	if err != nil || !res[0].Success {
		t.Errorf("create the rendered Lead: got %v %+v; want success", err, res)
	}
	// Another team renders with its own (default) mapping.
	if _, v, err := rnd.Render(ctx, "team_b", event.ObjectLead, ada); err != nil || v != 0 {
		t.Errorf("team B render: got version %d, %v; want 0", v, err)
	}
	// A process reusing state sees a new version once ReuseFor has passed.
	now := time.Now()
	reuse := &mappingdb.Renderer{Store: w.store, Describes: w.cache, ReuseFor: time.Minute, Now: func() time.Time { return now }}
	if _, v, _ := reuse.Render(ctx, "team_a", event.ObjectLead, ada); v != 1 {
		t.Errorf("reuse render: got version %d; want 1", v)
	}
	if r := w.call("team_a", "PUT", "/v1/salesforce/field-mappings/lead", leadBody(), ifMatch(`"1"`)); r.code != 200 {
		t.Fatalf("second save: got %d %s", r.code, r.body)
	}
	if _, v, _ := reuse.Render(ctx, "team_a", event.ObjectLead, ada); v != 1 {
		t.Errorf("reuse render within ReuseFor: got version %d; want 1", v)
	}
	now = now.Add(2 * time.Minute)
	if _, v, _ := reuse.Render(ctx, "team_a", event.ObjectLead, ada); v != 2 {
		t.Errorf("reuse render after ReuseFor: got version %d; want 2", v)
	}
}

type fixedSession struct{ tok salesforce.Token }

func (s fixedSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s fixedSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return s.tok, nil
}

// repeatingDB sends every UpdateItem twice and answers with the second
// attempt, as the SDK does when the first answer is lost.
type repeatingDB struct{ *dynamodb.Client }

func (r repeatingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return motoserver.SentTwice(ctx, r.Client.UpdateItem, in, opts...)
}

// TestCountsSentTwiceCountOnce: a count of synced contacts the SDK sends
// again after a lost answer is added once.
func TestCountsSentTwiceCountOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := mappingdb.New(repeatingDB{dynamodb.NewFromConfig(awsConfig(t))}, provision(t).Env[resources.EnvPoliciesTable])
	for _, c := range []struct{ version, n int }{{0, 2}, {1, 3}, {1, 4}} {
		if err := store.CountSynced(ctx, "team_a", event.ObjectLead, c.version, c.n); err != nil {
			t.Fatalf("count %d with version %d: %v", c.n, c.version, err)
		}
	}
	got, err := store.SyncedByVersion(ctx, "team_a", event.ObjectLead)
	if want := map[int]int{0: 2, 1: 7}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("counts: got %v, %v; want %v", got, err, want)
	}
}

// emptyTable is a policies table with nothing in it: no saved mapping and
// no cached describe, without a database.
type emptyTable struct{ mappingdb.API }

func (emptyTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func (emptyTable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, fmt.Errorf("the preview must write nothing")
}

// TestPreviewLimits: the preview holds a sample to the limits a sync has:
// the body cap, the contract's value lengths, a template's placeholders,
// the field's length and the record's size; each refusal names the field.
func TestPreviewLimits(t *testing.T) {
	t.Parallel()
	router := httpapi.NewRouter()
	mappinghttp.Register(router, mappinghttp.Deps{Store: mappingdb.New(emptyTable{}, "policies"), Describes: &describe.Cache{DB: emptyTable{}, Table: "policies"},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	value := strings.Repeat("x", event.MaxCustomValue)
	sample := `{"email":"ada@example.com","custom":{"v00":"` + value + `"}}`
	rows := func(sf, template string, n int) string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf(`{"salesforce_field":"%s%d__c","source":{"template":"%s"}}`, sf, i, template))
		}
		return `{"fields":[` + strings.Join(out, ",") + `]}`
	}
	twenty := strings.Repeat("{{custom.v00}}", mapping.MaxPlaceholders)
	tests := []struct {
		name      string
		body      string
		wantCode  int
		wantError string // error code
		wantField string
	}{
		{"body over the cap", `{"contact":{"email":"ada@example.com","custom":{"v":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}}}`,
			http.StatusRequestEntityTooLarge, "invalid_request", "body"},
		{"custom value longer than the contract's", `{"contact":{"email":"ada@example.com","custom":{"v00":"` + value + `y"}}}`,
			http.StatusBadRequest, "invalid_request", "contact.custom.v00"},
		{"title longer than the contract's", `{"contact":{"email":"ada@example.com","title":"` + strings.Repeat("t", event.MaxNameLength+1) + `"}}`,
			http.StatusBadRequest, "invalid_request", "contact.title"},
		{"too many placeholders", `{"contact":` + sample + `,"mapping":` + rows("Notes", twenty+"{{first_name}}", 1) + `}`,
			http.StatusBadRequest, "invalid_mapping", "mapping.fields[0].source.template"},
		{"record over its limit", `{"contact":` + sample + `,"mapping":` + rows("Notes", twenty, 1) + `}`,
			http.StatusBadRequest, "record_too_large", "contact"},
		{"the largest template, cut to a standard field's length", `{"contact":` + sample + `,"mapping":{"fields":[{"salesforce_field":"Title","source":{"template":"` + twenty + `"}}]}}`,
			http.StatusOK, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("POST", "/v1/salesforce/field-mappings/lead/preview", strings.NewReader(tc.body))
			req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: "team_a", Role: "admin", Subject: "admin-of-team_a"}))
			rec := httptest.NewRecorder()
			router.ServeHTTP(rec, req)
			r := reply{rec.Code, rec.Header(), rec.Body.String()}
			validate(t, "POST", routePreview, r)
			var out struct {
				Error  httpapi.ErrorDetail `json:"error"`
				Record map[string]any      `json:"record"`
			}
			_ = json.Unmarshal([]byte(r.body), &out)
			if r.code != tc.wantCode || out.Error.Code != tc.wantError || out.Error.Field != tc.wantField {
				t.Fatalf("got %d %s; want %d %s naming %q", r.code, clip(r.body), tc.wantCode, tc.wantError, tc.wantField)
			}
			if title, _ := out.Record["Title"].(string); tc.wantCode == http.StatusOK && title != strings.Repeat("x", 128) {
				t.Errorf("got Title of %d characters; want Title's standard 128", len(title))
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// maxReportCalls is the API calls one readiness report may spend.
const maxReportCalls = 5

// simWorld is the API function's router in front of a simulated org, with
// a clock the test moves.
type simWorld struct {
	world
	sim *org.Org
	mu  sync.Mutex
	now time.Time
}

func (w *simWorld) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *simWorld) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

func newSimWorld(t *testing.T, cfg org.Config) *simWorld {
	t.Helper()
	const callback = "https://api.example.com/oauth/salesforce/callback"
	cfg.ClientID, cfg.ClientSecret, cfg.AutoApprove, cfg.RedirectURIs = "cid", "s3cret", true, []string{callback}
	sim := org.New(cfg)
	if _, err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	prov, err := runner.Provision(context.Background(), awsCfg, fmt.Sprintf("rdy%d", time.Now().UnixNano()%1e9), runner.ProvisionOptions{ClientSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	w := &simWorld{sim: sim, now: time.Now().UTC()}
	base := provisionedBase(prov, callback)
	base.AllowInsecureLoginURLs = true
	s := settings{base: base, returnURL: "https://app.example.com/integrations", contactQueueURL: prov.Env[resources.EnvContactQueueURL], now: w.clock}
	rt, _ := newRouter(newKit(s), s)
	w.world = world{router: rt}
	return w
}

// connect runs the OAuth connect flow through the API as team's admin,
// with the simulator's auto-approval, and returns the completion's body.
func (w *simWorld) connect(t *testing.T, team string) string {
	t.Helper()
	code, body := w.call(team, "POST", "/v1/salesforce/connect", fmt.Sprintf(`{"environment":"custom","login_url":%q}`, w.sim.URL()), nil)
	if code != 200 {
		t.Fatalf("connect: got %d %s", code, body)
	}
	var begun struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	_ = json.Unmarshal([]byte(body), &begun)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(begun.AuthorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	rec := w.serve("", "GET", cb.Path+"?"+cb.RawQuery, "")
	ret, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || ret.Query().Get("ticket") == "" {
		t.Fatalf("callback: got %d %s; want a redirect with a ticket", rec.Code, rec.Header().Get("Location"))
	}
	b, _ := json.Marshal(map[string]string{"state": ret.Query().Get("state"), "ticket": ret.Query().Get("ticket")})
	code, body = w.call(team, "POST", "/v1/salesforce/connect/complete", string(b), nil)
	if code != 200 {
		t.Fatalf("complete: got %d %s", code, body)
	}
	openapitest.Validate(t, "POST", "/v1/salesforce/connect/complete", code, []byte(body))
	return body
}

type reportBody struct {
	OrgID     string            `json:"org_id"`
	CheckedAt time.Time         `json:"checked_at"`
	APICalls  int               `json:"api_calls"`
	Summary   readiness.Summary `json:"summary"`
	Items     []readiness.Item  `json:"items"`
}

// report GETs the readiness report and returns it with the API calls the
// simulator counted meanwhile.
func (w *simWorld) report(t *testing.T, team string) (reportBody, int) {
	t.Helper()
	before := w.sim.Stats().Total
	code, body := w.call(team, "GET", "/v1/salesforce/readiness", "", nil)
	spent := w.sim.Stats().Total - before
	if code != 200 {
		t.Fatalf("readiness: got %d %s; want 200", code, body)
	}
	openapitest.Validate(t, "GET", "/v1/salesforce/readiness", code, []byte(body))
	var r reportBody
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r, spent
}

type want struct {
	status   readiness.Status
	mentions []string
}

func assertItems(t *testing.T, r reportBody, wants map[string]want) {
	t.Helper()
	if len(r.Items) != len(wants) {
		t.Errorf("got %d items; want %d", len(r.Items), len(wants))
	}
	for _, it := range r.Items {
		w, ok := wants[it.ID]
		if !ok {
			t.Errorf("unexpected item %s", it.ID)
			continue
		}
		if it.Status != w.status {
			t.Errorf("%s: got %s (%s); want %s", it.ID, it.Status, it.Explanation, w.status)
		}
		for _, m := range w.mentions {
			if !strings.Contains(it.Explanation+" "+it.Fix, m) {
				t.Errorf("%s: got %q / %q; want it to mention %q", it.ID, it.Explanation, it.Fix, m)
			}
		}
	}
}

// TestReadinessReportOnAFreshDefaultOrg connects a team to the simulator's
// default org (a typical customer's) through the API: the report runs after
// the connect within the call budget, GET /v1/salesforce summarizes it, and
// GET /v1/salesforce/readiness serves it again without a call until the
// cache time passes.
func TestReadinessReportOnAFreshDefaultOrg(t *testing.T) {
	t.Parallel()
	w := newSimWorld(t, org.Config{})
	done := w.connect(t, "team_r")
	// The connect itself spends one call (the org's name); the report
	// after it spends the rest.
	afterConnect := w.sim.Stats().Total - 1
	if afterConnect < 1 || afterConnect > maxReportCalls {
		t.Errorf("calls of the report after connect: got %d; want 1 to %d", afterConnect, maxReportCalls)
	}
	if !strings.Contains(done, `"readiness":{`) || !strings.Contains(done, `"attention":["duplicate_rules"]`) {
		t.Errorf("connect completion: got %s; want the readiness summary naming duplicate_rules", done)
	}

	r, spent := w.report(t, "team_r")
	if spent != 0 {
		t.Errorf("report within the cache time: spent %d calls; want 0", spent)
	}
	assertItems(t, r, map[string]want{
		readiness.CheckAPIAccess:          {readiness.OK, []string{"admin@sfsim.example"}},
		readiness.CheckObjectAccess:       {readiness.OK, nil},
		readiness.CheckRecordVisibility:   {readiness.OK, []string{"Lead Public Read/Write/Transfer, Contact Controlled by Parent, Account Public Read/Write"}},
		readiness.CheckRequiredFields:     {readiness.OK, nil},
		readiness.CheckMappedFields:       {readiness.OK, nil},
		readiness.CheckRestrictedPicklist: {readiness.OK, nil},
		readiness.CheckWritebackFields:    {readiness.OK, nil},
		readiness.CheckValidationRules:    {readiness.NotChecked, []string{"Tooling API"}},
		readiness.CheckDuplicateRules:     {readiness.Warn, []string{"Standard Lead Duplicate Rule (Lead)", "Standard Contact Duplicate Rule (Contact)"}},
		readiness.CheckTaskStatus:         {readiness.OK, []string{`status, "Done" (API name "Completed").`}},
		readiness.CheckAPIAllocation:      {readiness.OK, []string{"of its 15000 daily API calls"}},
		readiness.CheckAPIBudget:          {readiness.OK, []string{"7500 calls a day"}},
	})
	if r.OrgID != w.sim.OrgID() || r.APICalls != afterConnect {
		t.Errorf("report: got org %s, %d calls; want %s, %d", r.OrgID, r.APICalls, w.sim.OrgID(), afterConnect)
	}

	code, body := w.call("team_r", "GET", "/v1/salesforce", "", nil)
	openapitest.Validate(t, "GET", "/v1/salesforce", code, []byte(body))
	var status struct {
		Readiness *readiness.Summary `json:"readiness"`
	}
	_ = json.Unmarshal([]byte(body), &status)
	if s := status.Readiness; s == nil || s.OK != 10 || s.Warn != 1 || s.Fail != 0 || s.NotChecked != 1 || !s.CheckedAt.Equal(r.CheckedAt) {
		t.Errorf("status: got readiness %+v; want 9 ok, 1 warn, 1 not_checked, checked at %s", s, r.CheckedAt)
	}

	w.advance(readiness.DefaultTTL)
	again, spent := w.report(t, "team_r")
	if spent < 1 || spent > maxReportCalls || again.APICalls != spent || !again.CheckedAt.After(r.CheckedAt) {
		t.Errorf("report after the cache time: spent %d calls (reported %d), checked at %s; want 1 to %d, after %s",
			spent, again.APICalls, again.CheckedAt, maxReportCalls, r.CheckedAt)
	}
	if _, spent := w.report(t, "team_r"); spent != 0 {
		t.Errorf("report again within the cache time: spent %d calls; want 0", spent)
	}

	// A member who is not an admin is refused.
	if code := w.asMember("team_r", "GET", "/v1/salesforce/readiness"); code != http.StatusForbidden {
		t.Errorf("member: got %d; want 403", code)
	}
}

// TestReadinessReportOnACustomizedOrg connects to an org with a required
// custom field on Lead, private Leads with one owned by another user (the
// connected user has no View All), its own closed Task status, and
// Contact's Email Opt Out read-only for the connected user.
func TestReadinessReportOnACustomizedOrg(t *testing.T) {
	t.Parallel()
	w := newSimWorld(t, org.Config{
		Definition:   &org.Definition{CustomFields: map[string][]org.CustomField{"Lead": {{Name: "Score__c", Type: "number", Required: true}}}},
		Sharing:      map[string]org.Sharing{"Lead": org.SharingPrivate},
		TaskStatuses: []org.TaskStatus{{Label: "Open", Default: true}, {Label: "Emailed", APIName: "Emailed_Out", Closed: true}},
	})
	if err := w.sim.SetFieldUpdateable("Contact", "HasOptedOutOfEmail", false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sim.Seed("Lead", map[string]any{"LastName": "Hidden", "Company": "Elsewhere", "Email": "hidden@elsewhere.example",
		"Score__c": 3, "OwnerId": w.sim.OtherUserID()}); err != nil {
		t.Fatal(err)
	}
	if done := w.connect(t, "team_c"); !strings.Contains(done, `"attention":["record_visibility","required_fields","writeback_fields","duplicate_rules"]`) {
		t.Errorf("connect completion: got %s; want the summary naming record_visibility, required_fields, writeback_fields and duplicate_rules", done)
	}
	calls := w.sim.Stats().Total - 1 // less the connect's own call for the org's name
	if calls < 2 || calls > maxReportCalls {
		t.Errorf("calls of the report after connect: got %d; want 2 (private sharing asks for the grants) to %d", calls, maxReportCalls)
	}
	r, spent := w.report(t, "team_c")
	_, dump := w.call("team_c", "GET", "/v1/salesforce/readiness", "", nil)
	t.Log(dump)
	if spent != 0 {
		t.Errorf("report within the cache time: spent %d calls; want 0", spent)
	}
	assertItems(t, r, map[string]want{
		readiness.CheckAPIAccess:          {readiness.OK, nil},
		readiness.CheckObjectAccess:       {readiness.OK, nil},
		readiness.CheckRecordVisibility:   {readiness.Warn, []string{"Lead records are private", "Lead Private", `"View All" on Lead`}},
		readiness.CheckRequiredFields:     {readiness.Fail, []string{"Lead.Score__c", "REQUIRED_FIELD_MISSING"}},
		readiness.CheckMappedFields:       {readiness.OK, nil},
		readiness.CheckRestrictedPicklist: {readiness.OK, nil},
		readiness.CheckWritebackFields:    {readiness.Warn, []string{"Contact.HasOptedOutOfEmail"}},
		readiness.CheckValidationRules:    {readiness.NotChecked, nil},
		readiness.CheckDuplicateRules:     {readiness.Warn, nil},
		readiness.CheckTaskStatus:         {readiness.OK, []string{`"Emailed" (API name "Emailed_Out")`, `API name is "Completed"`}},
		readiness.CheckAPIAllocation:      {readiness.OK, nil},
		readiness.CheckAPIBudget:          {readiness.OK, nil},
	})
	if got := strings.Join(r.Summary.Attention, ","); got != "record_visibility,required_fields,writeback_fields,duplicate_rules" {
		t.Errorf("attention: got %s; want record_visibility,required_fields,writeback_fields,duplicate_rules", got)
	}

	// Granting View All on Lead and mapping the field clear both, once the
	// cache time has passed.
	if err := w.sim.SetViewAll("Lead", true); err != nil {
		t.Fatal(err)
	}
	put := map[string]string{"If-Match": "*", "Content-Type": "application/json"}
	if code, body := w.call("team_c", "PUT", "/v1/salesforce/field-mappings/lead",
		`{"fields":[{"salesforce_field":"LastName","source":{"field":"last_name"}},{"salesforce_field":"Company","source":{"field":"company"}},`+
			`{"salesforce_field":"Email","source":{"field":"email"}},{"salesforce_field":"Score__c","source":{"constant":"1"}}]}`, put); code != 200 {
		t.Fatalf("save mapping: got %d %s", code, body)
	}
	w.advance(readiness.DefaultTTL + time.Second)
	r, _ = w.report(t, "team_c")
	for _, id := range []string{readiness.CheckRecordVisibility, readiness.CheckRequiredFields} {
		if it, _ := (readiness.Report{Items: r.Items}).Item(id); it.Status != readiness.OK {
			t.Errorf("%s after the fix: got %s (%s); want ok", id, it.Status, it.Explanation)
		}
	}
}

// asMember calls path as a member (not an admin) of team.
func (w *simWorld) asMember(team, method, path string) int {
	req := httptest.NewRequest(method, path, nil)
	req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: "member", Subject: "member-of-" + team}))
	rec := httptest.NewRecorder()
	w.router.ServeHTTP(rec, req)
	return rec.Code
}

// TestReadinessReportOfAnOrgOutOfCalls: Salesforce refuses every call
// (REQUEST_LIMIT_EXCEEDED); the report still answers, says so and checks
// nothing it could not read.
func TestReadinessReportOfAnOrgOutOfCalls(t *testing.T) {
	t.Parallel()
	w := newSimWorld(t, org.Config{})
	w.connect(t, "team_o")
	w.sim.SetAPIUsage(15000)
	w.advance(readiness.DefaultTTL)
	r, _ := w.report(t, "team_o")
	for _, it := range r.Items {
		want := readiness.NotChecked
		switch it.ID {
		case readiness.CheckAPIAllocation, readiness.CheckAPIBudget:
			want = readiness.Fail // the refusal reports the org's usage: it is out of calls
		}
		if it.Status != want {
			t.Errorf("%s: got %s (%s); want %s", it.ID, it.Status, it.Explanation, want)
		}
	}
	if code, body := w.call("team_x", "GET", "/v1/salesforce/readiness", "", nil); code != http.StatusConflict || !strings.Contains(body, "not_connected") {
		t.Errorf("a team without a connection: got %d %s; want 409 not_connected", code, body)
	}
}

// TestConnectSucceedsWhenTheReportCannotBeMade: Salesforce does not answer
// the report's calls; the connect still completes, without a summary, and
// the report answers 502 until Salesforce answers.
func TestConnectSucceedsWhenTheReportCannotBeMade(t *testing.T) {
	t.Parallel()
	w := newSimWorld(t, org.Config{})
	var refused atomic.Int64 // answers of the fault: the simulator counts no API call for them
	w.sim.AddFault(org.Fault{Method: "POST", PathRegexp: "/composite$", Status: 503, ErrorCode: "SERVER_UNAVAILABLE",
		OnFire: func() { refused.Add(1) }})
	if done := w.connect(t, "team_f"); strings.Contains(done, `"readiness"`) || !strings.Contains(done, `"status":"connected"`) {
		t.Errorf("connect completion: got %s; want connected, without a readiness summary", done)
	}
	if code, body := w.call("team_f", "GET", "/v1/salesforce", "", nil); code != 200 || strings.Contains(body, `"readiness"`) {
		t.Errorf("status: got %d %s; want 200 without a readiness summary", code, body)
	}
	before := refused.Load()
	if code, body := w.call("team_f", "GET", "/v1/salesforce/readiness", "", nil); code != http.StatusBadGateway {
		t.Errorf("readiness: got %d %s; want 502", code, body)
	}
	// the report's reads are not sent again within the request: one call, not three
	if spent := refused.Load() - before; spent != 1 {
		t.Errorf("calls of a report Salesforce answers 503: got %d; want 1", spent)
	}
	w.sim.ClearFaults()
	if r, spent := w.report(t, "team_f"); spent < 1 || len(r.Items) != 12 {
		t.Errorf("readiness once Salesforce answers: got %d items for %d calls; want 12 items", len(r.Items), spent)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/openapi"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/platform/wiring"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/schedule"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

func TestMain(m *testing.M) {
	ep, err := motoserver.Shared()
	if err == nil {
		awsCfg, err = motoserver.AWSConfig(context.Background(), ep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

// Routes whose handlers later work adds (contact sync, field mapping,
// hardening); every other declared route must be served.
var notYetServed = map[string]bool{}

type world struct {
	router *httpapi.Router
	conns  *connectiondb.Store
}

func newWorld(t *testing.T) world { t.Helper(); return newWorldAt(t, nil) }

// newWorldAt is newWorld with the limits' clock now (nil: time.Now).
func newWorldAt(t *testing.T, now func() time.Time) world {
	t.Helper()
	s, conns := newSettings(t, now)
	rt, _ := newRouter(newKit(s), s)
	return world{router: rt, conns: conns}
}

// newSettings provisions a stack's resources and returns the function's
// settings for them, and its connection store.
func newSettings(t *testing.T, now func() time.Time) (settings, *connectiondb.Store) {
	t.Helper()
	prov, err := runner.Provision(context.Background(), awsCfg, fmt.Sprintf("api%d", time.Now().UnixNano()%1e9), runner.ProvisionOptions{ClientSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	s := settings{base: provisionedBase(prov, "https://api.example.com/oauth/salesforce/callback"), returnURL: "https://app.example.com/integrations",
		contactQueueURL: prov.Env[resources.EnvContactQueueURL], now: now}
	conns := &connectiondb.Store{DB: dynamodb.NewFromConfig(awsCfg), Table: s.base.ConnectionsTable,
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(awsCfg), KeyID: prov.KeyID}}
	return s, conns
}

// provisionedBase is the configuration every function reads, for the
// provisioned resources, with the connect flow's callback URL.
func provisionedBase(prov *runner.Provisioned, callback string) wiring.Base {
	return wiring.Base{Function: "api", ConnectionsTable: prov.Env[resources.EnvConnectionsTable], PoliciesTable: prov.Env[resources.EnvPoliciesTable],
		LedgerTable: prov.Env[resources.EnvLedgerTable], TokenKeyID: prov.KeyID, ClientID: "cid", ClientSecretARN: prov.Env[resources.EnvClientSecretARN],
		RedirectURL: callback}
}

// newKit builds the function's adapters on the run's moto_server, logging
// nowhere.
func newKit(s settings) *wiring.Kit {
	return wiring.New(s.base, awsCfg, slog.New(slog.DiscardHandler))
}

// TestScheduledEventSweepsExpiredConsents: the schedule's event reaches the
// sweep of every team's consents nobody completed (a team that never comes
// back included): the expired one is revoked at Salesforce and dropped, the
// running one kept; an API request still reaches the router.
func TestScheduledEventSweepsExpiredConsents(t *testing.T) {
	t.Parallel()
	s, conns := newSettings(t, nil)
	var mu sync.Mutex
	var revoked []string
	sf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		revoked = append(revoked, r.URL.Path+" "+r.Form.Get("token"))
		mu.Unlock()
	}))
	t.Cleanup(sf.Close)
	ctx := context.Background()
	consent := func(team, state string, deadline time.Time) {
		t.Helper()
		if err := conns.SaveState(ctx, connection.PendingAuth{State: state, TeamID: team, Verifier: "v", Environment: connection.EnvCustom,
			LoginURL: sf.URL, ExpiresAt: deadline}); err != nil {
			t.Fatal(err)
		}
		if _, err := conns.TakeState(ctx, state); err != nil {
			t.Fatal(err)
		}
		if err := conns.SaveConsent(ctx, connection.Consent{State: state, TicketHash: connection.TicketHash("t"), ExpiresAt: deadline,
			Connection: connection.Connection{TeamID: team, Environment: connection.EnvCustom, LoginURL: sf.URL,
				AccessToken: team + "-access", RefreshToken: team + "-refresh"}}); err != nil {
			t.Fatal(err)
		}
	}
	consent("team_gone", "state-expired-0123456789", time.Now().Add(-time.Minute))
	consent("team_busy", "state-running-0123456789", time.Now().Add(5*time.Minute))

	h := handler(newKit(s), s)
	ev, _ := json.Marshal(schedule.NewEvent(time.Now(), "e1", "arn:aws:events:eu-west-1:000000000000:rule/sweep", "eu-west-1"))
	if _, err := h(ctx, ev); err != nil {
		t.Fatalf("scheduled event: %v", err)
	}
	mu.Lock()
	got := slices.Clone(revoked)
	mu.Unlock()
	if want := []string{"/services/oauth2/revoke team_gone-refresh"}; !slices.Equal(got, want) {
		t.Errorf("revoked: got %q; want %q", got, want)
	}
	if _, err := conns.TakeConsent(ctx, "state-expired-0123456789"); !errors.Is(err, connection.ErrNoConsent) {
		t.Errorf("the expired consent: got %v; want ErrNoConsent (dropped)", err)
	}
	if refs, err := conns.Consents(ctx, "team_busy"); err != nil || len(refs) != 1 {
		t.Errorf("the running consent: got %+v, %v; want it kept", refs, err)
	}
	req, _ := json.Marshal(events.APIGatewayV2HTTPRequest{RawPath: "/openapi.json", RouteKey: "GET /openapi.json",
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/openapi.json"}}})
	out, err := h(ctx, req)
	if resp, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || resp.StatusCode != 200 {
		t.Errorf("API request: got %+v, %v; want 200", out, err)
	}
}

func (w world) call(team, method, path, body string, hdr map[string]string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: "admin", Subject: "admin-of-" + team}))
	rec := httptest.NewRecorder()
	w.router.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestRouterServesTheDocumentedRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	served := map[string]bool{}
	for _, k := range w.router.Keys() {
		served[k] = true
	}
	for _, r := range resources.Routes {
		if served[r.Key()] == notYetServed[r.Key()] {
			t.Errorf("route %s: served %v; want %v", r.Key(), served[r.Key()], !notYetServed[r.Key()])
		}
	}
	code, body := w.call("team_a", "GET", "/openapi.json", "", nil)
	if code != 200 || !strings.Contains(body, `"openapi"`) {
		t.Errorf("GET /openapi.json: got %d; want 200 with the document", code)
	}
}

// TestTeamsCannotReachEachOther gives team B a connection, settings and a
// sequence override, then calls every served route as team A with team B's
// ids in the path, query and body: nothing of B's is shown or changed.
func TestTeamsCannotReachEachOther(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.conns.Replace(ctx, connection.Connection{TeamID: "team_b", ID: "connb", Environment: connection.EnvProduction,
		LoginURL: "https://login.salesforce.com", InstanceURL: "https://b-secret-org.my.salesforce.com", OrgID: "00DBBBBBBBBBBBBBBB",
		UserID: "005BBBBBBBBBBBBBBB", Username: "admin@b-secret-org.example", ConnectedAt: time.Now(), Status: connection.StatusConnected,
		AccessToken: "00DBBBBBBBBBBBBBBB!b-access", RefreshToken: "b-refresh", Version: 1}); err != nil {
		t.Fatal(err)
	}
	put := map[string]string{"If-Match": `"0"`, "Content-Type": "application/json"}
	if code, body := w.call("team_b", "PUT", "/v1/salesforce/settings", `{"sync_as":"contact","sync_mode":"on_reply","deduplication":false,"activity_tracking":false}`, put); code != 200 {
		t.Fatalf("team B settings: got %d %s", code, body)
	}
	if code, body := w.call("team_b", "PUT", "/v1/sequences/seq_b_only/salesforce", `{"sync_mode":"off","sync_as":"contact","sync_disabled":true}`, put); code != 200 {
		t.Fatalf("team B override: got %d %s", code, body)
	}
	_, bSettings := w.call("team_b", "GET", "/v1/salesforce/settings", "", nil)
	_, bOverride := w.call("team_b", "GET", "/v1/sequences/seq_b_only/salesforce", "", nil)

	bMarkers := []string{"00DBBBBBBBBBBBBBBB", "b-secret-org", "admin-of-team_b", `"on_reply"`, `"sync_disabled":true`}
	bodyWithB := `{"team_id":"team_b","sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true}`
	for _, r := range resources.Routes {
		if notYetServed[r.Key()] || r.Public {
			continue
		}
		path := strings.NewReplacer("{sequence_id}", "seq_b_only", "{contact_id}", "ct_b", "{object}", "lead").Replace(r.Path) + "?team_id=team_b"
		t.Run(r.Key(), func(t *testing.T) {
			code, body := w.call("team_a", r.Method, path, bodyWithB, map[string]string{"If-Match": "*", "Content-Type": "application/json"})
			for _, m := range bMarkers {
				if strings.Contains(body, m) {
					t.Errorf("team A saw team B's %s: %d %s", m, code, body)
				}
			}
			if code >= 500 {
				t.Errorf("got %d %s; want a 2xx or 4xx", code, body)
			}
			if code < 300 && r.Method == "GET" {
				openapitest.Validate(t, r.Method, r.Path, code, []byte(body))
			}
		})
	}
	// Team B's data is untouched.
	if c, err := w.conns.Get(ctx, "team_b"); err != nil || c.Status != connection.StatusConnected {
		t.Errorf("team B connection: got %v %v; want connected", c.Status, err)
	}
	if _, got := w.call("team_b", "GET", "/v1/salesforce/settings", "", nil); got != bSettings {
		t.Errorf("team B settings changed: got %s; want %s", got, bSettings)
	}
	if _, got := w.call("team_b", "GET", "/v1/sequences/seq_b_only/salesforce", "", nil); !sameVersion(got, bOverride) {
		t.Errorf("team B override changed: got %s; want %s", got, bOverride)
	}
}

func sameVersion(a, b string) bool {
	var x, y struct {
		Version int `json:"version"`
	}
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && x.Version == y.Version && x.Version > 0
}

// serve sends one request to the router as team's admin and returns the
// whole answer.
func (w world) serve(team, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: "admin", Subject: "admin-of-" + team}))
	rec := httptest.NewRecorder()
	w.router.ServeHTTP(rec, req)
	return rec
}

// documentedMediaTypes lists the media types the OpenAPI document gives
// for an operation's status (following a $ref).
func documentedMediaTypes(t *testing.T, method, route string, status int) []string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapi.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	get := func(v any, k string) any { m, _ := v.(map[string]any); return m[k] }
	r := get(get(get(get(get(doc, "paths"), route), strings.ToLower(method)), "responses"), strconv.Itoa(status))
	if ref, ok := get(r, "$ref").(string); ok {
		r = doc
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			r = get(r, p)
		}
	}
	var out []string
	for mt := range get(r, "content").(map[string]any) {
		out = append(out, mt)
	}
	return out
}

// TestConnectRoutesAnswerAsDocumented drives the connection routes through
// the function's own router and configuration (client secret from Secrets
// Manager, tokens sealed with KMS) and checks each answer against the
// OpenAPI document.
func TestConnectRoutesAnswerAsDocumented(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	revoked := make(chan string, 1)
	login := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services/oauth2/revoke" && r.ParseForm() == nil {
			revoked <- r.Form.Get("token")
			return
		}
		http.NotFound(rw, r)
	}))
	t.Cleanup(login.Close)
	if _, err := w.conns.Replace(ctx, connection.Connection{TeamID: "team_c", ID: "connc", Environment: connection.EnvCustom,
		LoginURL: login.URL, InstanceURL: "https://c.my.salesforce.com", OrgID: "00DC0000000CCCCMAA", UserID: "005C0000000CCCCIAW",
		Username: "admin@c.example", ConnectedAt: time.Now(), Status: connection.StatusConnected,
		AccessToken: "00DC0000000CCCC!c-access", RefreshToken: "c-refresh", Version: 1}); err != nil {
		t.Fatal(err)
	}

	var authorizeURL string
	steps := []struct {
		name, team, method, path, body string
		wantStatus                     int
		check                          func(t *testing.T, rec *httptest.ResponseRecorder)
	}{
		{"status of a team never connected", "team_a", "GET", "/v1/salesforce", "", 200, nil},
		{"disconnect a team never connected", "team_a", "DELETE", "/v1/salesforce", "", 204, nil},
		{"connect production", "team_a", "POST", "/v1/salesforce/connect", `{"environment":"production"}`, 200,
			func(t *testing.T, rec *httptest.ResponseRecorder) {
				var out struct {
					AuthorizeURL string `json:"authorize_url"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &out)
				u, err := url.Parse(out.AuthorizeURL)
				if err != nil || u.Host != "login.salesforce.com" || u.Query().Get("redirect_uri") != "https://api.example.com/oauth/salesforce/callback" ||
					u.Query().Get("client_id") != "cid" {
					t.Errorf("authorize_url: got %s; want login.salesforce.com with the configured client id and callback", out.AuthorizeURL)
				}
				authorizeURL = out.AuthorizeURL
			}},
		{"connect sandbox", "team_a", "POST", "/v1/salesforce/connect", `{"environment":"sandbox"}`, 200, nil},
		{"connect a My Domain", "team_a", "POST", "/v1/salesforce/connect", `{"environment":"custom","login_url":"https://acme.my.salesforce.com"}`, 200, nil},
		{"unknown environment", "team_a", "POST", "/v1/salesforce/connect", `{"environment":"staging"}`, 400, nil},
		{"login URL off Salesforce", "team_a", "POST", "/v1/salesforce/connect", `{"environment":"custom","login_url":"https://evil.example.com"}`, 400, nil},
		{"login URL with a fixed environment", "team_a", "POST", "/v1/salesforce/connect", `{"environment":"sandbox","login_url":"https://acme.my.salesforce.com"}`, 400, nil},
		{"a team in the body", "team_a", "POST", "/v1/salesforce/connect", `{"environment":"production","team_id":"team_b"}`, 400, nil},
		{"not JSON", "team_a", "POST", "/v1/salesforce/connect", `{`, 400, nil},
		{"callback with a forged state", "", "GET", "/oauth/salesforce/callback?state=forged&code=aPrx", "", 400, nil},
		{"callback without a state", "", "GET", "/oauth/salesforce/callback?code=aPrx", "", 400, nil},
		{"status of a connected team", "team_c", "GET", "/v1/salesforce", "", 200,
			func(t *testing.T, rec *httptest.ResponseRecorder) {
				if !strings.Contains(rec.Body.String(), `"status":"connected"`) || strings.Contains(rec.Body.String(), "c-access") {
					t.Errorf("status: got %s; want connected, without tokens", rec.Body.String())
				}
			}},
		{"disconnect a connected team", "team_c", "DELETE", "/v1/salesforce", "", 204,
			func(t *testing.T, rec *httptest.ResponseRecorder) {
				select {
				case tok := <-revoked:
					if tok != "c-refresh" {
						t.Errorf("revoked: got another token; want the refresh token")
					}
				default:
					t.Errorf("disconnect did not revoke at Salesforce")
				}
			}},
	}
	for _, st := range steps {
		rec := w.serve(st.team, st.method, st.path, st.body)
		if rec.Code != st.wantStatus {
			t.Errorf("%s: %s %s: got %d %s; want %d", st.name, st.method, st.path, rec.Code, rec.Body.String(), st.wantStatus)
			continue
		}
		route, _, _ := strings.Cut(st.path, "?")
		if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
			if mts := documentedMediaTypes(t, st.method, route, rec.Code); !slices.Contains(mts, "text/html") {
				t.Errorf("%s: got an HTML page; the document lists %v for %d", st.name, mts, rec.Code)
			}
		} else {
			openapitest.Validate(t, st.method, route, rec.Code, rec.Body.Bytes())
		}
		if st.check != nil {
			st.check(t, rec)
		}
	}

	// Salesforce sends the browser back with the state and the admin's
	// refusal: a documented redirect to the return URL.
	au, err := url.Parse(authorizeURL)
	if err != nil || au.Query().Get("state") == "" {
		t.Fatalf("no state in the authorize URL %q", authorizeURL)
	}
	rec := w.serve("", "GET", "/oauth/salesforce/callback?"+url.Values{"state": {au.Query().Get("state")}, "error": {"access_denied"}}.Encode(), "")
	if got, want := rec.Header().Get("Location"), "https://app.example.com/integrations?reason=access_denied&salesforce=denied"; rec.Code != 302 || got != want {
		t.Fatalf("callback: got %d Location %q; want 302 to %s", rec.Code, got, want)
	}
	openapitest.Validate(t, "GET", "/oauth/salesforce/callback", rec.Code, nil) // the body is net/http's courtesy link
}

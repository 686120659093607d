package connecthttp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

var awsCfg aws.Config

func TestMain(m *testing.M) {
	ep, err := motoserver.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	awsCfg, err = motoserver.AWSConfig(context.Background(), ep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

const clientSecret = "test-consumer-secret"

// env is one test's world: moto resources, a simulated org, and the API's
// connection routes served over HTTP.
type env struct {
	t         *testing.T
	sim       *org.Org
	api       *httptest.Server
	store     *connectiondb.Store
	connector *connection.Connector
	returnURL string
	logs      *bytes.Buffer
	ddb       *dynamodb.Client
	table     string
	transport *edge

	mu        sync.Mutex
	validated map[string]bool // "METHOD route status" checked against the OpenAPI document
}

// edge observes and, when asked, alters the OAuth traffic on the wire. It
// keeps every secret that crosses it: authorization codes, PKCE verifiers,
// access and refresh tokens (also those rotation replaces).
type edge struct {
	refreshes       atomic.Int64
	tamperSignature atomic.Bool
	tamperVerifier  atomic.Bool
	// tamperIdentity makes the identity answer name another org than the
	// identity URL does.
	tamperIdentity atomic.Bool

	mu         sync.Mutex
	seen       []string
	granted    []string // refresh tokens of the token answers, in order
	identities []string // identity URLs asked, in order
}

// otherOrgID is an org that is not the simulator's.
const otherOrgID = "00D5g0000000002EAA"

// identityAsked returns the identity URLs asked so far.
func (e *edge) identityAsked() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.identities)
}

// lastGranted returns the refresh token of the last token answer.
func (e *edge) lastGranted() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.granted) == 0 {
		return ""
	}
	return e.granted[len(e.granted)-1]
}

func (e *edge) keep(secrets ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range secrets {
		if s != "" && !slices.Contains(e.seen, s) {
			e.seen = append(e.seen, s)
		}
	}
}

// secrets returns every secret seen on the wire so far.
func (e *edge) secrets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen)
}

func (e *edge) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/services/oauth2/token" && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		e.keep(form.Get("code"), form.Get("code_verifier"), form.Get("refresh_token"))
		if form.Get("grant_type") == "refresh_token" {
			e.refreshes.Add(1)
		}
		if e.tamperVerifier.Load() && form.Get("code_verifier") != "" {
			form.Set("code_verifier", strings.Repeat("A", 43))
		}
		body = []byte(form.Encode())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	if strings.HasPrefix(r.URL.Path, "/id/") {
		return e.identity(r)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.URL.Path != "/services/oauth2/token" || resp.StatusCode != 200 {
		return resp, err
	}
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	access, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	e.keep(access, refresh)
	if refresh != "" {
		e.mu.Lock()
		e.granted = append(e.granted, refresh)
		e.mu.Unlock()
	}
	if e.tamperSignature.Load() {
		m["signature"] = "dGFtcGVyZWQ="
		b, _ = json.Marshal(m)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

// identity asks the identity URL, noting it, and alters the answer when
// asked to.
func (e *edge) identity(r *http.Request) (*http.Response, error) {
	e.mu.Lock()
	e.identities = append(e.identities, r.URL.String())
	e.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !e.tamperIdentity.Load() || resp.StatusCode != 200 {
		return resp, err
	}
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	m["organization_id"] = otherOrgID
	b, _ = json.Marshal(m)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

type simOptions struct {
	autoApprove bool
	rotate      bool
	// unregisteredRedirect configures the API with a callback URL the
	// connected app does not list.
	unregisteredRedirect bool
	// purger serves DELETE /v1/salesforce?purge=true.
	purger connecthttp.Purger
}

// otherCallback is a second callback URL the connected app lists (another
// deployment of the API, say): a code issued for it is not ours to redeem.
const otherCallback = "/elsewhere/callback"

func newEnv(t *testing.T, so simOptions) *env {
	t.Helper()
	ctx := context.Background()
	prefix := "c" + randomHex(6)
	prov, err := runner.Provision(ctx, awsCfg, prefix, runner.ProvisionOptions{ClientSecret: clientSecret})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	e := &env{t: t, logs: &bytes.Buffer{}, transport: &edge{}, ddb: dynamodb.NewFromConfig(awsCfg),
		table: prov.Env[resources.EnvConnectionsTable], validated: map[string]bool{}}
	// The API listens first so the simulator can register its callback URL.
	var handler http.Handler = http.NotFoundHandler()
	var claims atomic.Pointer[httpapi.Claims]
	e.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/return" || r.URL.Path == otherCallback {
			w.Write([]byte("returned: " + r.URL.RawQuery))
			return
		}
		if c := claims.Load(); c != nil && strings.HasPrefix(r.URL.Path, "/v1/") {
			if team := r.Header.Get(asTeam); team != "" { // a request of doAs
				c = &httpapi.Claims{TeamID: team, Role: r.Header.Get(asRole), Subject: r.Header.Get(asSubject)}
			}
			r = r.WithContext(httpapi.WithClaims(r.Context(), c))
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(e.api.Close)
	e.sim = org.New(org.Config{ClientID: "test-client", ClientSecret: clientSecret, AutoApprove: so.autoApprove,
		Rotate: so.rotate, RedirectURIs: []string{e.api.URL + "/oauth/salesforce/callback", e.api.URL + otherCallback}})
	if _, err := e.sim.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { e.sim.Close() })
	e.store = &connectiondb.Store{DB: e.ddb, Table: e.table,
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(awsCfg), KeyID: prov.KeyID}}
	redirect := e.api.URL + "/oauth/salesforce/callback"
	if so.unregisteredRedirect {
		redirect = e.api.URL + "/oauth/salesforce/callback/"
	}
	e.connector = &connection.Connector{Store: e.store, HTTP: &http.Client{Transport: e.transport}, Log: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Config: connection.OAuthConfig{ClientID: "test-client", RedirectURL: redirect,
			ClientSecret: func(context.Context) (string, error) { return clientSecret, nil }, AllowInsecureLoginURLs: true}}
	e.returnURL = e.api.URL + "/return"
	rt := httpapi.NewRouter()
	(&connecthttp.Handlers{Connector: e.connector, Store: e.store, ReturnURL: e.returnURL,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Purger: so.purger}).Register(rt)
	handler = rt
	claims.Store(&httpapi.Claims{TeamID: "team_a", Role: "admin", Subject: "admin_1"})
	return e
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// The headers by which doAs tells the test's edge which verified claims a
// request carries (the edge in front of the API sets the claims; callers
// cannot).
const (
	asTeam    = "X-Test-Team"
	asRole    = "X-Test-Role"
	asSubject = "X-Test-Subject"
)

// do calls the API as team_a's admin_1 and checks the answer against the
// OpenAPI document.
func (e *env) do(method, path, body string) (*http.Response, string) {
	e.t.Helper()
	return e.doAs(httpapi.Claims{}, method, path, body)
}

// doAs calls the API with the given verified claims (team_a's admin_1 when
// empty) and checks the answer against the OpenAPI document.
func (e *env) doAs(c httpapi.Claims, method, path, body string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	if c.TeamID != "" {
		req.Header.Set(asTeam, c.TeamID)
		req.Header.Set(asRole, c.Role)
		req.Header.Set(asSubject, c.Subject)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	route, _, _ := strings.Cut(path, "?")
	documented(e.t, method, route, resp, b)
	e.mu.Lock()
	e.validated[fmt.Sprintf("%s %s %d", method, route, resp.StatusCode)] = true
	e.mu.Unlock()
	return resp, string(b)
}

// beginConnect posts /v1/salesforce/connect and returns the authorize URL.
func (e *env) beginConnect() string {
	e.t.Helper()
	resp, body := e.do("POST", "/v1/salesforce/connect", fmt.Sprintf(`{"environment":"custom","login_url":%q}`, e.sim.URL()))
	if resp.StatusCode != 200 {
		e.t.Fatalf("connect: got %d %s; want 200", resp.StatusCode, body)
	}
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	_ = json.Unmarshal([]byte(body), &out)
	return out.AuthorizeURL
}

// authorize follows the simulator's auto-approval and returns the callback URL.
func (e *env) authorize(authorizeURL string) *url.URL {
	e.t.Helper()
	resp, err := noRedirect.Get(authorizeURL)
	if err != nil {
		e.t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("authorize: got %d; want 302", resp.StatusCode)
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u
}

func (e *env) callback(u *url.URL) (*http.Response, string) {
	return e.do("GET", u.Path+"?"+u.RawQuery, "")
}

// consented runs the callback and returns the state and ticket of the
// redirect to the return URL.
func (e *env) consented(cb *url.URL) (string, string) {
	e.t.Helper()
	resp, body := e.callback(cb)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != http.StatusFound || q.Get("salesforce") != "consented" || q.Get("ticket") == "" {
		e.t.Fatalf("callback: got %d %s Location %q; want a redirect with salesforce=consented, the state and a ticket", resp.StatusCode, body, loc.Redacted())
	}
	return q.Get("state"), q.Get("ticket")
}

// complete posts /v1/salesforce/connect/complete with claims.
func (e *env) complete(c httpapi.Claims, state, ticket string) (*http.Response, string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"state": state, "ticket": ticket})
	return e.doAs(c, "POST", "/v1/salesforce/connect/complete", string(b))
}

// connect runs the whole flow as team_a's admin_1 with the simulator's
// auto-approval and returns the stored connection.
func (e *env) connect() connection.Connection {
	e.t.Helper()
	state, ticket := e.consented(e.authorize(e.beginConnect()))
	if resp, body := e.complete(httpapi.Claims{}, state, ticket); resp.StatusCode != http.StatusOK {
		e.t.Fatalf("complete: got %d %s; want 200", resp.StatusCode, body)
	}
	c, err := e.store.Get(context.Background(), "team_a")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestConnectFlowStoresAUsableConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	authURL := e.beginConnect()
	au, _ := url.Parse(authURL)
	q := au.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) != 43 {
		t.Fatalf("authorize URL lacks PKCE S256 or a 256-bit state: %s", authURL)
	}
	if q.Get("prompt") != "login consent" {
		t.Errorf("authorize URL: prompt %q; want %q", q.Get("prompt"), "login consent")
	}
	cb := e.authorize(authURL)
	resp, _ := e.callback(cb)
	loc := resp.Header.Get("Location")
	lu, _ := url.Parse(loc)
	state, ticket := lu.Query().Get("state"), lu.Query().Get("ticket")
	if want := e.returnURL + "?salesforce=consented&state=" + q.Get("state") + "&ticket="; !strings.HasPrefix(loc, want) || state != q.Get("state") || len(ticket) != 43 {
		t.Fatalf("callback redirect: got %d, Location %q; want %s<a 256-bit ticket>", resp.StatusCode, loc, want)
	}
	if strings.Contains(loc, cb.Query().Get("code")) {
		t.Fatalf("callback redirect carries the authorization code")
	}
	// Consent alone connects nothing.
	_, body := e.do("GET", "/v1/salesforce", "")
	if !strings.Contains(body, `"status":"disconnected"`) {
		t.Fatalf("status after the callback: got %s; want disconnected", body)
	}
	resp, body = e.complete(httpapi.Claims{}, state, ticket)
	var done connecthttp.StatusResponse
	_ = json.Unmarshal([]byte(body), &done)
	if resp.StatusCode != 200 || done.Status != connection.StatusConnected || !strings.HasPrefix(done.OrgID, "00D") || done.Username == "" ||
		done.OrgName != "Sfsim Org" {
		t.Fatalf("complete: got %d %s; want 200 connected with the org id, its name and the username", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/v1/salesforce", "")
	var st connecthttp.StatusResponse
	_ = json.Unmarshal([]byte(body), &st)
	if resp.StatusCode != 200 || st.Status != connection.StatusConnected || st.OrgID != done.OrgID || st.OrgName != done.OrgName ||
		st.Username != done.Username || st.ConnectedAt == nil {
		t.Fatalf("status: got %d %s; want 200 connected with org id and name, username and time", resp.StatusCode, body)
	}
	// The stored tokens work for a data call.
	tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "t"}
	c := &salesforce.Client{Session: tokens}
	if _, err := salesforce.Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead"); err != nil {
		t.Fatalf("query with stored tokens: %v", err)
	}
	// No token, code or verifier appears in any stored item or log line.
	conn, err := e.store.Get(context.Background(), "team_a")
	if err != nil {
		t.Fatal(err)
	}
	if code := cb.Query().Get("code"); !slices.Contains(e.transport.secrets(), code) {
		t.Fatalf("the authorization code was not seen on the wire")
	}
	e.assertNoSecrets(conn.AccessToken, conn.RefreshToken)
	// Disconnect revokes at Salesforce and deletes our copy.
	if resp, _ := e.do("DELETE", "/v1/salesforce", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disconnect: got %d; want 204", resp.StatusCode)
	}
	if _, err := e.store.Get(context.Background(), "team_a"); !errors.Is(err, connection.ErrNotConnected) {
		t.Errorf("after disconnect: got %v; want ErrNotConnected", err)
	}
	if err := e.sim.RevokeRefreshToken(conn.RefreshToken); err == nil {
		t.Errorf("refresh token still valid at Salesforce after disconnect")
	}
}

// assertNoSecrets looks in every DynamoDB item and log line for the given
// secrets, the client secret, and every secret seen on the wire: codes,
// verifiers, access and refresh tokens, including refresh tokens that
// rotation or a reconnect replaced.
func (e *env) assertNoSecrets(secrets ...string) {
	e.t.Helper()
	out, err := e.ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: &e.table})
	if err != nil {
		e.t.Fatal(err)
	}
	dump, _ := json.Marshal(out.Items)
	logs := e.logs.String()
	all := append(append(secrets, clientSecret), e.transport.secrets()...)
	for _, s := range all {
		if s == "" {
			e.t.Fatal("empty secret to look for")
		}
		if bytes.Contains(dump, []byte(s)) {
			e.t.Errorf("a secret (%d characters, %.4s...) appears in a DynamoDB item", len(s), s)
		}
		if strings.Contains(logs, s) {
			e.t.Errorf("a secret (%d characters, %.4s...) appears in the logs", len(s), s)
		}
	}
}

func TestCallbackRejectsBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		prepare    func(e *env) *url.URL // returns the callback URL to hit
		wantStatus int
		wantReason string // redirect reason, "" for an error page
		wantLog    string // what the warning tells the operator, when it says more than the reason
	}{
		{"forged state", func(e *env) *url.URL {
			u := e.authorize(e.beginConnect())
			q := u.Query()
			q.Set("state", "forged"+q.Get("state")[6:])
			u.RawQuery = q.Encode()
			return u
		}, 400, "", ""},
		{"missing state", func(e *env) *url.URL {
			u := e.authorize(e.beginConnect())
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
			return u
		}, 400, "", ""},
		{"replayed state", func(e *env) *url.URL {
			u := e.authorize(e.beginConnect())
			if resp, _ := e.callback(u); resp.StatusCode != http.StatusFound {
				e.t.Fatalf("first callback: got %d; want 302", resp.StatusCode)
			}
			return u
		}, 400, "", ""},
		{"expired state", func(e *env) *url.URL {
			u := e.authorize(e.beginConnect())
			e.connector.Now = func() time.Time { return time.Now().Add(connection.StateTTL + time.Minute) }
			return u
		}, 400, "", ""},
		{"access denied", func(e *env) *url.URL {
			u := e.authorize(e.beginConnect())
			q := u.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			u.RawQuery = q.Encode()
			return u
		}, 302, "access_denied", ""},
		{"tampered signature", func(e *env) *url.URL {
			e.transport.tamperSignature.Store(true)
			return e.authorize(e.beginConnect())
		}, 302, "bad_signature", ""},
		{"identity answer of another org than its URL", func(e *env) *url.URL {
			e.transport.tamperIdentity.Store(true)
			return e.authorize(e.beginConnect())
		}, 302, "bad_identity", "another org"},
		{"PKCE mismatch", func(e *env) *url.URL {
			e.transport.tamperVerifier.Store(true)
			return e.authorize(e.beginConnect())
		}, 302, "exchange_failed", ""},
		{"code issued for another redirect_uri", func(e *env) *url.URL {
			// The connected app also lists another callback: Salesforce sends
			// the code there, and someone replays it on ours. The exchange
			// names our redirect_uri, which Salesforce refuses.
			au, _ := url.Parse(e.beginConnect())
			q := au.Query()
			q.Set("redirect_uri", e.api.URL+otherCallback)
			au.RawQuery = q.Encode()
			u := e.authorize(au.String())
			if u.Path != otherCallback || u.Query().Get("code") == "" {
				e.t.Fatalf("authorize: got %s; want a code sent to %s", u, otherCallback)
			}
			u.Path = "/oauth/salesforce/callback"
			return u
		}, 302, "exchange_failed", "redirect_uri_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simOptions{autoApprove: true})
			u := tt.prepare(e)
			resp, body := e.callback(u)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("callback: got %d %s; want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantReason != "" {
				if got, want := resp.Header.Get("Location"), e.returnURL+"?reason="+tt.wantReason+"&salesforce=denied"; got != want {
					t.Errorf("redirect: got %q; want %q", got, want)
				}
			} else if !strings.Contains(body, "nothing was saved") {
				t.Errorf("error page: got %q; want a clear message", body)
			}
			if tt.wantLog != "" && !strings.Contains(e.logs.String(), tt.wantLog) {
				t.Errorf("logs: got %s; want a warning naming %s", e.logs.String(), tt.wantLog)
			}
			if _, err := e.store.Get(context.Background(), "team_a"); !errors.Is(err, connection.ErrNotConnected) {
				t.Errorf("connection stored after a rejected callback: got %v; want ErrNotConnected", err)
			}
			e.assertNoSecrets()
		})
	}
}

func TestUnregisteredRedirectURIStopsAtSalesforce(t *testing.T) {
	t.Parallel()
	// The API's callback URL is not one the connected app lists (a typo in
	// OAUTH_REDIRECT_URL, a trailing slash): Salesforce shows its own error
	// page and never redirects, so the product never sees a callback.
	e := newEnv(t, simOptions{autoApprove: true, unregisteredRedirect: true})
	authURL := e.beginConnect()
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), "redirect_uri_mismatch") {
		t.Fatalf("authorize: got %d %q Location %q; want Salesforce's 400 page naming redirect_uri_mismatch", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	if _, err := e.store.Get(context.Background(), "team_a"); !errors.Is(err, connection.ErrNotConnected) {
		t.Errorf("connection: got %v; want ErrNotConnected", err)
	}
	if got := e.transport.secrets(); len(got) != 0 {
		t.Errorf("token requests: got %d secrets exchanged; want none", len(got))
	}
}

func TestReconnectRevokesThePreviousRefreshToken(t *testing.T) {
	t.Parallel()
	for _, rotate := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotation %v", rotate), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simOptions{autoApprove: true, rotate: rotate})
			ctx := context.Background()
			first := e.connect()
			second := e.connect()
			if second.ID == first.ID || second.RefreshToken == first.RefreshToken {
				t.Fatalf("reconnect: got the same connection id or refresh token; want new ones")
			}
			// The first grant is dead at Salesforce: its refresh token and its
			// access token.
			if status, code := e.refreshGrant(first.RefreshToken); status != http.StatusBadRequest || code != "invalid_grant" {
				t.Errorf("refresh with the first refresh token: got %d %s; want 400 invalid_grant", status, code)
			}
			static := &salesforce.Client{Session: fixedSession(first.Token())}
			if _, err := salesforce.Query[map[string]any](ctx, static, "SELECT Id FROM Lead"); !errors.Is(err, salesforce.ErrSessionExpired) {
				t.Errorf("query with the first access token: got %v; want ErrSessionExpired", err)
			}
			// The second grant works, through a refresh of its refresh token.
			e.sim.ExpireAccessTokens()
			before := e.transport.refreshes.Load()
			tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "after-reconnect"}
			if _, err := salesforce.Query[map[string]any](ctx, &salesforce.Client{Session: tokens}, "SELECT Id FROM Lead"); err != nil {
				t.Errorf("query with the second connection: got %v; want success", err)
			}
			if got := e.transport.refreshes.Load() - before; got != 1 {
				t.Errorf("refresh grants: got %d; want 1", got)
			}
			if c, err := e.store.Get(ctx, "team_a"); err != nil || c.Status != connection.StatusConnected || c.ID != second.ID {
				t.Errorf("stored: got %v %v; want the second connection, connected", c.Status, err)
			}
			e.assertNoSecrets(first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken)
		})
	}
}

// refreshGrant posts a refresh_token grant to the simulator and returns the
// status and OAuth error code.
func (e *env) refreshGrant(refresh string) (int, string) {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"test-client"}, "client_secret": {clientSecret}}
	resp, err := http.PostForm(e.sim.URL()+"/services/oauth2/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error
}

// fixedSession always offers the same token and cannot refresh it.
type fixedSession salesforce.Token

func (s fixedSession) Current(context.Context) (salesforce.Token, error) {
	return salesforce.Token(s), nil
}
func (s fixedSession) Refresh(_ context.Context, stale salesforce.Token) (salesforce.Token, error) {
	return stale, nil
}

func TestConnectValidatesInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	tests := []struct {
		body      string
		wantField string
	}{
		{`{"environment":"staging"}`, "environment"},
		{`{"environment":"custom","login_url":"https://evil.example.com"}`, "login_url"},
		{`{"environment":"custom","login_url":"http://acme.my.salesforce.com"}`, "login_url"},
		{`{"environment":"custom","login_url":"https://acme.my.salesforce.com/path"}`, "login_url"},
		{`{"environment":"custom","login_url":"https://user@acme.my.salesforce.com"}`, "login_url"},
		{`{"environment":"production","login_url":"https://acme.my.salesforce.com"}`, "login_url"},
		{`{"environment":"production","team_id":"team_b"}`, "team_id"},
		{`{"environment":7}`, "environment"},
		{`not json`, "body"},
	}
	for _, tt := range tests {
		resp, body := e.do("POST", "/v1/salesforce/connect", tt.body)
		var out struct {
			Error httpapi.ErrorDetail `json:"error"`
		}
		_ = json.Unmarshal([]byte(body), &out)
		if resp.StatusCode != 400 || out.Error.Field != tt.wantField {
			t.Errorf("connect %s: got %d field %q; want 400 field %q", tt.body, resp.StatusCode, out.Error.Field, tt.wantField)
		}
	}
}

func TestConcurrentWorkersRefreshOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true, rotate: true})
	e.connect()
	e.sim.ExpireAccessTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: fmt.Sprintf("worker-%d", i)}
			c := &salesforce.Client{Session: tokens}
			_, err := salesforce.Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("worker: got %v; want success", err)
		}
	}
	if got := e.transport.refreshes.Load(); got != 1 {
		t.Errorf("refresh grants: got %d; want 1", got)
	}
	conn, err := e.store.Get(context.Background(), "team_a")
	if err != nil || conn.Status != connection.StatusConnected {
		t.Fatalf("status: got %v %v; want connected", conn.Status, err)
	}
	// With rotation on, the saved refresh token is the newest: it still works.
	e.sim.ExpireAccessTokens()
	tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "late"}
	if _, err := salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: tokens}, "SELECT Id FROM Lead"); err != nil {
		t.Errorf("after rotation: got %v; want success", err)
	}
	// Neither the current tokens nor the refresh tokens rotation replaced
	// appear at rest or in the logs.
	conn, err = e.store.Get(context.Background(), "team_a")
	if err != nil {
		t.Fatal(err)
	}
	e.assertNoSecrets(conn.AccessToken, conn.RefreshToken)
	if got := len(e.transport.secrets()); got < 5 {
		t.Errorf("secrets seen on the wire: got %d; want the code, the verifier and at least three refresh tokens", got)
	}
}

func TestRevokedRefreshTokenMarksNeedsReauth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	e.connect()
	first, err := e.store.Get(context.Background(), "team_a")
	if err != nil {
		t.Fatal(err)
	}
	e.sim.RevokeAllRefreshTokens()
	tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "w"}
	_, err = salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: tokens}, "SELECT Id FROM Lead")
	if !errors.Is(err, connection.ErrNeedsReauth) {
		t.Fatalf("query: got %v; want ErrNeedsReauth", err)
	}
	_, body := e.do("GET", "/v1/salesforce", "")
	if !strings.Contains(body, `"status":"needs_reauth"`) {
		t.Errorf("status: got %s; want needs_reauth", body)
	}
	// Reconnecting makes the team live again.
	before := time.Now()
	e.connect()
	tokens = &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "w2"}
	if _, err := salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: tokens}, "SELECT Id FROM Lead"); err != nil {
		t.Errorf("after reconnect: got %v; want success", err)
	}
	// Consenting again to the same org continues the connection: the
	// events held meanwhile are not "before the connection".
	again, err := e.store.Get(context.Background(), "team_a")
	if err != nil || !again.ConnectedAt.Equal(first.ConnectedAt) || again.ID == first.ID {
		t.Errorf("reconnected: got connected_at %v (id changed %v), %v; want the first connection's %v", again.ConnectedAt, again.ID != first.ID, err, first.ConnectedAt)
	}
	// The events parked meanwhile come back from now on: HeldAt says so.
	if !first.HeldAt.IsZero() || again.HeldAt.Before(before.Add(-time.Second)) {
		t.Errorf("HeldAt: got %v before and %v after the reconnect; want zero, then the reconnect's time (about %v)", first.HeldAt, again.HeldAt, before)
	}
}

func TestCiphertextMovedToAnotherTeamFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	e.connect()
	ctx := context.Background()
	out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.table, Key: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "TEAM#team_a"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "CONNECTION"}}})
	if err != nil {
		t.Fatal(err)
	}
	out.Item["pk"] = &ddbtypes.AttributeValueMemberS{Value: "TEAM#team_b"}
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &e.table, Item: out.Item}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Get(ctx, "team_b"); !errors.Is(err, sealing.ErrCannotOpen) {
		t.Errorf("open team A's tokens as team B: got %v; want ErrCannotOpen", err)
	}
}

// retryingDB sends every UpdateItem twice and keeps the second answer, as the
// SDK does when DynamoDB committed a write and the answer was lost.
type retryingDB struct{ *dynamodb.Client }

func (d retryingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return motoserver.SentTwice(ctx, d.Client.UpdateItem, in, opts...)
}

func TestTakeStateSurvivesARetriedRequestButNotASecondCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	state := e.authorize(e.beginConnect()).Query().Get("state")
	store := &connectiondb.Store{DB: retryingDB{e.ddb}, Table: e.table, Sealer: e.store.Sealer}
	ctx := context.Background()
	p, err := store.TakeState(ctx, state)
	if err != nil || p.TeamID != "team_a" {
		t.Fatalf("first take (request retried): got %+v, %v; want team_a's authorization", p.TeamID, err)
	}
	if _, err := store.TakeState(ctx, state); !errors.Is(err, connection.ErrStateUnknown) {
		t.Errorf("second take: got %v; want ErrStateUnknown", err)
	}
}

// TestConnectWithTheIdentityOnAnotherHost: like a token asked from a My
// Domain, which names its identity URL on login.salesforce.com, the
// simulator names the identity URL on another host than the login URL the
// admin gave. The connect succeeds, and reads the identity there. An
// identity answer naming another org than the URL is refused, and the
// grant revoked.
func TestConnectWithTheIdentityOnAnotherHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	c := e.connect()
	asked := e.transport.identityAsked()
	login, _ := url.Parse(e.sim.URL())
	if len(asked) != 1 {
		t.Fatalf("identity URLs asked: got %q; want one", asked)
	}
	if idu, _ := url.Parse(asked[0]); idu.Host == login.Host || idu.Port() != login.Port() {
		t.Fatalf("identity URL %s: want it on another host than the login URL %s (same port)", asked[0], e.sim.URL())
	}
	if c.OrgID != e.sim.OrgID() || c.UserID != e.sim.UserID() || c.LoginURL != e.sim.URL() {
		t.Errorf("connection: got org %s user %s login %s; want the simulator's org and user, and its login URL", c.OrgID, c.UserID, c.LoginURL)
	}

	e.transport.tamperIdentity.Store(true)
	resp, _ := e.callback(e.authorize(e.beginConnect()))
	if got, want := resp.Header.Get("Location"), e.returnURL+"?reason=bad_identity&salesforce=denied"; got != want {
		t.Fatalf("callback with another org's identity: redirect %q; want %q", got, want)
	}
	if status, code := e.refreshGrant(e.transport.lastGranted()); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("the refused grant's refresh token at Salesforce: got %d %s; want 400 invalid_grant (revoked)", status, code)
	}
	if again, err := e.store.Get(context.Background(), "team_a"); err != nil || again.ID != c.ID || again.OrgID != e.sim.OrgID() {
		t.Errorf("after the refused connect: got %v; want the first connection unchanged", err)
	}
}

// TestConnectWithoutTheOrgName: the org name is optional; when Salesforce
// fails its query the connect completes without it, and says why in the log.
func TestConnectWithoutTheOrgName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	if _, err := e.sim.AddFault(org.Fault{Method: "GET", PathRegexp: `/query`, ErrorCode: "SERVER_UNAVAILABLE"}); err != nil {
		t.Fatal(err)
	}
	state, ticket := e.consented(e.authorize(e.beginConnect()))
	resp, body := e.complete(httpapi.Claims{}, state, ticket)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"connected"`) || strings.Contains(body, "org_name") {
		t.Fatalf("complete: got %d %s; want 200 connected, without org_name", resp.StatusCode, body)
	}
	if fc := e.sim.FaultCounts(); len(fc) != 1 || fc[0].Fired != 1 {
		t.Errorf("queries failed: got %+v; want the one org name query, not sent again", fc)
	}
	if !strings.Contains(e.logs.String(), "read the org's name") {
		t.Errorf("logs: got %s; want a warning about the org name", e.logs.String())
	}
}

// TestInactiveUserMarksNeedsAdmin: the connected user is deactivated in
// Salesforce; the refresh answers inactive_user, so the connection needs an
// admin, and GET /v1/salesforce says why and what to do. Once the user is
// reactivated, a reconnect clears it and the connection continues.
func TestInactiveUserMarksNeedsAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	first := e.connect()
	e.sim.SetUserActive(false)
	tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "w"}
	_, err := salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: tokens}, "SELECT Id FROM Lead")
	if !errors.Is(err, connection.ErrNeedsAdmin) || !errors.Is(err, connection.ErrNeedsReauth) {
		t.Fatalf("query: got %v; want ErrNeedsAdmin (held like ErrNeedsReauth)", err)
	}
	_, body := e.do("GET", "/v1/salesforce", "")
	var st connecthttp.StatusResponse
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != connection.StatusNeedsAdmin || st.Problem == nil || st.Problem.Reason != "inactive_user" ||
		st.Problem.Actor != "team_admin" || !strings.Contains(st.Problem.Message, "reactivate") {
		t.Errorf("status: got %s; want needs_admin, problem inactive_user for the team's admin, saying to reactivate the user", body)
	}
	e.sim.SetUserActive(true)
	e.connect()
	_, body = e.do("GET", "/v1/salesforce", "")
	st = connecthttp.StatusResponse{}
	_ = json.Unmarshal([]byte(body), &st)
	if st.Status != connection.StatusConnected || st.Problem != nil {
		t.Errorf("status after the reconnect: got %s; want connected, no problem", body)
	}
	again, err := e.store.Get(context.Background(), "team_a")
	if err != nil || again.Problem != (connection.Problem{}) || !again.ConnectedAt.Equal(first.ConnectedAt) {
		t.Errorf("stored after the reconnect: got %+v, %v; want no problem and the first connection's start %v", again.Problem, err, first.ConnectedAt)
	}
}

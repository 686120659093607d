package connection_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/salesforce"
)

const flowSecret = "flow-test-secret"

// fakeLogin is a Salesforce login host for the connect flow: its token
// endpoint answers every grant with a signed response naming instance, its
// identity URL answers for any token, and it records what is revoked.
type fakeLogin struct {
	srv *httptest.Server

	mu        sync.Mutex
	instance  string // instance_url of every answer; "" for this server
	noRefresh bool   // the code grant returns no refresh token
	orgName   int    // the status of the org name query's answer (0: 200, naming the org)
	queries   int    // org name queries answered
	n         int
	revoked   []string
	issued    []string // refresh tokens, then access tokens, of every grant
}

func newFakeLogin(t *testing.T) *fakeLogin {
	t.Helper()
	f := &fakeLogin{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLogin) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/services/oauth2/token":
		f.n++
		id := f.srv.URL + "/id/00Dxx0000001gPFEAY/005xx000001SwiUAAS"
		issued := strconv.Itoa(1700000000000 + f.n)
		mac := hmac.New(sha256.New, []byte(flowSecret))
		mac.Write([]byte(id + issued))
		access := "00Dxx!access-" + strconv.Itoa(f.n)
		instance := f.instance
		if instance == "" {
			instance = f.srv.URL
		}
		resp := map[string]string{"access_token": access, "instance_url": instance, "id": id, "issued_at": issued,
			"signature": base64.StdEncoding.EncodeToString(mac.Sum(nil)), "token_type": "Bearer"}
		if r.Form.Get("grant_type") == "authorization_code" && !f.noRefresh {
			resp["refresh_token"] = "5Aep-refresh-" + strconv.Itoa(f.n)
			f.issued = append(f.issued, resp["refresh_token"])
		}
		f.issued = append(f.issued, access)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	case strings.HasPrefix(r.URL.Path, "/id/"):
		_ = json.NewEncoder(w).Encode(map[string]string{"organization_id": "00Dxx0000001gPFEAY",
			"user_id": "005xx000001SwiUAAS", "username": "admin@acme.example", "timezone": "America/Los_Angeles"})
	case r.URL.Path == "/services/oauth2/revoke":
		f.revoked = append(f.revoked, r.Form.Get("token"))
	case r.URL.Path == "/services/data/v62.0/query" && r.Form.Get("q") == "SELECT Name FROM Organization":
		f.queries++
		if f.orgName != 0 {
			w.WriteHeader(f.orgName)
			_, _ = w.Write([]byte(`[{"message":"try again","errorCode":"SERVER_UNAVAILABLE"}]`))
			return
		}
		_, _ = w.Write([]byte(`{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Organization"},"Name":"Acme Corp"}]}`))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeLogin) revokedTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.revoked)
}

// flowStore keeps pending authorizations, consents and connections in
// memory, as the DynamoDB store does: every take is single use.
type flowStore struct {
	connection.Store
	mu       sync.Mutex
	states   map[string]connection.PendingAuth
	consents map[string]connection.Consent
	taken    map[string]bool
	conns    map[string]connection.Connection
}

func newFlowStore() *flowStore {
	return &flowStore{states: map[string]connection.PendingAuth{}, consents: map[string]connection.Consent{},
		taken: map[string]bool{}, conns: map[string]connection.Connection{}}
}

func (s *flowStore) SaveState(_ context.Context, p connection.PendingAuth) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[p.State] = p
	return nil
}

func (s *flowStore) TakeState(_ context.Context, state string) (connection.PendingAuth, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.states[state]
	if !ok {
		return connection.PendingAuth{}, connection.ErrStateUnknown
	}
	delete(s.states, state)
	return p, nil
}

func (s *flowStore) SaveConsent(_ context.Context, c connection.Consent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consents[c.State] = c
	return nil
}

func (s *flowStore) TakeConsent(_ context.Context, state string) (connection.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consents[state]
	if !ok || s.taken[state] {
		return connection.Consent{}, connection.ErrNoConsent
	}
	s.taken[state] = true
	return c, nil
}

func (s *flowStore) DropConsent(_ context.Context, ref connection.ConsentRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.consents, ref.State)
	delete(s.taken, ref.State)
	return nil
}

func (s *flowStore) ExpiredConsents(_ context.Context, now time.Time) ([]connection.ConsentRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refs []connection.ConsentRef
	for _, c := range s.consents {
		if !c.ExpiresAt.After(now) {
			refs = append(refs, c.Ref())
		}
	}
	return refs, nil
}

func (s *flowStore) Consents(_ context.Context, team string) ([]connection.ConsentRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refs []connection.ConsentRef
	for _, c := range s.consents {
		if c.Connection.TeamID == team {
			refs = append(refs, c.Ref())
		}
	}
	return refs, nil
}

func (s *flowStore) Get(_ context.Context, team string) (connection.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[team]
	if !ok {
		return connection.Connection{}, connection.ErrNotConnected
	}
	return c, nil
}

func (s *flowStore) Replace(_ context.Context, c connection.Connection) (*connection.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.conns[c.TeamID]
	s.conns[c.TeamID] = c
	if !ok {
		return nil, nil
	}
	return &prev, nil
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// flow is a connector over a fake login host, a memory store and a clock.
type flow struct {
	t     *testing.T
	login *fakeLogin
	store *flowStore
	clock *clock
	conn  *connection.Connector
}

func newFlow(t *testing.T) *flow {
	t.Helper()
	f := &flow{t: t, login: newFakeLogin(t), store: newFlowStore(),
		clock: &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}}
	f.conn = &connection.Connector{Store: f.store, Now: f.clock.Now, Config: connection.OAuthConfig{ClientID: "cid",
		RedirectURL: "https://api.example.com/oauth/salesforce/callback", AllowInsecureLoginURLs: true,
		ClientSecret: func(context.Context) (string, error) { return flowSecret, nil }}}
	return f
}

// consent runs a connect started by admin of team up to the callback and
// returns the state and the ticket the consenting browser gets.
func (f *flow) consent(team, admin string) (string, string) {
	f.t.Helper()
	ctx := context.Background()
	au, err := f.conn.Begin(ctx, team, admin, connection.EnvCustom, f.login.srv.URL)
	if err != nil {
		f.t.Fatalf("Begin: %v", err)
	}
	u, _ := url.Parse(au)
	state := u.Query().Get("state")
	res, err := f.conn.Callback(ctx, url.Values{"state": {state}, "code": {"aPrx-code"}})
	if err != nil || res.State != state || res.Ticket == "" {
		f.t.Fatalf("Callback: got %+v, %v; want the state and a ticket", res, err)
	}
	return state, res.Ticket
}

var adminA = connection.Claimant{TeamID: "team_a", Subject: "admin_1", Admin: true}

func TestBeginAsksForLoginAndConsent(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	au, err := f.conn.Begin(context.Background(), "team_a", "admin_1", connection.EnvProduction, "")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(au)
	if got := u.Query().Get("prompt"); got != "login consent" {
		t.Errorf("prompt: got %q; want %q", got, "login consent")
	}
}

func TestCallbackKeepsOnlyTheTicketsHash(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	state, ticket := f.consent("team_a", "admin_1")
	c := f.store.consents[state]
	sum := sha256.Sum256([]byte(ticket))
	if c.TicketHash != hex.EncodeToString(sum[:]) || strings.Contains(c.TicketHash, ticket) {
		t.Errorf("stored ticket hash: got %q; want the hex SHA-256 of the ticket, never the ticket", c.TicketHash)
	}
	if len(ticket) < 43 {
		t.Errorf("ticket: got %d characters; want at least 256 random bits", len(ticket))
	}
	if !c.ExpiresAt.Equal(f.clock.Now().Add(10 * time.Minute)) {
		t.Errorf("consent deadline: got %v; want 10 minutes after the callback", c.ExpiresAt)
	}
	if _, err := f.store.Get(context.Background(), "team_a"); !errors.Is(err, connection.ErrNotConnected) {
		t.Errorf("after the callback: got %v; want ErrNotConnected (consent alone connects nothing)", err)
	}
}

func TestFinishConnectsTheAdminWhoStartedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		starter string // the subject Begin recorded
		by      connection.Claimant
	}{
		{"the admin who started", "admin_1", adminA},
		{"any admin of the team when the start recorded no subject", "", connection.Claimant{TeamID: "team_a", Subject: "admin_2", Admin: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFlow(t)
			state, ticket := f.consent("team_a", tt.starter)
			f.clock.Advance(connection.ConsentTTL - time.Second)
			c, err := f.conn.Finish(context.Background(), tt.by, state, ticket)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			stored, err := f.store.Get(context.Background(), "team_a")
			if err != nil || stored.ID != c.ID || stored.Status != connection.StatusConnected || stored.OrgID != "00Dxx0000001gPFEAY" ||
				stored.Username != "admin@acme.example" || stored.ConnectedBy != tt.by.Subject || stored.RefreshToken != "5Aep-refresh-1" ||
				stored.TimeZone != "America/Los_Angeles" {
				t.Errorf("stored: got %+v, %v; want team_a connected to org 00Dxx0000001gPFEAY as admin@acme.example by %s", stored, err, tt.by.Subject)
			}
			if _, err := f.conn.Finish(context.Background(), tt.by, state, ticket); !errors.Is(err, connection.ErrNoConsent) {
				t.Errorf("replay: got %v; want ErrNoConsent", err)
			}
			if got := f.login.revokedTokens(); len(got) != 0 {
				t.Errorf("revoked: got %q; want nothing", got)
			}
		})
	}
}

// TestFinishNamesTheOrg: the identity answer carries no org name, so
// Finish asks Salesforce once (SELECT Name FROM Organization) and stores it;
// when that query fails the connect still succeeds, without a name, and the
// query is not sent again.
func TestFinishNamesTheOrg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int // of the query's answer; 0 for 200
		wantName string
	}{
		{"the org's name", 0, "Acme Corp"},
		{"Salesforce fails the query", http.StatusServiceUnavailable, ""},
		{"the query is refused", http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFlow(t)
			f.login.orgName = tt.status
			state, ticket := f.consent("team_a", "admin_1")
			c, err := f.conn.Finish(context.Background(), adminA, state, ticket)
			if err != nil || c.Status != connection.StatusConnected || c.OrgName != tt.wantName {
				t.Fatalf("Finish: got %q %v, %v; want connected, named %q", c.OrgName, c.Status, err, tt.wantName)
			}
			if stored, _ := f.store.Get(context.Background(), "team_a"); stored.OrgName != tt.wantName {
				t.Errorf("stored name: got %q; want %q", stored.OrgName, tt.wantName)
			}
			f.login.mu.Lock()
			defer f.login.mu.Unlock()
			if f.login.queries != 1 {
				t.Errorf("org name queries: got %d; want 1", f.login.queries)
			}
		})
	}
}

func TestFinishRefusalsRevealNothingAndBurnTheConsent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		by      connection.Claimant
		ticket  func(real string) string
		advance time.Duration
		want    error
	}{
		{"wrong ticket", adminA, func(string) string { return "guessed-ticket-guessed-ticket-guessed-ticke" }, 0, connection.ErrNoConsent},
		{"another team's admin", connection.Claimant{TeamID: "team_b", Subject: "admin_1", Admin: true}, nil, 0, connection.ErrNoConsent},
		{"another admin of the team", connection.Claimant{TeamID: "team_a", Subject: "admin_2", Admin: true}, nil, 0, connection.ErrNoConsent},
		{"a member of the team", connection.Claimant{TeamID: "team_a", Subject: "admin_1", Admin: false}, nil, 0, connection.ErrNotAdmin},
		{"ten minutes after consent", adminA, nil, connection.ConsentTTL, connection.ErrNoConsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFlow(t)
			ctx := context.Background()
			state, ticket := f.consent("team_a", "admin_1")
			f.clock.Advance(tt.advance)
			attempt := ticket
			if tt.ticket != nil {
				attempt = tt.ticket(ticket)
			}
			_, err := f.conn.Finish(ctx, tt.by, state, attempt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Finish: got %v; want %v", err, tt.want)
			}
			// The same caller naming a state that never existed gets the
			// same answer: the refusal says nothing of the state.
			_, unknown := f.conn.Finish(ctx, tt.by, "never-issued-state-never-issued-state-never", attempt)
			if !errors.Is(unknown, tt.want) {
				t.Errorf("Finish with an unknown state: got %v; want %v, as for a known one", unknown, tt.want)
			}
			// The grant is revoked at Salesforce and gone from the store:
			// the rightful admin can no longer complete it.
			if got := f.login.revokedTokens(); !slices.Equal(got, []string{"5Aep-refresh-1"}) {
				t.Errorf("revoked: got %q; want the consent's refresh token", got)
			}
			if _, err := f.conn.Finish(ctx, adminA, state, ticket); !errors.Is(err, connection.ErrNoConsent) {
				t.Errorf("the rightful completion after a refusal: got %v; want ErrNoConsent", err)
			}
			if _, err := f.store.Get(ctx, "team_a"); !errors.Is(err, connection.ErrNotConnected) {
				t.Errorf("team_a: got %v; want ErrNotConnected", err)
			}
			if _, err := f.store.Get(ctx, "team_b"); !errors.Is(err, connection.ErrNotConnected) {
				t.Errorf("team_b: got %v; want ErrNotConnected", err)
			}
		})
	}
}

func TestSweepRevokesConsentsNobodyCompletesInTenMinutes(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	state, _ := f.consent("team_a", "admin_1")
	f.clock.Advance(time.Minute)
	later, _ := f.consent("team_a", "admin_1")
	other, _ := f.consent("team_b", "admin_9")
	f.clock.Advance(connection.ConsentTTL - time.Minute - time.Nanosecond)
	if n, err := f.conn.Sweep(ctx, "team_a"); err != nil || n != 0 {
		t.Fatalf("sweep just before the deadline: got %d, %v; want 0 revoked", n, err)
	}
	f.clock.Advance(time.Nanosecond)
	if n, err := f.conn.Sweep(ctx, "team_a"); err != nil || n != 1 {
		t.Fatalf("sweep at the deadline: got %d, %v; want 1 revoked", n, err)
	}
	if got := f.login.revokedTokens(); !slices.Equal(got, []string{"5Aep-refresh-1"}) {
		t.Errorf("revoked: got %q; want the first consent's refresh token only", got)
	}
	for _, tt := range []struct {
		state string
		left  bool
	}{{state, false}, {later, true}, {other, true}} {
		if _, left := f.store.consents[tt.state]; left != tt.left {
			t.Errorf("consent %.6s... kept: got %v; want %v", tt.state, left, tt.left)
		}
	}
}

// TestSweepExpiredRevokesEveryTeamsUnclaimedConsents: the scheduled sweep
// revokes the consents nobody completed within ten minutes, of every team,
// even one that never comes back; it leaves the others.
func TestSweepExpiredRevokesEveryTeamsUnclaimedConsents(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := context.Background()
	a, _ := f.consent("team_a", "admin_1") // refresh token 1
	b, _ := f.consent("team_b", "admin_9") // 2
	f.clock.Advance(time.Minute)
	later, _ := f.consent("team_c", "admin_5") // 3
	f.clock.Advance(connection.ConsentTTL - time.Minute - time.Nanosecond)
	if n, err := f.conn.SweepExpired(ctx); err != nil || n != 0 {
		t.Fatalf("sweep just before the deadline: got %d, %v; want 0 revoked", n, err)
	}
	f.clock.Advance(time.Nanosecond)
	if n, err := f.conn.SweepExpired(ctx); err != nil || n != 2 {
		t.Fatalf("sweep at the deadline: got %d, %v; want 2 revoked", n, err)
	}
	got := f.login.revokedTokens()
	slices.Sort(got)
	if want := []string{"5Aep-refresh-1", "5Aep-refresh-2"}; !slices.Equal(got, want) {
		t.Errorf("revoked: got %q; want %q", got, want)
	}
	for _, tt := range []struct {
		state string
		left  bool
	}{{a, false}, {b, false}, {later, true}} {
		if _, left := f.store.consents[tt.state]; left != tt.left {
			t.Errorf("consent %.6s... kept: got %v; want %v", tt.state, left, tt.left)
		}
	}
	if n, err := f.conn.SweepExpired(ctx); err != nil || n != 0 {
		t.Errorf("sweep again: got %d, %v; want 0 revoked", n, err)
	}
}

func TestNoRefreshTokenRevokesTheAccessToken(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	f.login.noRefresh = true
	au, err := f.conn.Begin(context.Background(), "team_a", "admin_1", connection.EnvCustom, f.login.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(au)
	_, err = f.conn.Callback(context.Background(), url.Values{"state": {u.Query().Get("state")}, "code": {"aPrx"}})
	if !errors.Is(err, connection.ErrExchange) {
		t.Fatalf("Callback: got %v; want ErrExchange", err)
	}
	if got := f.login.revokedTokens(); !slices.Equal(got, []string{"00Dxx!access-1"}) {
		t.Errorf("revoked: got %q; want the access token granted", got)
	}
	if len(f.store.consents) != 0 {
		t.Errorf("consents: got %d; want none", len(f.store.consents))
	}
}

func TestCallbackRefusesAnInstanceThatIsNotSalesforce(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	f.login.instance = "https://acme.my.salesforce.com.evil.example"
	au, err := f.conn.Begin(context.Background(), "team_a", "admin_1", connection.EnvCustom, f.login.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(au)
	_, err = f.conn.Callback(context.Background(), url.Values{"state": {u.Query().Get("state")}, "code": {"aPrx"}})
	if !errors.Is(err, connection.ErrBadInstanceURL) {
		t.Fatalf("Callback: got %v; want ErrBadInstanceURL", err)
	}
	if got := f.login.revokedTokens(); !slices.Equal(got, []string{"5Aep-refresh-1"}) {
		t.Errorf("revoked: got %q; want the refresh token granted", got)
	}
	if len(f.store.consents) != 0 {
		t.Errorf("consents: got %d; want none", len(f.store.consents))
	}
}

func TestInstanceURLMustBeASalesforceHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw      string
		insecure bool
		want     string // "" for refused
	}{
		{"https://acme.my.salesforce.com", false, "https://acme.my.salesforce.com"},
		{"https://acme.my.salesforce.com/", false, "https://acme.my.salesforce.com"},
		{"https://ACME--dev.sandbox.my.salesforce.com", false, "https://acme--dev.sandbox.my.salesforce.com"},
		{"https://na123.salesforce.com", false, "https://na123.salesforce.com"},
		{"https://acme.lightning.force.com", false, "https://acme.lightning.force.com"},
		{"https://salesforce.com", false, ""},
		{"https://.salesforce.com", false, ""},
		{"https://evil.example.com", false, ""},
		{"https://acme.my.salesforce.com.evil.example", false, ""},
		{"https://evilsalesforce.com", false, ""},
		{"https://acme.my.site.com", false, ""},
		{"http://acme.my.salesforce.com", false, ""},
		{"https://acme.my.salesforce.com:8443", false, ""},
		{"https://user@acme.my.salesforce.com", false, ""},
		{"https://acme.my.salesforce.com/services", false, ""},
		{"https://acme.my.salesforce.com?x=1", false, ""},
		{"", false, ""},
		{"http://127.0.0.1:8081", false, ""},
		{"http://127.0.0.1:8081", true, "http://127.0.0.1:8081"},
		{"http://localhost:9", true, "http://localhost:9"},
		{"http://10.0.0.1:8081", true, ""},
		{"http://evil.example.com", true, ""},
	}
	for _, tt := range tests {
		got, err := connection.InstanceURL(tt.raw, tt.insecure)
		if tt.want == "" {
			if !errors.Is(err, connection.ErrBadInstanceURL) {
				t.Errorf("InstanceURL(%q, %v): got %q, %v; want ErrBadInstanceURL", tt.raw, tt.insecure, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("InstanceURL(%q, %v): got %q, %v; want %q", tt.raw, tt.insecure, got, err, tt.want)
		}
	}
}

func TestLoginURLAcceptsOnlySalesforceLoginHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		custom string
		want   string // "" for refused
	}{
		{"https://login.salesforce.com", "https://login.salesforce.com"},
		{"https://test.salesforce.com", "https://test.salesforce.com"},
		{"https://acme.my.salesforce.com", "https://acme.my.salesforce.com"},
		{"https://acme--dev.sandbox.my.salesforce.com", "https://acme--dev.sandbox.my.salesforce.com"},
		{"https://acme.my.site.com", ""},
		{"https://acme.my.salesforce-sites.com", ""},
		{"https://na123.salesforce.com", ""},
		{"https://acme.lightning.force.com", ""},
		{"https://my.salesforce.com", ""},
		{"https://acme.my.salesforce.com.evil.example", ""},
		{"http://acme.my.salesforce.com", ""},
	}
	for _, tt := range tests {
		got, err := connection.LoginURL(connection.EnvCustom, tt.custom, false)
		if tt.want == "" {
			if !errors.Is(err, connection.ErrBadLoginURL) {
				t.Errorf("LoginURL(%q): got %q, %v; want ErrBadLoginURL", tt.custom, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("LoginURL(%q): got %q, %v; want %q", tt.custom, got, err, tt.want)
		}
	}
}

func TestRefreshChecksAndStoresTheInstanceURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		instance     string
		wantErr      error
		wantStored   string
		wantRevoked  []string
		wantInstance string // of the token returned
	}{
		{"a new Salesforce instance is stored", "https://acme2.my.salesforce.com", nil, "https://acme2.my.salesforce.com", nil, "https://acme2.my.salesforce.com"},
		{"the same instance", "https://acme.my.salesforce.com", nil, "https://acme.my.salesforce.com", nil, "https://acme.my.salesforce.com"},
		{"a host that is not Salesforce is refused and its token revoked", "https://evil.example.com", connection.ErrBadInstanceURL,
			"https://acme.my.salesforce.com", []string{"00Dxx!access-1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFlow(t)
			f.login.instance = tt.instance
			store := &memStore{c: connection.Connection{TeamID: "team_a", ID: "c1", LoginURL: f.login.srv.URL,
				InstanceURL: "https://acme.my.salesforce.com", Status: connection.StatusConnected, AccessToken: "stale",
				RefreshToken: "stored-refresh", Version: 1}}
			f.conn.Store = store
			tokens := &connection.Tokens{TeamID: "team_a", Store: store, Connector: f.conn, Holder: "t"}
			got, err := tokens.Refresh(context.Background(), salesforce.Token{AccessToken: "stale"})
			if !errors.Is(err, tt.wantErr) || got.InstanceURL != tt.wantInstance {
				t.Errorf("Refresh: got %+v, %v; want instance %q, %v", got, err, tt.wantInstance, tt.wantErr)
			}
			if c, _ := store.Get(context.Background(), "team_a"); c.InstanceURL != tt.wantStored {
				t.Errorf("stored instance: got %q; want %q", c.InstanceURL, tt.wantStored)
			}
			if got := f.login.revokedTokens(); !slices.Equal(got, tt.wantRevoked) {
				t.Errorf("revoked: got %q; want %q", got, tt.wantRevoked)
			}
		})
	}
}

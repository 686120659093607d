package connection_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// The simulator's OAuth fixtures are Salesforce's documented token endpoint
// answers. These tests serve them to the product's connection code, where it
// receives them, and check what it makes of them.

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "tools", "sfsim", "org", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memStore holds one connection in memory; the methods these tests do not
// reach are left to the embedded nil Store.
type memStore struct {
	connection.Store
	mu      sync.Mutex
	c       connection.Connection
	pending connection.PendingAuth
}

func (m *memStore) Get(context.Context, string) (connection.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, nil
}

func (m *memStore) SaveTokens(_ context.Context, _, connID string, version int64, access, refresh, instance string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c.ID != connID || m.c.Version != version {
		return 0, connection.ErrVersionConflict
	}
	m.c.AccessToken, m.c.Version, m.c.Status, m.c.Problem = access, version+1, connection.StatusConnected, connection.Problem{}
	if refresh != "" {
		m.c.RefreshToken = refresh
	}
	if instance != "" {
		m.c.InstanceURL = instance
	}
	return m.c.Version, nil
}

func (m *memStore) SetStatus(_ context.Context, _, connID string, version int64, s connection.Status, p connection.Problem) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c.ID != connID || m.c.Version != version {
		return connection.ErrVersionConflict
	}
	m.c.Status, m.c.Problem, m.c.Version = s, p, version+1
	return nil
}

func (m *memStore) AcquireLease(context.Context, string, string, time.Time) (bool, error) {
	return true, nil
}
func (m *memStore) ReleaseLease(context.Context, string, string) error { return nil }
func (m *memStore) TakeState(context.Context, string) (connection.PendingAuth, error) {
	return m.pending, nil
}

// tokenEndpoint answers every token request with status and body, and
// records the tokens revoked.
func tokenEndpoint(t *testing.T, status int, body []byte) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var revoked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch r.URL.Path {
		case "/services/oauth2/token":
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.WriteHeader(status)
			_, _ = w.Write(body)
		case "/services/oauth2/revoke":
			mu.Lock()
			revoked = append(revoked, r.Form.Get("token"))
			mu.Unlock()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &revoked
}

func connector(store connection.Store) *connection.Connector {
	return &connection.Connector{Store: store, Config: connection.OAuthConfig{ClientID: "cid", RedirectURL: "http://127.0.0.1/callback",
		ClientSecret: func(context.Context) (string, error) { return "not-the-documentation-secret", nil }, AllowInsecureLoginURLs: true}}
}

func TestRefreshDecodesTheTokenFixtures(t *testing.T) {
	t.Parallel()
	const docAccess = "00Dx0000000BV7z!AR8AQBM8J_xr9kLqmZIRyQxZgLcM4HVi41aGtW0qW3JCzf5xdTGGGSoVim8FfJkZEqxbjaFbberKGk8v8AnYrvChG4qJbQo8"
	tests := []struct {
		name, fixture string
		status        int
		wantToken     salesforce.Token
		wantErr       error
		want          connection.Connection // Status, Version, AccessToken, RefreshToken
	}{
		{"refresh response: new access token, the refresh token kept, the instance URL followed and stored", "token_refresh_response.json", 200,
			salesforce.Token{AccessToken: docAccess, InstanceURL: "https://acme.my.salesforce.com"}, nil,
			connection.Connection{Status: connection.StatusConnected, Version: 2, AccessToken: docAccess, RefreshToken: "stored-refresh",
				InstanceURL: "https://acme.my.salesforce.com"}},
		{"a rotated refresh token is stored", "token_response.json", 200,
			salesforce.Token{AccessToken: docAccess, InstanceURL: "https://acme.my.salesforce.com"}, nil,
			connection.Connection{Status: connection.StatusConnected, Version: 2, AccessToken: docAccess,
				RefreshToken: "5Aep8614iLM.Dq661ePDmPEgaAW9Oh_L3JKkDpB4xReb54_pZebnUG0h6Sb4KUVDpNtWEofWM39yg==", InstanceURL: "https://acme.my.salesforce.com"}},
		{"invalid_grant marks needs_reauth", "oauth_error.json", 400, salesforce.Token{}, connection.ErrNeedsReauth,
			connection.Connection{Status: connection.StatusNeedsReauth, Version: 2, AccessToken: "stale", RefreshToken: "stored-refresh",
				InstanceURL: "https://old.my.salesforce.com"}},
		{"invalid_grant in a server error is a fault to retry, not a revocation", "oauth_error.json", 503, salesforce.Token{}, salesforce.ErrTransient,
			connection.Connection{Status: connection.StatusConnected, Version: 1, AccessToken: "stale", RefreshToken: "stored-refresh",
				InstanceURL: "https://old.my.salesforce.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := tokenEndpoint(t, tt.status, fixture(t, tt.fixture))
			store := &memStore{c: connection.Connection{TeamID: "team_a", ID: "c1", LoginURL: srv.URL, InstanceURL: "https://old.my.salesforce.com",
				Status: connection.StatusConnected, AccessToken: "stale", RefreshToken: "stored-refresh", Version: 1}}
			tokens := &connection.Tokens{TeamID: "team_a", Store: store, Connector: connector(store), Holder: "t"}
			got, err := tokens.Refresh(context.Background(), salesforce.Token{AccessToken: "stale"})
			if !errors.Is(err, tt.wantErr) || got != tt.wantToken {
				t.Errorf("Refresh: got %+v, %v; want %+v, %v", got, err, tt.wantToken, tt.wantErr)
			}
			c, _ := store.Get(context.Background(), "team_a")
			if g := (connection.Connection{Status: c.Status, Version: c.Version, AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, InstanceURL: c.InstanceURL}); g != tt.want {
				t.Errorf("stored: got %+v; want %+v", g, tt.want)
			}
		})
	}
}

// TestRefreshRefusalMapping: each refusal of the token endpoint makes what
// it stands for of the connection. A revoked refresh token needs a new
// consent (needs_reauth); a deactivated user or org needs an admin first
// (needs_admin, with the reason and what to do). This deployment's
// connected app refused (invalid_client, invalid_client_id) is the
// operator's fault: the status is left alone, the error holds the team's
// events (it matches ErrNeedsReauth, not ErrNeedsAdmin) and names what the
// operator must check, and the kept client secret is dropped. Anything
// else, or a server fault, is retried and changes nothing.
func TestRefreshRefusalMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code       string
		status     int
		wantErr    error
		wantStatus connection.Status
		appRefused bool
		message    string // in the stored message (the error's, when the app is refused)
	}{
		{"invalid_grant", 400, connection.ErrNeedsReauth, connection.StatusNeedsReauth, false, ""},
		{"inactive_user", 400, connection.ErrNeedsAdmin, connection.StatusNeedsAdmin, false, "reactivate them"},
		{"inactive_org", 400, connection.ErrNeedsAdmin, connection.StatusNeedsAdmin, false, "org is inactive"},
		{"invalid_client_id", 400, connection.ErrAppRefused, connection.StatusConnected, true, "SALESFORCE_CLIENT_ID"},
		{"invalid_client", 400, connection.ErrAppRefused, connection.StatusConnected, true, "nothing is wrong in your org"},
		{"invalid_client", 503, salesforce.ErrTransient, connection.StatusConnected, false, ""},
		{"inactive_user", 503, salesforce.ErrTransient, connection.StatusConnected, false, ""},
		{"unsupported_grant_type", 400, salesforce.ErrTransient, connection.StatusConnected, false, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.code, tt.status), func(t *testing.T) {
			t.Parallel()
			srv, _ := tokenEndpoint(t, tt.status, []byte(`{"error":"`+tt.code+`","error_description":"refused"}`))
			store := &memStore{c: connection.Connection{TeamID: "team_a", ID: "c1", LoginURL: srv.URL, Status: connection.StatusConnected,
				AccessToken: "stale", RefreshToken: "stored-refresh", Version: 1}}
			conn := connector(store)
			forgot := false
			conn.Config.ForgetClientSecret = func() { forgot = true }
			tokens := &connection.Tokens{TeamID: "team_a", Store: store, Connector: conn, Holder: "t"}
			_, err := tokens.Refresh(context.Background(), salesforce.Token{AccessToken: "stale"})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Refresh: got %v; want %v", err, tt.wantErr)
			}
			if forgot != tt.appRefused {
				t.Errorf("client secret forgotten: got %v; want %v", forgot, tt.appRefused)
			}
			if tt.appRefused && (!errors.Is(err, connection.ErrNeedsReauth) || !strings.Contains(err.Error(), tt.message)) {
				t.Errorf("Refresh: got %v; want it held like ErrNeedsReauth, saying %q", err, tt.message)
			}
			if needsAdmin := tt.wantStatus == connection.StatusNeedsAdmin; errors.Is(err, connection.ErrNeedsAdmin) != needsAdmin ||
				(needsAdmin && !errors.Is(err, connection.ErrNeedsReauth)) {
				t.Errorf("Refresh: got %v; want ErrNeedsAdmin %v, and held like ErrNeedsReauth", err, needsAdmin)
			}
			c, _ := store.Get(context.Background(), "team_a")
			if c.Status != tt.wantStatus {
				t.Errorf("status: got %s; want %s", c.Status, tt.wantStatus)
			}
			wantReason := ""
			if tt.wantStatus == connection.StatusNeedsAdmin {
				wantReason = tt.code
			}
			if c.Problem.Reason != wantReason || c.Problem.Deployment || (!tt.appRefused && !strings.Contains(c.Problem.Message, tt.message)) {
				t.Errorf("problem: got %+v; want reason %q, a message with %q", c.Problem, wantReason, tt.message)
			}
			if tt.appRefused && c.Version != 1 {
				t.Errorf("version: got %d; want 1 (nothing stored)", c.Version)
			}
			// The next use reads the stored status: the team stays held, with
			// the same problem, without asking Salesforce again.
			if tt.wantStatus != connection.StatusConnected {
				again := &connection.Tokens{TeamID: "team_a", Store: store, Connector: connector(store), Holder: "t"}
				var ae *connection.AdminError
				if _, err := again.Current(context.Background()); !errors.Is(err, tt.wantErr) ||
					(tt.wantStatus == connection.StatusNeedsAdmin && (!errors.As(err, &ae) || ae.Problem.Reason != tt.code)) {
					t.Errorf("Current after the refusal: got %v; want %v naming %s", err, tt.wantErr, tt.code)
				}
			}
		})
	}
}

func TestCodeExchangeDecodesTheTokenFixture(t *testing.T) {
	t.Parallel()
	// The documented answer is signed with the documentation's client secret,
	// not ours: the product reads id, issued_at and signature, refuses it, and
	// revokes the refresh token it was handed.
	srv, revoked := tokenEndpoint(t, 200, fixture(t, "token_response.json"))
	store := &memStore{pending: connection.PendingAuth{State: "s", TeamID: "team_a", Verifier: "v", LoginURL: srv.URL,
		ExpiresAt: time.Now().Add(time.Minute)}}
	_, err := connector(store).Callback(context.Background(), url.Values{"state": {"s"}, "code": {"aPrx"}})
	if !errors.Is(err, connection.ErrBadSignature) {
		t.Fatalf("Callback: got %v; want ErrBadSignature", err)
	}
	if want := "5Aep8614iLM.Dq661ePDmPEgaAW9Oh_L3JKkDpB4xReb54_pZebnUG0h6Sb4KUVDpNtWEofWM39yg=="; len(*revoked) != 1 || (*revoked)[0] != want {
		t.Errorf("revoked: got %q; want the fixture's refresh token", *revoked)
	}
	// The oauth_error fixture on the code exchange is a clear exchange failure.
	srv, _ = tokenEndpoint(t, 400, fixture(t, "oauth_error.json"))
	store.pending.LoginURL = srv.URL
	_, err = connector(store).Callback(context.Background(), url.Values{"state": {"s"}, "code": {"aPrx"}})
	if !errors.Is(err, connection.ErrExchange) || err.Error() != connection.ErrExchange.Error()+": invalid_grant" {
		t.Errorf("Callback with an OAuth error: got %v; want ErrExchange naming invalid_grant", err)
	}
}

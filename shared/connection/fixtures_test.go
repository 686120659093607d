package connection_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
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
	m.c.AccessToken, m.c.Version, m.c.Status = access, version+1, connection.StatusConnected
	if refresh != "" {
		m.c.RefreshToken = refresh
	}
	if instance != "" {
		m.c.InstanceURL = instance
	}
	return m.c.Version, nil
}

func (m *memStore) SetStatus(_ context.Context, _, connID string, version int64, s connection.Status) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c.ID != connID || m.c.Version != version {
		return connection.ErrVersionConflict
	}
	m.c.Status, m.c.Version = s, version+1
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

// TestPermanentRefreshRefusalsNeedAnAdmin: a deactivated user or org, or a
// connected app whose keys are gone, is not retried: the team needs an admin.
func TestPermanentRefreshRefusalsNeedAnAdmin(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"invalid_client", "invalid_client_id", "inactive_org", "inactive_user"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			srv, _ := tokenEndpoint(t, 400, []byte(`{"error":"`+code+`","error_description":"refused"}`))
			store := &memStore{c: connection.Connection{TeamID: "team_a", ID: "c1", LoginURL: srv.URL, Status: connection.StatusConnected,
				AccessToken: "stale", RefreshToken: "stored-refresh", Version: 1}}
			tokens := &connection.Tokens{TeamID: "team_a", Store: store, Connector: connector(store), Holder: "t"}
			if _, err := tokens.Refresh(context.Background(), salesforce.Token{AccessToken: "stale"}); !errors.Is(err, connection.ErrNeedsReauth) {
				t.Errorf("Refresh: got %v; want ErrNeedsReauth", err)
			}
			if c, _ := store.Get(context.Background(), "team_a"); c.Status != connection.StatusNeedsReauth {
				t.Errorf("status: got %s; want %s", c.Status, connection.StatusNeedsReauth)
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

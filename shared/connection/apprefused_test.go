package connection_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/platform/secret"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// secretsManager holds one secret value, which the operator may change.
type secretsManager struct {
	mu    sync.Mutex
	value string
}

func (s *secretsManager) set(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.value = v
}

func (s *secretsManager) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.value
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

// TestAppRefusedRecoversOnceTheSecretIsFixed: a wrong consumer secret in
// Secrets Manager makes Salesforce refuse every refresh (invalid_client).
// The team's connection stays connected, and the calls of the same batch
// get the refusal without asking Salesforce again. Once the operator fixes
// the secret, the next batch's refresh reads it at once (the refused one
// is not kept for the cache's 15 minutes) and succeeds: the team recovers
// without a reconnect.
func TestAppRefusedRecoversOnceTheSecretIsFixed(t *testing.T) {
	t.Parallel()
	const right = "the-right-secret"
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Form.Get("client_secret") != right {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"invalid client credentials"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "fresh", "token_type": "Bearer"})
	}))
	t.Cleanup(srv.Close)
	sm := &secretsManager{value: "a-wrong-secret"}
	cached := &secret.Cached{Client: sm, ARN: "arn"}
	store := &memStore{c: connection.Connection{TeamID: "team_a", ID: "c1", LoginURL: srv.URL, Status: connection.StatusConnected,
		AccessToken: "stale", RefreshToken: "stored-refresh", Version: 1}}
	conn := &connection.Connector{Store: store, Config: connection.OAuthConfig{ClientID: "cid", ClientSecret: cached.Get,
		ForgetClientSecret: cached.Forget, AllowInsecureLoginURLs: true}}
	stale := salesforce.Token{AccessToken: "stale"}

	batch := &connection.Tokens{TeamID: "team_a", Store: store, Connector: conn, Holder: "t"}
	for range 3 {
		if _, err := batch.Refresh(context.Background(), stale); !errors.Is(err, connection.ErrAppRefused) || !errors.Is(err, connection.ErrNeedsReauth) {
			t.Fatalf("Refresh with the wrong secret: got %v; want ErrAppRefused, held like ErrNeedsReauth", err)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("token requests of one batch: got %d; want 1", n)
	}
	if c, _ := store.Get(context.Background(), "team_a"); c.Status != connection.StatusConnected || c.Version != 1 {
		t.Errorf("connection after the refusal: got %s at version %d; want connected at 1, untouched", c.Status, c.Version)
	}

	sm.set(right) // the operator fixes the secret
	next := &connection.Tokens{TeamID: "team_a", Store: store, Connector: conn, Holder: "t"}
	tok, err := next.Refresh(context.Background(), stale)
	if err != nil || tok.AccessToken != "fresh" {
		t.Fatalf("Refresh of the next batch: got %+v, %v; want the fresh token", tok, err)
	}
	if c, _ := store.Get(context.Background(), "team_a"); c.Status != connection.StatusConnected || c.AccessToken != "fresh" {
		t.Errorf("connection: got %s with %q; want connected with the fresh token", c.Status, c.AccessToken)
	}
}

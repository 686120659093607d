package connecthttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// stateStore keeps pending authorizations in memory: the one part of the
// store the callback reaches before Salesforce answers. Any other call
// panics (the embedded nil interface), which the fuzzer reports.
type stateStore struct {
	connection.Store
	mu     sync.Mutex
	states map[string]connection.PendingAuth
}

func (s *stateStore) TakeState(_ context.Context, state string) (connection.PendingAuth, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.states[state]
	if !ok {
		return connection.PendingAuth{}, connection.ErrStateUnknown
	}
	delete(s.states, state)
	return p, nil
}

// FuzzCallbackQuery: whatever query Salesforce (or anyone) sends to the
// public callback, the answer is a redirect to the return URL or a 400 page,
// never a 500 or a panic.
func FuzzCallbackQuery(f *testing.F) {
	for _, q := range []string{
		"", "state=known&code=aPrx", "state=known&error=access_denied&error_description=end-user+denied",
		"state=unknown&code=x", "state=&code=", "code=x", "state=known&state=other&code=x",
		"state=%ZZ", "state=" + string(make([]byte, 300)), "state=known&error=%00%ff", "a=b;c=d&&&==",
	} {
		f.Add(q)
	}
	store := &stateStore{states: map[string]connection.PendingAuth{}}
	connector := &connection.Connector{Store: store, Config: connection.OAuthConfig{ClientID: "c",
		RedirectURL: "https://api.example.com/oauth/salesforce/callback", AllowInsecureLoginURLs: true,
		ClientSecret: func(context.Context) (string, error) { return "s", nil }},
		HTTP: &http.Client{Timeout: time.Second}}
	rt := httpapi.NewRouter()
	(&connecthttp.Handlers{Connector: connector, Store: store, ReturnURL: "https://app.example.com/integrations",
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Register(rt)
	f.Fuzz(func(t *testing.T, query string) {
		store.mu.Lock()
		store.states["known"] = connection.PendingAuth{State: "known", TeamID: "team_f", Admin: "a", Verifier: "v",
			Environment: connection.EnvCustom, LoginURL: "http://127.0.0.1:9", ExpiresAt: time.Now().Add(time.Minute)}
		store.mu.Unlock()
		req := httptest.NewRequest("GET", "/oauth/salesforce/callback", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound && rec.Code != http.StatusBadRequest {
			t.Errorf("callback ?%q: got %d %s; want 302 or 400", query, rec.Code, rec.Body.String())
		}
	})
}

package connection_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
)

// hosts answers each request with the handler of its host, as if the
// internet were these servers: the tests reach https://login.salesforce.com
// without leaving the process.
type hosts struct {
	mu     sync.Mutex
	by     map[string]http.HandlerFunc
	called []string // hosts reached, in order
}

func (h *hosts) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	fn, ok := h.by[r.URL.Host]
	h.called = append(h.called, r.URL.Host)
	h.mu.Unlock()
	if !ok {
		return nil, errors.New("no such host: " + r.URL.Host)
	}
	rec := httptest.NewRecorder()
	fn(rec, r)
	return rec.Result(), nil
}

func (h *hosts) reached(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.called, host)
}

// signedFixture is the token_response fixture with its identity URL set to
// id (when not empty) and signed with secret, as Salesforce signs for the
// connected app whose secret it is.
func signedFixture(t *testing.T, id, secret string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, "token_response.json"), &m); err != nil {
		t.Fatal(err)
	}
	if id != "" {
		m["id"] = id
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(m["id"].(string) + m["issued_at"].(string)))
	m["signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	b, _ := json.Marshal(m)
	return b
}

// TestMyDomainConnectChecksTheIdentityAgainstItsURL: an admin logs in
// through the org's My Domain, https://acme.my.salesforce.com, whose token
// answer (the fixture) names its identity URL on login.salesforce.com. The
// connect accepts Salesforce's identity hosts and requires the identity
// answer to name the org and user of the URL's path.
func TestMyDomainConnectChecksTheIdentityAgainstItsURL(t *testing.T) {
	t.Parallel()
	const (
		myDomain = "acme.my.salesforce.com"
		docOrg   = "00Dx0000000BV7zEAG" // the fixture's 00Dx0000000BV7z, 18 characters
		docUser  = "005x00000012Q9PAAU" // the fixture's 005x00000012Q9P
		refresh  = "5Aep8614iLM.Dq661ePDmPEgaAW9Oh_L3JKkDpB4xReb54_pZebnUG0h6Sb4KUVDpNtWEofWM39yg=="
	)
	tests := []struct {
		name          string
		id            string // the token answer's identity URL; "" keeps the fixture's (login.salesforce.com)
		org, user     string // the identity answer
		wantErr       error
		identityAsked bool
	}{
		{"identity on login.salesforce.com", "", docOrg, docUser, nil, true},
		{"identity answer with the 15-character ids", "", "00Dx0000000BV7z", "005x00000012Q9P", nil, true},
		{"identity on test.salesforce.com (a sandbox)", "https://test.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P", docOrg, docUser, nil, true},
		{"identity on the My Domain", "https://acme.my.salesforce.com/id/00Dx0000000BV7zEAG/005x00000012Q9PAAU", docOrg, docUser, nil, true},
		{"identity answer of another org", "", "00Dx0000000BV8zEAG", docUser, connection.ErrBadIdentity, true},
		{"identity answer of another user", "", docOrg, "005x00000012Q9QAAU", connection.ErrBadIdentity, true},
		{"identity answer whose org differs only in case", "", "00DX0000000BV7z", docUser, connection.ErrBadIdentity, true},
		{"identity URL not on a Salesforce host", "https://login.salesforce.com.evil.example/id/00Dx0000000BV7z/005x00000012Q9P", docOrg, docUser, connection.ErrBadIdentity, false},
		{"identity URL on an instance, not a login host", "https://na1.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P", docOrg, docUser, connection.ErrBadIdentity, false},
		{"identity URL over http", "http://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P", docOrg, docUser, connection.ErrBadIdentity, false},
		{"identity URL with a port", "https://login.salesforce.com:8443/id/00Dx0000000BV7z/005x00000012Q9P", docOrg, docUser, connection.ErrBadIdentity, false},
		{"identity URL that is not /id/<org>/<user>", "https://login.salesforce.com/services/oauth2/userinfo", docOrg, docUser, connection.ErrBadIdentity, false},
		{"identity URL naming a user where the org goes", "https://login.salesforce.com/id/005x00000012Q9P/005x00000012Q9P", docOrg, docUser, connection.ErrBadIdentity, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var revoked []string
			identity := func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") == "" || !strings.HasPrefix(r.URL.Path, "/id/") {
					http.Error(w, "Bad_OAuth_Token", http.StatusForbidden)
					return
				}
				_ = json.NewEncoder(w).Encode(map[string]string{"organization_id": tt.org, "user_id": tt.user, "username": "admin@acme.example"})
			}
			body := signedFixture(t, tt.id, flowSecret)
			web := &hosts{by: map[string]http.HandlerFunc{
				myDomain: func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Path {
					case "/services/oauth2/token":
						w.Header().Set("Content-Type", "application/json;charset=UTF-8")
						_, _ = w.Write(body)
					case "/services/data/v62.0/query":
						_, _ = w.Write([]byte(`{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Organization"},"Name":"Acme"}]}`))
					case "/services/oauth2/revoke":
						_ = r.ParseForm()
						mu.Lock()
						revoked = append(revoked, r.Form.Get("token"))
						mu.Unlock()
					default:
						identity(w, r)
					}
				},
				"login.salesforce.com":              identity,
				"test.salesforce.com":               identity,
				"na1.salesforce.com":                identity,
				"login.salesforce.com:8443":         identity,
				"login.salesforce.com.evil.example": identity,
			}}
			store := newFlowStore()
			conn := &connection.Connector{Store: store, HTTP: &http.Client{Transport: web},
				Now: func() time.Time { return time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) },
				Config: connection.OAuthConfig{ClientID: "cid", RedirectURL: "https://api.example.com/oauth/salesforce/callback",
					ClientSecret: func(context.Context) (string, error) { return flowSecret, nil }}}
			ctx := context.Background()
			au, err := conn.Begin(ctx, "team_a", "admin_1", connection.EnvCustom, "https://"+myDomain)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			u, _ := url.Parse(au)
			state := u.Query().Get("state")
			res, err := conn.Callback(ctx, url.Values{"state": {state}, "code": {"aPrx"}})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Callback: got %v; want %v", err, tt.wantErr)
			}
			idHost := "login.salesforce.com"
			if tt.id != "" {
				pu, _ := url.Parse(tt.id)
				idHost = pu.Host
			}
			if got := web.reached(idHost); got != tt.identityAsked {
				t.Errorf("identity URL asked: got %v; want %v", got, tt.identityAsked)
			}
			if tt.wantErr != nil {
				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(revoked, []string{refresh}) {
					t.Errorf("revoked: got %q; want the granted refresh token", revoked)
				}
				if len(store.consents) != 0 {
					t.Errorf("consents: got %d; want none", len(store.consents))
				}
				return
			}
			c, err := conn.Finish(ctx, adminA, res.State, res.Ticket)
			if err != nil || c.OrgID != tt.org || c.UserID != tt.user || c.InstanceURL != "https://acme.my.salesforce.com" ||
				c.LoginURL != "https://"+myDomain || c.OrgName != "Acme" {
				t.Errorf("Finish: got org %q %q user %q instance %q login %q, %v; want org %s (Acme) user %s on the My Domain",
					c.OrgID, c.OrgName, c.UserID, c.InstanceURL, c.LoginURL, err, tt.org, tt.user)
			}
		})
	}
}

func TestSameID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"00Dx0000000BV7zEAG", "00Dx0000000BV7zEAG", true},
		{"00Dx0000000BV7z", "00Dx0000000BV7zEAG", true},
		{"00Dx0000000BV7zEAG", "00Dx0000000BV7z", true},
		{"00Dx0000000BV7z", "00DX0000000BV7z", false}, // 15-character ids are case-sensitive
		{"00Dx0000000BV7zEAG", "00Dx0000000BV7aEAG", false},
		{"00Dx0000000BV7", "00Dx0000000BV7", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := connection.SameID(tt.a, tt.b); got != tt.want {
			t.Errorf("SameID(%q, %q): got %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestIdentityURLOnLoopbackOnlyWhenInsecureIsAllowed(t *testing.T) {
	t.Parallel()
	const path = "/id/00D5g0000000001EAA/0055g0000000001AAA"
	tests := []struct {
		raw      string
		insecure bool
		ok       bool
	}{
		{"http://localhost:8787" + path, true, true},
		{"http://127.0.0.1:8787" + path, true, true},
		{"http://localhost:8787" + path, false, false},
		{"http://10.0.0.1:8787" + path, true, false},
		{"https://login.salesforce.com" + path, false, true},
		{"https://acme--dev.sandbox.my.salesforce.com" + path, false, true},
		{"https://acme.my.site.com" + path, false, false},
		{"https://user@login.salesforce.com" + path, false, false},
		{"https://login.salesforce.com" + path + "?x=1", false, false},
		{"https://login.salesforce.com" + path + "/", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		_, _, err := connection.IdentityURL(tt.raw, tt.insecure)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, connection.ErrBadIdentity) {
			t.Errorf("IdentityURL(%q, %v): got %v; want ok %v", tt.raw, tt.insecure, err, tt.ok)
		}
	}
}

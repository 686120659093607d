package org

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const callback = "http://127.0.0.1:9/callback"

func oauthConfig(o *Org, base string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.ClientID(), ClientSecret: o.ClientSecret(), RedirectURL: callback,
		Scopes: []string{"api", "refresh_token"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/services/oauth2/authorize", TokenURL: base + "/services/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams},
	}
}

var noRedirect = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// consent loads the consent page and presses a button; it returns the redirect URL.
func consent(t *testing.T, authURL, action string) *url.URL {
	t.Helper()
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("authorize status: got %d; want 200: %s", resp.StatusCode, page)
	}
	for _, want := range []string{`id="allow"`, `id="deny"`, `method="post"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("consent page: got no %s; want it", want)
		}
	}
	m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("consent page has no request field")
	}
	u, _ := url.Parse(authURL)
	resp, err = noRedirect.PostForm(u.Scheme+"://"+u.Host+"/services/oauth2/authorize", url.Values{"request": {m[1]}, "action": {action}})
	if err != nil {
		t.Fatalf("consent post: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consent post status: got %d; want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return loc
}

func TestOAuthWebServerFlowWithPKCE(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{RedirectURIs: []string{callback}})
	cfg := oauthConfig(o, base)
	verifier := oauth2.GenerateVerifier()
	loc := consent(t, cfg.AuthCodeURL("st-123", oauth2.S256ChallengeOption(verifier)), "allow")
	if got := loc.Query().Get("state"); got != "st-123" {
		t.Errorf("state: got %q; want %q", got, "st-123")
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		t.Errorf("redirect: got %q; want %q", got, callback)
	}
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if !strings.HasPrefix(tok.AccessToken, o.OrgID()[:15]+"!") {
		t.Errorf("access_token: got %q; want prefix %q", tok.AccessToken, o.OrgID()[:15]+"!")
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Errorf("token: got refresh %q type %q; want a refresh token and Bearer", tok.RefreshToken, tok.TokenType)
	}
	if !tok.Expiry.IsZero() {
		t.Errorf("expiry: got %v; want zero (no expires_in)", tok.Expiry)
	}
	if got := tok.Extra("instance_url"); got != base {
		t.Errorf("instance_url: got %v; want %v", got, base)
	}
	// the token works against the API and the identity URL
	hc := cfg.Client(context.Background(), tok)
	resp, err := hc.Get(tok.Extra("id").(string))
	if err != nil {
		t.Fatalf("identity: %v", err)
	}
	var id map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&id)
	resp.Body.Close()
	if resp.StatusCode != 200 || id["user_id"] != o.UserID() || id["organization_id"] != o.OrgID() {
		t.Errorf("identity: got %d %v; want 200 with user %s org %s", resp.StatusCode, id, o.UserID(), o.OrgID())
	}
	urls, _ := id["urls"].(map[string]any)
	if got, _ := urls["rest"].(string); !strings.Contains(got, "/services/data/v{version}/") {
		t.Errorf("urls.rest: got %q; want a {version} placeholder", got)
	}
	resp, err = hc.Get(tok.Extra("id").(string) + "?version=62.0")
	if err != nil {
		t.Fatalf("identity with version: %v", err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&id)
	resp.Body.Close()
	if got := id["urls"].(map[string]any)["query"]; got != base+"/services/data/v62.0/query/" {
		t.Errorf("urls.query with version: got %v; want %s/services/data/v62.0/query/", got, base)
	}
	for _, k := range []string{"username", "display_name", "email"} {
		if s, _ := id[k].(string); s == "" {
			t.Errorf("identity %s: got empty; want a value", k)
		}
	}
	// a refresh through the library's token source
	o.ExpireAccessTokens()
	ts := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken})
	nt, err := ts.Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if nt.AccessToken == tok.AccessToken || nt.RefreshToken != tok.RefreshToken {
		t.Errorf("refresh: got access %q refresh %q; want a new access token and the same refresh token", nt.AccessToken, nt.RefreshToken)
	}
}

func TestTokenResponseShapeAndSignature(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{AutoApprove: true, RedirectURIs: []string{callback}})
	code := autoCode(t, o, base, "")
	body, status := postToken(t, base, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {o.ClientID()},
		"client_secret": {o.ClientSecret()}, "redirect_uri": {callback}})
	if status != 200 {
		t.Fatalf("status: got %d; want 200: %v", status, body)
	}
	assertShape(t, "token_response.json", body, false)
	m := body.(map[string]any)
	issued := m["issued_at"].(string)
	if !regexp.MustCompile(`^\d{13}$`).MatchString(issued) {
		t.Errorf("issued_at: got %q; want 13 digits of milliseconds", issued)
	}
	mac := hmac.New(sha256.New, []byte(o.ClientSecret()))
	mac.Write([]byte(m["id"].(string) + issued))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); m["signature"] != want {
		t.Errorf("signature: got %v; want %v", m["signature"], want)
	}
	if want := strings.Replace(base, "127.0.0.1", "localhost", 1) + "/id/" + o.OrgID() + "/" + o.UserID(); m["id"] != want {
		t.Errorf("id: got %v; want %v (the identity URL on another host than the login host)", m["id"], want)
	}
	refreshed, status := postToken(t, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)},
		"client_id": {o.ClientID()}, "client_secret": {o.ClientSecret()}})
	if status != 200 {
		t.Fatalf("refresh status: got %d; want 200: %v", status, refreshed)
	}
	assertShape(t, "token_refresh_response.json", refreshed, false)
}

func autoCode(t *testing.T, o *Org, base, challenge string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {o.ClientID()}, "redirect_uri": {callback}, "state": {"s"}, "scope": {"api refresh_token"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	resp, err := noRedirect.Get(base + "/services/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: got %d; want 302", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query().Get("code")
}

func postToken(t *testing.T, base string, form url.Values) (any, int) {
	t.Helper()
	resp, err := http.PostForm(base+"/services/oauth2/token", form)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var body any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("token content type: got %q; want application/json", ct)
	}
	return body, resp.StatusCode
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	clock := newClock()
	o := New(Config{AutoApprove: true, RedirectURIs: []string{callback}})
	o.now = clock.now
	base, err := o.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	verifier := oauth2.GenerateVerifier()
	tilde := strings.Repeat("a", 50) + "~"
	cases := []struct {
		name     string
		form     func() url.Values
		wantErr  string
		wantDesc string
	}{
		{"unknown grant", func() url.Values { return url.Values{"grant_type": {"password"}} }, "unsupported_grant_type", "grant type not supported"},
		{"unknown client", func() url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"nope"}, "client_secret": {o.ClientSecret()}}
		}, "invalid_client_id", "client identifier invalid"},
		{"wrong secret", func() url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {o.ClientID()}, "client_secret": {"wrong"}}
		}, "invalid_client", "invalid client credentials"},
		{"bad code", func() url.Values { return codeForm(o, "bogus", callback, "") }, "invalid_grant", "authentication failure"},
		{"replayed code", func() url.Values {
			c := autoCode(t, o, base, "")
			if _, st := postToken(t, base, codeForm(o, c, callback, "")); st != 200 {
				t.Fatalf("first use: got %d; want 200", st)
			}
			return codeForm(o, c, callback, "")
		}, "invalid_grant", "authentication failure"},
		{"expired code", func() url.Values {
			c := autoCode(t, o, base, "")
			clock.advance(16 * time.Minute)
			return codeForm(o, c, callback, "")
		}, "invalid_grant", "expired authorization code"},
		{"redirect mismatch", func() url.Values { return codeForm(o, autoCode(t, o, base, ""), callback+"/x", "") }, "redirect_uri_mismatch", "redirect_uri must match configuration"},
		{"missing verifier", func() url.Values {
			return codeForm(o, autoCode(t, o, base, oauth2.S256ChallengeFromVerifier(verifier)), callback, "")
		}, "invalid_grant", "invalid code verifier"},
		{"wrong verifier", func() url.Values {
			return codeForm(o, autoCode(t, o, base, oauth2.S256ChallengeFromVerifier(verifier)), callback, oauth2.GenerateVerifier())
		}, "invalid_grant", "invalid code verifier"},
		{"verifier with tilde", func() url.Values {
			return codeForm(o, autoCode(t, o, base, oauth2.S256ChallengeFromVerifier(tilde)), callback, tilde)
		}, "invalid_grant", "invalid code verifier"},
		{"unknown refresh token", func() url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"5Aepnope"}, "client_id": {o.ClientID()}, "client_secret": {o.ClientSecret()}}
		}, "invalid_grant", "expired access/refresh token"},
	}
	for _, tc := range cases {
		body, status := postToken(t, base, tc.form())
		if status != 400 {
			t.Errorf("%s: status: got %d; want 400", tc.name, status)
		}
		assertShape(t, "oauth_error.json", body, false)
		m, _ := body.(map[string]any)
		if m["error"] != tc.wantErr || m["error_description"] != tc.wantDesc {
			t.Errorf("%s: got %v / %v; want %v / %v", tc.name, m["error"], m["error_description"], tc.wantErr, tc.wantDesc)
		}
	}
	// the right verifier works
	c := autoCode(t, o, base, oauth2.S256ChallengeFromVerifier(verifier))
	if body, st := postToken(t, base, codeForm(o, c, callback, verifier)); st != 200 {
		t.Errorf("correct verifier: got %d %v; want 200", st, body)
	}
}

func codeForm(o *Org, code, redirect, verifier string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {o.ClientID()}, "client_secret": {o.ClientSecret()}, "redirect_uri": {redirect}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return f
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{RedirectURIs: []string{callback}})
	good := url.Values{"response_type": {"code"}, "client_id": {o.ClientID()}, "redirect_uri": {callback}, "state": {"xyz"}}
	with := func(k, v string) string {
		q := url.Values{}
		for kk, vv := range good {
			q[kk] = vv
		}
		q.Set(k, v)
		return base + "/services/oauth2/authorize?" + q.Encode()
	}
	cases := []struct {
		name       string
		url        string
		wantStatus int
		wantError  string
	}{
		{"redirect uri not registered", with("redirect_uri", callback+"?extra=1"), 400, "redirect_uri_mismatch"},
		{"redirect uri prefix only", with("redirect_uri", "http://127.0.0.1:9/callbac"), 400, "redirect_uri_mismatch"},
		{"unknown client", with("client_id", "nope"), 400, "invalid_client_id"},
		{"wrong response type", with("response_type", "token"), 302, "unsupported_response_type"},
		{"plain challenge method", with("code_challenge_method", "plain"), 302, "invalid_request"},
	}
	for _, tc := range cases {
		resp, err := noRedirect.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus {
			t.Errorf("%s: status: got %d; want %d", tc.name, resp.StatusCode, tc.wantStatus)
			continue
		}
		if tc.wantStatus == 302 {
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if loc.Query().Get("error") != tc.wantError || loc.Query().Get("state") != "xyz" {
				t.Errorf("%s: got %s; want error=%s with state", tc.name, loc, tc.wantError)
			}
		} else if !strings.Contains(string(b), "error="+tc.wantError) {
			t.Errorf("%s: got page %s; want error=%s", tc.name, b, tc.wantError)
		}
	}
	// Deny
	loc := consent(t, with("scope", "api"), "deny")
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") != "" {
		t.Errorf("deny: got %s; want error=access_denied, the state and no code", loc)
	}
}

func TestRefreshRotationAndRevocation(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{AutoApprove: true, Rotate: true, RedirectURIs: []string{callback}})
	body, _ := postToken(t, base, codeForm(o, autoCode(t, o, base, ""), callback, ""))
	rt := body.(map[string]any)["refresh_token"].(string)
	refresh := func(tok string) (map[string]any, int) {
		b, st := postToken(t, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "client_id": {o.ClientID()}, "client_secret": {o.ClientSecret()}})
		m, _ := b.(map[string]any)
		return m, st
	}
	m, st := refresh(rt)
	rt2, _ := m["refresh_token"].(string)
	if st != 200 || rt2 == "" || rt2 == rt {
		t.Fatalf("rotating refresh: got %d, refresh_token %q; want 200 and a new one", st, rt2)
	}
	if m, st := refresh(rt); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("old refresh token after rotation: got %d %v; want 400 invalid_grant", st, m)
	}
	// revoke through the endpoint: the refresh token and its access tokens die
	m, _ = refresh(rt2)
	rt3 := m["refresh_token"].(string)
	access := m["access_token"]
	resp, err := http.PostForm(base+"/services/oauth2/revoke", url.Values{"token": {rt3}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("revoke: got %d; want 200", resp.StatusCode)
	}
	c := &client{t: t, base: base, token: access.(string), hc: http.DefaultClient}
	if r := c.do("GET", v+"/limits", nil); r.status != 401 {
		t.Errorf("access token after revoking its refresh token: got %d; want 401", r.status)
	}
	if m, st := refresh(rt3); st != 400 || m["error_description"] != "expired access/refresh token" {
		t.Errorf("revoked refresh token: got %d %v; want 400 expired access/refresh token", st, m)
	}
	resp, _ = http.PostForm(base+"/services/oauth2/revoke", url.Values{"token": {"nope"}})
	var eb map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != 400 || eb["error"] != "invalid_token" {
		t.Errorf("revoke unknown: got %d %v; want 400 invalid_token", resp.StatusCode, eb)
	}
	// Go API revocation
	tok := o.IssueTokens()
	if err := o.RevokeRefreshToken(tok.RefreshToken); err != nil {
		t.Errorf("RevokeRefreshToken: got %v; want nil", err)
	}
	if m, st := refresh(tok.RefreshToken); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("refresh after RevokeRefreshToken: got %d %v; want 400 invalid_grant", st, m)
	}
}

func TestNoRotationOmitsRefreshToken(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	tok := o.IssueTokens()
	b, st := postToken(t, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {o.ClientID()}, "client_secret": {o.ClientSecret()}})
	m := b.(map[string]any)
	if _, has := m["refresh_token"]; st != 200 || has {
		t.Errorf("refresh without rotation: got %d %v; want 200 without refresh_token", st, m)
	}
}

func TestApprovalCap(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{})
	var first Tokens
	for i := 0; i < 6; i++ {
		tok := o.IssueTokens()
		if i == 0 {
			first = tok
		}
	}
	b, st := postToken(t, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}, "client_id": {o.ClientID()}, "client_secret": {o.ClientSecret()}})
	if st != 400 || b.(map[string]any)["error"] != "invalid_grant" {
		t.Errorf("oldest of six approvals: got %d %v; want 400 invalid_grant", st, b)
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	t.Parallel()
	t.Run("after calls", func(t *testing.T) {
		t.Parallel()
		o, _ := testOrg(t, Config{TokenCalls: 2})
		c := newClient(t, o)
		for i, want := range []int{200, 200, 401, 401} {
			r := c.do("GET", v+"/limits", nil)
			if r.status != want {
				t.Errorf("call %d: got %d; want %d", i+1, r.status, want)
			}
			if want == 401 {
				assertShape(t, "error_invalid_session.json", r.body, false)
				if e := firstErr(r.body); e["message"] != "Session expired or invalid" || e["errorCode"] != "INVALID_SESSION_ID" {
					t.Errorf("401 body: got %v; want INVALID_SESSION_ID", e)
				}
			}
		}
	})
	t.Run("after duration", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		o := New(Config{TokenTTL: time.Hour})
		o.now = clock.now
		if _, err := o.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = o.Close() })
		c := newClient(t, o)
		if r := c.do("GET", v+"/limits", nil); r.status != 200 {
			t.Errorf("fresh token: got %d; want 200", r.status)
		}
		clock.advance(time.Hour)
		if r := c.do("GET", v+"/limits", nil); r.status != 401 {
			t.Errorf("token after its lifetime: got %d; want 401", r.status)
		}
	})
	t.Run("missing and forged", func(t *testing.T) {
		t.Parallel()
		o, base := testOrg(t, Config{})
		for _, tok := range []string{"", o.OrgID()[:15] + "!forged"} {
			c := &client{t: t, base: base, token: tok, hc: http.DefaultClient}
			if r := c.do("GET", v+"/sobjects/Lead/describe", nil); r.status != 401 {
				t.Errorf("token %q: got %d; want 401", tok, r.status)
			}
		}
		if got := o.Stats().Total; got != 0 {
			t.Errorf("calls counted for rejected sessions: got %d; want 0", got)
		}
		resp, _ := http.Get(base + "/id/" + o.OrgID() + "/" + o.UserID())
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || string(b) != "Bad_OAuth_Token" {
			t.Errorf("identity without token: got %d %q; want 403 Bad_OAuth_Token", resp.StatusCode, b)
		}
	})
}

// TestIdentityURLOnAnotherHost: as Salesforce names login.salesforce.com in
// a token asked from a My Domain, the default org names the identity URL on
// the other spelling of its loopback host (same port, same server), unless
// IdentityOnLoginHost; the identity URL answers there, naming itself.
func TestIdentityURLOnAnotherHost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		sameHost bool
		host     func(base string) string
	}{
		{"default: another host", false, func(base string) string { return strings.Replace(base, "127.0.0.1", "localhost", 1) }},
		{"IdentityOnLoginHost", true, func(base string) string { return base }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, base := testOrg(t, Config{AutoApprove: true, RedirectURIs: []string{callback}, IdentityOnLoginHost: tt.sameHost})
			code := autoCode(t, o, base, "")
			body, status := postToken(t, base, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {o.ClientID()},
				"client_secret": {o.ClientSecret()}, "redirect_uri": {callback}})
			m, _ := body.(map[string]any)
			want := tt.host(base) + "/id/" + o.OrgID() + "/" + o.UserID()
			if status != 200 || m["id"] != want || m["instance_url"] != base {
				t.Fatalf("token: got %d id %v instance %v; want id %s, instance %s", status, m["id"], m["instance_url"], want, base)
			}
			req, _ := http.NewRequest("GET", want, nil)
			req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("identity: %v", err)
			}
			var id map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&id)
			resp.Body.Close()
			if resp.StatusCode != 200 || id["id"] != want || id["organization_id"] != o.OrgID() {
				t.Errorf("identity: got %d id %v org %v; want 200 naming %s and org %s", resp.StatusCode, id["id"], id["organization_id"], want, o.OrgID())
			}
		})
	}
}

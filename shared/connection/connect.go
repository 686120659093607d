package connection

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Login hosts of the fixed environments.
const (
	ProductionLoginURL = "https://login.salesforce.com"
	SandboxLoginURL    = "https://test.salesforce.com"
)

// Scopes the connection asks for: the REST API, a refresh token, and the
// identity URL.
var Scopes = []string{"api", "refresh_token", "id"}

// StateTTL is how long an authorization may take.
const StateTTL = 10 * time.Minute

// OAuthConfig is the connected app and where the flow lands.
type OAuthConfig struct {
	ClientID     string
	ClientSecret func(ctx context.Context) (string, error)
	RedirectURL  string // this API's /oauth/salesforce/callback
	// AllowInsecureLoginURLs permits http:// login URLs on loopback hosts, for
	// the local simulator only.
	AllowInsecureLoginURLs bool
}

// Connector runs the connect flow.
type Connector struct {
	Config OAuthConfig
	Store  Store
	HTTP   *http.Client
	Now    func() time.Time
}

func (c *Connector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// HTTPClient is the client used for Salesforce's OAuth endpoints.
func (c *Connector) HTTPClient() *http.Client { return c.httpClient() }

func (c *Connector) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Connector) oauth(ctx context.Context, loginURL string) (*oauth2.Config, error) {
	secret, err := c.Config.ClientSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("client secret: %w", err)
	}
	return &oauth2.Config{
		ClientID:     c.Config.ClientID,
		ClientSecret: secret,
		RedirectURL:  c.Config.RedirectURL,
		Scopes:       Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   loginURL + "/services/oauth2/authorize",
			TokenURL:  loginURL + "/services/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}, nil
}

// LoginURL returns the login URL for env, validating a custom one: https, a
// Salesforce host (My Domain, sandbox My Domain, Experience Cloud site), no
// path, query or credentials. Plain http on a loopback host only when allowed.
func LoginURL(env Environment, custom string, allowInsecure bool) (string, error) {
	switch env {
	case EnvProduction:
		return ProductionLoginURL, nil
	case EnvSandbox:
		return SandboxLoginURL, nil
	case EnvCustom:
	default:
		return "", fmt.Errorf("environment: must be one of production, sandbox, custom")
	}
	u, err := url.Parse(custom)
	if err != nil || custom == "" {
		return "", fmt.Errorf("%w: login_url: not a URL", ErrBadLoginURL)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: login_url: must be a bare origin such as https://acme.my.salesforce.com", ErrBadLoginURL)
	}
	host := strings.ToLower(u.Hostname())
	switch u.Scheme {
	case "https":
		if u.Port() != "" {
			return "", fmt.Errorf("%w: login_url: no port allowed", ErrBadLoginURL)
		}
		if !salesforceHost(host) {
			return "", fmt.Errorf("%w: login_url: %s is not a Salesforce login host (*.my.salesforce.com, *.my.site.com, login/test.salesforce.com)", ErrBadLoginURL, host)
		}
	case "http":
		if !allowInsecure || !(host == "127.0.0.1" || host == "localhost" || host == "::1") {
			return "", fmt.Errorf("%w: login_url: must use https", ErrBadLoginURL)
		}
	default:
		return "", fmt.Errorf("%w: login_url: must use https", ErrBadLoginURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

func salesforceHost(host string) bool {
	if host == "login.salesforce.com" || host == "test.salesforce.com" {
		return true
	}
	for _, suffix := range []string{".my.salesforce.com", ".my.site.com", ".my.salesforce-sites.com"} {
		if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
			label := strings.TrimSuffix(host, suffix)
			if validLabel(label) {
				return true
			}
		}
	}
	return false
}

func validLabel(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" || len(part) > 63 {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Begin starts an authorization for team by admin and returns the URL the
// admin's browser opens.
func (c *Connector) Begin(ctx context.Context, teamID, admin string, env Environment, customLoginURL string) (string, error) {
	loginURL, err := LoginURL(env, customLoginURL, c.Config.AllowInsecureLoginURLs)
	if err != nil {
		return "", err
	}
	cfg, err := c.oauth(ctx, loginURL)
	if err != nil {
		return "", err
	}
	state, err := randomToken(32)
	if err != nil {
		return "", err
	}
	verifier := oauth2.GenerateVerifier() // 32 random bytes, base64url: never '~'
	p := PendingAuth{State: state, TeamID: teamID, Admin: admin, Verifier: verifier, Environment: env,
		LoginURL: loginURL, ExpiresAt: c.now().Add(StateTTL)}
	if err := c.Store.SaveState(ctx, p); err != nil {
		return "", fmt.Errorf("save OAuth state: %w", err)
	}
	return cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil
}

// CallbackResult is the outcome of the callback, for the redirect.
type CallbackResult struct {
	TeamID     string
	Connection *Connection
}

// Complete handles Salesforce's redirect to the callback.
func (c *Connector) Complete(ctx context.Context, q url.Values) (CallbackResult, error) {
	state := q.Get("state")
	if state == "" || len(state) > 128 {
		return CallbackResult{}, ErrStateUnknown
	}
	p, err := c.Store.TakeState(ctx, state)
	if err != nil {
		return CallbackResult{}, err
	}
	res := CallbackResult{TeamID: p.TeamID}
	if c.now().After(p.ExpiresAt) {
		return res, ErrStateExpired
	}
	if e := q.Get("error"); e != "" {
		if e == "access_denied" || e == "access-denied" {
			return res, ErrAccessDenied
		}
		return res, fmt.Errorf("%w: %s", ErrExchange, sanitize(e))
	}
	code := q.Get("code")
	if code == "" {
		return res, fmt.Errorf("%w: no code in the callback", ErrExchange)
	}
	cfg, err := c.oauth(ctx, p.LoginURL)
	if err != nil {
		return res, err
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	tok, err := cfg.Exchange(hctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return res, fmt.Errorf("%w: %s", ErrExchange, sanitize(re.ErrorCode))
		}
		return res, fmt.Errorf("%w: token endpoint unreachable", ErrExchange)
	}
	idURL, _ := tok.Extra("id").(string)
	issuedAt, _ := tok.Extra("issued_at").(string)
	signature, _ := tok.Extra("signature").(string)
	instanceURL, _ := tok.Extra("instance_url").(string)
	if !VerifySignature(cfg.ClientSecret, idURL, issuedAt, signature) {
		c.revoke(hctx, p.LoginURL, tok.RefreshToken, tok.AccessToken)
		return res, ErrBadSignature
	}
	if err := c.checkURLs(p.LoginURL, idURL, instanceURL); err != nil {
		c.revoke(hctx, p.LoginURL, tok.RefreshToken, tok.AccessToken)
		return res, err
	}
	if tok.RefreshToken == "" {
		return res, fmt.Errorf("%w: no refresh token granted (the connected app must allow the refresh_token scope)", ErrExchange)
	}
	ident, err := c.identity(ctx, idURL, tok.AccessToken)
	if err != nil {
		c.revoke(hctx, p.LoginURL, tok.RefreshToken, tok.AccessToken)
		return res, err
	}
	connID, err := randomToken(12)
	if err != nil {
		return res, err
	}
	conn := Connection{TeamID: p.TeamID, ID: connID, Environment: p.Environment, LoginURL: p.LoginURL,
		InstanceURL: strings.TrimRight(instanceURL, "/"), OrgID: ident.OrganizationID, UserID: ident.UserID,
		Username: ident.Username, ConnectedAt: c.now().UTC(), ConnectedBy: p.Admin, Status: StatusConnected,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Version: 1}
	// Consenting again to the same org (after a revoked refresh token, say)
	// continues the connection: it keeps its start, so the events held
	// while it needed the new consent sync, and "no backfill" still means
	// before the team first connected this org.
	// The events parked meanwhile come back within a hold delay of now.
	if prev, err := c.Store.Get(ctx, p.TeamID); err == nil && prev.OrgID == conn.OrgID &&
		(prev.Status == StatusConnected || prev.Status == StatusNeedsReauth) && !prev.ConnectedAt.IsZero() {
		conn.ConnectedAt, conn.HeldAt = prev.ConnectedAt, prev.HeldAt
		if prev.Status == StatusNeedsReauth {
			conn.HeldAt = c.now().UTC()
		}
	}
	prev, err := c.Store.Replace(ctx, conn)
	if err != nil {
		return res, fmt.Errorf("store connection: %w", err)
	}
	if prev != nil && prev.RefreshToken != "" && prev.RefreshToken != conn.RefreshToken {
		c.revoke(hctx, prev.LoginURL, prev.RefreshToken, "")
	}
	res.Connection = &conn
	return res, nil
}

// VerifySignature checks the token response's signature: base64 of
// HMAC-SHA256 over id+issued_at, keyed with the client secret.
func VerifySignature(secret, id, issuedAt, signature string) bool {
	if id == "" || issuedAt == "" || signature == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(id + issuedAt))
	return hmac.Equal(got, mac.Sum(nil))
}

// checkURLs makes sure the identity URL is on the login host (we send the
// access token there) and the instance URL is https (or loopback locally).
func (c *Connector) checkURLs(loginURL, idURL, instanceURL string) error {
	lu, _ := url.Parse(loginURL)
	iu, err := url.Parse(idURL)
	if err != nil || iu.Host == "" || !strings.EqualFold(iu.Host, lu.Host) || iu.Scheme != lu.Scheme {
		return fmt.Errorf("%w: identity URL is not on the login host", ErrExchange)
	}
	inst, err := url.Parse(instanceURL)
	if err != nil || inst.Host == "" {
		return fmt.Errorf("%w: no instance_url in the token response", ErrExchange)
	}
	if inst.Scheme != "https" && !(c.Config.AllowInsecureLoginURLs && inst.Scheme == "http") {
		return fmt.Errorf("%w: instance_url must use https", ErrExchange)
	}
	return nil
}

type identity struct {
	UserID         string `json:"user_id"`
	OrganizationID string `json:"organization_id"`
	Username       string `json:"username"`
}

func (c *Connector) identity(ctx context.Context, idURL, accessToken string) (identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, idURL, nil)
	if err != nil {
		return identity{}, fmt.Errorf("identity request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return identity{}, fmt.Errorf("%w: identity URL unreachable", ErrExchange)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return identity{}, fmt.Errorf("%w: identity URL answered %d", ErrExchange, resp.StatusCode)
	}
	var id identity
	if err := json.Unmarshal(body, &id); err != nil || id.OrganizationID == "" || id.UserID == "" {
		return identity{}, fmt.Errorf("%w: identity answer lacks organization_id or user_id", ErrExchange)
	}
	return id, nil
}

// revoke revokes a token at Salesforce, best effort (a refresh token revokes
// its access tokens too).
func (c *Connector) revoke(ctx context.Context, loginURL string, tokens ...string) {
	for _, t := range tokens {
		if t == "" {
			continue
		}
		_ = Revoke(ctx, c.httpClient(), loginURL, t)
		return
	}
}

// Revoke revokes token at Salesforce.
func Revoke(ctx context.Context, client *http.Client, loginURL, token string) error {
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loginURL+"/services/oauth2/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: Salesforce answered %d", resp.StatusCode)
	}
	return nil
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sanitize keeps only a short machine word from Salesforce-supplied text.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

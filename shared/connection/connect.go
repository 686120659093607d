package connection

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/sfsync/sfsync/shared/salesforce"
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

// ConsentTTL is how long a consent waits for the admin who started the
// connect to complete it; after that it is revoked.
const ConsentTTL = 10 * time.Minute

// Prompt makes Salesforce ask the user to log in and to approve again, even
// with a session or an earlier approval: the admin sees which user, and so
// which org, they link.
const Prompt = "login consent"

// OAuthConfig is the connected app and where the flow lands.
type OAuthConfig struct {
	ClientID     string
	ClientSecret func(ctx context.Context) (string, error)
	// ForgetClientSecret, when set, is called when Salesforce refuses the
	// connected app's credentials (invalid_client): a kept copy of the
	// secret is dropped, so that one the operator fixed is read at once.
	ForgetClientSecret func()
	RedirectURL        string // this API's /oauth/salesforce/callback
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
	// APIVersion is the REST API version of the org name query at Finish
	// ("": salesforce.DefaultVersion).
	APIVersion string
	Log        *slog.Logger // nil: slog.Default()
}

func (c *Connector) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
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
// Salesforce login host (login.salesforce.com, test.salesforce.com or a My
// Domain, sandbox My Domains included), no path, query or credentials. Plain http on a loopback host only when allowed.
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
			return "", fmt.Errorf("%w: login_url: %s is not a Salesforce login host (*.my.salesforce.com, login.salesforce.com, test.salesforce.com)", ErrBadLoginURL, host)
		}
	case "http":
		if !allowInsecure || !loopback(host) {
			return "", fmt.Errorf("%w: login_url: must use https", ErrBadLoginURL)
		}
	default:
		return "", fmt.Errorf("%w: login_url: must use https", ErrBadLoginURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

// salesforceHost is a login host, and so an identity host: production,
// sandbox, or a My Domain (sandbox My Domains too:
// acme--dev.sandbox.my.salesforce.com).
func salesforceHost(host string) bool {
	if host == "login.salesforce.com" || host == "test.salesforce.com" {
		return true
	}
	return hostUnder(host, ".my.salesforce.com")
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
	return cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", Prompt)), nil
}

// CallbackResult is the outcome of the callback, for the redirect: the
// state and the one-time ticket the consenting browser carries to the app.
type CallbackResult struct {
	TeamID string
	State  string
	Ticket string
}

// Callback handles Salesforce's redirect to the callback. It exchanges the
// code and checks what Salesforce granted, but connects nothing: it keeps the
// grant sealed as a Consent that only an admin of the team that started the
// connect can complete (Finish), with the ticket that only the consenting
// browser sees.
func (c *Connector) Callback(ctx context.Context, q url.Values) (CallbackResult, error) {
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
	conn, err := c.exchange(ctx, p, code)
	if err != nil {
		return res, err
	}
	ticket, err := randomToken(32)
	if err != nil {
		c.revoke(ctx, conn.LoginURL, conn.RefreshToken)
		return res, err
	}
	consent := Consent{State: state, Admin: p.Admin, TicketHash: TicketHash(ticket),
		ExpiresAt: c.now().Add(ConsentTTL), Connection: conn}
	if err := c.Store.SaveConsent(ctx, consent); err != nil {
		c.revoke(context.WithoutCancel(ctx), conn.LoginURL, conn.RefreshToken)
		return res, fmt.Errorf("save consent: %w", err)
	}
	res.State, res.Ticket = state, ticket
	return res, nil
}

// exchange redeems the code with the PKCE verifier, checks the answer (its
// signature, the identity and instance hosts, a refresh token) and reads the
// identity, which must name the org and user of its URL. Whatever it
// refuses after Salesforce granted tokens, it revokes.
func (c *Connector) exchange(ctx context.Context, p PendingAuth, code string) (Connection, error) {
	cfg, err := c.oauth(ctx, p.LoginURL)
	if err != nil {
		return Connection{}, err
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	tok, err := cfg.Exchange(hctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Connection{}, fmt.Errorf("%w: %s", ErrExchange, sanitize(re.ErrorCode))
		}
		return Connection{}, fmt.Errorf("%w: token endpoint unreachable", ErrExchange)
	}
	idURL, _ := tok.Extra("id").(string)
	issuedAt, _ := tok.Extra("issued_at").(string)
	signature, _ := tok.Extra("signature").(string)
	instanceURL, _ := tok.Extra("instance_url").(string)
	if !VerifySignature(cfg.ClientSecret, idURL, issuedAt, signature) {
		c.revoke(hctx, p.LoginURL, tok.RefreshToken, tok.AccessToken)
		return Connection{}, ErrBadSignature
	}
	ref, instance, err := c.checkURLs(idURL, instanceURL)
	if err != nil {
		c.revoke(hctx, p.LoginURL, tok.RefreshToken, tok.AccessToken)
		return Connection{}, err
	}
	if tok.RefreshToken == "" {
		c.revoke(hctx, p.LoginURL, tok.AccessToken)
		return Connection{}, fmt.Errorf("%w: no refresh token granted (the connected app must allow the refresh_token scope)", ErrExchange)
	}
	ident, err := c.identity(ctx, idURL, tok.AccessToken)
	if err == nil {
		err = ref.matches(ident)
	}
	if err != nil {
		c.revoke(hctx, p.LoginURL, tok.RefreshToken, tok.AccessToken)
		return Connection{}, err
	}
	return Connection{TeamID: p.TeamID, Environment: p.Environment, LoginURL: p.LoginURL, InstanceURL: instance,
		OrgID: ident.OrganizationID, UserID: ident.UserID, Username: ident.Username, TimeZone: timeZoneOf(ident.TimeZone),
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}, nil
}

// Claimant is who asks to complete a connect, from the verified claims.
type Claimant struct {
	TeamID  string
	Subject string
	Admin   bool
}

// Finish completes a consented connect for an admin of the team that
// started it (the same admin, when the start recorded one) who shows the
// ticket: only then the grant becomes the team's connection. The consent is
// single use. Any refusal also drops and revokes it, so that a wrong guess
// burns it: a non-admin gets ErrNotAdmin whatever the state, and every other
// refusal is ErrNoConsent, wrapped with a reason for the operator's log.
func (c *Connector) Finish(ctx context.Context, by Claimant, state, ticket string) (Connection, error) {
	if !validTicket(state) || !validTicket(ticket) {
		return Connection{}, by.refusal("malformed")
	}
	con, err := c.Store.TakeConsent(ctx, state)
	if errors.Is(err, ErrNoConsent) {
		return Connection{}, by.refusal("unknown_state")
	}
	if err != nil {
		return Connection{}, fmt.Errorf("take consent: %w", err)
	}
	if reason := c.refuse(con, by, ticket); reason != "" {
		c.discard(ctx, con)
		return Connection{}, by.refusal(reason)
	}
	conn := con.Connection
	conn.ID, err = randomToken(12)
	if err != nil {
		c.discard(ctx, con)
		return Connection{}, err
	}
	conn.ConnectedAt, conn.ConnectedBy, conn.Status, conn.Version = c.now().UTC(), by.Subject, StatusConnected, 1
	conn.OrgName = c.nameOf(ctx, conn)
	prev, err := c.activate(ctx, conn)
	if err != nil {
		c.discard(ctx, con)
		return Connection{}, err
	}
	hctx := context.WithoutCancel(ctx)
	if prev != nil && prev.RefreshToken != "" && prev.RefreshToken != conn.RefreshToken {
		c.revoke(hctx, prev.LoginURL, prev.RefreshToken, "")
	}
	// Taken, the consent cannot be completed again: a failed drop leaves
	// notes that the next sweep removes.
	_ = c.Store.DropConsent(hctx, con.Ref())
	return conn, nil
}

// OrgNameTimeout bounds the org name query at Finish.
const OrgNameTimeout = 5 * time.Second

// maxOrgName caps the org name kept (Salesforce allows 80 characters).
const maxOrgName = 255

// nameOf returns the name of conn's org, or "" when Salesforce does not
// give it: the identity answer carries no org name, so Finish asks once,
// and a connect never fails for the name.
func (c *Connector) nameOf(ctx context.Context, conn Connection) string {
	name, err := c.orgName(ctx, conn)
	if err != nil {
		c.log().Warn("read the org's name", "team_id", conn.TeamID, "org_id", conn.OrgID, "error", err.Error())
		return ""
	}
	if r := []rune(name); len(r) > maxOrgName {
		name = string(r[:maxOrgName])
	}
	return name
}

// orgName queries the org's name with conn's access token: one API call,
// never sent again and never refreshed.
func (c *Connector) orgName(ctx context.Context, conn Connection) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, OrgNameTimeout)
	defer cancel()
	client := &salesforce.Client{HTTP: c.httpClient(), Session: grantedToken(conn.Token()), Version: c.APIVersion, ReadRetries: -1}
	orgs, err := salesforce.Query[struct{ Name string }](ctx, client, "SELECT Name FROM Organization")
	if err != nil {
		return "", fmt.Errorf("query the org's name: %w", err)
	}
	if len(orgs) != 1 {
		return "", fmt.Errorf("query the org's name: got %d organizations; want 1", len(orgs))
	}
	return orgs[0].Name, nil
}

// grantedToken is the access token a consent brought: a session that does
// not refresh.
type grantedToken salesforce.Token

func (t grantedToken) Current(context.Context) (salesforce.Token, error) {
	return salesforce.Token(t), nil
}

func (t grantedToken) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return salesforce.Token{}, errors.New("the access token just granted was refused")
}

// refusal is the error a refused completion returns.
func (by Claimant) refusal(reason string) error {
	if !by.Admin {
		return fmt.Errorf("%w (%s)", ErrNotAdmin, reason)
	}
	return fmt.Errorf("%w (%s)", ErrNoConsent, reason)
}

// refuse says why by may not complete con with ticket, or "" when it may.
func (c *Connector) refuse(con Consent, by Claimant, ticket string) string {
	switch {
	case !by.Admin:
		return "not_admin"
	case by.TeamID != con.Connection.TeamID:
		return "other_team"
	case con.Admin != "" && by.Subject != con.Admin:
		return "other_admin"
	case subtle.ConstantTimeCompare([]byte(TicketHash(ticket)), []byte(con.TicketHash)) != 1:
		return "wrong_ticket"
	case !c.now().Before(con.ExpiresAt):
		return "expired"
	}
	return ""
}

// held reports whether a connection of status s holds the team's events
// until an admin acts.
func held(s Status) bool { return s == StatusNeedsReauth || s == StatusNeedsAdmin }

// activate stores conn as the team's connection and returns the one it
// replaced. Consenting again to the same org (after a revoked refresh token,
// or a reactivated user, say) continues the connection: it keeps its start, so the events held
// while it needed the new consent sync, and "no backfill" still means before
// the team first connected this org. The events parked meanwhile come back
// within a hold delay of now.
func (c *Connector) activate(ctx context.Context, conn Connection) (*Connection, error) {
	if prev, err := c.Store.Get(ctx, conn.TeamID); err == nil && prev.OrgID == conn.OrgID &&
		(prev.Status == StatusConnected || held(prev.Status)) && !prev.ConnectedAt.IsZero() {
		conn.ConnectedAt, conn.HeldAt = prev.ConnectedAt, prev.HeldAt
		if held(prev.Status) {
			conn.HeldAt = c.now().UTC()
		}
	}
	prev, err := c.Store.Replace(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("store connection: %w", err)
	}
	return prev, nil
}

// discard revokes a consent's grant at Salesforce and drops it, best effort
// (a refresh token revokes its access tokens too).
func (c *Connector) discard(ctx context.Context, con Consent) {
	ctx = context.WithoutCancel(ctx)
	c.revoke(ctx, con.Connection.LoginURL, con.Connection.RefreshToken, con.Connection.AccessToken)
	_ = c.Store.DropConsent(ctx, con.Ref())
}

// SweepLookback is how far back SweepExpired is sure to find expired
// consents: the table's TTL deletes a consent an hour past its deadline.
const SweepLookback = time.Hour

// Sweep revokes and drops the team's consents that nobody completed within
// ConsentTTL, and returns how many it revoked. The API sweeps a team when
// one of its admins starts or completes a connect; SweepExpired sweeps every
// team on a schedule.
func (c *Connector) Sweep(ctx context.Context, teamID string) (int, error) {
	refs, err := c.Store.Consents(ctx, teamID)
	if err != nil {
		return 0, fmt.Errorf("list consents: %w", err)
	}
	return c.sweep(ctx, refs)
}

// SweepExpired revokes and drops the consents of every team that nobody
// completed within ConsentTTL, and returns how many it revoked: a team that
// never comes back to complete or start a connect has its unclaimed grant
// revoked all the same. The stack runs it every few minutes.
func (c *Connector) SweepExpired(ctx context.Context) (int, error) {
	refs, err := c.Store.ExpiredConsents(ctx, c.now())
	if err != nil {
		return 0, fmt.Errorf("list expired consents: %w", err)
	}
	n, err := c.sweep(ctx, refs)
	if n > 0 {
		c.log().Info("expired consents revoked", "count", n)
	}
	return n, err
}

// sweep revokes and drops the consents of refs whose deadline passed.
func (c *Connector) sweep(ctx context.Context, refs []ConsentRef) (int, error) {
	n := 0
	for _, ref := range refs {
		if c.now().Before(ref.ExpiresAt) {
			continue
		}
		con, err := c.Store.TakeConsent(ctx, ref.State)
		if errors.Is(err, ErrNoConsent) { // completed or discarded meanwhile
			if err := c.Store.DropConsent(ctx, ref); err != nil {
				return n, fmt.Errorf("drop consent: %w", err)
			}
			continue
		}
		if err != nil {
			return n, fmt.Errorf("take consent: %w", err)
		}
		c.discard(ctx, con)
		n++
	}
	return n, nil
}

// TicketHash is what the store keeps of a ticket: hex SHA-256.
func TicketHash(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return hex.EncodeToString(sum[:])
}

// validTicket accepts what randomToken makes: base64url, at most 128 bytes.
func validTicket(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
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

// checkURLs makes sure the identity URL is a Salesforce identity URL (we
// send the access token there) and the instance URL is a Salesforce host,
// and returns both: the identity URL's org and user, and the instance URL.
func (c *Connector) checkURLs(idURL, instanceURL string) (identityRef, string, error) {
	org, user, err := IdentityURL(idURL, c.Config.AllowInsecureLoginURLs)
	if err != nil {
		return identityRef{}, "", err
	}
	instance, err := InstanceURL(instanceURL, c.Config.AllowInsecureLoginURLs)
	return identityRef{OrgID: org, UserID: user}, instance, err
}

// identityRef is the org and user an identity URL names.
type identityRef struct{ OrgID, UserID string }

// IdentityURL checks the identity URL of a token response and returns the
// org and user ids its path names (/id/<org>/<user>). Salesforce serves it
// from a login host, whatever host the flow ran through: a token from
// https://acme.my.salesforce.com names https://login.salesforce.com/id/...
// (a sandbox's, test.salesforce.com), or its My Domain. So it must be https
// on login.salesforce.com, test.salesforce.com or a My Domain
// (*.my.salesforce.com, sandbox My Domains included), with no credentials,
// port, query or fragment; a loopback host (http or https, any port) only
// when allowInsecure. The caller checks that the identity answer names the
// same org and user.
func IdentityURL(raw string, allowInsecure bool) (orgID, userID string, err error) {
	u, perr := url.Parse(raw)
	if perr != nil || u.Host == "" {
		return "", "", fmt.Errorf("%w: no identity URL in the token response", ErrBadIdentity)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%w: the identity URL carries credentials, a query or a fragment", ErrBadIdentity)
	}
	host := strings.ToLower(u.Hostname())
	local := allowInsecure && loopback(host) && (u.Scheme == "http" || u.Scheme == "https")
	if !local && (u.Scheme != "https" || u.Port() != "" || !salesforceHost(host)) {
		return "", "", fmt.Errorf("%w: %s is not a Salesforce identity host", ErrBadIdentity, sanitizeHost(host))
	}
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/id/"), "/")
	if !strings.HasPrefix(u.EscapedPath(), "/id/") || len(parts) != 2 ||
		!salesforceID(parts[0], "00D") || !salesforceID(parts[1], "005") {
		return "", "", fmt.Errorf("%w: the identity URL's path is not /id/<org id>/<user id>", ErrBadIdentity)
	}
	return parts[0], parts[1], nil
}

// salesforceID reports whether s is a 15- or 18-character Salesforce id
// with the given key prefix.
func salesforceID(s, prefix string) bool {
	if len(s) != 15 && len(s) != 18 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// SameID reports whether two Salesforce ids name the same record: a
// 15-character id is case-sensitive, and an 18-character one is the same
// 15 characters with a suffix computed from them, so the first 15 decide.
func SameID(a, b string) bool {
	if len(a) != 15 && len(a) != 18 || len(b) != 15 && len(b) != 18 {
		return false
	}
	return a[:15] == b[:15]
}

// matches checks that an identity answer names the org and user of the
// identity URL it came from.
func (ref identityRef) matches(id identity) error {
	if !SameID(ref.OrgID, id.OrganizationID) {
		return fmt.Errorf("%w: the identity answer names another org than its URL", ErrBadIdentity)
	}
	if !SameID(ref.UserID, id.UserID) {
		return fmt.Errorf("%w: the identity answer names another user than its URL", ErrBadIdentity)
	}
	return nil
}

// InstanceURL checks an instance_url Salesforce returned, at connect or
// refresh, and returns it without a trailing slash: https on a Salesforce
// host (*.my.salesforce.com, *.salesforce.com, *.force.com), with no
// credentials, port, path, query or fragment. A loopback host (http or
// https, any port) only when allowInsecure. Every data call sends the access
// token there.
func InstanceURL(raw string, allowInsecure bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: no instance_url in the token response", ErrBadInstanceURL)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: instance_url is not a bare origin", ErrBadInstanceURL)
	}
	host := strings.ToLower(u.Hostname())
	if allowInsecure && loopback(host) && (u.Scheme == "http" || u.Scheme == "https") {
		return u.Scheme + "://" + u.Host, nil
	}
	if u.Scheme != "https" || u.Port() != "" || !hostUnder(host, ".my.salesforce.com", ".salesforce.com", ".force.com") {
		return "", fmt.Errorf("%w: %s is not an https Salesforce host", ErrBadInstanceURL, sanitizeHost(host))
	}
	return "https://" + host, nil
}

func loopback(host string) bool { return host == "127.0.0.1" || host == "localhost" || host == "::1" }

// hostUnder reports whether host is a valid name under one of the suffixes.
func hostUnder(host string, suffixes ...string) bool {
	for _, suffix := range suffixes {
		if strings.HasSuffix(host, suffix) && len(host) > len(suffix) && validLabel(strings.TrimSuffix(host, suffix)) {
			return true
		}
	}
	return false
}

// sanitizeHost keeps a host name fit for an error message.
func sanitizeHost(h string) string {
	var b strings.Builder
	for _, r := range h {
		if b.Len() >= 128 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == ':' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

type identity struct {
	UserID         string `json:"user_id"`
	OrganizationID string `json:"organization_id"`
	Username       string `json:"username"`
	// TimeZone is the user's time zone (its TimeZoneSidKey, an IANA name):
	// the identity answer's "timezone".
	TimeZone string `json:"timezone"`
}

// timeZoneOf keeps the identity's time zone when Go knows it, else "".
func timeZoneOf(tz string) string {
	if tz == "" || tz == "Local" || len(tz) > 64 {
		return ""
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return ""
	}
	return tz
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

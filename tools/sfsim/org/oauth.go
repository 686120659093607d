package org

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// codeTTL is how long an authorization code stays valid.
const codeTTL = 15 * time.Minute

// maxApprovals is how many refresh tokens a user can hold per connected app; the next
// approval revokes the oldest.
const maxApprovals = 5

type authRequest struct {
	ClientID, RedirectURI, State, Scope, Challenge string
	Expires                                        time.Time
}

type authCode struct {
	ClientID, RedirectURI, Scope, Challenge string
	Expires                                 time.Time
	Used                                    bool
}

type accessToken struct {
	Refresh string    `json:"refresh,omitempty"` // the refresh token it came from
	Issued  time.Time `json:"issued"`
	Calls   int       `json:"calls"`
	Expired bool      `json:"expired"`
}

type refreshToken struct {
	ClientID string    `json:"clientId"`
	Scope    string    `json:"scope"`
	Issued   time.Time `json:"issued"`
	Revoked  bool      `json:"revoked"`
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthError writes the OAuth endpoints' error body.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

var consentPage = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Allow Access? | Salesforce Simulator</title>
<style>body{font-family:sans-serif;max-width:32em;margin:4em auto}button{font-size:1.1em;margin-right:1em;padding:.4em 1.2em}</style>
</head><body>
<h1>Allow Access?</h1>
<p>Logged in as <strong id="username">{{.Username}}</strong> (org {{.OrgID}}).</p>
<p>The app <strong id="client">{{.ClientID}}</strong> is asking to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/services/oauth2/authorize">
<input type="hidden" name="request" value="{{.Request}}">
<button type="submit" id="allow" name="action" value="allow">Allow</button>
<button type="submit" id="deny" name="action" value="deny">Deny</button>
</form>
</body></html>`))

// handleAuthorize serves the authorization endpoint: GET shows the login-and-consent
// page (or approves at once with AutoApprove); POST is that page's Allow/Deny form.
func (o *Org) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		o.authorizeStart(w, r)
	case http.MethodPost:
		o.authorizeDecide(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// authorizePage writes an error Salesforce shows instead of redirecting, because the
// redirect target cannot be trusted.
func authorizePage(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(http.StatusBadRequest)
	q := url.Values{"error": {code}, "error_description": {desc}}
	_, _ = w.Write([]byte("<html><body><p id=\"error\">" + template.HTMLEscapeString(q.Encode()) + "</p></body></html>"))
}

func redirectWith(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		authorizePage(w, "redirect_uri_mismatch", "redirect_uri must match configuration")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (o *Org) authorizeStart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirectURI, state := q.Get("client_id"), q.Get("redirect_uri"), q.Get("state")
	if clientID != o.cfg.ClientID {
		authorizePage(w, "invalid_client_id", "client identifier invalid")
		return
	}
	if !slices.Contains(o.cfg.RedirectURIs, redirectURI) {
		authorizePage(w, "redirect_uri_mismatch", "redirect_uri must match configuration")
		return
	}
	fail := func(code, desc string) {
		p := url.Values{"error": {code}, "error_description": {desc}}
		if state != "" {
			p.Set("state", state)
		}
		redirectWith(w, r, redirectURI, p)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response type not supported")
		return
	}
	challenge := q.Get("code_challenge")
	if m := q.Get("code_challenge_method"); m != "" && m != "S256" {
		fail("invalid_request", "invalid code_challenge_method: only S256 is supported")
		return
	}
	if challenge != "" && !validChallenge(challenge) {
		fail("invalid_request", "invalid code_challenge")
		return
	}
	scope := q.Get("scope")
	if scope == "" {
		scope = "api refresh_token"
	}
	req := &authRequest{ClientID: clientID, RedirectURI: redirectURI, State: state, Scope: scope, Challenge: challenge, Expires: o.now().Add(codeTTL)}
	if o.cfg.AutoApprove {
		o.approve(w, r, req)
		return
	}
	id := randomToken(24)
	o.mu.Lock()
	o.pending[id] = req
	o.mu.Unlock()
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = consentPage.Execute(w, map[string]any{
		"Username": o.cfg.Username, "OrgID": o.orgID, "ClientID": clientID,
		"Scopes": strings.Fields(scope), "Request": id,
	})
}

func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

func (o *Org) authorizeDecide(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("request")
	o.mu.Lock()
	req, ok := o.pending[id]
	delete(o.pending, id)
	o.mu.Unlock()
	if !ok || o.now().After(req.Expires) {
		authorizePage(w, "invalid_request", "the login request expired or was already used; start again")
		return
	}
	if r.PostForm.Get("action") != "allow" {
		p := url.Values{"error": {"access_denied"}, "error_description": {"end-user denied authorization"}}
		if req.State != "" {
			p.Set("state", req.State)
		}
		redirectWith(w, r, req.RedirectURI, p)
		return
	}
	o.approve(w, r, req)
}

func (o *Org) approve(w http.ResponseWriter, r *http.Request, req *authRequest) {
	code := "aPr" + randomToken(40)
	o.mu.Lock()
	o.codes[code] = &authCode{ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scope: req.Scope, Challenge: req.Challenge, Expires: o.now().Add(codeTTL)}
	o.mu.Unlock()
	p := url.Values{"code": {code}}
	if req.State != "" {
		p.Set("state", req.State)
	}
	redirectWith(w, r, req.RedirectURI, p)
}

// handleToken serves the token endpoint's authorization_code and refresh_token grants.
func (o *Org) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "must use HTTP POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "invalid request body")
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	if grant != "authorization_code" && grant != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	if f.Get("client_id") != o.cfg.ClientID {
		oauthError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(o.cfg.ClientSecret)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
		return
	}
	base := o.baseURL(r)
	o.mu.Lock()
	defer o.mu.Unlock()
	var resp map[string]string
	if !o.apiUserActiveLocked() {
		oauthError(w, http.StatusBadRequest, "inactive_user", "user is not active")
		return
	}
	if grant == "authorization_code" {
		c, ok := o.codes[f.Get("code")]
		switch {
		case !ok || c.Used || c.ClientID != f.Get("client_id"):
			if ok {
				c.Used = true // replaying a code burns it for good
			}
			oauthError(w, http.StatusBadRequest, "invalid_grant", "authentication failure")
			return
		case o.now().After(c.Expires):
			c.Used = true
			oauthError(w, http.StatusBadRequest, "invalid_grant", "expired authorization code")
			return
		case f.Get("redirect_uri") != c.RedirectURI:
			oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "redirect_uri must match configuration")
			return
		}
		if c.Challenge != "" {
			v := f.Get("code_verifier")
			if !validVerifier(v) || s256(v) != c.Challenge {
				oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid code verifier")
				return
			}
		} else if f.Get("code_verifier") != "" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid code verifier")
			return
		}
		c.Used = true
		delete(o.codes, f.Get("code"))
		resp = o.issueLocked(base, c.Scope, true, "")
	} else {
		rt := f.Get("refresh_token")
		t, ok := o.refresh[rt]
		if !ok || t.Revoked || t.ClientID != f.Get("client_id") {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "expired access/refresh token")
			return
		}
		if o.cfg.Rotate {
			o.revokeRefreshLocked(rt)
			resp = o.issueLocked(base, t.Scope, true, "")
		} else {
			resp = o.issueLocked(base, t.Scope, false, rt)
		}
	}
	o.saveAfterChangeLocked()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	_ = json.NewEncoder(w).Encode(resp)
}

// validVerifier accepts RFC 7636 verifiers minus '~', which Salesforce rejects.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isIDChar(c) || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// issueLocked mints an access token (and a refresh token when newRefresh is true and
// the scope asks for one) and builds the token response.
func (o *Org) issueLocked(base, scope string, newRefresh bool, fromRefresh string) map[string]string {
	now := o.now()
	access := o.orgID[:15] + "!" + "AQ" + randomToken(60)
	idURL := o.identityBase(base) + "/id/" + o.orgID + "/" + o.userID
	issued := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(o.cfg.ClientSecret))
	mac.Write([]byte(idURL + issued))
	resp := map[string]string{
		"access_token": access,
		"signature":    base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		"scope":        scope,
		"instance_url": base,
		"id":           idURL,
		"token_type":   "Bearer",
		"issued_at":    issued,
	}
	refresh := fromRefresh
	scopes := strings.Fields(scope)
	if newRefresh && (slices.Contains(scopes, "refresh_token") || slices.Contains(scopes, "offline_access")) {
		refresh = "5Aep" + randomToken(64)
		o.refresh[refresh] = &refreshToken{ClientID: o.cfg.ClientID, Scope: scope, Issued: now}
		resp["refresh_token"] = refresh
		o.enforceApprovalCapLocked()
	}
	o.access[access] = &accessToken{Refresh: refresh, Issued: now}
	return resp
}

// enforceApprovalCapLocked revokes the oldest approvals beyond maxApprovals.
func (o *Org) enforceApprovalCapLocked() {
	type live struct {
		tok    string
		issued time.Time
	}
	var ls []live
	for k, t := range o.refresh {
		if !t.Revoked {
			ls = append(ls, live{k, t.Issued})
		}
	}
	if len(ls) <= maxApprovals {
		return
	}
	slices.SortFunc(ls, func(a, b live) int {
		if c := a.issued.Compare(b.issued); c != 0 {
			return c
		}
		return strings.Compare(a.tok, b.tok)
	})
	for _, l := range ls[:len(ls)-maxApprovals] {
		o.revokeRefreshLocked(l.tok)
	}
}

// revokeRefreshLocked revokes a refresh token and every access token issued from it.
func (o *Org) revokeRefreshLocked(tok string) bool {
	t, ok := o.refresh[tok]
	if !ok || t.Revoked {
		return false
	}
	t.Revoked = true
	for _, a := range o.access {
		if a.Refresh == tok {
			a.Expired = true
		}
	}
	return true
}

// handleRevoke revokes an access or refresh token.
func (o *Org) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "must use HTTP POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "invalid request body")
		return
	}
	tok := r.Form.Get("token")
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.revokeRefreshLocked(tok) {
		o.saveAfterChangeLocked()
		w.WriteHeader(http.StatusOK)
		return
	}
	if a, ok := o.access[tok]; ok && !a.Expired {
		a.Expired = true
		o.saveAfterChangeLocked()
		w.WriteHeader(http.StatusOK)
		return
	}
	oauthError(w, http.StatusBadRequest, "invalid_token", "invalid token")
}

// authenticateLocked checks a Bearer token; ok is false when it is missing, unknown,
// revoked or expired.
func (o *Org) authenticateLocked(r *http.Request) (*accessToken, bool) {
	h := r.Header.Get("Authorization")
	var tok string
	switch {
	case strings.HasPrefix(h, "Bearer "):
		tok = strings.TrimPrefix(h, "Bearer ")
	case strings.HasPrefix(h, "OAuth "):
		tok = strings.TrimPrefix(h, "OAuth ")
	default:
		return nil, false
	}
	a, ok := o.access[strings.TrimSpace(tok)]
	if !ok || a.Expired {
		return nil, false
	}
	if o.cfg.TokenTTL > 0 && o.now().Sub(a.Issued) >= o.cfg.TokenTTL {
		a.Expired = true
		return nil, false
	}
	if o.cfg.TokenCalls > 0 && a.Calls >= o.cfg.TokenCalls {
		a.Expired = true
		return nil, false
	}
	return a, true
}

// handleIdentity serves the identity URL /id/{orgId}/{userId}.
func (o *Org) handleIdentity(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/id/"), "/"), "/")
	o.mu.Lock()
	_, ok := o.authenticateLocked(r)
	o.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("Bad_OAuth_Token"))
		return
	}
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	org, okO := canonicalID(parts[0])
	user, okU := canonicalID(parts[1])
	if !okO || !okU || org != o.orgID || user != o.userID {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("Bad_Id"))
		return
	}
	base := o.baseURL(r)
	version := "{version}"
	if v := r.URL.Query().Get("version"); v != "" {
		if v == "latest" {
			v = strconv.Itoa(MaxVersion) + ".0"
		}
		version = v
	}
	o.mu.Lock()
	u := maps.Clone(o.records["User"][o.userID])
	o.mu.Unlock()
	tz := strOf(u["TimeZoneSidKey"])
	if tz == "" {
		tz = o.cfg.TimeZone
	}
	data := base + "/services/data/v" + version + "/"
	soap := func(kind string) string { return base + "/services/Soap/" + kind + "/" + version + "/" + o.orgID[:15] }
	body := map[string]any{
		"id":              o.identityBase(base) + "/id/" + o.orgID + "/" + o.userID,
		"asserted_user":   true,
		"user_id":         o.userID,
		"organization_id": o.orgID,
		"username":        strOf(u["Username"]),
		"nick_name":       strings.SplitN(strOf(u["Username"]), "@", 2)[0],
		"display_name":    strOf(u["Name"]),
		"email":           strOf(u["Email"]),
		"email_verified":  true,
		"first_name":      u["FirstName"],
		"last_name":       strOf(u["LastName"]),
		"timezone":        tz,
		"photos":          map[string]string{"picture": base + "/profilephoto/005/F", "thumbnail": base + "/profilephoto/005/T"},
		"addr_street":     nil, "addr_city": nil, "addr_state": nil, "addr_country": "US", "addr_zip": nil,
		"mobile_phone": nil, "mobile_phone_verified": false, "is_lightning_login_user": false,
		"status": map[string]any{"created_date": nil, "body": nil},
		"urls": map[string]string{
			"enterprise":    soap("c"),
			"metadata":      soap("m"),
			"partner":       soap("u"),
			"rest":          data,
			"sobjects":      data + "sobjects/",
			"search":        data + "search/",
			"query":         data + "query/",
			"recent":        data + "recent/",
			"tooling_soap":  soap("T"),
			"tooling_rest":  data + "tooling/",
			"profile":       base + "/" + o.userID,
			"feeds":         data + "chatter/feeds",
			"groups":        data + "chatter/groups",
			"users":         data + "chatter/users",
			"feed_items":    data + "chatter/feed-items",
			"feed_elements": data + "chatter/feed-elements",
			"custom_domain": base,
		},
		"active": u["IsActive"] != false, "user_type": "STANDARD", "language": "en_US", "locale": "en_US", "utcOffset": utcOffsetMillis(tz),
		"last_modified_date": sfTime(o.now()), "is_app_installed": true,
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(body)
}

// utcOffsetMillis is the identity answer's utcOffset: the zone's standard
// offset from UTC in milliseconds (the smaller of its January and July
// offsets, so daylight saving time never counts).
func utcOffsetMillis(tz string) int {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return 0
	}
	y := time.Now().Year()
	_, jan := time.Date(y, time.January, 1, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(y, time.July, 1, 12, 0, 0, 0, loc).Zone()
	return min(jan, jul) * 1000
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func lastWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// Package org is a local Salesforce org: the OAuth 2.0 web server flow, the REST
// data API subset the sync service uses (sObjects, describe, query, sObject
// Collections, composite, limits), Salesforce's validation, duplicate rules, lead
// assignment and conversion, API-limit counting, fault injection and a page to look
// inside. It is strict where Salesforce is strict; README.md lists every known
// difference.
package org

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config configures an Org. The zero value works: defaults are filled in by New.
type Config struct {
	ClientID     string   // connected app consumer key (default "sfsim-client-id")
	ClientSecret string   // consumer secret (default "sfsim-client-secret")
	RedirectURIs []string // registered callback URLs; redirect_uri must match one exactly
	AutoApprove  bool     // skip the login/consent page and redirect with a code at once

	TokenTTL   time.Duration // access tokens expire this long after issue (0: never)
	TokenCalls int           // access tokens expire after this many API calls (0: never)
	Rotate     bool          // refresh-token rotation: each refresh returns a new refresh token, the old dies

	DailyLimit int // daily API request allocation (default 15000, a Developer Edition org)
	PageSize   int // query page size (default 2000)

	// LeadQueue, when set, is the owner (a queue "00G..." or user "005..." id) that the
	// active lead assignment rule gives new Leads unless Sforce-Auto-Assign is FALSE.
	// Empty: no active assignment rule, so the API user owns them.
	LeadQueue string

	DuplicateRules map[string]DuplicateRule // by object: "Lead", "Contact"
	Definition     *Definition              // custom fields
	StateFile      string                   // load the org from here on Start, save after every change

	Username    string // API user (default "admin@sfsim.example")
	DisplayName string // default "Sim Admin"
	Email       string // default "admin@sfsim.example"
	// TimeZone is the API user's TimeZoneSidKey and the org's default time
	// zone, which new Users take unless they name one: an IANA zone name
	// (default "America/Los_Angeles", a typical US org's).
	TimeZone string

	Seed   int64        // seed for fractional fault rules (default 1)
	Logger *slog.Logger // default: discard

	// Lenient gives the simpler org the simulator used to be, kinder than a
	// customer's: no duplicate rule unless DuplicateRules names one, the
	// standard Task statuses ("Completed" closes a Task) and composite
	// answers in request order. The default org is a typical customer's:
	// the standard Lead and Contact duplicate rules active (alert: the
	// allowSave header overrides them), a relabeled closed Task status
	// (Completed relabeled "Done") and composite answers out of request order.
	Lenient bool
	// TaskStatuses replaces the org's Task statuses (default
	// RealisticTaskStatuses, or StandardTaskStatuses when Lenient).
	TaskStatuses []TaskStatus
	// Sharing sets the org-wide default of "Lead" and "Contact" (default
	// SharingPublic, a new org's): with SharingPrivate the API user's
	// queries see only the records it owns, unless ViewAll or ViewAllData.
	Sharing     map[string]Sharing
	ViewAll     map[string]bool // the API user holds "View All" on the object
	ViewAllData bool            // the API user holds "View All Data"
	// ModifyAll gives the API user "Modify All" on an object ("Lead",
	// "Contact", "Account", "Task"), ModifyAllData "Modify All Data". Either
	// lets it delete records other users own (by default it deletes only
	// its own) and implies View All (View All Data).
	ModifyAll     map[string]bool
	ModifyAllData bool
	// ConcurrentLimit is how many long-running data requests may be in
	// flight at once (default 25, production's); LongRequest is how long a
	// request runs before it counts as long-running (default 20 s).
	ConcurrentLimit int
	LongRequest     time.Duration
	// Latency delays every data API call: a slow, trigger-heavy org.
	Latency time.Duration
	// IdentityOnLoginHost serves the token response's identity URL (id) on
	// the host the token was asked from. By default it names the other
	// spelling of the loopback host, same port (localhost for 127.0.0.1 and
	// ::1, 127.0.0.1 for localhost), as Salesforce names
	// login.salesforce.com for a token asked from a My Domain.
	IdentityOnLoginHost bool
}

// ValidationRule is an admin's validation rule, simplified: a write whose
// Field equals Forbid (case-insensitively) fails with
// FIELD_CUSTOM_VALIDATION_EXCEPTION and Message, naming the field.
type ValidationRule struct {
	Object  string `json:"object"`
	Field   string `json:"field"`
	Forbid  string `json:"forbid"`
	Message string `json:"message"`
}

// DuplicateRule switches Salesforce's standard duplicate rule for an object on. It
// approximates the standard matching rules against Leads and Contacts: a fuzzy first
// name and the same last name, plus the same email, phone, or title and company (never
// email alone; see README.md, Realistic defaults).
type DuplicateRule struct {
	Enabled   bool `json:"enabled"`
	AllowSave bool `json:"allowSave"` // an "alert" rule that Sforce-Duplicate-Rule-Header allowSave=true overrides; false blocks
}

// Version range served under /services/data.
const (
	MinVersion = 31
	MaxVersion = 66
)

// Org is one simulated Salesforce org. All methods are safe for concurrent use.
type Org struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	objects  map[string]*sobject
	records  map[string]map[string]map[string]any // object -> id -> record
	deleted  map[string]string                    // id -> object
	seq      uint64
	orgID    string
	userID   string
	queueID  string
	codes    map[string]*authCode
	pending  map[string]*authRequest
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
	used     int
	limit    int
	byKey    map[string]int
	dupRules map[string]DuplicateRule
	valRules []ValidationRule
	cursors  map[string]*cursor
	cursorQ  []string
	faults   []*faultState
	faultSeq int
	rng      *rand.Rand
	undo     *[]undoEntry
	version  string // API version of the operation being run, for record URLs
	now      func() time.Time

	taskStatuses []TaskStatus
	sharing      map[string]Sharing
	viewAll      map[string]bool
	viewAllData  bool
	modifyAll    map[string]bool
	modifyAllAll bool                  // "Modify All Data"
	admin        bool                  // an admin's write (Seed, Convert): field-level security does not apply
	flights      flights               // data requests in flight, for the concurrency limit
	keys         map[string]stampedKey // duplicate rules' match keys of stored records

	srv *http.Server
	ln  net.Listener
	url string
}

// New builds an org from cfg. It panics only on a Definition that New cannot apply,
// which LoadDefinition has already validated.
func New(cfg Config) *Org {
	if cfg.ClientID == "" {
		cfg.ClientID = "sfsim-client-id"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "sfsim-client-secret"
	}
	if cfg.DailyLimit <= 0 {
		cfg.DailyLimit = 15000
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 2000
	}
	if cfg.Username == "" {
		cfg.Username = "admin@sfsim.example"
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "Sim Admin"
	}
	if cfg.Email == "" {
		cfg.Email = "admin@sfsim.example"
	}
	if cfg.TimeZone == "" {
		cfg.TimeZone = DefaultTimeZone
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ConcurrentLimit <= 0 {
		cfg.ConcurrentLimit = 25
	}
	if cfg.LongRequest <= 0 {
		cfg.LongRequest = 20 * time.Second
	}
	o := &Org{cfg: cfg, log: cfg.Logger, now: time.Now, rng: rand.New(rand.NewSource(cfg.Seed))}
	o.orgID = makeID("00D", "5g", 1)
	o.userID = makeID("005", "5g", 1)
	o.queueID = makeID("00G", "5g", 1)
	o.resetLocked()
	return o
}

// resetLocked restores the org to its configured initial state.
func (o *Org) resetLocked() {
	o.taskStatuses = o.cfg.TaskStatuses
	if o.taskStatuses == nil {
		o.taskStatuses = RealisticTaskStatuses
		if o.cfg.Lenient {
			o.taskStatuses = StandardTaskStatuses
		}
	}
	o.objects = standardObjects(o.taskStatuses)
	for name, s := range setupObjects() {
		o.objects[name] = s
	}
	if d := o.cfg.Definition; d != nil {
		for obj, cfs := range d.CustomFields {
			s, ok := o.objects[obj]
			if !ok {
				panic(fmt.Sprintf("sfsim: org definition names unknown object %s", obj))
			}
			for _, cf := range cfs {
				f, err := cf.field()
				if err != nil {
					panic(fmt.Sprintf("sfsim: org definition %s.%s: %v", obj, cf.Name, err))
				}
				s.add(f)
			}
		}
	}
	o.records = map[string]map[string]map[string]any{}
	for name, s := range o.objects {
		if !s.setup {
			o.records[name] = map[string]map[string]any{}
		}
	}
	o.seedUsersLocked()
	o.deleted = map[string]string{}
	o.keys = nil
	o.seq = 0
	o.codes = map[string]*authCode{}
	o.pending = map[string]*authRequest{}
	o.access = map[string]*accessToken{}
	o.refresh = map[string]*refreshToken{}
	o.used = 0
	o.limit = o.cfg.DailyLimit
	o.byKey = map[string]int{}
	o.dupRules = map[string]DuplicateRule{}
	if !o.cfg.Lenient {
		// The standard rules a new org ships active: alert rules, which
		// Sforce-Duplicate-Rule-Header allowSave=true overrides.
		o.dupRules["Lead"] = DuplicateRule{Enabled: true, AllowSave: true}
		o.dupRules["Contact"] = DuplicateRule{Enabled: true, AllowSave: true}
	}
	for k, v := range o.cfg.DuplicateRules {
		o.dupRules[k] = v
	}
	o.sharing = maps.Clone(o.cfg.Sharing)
	if o.sharing == nil {
		o.sharing = map[string]Sharing{}
	}
	o.viewAll = maps.Clone(o.cfg.ViewAll)
	if o.viewAll == nil {
		o.viewAll = map[string]bool{}
	}
	o.viewAllData = o.cfg.ViewAllData
	o.modifyAll = maps.Clone(o.cfg.ModifyAll)
	if o.modifyAll == nil {
		o.modifyAll = map[string]bool{}
	}
	o.modifyAllAll = o.cfg.ModifyAllData
	o.flights.mu.Lock()
	o.flights.set, o.flights.refused = false, 0
	o.flights.mu.Unlock()
	o.cursors = map[string]*cursor{}
	o.cursorQ = nil
	o.faults = nil
	o.rng = rand.New(rand.NewSource(o.cfg.Seed))
}

// OrgID is the org's 18-character id.
func (o *Org) OrgID() string { return o.orgID }

// UserID is the API user's 18-character id.
func (o *Org) UserID() string { return o.userID }

// OtherUserID is the id of another active user of the org, who may own
// records the API user cannot see (see Config.Sharing).
func (o *Org) OtherUserID() string { return makeID("005", "5g", 2) }

// DefaultTimeZone is the API user's TimeZoneSidKey unless Config.TimeZone
// names another: a typical US org's.
const DefaultTimeZone = "America/Los_Angeles"

// OtherUserEmail is the Email (and Username) of the user OtherUserID names.
const OtherUserEmail = "other.user@sfsim.example"

// seedUsersLocked puts the org's two users in place: the API user (the
// connected user) and the other user, both active.
func (o *Org) seedUsersLocked() {
	now := sfTime(o.now())
	first, last := firstWord(o.cfg.DisplayName), lastWord(o.cfg.DisplayName)
	if first == last {
		first = ""
	}
	for _, u := range []struct{ id, username, email, first, last string }{
		{o.userID, o.cfg.Username, o.cfg.Email, first, last},
		{o.OtherUserID(), OtherUserEmail, OtherUserEmail, "Other", "User"},
	} {
		rec := map[string]any{}
		for _, f := range o.objects["User"].fields {
			rec[f.Name] = nil
		}
		for k, v := range map[string]any{"Id": u.id, "Username": u.username, "Email": u.email, "FirstName": nilIfEmpty(u.first),
			"LastName": u.last, "IsActive": true, "TimeZoneSidKey": o.cfg.TimeZone, "UserType": "Standard", "IsDeleted": false,
			"CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now, "CreatedById": o.userID, "LastModifiedById": o.userID} {
			rec[k] = v
		}
		o.derive(o.objects["User"], rec)
		o.records["User"][u.id] = rec
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// apiUserActiveLocked reports whether the API user's record is active.
func (o *Org) apiUserActiveLocked() bool {
	u := o.records["User"][o.userID]
	return u == nil || u["IsActive"] != false
}

// QueueID is the id of the org's lead queue, usable as Config.LeadQueue.
func (o *Org) QueueID() string { return o.queueID }

// ClientID and ClientSecret are the connected app's keys.
func (o *Org) ClientID() string     { return o.cfg.ClientID }
func (o *Org) ClientSecret() string { return o.cfg.ClientSecret }

// Start listens on 127.0.0.1 on a free port and serves the org; it returns the base URL.
func (o *Org) Start() (string, error) { return o.ListenAndStart("127.0.0.1:0") }

// ListenAndStart is Start on a given address.
func (o *Org) ListenAndStart(addr string) (string, error) {
	if o.cfg.StateFile != "" {
		if err := o.loadState(o.cfg.StateFile); err != nil {
			return "", err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sfsim listen on %s: %w", addr, err)
	}
	o.mu.Lock()
	o.ln = ln
	o.url = "http://" + ln.Addr().String()
	o.srv = &http.Server{Handler: o.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	srv, u := o.srv, o.url
	o.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("sfsim serve", "err", err)
		}
	}()
	return u, nil
}

// URL is the base URL (login host and instance URL) once started; before Start it is
// empty and URLs are built from each request's Host.
func (o *Org) URL() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.url
}

// Close stops the server (saving the state file when one is configured).
func (o *Org) Close() error {
	o.mu.Lock()
	srv := o.srv
	o.srv = nil
	o.mu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if e := srv.Shutdown(ctx); e != nil {
			err = srv.Close()
		}
	}
	if o.cfg.StateFile != "" {
		o.mu.Lock()
		e := o.saveStateLocked()
		o.mu.Unlock()
		if err == nil {
			err = e
		}
	}
	return err
}

// baseURL returns the org's URL, or one derived from the request when the handler is
// mounted elsewhere (httptest).
func (o *Org) baseURL(r *http.Request) string {
	if o.url != "" {
		return o.url
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// identityBase is the base URL of the identity URLs the org hands out:
// base itself with IdentityOnLoginHost, otherwise base on the other
// spelling of its loopback host (a base on any other host stays as is).
func (o *Org) identityBase(base string) string {
	if o.cfg.IdentityOnLoginHost {
		return base
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	other := map[string]string{"127.0.0.1": "localhost", "::1": "localhost", "localhost": "127.0.0.1"}[strings.ToLower(u.Hostname())]
	if other == "" {
		return base
	}
	if p := u.Port(); p != "" {
		other = net.JoinHostPort(other, p)
	}
	u.Host = other
	return u.String()
}

// Handler serves the org: Salesforce's paths plus /_sim and the / page.
func (o *Org) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/services/oauth2/authorize", o.handleAuthorize)
	mux.HandleFunc("/services/oauth2/token", o.handleToken)
	mux.HandleFunc("/services/oauth2/revoke", o.handleRevoke)
	mux.HandleFunc("/id/", o.handleIdentity)
	mux.HandleFunc("/services/data/", o.handleData)
	mux.HandleFunc("/services/data", o.handleData)
	mux.HandleFunc("/_sim/", o.handleSim)
	mux.HandleFunc("/{$}", o.handleIndex)
	return o.limitURI(o.limitConcurrency(o.faultMiddleware(mux)))
}

// maxURIBytes is Salesforce's limit on the request URI (414 beyond it).
const maxURIBytes = 16384

func (o *Org) limitURI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > maxURIBytes {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusRequestURITooLong)
			fmt.Fprint(w, "<html><body><h1>414 Request-URI Too Long</h1></body></html>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func lower(s string) string { return strings.ToLower(s) }

// sortedIDs lists an object's live record ids in creation order (ids grow with the
// sequence, and base62 digits sort in ASCII order).
func sortedIDs(m map[string]map[string]any) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (o *Org) nextID(object string) string {
	o.seq++
	return makeID(mustPrefix(object), "5g", o.seq+1000)
}

func sfTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

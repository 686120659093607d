// Package orgs is the Salesforce side of both sync engines and the API: it
// opens a team's org through its stored connection, governs its API budget,
// and implements contactsync.Org and activitysync.Org (Contacts,
// Activities), looking emails and Tasks up and creating records in as few
// API calls as Salesforce's limits allow.
//
// Every lookup and every create goes through the Composite resource, which
// Salesforce counts as one API call whatever it carries (up to 5 queries or
// sObject Collections). Lookups query Contacts and Leads by email with IN-lists
// sized to stay far below Salesforce's statement and URI limits; creates go
// through sObject Collections of up to 200 records. So a burst of 1,000
// emails with half of them new costs two lookup calls and one create call.
// Updates and deletes of records by id (UpdateRecords, DeleteRecords) go
// straight to sObject Collections, one call per 200 records.
package orgs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Orgs opens teams' orgs. Contacts and Activities are it as the engines'
// ports.
type Orgs struct {
	Store     connection.Store
	Connector *connection.Connector // for the refresh grant
	Holder    string                // unique per process: names the refresh lease holder
	HTTP      *http.Client          // for data calls; nil: a client with a 60 s timeout
	Version   string                // REST API version, e.g. "v62.0"; empty: salesforce.DefaultVersion
	// Now is the clock stamped on recorded usage; nil: time.Now.
	Now func() time.Time
	// Budgets gives each team's API budget cap (a share of the org's daily
	// allocation, in percent); nil: budget.DefaultPercent for every team.
	Budgets Budgets
	// UsageRecheck is how long a stored report that the org is out of calls
	// stops the team's work without a call; after it, one call asks
	// Salesforce again. 0: DefaultUsageRecheck. The sync functions use
	// their hold delay: each return of a held event asks once.
	UsageRecheck time.Duration
}

// DefaultUsageRecheck is Orgs.UsageRecheck's default.
const DefaultUsageRecheck = 5 * time.Minute

// Budgets gives a team's API budget cap, in percent of its org's daily
// allocation.
type Budgets interface {
	BudgetPercent(ctx context.Context, teamID string) (int, error)
}

// ErrBadInput marks a call this package refuses before reaching Salesforce.
var ErrBadInput = errors.New("orgs: bad input")

// Open reads the team's connection and returns its org. A team without a
// connection gets an error matching connection.ErrNotConnected; one whose
// refresh token Salesforce refused gets connection.ErrNeedsReauth (an
// *AdminError, also matching ErrNeedsAdmin, when it needs an admin), with the
// Connection filled in so the caller can say since when.
//
// The returned Org records the last API usage Salesforce reported when it
// is closed: callers should Close it when done with it.
func (s *Orgs) Open(ctx context.Context, teamID string) (*Org, delivery.Connection, error) {
	if strings.TrimSpace(teamID) == "" {
		return nil, delivery.Connection{}, fmt.Errorf("open org: team_id is empty: %w", ErrBadInput)
	}
	if s.Store == nil {
		return nil, delivery.Connection{}, fmt.Errorf("open org for team %s: no connection store configured", teamID)
	}
	tokens := &connection.Tokens{TeamID: teamID, Store: s.Store, Connector: s.Connector, Holder: s.Holder, HTTP: s.HTTP}
	// Tokens keeps what it reads, so the data calls reuse this one read.
	c, err := tokens.Connection(ctx)
	if err != nil {
		return nil, delivery.Connection{}, fmt.Errorf("open org for team %s: %w", teamID, err)
	}
	info := delivery.Connection{Status: string(c.Status), ConnectedAt: c.ConnectedAt, HeldAt: c.HeldAt, UserID: c.UserID, TimeZone: c.TimeZone}
	switch c.Status {
	case connection.StatusConnected:
	case connection.StatusNeedsReauth, connection.StatusNeedsAdmin:
		return nil, info, fmt.Errorf("open org for team %s: %w", teamID, c.Err())
	default:
		return nil, info, fmt.Errorf("open org for team %s (status %q): %w", teamID, c.Status, connection.ErrNotConnected)
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	percent := budget.DefaultPercent
	if s.Budgets != nil {
		if percent, err = s.Budgets.BudgetPercent(ctx, teamID); err != nil {
			return nil, info, fmt.Errorf("open org for team %s: read its API budget: %w", teamID, err)
		}
	}
	day := connection.Day(now())
	recheck := s.UsageRecheck
	if recheck <= 0 {
		recheck = DefaultUsageRecheck
	}
	o := &Org{teamID: teamID, store: s.Store, now: now, percent: percent, day: day,
		base: c.Usage.CallsOn(day), stored: c.Usage, recheck: recheck}
	o.client = &salesforce.Client{HTTP: s.HTTP, Session: tokens, Version: s.Version, OnUsage: o.sawUsage,
		BeforeCall: func() error { return o.Allow(budget.High) }}
	return o, info, nil
}

// Org is one team's open org. It is safe for concurrent use.
type Org struct {
	teamID string
	client *salesforce.Client
	store  connection.Store
	now    func() time.Time

	// The governor's figures: the team's cap, the day, the service's calls
	// of that day stored before this org opened, the usage stored then.
	percent int
	day     string
	base    int
	stored  *connection.Usage
	recheck time.Duration

	mu       sync.Mutex
	usage    *connection.Usage // the last usage Salesforce reported
	recorded *connection.Usage // the usage Close stored
	counted  int64             // the calls Close already added to the day's count
	// dayStarted: a Close stored this org's day.
	dayStarted bool
	// probed: the one call that asks Salesforce again past a stale report
	// went out.
	probed bool
}

// Calls is how many API calls this org made, as Salesforce counts them
// (a composite call is one).
// RecordHold notes on the team's connection that its events were parked at at.
func (s *Orgs) RecordHold(ctx context.Context, teamID string, at time.Time) error {
	if s.Store == nil {
		return fmt.Errorf("record hold for team %s: no connection store configured", teamID)
	}
	if err := s.Store.RecordHold(ctx, teamID, at); err != nil {
		return fmt.Errorf("record hold for team %s: %w", teamID, err)
	}
	return nil
}

func (o *Org) Calls() int64 { return o.client.Calls.Load() }

// Usage returns the last API usage Salesforce reported to this org, if any.
func (o *Org) Usage() (connection.Usage, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.usage == nil {
		return connection.Usage{}, false
	}
	return *o.usage, true
}

func (o *Org) sawUsage(u salesforce.Usage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.usage = &connection.Usage{Used: u.Used, Limit: u.Limit, At: o.now().UTC()}
}

// Allow says whether work of priority p may spend calls now: nil, or an
// error matching budget.ErrCapped or budget.ErrNearCap. Every call of this
// org asks it with budget.High first; callers ask with budget.Low before
// low-value work.
func (o *Org) Allow(p budget.Priority) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.usage
	f := budget.Figures{Service: o.base + int(o.client.Calls.Load()), Percent: o.percent}
	switch {
	case u != nil:
		f.OrgUsed, f.OrgLimit = u.Used, u.Limit
	case o.stored != nil:
		f.OrgUsed, f.OrgLimit = o.stored.Used, o.stored.Limit
		// A report older than the recheck time may be out of date: the
		// org's count is rolling and its allocation may have grown. One
		// call of this org (record work, never opens and clicks) goes
		// out to find out; its answer (Sforce-Limit-Info, or
		// REQUEST_LIMIT_EXCEEDED) decides the rest. A team held at its cap
		// so spends at most one call per recheck time.
		if o.now().Sub(o.stored.At) >= o.recheck && p == budget.High && !o.probed {
			if budget.Allow(f, p) != nil {
				o.probed = true
			}
			return nil
		}
	}
	if err := budget.Allow(f, p); err != nil {
		return fmt.Errorf("team %s: %w", o.teamID, err)
	}
	return nil
}

// Close stores the last API usage Salesforce reported (Sforce-Limit-Info)
// on the team's connection, and adds the calls this org made to the day's
// count: one write per open org, however many calls it made, and none when
// it made no call.
func (o *Org) Close(ctx context.Context) error {
	calls := o.client.Calls.Load()
	o.mu.Lock()
	u := o.usage
	n := calls - o.counted
	if n == 0 && (u == nil || (o.recorded != nil && *o.recorded == *u)) {
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	rec := connection.Usage{ServiceDay: o.day, At: o.now().UTC()}
	if u != nil {
		rec = *u
		rec.ServiceDay = o.day
	}
	o.mu.Lock()
	newDay := !o.dayStarted && (o.stored == nil || o.stored.ServiceDay != o.day)
	o.mu.Unlock()
	if err := o.store.RecordUsage(ctx, o.teamID, rec, int(n), newDay); err != nil {
		return fmt.Errorf("close org for team %s: %w", o.teamID, err)
	}
	o.mu.Lock()
	o.recorded = u
	o.counted = calls
	o.dayStarted = true
	o.mu.Unlock()
	return nil
}

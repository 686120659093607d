// Package orgs is the Salesforce side of contact sync: it opens a team's org
// through its stored connection and implements contactsync.Org, looking
// emails up and creating records in as few API calls as Salesforce's limits
// allow.
//
// Every lookup and every create goes through the Composite resource, which
// Salesforce counts as one API call whatever it carries (up to 5 queries or
// sObject Collections). Lookups query Contacts and Leads by email with IN-lists
// sized to stay far below Salesforce's statement and URI limits; creates go
// through sObject Collections of up to 200 records. So a burst of 1,000
// emails with half of them new costs two lookup calls and one create call.
package orgs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Orgs opens teams' orgs. It implements contactsync.Orgs.
type Orgs struct {
	Store     connection.Store
	Connector *connection.Connector // for the refresh grant
	Holder    string                // unique per process: names the refresh lease holder
	HTTP      *http.Client          // for data calls; nil: a client with a 60 s timeout
	Version   string                // REST API version, e.g. "v62.0"; empty: salesforce.DefaultVersion
	// Now is the clock stamped on recorded usage; nil: time.Now.
	Now func() time.Time
}

var _ contactsync.Orgs = (*Orgs)(nil)

// ErrBadInput marks a call this package refuses before reaching Salesforce.
var ErrBadInput = errors.New("orgs: bad input")

// Open reads the team's connection and returns its org. A team without a
// connection gets an error matching connection.ErrNotConnected; one whose
// refresh token Salesforce refused gets connection.ErrNeedsReauth, with the
// Connection filled in so the caller can say since when.
//
// The returned Org (an *Org) records the last API usage Salesforce reported
// when it is closed: callers should Close it when done with it.
func (s *Orgs) Open(ctx context.Context, teamID string) (contactsync.Org, contactsync.Connection, error) {
	if strings.TrimSpace(teamID) == "" {
		return nil, contactsync.Connection{}, fmt.Errorf("open org: team_id is empty: %w", ErrBadInput)
	}
	if s.Store == nil {
		return nil, contactsync.Connection{}, fmt.Errorf("open org for team %s: no connection store configured", teamID)
	}
	tokens := &connection.Tokens{TeamID: teamID, Store: s.Store, Connector: s.Connector, Holder: s.Holder, HTTP: s.HTTP}
	// Tokens keeps what it reads, so the data calls reuse this one read.
	c, err := tokens.Connection(ctx)
	if err != nil {
		return nil, contactsync.Connection{}, fmt.Errorf("open org for team %s: %w", teamID, err)
	}
	info := contactsync.Connection{Status: string(c.Status), ConnectedAt: c.ConnectedAt}
	switch c.Status {
	case connection.StatusConnected:
	case connection.StatusNeedsReauth:
		return nil, info, fmt.Errorf("open org for team %s: %w", teamID, connection.ErrNeedsReauth)
	default:
		return nil, info, fmt.Errorf("open org for team %s (status %q): %w", teamID, c.Status, connection.ErrNotConnected)
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	o := &Org{teamID: teamID, store: s.Store, now: now}
	o.client = &salesforce.Client{HTTP: s.HTTP, Session: tokens, Version: s.Version, OnUsage: o.sawUsage}
	return o, info, nil
}

// Org is one team's open org. It implements contactsync.Org and is safe for
// concurrent use.
type Org struct {
	teamID string
	client *salesforce.Client
	store  connection.Store
	now    func() time.Time

	mu       sync.Mutex
	usage    *connection.Usage // the last usage Salesforce reported
	recorded *connection.Usage // the usage Close stored
}

var _ contactsync.Org = (*Org)(nil)

// Calls is how many API calls this org made, as Salesforce counts them
// (a composite call is one).
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

// Close stores the last API usage Salesforce reported (Sforce-Limit-Info)
// on the team's connection: one write per open org, however many calls it
// made, and none when it made no call or the usage is already stored.
func (o *Org) Close(ctx context.Context) error {
	o.mu.Lock()
	u := o.usage
	if u == nil || (o.recorded != nil && *o.recorded == *u) {
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	if err := o.store.RecordUsage(ctx, o.teamID, *u); err != nil {
		return fmt.Errorf("close org for team %s: %w", o.teamID, err)
	}
	o.mu.Lock()
	o.recorded = u
	o.mu.Unlock()
	return nil
}

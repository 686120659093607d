package readiness

import (
	"context"
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
)

// DefaultTTL is how long a team's report is served again without a call to
// Salesforce.
const DefaultTTL = 5 * time.Minute

// Target is the team's connection a report is made on.
type Target struct {
	ConnectionID string // changes on every (re)connect
	OrgID        string
	UserID       string
	Username     string
}

// Source reads a team's org. Its errors pass through Checker unchanged, for
// errors.Is (a team without a connection, one that needs reconnecting, a
// Salesforce that does not answer): then no report is made.
type Source interface {
	// Target returns the team's current connection.
	Target(ctx context.Context, teamID string) (Target, error)
	// Fetch reads what the checks need in a few API calls. What Salesforce
	// refused or the user may not read is in the Snapshot, not an error.
	Fetch(ctx context.Context, teamID string, t Target) (Snapshot, error)
}

// Kept is a team's last read of its org: the snapshot, and the report
// made of it (whose items are made again of the snapshot with the team's
// mappings of the moment).
type Kept struct {
	Report   Report
	Snapshot Snapshot
}

// Store keeps each team's last snapshot and report.
type Store interface {
	// Last returns the team's last one; nil when there is none.
	Last(ctx context.Context, teamID string) (*Kept, error)
	Save(ctx context.Context, teamID string, k Kept) error
}

// MappingStore gives a team's current field mapping of an object (version
// 0, the default, when none was saved).
type MappingStore interface {
	Current(ctx context.Context, teamID string, o event.SalesforceObject) (mapping.Version, error)
}

// Checker makes teams' readiness reports, serving a report again for TTL.
type Checker struct {
	Source   Source
	Store    Store
	Mappings MappingStore
	TTL      time.Duration    // 0: DefaultTTL
	Now      func() time.Time // nil: time.Now
}

func (c *Checker) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Checker) ttl() time.Duration {
	if c.TTL <= 0 {
		return DefaultTTL
	}
	return c.TTL
}

// Report returns the team's report: while the last snapshot is younger
// than the TTL and was read on the current connection, its checks made
// again with the team's current mappings (no Salesforce call); else (or
// when fresh is set) one of a new snapshot, which is stored.
func (c *Checker) Report(ctx context.Context, teamID string, fresh bool) (Report, error) {
	t, err := c.Source.Target(ctx, teamID)
	if err != nil {
		return Report{}, err
	}
	m, err := c.mappings(ctx, teamID)
	if err != nil {
		return Report{}, err
	}
	if !fresh {
		last, err := c.Store.Last(ctx, teamID)
		if err != nil {
			return Report{}, fmt.Errorf("readiness of team %s: %w", teamID, err)
		}
		if last != nil && last.Report.ConnectionID == t.ConnectionID && c.now().Sub(last.Report.CheckedAt) < c.ttl() {
			return last.assess(m), nil
		}
	}
	s, err := c.Source.Fetch(ctx, teamID, t)
	if err != nil {
		return Report{}, err
	}
	r := Report{OrgID: t.OrgID, ConnectionID: t.ConnectionID, CheckedAt: c.now().UTC(), APICalls: s.Calls, Items: Assess(s, m)}
	if err := c.Store.Save(ctx, teamID, Kept{Report: r, Snapshot: s}); err != nil {
		return Report{}, fmt.Errorf("readiness of team %s: %w", teamID, err)
	}
	return r, nil
}

// assess is the kept report with its checks made again with mappings m.
func (k Kept) assess(m Mappings) Report {
	r := k.Report
	r.Items = Assess(k.Snapshot, m)
	return r
}

func (c *Checker) mappings(ctx context.Context, teamID string) (Mappings, error) {
	m := Mappings{}
	for _, o := range mappedObjects {
		v, err := c.Mappings.Current(ctx, teamID, o)
		if err != nil {
			return nil, fmt.Errorf("readiness of team %s: %w", teamID, err)
		}
		m[o] = v.Mapping
	}
	return m, nil
}

// AfterConnect makes a new report of the team's new connection and returns
// its summary.
func (c *Checker) AfterConnect(ctx context.Context, teamID string) (*Summary, error) {
	r, err := c.Report(ctx, teamID, true)
	if err != nil {
		return nil, err
	}
	s := r.Summary()
	return &s, nil
}

// Summary returns the summary of the team's last report if it was made on
// the connection connectionID, whatever its age, its checks made again with
// the team's current mappings; nil otherwise. It calls no Salesforce API.
func (c *Checker) Summary(ctx context.Context, teamID, connectionID string) (*Summary, error) {
	last, err := c.Store.Last(ctx, teamID)
	if err != nil {
		return nil, fmt.Errorf("readiness summary of team %s: %w", teamID, err)
	}
	if last == nil || last.Report.ConnectionID != connectionID {
		return nil, nil
	}
	m, err := c.mappings(ctx, teamID)
	if err != nil {
		return nil, err
	}
	s := last.assess(m).Summary()
	return &s, nil
}

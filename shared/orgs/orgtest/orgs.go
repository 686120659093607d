package orgtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/orgs"
)

// Orgs is the in-memory org of each team, behind the team's connection:
// Contacts and Activities are it as the engines' Orgs ports. It is safe for
// concurrent use. Its zero value is not usable; use New.
type Orgs struct {
	mu    sync.Mutex
	teams map[string]*team
}

// team is one team's connection and org.
type team struct {
	conn  delivery.Connection
	org   *Org
	opens int
}

// New returns Orgs with no team connected.
func New() *Orgs { return &Orgs{teams: map[string]*team{}} }

// teamLocked returns the team's entry, made on first use (disconnected,
// with an empty org).
func (s *Orgs) teamLocked(teamID string) *team {
	tm, ok := s.teams[teamID]
	if !ok {
		tm = &team{conn: delivery.Connection{Status: string(connection.StatusDisconnected)}, org: NewOrg()}
		s.teams[teamID] = tm
	}
	return tm
}

// Connect connects the team's org as of at (its ConnectedAt) and returns
// the org, the same one across reconnects and status changes.
func (s *Orgs) Connect(teamID string, at time.Time) *Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	tm := s.teamLocked(teamID)
	tm.conn.Status, tm.conn.ConnectedAt = string(connection.StatusConnected), at
	if tm.conn.UserID == "" {
		tm.conn.UserID = ConnectedUserID
		tm.org.connectedUser()
	}
	return tm.org
}

// SetTimeZone sets the connected user's time zone Open reports.
func (s *Orgs) SetTimeZone(teamID, tz string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teamLocked(teamID).conn.TimeZone = tz
}

// SetStatus sets the team's connection status: connection.StatusNeedsReauth,
// StatusNeedsAdmin and StatusDisconnected make Open fail as orgs does.
func (s *Orgs) SetStatus(teamID string, status connection.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teamLocked(teamID).conn.Status = string(status)
}

// Org returns the team's org (an empty one if the team was never
// connected), for seeding it and reading it.
func (s *Orgs) Org(teamID string) *Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.teamLocked(teamID).org
}

// Connection returns what Open reports of the team's connection.
func (s *Orgs) Connection(teamID string) delivery.Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.teamLocked(teamID).conn
}

// Opens returns how many times the team's org was opened.
func (s *Orgs) Opens(teamID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.teamLocked(teamID).opens
}

// Open opens the team's org as (*orgs.Orgs).Open does: a connected team
// gets its org; needs_reauth an error matching connection.ErrNeedsReauth,
// needs_admin one that also matches connection.ErrNeedsAdmin, any other
// status connection.ErrNotConnected; each with the connection.
func (s *Orgs) Open(_ context.Context, teamID string) (*Org, delivery.Connection, error) {
	if strings.TrimSpace(teamID) == "" {
		return nil, delivery.Connection{}, fmt.Errorf("open org: team_id is empty: %w", orgs.ErrBadInput)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tm := s.teamLocked(teamID)
	tm.opens++
	switch status := connection.Status(tm.conn.Status); status {
	case connection.StatusConnected:
		return tm.org, tm.conn, nil
	case connection.StatusNeedsReauth, connection.StatusNeedsAdmin:
		return nil, tm.conn, fmt.Errorf("open org for team %s: %w", teamID, connection.Connection{Status: status}.Err())
	default:
		return nil, tm.conn, fmt.Errorf("open org for team %s (status %q): %w", teamID, status, connection.ErrNotConnected)
	}
}

// RecordHold implements contactsync.Orgs.RecordHold as the connection
// store does: at becomes the team's HeldAt unless a later one is noted.
func (s *Orgs) RecordHold(_ context.Context, teamID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tm, ok := s.teams[teamID]; ok && at.After(tm.conn.HeldAt) {
		tm.conn.HeldAt = at
	}
	return nil
}

// Contacts is s as contact sync's Orgs port.
func (s *Orgs) Contacts() contactsync.Orgs { return contactOrgs{s} }

// Activities is s as activity sync's Orgs port.
func (s *Orgs) Activities() activitysync.Orgs { return activityOrgs{s} }

type contactOrgs struct{ *Orgs }

func (s contactOrgs) Open(ctx context.Context, teamID string) (contactsync.Org, delivery.Connection, error) {
	o, conn, err := s.Orgs.Open(ctx, teamID)
	if err != nil {
		return nil, conn, err
	}
	return o, conn, nil
}

type activityOrgs struct{ *Orgs }

func (s activityOrgs) Open(ctx context.Context, teamID string) (activitysync.Org, delivery.Connection, error) {
	o, conn, err := s.Orgs.Open(ctx, teamID)
	if err != nil {
		return nil, conn, err
	}
	return o, conn, nil
}

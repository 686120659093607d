package healthtest

import (
	"context"
	"maps"
	"sync"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/ledger"
)

// Teams serves the ports of a report beside the counts from maps keyed by
// team: health.Calls, health.Connections, health.Budgets and
// health.HeldActivity. A team absent from Conns is not connected; one
// absent from Percent has the default budget. Err, when set, is every
// read's answer. Reads lists the teams each read was asked for.
type Teams struct {
	Conns   map[string]connection.Connection
	Percent map[string]int
	Calls   map[string]map[string]int // team, day: calls kept for past days
	Held    map[string]map[ledger.MemberKey]activitysync.HeldMark
	Err     error

	mu    sync.Mutex
	reads []string
}

var (
	_ health.Calls        = (*Teams)(nil)
	_ health.Connections  = (*Teams)(nil)
	_ health.Budgets      = (*Teams)(nil)
	_ health.HeldActivity = (*Teams)(nil)
)

func (t *Teams) read(team string) error {
	t.mu.Lock()
	t.reads = append(t.reads, team)
	t.mu.Unlock()
	return t.Err
}

// Reads returns the teams the reads were asked for, in no set order.
func (t *Teams) Reads() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.reads...)
}

// CallsByDay implements health.Calls.
func (t *Teams) CallsByDay(_ context.Context, team, from, to string) (map[string]int, error) {
	if err := t.read(team); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for d, n := range t.Calls[team] {
		if d >= from && d <= to {
			out[d] = n
		}
	}
	return out, nil
}

// Get implements health.Connections.
func (t *Teams) Get(_ context.Context, team string) (connection.Connection, error) {
	if err := t.read(team); err != nil {
		return connection.Connection{}, err
	}
	c, ok := t.Conns[team]
	if !ok {
		return connection.Connection{}, connection.ErrNotConnected
	}
	return c, nil
}

// BudgetPercent implements health.Budgets.
func (t *Teams) BudgetPercent(_ context.Context, team string) (int, error) {
	if err := t.read(team); err != nil {
		return 0, err
	}
	if p, ok := t.Percent[team]; ok {
		return p, nil
	}
	return budget.DefaultPercent, nil
}

// HeldKeys implements health.HeldActivity.
func (t *Teams) HeldKeys(_ context.Context, team string) (map[ledger.MemberKey]activitysync.HeldMark, error) {
	if err := t.read(team); err != nil {
		return nil, err
	}
	return maps.Clone(t.Held[team]), nil
}

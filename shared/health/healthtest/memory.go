// Package healthtest is the health counts kept in memory (Memory), the
// conformance suite that holds it and healthdb (the ledger table) to the
// same answers (Run), and Teams, the other ports of a health report served
// from maps, for the unit tests of the domain and the route.
package healthtest

import (
	"context"
	"maps"
	"sync"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
)

// Memory keeps the outcome counts in the process. It is safe for
// concurrent use; its zero value is an empty store. It refuses what
// healthdb refuses (health.CheckAdd, health.CheckRange).
type Memory struct {
	mu     sync.Mutex
	counts map[string]map[string]map[event.Status]int // team, day, status
	writes int
}

var _ health.Store = (*Memory)(nil)

// Add implements health.Counter.
func (m *Memory) Add(_ context.Context, team, day string, by map[event.Status]int) error {
	if err := health.CheckAdd(team, day, by); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	wrote := false
	for s, n := range by {
		if n == 0 {
			continue
		}
		if m.counts == nil {
			m.counts = map[string]map[string]map[event.Status]int{}
		}
		if m.counts[team] == nil {
			m.counts[team] = map[string]map[event.Status]int{}
		}
		if m.counts[team][day] == nil {
			m.counts[team][day] = map[event.Status]int{}
		}
		m.counts[team][day][s] += n
		wrote = true
	}
	if wrote {
		m.writes++
	}
	return nil
}

// Outcomes implements health.Counts.
func (m *Memory) Outcomes(_ context.Context, team, from, to string) (map[string]map[event.Status]int, error) {
	if err := health.CheckRange(team, from, to); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[event.Status]int{}
	for day, by := range m.counts[team] {
		if day >= from && day <= to {
			out[day] = maps.Clone(by)
		}
	}
	return out, nil
}

// Writes is how many Adds wrote something: the writes healthdb would make.
func (m *Memory) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

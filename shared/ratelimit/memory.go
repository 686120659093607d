package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory keeps windows and marks in the process: for tests, and for a
// single process where nothing else counts. It passes the same conformance
// suite as the shared stores (ratelimittest).
type Memory struct {
	mu      sync.Mutex
	windows map[string]memWindow
	marks   map[string]time.Time
}

type memWindow struct {
	count   int
	expires time.Time
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{windows: map[string]memWindow{}, marks: map[string]time.Time{}}
}

// Take implements Windows.
func (m *Memory) Take(_ context.Context, key string, start time.Time, max int, expires time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, w := range m.windows {
		if !start.Before(w.expires) {
			delete(m.windows, k)
		}
	}
	k := windowKey(key, start)
	w := m.windows[k]
	if w.count >= max {
		return false, nil
	}
	m.windows[k] = memWindow{count: w.count + 1, expires: expires}
	return true, nil
}

// Mark implements Marks.
func (m *Memory) Mark(_ context.Context, key string, now, until time.Time) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if running, ok := m.marks[key]; ok && running.After(now) {
		return running, false, nil
	}
	m.marks[key] = until
	return until, true, nil
}

// Clear implements Marks.
func (m *Memory) Clear(_ context.Context, key string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if running, ok := m.marks[key]; ok && running.Equal(until) {
		delete(m.marks, key)
	}
	return nil
}

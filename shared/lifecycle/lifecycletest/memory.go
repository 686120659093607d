// Package lifecycletest keeps lifecycle's marks in memory, for the engines'
// unit tests, and holds the conformance suite every lifecycle.Marks passes
// (Run): the memory store here and the DynamoDB one (lifecycledb).
package lifecycletest

import (
	"context"
	"slices"
	"sync"

	"github.com/sfsync/sfsync/shared/lifecycle"
)

// Memory is a lifecycle.Marks in memory; safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	bounces map[[2]string]lifecycle.BounceMark
	optOuts map[[2]string]lifecycle.OptOut
	// Fail, when set, is returned by every call.
	Fail error
}

// New returns an empty Memory.
func New() *Memory {
	return &Memory{bounces: map[[2]string]lifecycle.BounceMark{}, optOuts: map[[2]string]lifecycle.OptOut{}}
}

var _ lifecycle.Marks = (*Memory)(nil)

// ClaimBounces implements lifecycle.Marks.
func (m *Memory) ClaimBounces(_ context.Context, teamID string, bs []lifecycle.Bounce) ([]lifecycle.BounceMark, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	out := make([]lifecycle.BounceMark, len(bs))
	for i, b := range bs {
		k := [2]string{teamID, b.Email}
		cur, ok := m.bounces[k]
		if !ok || lifecycle.Newer(b, cur.Bounce) {
			cur = lifecycle.BounceMark{Bounce: b}
			m.bounces[k] = cur
		}
		out[i] = cur
	}
	return out, nil
}

// WroteBounces implements lifecycle.Marks.
func (m *Memory) WroteBounces(_ context.Context, teamID string, bs []lifecycle.Bounce) ([]lifecycle.BounceMark, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	out := make([]lifecycle.BounceMark, len(bs))
	for i, b := range bs {
		k := [2]string{teamID, b.Email}
		cur, ok := m.bounces[k]
		if ok && cur.EventID == b.EventID {
			cur.Written = true
			m.bounces[k] = cur
		}
		out[i] = cur
	}
	return out, nil
}

// KeepOptOuts implements lifecycle.Marks.
func (m *Memory) KeepOptOuts(_ context.Context, teamID string, os []lifecycle.OptOut) ([]lifecycle.OptOut, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	out := make([]lifecycle.OptOut, len(os))
	for i, o := range os {
		k := [2]string{teamID, o.Email}
		cur, ok := m.optOuts[k]
		if !ok {
			cur = o
			cur.Written = nil
			m.optOuts[k] = cur
		}
		out[i] = copyOptOut(cur)
	}
	return out, nil
}

// OptOuts implements lifecycle.Marks.
func (m *Memory) OptOuts(_ context.Context, teamID string, emails []string) (map[string]lifecycle.OptOut, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	out := map[string]lifecycle.OptOut{}
	for _, e := range emails {
		if o, ok := m.optOuts[[2]string{teamID, e}]; ok {
			out[e] = copyOptOut(o)
		}
	}
	return out, nil
}

// WroteOptOuts implements lifecycle.Marks.
func (m *Memory) WroteOptOuts(_ context.Context, teamID string, written map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	for email, id := range written {
		k := [2]string{teamID, email}
		o, ok := m.optOuts[k]
		if !ok || o.WrittenTo(id) {
			continue
		}
		o.Written = append(slices.Clone(o.Written), id)
		slices.Sort(o.Written)
		m.optOuts[k] = o
	}
	return nil
}

// Forget drops every mark of the email in the team (an erasure).
func (m *Memory) Forget(teamID, email string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.bounces, [2]string{teamID, email})
	delete(m.optOuts, [2]string{teamID, email})
}

func copyOptOut(o lifecycle.OptOut) lifecycle.OptOut {
	o.Written = slices.Clone(o.Written)
	return o
}

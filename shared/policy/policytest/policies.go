// Package policytest is an in-memory sync policy for the engines' unit
// tests: Policies implements contactsync.Policies, activitysync.Settings
// and delivery.TeamSettings, answering as of a time from versions saved at
// given times, as policydb does, with no table and no clock. Run is the
// conformance suite that holds it and policydb to the same answers.
package policytest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/policy"
)

// Policies keeps each team's settings versions and each sequence's
// override versions. It is safe for concurrent use. Its zero value is not
// usable; use New.
type Policies struct {
	mu    sync.Mutex
	teams map[string][]policy.TeamVersion
	seqs  map[sequence][]policy.SequenceVersion
}

type sequence struct{ team, seq string }

// New returns Policies with nothing saved: every team has the defaults.
func New() *Policies {
	return &Policies{teams: map[string][]policy.TeamVersion{}, seqs: map[sequence][]policy.SequenceVersion{}}
}

var (
	_ contactsync.Policies  = (*Policies)(nil)
	_ activitysync.Settings = (*Policies)(nil)
	_ delivery.TeamSettings = (*Policies)(nil)
)

// SaveTeamSettings saves doc as the team's next version, in effect from at
// (or, as policydb stamps it, a microsecond after the version before when
// at is not later).
func (p *Policies) SaveTeamSettings(_ context.Context, team string, at time.Time, doc policy.TeamSettings) (policy.TeamVersion, error) {
	if err := doc.Validate(); err != nil {
		return policy.TeamVersion{}, fmt.Errorf("save team %s settings: %w", team, err)
	}
	doc = doc.Clone()
	p.mu.Lock()
	defer p.mu.Unlock()
	v := next(p.teams[team], at, doc)
	p.teams[team] = append(p.teams[team], v)
	return v, nil
}

// SaveSequenceOverride is SaveTeamSettings for a sequence's override.
func (p *Policies) SaveSequenceOverride(_ context.Context, team, seq string, at time.Time, doc policy.SequenceOverride) (policy.SequenceVersion, error) {
	if err := doc.Validate(); err != nil {
		return policy.SequenceVersion{}, fmt.Errorf("save team %s sequence %s override: %w", team, seq, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := sequence{team, seq}
	v := next(p.seqs[k], at, doc)
	p.seqs[k] = append(p.seqs[k], v)
	return v, nil
}

// next is the version after the history's last, in effect from at.
func next[T any](history []policy.Version[T], at time.Time, doc T) policy.Version[T] {
	at = at.UTC()
	if n := len(history); n > 0 && !at.After(history[n-1].EffectiveAt) {
		at = history[n-1].EffectiveAt.Add(time.Microsecond)
	}
	return policy.Version[T]{Number: len(history) + 1, EffectiveAt: at, Author: "policytest", Document: doc}
}

// ResolveAt implements contactsync.Policies: the policy in effect for the
// team's sequence at the moment at (policy.Resolve of what was saved).
func (p *Policies) ResolveAt(_ context.Context, team, seq string, at time.Time) (policy.Effective, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return policy.Resolve(p.teams[team], p.seqs[sequence{team, seq}], at), nil
}

// TeamSettingsAt implements contactsync.Policies, activitysync.Settings and
// delivery.TeamSettings: the team's settings in effect at the moment at,
// version 0 with the defaults when none was saved by then.
func (p *Policies) TeamSettingsAt(_ context.Context, team string, at time.Time) (policy.TeamVersion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best policy.TeamVersion
	for _, v := range p.teams[team] {
		if !v.EffectiveAt.After(at) && v.Number > best.Number {
			best = v
		}
	}
	if best.Number == 0 {
		return policy.TeamVersion{Document: policy.DefaultTeamSettings()}, nil
	}
	best.Document = best.Document.Clone()
	return best, nil
}

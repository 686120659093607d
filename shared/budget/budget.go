// Package budget is the API budget governor: it decides, from what
// Salesforce last reported of an org's daily API usage and from the calls
// this service made for the team today, whether more work may spend calls.
//
// A team's cap is a share of its org's daily allocation (a team setting,
// api_budget_percent). Near the cap, low-value work (email opens and clicks)
// waits so that record creation keeps its room; at the cap, or when the org
// itself is out of calls, all of the team's work waits. Waiting work is held
// on the queue, never failed, and goes on once capacity returns: a new day
// (the service's count restarts), a higher cap, or a larger allocation.
//
// The package is pure: adapters feed it the figures.
package budget

import (
	"errors"
	"fmt"
)

// ErrCapped means the team's share of its org's daily API allocation is spent
// (or the org's own allocation is): the team's work waits.
var ErrCapped = errors.New("budget: the team's API budget for today is spent")

// ErrNearCap means the team is close to its cap: low-value work waits so that
// record creation keeps its room.
var ErrNearCap = errors.New("budget: the team is near its API budget; low-value work waits")

// DefaultPercent is the share of the org's daily allocation a team may spend
// when its admin never set one: half, so the org's other integrations keep
// at least the other half.
const DefaultPercent = 50

// NearShare is the part of the cap after which low-value work waits.
const NearShare = 0.8

// Priority says how much a piece of work is worth spending calls on.
type Priority int

const (
	// High: creating and linking records, logging sent and replied emails.
	High Priority = iota
	// Low: opens and clicks.
	Low
)

// Figures are what the governor decides on.
type Figures struct {
	OrgUsed  int // the org's calls in the last 24 hours, as Salesforce last reported (Sforce-Limit-Info)
	OrgLimit int // the org's daily allocation; 0 when Salesforce never reported it
	Service  int // the calls this service made for the team today (UTC)
	Percent  int // the team's cap, a share of OrgLimit in 1..100
}

// Cap is the number of calls the service may make for the team today; -1
// when the org's allocation is not known yet.
func (f Figures) Cap() int {
	if f.OrgLimit <= 0 {
		return -1
	}
	p := f.Percent
	if p <= 0 || p > 100 {
		p = DefaultPercent
	}
	return f.OrgLimit * p / 100
}

// Allow says whether work of priority p may spend a call now: nil, or an
// error matching ErrCapped or ErrNearCap with the figures.
func Allow(f Figures, p Priority) error {
	c := f.Cap()
	if c < 0 {
		return nil // nothing reported yet: the first call tells
	}
	if f.Service >= c {
		return fmt.Errorf("%w (%d of %d calls, %d%% of the org's %d)", ErrCapped, f.Service, c, f.Percent, f.OrgLimit)
	}
	if f.OrgUsed >= f.OrgLimit {
		return fmt.Errorf("%w (the org used %d of its %d calls)", ErrCapped, f.OrgUsed, f.OrgLimit)
	}
	if p == Low && float64(f.Service) >= NearShare*float64(c) {
		return fmt.Errorf("%w (%d of %d calls)", ErrNearCap, f.Service, c)
	}
	return nil
}

// ValidPercent says whether p is a cap an admin may set.
func ValidPercent(p int) bool { return p >= 1 && p <= 100 }

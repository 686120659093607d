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
	return f.OrgLimit * f.percent() / 100
}

// percent is the share the cap is made of: Percent, or DefaultPercent when
// Percent is not a cap an admin may set.
func (f Figures) percent() int {
	if !ValidPercent(f.Percent) {
		return DefaultPercent
	}
	return f.Percent
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

// The states of a team's budget in a View.
const (
	StateOK      = "ok"
	StateNearCap = "near_cap" // low-value work (opens and clicks) waits
	StateCapped  = "capped"   // all of the team's work waits
)

// View is the team's API budget as its admin sees it: the budget of
// GET /v1/salesforce and of the health report, one JSON shape.
type View struct {
	// Percent is the share of the org's daily allocation the cap is made
	// of, as the governor applies it (DefaultPercent for a Percent out of
	// 1..100).
	Percent int `json:"percent"`
	// Cap is the calls the service may make for the team today; nil until
	// Salesforce reported the org's allocation.
	Cap        *int   `json:"cap,omitempty"`
	CallsToday int    `json:"calls_today"`
	State      string `json:"state"` // StateOK, StateNearCap or StateCapped
}

// View is the budget f makes, in the governor's words: capped when Allow
// holds back every piece of work, near_cap when it holds back low-value
// work only, ok otherwise.
func (f Figures) View() View {
	v := View{Percent: f.percent(), CallsToday: f.Service, State: StateOK}
	if c := f.Cap(); c >= 0 {
		v.Cap = &c
	}
	switch err := Allow(f, Low); {
	case errors.Is(err, ErrCapped):
		v.State = StateCapped
	case errors.Is(err, ErrNearCap):
		v.State = StateNearCap
	}
	return v
}

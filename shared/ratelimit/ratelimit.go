// Package ratelimit keeps one team from taking more than its share of the
// API: a per-team request limit that every instance of the API function
// shares, and cooldowns that refuse to repeat an operation too soon.
//
// # Request limits
//
// A Limit is a number of requests per fixed window (a minute, say), counted
// per team and rule in a store all instances share (Windows): one
// conditional write per request, which counts the request only while the
// window holds fewer than the limit. A refused request is answered with the
// time left in the window. A team can make up to twice its limit across a
// window's end (the end of one window, then the start of the next); a token
// bucket would smooth that but needs a read before its write (DynamoDB's
// update expressions have no min or max), and the limit is there to stop a
// runaway or hostile client, not to meter.
//
// Each instance remembers the windows it saw full until they end and refuses
// them without a write: a window's count only grows, so that answer is the
// store's too, and a flood of refused requests costs no writes. Nothing is
// remembered of windows with room: another instance may have filled them.
//
// # Cooldowns
//
// A Cooldown refuses to start an operation again (the same retry, say) until
// a period after it last started; the mark is one conditional write in a
// store all instances share (Marks).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Limit is at most Requests requests per window of length Per.
type Limit struct {
	Requests int
	Per      time.Duration // whole seconds
}

// String is the limit as people read it: "300 requests per minute".
func (l Limit) String() string {
	n := fmt.Sprintf("%d requests", l.Requests)
	if l.Requests == 1 {
		n = "1 request"
	}
	switch {
	case l.Per == time.Minute:
		return n + " per minute"
	case l.Per == time.Second:
		return n + " per second"
	case l.Per > 0 && l.Per%time.Minute == 0:
		return fmt.Sprintf("%s per %d minutes", n, l.Per/time.Minute)
	default:
		return fmt.Sprintf("%s per %g seconds", n, l.Per.Seconds())
	}
}

// Rule is a named limit; requests under one rule share its windows.
type Rule struct {
	Name  string // a word, part of the store's key
	Limit Limit
}

// DefaultRule is the API's default limit of a team: 300 requests a minute
// over all of its routes, five a second on average, far above what an admin
// app makes and low enough that no team's loop can crowd the others out.
var DefaultRule = Rule{Name: "all", Limit: Limit{Requests: 300, Per: time.Minute}}

// Rules choose the rule of each route: its own, or the default.
type Rules struct {
	Default Rule
	Routes  map[string]Rule // route key ("POST /v1/...") -> rule
}

// For is the rule of route.
func (r Rules) For(route string) Rule {
	if rule, ok := r.Routes[route]; ok {
		return rule
	}
	return r.Default
}

// Decision is the answer to one request.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration // when refused: until it may be made, in whole seconds, at least one
	Limit      Limit         // the limit that decided
}

// Windows is the shared count of requests per key and window; the stores
// implement it.
type Windows interface {
	// Take counts one request in the window of key that starts at start,
	// unless the window already holds max requests, and reports whether it
	// counted. The store may forget the window after expires. A repeat of the
	// same call after a lost answer should not count twice.
	Take(ctx context.Context, key string, start time.Time, max int, expires time.Time) (bool, error)
}

// Marks are the shared cooldown marks; the stores implement them.
type Marks interface {
	// Mark sets key's mark to run until until, unless a mark that runs past
	// now is set. It returns the mark that runs and whether it set it: until
	// when it did, the running mark's end when it did not. The store may
	// forget a mark once it has run out.
	Mark(ctx context.Context, key string, now, until time.Time) (time.Time, bool, error)
	// Clear removes key's mark if it still runs until until (the mark this
	// caller set), so that a started operation that failed may run again.
	Clear(ctx context.Context, key string, until time.Time) error
}

// ErrBadLimit is returned for a limit of no requests or of a window that
// is not a whole number of seconds.
var ErrBadLimit = errors.New("ratelimit: a limit needs at least one request per whole number of seconds")

// Limiter decides each request of a team against the rule of its route.
type Limiter struct {
	Windows Windows
	Rules   Rules
	Now     func() time.Time // nil: time.Now

	mu   sync.Mutex
	full map[string]time.Time // window key -> its end, for windows seen full
}

// Allow counts one request of team to route, or refuses it.
func (l *Limiter) Allow(ctx context.Context, team, route string) (Decision, error) {
	rule := l.Rules.For(route)
	lim := rule.Limit
	if lim.Requests < 1 || lim.Per < time.Second || lim.Per%time.Second != 0 {
		return Decision{}, fmt.Errorf("rule %q (%s): %w", rule.Name, lim, ErrBadLimit)
	}
	now := l.now()
	start := now.Truncate(lim.Per)
	end := start.Add(lim.Per)
	key := team + "#" + rule.Name
	refused := Decision{RetryAfter: wait(now, end), Limit: lim}
	if l.seenFull(key, start, now) {
		return refused, nil
	}
	ok, err := l.Windows.Take(ctx, key, start, lim.Requests, end)
	if err != nil {
		return Decision{}, fmt.Errorf("count a request of %s: %w", key, err)
	}
	if !ok {
		l.remember(key, start, end, now)
		return refused, nil
	}
	return Decision{Allowed: true, Limit: lim}, nil
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func windowKey(key string, start time.Time) string {
	return key + "@" + start.UTC().Format(time.RFC3339)
}

func (l *Limiter) seenFull(key string, start, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	end, ok := l.full[windowKey(key, start)]
	return ok && now.Before(end)
}

// remember notes a full window and forgets the windows that have ended.
func (l *Limiter) remember(key string, start, end, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.full == nil {
		l.full = map[string]time.Time{}
	}
	for k, e := range l.full {
		if !now.Before(e) {
			delete(l.full, k)
		}
	}
	l.full[windowKey(key, start)] = end
}

// wait is the time from now to t in whole seconds, rounded up, at least one.
func wait(now, t time.Time) time.Duration {
	d := t.Sub(now)
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

// Cooldown refuses to start an operation again within Period of its start.
type Cooldown struct {
	Marks  Marks
	Period time.Duration
	Now    func() time.Time // nil: time.Now
}

// Started is a started operation; Undo lets it run again at once.
type Started struct {
	key   string
	until time.Time
	marks Marks
}

// Undo clears the mark of an operation that failed before it did anything,
// so that it may be tried again at once.
func (s Started) Undo(ctx context.Context) error {
	if s.marks == nil {
		return nil
	}
	return s.marks.Clear(ctx, s.key, s.until)
}

// Start marks the operation key as started now, or refuses it with the time
// until it may start again.
func (c *Cooldown) Start(ctx context.Context, key string) (Started, Decision, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	until, ok, err := c.Marks.Mark(ctx, key, now, now.Add(c.Period))
	if err != nil {
		return Started{}, Decision{}, fmt.Errorf("mark %s: %w", key, err)
	}
	if !ok {
		return Started{}, Decision{RetryAfter: wait(now, until)}, nil
	}
	return Started{key: key, until: until, marks: c.Marks}, Decision{Allowed: true}, nil
}

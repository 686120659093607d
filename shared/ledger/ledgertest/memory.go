// Package ledgertest is the sync ledger in memory, for the engines' unit
// tests, and the conformance suite (Run) that holds it and the DynamoDB
// ledger (ledgerdb) to the same rules, so that the two cannot drift.
//
// Memory implements both engines' Ledger ports (contactsync.Ledger and
// activitysync.Ledger) with ledgerdb's semantics: the first pin of a
// membership is kept, claims are refused while another owner's is live, a
// saved record keeps its Salesforce id, a final outcome is never replaced.
// It imports neither engine, so an engine's own tests may use it.
package ledgertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// OutcomeTTL is how long an outcome is read back after it was recorded, as
// in the ledger table.
const OutcomeTTL = 90 * 24 * time.Hour

// RuleFollowed is the match rule of a record moved by FollowRecord.
const RuleFollowed = "followed_conversion"

// Errors of Memory, each wrapped with the item it concerns. A claim refused
// wraps ledger.ErrClaimed.
var (
	// ErrInvalid means an input breaks the ledger's rules (an id with "#",
	// an empty email, a status it does not know).
	ErrInvalid = errors.New("ledgertest: invalid input")
	// ErrNoMembership is SetMemberships' answer for a membership never pinned.
	ErrNoMembership = errors.New("ledgertest: no such membership")
	// ErrRecorded means the email already has a saved record.
	ErrRecorded = errors.New("ledgertest: the email already has a record")
)

type memberID struct {
	team string
	key  ledger.MemberKey
}

type emailID struct{ team, email string }

// eventID is where an event's outcome is kept: with its contact.
type eventID struct{ team, contact, event string }

// emailItem is what the ledger holds for an email: a claim (owner and
// until, in Unix milliseconds), a saved record, or both absent.
type emailItem struct {
	owner  string
	until  int64
	record *ledger.Record
}

// storedOutcome is an outcome and when it stops being read (Unix seconds).
type storedOutcome struct {
	outcome event.Outcome
	expires int64
}

// Memory is the sync ledger in memory, safe for concurrent use. Use New.
type Memory struct {
	// Owner is the claim owner SaveRecords saves under: the owner the
	// caller passes to ClaimAll (a worker's name). Empty: each record's
	// EventID is its owner. Set it before use.
	Owner string

	now      func() time.Time
	mu       sync.Mutex
	members  map[memberID]ledger.Membership
	emails   map[emailID]emailItem
	outcomes map[eventID]storedOutcome
}

// New returns an empty ledger on the clock now (time.Now when nil).
func New(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, members: map[memberID]ledger.Membership{}, emails: map[emailID]emailItem{},
		outcomes: map[eventID]storedOutcome{}}
}

// Membership returns the membership of key as the ledger reads it (its
// add's outcome settles it), if any.
func (l *Memory) Membership(teamID string, key ledger.MemberKey) (ledger.Membership, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.members[memberID{teamID, key}]
	if ok {
		m = l.settled(m)
	}
	return clone(m), ok
}

// Record returns the record saved for email (normalized here), if any.
func (l *Memory) Record(teamID, email string) (ledger.Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	it := l.emails[emailID{teamID, ledger.NormalizeEmail(email)}]
	if it.record == nil {
		return ledger.Record{}, false
	}
	return *it.record, true
}

// Claim returns the owner of email's claim and when it ends, if the email
// is claimed (live or expired) and has no record.
func (l *Memory) Claim(teamID, email string) (owner string, until time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	it := l.emails[emailID{teamID, ledger.NormalizeEmail(email)}]
	if it.owner == "" {
		return "", time.Time{}, false
	}
	return it.owner, time.UnixMilli(it.until).UTC(), true
}

// Outcome returns the outcome recorded for an event, expired or not, of
// whichever contact.
func (l *Memory) Outcome(teamID, id string) (event.Outcome, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, s := range l.outcomes {
		if k.team == teamID && k.event == id {
			return clone(s.outcome), true
		}
	}
	return event.Outcome{}, false
}

// clone is a deep copy of v, as storing and reading it back would give:
// what a caller changes afterwards does not reach the ledger, nor the
// other way round. v is one of the ledger's own types, which always encode.
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ledgertest: copy %T: %v", v, err))
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("ledgertest: copy %T: %v", v, err))
	}
	return out
}

// checkID refuses what the ledger table's keys may not hold: the id rule
// of the event contract.
func checkID(field, v string) error {
	if event.CheckTeamID(v) != nil {
		return fmt.Errorf("%w: %s %q: not an id (letters, digits and . _ : -, at most 128)", ErrInvalid, field, v)
	}
	return nil
}

// checkEmail returns the normalized email, or why it is refused.
func checkEmail(field, email string) (string, error) {
	n := ledger.NormalizeEmail(email)
	if n == "" || len(n) > 320 || strings.ContainsFunc(n, unicode.IsControl) {
		return "", fmt.Errorf("%w: %s %q: empty, longer than 320 bytes or holding control characters", ErrInvalid, field, email)
	}
	return n, nil
}

// checkIDs checks name/value pairs with checkID, in order.
func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkID(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

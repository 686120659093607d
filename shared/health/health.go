// Package health is a team's sync health as the admin console shows it:
// the outcomes of each UTC day by status, the Salesforce API calls the
// service made each day against the team's cap, and what is held and why.
//
// It is kept cheaply. Outcomes are counted as they are published, one
// counter write per team and UTC day of a published batch (Counting), never
// by scanning the outcome items; the calls of past days are kept where the
// service already writes its calls; what is held is read from what is
// already stored: the connection's status, the API budget governor's
// figures, and activity sync's list of memberships with held activity.
//
// The counts are for health, not for accounting: a batch redelivered after
// its outcomes were published is published, and counted, again. The
// outcome items in the ledger stay the record of what became of each event.
//
// The package is domain: its ports are Counter and Counts (healthdb on
// DynamoDB, healthtest in memory), Calls, Connections, Budgets and
// HeldActivity (the connection store, the policies store and activity
// sync's store implement them).
package health

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
)

// The days a report may span.
const (
	DefaultDays = 7
	MaxDays     = 30
)

// Keep is how long what a report reads of a day is kept after the day
// began: past the longest report (MaxDays) with a margin, then DynamoDB's
// TTL drops it. The outcome counts (healthdb) and the calls of past days
// (connectiondb.CallsRetention) are both kept this long.
const Keep = (MaxDays + 5) * 24 * time.Hour

// ErrDays is the refusal of a days parameter that is not a whole number
// from 1 to MaxDays.
var ErrDays = errors.New("days: must be a whole number from 1 to 30 (default 7), given once")

// ParseDays reads the days parameter from its values in a query: absent,
// DefaultDays; one value of digits from 1 to MaxDays, that number; anything
// else (empty, a sign, a fraction, a word, 0, 31, given twice) ErrDays.
func ParseDays(values []string) (int, error) {
	switch len(values) {
	case 0:
		return DefaultDays, nil
	case 1:
	default:
		return 0, ErrDays
	}
	v := values[0]
	if v == "" || len(v) > 3 {
		return 0, ErrDays
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrDays
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxDays {
		return 0, ErrDays
	}
	return n, nil
}

// Days are the n UTC days that end with the one now falls on, oldest
// first, each as connection.Day spells it (the one spelling of a day the
// counts, the calls and the connection's usage share).
func Days(now time.Time, n int) []string {
	out := make([]string, 0, n)
	today := now.UTC()
	for i := n - 1; i >= 0; i-- {
		out = append(out, connection.Day(today.AddDate(0, 0, -i)))
	}
	return out
}

// ValidDay reports whether day is a UTC day as connection.Day spells it.
func ValidDay(day string) bool {
	t, err := time.Parse(time.DateOnly, day)
	return err == nil && t.Format(time.DateOnly) == day
}

// DayStart is when day (YYYY-MM-DD) begins, UTC; ok false for anything
// else.
func DayStart(day string) (time.Time, bool) {
	if !ValidDay(day) {
		return time.Time{}, false
	}
	t, _ := time.Parse(time.DateOnly, day)
	return t, true
}

// ErrInvalid is wrapped by a store's refusal of a team id, a day or a
// status it cannot keep: a programming error, never the input of a route.
var ErrInvalid = errors.New("health: invalid input")

// maxStatus bounds a status's length: the longest is
// exists_in_salesforce.
const maxStatus = 40

// CheckAdd is what a Counter checks before an Add: a valid team id, a day
// as connection.Day spells it, statuses of lower-case letters and underscores.
func CheckAdd(teamID, day string, by map[event.Status]int) error {
	if err := CheckRange(teamID, day, day); err != nil {
		return err
	}
	for s := range by {
		if !validStatus(s) {
			return fmt.Errorf("%w: status %q: must be lower-case letters and _, at most %d", ErrInvalid, s, maxStatus)
		}
	}
	return nil
}

// CheckRange is what a Counts checks before a read: a valid team id, and
// from and to days as connection.Day spells them, from not after to.
func CheckRange(teamID, from, to string) error {
	if err := policy.ValidateID("team_id", teamID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, d := range []string{from, to} {
		if !ValidDay(d) {
			return fmt.Errorf("%w: day %q: must be YYYY-MM-DD", ErrInvalid, d)
		}
	}
	if from > to {
		return fmt.Errorf("%w: from %s is after to %s", ErrInvalid, from, to)
	}
	return nil
}

func validStatus(s event.Status) bool {
	if s == "" || len(s) > maxStatus {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

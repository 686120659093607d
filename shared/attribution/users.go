package attribution

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sfsync/sfsync/shared/policy"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// DefaultUserTTL is how long what was learned of a rep (their user, or
// that they have none) is used before the org is asked again.
const DefaultUserTTL = 6 * time.Hour

// Known is what was learned of one rep's email: its user, or that it has
// none (Found false), and when.
type Known struct {
	User  User
	Found bool
	At    time.Time
}

// UserStore keeps what was learned of each team's reps across instances.
type UserStore interface {
	// KnownUsers returns what is kept for these normalized emails;
	// emails with nothing kept are absent.
	KnownUsers(ctx context.Context, teamID string, emails []string) (map[string]Known, error)
	// KeepUsers keeps what was learned (by normalized email).
	KeepUsers(ctx context.Context, teamID string, known map[string]Known) error
}

// MaxRepEmailLength bounds a rep's email, in bytes, as a store keeps it.
const MaxRepEmailLength = 320

// CheckRepEmail is the rule a UserStore holds a rep's email to: not
// empty, normalized (NormalizeEmail), valid UTF-8 without control
// characters, at most MaxRepEmailLength bytes. The error names field, not
// the email; errors.Is finds policy.ErrInvalid in it.
func CheckRepEmail(field, email string) error {
	var problem string
	switch {
	case email == "":
		problem = "must not be empty"
	case NormalizeEmail(email) != email:
		problem = "must be normalized (lower case, no surrounding spaces)"
	case len(email) > MaxRepEmailLength:
		problem = fmt.Sprintf("longer than %d bytes", MaxRepEmailLength)
	case !utf8.ValidString(email):
		problem = "is not valid UTF-8"
	case strings.ContainsFunc(email, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		problem = "holds control characters"
	default:
		return nil
	}
	return &policy.ValidationError{Field: field, Problem: problem}
}

// Users resolves reps' emails to Salesforce users, per team, asking the
// org only for the reps not known for TTL: in memory first, then the store.
// It is safe for concurrent use.
type Users struct {
	Store UserStore // nil: memory only
	TTL   time.Duration
	Now   func() time.Time
	Log   *slog.Logger

	mu  sync.Mutex
	mem map[string]map[string]Known // team -> email -> known
}

func (u *Users) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

func (u *Users) ttl() time.Duration {
	if u.TTL > 0 {
		return u.TTL
	}
	return DefaultUserTTL
}

func (u *Users) log() *slog.Logger {
	if u.Log != nil {
		return u.Log
	}
	return slog.Default()
}

func (u *Users) fresh(k Known) bool { return u.now().Sub(k.At) < u.ttl() }

// freshSince is fresh, and learned no earlier than since.
func (u *Users) freshSince(k Known, since time.Time) bool { return u.fresh(k) && !k.At.Before(since) }

// MaxKnownPerTeam bounds what one team's reps take in memory: past it,
// the team's stale entries are dropped, then all of them (the store and
// the org still answer), so no team can grow an instance's memory.
const MaxKnownPerTeam = 5000

// Unknown returns which of the normalized emails are known neither in
// memory nor in the store, and what is known of the others. A store that
// cannot be read is as if empty: the org is asked.
func (u *Users) Unknown(ctx context.Context, team string, emails []string) ([]string, map[string]User) {
	return u.UnknownSince(ctx, team, time.Time{}, emails)
}

// UnknownSince is Unknown, counting as unknown what was learned before
// since: the team's connection, so a team that connected another org
// (a sandbox, then production) never gets the users of the one before.
func (u *Users) UnknownSince(ctx context.Context, team string, since time.Time, emails []string) ([]string, map[string]User) {
	users := map[string]User{}
	if u == nil {
		return dedupe(emails), users
	}
	var missing []string
	u.mu.Lock()
	for _, e := range dedupe(emails) {
		if k, ok := u.mem[team][e]; ok && u.freshSince(k, since) {
			if k.Found {
				users[e] = k.User
			}
			continue
		}
		missing = append(missing, e)
	}
	u.mu.Unlock()
	if len(missing) == 0 || u.Store == nil {
		return missing, users
	}
	kept, err := u.Store.KnownUsers(ctx, team, missing)
	if err != nil {
		u.log().Warn("read known reps", "team_id", team, "error", err.Error())
		return missing, users
	}
	var still []string
	fresh := map[string]Known{}
	for _, e := range missing {
		if k, ok := kept[e]; ok && u.freshSince(k, since) {
			fresh[e] = k
			if k.Found {
				users[e] = k.User
			}
			continue
		}
		still = append(still, e)
	}
	u.remember(team, fresh)
	return still, users
}

// Learned keeps what the org answered for the asked emails: found's users,
// and for every other asked email that it has none.
func (u *Users) Learned(ctx context.Context, team string, asked []string, found map[string]User) {
	if u == nil || len(asked) == 0 {
		return
	}
	at := u.now()
	known := make(map[string]Known, len(asked))
	for _, e := range asked {
		usr, ok := found[e]
		known[e] = Known{User: usr, Found: ok, At: at}
	}
	u.keep(ctx, team, known)
}

// Inactive notes that Salesforce refused the user as inactive: every rep
// known to have it is known inactive from now, so the next records go to
// the fallback without asking the org.
func (u *Users) Inactive(ctx context.Context, team, userID string) {
	if u == nil {
		return
	}
	at := u.now()
	known := map[string]Known{}
	u.mu.Lock()
	for e, k := range u.mem[team] {
		if k.Found && k.User.ID == userID {
			known[e] = Known{User: User{ID: userID}, Found: true, At: at}
		}
	}
	u.mu.Unlock()
	u.keep(ctx, team, known)
}

func (u *Users) keep(ctx context.Context, team string, known map[string]Known) {
	if len(known) == 0 {
		return
	}
	u.remember(team, known)
	if u.Store == nil {
		return
	}
	if err := u.Store.KeepUsers(ctx, team, known); err != nil {
		u.log().Warn("keep known reps", "team_id", team, "error", err.Error())
	}
}

func (u *Users) remember(team string, known map[string]Known) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.mem == nil {
		u.mem = map[string]map[string]Known{}
	}
	if u.mem[team] == nil {
		u.mem[team] = map[string]Known{}
	}
	if len(u.mem[team])+len(known) > MaxKnownPerTeam {
		maps.DeleteFunc(u.mem[team], func(_ string, k Known) bool { return !u.fresh(k) })
		if len(u.mem[team])+len(known) > MaxKnownPerTeam {
			u.mem[team] = map[string]Known{}
		}
	}
	for e, k := range known {
		u.mem[team][e] = k
	}
}

func dedupe(emails []string) []string {
	seen := make(map[string]bool, len(emails))
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		if e != "" && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

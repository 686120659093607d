// Package activitytest is activity sync's own state in memory (claims per
// activity key, held activities, the Task field cache), for tests, and the
// conformance suite (Run) that holds it and the DynamoDB store
// (activitydb) to the same rules, so that the two cannot drift.
//
// Memory implements activitysync.Activities with activitydb's semantics.
// It imports activitysync for the port's types, so it serves tests outside
// that package (activitysync_test and the adapters').
package activitytest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// ErrInvalid means an input breaks the store's rules (an id with "#", a
// key repeated in one ClaimAll, a time not in the future).
var ErrInvalid = errors.New("activitytest: invalid input")

type activityID struct{ team, key string }

type memberID struct {
	team string
	key  ledger.MemberKey
}

// Activity is what the store holds for one activity key: its claim (Owner
// until Until; Until is zero once abandoned), how many claims were taken,
// the event that first claimed it, and the Task once logged.
type Activity struct {
	EventID  string
	Attempts int
	Owner    string
	Until    time.Time
	TaskID   string
}

type activity struct {
	eventID  string
	attempts int
	owner    string
	until    int64 // Unix milliseconds
	taskID   string
}

type cachedFields struct {
	fields activitysync.TaskFields
	at     int64 // Unix milliseconds
}

// Memory is activity sync's state in memory, safe for concurrent use. Use
// New.
type Memory struct {
	now        func() time.Time
	mu         sync.Mutex
	activities map[activityID]activity
	held       map[memberID]map[string][]byte // by "<occurred_at>#<event id>": the event as encoded
	holds      map[memberID]int64             // the hold count of each membership listed
	since      map[memberID]time.Time         // when each membership listed was first held
	fields     map[string]cachedFields
}

var _ activitysync.Activities = (*Memory)(nil)

// New returns an empty store on the clock now (time.Now when nil).
func New(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, activities: map[activityID]activity{}, held: map[memberID]map[string][]byte{},
		holds: map[memberID]int64{}, since: map[memberID]time.Time{}, fields: map[string]cachedFields{}}
}

// Activity returns what the store holds for an activity key, if anything.
func (m *Memory) Activity(team, key string) (Activity, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.activities[activityID{team, key}]
	if !ok {
		return Activity{}, false
	}
	out := Activity{EventID: a.eventID, Attempts: a.attempts, Owner: a.owner, TaskID: a.taskID}
	if a.until > 0 {
		out.Until = time.UnixMilli(a.until).UTC()
	}
	return out, true
}

func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if event.CheckTeamID(pairs[i+1]) != nil {
			return fmt.Errorf("%w: %s %q: not an id (letters, digits and . _ : -, at most 128)", ErrInvalid, pairs[i], pairs[i+1])
		}
	}
	return nil
}

func checkMember(team string, k ledger.MemberKey) error {
	return checkIDs("team_id", team, "sequence_id", k.SequenceID, "contact_id", k.ContactID)
}

// ClaimAll takes the right to create the Task of each key until the given
// time: a fresh claim where the key was never claimed; the Task where it
// is logged; ErrClaimed where another owner's claim is live; otherwise
// (expired, abandoned, or the owner's own from an earlier call) the claim
// is taken over and counted: Attempted, with the event that first claimed
// it. An invalid or repeated key is that request's error; an invalid team,
// owner or time fails the call.
func (m *Memory) ClaimAll(_ context.Context, team string, reqs []activitysync.ClaimRequest, owner string, until time.Time) ([]activitysync.ClaimResult, error) {
	if err := checkIDs("team_id", team, "owner", owner); err != nil {
		return nil, err
	}
	now := m.now()
	if !until.After(now) {
		return nil, fmt.Errorf("%w: until %s must be in the future", ErrInvalid, until.UTC().Format(time.RFC3339Nano))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]activitysync.ClaimResult, len(reqs))
	seen := map[string]bool{}
	for i, r := range reqs {
		err := checkIDs("key", r.Key, "event_id", r.EventID)
		if err == nil && seen[r.Key] {
			err = fmt.Errorf("%w: key %s repeated in the batch", ErrInvalid, r.Key)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		seen[r.Key] = true
		out[i] = m.claim(activityID{team, r.Key}, r.EventID, owner, until.UnixMilli(), now.UnixMilli())
	}
	return out, nil
}

// claim is ClaimAll's answer for one key, at now (Unix milliseconds).
func (m *Memory) claim(id activityID, eventID, owner string, until, now int64) activitysync.ClaimResult {
	a, ok := m.activities[id]
	switch {
	case !ok:
		m.activities[id] = activity{eventID: eventID, attempts: 1, owner: owner, until: until}
		return activitysync.ClaimResult{Claim: activitysync.Claim{EventID: eventID}}
	case a.taskID != "":
		return activitysync.ClaimResult{Claim: activitysync.Claim{TaskID: a.taskID, EventID: a.eventID}}
	case a.owner != "" && a.owner != owner && a.until >= now:
		return activitysync.ClaimResult{Err: fmt.Errorf("claim %s: claimed by %s until %s: %w", id.key, a.owner,
			time.UnixMilli(a.until).UTC().Format(time.RFC3339Nano), activitysync.ErrClaimed)}
	}
	a.eventID, a.owner, a.until = cmp.Or(a.eventID, eventID), owner, until
	a.attempts++
	m.activities[id] = a
	return activitysync.ClaimResult{Claim: activitysync.Claim{EventID: a.eventID, Attempted: true}}
}

// DoneAll records each Task and ends the claim, whoever holds it. The same
// Task again is a no-op; another is errs[i], wrapping ErrOtherTask.
func (m *Memory) DoneAll(_ context.Context, team, _ string, tasks []activitysync.LoggedTask) ([]error, error) {
	if err := checkIDs("team_id", team); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	errs := make([]error, len(tasks))
	for i, t := range tasks {
		if err := checkIDs("key", t.Key, "task_id", t.TaskID); err != nil {
			errs[i] = err
			continue
		}
		a := m.activities[activityID{team, t.Key}]
		if a.taskID != "" && a.taskID != t.TaskID {
			errs[i] = fmt.Errorf("record task %s of %s: task %s is recorded: %w", t.TaskID, t.Key, a.taskID, activitysync.ErrOtherTask)
			continue
		}
		a.taskID, a.owner, a.until = t.TaskID, "", 0
		m.activities[activityID{team, t.Key}] = a
	}
	return errs, nil
}

// AbandonAll expires owner's claims of keys and keeps their attempt
// counts; a key not claimed by owner, or logged, is left as it is.
func (m *Memory) AbandonAll(_ context.Context, team, owner string, keys []string) error {
	if err := checkIDs("team_id", team); err != nil {
		return err
	}
	for _, k := range keys {
		if err := checkIDs("key", k); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if a, ok := m.activities[activityID{team, k}]; ok && a.owner == owner && a.taskID == "" {
			a.until = 0
			m.activities[activityID{team, k}] = a
		}
	}
	return nil
}

// Unclaim forgets owner's claim when no Task is recorded: the next claim
// is fresh.
func (m *Memory) Unclaim(_ context.Context, team, key, owner string) error {
	if err := checkIDs("team_id", team, "key", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.activities[activityID{team, key}]; a.owner == owner && a.taskID == "" {
		delete(m.activities, activityID{team, key})
	}
	return nil
}

// stampFormat is a time whose byte order is time order.
const stampFormat = "2006-01-02T15:04:05.000000000Z"

// Hold stores the event under its membership and counts the hold.
func (m *Memory) Hold(_ context.Context, team string, k ledger.MemberKey, ev event.Event, _ time.Duration) error {
	if err := checkMember(team, k); err != nil {
		return err
	}
	if err := checkIDs("event_id", ev.ID); err != nil {
		return err
	}
	body, err := event.Encode(ev)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := memberID{team, k}
	if m.held[id] == nil {
		m.held[id] = map[string][]byte{}
	}
	m.held[id][ev.OccurredAt.UTC().Format(stampFormat)+"#"+ev.ID] = body
	m.holds[id]++
	if _, ok := m.since[id]; !ok {
		m.since[id] = m.now()
	}
	return nil
}

// HeldKeys returns the team's memberships with held activities, their
// hold counts (the mark to pass to Unhold) and first holds.
func (m *Memory) HeldKeys(_ context.Context, team string) (map[ledger.MemberKey]activitysync.HeldMark, error) {
	if err := checkIDs("team_id", team); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[ledger.MemberKey]activitysync.HeldMark{}
	for id, n := range m.holds {
		if id.team == team {
			out[id.key] = activitysync.HeldMark{N: n, Since: m.since[id]}
		}
	}
	return out, nil
}

// Held returns a membership's held events, oldest first: by their keys,
// whose times sort as they read.
func (m *Memory) Held(_ context.Context, team string, k ledger.MemberKey) ([]event.Event, error) {
	if err := checkMember(team, k); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	held := m.held[memberID{team, k}]
	var out []event.Event
	for _, sk := range slices.Sorted(maps.Keys(held)) {
		ev, err := event.Decode(held[sk])
		if err != nil {
			return nil, fmt.Errorf("decode held event %s: %w", sk, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// Unhold forgets the held events, then the membership's listing when its
// hold count is still mark (no hold since; mark < 0 keeps it).
func (m *Memory) Unhold(_ context.Context, team string, k ledger.MemberKey, eventIDs []string, mark int64) error {
	if err := checkMember(team, k); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := memberID{team, k}
	for sk := range m.held[id] {
		if i := strings.LastIndex(sk, "#"); slices.Contains(eventIDs, sk[i+1:]) {
			delete(m.held[id], sk)
		}
	}
	if n, ok := m.holds[id]; ok && mark >= 0 && n == mark {
		delete(m.holds, id)
		delete(m.since, id)
	}
	return nil
}

// TaskFields returns the cached Task fields of the team's org and when
// they were read (to the millisecond).
func (m *Memory) TaskFields(_ context.Context, team string) (activitysync.TaskFields, time.Time, bool, error) {
	if err := checkIDs("team_id", team); err != nil {
		return activitysync.TaskFields{}, time.Time{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.fields[team]
	if !ok {
		return activitysync.TaskFields{}, time.Time{}, false, nil
	}
	return c.fields, time.UnixMilli(c.at), true, nil
}

// SaveTaskFields caches the Task fields of the team's org.
func (m *Memory) SaveTaskFields(_ context.Context, team string, tf activitysync.TaskFields, at time.Time) error {
	if err := checkIDs("team_id", team); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fields[team] = cachedFields{fields: tf, at: at.UnixMilli()}
	return nil
}

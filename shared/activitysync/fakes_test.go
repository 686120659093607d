package activitysync

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// The fakes below are the engine's ports in memory, for the tests of the
// pipeline: small, of one team, and only as faithful as those tests need.

// memLedger is a contact ledger in memory: outcomes by event id,
// memberships, records by normalized email.
type memLedger struct {
	mu       sync.Mutex
	outcomes map[string]event.Outcome
	members  map[ledger.MemberKey]ledger.Membership
	records  map[string]ledger.Record
}

func newMemLedger() *memLedger {
	return &memLedger{outcomes: map[string]event.Outcome{}, members: map[ledger.MemberKey]ledger.Membership{},
		records: map[string]ledger.Record{}}
}

func (l *memLedger) Outcomes(_ context.Context, _ string, ids []string) (map[string]event.Outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]event.Outcome{}
	for _, id := range ids {
		if o, ok := l.outcomes[id]; ok {
			out[id] = o
		}
	}
	return out, nil
}

func (l *memLedger) RecordOutcomes(_ context.Context, outs []event.Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range outs {
		l.outcomes[o.EventID] = o
	}
	return nil
}

func (l *memLedger) RecordOutcomesKept(ctx context.Context, outs []event.Outcome) ([]event.Outcome, error) {
	return outs, l.RecordOutcomes(ctx, outs)
}

func (l *memLedger) Memberships(_ context.Context, _ string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[ledger.MemberKey]ledger.Membership{}
	for _, k := range keys {
		if m, ok := l.members[k]; ok {
			out[k] = m
		}
	}
	return out, nil
}

func (l *memLedger) Records(_ context.Context, _ string, emails []string) (map[string]ledger.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]ledger.Record{}
	for _, e := range emails {
		if r, ok := l.records[e]; ok {
			out[e] = r
		}
	}
	return out, nil
}

func (l *memLedger) FollowRecord(_ context.Context, teamID, email, _ string, to event.SalesforceRef) (ledger.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := ledger.Record{TeamID: teamID, Email: email, Object: to.Object, ID: to.ID, MatchRule: "followed_conversion"}
	l.records[email] = r
	return r, nil
}

// memActivities is activity sync's own state in memory: claims, logged
// Tasks, held activities and the TaskFields cache.
type memActivities struct {
	mu        sync.Mutex
	tasks     map[string]string // activity key: Task id
	claimedBy map[string]string // activity key: owner of a live claim
	firstBy   map[string]string // activity key: the event that first claimed it
	attempted map[string]bool   // activity key: a create may have reached Salesforce
	held      map[ledger.MemberKey][]event.Event
	tf        TaskFields
	tfAt      time.Time
	tfOK      bool
}

func newMemActivities() *memActivities {
	return &memActivities{tasks: map[string]string{}, claimedBy: map[string]string{}, firstBy: map[string]string{},
		attempted: map[string]bool{}, held: map[ledger.MemberKey][]event.Event{}}
}

func (a *memActivities) ClaimAll(_ context.Context, _ string, reqs []ClaimRequest, owner string, _ time.Time) ([]ClaimResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ClaimResult, len(reqs))
	for i, r := range reqs {
		if _, ok := a.firstBy[r.Key]; !ok {
			a.firstBy[r.Key] = r.EventID
		}
		switch by, claimed := a.claimedBy[r.Key]; {
		case a.tasks[r.Key] != "":
			out[i].Claim = Claim{TaskID: a.tasks[r.Key], EventID: a.firstBy[r.Key]}
		case claimed && by != owner:
			out[i].Err = fmt.Errorf("%w: %s", ErrClaimed, by)
		default:
			out[i].Claim = Claim{EventID: a.firstBy[r.Key], Attempted: a.attempted[r.Key] || claimed}
			a.claimedBy[r.Key] = owner
		}
	}
	return out, nil
}

func (a *memActivities) DoneAll(_ context.Context, _, _ string, tasks []LoggedTask) ([]error, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	errs := make([]error, len(tasks))
	for i, t := range tasks {
		if id := a.tasks[t.Key]; id != "" && id != t.TaskID {
			errs[i] = ErrOtherTask
			continue
		}
		a.tasks[t.Key] = t.TaskID
		delete(a.claimedBy, t.Key)
	}
	return errs, nil
}

func (a *memActivities) AbandonAll(_ context.Context, _, owner string, keys []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		if a.claimedBy[k] == owner {
			delete(a.claimedBy, k)
			a.attempted[k] = true
		}
	}
	return nil
}

func (a *memActivities) Unclaim(_ context.Context, _, key, owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.claimedBy[key] == owner {
		delete(a.claimedBy, key)
	}
	return nil
}

func (a *memActivities) Hold(_ context.Context, _ string, k ledger.MemberKey, ev event.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.ContainsFunc(a.held[k], func(h event.Event) bool { return h.ID == ev.ID }) {
		a.held[k] = append(a.held[k], ev)
	}
	return nil
}

func (a *memActivities) HeldKeys(context.Context, string) (map[ledger.MemberKey]int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[ledger.MemberKey]int64{}
	for k, evs := range a.held {
		out[k] = int64(len(evs))
	}
	return out, nil
}

func (a *memActivities) Held(_ context.Context, _ string, k ledger.MemberKey) ([]event.Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	evs := slices.Clone(a.held[k])
	slices.SortStableFunc(evs, func(x, y event.Event) int { return x.OccurredAt.Compare(y.OccurredAt) })
	return evs, nil
}

func (a *memActivities) Unhold(_ context.Context, _ string, k ledger.MemberKey, ids []string, _ int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.held[k] = slices.DeleteFunc(a.held[k], func(ev event.Event) bool { return slices.Contains(ids, ev.ID) })
	if len(a.held[k]) == 0 {
		delete(a.held, k)
	}
	return nil
}

func (a *memActivities) TaskFields(context.Context, string) (TaskFields, time.Time, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tf, a.tfAt, a.tfOK, nil
}

func (a *memActivities) SaveTaskFields(_ context.Context, _ string, tf TaskFields, at time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tf, a.tfAt, a.tfOK = tf, at, true
	return nil
}

// memOrg is an org that saves every Task it is sent.
type memOrg struct {
	mu    sync.Mutex
	tasks []salesforce.SObject
}

func (o *memOrg) Create(_ context.Context, recs []salesforce.SObject, _ salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]salesforce.SaveResult, len(recs))
	for i, r := range recs {
		o.tasks = append(o.tasks, r)
		out[i] = salesforce.SaveResult{Success: true, ID: fmt.Sprintf("00T%012d", len(o.tasks))}
	}
	return out, nil
}

// sent is the Tasks the org saved.
func (o *memOrg) sent() []salesforce.SObject {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.tasks)
}

func (o *memOrg) FindByEmail(context.Context, []string) (map[string]ledger.Match, error) {
	return map[string]ledger.Match{}, nil
}

func (o *memOrg) FindTasks(_ context.Context, _ string, keys, _ []string) (map[string]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]string{}
	for i, t := range o.tasks {
		if k := KeyFromDescription(t["Description"].(string)); slices.Contains(keys, k) {
			out[k] = fmt.Sprintf("00T%012d", i+1)
		}
	}
	return out, nil
}

func (o *memOrg) DescribeTask(context.Context) (TaskFields, error) {
	return TaskFields{TypeEmail: true, ClosedStatus: "Completed"}, nil
}

func (o *memOrg) Close(context.Context) error { return nil }

func (o *memOrg) Allow(budget.Priority) error { return nil }

// openOrg opens the same org for every team, connected at conn.
type openOrg struct {
	org  Org
	conn delivery.Connection
}

func (o openOrg) Open(context.Context, string) (Org, delivery.Connection, error) {
	return o.org, o.conn, nil
}

// Package activitysync is the domain of email activity sync (rule R7): it
// logs each email event of a synced contact as one completed Task on the
// contact's Salesforce record, exactly once per message and kind, never for
// activity older than the team's connection, holds the activity of a contact
// whose sync is pending until it syncs, and gives every event one final
// outcome.
//
// It reuses contact sync's ledger (memberships, records, outcomes) and org
// adapter, and knows nothing of SQS, DynamoDB or HTTP: the interfaces below
// are what it needs, and adapters implement them.
package activitysync

import (
	"context"
	"errors"
	"github.com/sfsync/sfsync/shared/attribution"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Ledger is the part of contact sync's ledger activity sync reads and
// writes: outcomes, memberships, the records emails resolved to.
type Ledger interface {
	Outcomes(ctx context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error)
	RecordOutcomes(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) error
	RecordOutcomesKept(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) ([]event.Outcome, error)
	Memberships(ctx context.Context, teamID string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error)
	Records(ctx context.Context, teamID string, emails []string) (map[string]ledger.Record, error)
	// FollowRecord moves an email's record from fromID to another record
	// (a Lead converted into a Contact since it synced).
	FollowRecord(ctx context.Context, teamID, email, fromID string, to event.SalesforceRef) (ledger.Record, error)
}

// Claim is what Activities.ClaimAll found for one activity.
type Claim struct {
	// TaskID is set when the activity is already logged: nothing to do.
	TaskID string
	// EventID is the event that first claimed the activity.
	EventID string
	// Attempted means an earlier claim was taken and not ended (by
	// another worker whose claim expired, or by this owner: an earlier run
	// of the batch, a claim not abandoned): its create may have reached
	// Salesforce, so the Task is looked for before creating it again.
	Attempted bool
}

// ClaimRequest names an activity to claim and the event claiming it.
type ClaimRequest struct {
	Key     string // the activity key (Key)
	EventID string
}

// ClaimResult is the answer to one ClaimRequest: the claim taken (or the
// Task already logged), or Err.
type ClaimResult struct {
	Claim
	// Err wraps ErrClaimed when another owner holds an unexpired claim
	// (retry later), or is why the request was refused (invalid input).
	Err error
}

// LoggedTask is the Task created for an activity key. An erasure finds
// the activity through its event's outcome, which the ledger keeps with
// the activity key (ledger.WithActivities).
type LoggedTask struct {
	Key    string
	TaskID string
}

// Errors of Activities.
var (
	// ErrClaimed means another worker holds the activity's claim: retry later.
	ErrClaimed = errors.New("activitysync: another worker is logging this activity")
	// ErrOtherTask means another Task is already recorded for the
	// activity: the one just created is a duplicate.
	ErrOtherTask = errors.New("activitysync: another task is recorded for this activity")
)

// Activities keeps activity sync's own state: a claim per activity key, the
// activities held until their contact syncs, and what the org's Task
// object offers.
//
// The batch methods answer per item, in input order, and return an error
// of their own only when the whole call failed. They are idempotent: a call
// repeated (or resent after a lost answer) gives the same answers, except
// that a claim repeated by its owner in a later call counts as Attempted.
type Activities interface {
	// ClaimAll takes the right to create the Task of each key until the
	// given time. A logged activity comes back as Claim.TaskID (no claim
	// taken); another owner's unexpired claim as an Err wrapping
	// ErrClaimed. Keys must be distinct.
	ClaimAll(ctx context.Context, teamID string, reqs []ClaimRequest, owner string, until time.Time) ([]ClaimResult, error)
	// DoneAll records the Task created for each key and ends the claims.
	// Recording the same Task again is a no-op; errs[i] wraps ErrOtherTask
	// when another Task is recorded for the key.
	DoneAll(ctx context.Context, teamID, owner string, tasks []LoggedTask) (errs []error, err error)
	// AbandonAll ends owner's claims of keys without a Task, remembering
	// that a create may have reached Salesforce. Keys not claimed by owner
	// are left as they are.
	AbandonAll(ctx context.Context, teamID, owner string, keys []string) error
	// Unclaim forgets owner's claim: nothing was created.
	Unclaim(ctx context.Context, teamID, key, owner string) error

	// Hold stores an activity until its membership reaches a final state,
	// or keep has passed (the team's retention: the expire step lets it go
	// then; the store forgets it a margin after, HeldMargin, should the
	// team send nothing more).
	Hold(ctx context.Context, teamID string, k ledger.MemberKey, ev event.Event, keep time.Duration) error
	// HeldKeys returns the team's memberships with held activities: the
	// mark to pass to Unhold, and since when the membership has held
	// activity.
	HeldKeys(ctx context.Context, teamID string) (map[ledger.MemberKey]HeldMark, error)
	// Held returns a membership's held activities in order of occurrence.
	Held(ctx context.Context, teamID string, k ledger.MemberKey) ([]event.Event, error)
	// Unhold forgets held activities; the membership leaves HeldKeys unless
	// more were held since mark.
	Unhold(ctx context.Context, teamID string, k ledger.MemberKey, eventIDs []string, mark int64) error

	// TaskFields returns the cached TaskFields of the team's org and when
	// they were read; ok false when none are cached.
	TaskFields(ctx context.Context, teamID string) (tf TaskFields, at time.Time, ok bool, err error)
	SaveTaskFields(ctx context.Context, teamID string, tf TaskFields, at time.Time) error
}

// HeldMargin is how long past its keep a held activity is stored: time for
// the team's next batch to answer it hold_expired before it is forgotten.
const HeldMargin = 30 * 24 * time.Hour

// HeldMark is a membership's entry in the list of held activity: the hold
// count (the mark Unhold takes), and when its first activity still held
// was held (the entry's first hold; a later hold keeps it).
type HeldMark struct {
	N     int64
	Since time.Time
}

// TaskFields is what the org's Task object offers beyond the standard
// fields every org has.
type TaskFields struct {
	TypeEmail bool   `json:"type_email"` // the Type picklist has "Email"
	KeyField  string `json:"key_field"`  // a custom text field for the activity key, "" if none
	// ClosedStatus is the API name of the Task Status that closes a Task
	// in the org, read from its TaskStatus values ("Completed" in a new org;
	// admins relabel and rename it). "" when the org offers none: then no
	// Task is sent and the activity fails with CodeNoClosedTaskStatus.
	ClosedStatus string `json:"closed_status"`
}

// Org is one team's Salesforce org as activity sync uses it.
type Org interface {
	// FindByEmail looks emails up among Contacts and Leads, as contact
	// sync does (a converted Lead resolves to its Contact).
	FindByEmail(ctx context.Context, emails []string) (map[string]ledger.Match, error)
	// Create creates Tasks (batched 200 per collection, allOrNone false);
	// the results are in the order of records.
	Create(ctx context.Context, records []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error)
	// Directory finds the reps' users (Tasks belong to the rep).
	attribution.Directory
	// Updater updates Leads and Contacts: a bounce written back to its
	// record (lifecycle).
	lifecycle.Updater
	// Close records what the org's calls cost; the engine closes each org
	// it opens.
	Close(ctx context.Context) error
	// Allow says whether work of priority p may spend calls now: nil, or
	// an error matching budget.ErrCapped or budget.ErrNearCap.
	Allow(p budget.Priority) error
	// DescribeTask reads what the Task object offers and its closed
	// statuses (one API call).
	DescribeTask(ctx context.Context) (TaskFields, error)
	// FindTasks finds Tasks this service created, by activity key: through
	// keyField when set, else among the Tasks of whoIDs whose subject starts
	// with SubjectPrefix, reading the key from the description. Keyed by
	// activity key.
	FindTasks(ctx context.Context, keyField string, keys, whoIDs []string) (map[string]string, error)
}

// Orgs opens a team's org; connection.ErrNotConnected and ErrNeedsReauth
// come through errors.Is.
type Orgs interface {
	Open(ctx context.Context, teamID string) (Org, delivery.Connection, error)
}

// Settings gives a team's settings as of a time.
type Settings interface {
	TeamSettingsAt(ctx context.Context, teamID string, at time.Time) (policy.TeamVersion, error)
}

// Releaser is the hook contact sync calls after a membership reaches a
// final state (synced, skipped or failed): it hands the activities held for
// that membership back to activity sync, which logs (or skips) them in
// order. Calling it when nothing is held is cheap and harmless; calling it
// twice is harmless too (events are idempotent by id).
type Releaser interface {
	Release(ctx context.Context, teamID string, k ledger.MemberKey) error
}

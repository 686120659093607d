// Package contactsync is the domain of contact sync (rules R4, R5, R6, R9):
// it pins the policy on a membership when a contact is added, finds each
// email in Salesforce before creating anything, creates the missing records
// in batches, and gives every event exactly one final outcome.
//
// It knows nothing of SQS, DynamoDB or HTTP: the interfaces below are what it
// needs, and adapters implement them.
package contactsync

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// NormalizeEmail is the key of a contact record: Salesforce matches emails
// case-insensitively, so the ledger does too.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// MembershipStatus is where a membership stands.
type MembershipStatus string

const (
	MemberSyncing MembershipStatus = "syncing" // on_add or replied: to be synced (again, after a transient failure)
	MemberPending MembershipStatus = "pending" // on_reply: waits for the first reply
	MemberSkipped MembershipStatus = "skipped" // never syncs (disabled / off), Reason says why
	MemberSynced  MembershipStatus = "synced"
	MemberFailed  MembershipStatus = "failed"
)

// Membership is a contact's membership of a sequence, with the policy pinned
// when it was added (R4).
type Membership struct {
	TeamID     string
	SequenceID string
	ContactID  string
	Email      string
	Contact    event.Contact // the contact as added, to sync on reply
	Policy     policy.Effective
	PinnedAt   time.Time // the contact.added event's occurred_at
	EventID    string    // the contact.added event
	Status     MembershipStatus
	Reason     event.Reason
	Salesforce *event.SalesforceRef
}

// Record is a contact synced for a team: the Salesforce record its email
// resolved to.
type Record struct {
	TeamID         string
	Email          string // normalized
	Object         event.SalesforceObject
	ID             string
	Status         event.Status // created | linked
	MatchRule      string       // how a link was found: contact, converted_lead, lead, duplicate_rule
	PolicyVersion  int          // team settings version used
	MappingVersion int          // field mapping version used (0: the shipped default)
	SyncedAt       time.Time
	EventID        string
	ContactID      string
}

// ErrClaimed means another worker holds the email's claim: retry later.
var ErrClaimed = errors.New("contactsync: another worker is syncing this email")

// Ledger is the sync ledger. Its writes take a batch at once: the engine
// works a delivery batch at a time, and one request per item would cost a
// DynamoDB request per contact and step. Each batch write returns a result
// per item, in the order of its input, and an error only when the whole
// call failed (nothing is known of the items then). Every write may be
// repeated after a lost answer with the same effect.
type Ledger interface {
	// Outcomes returns the outcomes already recorded for these events.
	Outcomes(ctx context.Context, teamID string, eventIDs []string) (map[string]event.Outcome, error)
	// RecordOutcomes stores final and pending outcomes, keyed by event id
	// (a pending outcome may later be replaced by a final one), and indexes
	// them by contact, and failures by error code.
	RecordOutcomes(ctx context.Context, outs []event.Outcome) error
	// RecordOutcomesKept records outs as RecordOutcomes does, and returns,
	// for each, the outcome kept for its event: outs[i] itself, or the one
	// recorded before that it may not replace.
	RecordOutcomesKept(ctx context.Context, outs []event.Outcome) (kept []event.Outcome, err error)

	// PinMemberships stores each membership unless it exists, and returns
	// the stored one (so a redelivered contact.added keeps the first pin;
	// of two pins of one membership in ms, the first is stored).
	PinMemberships(ctx context.Context, ms []Membership) ([]PinResult, error)
	// Memberships returns the memberships that exist among keys.
	Memberships(ctx context.Context, teamID string, keys []MemberKey) (map[MemberKey]Membership, error)
	// SetMemberships updates memberships' status, reason and record; the
	// pin is never rewritten. errs[i] is ms[i]'s own error (the membership
	// was never pinned, say).
	SetMemberships(ctx context.Context, ms []Membership) (errs []error, err error)

	// Records returns the synced records among emails (normalized), by email.
	Records(ctx context.Context, teamID string, emails []string) (map[string]Record, error)
	// ClaimAll takes the right to create a record for each email until the
	// given time. errs[i] wraps ErrClaimed when another owner holds an
	// unexpired claim on emails[i] or the email has a record; a claim the
	// owner already holds is taken again.
	ClaimAll(ctx context.Context, teamID string, emails []string, owner string, until time.Time) (errs []error, err error)
	// SaveRecords stores the records and releases their claims; a record
	// found in Salesforce is saved without a claim. errs[i] is rs[i]'s own
	// error: the email has another record, or another owner holds an
	// unexpired claim on it (ErrClaimed).
	SaveRecords(ctx context.Context, rs []Record) (errs []error, err error)
	// Release gives a claim up without a record.
	Release(ctx context.Context, teamID, email, owner string) error
}

// PinResult is what became of one membership PinMemberships was given:
// the stored membership, or the membership's own error. New is set when
// this call stored it (it was not pinned before; a repeat of a call whose
// answer was lost finds it pinned).
type PinResult struct {
	Membership Membership
	New        bool
	Err        error
}

// MemberKey names a membership.
type MemberKey struct{ SequenceID, ContactID string }

// Match is an email found in Salesforce.
type Match struct {
	Object event.SalesforceObject // Contact or Lead
	ID     string
	Rule   string // contact | converted_lead | lead
}

// Org is one team's Salesforce org, as contact sync uses it.
type Org interface {
	// FindByEmail looks emails up among Contacts and Leads (a converted Lead
	// resolves to its Contact; a Contact is preferred over a Lead), exactly
	// and case-insensitively, in as few API calls as the limits allow. The
	// map is keyed by normalized email; emails not found are absent.
	FindByEmail(ctx context.Context, emails []string) (map[string]Match, error)
	// Create creates records (any number; batched 200 per collection), with
	// allOrNone false; the results are in the order of records.
	Create(ctx context.Context, records []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error)
}

// Connection is what contact sync needs to know of a team's connection.
type Connection struct {
	Status      string // connected | needs_reauth | disconnected
	ConnectedAt time.Time
	// HeldAt is the last time the team's events were parked (or it
	// reconnected after needing to): see AwaitAdd.
	HeldAt time.Time
}

// Orgs opens a team's org. ErrNotConnected / ErrNeedsReauth come from the
// connection package through errors.Is.
type Orgs interface {
	Open(ctx context.Context, teamID string) (Org, Connection, error)
	// RecordHold notes that the team's events were parked at at.
	RecordHold(ctx context.Context, teamID string, at time.Time) error
}

// Awaiting is what to do with an event about a membership that is not
// pinned yet: its contact.added may still be on its way.
type Awaiting int

const (
	// AwaitRetry: the contact.added is likely in flight; try again soon.
	AwaitRetry Awaiting = iota
	// AwaitHold: the team's events were parked lately and come back in any
	// order; park this one too, until the contact.added had its turn.
	AwaitHold
	// AwaitNoMore: the contact.added had every chance; the contact was not added.
	AwaitNoMore
)

// AwaitAdd says how an event whose wait started at since (see
// Delivery.AwaitFrom) waits for its contact.added. It waits await from
// then; and when the team's events were parked lately (conn.HeldAt), await
// from when every parked event has come back (HeldAt + holdDelay): after an
// outage longer than await, an event must not be given up on just because
// it is old.
func AwaitAdd(now, since time.Time, conn Connection, holdDelay, await time.Duration) Awaiting {
	switch {
	case now.Before(since.Add(await)):
		return AwaitRetry
	case !conn.HeldAt.IsZero() && now.Before(conn.HeldAt.Add(holdDelay+await)):
		return AwaitHold
	default:
		return AwaitNoMore
	}
}

// Defaults of the engines' waits.
const (
	DefaultAwaitAdd  = 10 * time.Minute
	DefaultHoldDelay = 15 * time.Minute // SQS's longest delay
)

// Policies resolves the sync policy as of a time (R4).
type Policies interface {
	ResolveAt(ctx context.Context, teamID, sequenceID string, at time.Time) (policy.Effective, error)
	// TeamSettingsAt returns the team's settings as of at (the defaults
	// when none were saved by then).
	TeamSettingsAt(ctx context.Context, teamID string, at time.Time) (policy.TeamVersion, error)
}

// Renderer turns a contact into the fields of a new Lead or Contact, and
// says which mapping version it used.
type Renderer interface {
	Render(ctx context.Context, teamID string, object event.SalesforceObject, c event.Contact) (salesforce.SObject, int, error)
}

// Delivery is one event as the queue delivered it.
type Delivery struct {
	ID    string // the queue's message id
	Event event.Event
	// Retry: the error inbox sent the event again after an admin fixed the
	// cause; a failed outcome of it is re-run rather than repeated.
	Retry bool
	// FirstReceived is when the queue first delivered the message; zero
	// when unknown.
	FirstReceived time.Time
}

// AwaitFrom is when the event's wait for its contact.added starts: when it
// occurred, or when the queue first delivered it if that is later. Behind
// a backlog an event can reach us long after it occurred, and its
// contact.added, queued before it, is then still on its way too.
func (d Delivery) AwaitFrom() time.Time {
	if d.FirstReceived.After(d.Event.OccurredAt) {
		return d.FirstReceived
	}
	return d.Event.OccurredAt
}

// Releaser is told when a membership reaches a final state (synced or
// failed), so the activity held for it is logged or let go (R7).
type Releaser interface {
	Release(ctx context.Context, teamID string, key MemberKey) error
}

// BatchReleaser is a Releaser that takes a batch's memberships at once.
type BatchReleaser interface {
	Releaser
	ReleaseAll(ctx context.Context, teamID string, keys []MemberKey) error
}

// Counter counts the contacts created with each field mapping version, so a
// mapping change can say how many keep the old one (R8).
type Counter interface {
	CountSynced(ctx context.Context, teamID string, object event.SalesforceObject, version, n int) error
}

// Publisher sends outcomes to the results queue.
type Publisher interface {
	Publish(ctx context.Context, outs []event.Outcome) error
}

// Package ledger is the vocabulary of the sync ledger both engines read and
// write: a contact's membership of a sequence with the policy pinned on it
// (R4), the Salesforce record an email resolved to (R5), and the keys that
// name them. The engines define the ports they need over these types;
// ledgerdb stores them in DynamoDB and ledgertest in memory.
package ledger

import (
	"errors"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
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
	Rep        *event.User   // the rep who added the contact (data.user), nil when not named
	Policy     policy.Effective
	PinnedAt   time.Time // the contact.added event's occurred_at
	EventID    string    // the contact.added event
	// Retain is how long the membership is kept after it last changed
	// (the team's retention_days); 0 is DefaultRetention.
	Retain     time.Duration
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
	// Credit is what a record this service created was given, and why:
	// its owner and Account, the decisions' match, and the outcome's
	// reason (no_account, private_contact); nil for a linked record.
	Credit    *Credit
	SyncedAt  time.Time
	EventID   string
	ContactID string
	// Retain is how long the record's entry is kept after it was saved
	// (the team's retention_days); 0 is DefaultRetention. Past it the
	// email is new to the team: found in Salesforce again, never created
	// twice while deduplication is on.
	Retain time.Duration
}

// Credit is the attribution of a created record, kept with it so that
// every copy of its event answers alike.
type Credit struct {
	OwnerID   string       `json:"owner_id,omitempty"`
	AccountID string       `json:"account_id,omitempty"`
	Match     *event.Match `json:"match,omitempty"`
	Reason    event.Reason `json:"reason,omitempty"`
}

// ErrClaimed means another worker holds the email's claim: retry later.
var ErrClaimed = errors.New("ledger: another worker is syncing this email")

// PinResult is what became of one membership PinMemberships was given:
// the stored membership, or the membership's own error. New is set when
// this call stored it (it was not pinned before; a repeat of a call whose
// answer was lost finds it pinned).
type PinResult struct {
	Membership Membership
	New        bool
	Err        error
}

// DefaultRetention is how long memberships and records are kept after
// their last change when the team set no retention_days.
const DefaultRetention = 400 * 24 * time.Hour

// RetainOr is d, or DefaultRetention when d is not positive.
func RetainOr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return DefaultRetention
}

// MemberKey names a membership.
type MemberKey struct{ SequenceID, ContactID string }

// Match is an email found in Salesforce.
type Match struct {
	Object event.SalesforceObject // Contact or Lead
	ID     string
	Rule   string // contact | converted_lead | lead
}

// EventRef names an event and the contact it is about. The ledger keeps an
// event's outcome with its contact (an erasure finds everything the
// service keeps of a contact from there), so an outcome is read by both.
type EventRef struct{ EventID, ContactID string }

// RefsOf names the events of outs.
func RefsOf(outs []event.Outcome) []EventRef {
	refs := make([]EventRef, len(outs))
	for i, o := range outs {
		refs[i] = EventRef{EventID: o.EventID, ContactID: o.ContactID}
	}
	return refs
}

// Recording is what a RecordOutcomes call knows beyond the outcomes: how
// long the team keeps a contact's data, and the activity each logged Task
// was for.
type Recording struct {
	// Retain is how long a contact outcome is kept after it was written,
	// when longer than outcomes' own lifetime (90 days): the retention of
	// the memberships its part pinned or ended, which are found through
	// it (0: no membership, the outcomes' own lifetime).
	Retain time.Duration
	// Activities is the activity key (activitysync.Key) of each event id
	// whose Task is logged: the activity's claim is found through the
	// outcome.
	Activities map[string]string
	// Emails is the normalized email of the record each event id's
	// contact outcome is on: the record is found through the outcome,
	// which is kept as long as it.
	Emails map[string]string
}

// RecordOption sets a field of a RecordOutcomes call's Recording.
type RecordOption func(*Recording)

// Retaining is a Recording's Retain.
func Retaining(d time.Duration) RecordOption { return func(r *Recording) { r.Retain = d } }

// WithActivities is a Recording's Activities.
func WithActivities(keys map[string]string) RecordOption {
	return func(r *Recording) { r.Activities = keys }
}

// WithEmails is a Recording's Emails.
func WithEmails(emails map[string]string) RecordOption {
	return func(r *Recording) { r.Emails = emails }
}

// RecordingOf applies opts.
func RecordingOf(opts []RecordOption) Recording {
	var r Recording
	for _, o := range opts {
		o(&r)
	}
	return r
}

// RefOf names ev.
func RefOf(ev event.Event) EventRef { return EventRef{EventID: ev.ID, ContactID: ev.ContactID()} }

// Final reports a membership whose sync has ended: synced, skipped or
// failed (activity sync logs or skips its activity; it is no longer held).
func (m Membership) Final() bool { return m.Status != MemberPending && m.Status != MemberSyncing }

// SettledBy is m as its add's outcome leaves it. The contact sync records
// the end of the event that pinned a membership (its add, or the add again
// from the error inbox) as that event's outcome only, without writing the
// membership again: the outcome is the membership's state. So a membership
// stored syncing, or failed, whose add's outcome is created or linked is
// synced on the outcome's record; one stored syncing whose add's outcome
// is failed is failed. Any other m, or an outcome of another event, leaves
// m as it is: an end of another event (a reply) is written to the
// membership itself (SetMemberships).
func (m Membership) SettledBy(add event.Outcome) Membership {
	if add.EventID != m.EventID || add.Type != event.ContactOutcome || add.TeamID != m.TeamID || add.ContactID != m.ContactID {
		return m
	}
	switch {
	case (add.Status == event.StatusCreated || add.Status == event.StatusLinked) && add.Salesforce != nil &&
		(m.Status == MemberSyncing || m.Status == MemberFailed):
		m.Status, m.Reason = MemberSynced, ""
		m.Salesforce = &event.SalesforceRef{Object: add.Salesforce.Object, ID: add.Salesforce.ID}
	case add.Status == event.StatusFailed && !event.IsInvalidEvent(add) && m.Status == MemberSyncing:
		m.Status, m.Reason = MemberFailed, ""
	}
	return m
}

// Settles reports whether the end of ev is recorded as its outcome only:
// ev pinned m (SettledBy reads it back from there).
func (m Membership) Settles(ev event.Event) bool { return ev.ID == m.EventID }

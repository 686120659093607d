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
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Ledger is the sync ledger. Its writes take a batch at once: the engine
// works a delivery batch at a time, and one request per item would cost a
// DynamoDB request per contact and step. Each batch write returns a result
// per item, in the order of its input, and an error only when the whole
// call failed (nothing is known of the items then). Every write may be
// repeated after a lost answer with the same effect.
type Ledger interface {
	// Outcomes returns the outcomes already recorded for these events, by
	// event id.
	Outcomes(ctx context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error)
	// RecordOutcomes stores final and pending outcomes with their contacts,
	// keyed by event id (a pending outcome may later be replaced by a final
	// one), and failures by error code. A contact outcome is kept as long
	// as ledger.Retaining says (the memberships its part pinned or ended
	// are found through it), never less than outcomes' 90 days; one on a
	// record names the record's email (ledger.WithEmails).
	RecordOutcomes(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) error
	// RecordOutcomesKept records outs as RecordOutcomes does, and returns,
	// for each, the outcome kept for its event: outs[i] itself, or the one
	// recorded before that it may not replace.
	RecordOutcomesKept(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) (kept []event.Outcome, err error)

	// PinMemberships stores each membership unless it exists, and returns
	// the stored one (so a redelivered contact.added keeps the first pin;
	// of two pins of one membership in ms, the first is stored).
	PinMemberships(ctx context.Context, ms []ledger.Membership) ([]ledger.PinResult, error)
	// Memberships returns the memberships that exist among keys.
	Memberships(ctx context.Context, teamID string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error)
	// SetMemberships updates memberships' status, reason and record; the
	// pin is never rewritten. errs[i] is ms[i]'s own error (the membership
	// was never pinned, say).
	SetMemberships(ctx context.Context, ms []ledger.Membership) (errs []error, err error)

	// Records returns the synced records among emails (normalized), by email.
	Records(ctx context.Context, teamID string, emails []string) (map[string]ledger.Record, error)
	// ClaimAll takes the right to create a record for each email until the
	// given time. errs[i] wraps ErrClaimed when another owner holds an
	// unexpired claim on emails[i] or the email has a record; a claim the
	// owner already holds is taken again.
	ClaimAll(ctx context.Context, teamID string, emails []string, owner string, until time.Time) (errs []error, err error)
	// SaveRecords stores the records and ends their claims; a record
	// found in Salesforce is saved without a claim. errs[i] is rs[i]'s own
	// error: the email has another record, or another owner holds an
	// unexpired claim on it (ErrClaimed).
	SaveRecords(ctx context.Context, rs []ledger.Record) (errs []error, err error)
	// Unclaim gives a claim up without a record.
	Unclaim(ctx context.Context, teamID, email, owner string) error
	// FollowRecord moves an email's record from fromID to another record
	// (a Lead converted into a Contact since it synced).
	FollowRecord(ctx context.Context, teamID, email, fromID string, to event.SalesforceRef) (ledger.Record, error)
}

// Org is one team's Salesforce org, as contact sync uses it.
type Org interface {
	// FindByEmail looks emails up among Contacts and Leads (a converted Lead
	// resolves to its Contact; a Contact is preferred over a Lead), exactly
	// and case-insensitively, in as few API calls as the limits allow. The
	// map is keyed by normalized email; emails not found are absent.
	FindByEmail(ctx context.Context, emails []string) (map[string]ledger.Match, error)
	// Create creates records (any number; batched 200 per collection), with
	// allOrNone false; the results are in the order of records.
	Create(ctx context.Context, records []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error)
	// Directory finds the reps' users and the Accounts of new Contacts.
	attribution.Directory
	// Updater updates Leads and Contacts: an opt-out written to its
	// record (lifecycle).
	lifecycle.Updater
	// Close records what the org's calls cost (the API usage Salesforce
	// reported, the calls of the day); the engine closes each org it opens.
	Close(ctx context.Context) error
}

// Orgs opens a team's org. ErrNotConnected / ErrNeedsReauth come from the
// connection package through errors.Is.
type Orgs interface {
	Open(ctx context.Context, teamID string) (Org, delivery.Connection, error)
	// RecordHold notes that the team's events were parked at at.
	RecordHold(ctx context.Context, teamID string, at time.Time) error
}

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

// Releaser is told when a membership reaches a final state (synced,
// failed or skipped), so the activity held for it is logged or let go (R7).
type Releaser interface {
	Release(ctx context.Context, teamID string, key ledger.MemberKey) error
}

// BatchReleaser is a Releaser that takes a batch's memberships at once.
type BatchReleaser interface {
	Releaser
	ReleaseAll(ctx context.Context, teamID string, keys []ledger.MemberKey) error
}

// Counter counts the contacts created with each field mapping version, so a
// mapping change can say how many keep the old one (R8).
type Counter interface {
	CountSynced(ctx context.Context, teamID string, object event.SalesforceObject, version, n int) error
}

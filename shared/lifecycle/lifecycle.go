// Package lifecycle writes back to a contact's Salesforce record what the
// sequencer learns after the contact synced: that an email to it bounced
// (EmailBouncedReason and EmailBouncedDate, the newest bounce only) and
// that it opted out of email (HasOptedOutOfEmail, set and never cleared).
//
// Contact sync and activity sync call it; it knows nothing of DynamoDB or
// HTTP: Marks is what it keeps per email, and Updater the org's record
// updates (sObject Collections, up to 200 records a call).
package lifecycle

import (
	"context"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// The standard Lead and Contact fields this package writes.
const (
	FieldBouncedReason = "EmailBouncedReason"
	FieldBouncedDate   = "EmailBouncedDate"
	FieldOptedOut      = "HasOptedOutOfEmail"
)

// MaxBounceReason is EmailBouncedReason's length on Lead and Contact; a
// longer reason is cut to it.
const MaxBounceReason = 255

// Bounce is one bounce to write to the record its email synced to.
type Bounce struct {
	Email   string              // normalized
	Record  event.SalesforceRef // the Lead or Contact
	EventID string              // the email.bounced event
	At      time.Time           // when the email bounced (the event's occurred_at)
	Reason  string
	// Retain is how long its mark is kept after its last write (the
	// team's retention_days); 0 is the store's default.
	Retain time.Duration
}

// Newer reports whether bounce b is later than o: by time, then by event
// id, so that two bounces of the same instant still have one order
// everywhere (the stores' conditions follow it).
func Newer(b, o Bounce) bool {
	if !b.At.Equal(o.At) {
		return b.At.After(o.At)
	}
	return b.EventID > o.EventID
}

// BounceMark is an email's newest bounce claimed, and whether it is written
// to its record.
type BounceMark struct {
	Bounce
	Written bool
}

// OptOut is a contact's opt-out, kept until its record exists.
type OptOut struct {
	Email     string    // normalized
	ContactID string    // the sequencer's contact
	EventID   string    // the contact.unsubscribed event kept (the first)
	At        time.Time // when the contact opted out
	// Written are the Salesforce records the opt-out was written to.
	Written []string
	// Retain is how long it is kept after it was kept (the team's
	// retention_days); 0 is the store's default.
	Retain time.Duration
}

// WrittenTo reports whether the opt-out was written to record id.
func (o OptOut) WrittenTo(id string) bool {
	for _, w := range o.Written {
		if w == id {
			return true
		}
	}
	return false
}

// Marks keeps, per team and normalized email, the newest bounce and the
// opt-out. Calls answer per item in input order and fail as a whole only
// when the call failed. Repeating a call changes nothing more.
type Marks interface {
	// ClaimBounces makes each bounce its email's newest, unless the email's
	// mark is newer or is this bounce already (then it is kept as it is,
	// written or not). It returns each email's mark as it stands after the
	// call. Emails must be distinct.
	ClaimBounces(ctx context.Context, teamID string, bs []Bounce) ([]BounceMark, error)
	// WroteBounces marks each bounce written where the email's mark is
	// still that bounce, and returns the marks as they stand.
	WroteBounces(ctx context.Context, teamID string, bs []Bounce) ([]BounceMark, error)

	// KeepOptOuts keeps each opt-out unless its email has one (the first
	// is kept), and returns each email's opt-out as it stands.
	KeepOptOuts(ctx context.Context, teamID string, os []OptOut) ([]OptOut, error)
	// OptOuts returns the opt-outs kept for emails, by email.
	OptOuts(ctx context.Context, teamID string, emails []string) (map[string]OptOut, error)
	// WroteOptOuts notes that each email's opt-out was written to the
	// record id given (by email).
	WroteOptOuts(ctx context.Context, teamID string, written map[string]string) error
}

// Updater updates existing records: one SaveResult per record, in order;
// an error only when the whole call failed.
type Updater interface {
	UpdateRecords(ctx context.Context, records []salesforce.SObject) ([]salesforce.SaveResult, error)
}

// Refusal is Salesforce's refusal of one record's update, as an outcome
// error: the code, message and fields of its first error.
func Refusal(r salesforce.SaveResult) *event.OutcomeError {
	if len(r.Errors) == 0 {
		return &event.OutcomeError{Code: "UNKNOWN_ERROR", Message: "Salesforce reported a failure without an error"}
	}
	e := r.Errors[0]
	return &event.OutcomeError{Code: e.Code, Message: e.Message, Fields: e.Fields}
}

// Transient reports a refusal that may pass when the same update is sent
// again (a row locked by another save, a server busy).
func Transient(r salesforce.SaveResult) bool {
	for _, e := range r.Errors {
		if e.Code == salesforce.CodeUnableToLockRow || e.Code == salesforce.CodeServerUnavailable {
			return true
		}
	}
	return false
}

package event

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// OutcomeType names an outcome message.
type OutcomeType string

// The outcome types.
const (
	ContactOutcome  OutcomeType = "contact.outcome"  // what became of a contact event's contact
	ActivityOutcome OutcomeType = "activity.outcome" // what became of an email event
	DedupOutcome    OutcomeType = "contact.dedup"    // the deduplication check of a contact.created event
)

// Status is the result an outcome reports.
type Status string

// The outcome statuses.
const (
	StatusCreated            Status = "created"              // a Salesforce record (Lead, Contact or Task) was created
	StatusLinked             Status = "linked"               // the contact was linked to an existing Lead or Contact
	StatusUpdated            Status = "updated"              // the contact's existing Lead or Contact was updated (an opt-out written)
	StatusPending            Status = "pending"              // nothing final yet; Reason says what it waits for
	StatusSkipped            Status = "skipped"              // final: nothing was synced, on purpose; Reason says why
	StatusFailed             Status = "failed"               // final: Salesforce or the mapping refused; Error says how
	StatusExistsInSalesforce Status = "exists_in_salesforce" // dedup: a record with this email exists
	StatusNotInSalesforce    Status = "not_in_salesforce"    // dedup: no record has this email
)

// Statuses lists the statuses each outcome type may carry.
var Statuses = map[OutcomeType][]Status{
	ContactOutcome:  {StatusCreated, StatusLinked, StatusUpdated, StatusPending, StatusSkipped, StatusFailed},
	ActivityOutcome: {StatusCreated, StatusPending, StatusSkipped, StatusFailed},
	DedupOutcome:    {StatusExistsInSalesforce, StatusNotInSalesforce, StatusSkipped, StatusFailed},
}

// Reason is the machine word saying why an outcome is pending or skipped.
// Producers may add words; they match ^[a-z][a-z0-9_]*$.
type Reason string

// The reasons this service gives.
const (
	ReasonNotConnected         Reason = "not_connected"          // the team has no Salesforce connection (R1)
	ReasonNeedsReauth          Reason = "needs_reauth"           // the refresh token was revoked (R1)
	ReasonNeedsAdmin           Reason = "needs_admin"            // Salesforce refuses the connection until an admin acts (inactive user or org, the connected app refused)
	ReasonSyncOff              Reason = "sync_off"               // the effective sync mode was off when the contact was added (R4)
	ReasonSequenceSyncDisabled Reason = "sequence_sync_disabled" // the sequence's Disable Sync was on when the contact was added (R4)
	ReasonAwaitingReply        Reason = "awaiting_reply"         // on_reply: syncs on the contact's first reply (R4)
	ReasonNotAdded             Reason = "not_added"              // no contact.added seen for this membership
	ReasonDeduplicationOff     Reason = "deduplication_off"      // the team's deduplication is off (R6)
	ReasonActivityTrackingOff  Reason = "activity_tracking_off"  // activity tracking was off at the activity's time (R7)
	ReasonBeforeConnection     Reason = "before_connection"      // the activity predates the connection; no backfill (R7)
	ReasonContactPending       Reason = "contact_pending"        // held until the contact syncs (R7)
	ReasonContactWillNotSync   Reason = "contact_will_not_sync"  // the contact's membership never syncs (R7)
	ReasonContactFailed        Reason = "contact_failed"         // the contact's own sync failed (R7)
	ReasonDuplicateEvent       Reason = "duplicate_event"        // this event id was already processed
	ReasonAPILimit             Reason = "api_limit"              // paused: the org's daily API budget is spent
	ReasonAlreadySynced        Reason = "already_synced"         // the contact is already synced for the team (R5)
	ReasonHeldTooLong          Reason = "held_too_long"          // held (needs_reauth, needs_admin, API budget) longer than the team's held_event_max_days
	ReasonInvalidEvent         Reason = "invalid_event"          // failed: the message broke the contract; Error names the field (R9)
	ReasonNoAccount            Reason = "no_account"             // created a Lead: the contact would be a Contact, but no Account matched and the team's account_fallback is lead (R10)
	ReasonPrivateContact       Reason = "private_contact"        // created a Contact without an Account: none matched and the team's account_fallback is private (R10)
	ReasonNotSynced            Reason = "not_synced"             // skipped: the contact has no Salesforce record yet; the opt-out is kept and the record is created opted out if the contact syncs later
	ReasonOptOutWritebackOff   Reason = "optout_writeback_off"   // skipped: the team's optout_writeback setting is off
)

// createdReasons are the reasons that explain a created record rather than
// a wait or a skip: each only with status created and the object it names.
var createdReasons = map[Reason]SalesforceObject{
	ReasonNoAccount:      ObjectLead,
	ReasonPrivateContact: ObjectContact,
}

// SalesforceObject names the Salesforce objects an outcome can point to.
type SalesforceObject string

// The Salesforce objects this service writes or links to.
const (
	ObjectLead    SalesforceObject = "Lead"
	ObjectContact SalesforceObject = "Contact"
	ObjectTask    SalesforceObject = "Task"
)

// Outcome is one message on the results queue: the final (or pending) result
// of one inbound event, readable by the sequencer and through the API.
type Outcome struct {
	ID         string         `json:"id"`
	Type       OutcomeType    `json:"type"`
	Version    int            `json:"version"`
	TeamID     string         `json:"team_id"`
	EventID    string         `json:"event_id"`
	ContactID  string         `json:"contact_id,omitempty"` // absent only on an invalid_event answer whose contact id could not be read
	SequenceID string         `json:"sequence_id,omitempty"`
	Status     Status         `json:"status"`
	Reason     Reason         `json:"reason,omitempty"`
	Salesforce *SalesforceRef `json:"salesforce,omitempty"`
	Error      *OutcomeError  `json:"error,omitempty"`
	At         time.Time      `json:"at"`
}

// OutcomeType is the type of the outcomes an event gets: contact.dedup for
// contact.created, contact.outcome for the other contact events and
// activity.outcome for email events.
func (e Event) OutcomeType() OutcomeType {
	switch {
	case e.Type == ContactCreated:
		return DedupOutcome
	case e.Type.IsContact():
		return ContactOutcome
	}
	return ActivityOutcome
}

// NewOutcome starts the outcome of an event with the given id, status and
// time; the caller adds Reason, Salesforce or Error as the status requires and
// calls Validate before sending it.
func NewOutcome(e Event, id string, status Status, at time.Time) Outcome {
	return Outcome{
		ID: id, Type: e.OutcomeType(), Version: Version, TeamID: e.TeamID, EventID: e.ID,
		ContactID: e.ContactID(), SequenceID: e.SequenceID(), Status: status, At: at.UTC(),
	}
}

// SalesforceRef points at a Salesforce record and, where the service decided
// them, says who owns it and which Account it is under (R10).
type SalesforceRef struct {
	Object SalesforceObject `json:"object"`
	ID     string           `json:"id"` // 15- or 18-character record id
	// OwnerID is the OwnerId the service gave the record or Task; absent
	// when it was left to the org's lead assignment rules or not decided.
	OwnerID string `json:"owner_id,omitempty"`
	// AccountID is the Account a created Contact was put under; absent for
	// a private Contact, a Lead or a Task.
	AccountID string `json:"account_id,omitempty"`
	// Match explains the owner and Account decisions, when there were any.
	Match *Match `json:"match,omitempty"`
}

// Match says why a created record has its owner and Account. Owner is one
// of MatchOwners, Account one of MatchAccounts (each absent when not
// decided), Detail a sentence for people.
type Match struct {
	Owner   string `json:"owner,omitempty"`
	Account string `json:"account,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// MatchOwner is a word of Match.Owner. It is an alias of string so that the
// constants fit Match's fields as they are.
type MatchOwner = string

// The owner decisions.
const (
	OwnerRep             MatchOwner = "rep"              // the rep's active Salesforce user, matched by email
	OwnerFallback        MatchOwner = "fallback"         // the team's fallback user, or the connected user
	OwnerAssignmentRules MatchOwner = "assignment_rules" // left to the org's lead assignment rules
)

// MatchAccount is a word of Match.Account, an alias of string like
// MatchOwner.
type MatchAccount = string

// The Account decisions.
const (
	AccountDomain  MatchAccount = "domain"  // an Account whose website is the contact's email (or website) domain
	AccountName    MatchAccount = "name"    // an Account named as the contact's company
	AccountCreated MatchAccount = "created" // no Account matched; one was created
	AccountPrivate MatchAccount = "private" // no Account matched; the Contact was created without one
	AccountNone    MatchAccount = "none"    // no Account was looked for, or none matched and the contact became a Lead
)

// MatchOwners and MatchAccounts list the words of Match.
var (
	MatchOwners   = []MatchOwner{OwnerRep, OwnerFallback, OwnerAssignmentRules}
	MatchAccounts = []MatchAccount{AccountDomain, AccountName, AccountCreated, AccountPrivate, AccountNone}
)

// OutcomeError is Salesforce's (or the mapping's) answer to a failed sync.
type OutcomeError struct {
	Code    string   `json:"code"` // e.g. INVALID_EMAIL_ADDRESS, REQUIRED_FIELD_MISSING
	Message string   `json:"message"`
	Fields  []string `json:"fields,omitempty"`
}

// Limits of an outcome, as in events/schema/outcome.schema.json.
const (
	MaxErrorMessage = 4000
	MaxErrorFields  = 100
	MaxReasonWord   = 64
	MaxErrorCode    = 100
	MaxMatchDetail  = 1000 // salesforce.match.detail, in characters
)

var (
	reasonRE       = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	salesforceIDRE = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)
	errorCodeRE    = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	fieldNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]*$`)
)

// Validate checks an outcome before it is sent, by the rules of the outcome
// schema. The error is a *ValidationError wrapping ErrInvalid.
//
// Which members a status requires: created, linked, updated and
// exists_in_salesforce name the record (Salesforce), updated a Lead or a
// Contact; failed carries Error; pending and skipped carry Reason. contact_id is required but on an invalid_event answer,
// which names the contact only when the message let it be read. The reasons
// no_account and private_contact explain a created record: they go only
// with status created and a Lead or a Contact respectively.
func (o Outcome) Validate() error {
	for _, f := range []struct{ name, v string }{{"id", o.ID}, {"team_id", o.TeamID}, {"event_id", o.EventID}, {"contact_id", o.ContactID}} {
		if f.name == "contact_id" && f.v == "" && IsInvalidEvent(o) {
			continue
		}
		if p := checkID(f.v); p != "" {
			return invalid(f.name, "%s", p)
		}
	}
	if o.SequenceID != "" {
		if p := checkID(o.SequenceID); p != "" {
			return invalid("sequence_id", "%s", p)
		}
	}
	if o.Version != Version {
		return invalid("version", "must be %d, got %d", Version, o.Version)
	}
	allowed, ok := Statuses[o.Type]
	if !ok {
		return invalid("type", "unknown outcome type %q", o.Type)
	}
	if !slices.Contains(allowed, o.Status) {
		return invalid("status", "%q is not a status of %s", o.Status, o.Type)
	}
	if o.Reason != "" && (len(o.Reason) > MaxReasonWord || !reasonRE.MatchString(string(o.Reason))) {
		return invalid("reason", "must be a lower-case machine word of at most %d characters", MaxReasonWord)
	}
	if o.Salesforce != nil {
		if err := o.Salesforce.validate(); err != nil {
			return err
		}
	}
	if o.Error != nil {
		if err := o.Error.validate(); err != nil {
			return err
		}
	}
	if err := o.checkCreatedReason(); err != nil {
		return err
	}
	switch o.Status {
	case StatusCreated, StatusLinked, StatusUpdated, StatusExistsInSalesforce:
		if o.Salesforce == nil {
			return invalid("salesforce", "required when status is %s", o.Status)
		}
		if o.Status == StatusUpdated && o.Salesforce.Object != ObjectLead && o.Salesforce.Object != ObjectContact {
			return invalid("salesforce.object", "must be %s or %s with status %s, got %q", ObjectLead, ObjectContact, o.Status, o.Salesforce.Object)
		}
	case StatusFailed:
		if o.Error == nil {
			return invalid("error", "required when status is %s", o.Status)
		}
	case StatusPending, StatusSkipped:
		if o.Reason == "" {
			return invalid("reason", "required when status is %s", o.Status)
		}
	}
	if o.At.IsZero() {
		return invalid("at", "missing")
	}
	if y := o.At.UTC().Year(); y < 1970 || y > 9999 {
		return invalid("at", "outside the years 1970 to 9999")
	}
	return nil
}

// validate checks the record reference: its object and ids, and the words
// and length of its match.
func (r SalesforceRef) validate() error {
	switch r.Object {
	case ObjectLead, ObjectContact, ObjectTask:
	default:
		return invalid("salesforce.object", "must be Lead, Contact or Task, got %q", r.Object)
	}
	for _, f := range []struct{ name, v string }{{"id", r.ID}, {"owner_id", r.OwnerID}, {"account_id", r.AccountID}} {
		if (f.name == "id" || f.v != "") && !salesforceIDRE.MatchString(f.v) {
			return invalid("salesforce."+f.name, "not a 15- or 18-character Salesforce id")
		}
	}
	if r.Match != nil {
		return r.Match.validate()
	}
	return nil
}

// validate checks the match's words and the length of its detail.
func (m Match) validate() error {
	if m.Owner != "" && !slices.Contains(MatchOwners, m.Owner) {
		return invalid("salesforce.match.owner", "must be one of %s, got %q", strings.Join(MatchOwners, ", "), m.Owner)
	}
	if m.Account != "" && !slices.Contains(MatchAccounts, m.Account) {
		return invalid("salesforce.match.account", "must be one of %s, got %q", strings.Join(MatchAccounts, ", "), m.Account)
	}
	if p := checkLength(m.Detail, MaxMatchDetail); p != "" {
		return invalid("salesforce.match.detail", "%s", p)
	}
	return nil
}

// validate checks the error's code, message and field names.
func (e OutcomeError) validate() error {
	if len(e.Code) > MaxErrorCode || !errorCodeRE.MatchString(e.Code) {
		return invalid("error.code", "must be an upper-case code such as INVALID_EMAIL_ADDRESS")
	}
	if p := checkLength(e.Message, MaxErrorMessage); p != "" {
		return invalid("error.message", "%s", p)
	}
	if len(e.Fields) > MaxErrorFields {
		return invalid("error.fields", "%d fields exceeds the limit of %d", len(e.Fields), MaxErrorFields)
	}
	for i, f := range e.Fields {
		if len(f) > MaxNameLength || !fieldNameRE.MatchString(f) {
			return invalid(fmt.Sprintf("error.fields[%d]", i), "not a field name")
		}
	}
	return nil
}

// checkCreatedReason holds no_account and private_contact to status
// created and the object they explain.
func (o Outcome) checkCreatedReason() error {
	object, ok := createdReasons[o.Reason]
	switch {
	case !ok:
		return nil
	case o.Status != StatusCreated:
		return invalid("reason", "%s goes only with status %s", o.Reason, StatusCreated)
	case o.Salesforce != nil && o.Salesforce.Object != object:
		return invalid("salesforce.object", "must be %s with reason %s, got %q", object, o.Reason, o.Salesforce.Object)
	}
	return nil
}

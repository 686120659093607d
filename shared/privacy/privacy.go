// Package privacy erases what the service holds of one person in one team,
// on a team admin's request: the person is named by an email, a sequencer
// contact id, or both, and everything linked to them in the team's ledger
// is deleted, with, when asked, the Leads, Contacts and Tasks the service
// created for them in the team's Salesforce org. A Lead or Contact the
// service only linked to (the org had it before) is never deleted: it is
// counted as kept. A receipt of each
// erasure is kept, naming the person only by a hash.
//
// The package knows nothing of DynamoDB or HTTP: Store finds and deletes
// the person's items (privacydb on the ledger table, privacytest in
// memory), Orgs opens the team's org for the deletes, Receipts keeps the
// receipts.
//
// # Who the person is
//
// The contact ids and emails of the person are found to a fixed point:
// the ids given; each email's contact ids (the contact_id on its RECORD
// and OPTOUT items); each contact's emails (the email on its RECORD and
// MEMBER items, through the contact index). A person linked to more than
// MaxLinked contact ids or emails is refused (ErrTooManyLinked), nothing
// deleted: that many is a shared address, not one person.
//
// # Later events
//
// An erasure deletes what is held now. An event of the same person that
// arrives later (the sequencer keeps sending them until it forgets the
// person too) is processed as new: a contact.added pins a new membership,
// an email finds or creates its record again.
package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Mode says what an erasure does in the team's Salesforce org.
type Mode string

const (
	// Keep leaves the org as it is: only what the service holds is erased.
	Keep Mode = "keep"
	// Delete also deletes the person's Tasks and then their Lead or
	// Contact in the org.
	Delete Mode = "delete"
)

// Request is one erasure: a team, the person (an email, a contact id, or
// both) and what to do in Salesforce (empty: Keep).
type Request struct {
	TeamID     string
	Email      string
	ContactID  string
	Salesforce Mode
}

// Kind is the kind of an item the store holds of a person.
type Kind string

// The kinds of items. Those with a count in Counts are counted; the
// others (a contact's FAILURES set, a membership's entry in the team's
// held list) only index counted items, and are deleted with them.
const (
	KindMembership Kind = "membership" // MEMBER: a contact's membership of a sequence
	KindRecord     Kind = "record"     // RECORD: an email's record, or its claim
	KindOutcome    Kind = "outcome"    // OUTCOME: an event's outcome
	KindFailure    Kind = "failure"    // an entry of the team's failure index (the error inbox)
	KindFailureSet Kind = "failure_set"
	KindHeldList   Kind = "held_list"
	KindHeldEvent  Kind = "held_event" // an activity event held for a membership (the event as received)
	KindActivity   Kind = "activity"   // ACTIVITY: a logged activity, naming its Task
	KindOptOut     Kind = "optout"     // OPTOUT: an email's opt-out
	KindBounce     Kind = "bounce"     // BOUNCE: an email's newest bounce
	// KindOther is an item of the contact index of no kind above (a kind
	// added later): deleted, not counted.
	KindOther Kind = "other"
)

// Item is one item the store holds of a person. PK and SK are its key,
// opaque here; ContactID and Email are the person's other identifiers it
// names, which the erasure follows.
type Item struct {
	Kind   Kind
	PK, SK string
	// ContactID is the contact a RECORD or OPTOUT item names.
	ContactID string
	// Email is the email a RECORD or MEMBER item names (normalized).
	Email string
	// Salesforce is the org's record the item names: the Lead or Contact
	// of a saved RECORD, the Task of a logged ACTIVITY.
	Salesforce *SalesforceRecord
	// Linked marks a RECORD whose Lead or Contact the service only linked
	// to (it was in the org before): an erasure never deletes it there.
	Linked bool
}

// SalesforceRecord is a record of the team's org.
type SalesforceRecord struct {
	Object string `json:"object"` // Lead, Contact, Task
	ID     string `json:"id"`
}

// ObjectTask is the Salesforce object of a logged activity.
const ObjectTask = "Task"

// Store finds and deletes the items held of a person. Every call is
// scoped to one team: another team's items are never returned or
// touched.
type Store interface {
	// ContactItems returns the items held of a contact: every entry of
	// the contact index (memberships, saved records, outcomes, logged
	// activities), its FAILURES set and the failure-index entries it or
	// the contact's outcomes name, and the held activity of the contact's
	// memberships (held-list entries and held events). Only items that
	// exist are returned.
	ContactItems(ctx context.Context, teamID, contactID string) ([]Item, error)
	// EmailItems returns the items held of a normalized email: its RECORD
	// (a saved record or a claim only), BOUNCE and OPTOUT items.
	EmailItems(ctx context.Context, teamID, email string) ([]Item, error)
	// Delete deletes the items; deleting one that is gone already is no
	// error.
	Delete(ctx context.Context, teamID string, items []Item) error
}

// Orgs opens a team's org. A team that cannot reach its org (never
// connected, disconnected, its authorization refused) gets an error
// matching connection.ErrNotConnected or the connection's own refusal.
type Orgs interface {
	Open(ctx context.Context, teamID string) (Org, error)
}

// Org is a team's open org.
type Org interface {
	// Allow says whether work of priority p may spend API calls now: nil,
	// or an error matching budget.ErrCapped or budget.ErrNearCap.
	Allow(p budget.Priority) error
	// DeleteRecords deletes records by id, one result per id in order (a
	// refusal in its result); the error is the whole call's failure.
	DeleteRecords(ctx context.Context, ids []string) ([]salesforce.SaveResult, error)
	// Close records what the org's calls cost.
	Close(ctx context.Context) error
}

// Receipts keeps erasure receipts.
type Receipts interface {
	Save(ctx context.Context, r Receipt) error
	// Get returns the team's receipt id, or an error matching
	// ErrNoReceipt when the team has none by that id.
	Get(ctx context.Context, teamID, id string) (Receipt, error)
}

// Counts are the items an erasure deleted, by kind, and what it did in
// Salesforce.
type Counts struct {
	Memberships int `json:"memberships"`
	Records     int `json:"records"`
	Outcomes    int `json:"outcomes"`
	Failures    int `json:"failures"`
	HeldEvents  int `json:"held_events"`
	Activities  int `json:"activities"`
	OptOuts     int `json:"optouts"`
	Bounces     int `json:"bounces"`
	// SalesforceDeleted are the org's records this erasure deleted.
	SalesforceDeleted int `json:"salesforce_deleted"`
	// SalesforceAlreadyDeleted are those the org had deleted before
	// (ENTITY_IS_DELETED).
	SalesforceAlreadyDeleted int `json:"salesforce_already_deleted"`
	// SalesforceKept are the Leads and Contacts the service only linked
	// to, left in the org (the customer's own records).
	SalesforceKept int `json:"salesforce_kept"`
}

// Refusal is a record the org refused to delete, and why.
type Refusal struct {
	Object  string `json:"object"`
	ID      string `json:"id"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Subject is the person of an erasure as its receipt keeps them: the hex
// SHA-256 of the team and each identifier given (SubjectHash), never the
// identifier itself.
type Subject struct {
	EmailSHA256     string `json:"email_sha256,omitempty"`
	ContactIDSHA256 string `json:"contact_id_sha256,omitempty"`
}

// Receipt is the record of one erasure.
type Receipt struct {
	ID         string    `json:"id"`
	TeamID     string    `json:"-"`
	At         time.Time `json:"at"`
	Salesforce Mode      `json:"salesforce"`
	Subject    Subject   `json:"subject"`
	Counts     Counts    `json:"counts"`
	// Refused are the records the org refused to delete; the service's
	// own items of the person are erased all the same.
	Refused []Refusal `json:"salesforce_refused"`
}

// SubjectHash is the hex SHA-256 of "<team>\x00<identifier>": the form in
// which a receipt names its person. The identifier is a normalized email
// or a contact id. Whoever knows the team and the identifier can tell the
// receipt is theirs; the receipt alone does not say who it was.
func SubjectHash(teamID, identifier string) string {
	sum := sha256.Sum256([]byte(teamID + "\x00" + identifier))
	return hex.EncodeToString(sum[:])
}

// ReceiptIDPrefix begins every receipt id.
const ReceiptIDPrefix = "era_"

// receiptIDRE is the form of a receipt id: the prefix and 26 characters
// of lowercase base32 (128 random bits).
var receiptIDRE = regexp.MustCompile(`^era_[a-z2-7]{26}$`)

// ValidReceiptID reports whether id has the form of a receipt id.
func ValidReceiptID(id string) bool { return receiptIDRE.MatchString(id) }

var (
	// ErrInvalid is wrapped by every *InputError.
	ErrInvalid = errors.New("privacy: invalid request")
	// ErrNoReceipt: the team has no receipt by that id.
	ErrNoReceipt = errors.New("privacy: no such erasure receipt")
	// ErrTooManyLinked: the identifiers given link to more than
	// MaxLinked contact ids or emails; nothing was deleted.
	ErrTooManyLinked = errors.New("privacy: the identifiers link to too many contacts or emails")
)

// InputError names the input refused and why.
type InputError struct {
	Field   string
	Problem string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }
func (e *InputError) Unwrap() error { return ErrInvalid }

// contactIDRE is the event contract's id rule.
var contactIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// CheckContactID returns nil for an id the event contract accepts.
func CheckContactID(id string) error {
	switch {
	case id == "":
		return &InputError{"contact_id", "must not be empty"}
	case len(id) > event.MaxIDLength:
		return &InputError{"contact_id", fmt.Sprintf("must be at most %d characters", event.MaxIDLength)}
	case !contactIDRE.MatchString(id):
		return &InputError{"contact_id", "must start with a letter or digit and hold only letters, digits and . _ : -"}
	}
	return nil
}

// Purged is what one call of a team's purge deleted, by table
// (connections, policies, ledger), and whether nothing of the team is
// left to delete: Complete false means call again, the next call goes on
// where this one stopped.
type Purged struct {
	Deleted  map[string]int
	Complete bool
}

// Package ledgerdb keeps the contact-sync ledger in the ledger table: it
// implements contactsync.Ledger on DynamoDB, and serves the reads of the
// contact and integration-error routes.
//
// # Layout
//
// Every item has the string keys pk and sk. What the ledger keeps of a
// contact is found from the contact's partition (TEAM#<t>#CONTACT#<c>),
// which holds its outcomes: a contact outcome names the membership its
// event is about, a membership the email whose record it saved, an
// email event's outcome the activity it logged. Nothing is indexed: an
// entry of the contact index (resources.ContactIndex, keys cpk and csk)
// costs a write unit per item written. The index still holds what was
// written before December 2026, and the contact route reads it beside the
// partition until that expires. Ids never contain "#" (they are
// checked against the id rule of the event contract), so keys split
// unambiguously. Times in sort keys use a fixed-width UTC form
// (2006-01-02T15:04:05.000000000Z) so that byte order is time order.
//
// This package owns the keys of the whole ledger table (keys.go), also of
// the items activitydb and mappingdb write there; docs/tables.md lists every
// item of every table with its writer, condition and expiry. The items this
// package writes:
//
//	pk TEAM#<t>#CONTACT#<contact_id>  sk OUTCOME#<event_id>
//	    the outcome of one event (attribute outcome), when failed its
//	    failure-index sort key, for a logged Task its activity key
//	    (activity), for a contact outcome on a record the record's email
//	    (email). TTL 90 days; a contact outcome, at least the retention of
//	    the memberships its part pinned or ended (ledger.Retaining).
//	pk TEAM#<t>#EMAIL#<email>         sk RECORD
//	    the claim (claim_owner, claim_until in Unix milliseconds) and, once
//	    saved, the Salesforce record the normalized email resolved to; a
//	    saved record is never given another Salesforce id. TTL: a claim, a
//	    day after claim_until (ClaimExpiry); a record, its retention
//	    (retain_s, else ledger.DefaultRetention) after it was saved.
//	pk TEAM#<t>#SEQ#<seq>             sk MEMBER#<contact_id>
//	    a membership with its pinned policy and the contact as added (the
//	    policy store counts these). TTL: its retention (ledger.RetainOr)
//	    after its last pin or update.
//	pk TEAM#<t>#CONTACT#<contact_id>  sk FAILURES
//	    the contact's open failures: a string set of "<type>|<at>|<error sk>".
//	    TTL 90 days after its last change.
//	pk TEAM#<t>#ERRORS                sk <code>#<contact_id>#<event_id>
//	    the failure index: one item per failed outcome. TTL 90 days.
//
// Every item holding a contact's data carries expires_at (Unix seconds),
// the table's TTL attribute. Items written before December 2026 are in
// its old places too: an outcome under pk TEAM#<t>#EVENT#<event_id>, sk
// OUTCOME; those outcomes, and the records, memberships and logged
// activities of that time, in the contact index.
//
// # Outcomes
//
// RecordOutcomes reads the open failures of the contacts that succeeded
// (one query of the team's failure index; when it holds more than a page,
// their FAILURES items, one BatchGetItem per 100), then writes each item
// with its own conditional write (see below). An outcome item is replaced
// only while it is pending or failed, and only by an outcome at least as
// recent (a failed outcome stays replaceable so that a retried event can
// end well); created, linked, skipped and the dedup answers are final.
// Most events have no outcome yet, so an outcome that is not a failure is
// first written on the condition that its event has none, which costs no
// read; only the events that have one, and failures, are read (one
// BatchGetItem per 100) and replaced by the rule.
//
// A failed outcome is indexed under TEAM#<t>#ERRORS and noted in the
// contact's FAILURES set (an atomic ADD, so concurrent failures are never
// lost). A created or linked outcome of the same type (contact.outcome or
// activity.outcome) clears the contact's failures that are not later than
// it: the failure index (or the FAILURES sets) read with the batch names
// them, and the update of a contact's set, sent in the same transactions,
// happens only for contacts that had failures.
//
// The replacing writes have no conditions, so two workers replacing the
// outcome of the same event at the same instant may both write; the event
// id is the idempotency key of the whole pipeline and the queue delivers
// one message to one worker at a time, so this is accepted.
//
// # Claims and records
//
// ClaimAll, SaveRecords and Unclaim are conditional writes on the emails'
// RECORD items. ledger.Record names no claim owner, so SaveRecords
// saves under Store.Owner, the worker's name it also passes to ClaimAll;
// left empty, the owner is the record's EventID (a redelivered event then
// takes its own claim back at once).
//
// # Batches of conditional writes
//
// PinMemberships, SetMemberships, ClaimAll, SaveRecords and RecordOutcomes
// send their conditional writes through dynamotx. None needs two items
// written together, so each write goes on its own (PutItem, UpdateItem),
// several at once, the writes of one item in order: one write request unit
// per KB, half of what the same write costs in a TransactWriteItems, for
// one request per item. A write whose condition fails answers with the item
// it found (ALL_OLD), so it gets its own answer (the stored pin, the
// claim's holder, the record's id) without a read. Every condition accepts
// a repeat of its own write (the same pin, the owner's claim, the same
// record id), so a write the SDK sends again after a lost answer gives the
// same result. The one-item forms (PinMembership, SetMembership, Claim,
// SaveRecord) are batches of one.
package ledgerdb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// OutcomeTTL is how long outcomes, the failure index and the FAILURES
// sets are kept; a contact outcome is kept at least as long as the
// memberships it ended (ledger.Retaining).
const OutcomeTTL = 90 * 24 * time.Hour

// API is the part of the DynamoDB client the ledger uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the ledger on one table. Use New.
type Store struct {
	db    API
	table string
	// Now is the clock of claims and expiry; tests may replace it.
	Now func() time.Time
	// Backoff is the first wait before resending unprocessed batch items;
	// it doubles (with jitter) up to a second.
	Backoff time.Duration
	// MaxAttempts bounds the sends of one batch with unprocessed items.
	MaxAttempts int
	// Owner is the claim owner SaveRecord saves under: the owner the
	// caller passes to Claim (a worker's name). Empty: each record's
	// EventID is its owner.
	Owner string
	// FailurePage bounds the failure-index items RecordOutcomes reads in
	// its one query before it reads the contacts' FAILURES items instead;
	// zero: a page (1 MB).
	FailurePage int32
	// LegacyUntil, while in the future, has the outcomes written before
	// December 2026 (in their event's own partition: EventPK,
	// LegacyOutcomeSK) read where an event has none in its contact's
	// partition, so an event answered before a stack's update and
	// delivered again after it keeps its answer (legacy.go). Zero: none
	// are read.
	LegacyUntil time.Time
}

var _ contactsync.Ledger = (*Store)(nil)

// New returns the ledger on the named table.
func New(db API, table string) *Store {
	return &Store{db: db, table: table, Now: time.Now, Backoff: 50 * time.Millisecond, MaxAttempts: 8}
}

// ErrInvalid is wrapped by every *InputError.
var ErrInvalid = errors.New("ledger: invalid input")

// InputError names the input the ledger refused and why.
type InputError struct {
	Field   string
	Problem string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap lets errors.Is find ErrInvalid.
func (e *InputError) Unwrap() error { return ErrInvalid }

// ErrNoMembership is returned by SetMembership for a membership never pinned.
var ErrNoMembership = errors.New("ledger: no such membership")

// ErrRecorded means the email already has a saved record.
var ErrRecorded = errors.New("ledger: the email already has a record")

// RecordedError carries the record an email already has. From Claim it
// also wraps ledger.ErrClaimed (nobody may create a record for the
// email any more); from SaveRecord it means the record has another
// Salesforce id, and nothing was written.
type RecordedError struct {
	Record ledger.Record
	claim  bool
}

func (e *RecordedError) Error() string {
	return fmt.Sprintf("ledger: email already synced as %s %s", e.Record.Object, e.Record.ID)
}

// Unwrap lets errors.Is find ErrRecorded, and ErrClaimed for Claim.
func (e *RecordedError) Unwrap() []error {
	if e.claim {
		return []error{ErrRecorded, ledger.ErrClaimed}
	}
	return []error{ErrRecorded}
}

// ClaimError is the claim another owner holds; it wraps ErrClaimed.
type ClaimError struct {
	Owner string
	Until time.Time
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("ledger: claimed by %s until %s", e.Owner, e.Until.UTC().Format(time.RFC3339Nano))
}

// Unwrap lets errors.Is find ledger.ErrClaimed.
func (e *ClaimError) Unwrap() error { return ledger.ErrClaimed }

// ErrUnprocessed is returned when DynamoDB kept refusing part of a batch.
var ErrUnprocessed = errors.New("ledger: batch items left unprocessed")

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// MaxIDLength and MaxEmailLength bound the ids and emails in keys.
const (
	MaxIDLength    = 128
	MaxEmailLength = 320
)

func checkID(field, id string) error {
	switch {
	case id == "":
		return &InputError{field, "must not be empty"}
	case len(id) > MaxIDLength:
		return &InputError{field, fmt.Sprintf("longer than %d characters", MaxIDLength)}
	case !idRE.MatchString(id):
		return &InputError{field, "must start with a letter or digit and hold only letters, digits and . _ : -"}
	}
	return nil
}

// checkEmail returns the normalized email or an error naming field.
func checkEmail(field, email string) (string, error) {
	e := ledger.NormalizeEmail(email)
	switch {
	case e == "":
		return "", &InputError{field, "must not be empty"}
	case len(e) > MaxEmailLength:
		return "", &InputError{field, fmt.Sprintf("longer than %d bytes", MaxEmailLength)}
	case !utf8.ValidString(e):
		return "", &InputError{field, "is not valid UTF-8"}
	case strings.ContainsFunc(e, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", &InputError{field, "holds control characters"}
	}
	return e, nil
}

// itemKey is a comparable form of an item's key.
type itemKey struct{ pk, sk string }

func keyString(item map[string]types.AttributeValue) itemKey {
	return itemKey{dynamotx.String(item, resources.PartitionKey), dynamotx.String(item, resources.SortKey)}
}

func withJSONTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }
func fromJSONTags(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

func marshal(v any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(v, withJSONTags)
}

func unmarshal(m map[string]types.AttributeValue, v any) error {
	return attributevalue.UnmarshalMapWithOptions(m, v, fromJSONTags)
}

// raw passes an already encoded attribute value through expression.Value.
type raw struct{ av types.AttributeValue }

func (r raw) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) { return r.av, nil }

// encodeValue encodes v as one attribute value, by its JSON tags.
func encodeValue(v any) (raw, error) {
	av, err := attributevalue.MarshalWithOptions(v, withJSONTags)
	return raw{av}, err
}

// Package mappingdb stores the versioned field mappings in the policies
// table, counts the contacts synced with each version in the ledger table,
// and renders contacts for the contact-sync engine (contactsync.Renderer).
//
// Layout in the policies table (string keys "pk"/"sk"), one versioned
// document per team and object (versiondb: a HEAD plus one item per
// version, with object, saved_ns, saved_at, author and mapping):
//
//	pk TEAM#<team>  sk MAPPING#Lead#v0000000001 ...  one item per saved version
//	pk TEAM#<team>  sk MAPPING#Lead#HEAD             the current version
//
// and in the ledger table (Store.CountsTable; the sync functions may write
// that table, never the policies table), keyed by ledgerdb, which owns that
// table's keys:
//
//	pk TEAM#<team>  sk MAPPINGCOUNT#Lead             contacts synced, one number attribute per version (v0000000001 ...),
//	                                                 and the mark of the last count added
//
// A save writes the new version and the HEAD in one TransactWriteItems: the
// version only if it does not exist yet, the HEAD only if it still holds the
// version the writer read. Of two writers starting from the same version,
// exactly one succeeds; the other gets ErrVersionConflict and writes nothing.
// docs/tables.md lists every item of every table.
package mappingdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/platform/versiondb"
	"github.com/sfsync/sfsync/shared/policy"
)

// ErrVersionConflict is returned by a save whose expected version is no
// longer the current one (someone else saved first). Nothing was written.
var ErrVersionConflict = errors.New("mapping version conflict")

// AnyVersion as the expected version saves on top of whatever is current.
const AnyVersion = versiondb.AnyVersion

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes field mappings. Use New.
type Store struct {
	db    API
	table string
	// CountsTable holds the synced-contact counters when set (the ledger
	// table: the sync functions may write it, never the policies table).
	CountsTable string
	// Now stamps new versions; tests may replace it.
	Now func() time.Time
}

// New returns a store on the named policies table.
func New(db API, policiesTable string) *Store {
	return &Store{db: db, table: policiesTable, Now: time.Now}
}

// versions is the versioned store of the mappings.
func (s *Store) versions() versiondb.Store[mapping.Mapping] {
	return versiondb.Store[mapping.Mapping]{DB: s.db, Table: s.table, Layout: versiondb.Layout{Stamp: "saved", Body: "mapping"},
		Now: s.Now, Conflict: ErrVersionConflict}
}

// doc is where the team's mapping of the object lives.
func doc(team string, o event.SalesforceObject) versiondb.Doc {
	return versiondb.Doc{PK: "TEAM#" + team, Prefix: "MAPPING#" + string(o) + "#", Name: string(o) + " mapping of " + team,
		Attrs: map[string]string{"object": string(o)}}
}

func version(o event.SalesforceObject, v versiondb.Version[mapping.Mapping]) mapping.Version {
	return mapping.Version{Object: o, Number: v.Number, SavedAt: v.At, Author: v.Author, Mapping: v.Body}
}

func check(team string, o event.SalesforceObject) error {
	if err := policy.ValidateID("team_id", team); err != nil {
		return err
	}
	return mapping.CheckObject(o)
}

// Current returns the team's current mapping of the object: version 0 with
// the shipped default when none was saved.
func (s *Store) Current(ctx context.Context, team string, o event.SalesforceObject) (mapping.Version, error) {
	if err := check(team, o); err != nil {
		return mapping.Version{}, err
	}
	v, ok, err := s.versions().Current(ctx, doc(team, o))
	if err != nil {
		return mapping.Version{}, err
	}
	if !ok {
		return mapping.Version{Object: o, Mapping: mapping.Default(o)}, nil
	}
	return version(o, v), nil
}

// Save stores m as the version after expected (AnyVersion: after whatever is
// current, retried a few times if others save concurrently). The caller has
// validated m (structure and preflight).
func (s *Store) Save(ctx context.Context, team, author string, o event.SalesforceObject, m mapping.Mapping, expected int) (mapping.Version, error) {
	if err := check(team, o); err != nil {
		return mapping.Version{}, err
	}
	if err := m.Validate(); err != nil {
		return mapping.Version{}, err
	}
	v, err := s.versions().Save(ctx, doc(team, o), author, m.Clone(), expected)
	if err != nil {
		return mapping.Version{}, err
	}
	return version(o, v), nil
}

// Version returns one saved version (0: the shipped default).
func (s *Store) Version(ctx context.Context, team string, o event.SalesforceObject, n int) (mapping.Version, error) {
	if err := check(team, o); err != nil {
		return mapping.Version{}, err
	}
	if n == 0 {
		return mapping.Version{Object: o, Mapping: mapping.Default(o)}, nil
	}
	v, ok, err := s.versions().Get(ctx, doc(team, o), n)
	if err != nil {
		return mapping.Version{}, err
	}
	if !ok {
		return mapping.Version{}, fmt.Errorf("%s mapping version %d of %s: %w", o, n, team, ErrNoVersion)
	}
	return version(o, v), nil
}

func (s *Store) countsTable() string {
	if s.CountsTable != "" {
		return s.CountsTable
	}
	return s.table
}

// ErrNoVersion: the version asked for was never saved.
var ErrNoVersion = errors.New("no such mapping version")

// CountSynced adds n contacts synced (created) with mapping version of the
// object to the team's counter. The sync engine calls it once per batch and
// version, after the records are saved. The count feeds the answer to a
// mapping change (how many contacts keep an older version); a redelivered
// batch may count twice, so it is a figure for people, not a ledger. Each
// count carries a fresh mark, so one the SDK sends again after a lost answer
// is refused by its own mark rather than added twice.
func (s *Store) CountSynced(ctx context.Context, team string, o event.SalesforceObject, version, n int) error {
	if err := check(team, o); err != nil {
		return err
	}
	if version < 0 || n < 0 {
		return fmt.Errorf("count synced: version %d and n %d must not be negative", version, n)
	}
	if n == 0 {
		return nil
	}
	mark := rand.Text()
	upd := expression.Add(expression.Name(ledgerdb.MappingCountAttr(version)), expression.Value(n)).
		Set(expression.Name(markAttr), expression.Value(mark))
	cond := expression.AttributeNotExists(expression.Name(markAttr)).Or(expression.Name(markAttr).NotEqual(expression.Value(mark)))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build update: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.countsTable()), Key: dynamotx.Key(ledgerdb.TeamPK(team), ledgerdb.MappingCountSK(o)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		if m, ok := cf.Item[markAttr].(*types.AttributeValueMemberS); ok && m.Value == mark {
			return nil // counted by an attempt whose answer was lost
		}
	}
	if err != nil {
		return fmt.Errorf("count %d synced with %s mapping version %d: %w", n, o, version, err)
	}
	return nil
}

// markAttr holds the mark of the count last added to a counts item.
const markAttr = "mark"

// SyncedBefore returns how many contacts of the team were synced with a
// mapping version of the object older than version.
func (s *Store) SyncedBefore(ctx context.Context, team string, o event.SalesforceObject, version int) (int, error) {
	counts, err := s.SyncedByVersion(ctx, team, o)
	if err != nil {
		return 0, err
	}
	total := 0
	for v, n := range counts {
		if v < version {
			total += n
		}
	}
	return total, nil
}

// SyncedByVersion returns the team's synced-contact counts of the object by
// mapping version.
func (s *Store) SyncedByVersion(ctx context.Context, team string, o event.SalesforceObject) (map[int]int, error) {
	if err := check(team, o); err != nil {
		return nil, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.countsTable()), Key: dynamotx.Key(ledgerdb.TeamPK(team), ledgerdb.MappingCountSK(o)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read %s mapping counts of %s: %w", o, team, err)
	}
	counts := map[int]int{}
	for k, av := range out.Item {
		num, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		v, ok := ledgerdb.MappingCountVersion(k)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num.Value)
		if err != nil {
			return nil, fmt.Errorf("decode %s mapping count %s: %w", o, k, err)
		}
		counts[v] = n
	}
	return counts, nil
}

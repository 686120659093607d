// Package mappingdb stores the versioned field mappings in the policies
// table, counts the contacts synced with each version, and renders contacts
// for the contact-sync engine (contactsync.Renderer).
//
// Layout in the policies table (string keys "pk"/"sk"):
//
//	pk TEAM#<team>  sk MAPPING#Lead#v0000000001 ...  one item per saved version
//	pk TEAM#<team>  sk MAPPING#Lead#HEAD             the current version
//	pk TEAM#<team>  sk MAPPINGCOUNT#Lead             contacts synced, one number attribute per version (v0000000001 ...),
//	                                                 and the mark of the last count added
//
// A save writes the new version and the HEAD in one TransactWriteItems: the
// version only if it does not exist yet, the HEAD only if it still holds the
// version the writer read. Of two writers starting from the same version,
// exactly one succeeds; the other gets ErrVersionConflict and writes nothing.
package mappingdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
)

// ErrVersionConflict is returned by a save whose expected version is no
// longer the current one (someone else saved first). Nothing was written.
var ErrVersionConflict = errors.New("mapping version conflict")

// AnyVersion as the expected version saves on top of whatever is current.
const AnyVersion = -1

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
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

type item struct {
	PK      string          `json:"pk"`
	SK      string          `json:"sk"`
	Object  string          `json:"object"`
	Version int             `json:"version"`
	SavedNS int64           `json:"saved_ns"`
	SavedAt string          `json:"saved_at"`
	Author  string          `json:"author"`
	Mapping mapping.Mapping `json:"mapping"`
}

func (it item) version() mapping.Version {
	return mapping.Version{Object: event.SalesforceObject(it.Object), Number: it.Version,
		SavedAt: time.Unix(0, it.SavedNS).UTC(), Author: it.Author, Mapping: it.Mapping}
}

func teamKey(team string) string { return "TEAM#" + team }
func headKey(o event.SalesforceObject) string {
	return "MAPPING#" + string(o) + "#HEAD"
}
func versionKey(o event.SalesforceObject, n int) string {
	return fmt.Sprintf("MAPPING#%s#v%010d", o, n)
}
func countKey(o event.SalesforceObject) string { return "MAPPINGCOUNT#" + string(o) }
func countAttr(n int) string                   { return fmt.Sprintf("v%010d", n) }

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resources.PartitionKey: &types.AttributeValueMemberS{Value: pk},
		resources.SortKey:      &types.AttributeValueMemberS{Value: sk},
	}
}

func withJSONTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }
func fromJSONTags(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

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
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: keyOf(teamKey(team), headKey(o)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return mapping.Version{}, fmt.Errorf("read %s mapping of %s: %w", o, team, err)
	}
	if out.Item == nil {
		return mapping.Version{Object: o, Mapping: mapping.Default(o)}, nil
	}
	var it item
	if err := attributevalue.UnmarshalMapWithOptions(out.Item, &it, fromJSONTags); err != nil {
		return mapping.Version{}, fmt.Errorf("decode %s mapping of %s: %w", o, team, err)
	}
	return it.version(), nil
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
	m = m.Clone()
	attempts := 1
	if expected == AnyVersion {
		attempts = 3
	}
	var err error
	for range attempts {
		var v mapping.Version
		if v, err = s.saveOnce(ctx, team, author, o, m, expected); err == nil || !errors.Is(err, ErrVersionConflict) {
			return v, err
		}
	}
	return mapping.Version{}, err
}

func (s *Store) saveOnce(ctx context.Context, team, author string, o event.SalesforceObject, m mapping.Mapping, expected int) (mapping.Version, error) {
	head, err := s.Current(ctx, team, o)
	if err != nil {
		return mapping.Version{}, err
	}
	if expected == AnyVersion {
		expected = head.Number
	}
	if head.Number != expected {
		return mapping.Version{}, fmt.Errorf("save %s mapping: expected version %d, current is %d: %w", o, expected, head.Number, ErrVersionConflict)
	}
	at := s.Now().UTC()
	if head.Number > 0 && !at.After(head.SavedAt) {
		at = head.SavedAt.Add(time.Microsecond)
	}
	next := item{PK: teamKey(team), SK: versionKey(o, expected+1), Object: string(o), Version: expected + 1,
		SavedNS: at.UnixNano(), SavedAt: at.Format(time.RFC3339Nano), Author: author, Mapping: m}
	versionItem, err := attributevalue.MarshalMapWithOptions(next, withJSONTags)
	if err != nil {
		return mapping.Version{}, fmt.Errorf("encode %s mapping: %w", o, err)
	}
	next.SK = headKey(o)
	headItem, err := attributevalue.MarshalMapWithOptions(next, withJSONTags)
	if err != nil {
		return mapping.Version{}, fmt.Errorf("encode %s mapping: %w", o, err)
	}
	notThere, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(resources.PartitionKey))).Build()
	if err != nil {
		return mapping.Version{}, fmt.Errorf("build condition: %w", err)
	}
	headCond := expression.AttributeNotExists(expression.Name(resources.PartitionKey))
	if expected > 0 {
		headCond = expression.Name("version").Equal(expression.Value(expected))
	}
	headExpr, err := expression.NewBuilder().WithCondition(headCond).Build()
	if err != nil {
		return mapping.Version{}, fmt.Errorf("build condition: %w", err)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: versionItem,
			ConditionExpression: notThere.Condition(), ExpressionAttributeNames: notThere.Names()}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: headItem,
			ConditionExpression: headExpr.Condition(), ExpressionAttributeNames: headExpr.Names(), ExpressionAttributeValues: headExpr.Values()}},
	}})
	if err != nil {
		if conflict(err) {
			// A retried transaction whose first attempt succeeded finds its
			// own version: recognise it by its stamp and author.
			if cur, cerr := s.Current(ctx, team, o); cerr == nil && cur.Number == next.Version &&
				cur.SavedAt.UnixNano() == next.SavedNS && cur.Author == author && reflect.DeepEqual(cur.Mapping, m) {
				return cur, nil
			}
			return mapping.Version{}, fmt.Errorf("save %s mapping version %d: another save came first: %w", o, expected+1, ErrVersionConflict)
		}
		return mapping.Version{}, fmt.Errorf("save %s mapping version %d: %w", o, expected+1, err)
	}
	return next.version(), nil
}

func conflict(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if c := aws.ToString(r.Code); c == "ConditionalCheckFailed" || c == "TransactionConflict" {
				return true
			}
		}
		return false
	}
	var tc *types.TransactionConflictException
	return errors.As(err, &tc)
}

// Version returns one saved version (0: the shipped default).
func (s *Store) Version(ctx context.Context, team string, o event.SalesforceObject, n int) (mapping.Version, error) {
	if err := check(team, o); err != nil {
		return mapping.Version{}, err
	}
	if n == 0 {
		return mapping.Version{Object: o, Mapping: mapping.Default(o)}, nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: keyOf(teamKey(team), versionKey(o, n)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return mapping.Version{}, fmt.Errorf("read %s mapping version %d of %s: %w", o, n, team, err)
	}
	if out.Item == nil {
		return mapping.Version{}, fmt.Errorf("%s mapping version %d of %s: %w", o, n, team, ErrNoVersion)
	}
	var it item
	if err := attributevalue.UnmarshalMapWithOptions(out.Item, &it, fromJSONTags); err != nil {
		return mapping.Version{}, fmt.Errorf("decode %s mapping version %d: %w", o, n, err)
	}
	return it.version(), nil
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
	upd := expression.Add(expression.Name(countAttr(version)), expression.Value(n)).
		Set(expression.Name(markAttr), expression.Value(mark))
	cond := expression.AttributeNotExists(expression.Name(markAttr)).Or(expression.Name(markAttr).NotEqual(expression.Value(mark)))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build update: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.countsTable()), Key: keyOf(teamKey(team), countKey(o)),
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
		TableName: aws.String(s.countsTable()), Key: keyOf(teamKey(team), countKey(o)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read %s mapping counts of %s: %w", o, team, err)
	}
	counts := map[int]int{}
	for k, av := range out.Item {
		num, ok := av.(*types.AttributeValueMemberN)
		if !ok || !strings.HasPrefix(k, "v") {
			continue
		}
		v, err := strconv.Atoi(k[1:])
		if err != nil {
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

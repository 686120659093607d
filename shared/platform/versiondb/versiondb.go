// Package versiondb keeps versioned documents in a DynamoDB table: each
// document is one HEAD item holding its current version, plus one item per
// saved version, never rewritten nor deleted, so the history is the audit
// trail and a past instant can be judged by the version that held then.
//
// Layout (string keys "pk"/"sk"), for a document at pk P whose sort keys
// begin with the prefix X:
//
//	pk P  sk Xv0000000001 ...  one item per saved version
//	pk P  sk XHEAD             the current version, for reads and concurrency
//
// Every item holds version (its number), <stamp>_ns (Unix nanoseconds) and
// <stamp>_at (the same instant, RFC 3339) of its save, author, the document
// under <body>, and the document's own attributes (Doc.Attrs); the Layout
// names stamp and body.
//
// A save writes the new version and the HEAD in one TransactWriteItems: the
// version only if it does not exist yet, the HEAD only if it still holds the
// version the writer read (or, for the first, does not exist). Of two
// writers starting from the same version, exactly one succeeds; the other
// gets the store's conflict error and writes nothing. Save times increase
// strictly with the version number (a new version is stamped no earlier
// than a microsecond after the previous one, whatever the clock says), so
// version order and time order agree.
package versiondb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// ErrConflict is the conflict error of a Store that names none: the
// expected version is no longer the current one. Nothing was written.
var ErrConflict = errors.New("version conflict")

// AnyVersion as the expected version saves on top of whatever is current,
// retried a few times if others save concurrently.
const AnyVersion = -1

// anyVersionAttempts is how often a save on top of whatever is current is
// tried while others save first.
const anyVersionAttempts = 3

// asOfPage is how many versions one query of AsOf reads.
const asOfPage = 20

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Layout names the attributes of a store's items that differ between
// stores: the save time's prefix and the document's attribute.
type Layout struct {
	Stamp string // the save time is <Stamp>_ns and <Stamp>_at
	Body  string // the attribute holding the document
}

// Doc says where one versioned document lives.
type Doc struct {
	PK     string
	Prefix string // begins the sort key of each of its items
	// Name names the document in errors; empty: PK.
	Name string
	// Attrs are string attributes every item of the document holds besides
	// the version's own (the object a mapping is for, say).
	Attrs map[string]string
}

// HeadKey is the sort key of the document's current version.
func (d Doc) HeadKey() string { return d.Prefix + "HEAD" }

// VersionKey is the sort key of the document's version n.
func (d Doc) VersionKey(n int) string { return fmt.Sprintf("%sv%010d", d.Prefix, n) }

func (d Doc) name() string {
	if d.Name != "" {
		return d.Name
	}
	return d.PK
}

// Version is one saved version of a document.
type Version[T any] struct {
	Number int
	At     time.Time // when it was saved, in UTC
	Author string
	Body   T
}

// Store keeps the versioned documents of type T in one table.
type Store[T any] struct {
	DB     API
	Table  string
	Layout Layout
	// Now stamps new versions; nil: time.Now.
	Now func() time.Time
	// Conflict is the error a save that lost wraps; nil: ErrConflict.
	Conflict error
}

func (s Store[T]) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s Store[T]) conflictErr() error {
	if s.Conflict == nil {
		return ErrConflict
	}
	return s.Conflict
}

func withJSONTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }
func fromJSONTags(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

// encode is the item of version v of d under the sort key sk.
func (s Store[T]) encode(d Doc, sk string, v Version[T]) (map[string]types.AttributeValue, error) {
	item := dynamotx.Key(d.PK, sk)
	for name, value := range map[string]any{
		"version": v.Number, s.Layout.Stamp + "_ns": v.At.UnixNano(), s.Layout.Stamp + "_at": v.At.Format(time.RFC3339Nano),
		"author": v.Author, s.Layout.Body: v.Body,
	} {
		av, err := attributevalue.MarshalWithOptions(value, withJSONTags)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %s: %w", d.name(), sk, name, err)
		}
		item[name] = av
	}
	for name, value := range d.Attrs {
		item[name] = &types.AttributeValueMemberS{Value: value}
	}
	return item, nil
}

// decode reads a version from its item.
func (s Store[T]) decode(d Doc, item map[string]types.AttributeValue) (Version[T], error) {
	v := Version[T]{Number: int(dynamotx.Int(item, "version")), At: time.Unix(0, dynamotx.Int(item, s.Layout.Stamp+"_ns")).UTC(),
		Author: dynamotx.String(item, "author")}
	if body, ok := item[s.Layout.Body]; ok {
		if err := attributevalue.UnmarshalWithOptions(body, &v.Body, fromJSONTags); err != nil {
			return Version[T]{}, fmt.Errorf("decode %s %s: %w", d.name(), dynamotx.String(item, resources.SortKey), err)
		}
	}
	return v, nil
}

// Current reads the document's current version; ok is false when it was
// never saved.
func (s Store[T]) Current(ctx context.Context, d Doc) (v Version[T], ok bool, err error) {
	return s.get(ctx, d, d.HeadKey())
}

// Get reads the document's version n; ok is false when it was never saved.
func (s Store[T]) Get(ctx context.Context, d Doc, n int) (v Version[T], ok bool, err error) {
	return s.get(ctx, d, d.VersionKey(n))
}

func (s Store[T]) get(ctx context.Context, d Doc, sk string) (Version[T], bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: dynamotx.Key(d.PK, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Version[T]{}, false, fmt.Errorf("read %s %s: %w", d.name(), sk, err)
	}
	if out.Item == nil {
		return Version[T]{}, false, nil
	}
	v, err := s.decode(d, out.Item)
	return v, err == nil, err
}

// Save stores body as the document's version after expected (AnyVersion:
// after whatever is current, tried again a few times if others save
// concurrently), stamped with the store's clock and author. The caller has
// validated body; Save keeps it as given, so the caller passes a copy it
// will not change.
func (s Store[T]) Save(ctx context.Context, d Doc, author string, body T, expected int) (Version[T], error) {
	attempts := 1
	if expected == AnyVersion {
		attempts = anyVersionAttempts
	}
	var err error
	for range attempts {
		var v Version[T]
		if v, err = s.saveOnce(ctx, d, author, body, expected); err == nil || !errors.Is(err, s.conflictErr()) {
			return v, err
		}
	}
	return Version[T]{}, err
}

func (s Store[T]) saveOnce(ctx context.Context, d Doc, author string, body T, expected int) (Version[T], error) {
	head, _, err := s.Current(ctx, d)
	if err != nil {
		return Version[T]{}, err
	}
	if expected == AnyVersion {
		expected = head.Number
	}
	if head.Number != expected {
		return Version[T]{}, fmt.Errorf("save %s: expected version %d, current is %d: %w", d.name(), expected, head.Number, s.conflictErr())
	}
	at := s.now().UTC()
	if head.Number > 0 && !at.After(head.At) {
		at = head.At.Add(time.Microsecond)
	}
	next := Version[T]{Number: expected + 1, At: time.Unix(0, at.UnixNano()).UTC(), Author: author, Body: body}
	items, err := s.saveItems(d, next)
	if err != nil {
		return Version[T]{}, err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	switch {
	case err == nil:
		return next, nil
	case !conflict(err):
		return Version[T]{}, fmt.Errorf("save %s version %d: %w", d.name(), next.Number, err)
	}
	// The SDK sends a transaction again when its answer was lost; DynamoDB
	// makes that idempotent through ClientRequestToken, but an emulator may
	// not, and then this save's own first attempt is the "other" writer.
	// Recognise it by the version's stamp, author and body.
	if cur, ok, cerr := s.Current(ctx, d); cerr == nil && ok && cur.Number == next.Number &&
		cur.At.Equal(next.At) && cur.Author == author && reflect.DeepEqual(cur.Body, body) {
		return cur, nil
	}
	return Version[T]{}, fmt.Errorf("save %s version %d: another save came first: %w", d.name(), next.Number, s.conflictErr())
}

// saveItems are the two conditional puts of a save: the version, only if
// it does not exist yet, and the HEAD, only if it still holds the version
// before (none, for the first).
func (s Store[T]) saveItems(d Doc, next Version[T]) ([]types.TransactWriteItem, error) {
	versionItem, err := s.encode(d, d.VersionKey(next.Number), next)
	if err != nil {
		return nil, err
	}
	headItem, err := s.encode(d, d.HeadKey(), next)
	if err != nil {
		return nil, err
	}
	notThere, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(resources.PartitionKey))).Build()
	if err != nil {
		return nil, fmt.Errorf("build condition: %w", err)
	}
	headCond := expression.AttributeNotExists(expression.Name(resources.PartitionKey))
	if next.Number > 1 {
		headCond = expression.Name("version").Equal(expression.Value(next.Number - 1))
	}
	headExpr, err := expression.NewBuilder().WithCondition(headCond).Build()
	if err != nil {
		return nil, fmt.Errorf("build condition: %w", err)
	}
	return []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.Table), Item: versionItem,
			ConditionExpression: notThere.Condition(), ExpressionAttributeNames: notThere.Names(),
		}},
		{Put: &types.Put{
			TableName: aws.String(s.Table), Item: headItem,
			ConditionExpression: headExpr.Condition(), ExpressionAttributeNames: headExpr.Names(), ExpressionAttributeValues: headExpr.Values(),
		}},
	}, nil
}

// conflict reports whether a transaction was cancelled because a condition
// failed or a concurrent transaction held an item: either way another writer
// won.
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

// History reads up to limit versions (at least 1), newest first, older than
// version before (0: from the newest). next is the before of the following
// page, 0 when there is none.
func (s Store[T]) History(ctx context.Context, d Doc, limit, before int) (versions []Version[T], next int, err error) {
	if before == 1 {
		return nil, 0, nil
	}
	sk := expression.KeyBeginsWith(expression.Key(resources.SortKey), d.Prefix+"v")
	if before > 1 {
		sk = expression.KeyBetween(expression.Key(resources.SortKey), expression.Value(d.VersionKey(1)), expression.Value(d.VersionKey(before-1)))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(resources.PartitionKey).Equal(expression.Value(d.PK)).And(sk)).Build()
	if err != nil {
		return nil, 0, fmt.Errorf("build key condition: %w", err)
	}
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(limit)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("query history of %s: %w", d.name(), err)
	}
	versions = make([]Version[T], len(out.Items))
	for i, item := range out.Items {
		if versions[i], err = s.decode(d, item); err != nil {
			return nil, 0, err
		}
	}
	if len(versions) == limit && versions[len(versions)-1].Number > 1 {
		next = versions[len(versions)-1].Number
	}
	return versions, next, nil
}

// AsOf reads the newest version saved at or before at; ok is false when
// none was. Usually the newest version qualifies and one page answers;
// older instants page back through the history.
func (s Store[T]) AsOf(ctx context.Context, d Doc, at time.Time) (v Version[T], ok bool, err error) {
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key(resources.PartitionKey).Equal(expression.Value(d.PK)).
			And(expression.KeyBeginsWith(expression.Key(resources.SortKey), d.Prefix+"v"))).
		WithFilter(expression.Name(s.Layout.Stamp + "_ns").LessThanEqual(expression.Value(at.UnixNano()))).
		Build()
	if err != nil {
		return Version[T]{}, false, fmt.Errorf("build query: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table), KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(asOfPage), ConsistentRead: aws.Bool(true),
	}
	for {
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return Version[T]{}, false, fmt.Errorf("query %s as of %s: %w", d.name(), at.Format(time.RFC3339Nano), err)
		}
		if len(out.Items) > 0 {
			v, err := s.decode(d, out.Items[0])
			return v, err == nil, err
		}
		if len(out.LastEvaluatedKey) == 0 {
			return Version[T]{}, false, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

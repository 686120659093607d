// Package attributiondb keeps what attribution learned of each team's reps
// (attribution.UserStore) in the ledger table, one item per rep (the sync
// functions that learn reps may write only the ledger and connections
// tables):
//
//	pk TEAM#<team>  sk REP#<normalized email>  user_id, found, active, learned_ns, expires_at
//
// found says whether a Salesforce user has the email; user_id (absent when
// none does) and active are that user. learned_ns is when it was learned
// (Unix nanoseconds): attribution.Users uses an entry for its TTL
// (attribution.DefaultUserTTL) after that. expires_at, the table's TTL
// attribute, is Retention after it, so DynamoDB drops entries nobody
// learned again.
//
// Reads are BatchGetItem calls of up to 100 keys, eventually consistent (a
// stale answer only makes the org be asked again); writes BatchWriteItem
// calls of up to 25 puts, without condition: the last write of an email
// wins. Keys and items left unprocessed are sent again after a short
// backoff, a bounded number of times.
package attributiondb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
)

// DynamoDB's limits on one call: the keys of a BatchGetItem, the writes
// of a BatchWriteItem.
const (
	MaxBatchGet   = 100
	MaxBatchWrite = 25
)

// Retention is how long after it was learned an entry is kept (its
// expires_at).
const Retention = 7 * 24 * time.Hour

// DefaultMaxAttempts bounds the sends of one batch while DynamoDB leaves
// part of it unprocessed.
const DefaultMaxAttempts = 5

// ErrUnprocessed is returned when DynamoDB still leaves keys or items
// unprocessed after MaxAttempts sends.
var ErrUnprocessed = errors.New("attributiondb: left unprocessed")

// Attribute names of a rep's item.
const (
	attrUserID  = "user_id"
	attrFound   = "found"
	attrActive  = "active"
	attrLearned = "learned_ns"
	repPrefix   = "REP#"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Store implements attribution.UserStore on the policies table.
type Store struct {
	DB    API
	Table string
	// Backoff is the first wait before sending unprocessed keys or items
	// again; it doubles (with jitter) up to a second. Zero:
	// dynamotx.DefaultBackoff.
	Backoff time.Duration
	// MaxAttempts bounds the sends of one batch. Zero: DefaultMaxAttempts.
	MaxAttempts int
}

var _ attribution.UserStore = (*Store)(nil)

// Key is the key of a rep's item: the team's partition, the rep's
// normalized email.
func Key(team, email string) map[string]types.AttributeValue {
	return dynamotx.Key("TEAM#"+team, repPrefix+email)
}

func (s *Store) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return DefaultMaxAttempts
}

// KnownUsers implements attribution.UserStore: one BatchGetItem per 100
// distinct emails. An item without learned_ns is as if none were kept.
func (s *Store) KnownUsers(ctx context.Context, team string, emails []string) (map[string]attribution.Known, error) {
	if err := policy.ValidateID("team_id", team); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(emails))
	keys := make([]map[string]types.AttributeValue, 0, len(emails))
	for i, e := range emails {
		if err := attribution.CheckRepEmail(fmt.Sprintf("emails[%d]", i), e); err != nil {
			return nil, err
		}
		if !seen[e] { // BatchGetItem refuses a key asked twice
			seen[e] = true
			keys = append(keys, Key(team, e))
		}
	}
	out := make(map[string]attribution.Known, len(keys))
	for chunk := range slices.Chunk(keys, MaxBatchGet) {
		items, err := s.batchGet(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("read known reps of %s: %w", team, err)
		}
		for _, it := range items {
			email, ok := strings.CutPrefix(dynamotx.String(it, resources.SortKey), repPrefix)
			if _, has := it[attrLearned]; !ok || !has || !seen[email] {
				continue
			}
			out[email] = attribution.Known{
				User:  attribution.User{ID: dynamotx.String(it, attrUserID), Active: dynamotx.Bool(it, attrActive)},
				Found: dynamotx.Bool(it, attrFound),
				At:    time.Unix(0, dynamotx.Int(it, attrLearned)).UTC(),
			}
		}
	}
	return out, nil
}

// KeepUsers implements attribution.UserStore: one BatchWriteItem per 25
// emails, each a put of the rep's whole item.
func (s *Store) KeepUsers(ctx context.Context, team string, known map[string]attribution.Known) error {
	if err := policy.ValidateID("team_id", team); err != nil {
		return err
	}
	emails := make([]string, 0, len(known))
	for e := range known {
		if err := attribution.CheckRepEmail("known", e); err != nil {
			return err
		}
		emails = append(emails, e)
	}
	slices.Sort(emails)
	for chunk := range slices.Chunk(emails, MaxBatchWrite) {
		writes := make([]types.WriteRequest, 0, len(chunk))
		for _, e := range chunk {
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item(team, e, known[e])}})
		}
		if err := s.batchWrite(ctx, writes); err != nil {
			return fmt.Errorf("keep known reps of %s: %w", team, err)
		}
	}
	return nil
}

// item is a rep's item in the table.
func item(team, email string, k attribution.Known) map[string]types.AttributeValue {
	it := Key(team, email)
	if k.User.ID != "" {
		it[attrUserID] = &types.AttributeValueMemberS{Value: k.User.ID}
	}
	it[attrFound] = &types.AttributeValueMemberBOOL{Value: k.Found}
	it[attrActive] = &types.AttributeValueMemberBOOL{Value: k.User.Active}
	it[attrLearned] = &types.AttributeValueMemberN{Value: strconv.FormatInt(k.At.UnixNano(), 10)}
	it[resources.TTLAttribute] = &types.AttributeValueMemberN{Value: strconv.FormatInt(k.At.Add(Retention).Unix(), 10)}
	return it
}

// batchGet reads the items of up to MaxBatchGet distinct keys, sending the
// unprocessed keys again after a backoff.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{s.Table: {
		Keys:                     keys,
		ProjectionExpression:     aws.String("#sk, #user, #found, #active, #learned"),
		ExpressionAttributeNames: map[string]string{"#sk": resources.SortKey, "#user": attrUserID, "#found": attrFound, "#active": attrActive, "#learned": attrLearned},
	}}
	var items []map[string]types.AttributeValue
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("batch get %d keys from %s: %w", len(req[s.Table].Keys), s.Table, err)
		}
		items = append(items, out.Responses[s.Table]...)
		left, ok := out.UnprocessedKeys[s.Table]
		if !ok || len(left.Keys) == 0 {
			return items, nil
		}
		if attempt >= s.maxAttempts() {
			return nil, fmt.Errorf("batch get from %s: %d keys after %d attempts: %w", s.Table, len(left.Keys), attempt, ErrUnprocessed)
		}
		if err := dynamotx.Wait(ctx, s.Backoff, attempt); err != nil {
			return nil, fmt.Errorf("batch get from %s: %w", s.Table, err)
		}
		req = map[string]types.KeysAndAttributes{s.Table: left}
	}
}

// batchWrite sends up to MaxBatchWrite writes, sending the unprocessed
// ones again after a backoff.
func (s *Store) batchWrite(ctx context.Context, writes []types.WriteRequest) error {
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.Table: writes}})
		if err != nil {
			return fmt.Errorf("batch write %d items to %s: %w", len(writes), s.Table, err)
		}
		if writes = out.UnprocessedItems[s.Table]; len(writes) == 0 {
			return nil
		}
		if attempt >= s.maxAttempts() {
			return fmt.Errorf("batch write to %s: %d items after %d attempts: %w", s.Table, len(writes), attempt, ErrUnprocessed)
		}
		if err := dynamotx.Wait(ctx, s.Backoff, attempt); err != nil {
			return fmt.Errorf("batch write to %s: %w", s.Table, err)
		}
	}
}

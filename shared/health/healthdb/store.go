// Package healthdb keeps the outcome counts of a team's sync health
// (health.Counter, health.Counts) in the ledger table, one item per team
// and UTC day:
//
//	pk TEAM#<team>  sk HEALTH#<YYYY-MM-DD>  n_<status> (one number per outcome status), expires_at
//
// The ledger, as the mapping counts (MAPPINGCOUNT#): the sync functions,
// which count, may write the ledger and only read the policies table. The
// partition key is ledgerdb's (TeamPK, the team's own items); the sort key
// is SK here. Add is one UpdateItem that ADDs each status's count, so concurrent
// batches never lose each other's counts, and sets expires_at to
// health.Keep after the day began. Outcomes is one Query of the days asked
// (30 at most), eventually consistent: a count a second late is fine for
// health, at half the read's price.
//
// ADD is not idempotent: an UpdateItem the SDK sends again after a lost
// answer counts twice, as a redelivered batch does (health.Counting).
package healthdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// The key and attribute names of a day's item.
const (
	dayPrefix    = "HEALTH#"
	statusPrefix = "n_"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store implements health.Store on the ledger table.
type Store struct {
	DB    API
	Table string
}

var _ health.Store = (*Store)(nil)

// PK is the partition key of a team's items: the ledger's TeamPK.
func PK(team string) string { return ledgerdb.TeamPK(team) }

// SK is the sort key of a day's item.
func SK(day string) string { return dayPrefix + day }

// Attribute is the name of status's count in a day's item.
func Attribute(s event.Status) string { return statusPrefix + string(s) }

// Add implements health.Counter: one UpdateItem, ADD of each non-zero
// count and SET of expires_at; nothing when every count is zero.
func (s *Store) Add(ctx context.Context, team, day string, by map[event.Status]int) error {
	if err := health.CheckAdd(team, day, by); err != nil {
		return err
	}
	start, _ := health.DayStart(day)
	upd := expression.Set(expression.Name(resources.TTLAttribute), expression.Value(start.Add(health.Keep).Unix()))
	counted := false
	for st, n := range by {
		if n != 0 {
			upd = upd.Add(expression.Name(Attribute(st)), expression.Value(n))
			counted = true
		}
	}
	if !counted {
		return nil
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("build health count update: %w", err)
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Table), Key: dynamotx.Key(PK(team), SK(day)),
		UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueNone})
	if err != nil {
		return fmt.Errorf("count outcomes of %s on %s: %w", team, day, err)
	}
	return nil
}

// Outcomes implements health.Counts: one Query of the days from..to.
func (s *Store) Outcomes(ctx context.Context, team, from, to string) (map[string]map[event.Status]int, error) {
	if err := health.CheckRange(team, from, to); err != nil {
		return nil, err
	}
	kc := expression.Key(resources.PartitionKey).Equal(expression.Value(PK(team))).
		And(expression.Key(resources.SortKey).Between(expression.Value(SK(from)), expression.Value(SK(to))))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build health count query: %w", err)
	}
	out := map[string]map[event.Status]int{}
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: aws.String(s.Table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read outcome counts of %s: %w", team, err)
		}
		for _, it := range page.Items {
			day := strings.TrimPrefix(dynamotx.String(it, resources.SortKey), dayPrefix)
			if by := counts(it); len(by) > 0 {
				out[day] = by
			}
		}
	}
	return out, nil
}

// counts reads a day's item: every n_<status> number other than zero.
func counts(it map[string]types.AttributeValue) map[event.Status]int {
	by := map[event.Status]int{}
	for name := range it {
		st, ok := strings.CutPrefix(name, statusPrefix)
		if !ok {
			continue
		}
		if n := dynamotx.Int(it, name); n != 0 {
			by[event.Status(st)] = int(n)
		}
	}
	return by
}

package dynamotx

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/resources"
)

// Key is the key of an item in a table of the stack: its partition key pk
// and sort key sk, both strings (resources.PartitionKey, resources.SortKey).
func Key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		resources.PartitionKey: &types.AttributeValueMemberS{Value: pk},
		resources.SortKey:      &types.AttributeValueMemberS{Value: sk},
	}
}

// String returns the named string attribute of item: "" when the item has
// none, or holds another type under that name.
func String(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// Int returns the named number attribute of item as an integer: 0 when the
// item has none, holds another type under that name, or a number that is
// not a whole one within int64.
func Int(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// Bool returns the named boolean attribute of item: false when the item has
// none, or holds another type under that name.
func Bool(item map[string]types.AttributeValue, name string) bool {
	if v, ok := item[name].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return false
}

// ConditionFailed reports whether err is a failed condition of a single
// write, and returns it (its Item is the item found, when the write asked
// for it).
func ConditionFailed(err error) (*types.ConditionalCheckFailedException, bool) {
	var cf *types.ConditionalCheckFailedException
	ok := errors.As(err, &cf)
	return cf, ok
}

// Getter is the call Found makes.
type Getter interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Found is the item a write refused by its condition found: old, as the
// refusal returned it (ALL_OLD), or, when it returned none (emulators do
// not), the item at key read consistently. Nil when there is no item.
func Found(ctx context.Context, db Getter, table string, key, old map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	if len(old) > 0 {
		return old, nil
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", String(key, resources.PartitionKey), String(key, resources.SortKey), err)
	}
	return out.Item, nil
}

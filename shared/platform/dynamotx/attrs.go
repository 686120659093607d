package dynamotx

import (
	"strconv"

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

package dynamotx_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
)

func TestAttributeReaders(t *testing.T) {
	item := map[string]types.AttributeValue{
		"s":     &types.AttributeValueMemberS{Value: "text"},
		"n":     &types.AttributeValueMemberN{Value: "1712345678901"},
		"neg":   &types.AttributeValueMemberN{Value: "-3"},
		"frac":  &types.AttributeValueMemberN{Value: "1.5"},
		"b":     &types.AttributeValueMemberBOOL{Value: true},
		"bytes": &types.AttributeValueMemberB{Value: []byte("x")},
	}
	for _, c := range []struct {
		name string
		s    string
		n    int64
		b    bool
	}{
		{name: "s", s: "text"},
		{name: "n", n: 1712345678901},
		{name: "neg", n: -3},
		{name: "frac"}, // not a whole number: 0
		{name: "b", b: true},
		{name: "bytes"},   // another type: the zero value of each
		{name: "missing"}, // absent: the zero value of each
	} {
		if got := dynamotx.String(item, c.name); got != c.s {
			t.Errorf("String(%s): got %q; want %q", c.name, got, c.s)
		}
		if got := dynamotx.Int(item, c.name); got != c.n {
			t.Errorf("Int(%s): got %d; want %d", c.name, got, c.n)
		}
		if got := dynamotx.Bool(item, c.name); got != c.b {
			t.Errorf("Bool(%s): got %v; want %v", c.name, got, c.b)
		}
	}
	if got := dynamotx.String(nil, "s"); got != "" {
		t.Errorf("String of a nil item: got %q; want \"\"", got)
	}
}

func TestKey(t *testing.T) {
	got := dynamotx.Key("TEAM#t", "RECORD")
	want := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "TEAM#t"},
		"sk": &types.AttributeValueMemberS{Value: "RECORD"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v; want %#v", got, want)
	}
}

// getter is a table holding one item, counting its reads.
type getter struct {
	item  map[string]types.AttributeValue
	reads []*dynamodb.GetItemInput
}

func (g *getter) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	g.reads = append(g.reads, in)
	return &dynamodb.GetItemOutput{Item: g.item}, nil
}

// TestFound: the item a refusal returned is used as it is; without one,
// the item is read, consistently.
func TestFound(t *testing.T) {
	stored := map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "2"}}
	returned := map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "1"}}
	for _, c := range []struct {
		name  string
		old   map[string]types.AttributeValue
		want  int64
		reads int
	}{
		{"returned with the refusal", returned, 1, 0},
		{"not returned (an emulator)", nil, 2, 1},
	} {
		g := &getter{item: stored}
		got, err := dynamotx.Found(context.Background(), g, "t", dynamotx.Key("P", "S"), c.old)
		if err != nil || dynamotx.Int(got, "n") != c.want || len(g.reads) != c.reads {
			t.Errorf("%s: got n=%d, %v after %d reads; want n=%d after %d", c.name, dynamotx.Int(got, "n"), err, len(g.reads), c.want, c.reads)
		}
		if len(g.reads) > 0 && !aws.ToBool(g.reads[0].ConsistentRead) {
			t.Errorf("%s: got an eventually consistent read; want a consistent one", c.name)
		}
	}
}

func TestConditionFailed(t *testing.T) {
	cf := &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "1"}}}
	if got, ok := dynamotx.ConditionFailed(fmt.Errorf("save: %w", cf)); !ok || got != cf {
		t.Errorf("wrapped refusal: got %v, %v; want it found", got, ok)
	}
	if _, ok := dynamotx.ConditionFailed(errors.New("other")); ok {
		t.Errorf("another error: got a refusal; want none")
	}
}

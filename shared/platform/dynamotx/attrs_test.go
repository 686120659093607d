package dynamotx_test

import (
	"reflect"
	"testing"

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

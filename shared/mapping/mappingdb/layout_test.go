package mappingdb

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
)

// storedItem is a mapping version as items have always been stored: what
// the store writes and reads must stay this, attribute for attribute.
type storedItem struct {
	PK      string          `json:"pk"`
	SK      string          `json:"sk"`
	Object  string          `json:"object"`
	Version int             `json:"version"`
	SavedNS int64           `json:"saved_ns"`
	SavedAt string          `json:"saved_at"`
	Author  string          `json:"author"`
	Mapping mapping.Mapping `json:"mapping"`
}

// writes is a policies table holding no mapping, which keeps the
// transactions sent to it.
type writes struct {
	API
	sent []*dynamodb.TransactWriteItemsInput
}

func (w *writes) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func (w *writes) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	w.sent = append(w.sent, in)
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// TestSaveKeepsTheStoredLayout: a save writes the version and the HEAD as
// mappings have always been stored, on the conditions they always had.
func TestSaveKeepsTheStoredLayout(t *testing.T) {
	db := &writes{}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	s := New(db, "policies")
	s.Now = func() time.Time { return at }
	m := mapping.Mapping{Fields: []mapping.Rule{{SalesforceField: "Title", Source: mapping.Source{Field: "title"}}}}
	if _, err := s.Save(context.Background(), "team_a", "ada", event.ObjectContact, m, 0); err != nil {
		t.Fatal(err)
	}
	if len(db.sent) != 1 || len(db.sent[0].TransactItems) != 2 {
		t.Fatalf("got %d transactions; want one of two writes", len(db.sent))
	}
	for i, sk := range []string{"MAPPING#Contact#v0000000001", "MAPPING#Contact#HEAD"} {
		want, err := attributevalue.MarshalMapWithOptions(storedItem{PK: "TEAM#team_a", SK: sk, Object: "Contact", Version: 1,
			SavedNS: at.UnixNano(), SavedAt: "2026-01-02T03:04:05.000006Z", Author: "ada", Mapping: m},
			func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
		if err != nil {
			t.Fatal(err)
		}
		put := db.sent[0].TransactItems[i].Put
		if !reflect.DeepEqual(put.Item, want) {
			t.Errorf("%s: got %v; want %v", sk, put.Item, want)
		}
		if got := *put.ConditionExpression; got != "attribute_not_exists (#0)" {
			t.Errorf("%s: got condition %q; want attribute_not_exists (#0)", sk, got)
		}
	}
}

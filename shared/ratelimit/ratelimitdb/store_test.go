package ratelimitdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/ratelimit/ratelimitdb"
	"github.com/sfsync/sfsync/shared/ratelimit/ratelimittest"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var db *dynamodb.Client

// TestMain points the tests at the shared moto_server through the atomic
// proxy, as the stack runs: moto does not lock while it checks a
// condition and writes, so racing conditional updates could both pass,
// which DynamoDB never allows (tools/motoserver/README.md).
func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) {
		p, err := motoserver.StartAtomicProxy(aws.ToString(cfg.BaseEndpoint))
		if err != nil {
			panic(err)
		}
		cfg.BaseEndpoint = aws.String(p.URL)
		db = dynamodb.NewFromConfig(cfg)
	}))
}

func newTable(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ratelimit-" + hex.EncodeToString(b)
	err := motoserver.CreateTable(context.Background(), db, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode: ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

func TestStoreConforms(t *testing.T) {
	t.Parallel()
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Store {
		return &ratelimitdb.Store{DB: db, Table: newTable(t)}
	})
}

// sentTwice sends every write twice, as the SDK does when the answer to the
// first send is lost.
type sentTwice struct{ *dynamodb.Client }

func (c sentTwice) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return motoserver.SentTwice(ctx, c.Client.UpdateItem, in, opts...)
}

func (c sentTwice) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return motoserver.SentTwice(ctx, c.Client.PutItem, in, opts...)
}

func TestWritesSentTwiceCountOnce(t *testing.T) {
	t.Parallel()
	s := &ratelimitdb.Store{DB: sentTwice{db}, Table: newTable(t)}
	ctx := context.Background()
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	var got []bool
	for range 3 {
		ok, err := s.Take(ctx, "team_a#all", t0, 2, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if got[0] != true || got[1] != true || got[2] != false {
		t.Errorf("three takes of a window of 2, each sent twice: got %v; want [true true false]", got)
	}
	until, set, err := s.Mark(ctx, "team_a#retry#x", t0, t0.Add(time.Minute))
	if err != nil || !set || !until.Equal(t0.Add(time.Minute)) {
		t.Errorf("a mark sent twice: got %v until %v (%v); want set until %v", set, until, err, t0.Add(time.Minute))
	}
}

func TestItemsExpireAndKeepToTheirOwnKeys(t *testing.T) {
	t.Parallel()
	table := newTable(t)
	s := &ratelimitdb.Store{DB: db, Table: table}
	ctx := context.Background()
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	if _, err := s.Take(ctx, "team_a#all", t0, 5, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	until := t0.Add(90*time.Second + 500*time.Millisecond)
	if _, _, err := s.Mark(ctx, "team_a#retry#x", t0, until); err != nil {
		t.Fatal(err)
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"LIMIT#team_a#all WINDOW#" + strconv.FormatInt(t0.Unix(), 10): t0.Add(time.Minute).Unix(),
		"COOLDOWN#team_a#retry#x COOLDOWN":                            until.Add(500 * time.Millisecond).Unix(),
	}
	if len(out.Items) != len(want) {
		t.Fatalf("items: got %d; want %d", len(out.Items), len(want))
	}
	for _, item := range out.Items {
		k := item[resources.PartitionKey].(*ddbtypes.AttributeValueMemberS).Value + " " + item[resources.SortKey].(*ddbtypes.AttributeValueMemberS).Value
		exp, _ := item[resources.TTLAttribute].(*ddbtypes.AttributeValueMemberN)
		wantExp, ok := want[k]
		if !ok || exp == nil || exp.Value != strconv.FormatInt(wantExp, 10) {
			t.Errorf("item %s: got %s %v; want one of %v with %s", k, resources.TTLAttribute, exp, want, resources.TTLAttribute)
		}
	}
}

package healthdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthdb"
	"github.com/sfsync/sfsync/shared/health/healthtest"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var db *dynamodb.Client

// TestMain reaches the moto_server of the run through the atomic proxy, as
// the stack runs: concurrent ADDs of one item each count, as on DynamoDB.
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

// newTable creates a ledger table of its own for the test (the keys and TTL
// the stack's has; its index is not used here).
func newTable(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ledger-health-" + hex.EncodeToString(b)
	err := motoserver.CreateTable(context.Background(), db, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// TestStoreConforms holds the table to the answers of the in-memory store.
func TestStoreConforms(t *testing.T) {
	t.Parallel()
	healthtest.Run(t, func(t *testing.T) health.Store { return &healthdb.Store{DB: db, Table: newTable(t)} })
}

// TestItemLayout pins the item docs/tables.md documents: pk TEAM#<team>,
// sk HEALTH#<day>, a number n_<status> per status counted, and expires_at
// 35 days after the day began, in Unix seconds.
func TestItemLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table := newTable(t)
	s := &healthdb.Store{DB: db, Table: table}
	if err := s.Add(ctx, "team_a", "2026-03-04", map[event.Status]int{event.StatusCreated: 2, event.StatusExistsInSalesforce: 1, event.StatusFailed: 0}); err != nil {
		t.Fatal(err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: dynamotx.Key("TEAM#team_a", "HEALTH#2026-03-04")})
	if err != nil || out.Item == nil {
		t.Fatalf("got %v, %v; want the item at TEAM#team_a / HEALTH#2026-03-04", out, err)
	}
	it := out.Item
	var names []string
	for k := range it {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"expires_at", "n_created", "n_exists_in_salesforce", "pk", "sk"}; !slices.Equal(names, want) {
		t.Errorf("attributes: got %v; want %v", names, want)
	}
	if _, ok := it["n_created"].(*types.AttributeValueMemberN); !ok || dynamotx.Int(it, "n_created") != 2 {
		t.Errorf("n_created: got %#v; want the number 2", it["n_created"])
	}
	want := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC).Add(35 * 24 * time.Hour).Unix()
	if got := dynamotx.Int(it, resources.TTLAttribute); got != want {
		t.Errorf("%s: got %d; want %d (35 days after the day began)", resources.TTLAttribute, got, want)
	}
	if got := healthdb.Attribute(event.StatusLinked); got != "n_linked" {
		t.Errorf("Attribute(linked): got %q; want n_linked", got)
	}
}

// countingDB is the real client, counting UpdateItem calls.
type countingDB struct {
	*dynamodb.Client
	updates atomic.Int64
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates.Add(1)
	return c.Client.UpdateItem(ctx, in, opts...)
}

type published struct{}

func (published) Publish(context.Context, []event.Outcome) error { return nil }

// TestCountingOneUpdatePerTeamDay: the decorator on the table counts a
// batch of 300 outcomes of two teams, one of them across midnight, in
// three UpdateItem calls, and the counts read back whole.
func TestCountingOneUpdatePerTeamDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cdb := &countingDB{Client: db}
	store := &healthdb.Store{DB: cdb, Table: newTable(t)}
	midnight := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	var batch []event.Outcome
	for i := range 300 {
		o := event.Outcome{TeamID: "team_a", Status: event.StatusCreated, At: midnight.Add(time.Duration(i-100) * time.Second)}
		switch {
		case i%3 == 1:
			o.Status = event.StatusSkipped
		case i%3 == 2:
			o.TeamID = "team_b"
			o.At = midnight.Add(time.Duration(i) * time.Second)
		}
		batch = append(batch, o)
	}
	c := &health.Counting{Next: published{}, Counts: store}
	if err := c.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := cdb.updates.Load(); got != 3 {
		t.Errorf("UpdateItem calls: got %d; want 3 (team_a on two days, team_b on one)", got)
	}
	a, err := store.Outcomes(ctx, "team_a", "2026-03-03", "2026-03-04")
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Outcomes(ctx, "team_b", "2026-03-03", "2026-03-04")
	if err != nil {
		t.Fatal(err)
	}
	sum := func(m map[string]map[event.Status]int) (n int) {
		for _, by := range m {
			for _, c := range by {
				n += c
			}
		}
		return n
	}
	if sum(a) != 200 || sum(b) != 100 || len(a) != 2 || len(b) != 1 {
		t.Errorf("got team_a %v, team_b %v; want 200 of team_a over two days and 100 of team_b on one", a, b)
	}
}

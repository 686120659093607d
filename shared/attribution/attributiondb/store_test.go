package attributiondb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/attribution/attributiondb"
	"github.com/sfsync/sfsync/shared/attribution/attributiontest"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var db *dynamodb.Client

// TestMain reaches the moto_server of the run (AWS_ENDPOINT_URL, as
// tools/with-moto.sh exports it), or starts one for this package.
func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) { db = dynamodb.NewFromConfig(cfg) }))
}

// newTable creates a table of its own for the test, keyed as the ledger
// table the store is given.
func newTable(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ledger-attribution-" + hex.EncodeToString(b)
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

// TestUserStoreConformance holds the table to the answers of the
// in-memory store the domain's tests use.
func TestUserStoreConformance(t *testing.T) {
	t.Parallel()
	attributiontest.UserStoreSuite(t, func(t *testing.T) attribution.UserStore {
		return &attributiondb.Store{DB: db, Table: newTable(t)}
	})
}

// TestItemLayout pins the item docs/tables.md documents: pk TEAM#<team>,
// sk REP#<email>, user_id (absent when no user), found, active,
// learned_ns, and expires_at seven days after learned_ns, in Unix seconds.
func TestItemLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table := newTable(t)
	s := &attributiondb.Store{DB: db, Table: table}
	at := time.Date(2026, 3, 4, 10, 0, 0, 123456789, time.UTC)
	err := s.KeepUsers(ctx, "team_a", map[string]attribution.Known{
		"ann@acme.com": {User: attribution.User{ID: "005A", Active: true}, Found: true, At: at},
		"bob@acme.com": {Found: false, At: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		email                 string
		userID                string
		hasUserID             bool
		found, active         bool
		learnedNS, expiresAtS int64
	}{
		{"ann@acme.com", "005A", true, true, true, at.UnixNano(), at.Add(7 * 24 * time.Hour).Unix()},
		{"bob@acme.com", "", false, false, false, at.UnixNano(), at.Add(7 * 24 * time.Hour).Unix()},
	}
	for _, tt := range tests {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: dynamotx.Key("TEAM#team_a", "REP#"+tt.email)})
		if err != nil {
			t.Fatal(err)
		}
		it := out.Item
		if it == nil {
			t.Fatalf("%s: got no item at TEAM#team_a / REP#%s; want one", tt.email, tt.email)
		}
		_, hasUser := it["user_id"]
		if got := dynamotx.String(it, "user_id"); got != tt.userID || hasUser != tt.hasUserID {
			t.Errorf("%s: user_id: got %q (present %v); want %q (present %v)", tt.email, got, hasUser, tt.userID, tt.hasUserID)
		}
		if _, ok := it["found"].(*types.AttributeValueMemberBOOL); !ok || dynamotx.Bool(it, "found") != tt.found {
			t.Errorf("%s: found: got %#v; want the boolean %v", tt.email, it["found"], tt.found)
		}
		if _, ok := it["active"].(*types.AttributeValueMemberBOOL); !ok || dynamotx.Bool(it, "active") != tt.active {
			t.Errorf("%s: active: got %#v; want the boolean %v", tt.email, it["active"], tt.active)
		}
		if got := dynamotx.Int(it, "learned_ns"); got != tt.learnedNS {
			t.Errorf("%s: learned_ns: got %d; want %d", tt.email, got, tt.learnedNS)
		}
		if got := dynamotx.Int(it, resources.TTLAttribute); got != tt.expiresAtS {
			t.Errorf("%s: %s: got %d; want %d", tt.email, resources.TTLAttribute, got, tt.expiresAtS)
		}
		if len(it) != 6+btoi(tt.hasUserID) {
			t.Errorf("%s: got attributes %v; want pk, sk, found, active, learned_ns, expires_at and user_id when found", tt.email, keys(it))
		}
	}
	if got, want := attributiondb.Key("team_a", "ann@acme.com"), dynamotx.Key("TEAM#team_a", "REP#ann@acme.com"); dynamotx.String(got, "pk") != dynamotx.String(want, "pk") || dynamotx.String(got, "sk") != dynamotx.String(want, "sk") {
		t.Errorf("Key: got %v; want %v", got, want)
	}
}

// TestUnreadableItem: an item at a rep's key without learned_ns (not one
// this store wrote) is as if nothing were kept.
func TestUnreadableItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table := newTable(t)
	it := dynamotx.Key("TEAM#team_a", "REP#ann@acme.com")
	it["found"] = &types.AttributeValueMemberBOOL{Value: true}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
		t.Fatal(err)
	}
	s := &attributiondb.Store{DB: db, Table: table}
	got, err := s.KnownUsers(ctx, "team_a", []string{"ann@acme.com"})
	if err != nil || len(got) != 0 {
		t.Errorf("got %v, %v; want nothing kept", got, err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func keys(m map[string]types.AttributeValue) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fakeDB plays DynamoDB for the batching tests: it records the size of
// each call, answers from items, and leaves the last `leave` keys or
// writes of each of the first `stubborn` calls unprocessed.
type fakeDB struct {
	mu       sync.Mutex
	items    map[string]map[string]types.AttributeValue // by sk
	stubborn int
	leave    int
	gets     []int
	writes   []int
}

func (f *fakeDB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table, ka := range in.RequestItems {
		keys := ka.Keys
		f.gets = append(f.gets, len(keys))
		if len(f.gets) > 50 {
			return nil, fmt.Errorf("%d calls: the store does not give up", len(f.gets))
		}
		if len(keys) > attributiondb.MaxBatchGet {
			return nil, fmt.Errorf("too many keys: %d", len(keys))
		}
		if len(f.gets) <= f.stubborn && len(keys) >= f.leave {
			left := keys[len(keys)-f.leave:]
			keys = keys[:len(keys)-f.leave]
			out.UnprocessedKeys = map[string]types.KeysAndAttributes{table: {Keys: left, ProjectionExpression: ka.ProjectionExpression, ExpressionAttributeNames: ka.ExpressionAttributeNames}}
		}
		for _, k := range keys {
			if it, ok := f.items[dynamotx.String(k, "sk")]; ok {
				out.Responses[table] = append(out.Responses[table], it)
			}
		}
	}
	return out, nil
}

func (f *fakeDB) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &dynamodb.BatchWriteItemOutput{}
	for table, ws := range in.RequestItems {
		f.writes = append(f.writes, len(ws))
		if len(f.writes) > 50 {
			return nil, fmt.Errorf("%d calls: the store does not give up", len(f.writes))
		}
		if len(ws) > attributiondb.MaxBatchWrite {
			return nil, fmt.Errorf("too many writes: %d", len(ws))
		}
		if len(f.writes) <= f.stubborn && len(ws) >= f.leave {
			out.UnprocessedItems = map[string][]types.WriteRequest{table: ws[len(ws)-f.leave:]}
			ws = ws[:len(ws)-f.leave]
		}
		if f.items == nil {
			f.items = map[string]map[string]types.AttributeValue{}
		}
		for _, w := range ws {
			f.items[dynamotx.String(w.PutRequest.Item, "sk")] = w.PutRequest.Item
		}
	}
	return out, nil
}

func manyKnown(n int, at time.Time) (map[string]attribution.Known, []string) {
	known := map[string]attribution.Known{}
	var emails []string
	for i := range n {
		e := fmt.Sprintf("rep%03d@acme.com", i)
		known[e] = attribution.Known{User: attribution.User{ID: "005" + strconv.Itoa(i), Active: true}, Found: true, At: at}
		emails = append(emails, e)
	}
	return known, emails
}

// TestBatchesAndUnprocessed: writes go 25 a call and reads 100 a call
// (duplicates asked once); what DynamoDB leaves unprocessed is sent again
// until it is done, and every entry lands.
func TestBatchesAndUnprocessed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	known, emails := manyKnown(130, at)

	f := &fakeDB{stubborn: 2, leave: 3}
	s := &attributiondb.Store{DB: f, Table: "policies", Backoff: time.Millisecond}
	if err := s.KeepUsers(ctx, "team_a", known); err != nil {
		t.Fatal(err)
	}
	// 130 = 5 x 25 + 5; the first two calls leave 3 each (the second
	// leaves all it was sent), sent again before the next chunk.
	if want := []int{25, 3, 3, 25, 25, 25, 25, 5}; fmt.Sprint(f.writes) != fmt.Sprint(want) {
		t.Errorf("writes: got %v; want %v", f.writes, want)
	}
	if len(f.items) != 130 {
		t.Errorf("items written: got %d; want 130", len(f.items))
	}

	f.stubborn, f.leave = 1, 10
	f.gets = nil
	asked := append(append([]string{}, emails...), emails[:20]...) // 20 asked twice
	asked = append(asked, "absent@acme.com")
	got, err := s.KnownUsers(ctx, "team_a", asked)
	if err != nil {
		t.Fatal(err)
	}
	// 131 distinct keys = 100 + 31; the first call leaves 10, sent again.
	if want := []int{100, 10, 31}; fmt.Sprint(f.gets) != fmt.Sprint(want) {
		t.Errorf("gets: got %v; want %v", f.gets, want)
	}
	if len(got) != 130 {
		t.Errorf("got %d entries; want 130", len(got))
	}
	for e, k := range known {
		if g := got[e]; g.User != k.User || g.Found != k.Found || !g.At.Equal(k.At) {
			t.Errorf("%s: got %+v; want %+v", e, g, k)
		}
	}
}

// TestUnprocessedGivesUp: a batch DynamoDB keeps leaving unprocessed is
// sent MaxAttempts times, then refused with ErrUnprocessed.
func TestUnprocessedGivesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	known, emails := manyKnown(4, time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	f := &fakeDB{stubborn: 1000, leave: 1}
	s := &attributiondb.Store{DB: f, Table: "policies", Backoff: time.Millisecond, MaxAttempts: 3}
	if err := s.KeepUsers(ctx, "team_a", known); !errors.Is(err, attributiondb.ErrUnprocessed) {
		t.Errorf("KeepUsers: got %v; want ErrUnprocessed", err)
	}
	if want := []int{4, 1, 1}; fmt.Sprint(f.writes) != fmt.Sprint(want) {
		t.Errorf("writes: got %v; want %v", f.writes, want)
	}
	if _, err := s.KnownUsers(ctx, "team_a", emails); !errors.Is(err, attributiondb.ErrUnprocessed) {
		t.Errorf("KnownUsers: got %v; want ErrUnprocessed", err)
	}
	if want := []int{4, 1, 1}; fmt.Sprint(f.gets) != fmt.Sprint(want) {
		t.Errorf("gets: got %v; want %v", f.gets, want)
	}
}

// TestInvalidMakesNoCall: an invalid team or email is refused before any
// call; nothing to read or keep makes no call either.
func TestInvalidMakesNoCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &fakeDB{}
	s := &attributiondb.Store{DB: f, Table: "policies"}
	k := attribution.Known{Found: true, At: time.Now()}
	errs := []error{
		func() error { _, err := s.KnownUsers(ctx, "team#a", []string{"ann@acme.com"}); return err }(),
		func() error { _, err := s.KnownUsers(ctx, "team_a", []string{"Ann@acme.com"}); return err }(),
		s.KeepUsers(ctx, "", map[string]attribution.Known{"ann@acme.com": k}),
		s.KeepUsers(ctx, "team_a", map[string]attribution.Known{"": k}),
	}
	for i, err := range errs {
		if !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("call %d: got %v; want policy.ErrInvalid", i, err)
		}
	}
	if got, err := s.KnownUsers(ctx, "team_a", nil); err != nil || len(got) != 0 {
		t.Errorf("no emails: got %v, %v; want nothing", got, err)
	}
	if err := s.KeepUsers(ctx, "team_a", nil); err != nil {
		t.Errorf("nothing to keep: got %v; want nil", err)
	}
	if len(f.gets)+len(f.writes) != 0 {
		t.Errorf("calls: got %d gets and %d writes; want none", len(f.gets), len(f.writes))
	}
}

package versiondb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/platform/versiondb"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) {
		db = dynamodb.NewFromConfig(cfg)
	}))
}

// note is the document the tests keep.
type note struct {
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

var errMine = errors.New("note version conflict")

var doc = versiondb.Doc{PK: "TEAM#t", Prefix: "NOTE#x#", Name: "x note", Attrs: map[string]string{"object": "x"}}

var start = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// clock is a test clock: it moves by step at every reading.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// newStore is a store on a fresh table whose clock moves a second at every
// reading from start.
func newStore(t *testing.T, api versiondb.API) (versiondb.Store[note], *clock) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "versions-" + hex.EncodeToString(b)
	err := motoserver.CreateTable(context.Background(), db, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	if api == nil {
		api = db
	}
	c := &clock{now: start, step: time.Second}
	return versiondb.Store[note]{DB: api, Table: name, Layout: versiondb.Layout{Stamp: "saved", Body: "note"}, Now: c.Now, Conflict: errMine}, c
}

// TestItemsKeepTheirLayout: the version and HEAD items hold exactly the
// attributes the package documents, under the layout's names.
func TestItemsKeepTheirLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, nil)
	v, err := s.Save(ctx, doc, "ada", note{Text: "hello"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := start.Add(time.Second)
	if want := (versiondb.Version[note]{Number: 1, At: at, Author: "ada", Body: note{Text: "hello"}}); !reflect.DeepEqual(v, want) {
		t.Errorf("saved: got %+v; want %+v", v, want)
	}
	for _, sk := range []string{"NOTE#x#v0000000001", "NOTE#x#HEAD"} {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: dynamotx.Key("TEAM#t", sk)})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "TEAM#t"}, "sk": &types.AttributeValueMemberS{Value: sk},
			"version":  &types.AttributeValueMemberN{Value: "1"},
			"saved_ns": &types.AttributeValueMemberN{Value: "1795687201000000000"},
			"saved_at": &types.AttributeValueMemberS{Value: "2026-11-26T10:00:01Z"},
			"author":   &types.AttributeValueMemberS{Value: "ada"},
			"note":     &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"text": &types.AttributeValueMemberS{Value: "hello"}}},
			"object":   &types.AttributeValueMemberS{Value: "x"},
		}
		if !reflect.DeepEqual(out.Item, want) {
			t.Errorf("%s: got %v; want %v", sk, out.Item, want)
		}
	}
}

// TestSavesFollowTheExpectedVersion: a save lands only on the version it
// expects (AnyVersion: on whatever is current), and a refused one wraps
// the store's conflict error and writes nothing.
func TestSavesFollowTheExpectedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, nil)
	for _, c := range []struct {
		name     string
		expected int
		want     int // the version saved; 0: refused
	}{
		{"first save expects version 0", 0, 1},
		{"a save from a version never saved", 5, 0},
		{"the next save", 1, 2},
		{"a stale save", 1, 0},
		{"on whatever is current", versiondb.AnyVersion, 3},
	} {
		v, err := s.Save(ctx, doc, "ada", note{Text: c.name}, c.expected)
		switch {
		case c.want == 0 && !errors.Is(err, errMine):
			t.Errorf("%s: got %v; want the store's conflict error", c.name, err)
		case c.want > 0 && (err != nil || v.Number != c.want):
			t.Errorf("%s: got v%d, %v; want v%d", c.name, v.Number, err, c.want)
		}
	}
	cur, ok, err := s.Current(ctx, doc)
	if err != nil || !ok || cur.Number != 3 || cur.Body.Text != "on whatever is current" {
		t.Errorf("current: got %+v, %v, %v; want version 3", cur, ok, err)
	}
	for n, want := range map[int]string{1: "first save expects version 0", 2: "the next save", 3: "on whatever is current"} {
		if v, ok, err := s.Get(ctx, doc, n); err != nil || !ok || v.Body.Text != want {
			t.Errorf("version %d: got %+v, %v, %v; want %q", n, v, ok, err, want)
		}
	}
	if _, ok, err := s.Get(ctx, doc, 4); ok || err != nil {
		t.Errorf("version 4: got %v, %v; want none", ok, err)
	}
	other := versiondb.Doc{PK: "TEAM#u", Prefix: doc.Prefix}
	if _, ok, err := s.Current(ctx, other); ok || err != nil {
		t.Errorf("a document never saved: got %v, %v; want none", ok, err)
	}
}

// TestConcurrentSavesOneWins: of writers saving from the same version, one
// succeeds and the others get the conflict error.
func TestConcurrentSavesOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, nil)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.Save(ctx, doc, "w", note{Text: "mine"}, 0) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, errMine):
			t.Errorf("got %v; want nil or the conflict error", err)
		}
	}
	if wins != 1 {
		t.Errorf("got %d winners; want 1", wins)
	}
}

// replayingDB sends every transaction twice and answers with the second
// result, as an SDK retry after a lost answer does against a server that
// does not honour ClientRequestToken.
type replayingDB struct{ *dynamodb.Client }

func (r replayingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return motoserver.SentTwice(ctx, r.Client.TransactWriteItems, in, opts...)
}

// TestReplayedSaveIsItsOwn: a save whose transaction was sent twice finds
// its own version, not another writer's; a stale save stays refused.
func TestReplayedSaveIsItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, replayingDB{db})
	for want := 1; want <= 2; want++ {
		if v, err := s.Save(ctx, doc, "ada", note{Text: "x"}, want-1); err != nil || v.Number != want {
			t.Fatalf("got v%d, %v; want v%d", v.Number, err, want)
		}
	}
	if _, err := s.Save(ctx, doc, "ada", note{Text: "x"}, 1); !errors.Is(err, errMine) {
		t.Errorf("stale save: got %v; want the conflict error", err)
	}
}

// TestStampsIncreaseWithVersions: a clock that goes back still stamps a
// new version after the one before.
func TestStampsIncreaseWithVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t, nil)
	c.step = -time.Minute
	v1, err := s.Save(ctx, doc, "ada", note{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.Save(ctx, doc, "ada", note{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := v1.At.Add(time.Microsecond); !v2.At.Equal(want) {
		t.Errorf("got version 2 at %v; want %v", v2.At, want)
	}
}

// TestHistoryAndAsOf: the history pages back newest first, and AsOf finds
// the version that held at an instant.
func TestHistoryAndAsOf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, nil)
	var saved []versiondb.Version[note]
	for n := range 5 {
		v, err := s.Save(ctx, doc, "ada", note{Tags: []string{"n", string(rune('a' + n))}}, n)
		if err != nil {
			t.Fatal(err)
		}
		saved = append(saved, v)
	}
	var numbers []int
	for before, pages := 0, 0; pages < 5; pages++ {
		page, next, err := s.History(ctx, doc, 2, before)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page {
			numbers = append(numbers, v.Number)
		}
		if next == 0 {
			break
		}
		before = next
	}
	if want := []int{5, 4, 3, 2, 1}; !slices.Equal(numbers, want) {
		t.Errorf("history: got %v; want %v", numbers, want)
	}
	for _, c := range []struct {
		at   time.Time
		want int // 0: none
	}{
		{saved[0].At.Add(-time.Nanosecond), 0},
		{saved[0].At, 1},
		{saved[2].At.Add(time.Millisecond), 3},
		{saved[4].At.Add(time.Hour), 5},
	} {
		v, ok, err := s.AsOf(ctx, doc, c.at)
		if err != nil || v.Number != c.want || ok != (c.want > 0) {
			t.Errorf("as of %v: got v%d, %v, %v; want v%d", c.at, v.Number, ok, err, c.want)
		}
		if c.want > 0 && !reflect.DeepEqual(v, saved[c.want-1]) {
			t.Errorf("as of %v: got %+v; want %+v", c.at, v, saved[c.want-1])
		}
	}
}

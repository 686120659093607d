package policydb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) {
		db = dynamodb.NewFromConfig(cfg)
	}))
}

func suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func createTable(t *testing.T, name string) {
	t.Helper()
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
}

// newStore returns a store on fresh tables whose clock advances a second at
// every read, starting at start.
func newStore(t *testing.T, start time.Time) *policydb.Store {
	t.Helper()
	pol, led := newTables(t)
	s := policydb.New(db, pol, led)
	var mu sync.Mutex
	now := start
	s.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	return s
}

var start = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestTeamSettingsVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, start)

	got, err := s.TeamSettings(ctx, "team_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 0 || got.Document.SyncAs != policy.SyncAsLead || got.Document.SyncMode != policy.ModeOnAdd {
		t.Errorf("got %+v; want version 0 with the defaults", got)
	}

	docs := []policy.TeamSettings{policy.DefaultTeamSettings(), policy.DefaultTeamSettings(), policy.DefaultTeamSettings()}
	docs[1].SyncAs = policy.SyncAsContact
	docs[2].SyncMode = policy.ModeOnReply
	docs[2].ActivityKinds[policy.ActivityOpened] = true
	for i, d := range docs {
		v, err := s.SaveTeamSettings(ctx, "team_a", "user_1", d, i)
		if err != nil {
			t.Fatalf("save version %d: %v", i+1, err)
		}
		if v.Number != i+1 || v.Author != "user_1" {
			t.Errorf("got version %d by %q; want %d by user_1", v.Number, v.Author, i+1)
		}
	}
	got, err = s.TeamSettings(ctx, "team_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 3 || got.Document.SyncMode != policy.ModeOnReply || !got.Document.ActivityKinds[policy.ActivityOpened] {
		t.Errorf("got %+v; want version 3 on_reply with opened", got)
	}

	// A stale expected version writes nothing.
	_, err = s.SaveTeamSettings(ctx, "team_a", "user_2", docs[0], 1)
	if !errors.Is(err, policydb.ErrVersionConflict) {
		t.Errorf("got %v; want ErrVersionConflict", err)
	}

	hist, next, err := s.TeamHistory(ctx, "team_a", 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Number != 3 || hist[1].Number != 2 || next != 2 {
		t.Fatalf("got %d versions (%v) next %d; want 3, 2 and next 2", len(hist), numbers(hist), next)
	}
	if !hist[0].EffectiveAt.After(hist[1].EffectiveAt) {
		t.Errorf("got effective %v then %v; want strictly newer first", hist[0].EffectiveAt, hist[1].EffectiveAt)
	}
	hist, next, err = s.TeamHistory(ctx, "team_a", 2, next)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Number != 1 || next != 0 {
		t.Errorf("got %v next %d; want [1] next 0", numbers(hist), next)
	}

	// Other teams see none of it.
	other, err := s.TeamSettings(ctx, "team_b")
	if err != nil {
		t.Fatal(err)
	}
	if other.Number != 0 {
		t.Errorf("got team_b version %d; want 0", other.Number)
	}
}

func numbers[T any](vs []policy.Version[T]) []int {
	n := make([]int, len(vs))
	for i, v := range vs {
		n[i] = v.Number
	}
	return n
}

func TestConcurrentSavesOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, start)
	if _, err := s.SaveSequenceOverride(ctx, "team_a", "seq_1", "u", policy.DefaultSequenceOverride(), 0); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := policy.SequenceOverride{SyncMode: "off", SyncAs: "lead", SyncDisabled: i%2 == 0}
			_, errs[i] = s.SaveSequenceOverride(ctx, "team_a", "seq_1", fmt.Sprintf("u%d", i), doc, 1)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, policydb.ErrVersionConflict):
			t.Errorf("got %v; want nil or ErrVersionConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("got %d winners; want 1", won)
	}
	hist, _, err := s.SequenceHistory(ctx, "team_a", "seq_1", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 {
		t.Errorf("got %d versions; want 2", len(hist))
	}
}

func TestSaveAnyVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, start)
	for i := range 3 {
		v, err := s.SaveTeamSettings(ctx, "team_a", "u", policy.DefaultTeamSettings(), policydb.AnyVersion)
		if err != nil {
			t.Fatal(err)
		}
		if v.Number != i+1 {
			t.Errorf("got version %d; want %d", v.Number, i+1)
		}
	}
}

func TestSaveRejectsBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, start)
	bad := policy.DefaultTeamSettings()
	bad.SyncAs = "account"
	tests := []struct {
		name  string
		save  func() error
		field string
	}{
		{"invalid document", func() error { _, err := s.SaveTeamSettings(ctx, "team_a", "u", bad, 0); return err }, "sync_as"},
		{"team id with separator", func() error {
			_, err := s.SaveTeamSettings(ctx, "team#x", "u", policy.DefaultTeamSettings(), 0)
			return err
		}, "team_id"},
		{"sequence id with separator", func() error {
			_, err := s.SaveSequenceOverride(ctx, "team_a", "s#1", "u", policy.DefaultSequenceOverride(), 0)
			return err
		}, "sequence_id"},
		{"history limit", func() error { _, _, err := s.TeamHistory(ctx, "team_a", 0, 0); return err }, "limit"},
	}
	for _, tt := range tests {
		var ve *policy.ValidationError
		if err := tt.save(); !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%s: got %v; want a validation error naming %s", tt.name, err, tt.field)
		}
	}
	if v, err := s.TeamSettings(ctx, "team_a"); err != nil || v.Number != 0 {
		t.Errorf("got version %d, %v; want 0, nil", v.Number, err)
	}
}

func TestResolveAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, start)
	// start+1s: team v1 (contact, on_reply); start+2s: seq v1 (on_add);
	// start+3s: team v2 (off); start+4s: seq v2 (disabled).
	ts := policy.DefaultTeamSettings()
	ts.SyncAs, ts.SyncMode = policy.SyncAsContact, policy.ModeOnReply
	mustSave(t, func() error { _, err := s.SaveTeamSettings(ctx, "t", "u", ts, 0); return err })
	mustSave(t, func() error {
		_, err := s.SaveSequenceOverride(ctx, "t", "q", "u", policy.SequenceOverride{SyncMode: "on_add", SyncAs: "inherit"}, 0)
		return err
	})
	ts.SyncMode = policy.ModeOff
	mustSave(t, func() error { _, err := s.SaveTeamSettings(ctx, "t", "u", ts, 1); return err })
	mustSave(t, func() error {
		_, err := s.SaveSequenceOverride(ctx, "t", "q", "u", policy.SequenceOverride{SyncMode: "on_add", SyncAs: "inherit", SyncDisabled: true}, 1)
		return err
	})
	tests := []struct {
		at       time.Time
		as       policy.SyncAs
		mode     policy.SyncMode
		reason   string
		teamV    int
		sequence int
	}{
		{start, policy.SyncAsLead, policy.ModeOnAdd, "", 0, 0},
		{start.Add(1500 * time.Millisecond), policy.SyncAsContact, policy.ModeOnReply, "", 1, 0},
		{start.Add(2500 * time.Millisecond), policy.SyncAsContact, policy.ModeOnAdd, "", 1, 1},
		{start.Add(3500 * time.Millisecond), policy.SyncAsContact, policy.ModeOnAdd, "", 2, 1},
		{start.Add(time.Hour), policy.SyncAsContact, policy.ModeOnAdd, policy.ReasonSequenceSyncDisabled, 2, 2},
	}
	for _, tt := range tests {
		got, err := s.ResolveAt(ctx, "t", "q", tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if got.SyncAs != tt.as || got.Mode != tt.mode || got.Reason != tt.reason || got.TeamVersion != tt.teamV || got.SequenceVersion != tt.sequence {
			t.Errorf("at %s: got %s/%s/%q v%d/v%d; want %s/%s/%q v%d/v%d", tt.at.Format(time.TimeOnly),
				got.SyncAs, got.Mode, got.Reason, got.TeamVersion, got.SequenceVersion, tt.as, tt.mode, tt.reason, tt.teamV, tt.sequence)
		}
	}
	tv, err := s.TeamSettingsAt(ctx, "t", start.Add(1500*time.Millisecond))
	if err != nil || tv.Number != 1 {
		t.Errorf("got team version %d, %v; want 1, nil", tv.Number, err)
	}
}

func mustSave(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func TestResolveAtPagesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, start)
	// 45 versions: more than one query page lies between now and version 1.
	for i := range 45 {
		doc := policy.DefaultTeamSettings()
		if i > 0 {
			doc.SyncMode = policy.ModeOff
		}
		mustSave(t, func() error { _, err := s.SaveTeamSettings(ctx, "t", "u", doc, i); return err })
	}
	got, err := s.ResolveAt(ctx, "t", "q", start.Add(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if got.TeamVersion != 1 || got.Mode != policy.ModeOnAdd {
		t.Errorf("got v%d %s; want v1 on_add", got.TeamVersion, got.Mode)
	}
}

func TestCountMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pol, led := newTables(t)
	s := policydb.New(db, pol, led)
	put := func(pk, sk string) {
		t.Helper()
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(led), Item: map[string]types.AttributeValue{
			resources.PartitionKey: &types.AttributeValueMemberS{Value: pk},
			resources.SortKey:      &types.AttributeValueMemberS{Value: sk},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		put(policydb.SequenceKey("t", "q"), fmt.Sprintf("MEMBER#ct_%d", i))
	}
	put(policydb.SequenceKey("t", "q"), "STATE#x")          // not a membership
	put(policydb.SequenceKey("t", "other"), "MEMBER#ct_1")  // another sequence
	put(policydb.SequenceKey("team_b", "q"), "MEMBER#ct_1") // another team
	tests := []struct {
		team, seq string
		want      int
	}{{"t", "q", 7}, {"t", "other", 1}, {"t", "none", 0}}
	for _, tt := range tests {
		got, err := s.CountMembers(ctx, tt.team, tt.seq)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("CountMembers(%s, %s): got %d; want %d", tt.team, tt.seq, got, tt.want)
		}
	}
}

// racingDB lets another writer save between the store's read of the HEAD and
// its transaction, so the transaction's own condition must catch the race.
type racingDB struct {
	*dynamodb.Client
	once  sync.Once
	other func()
}

func (r *racingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.once.Do(r.other)
	return r.Client.TransactWriteItems(ctx, in, opts...)
}

func TestTransactionCatchesRaceAfterRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pol, led := newTables(t)
	plain := policydb.New(db, pol, led)
	var otherErr error
	racing := policydb.New(&racingDB{Client: db, other: func() {
		doc := policy.DefaultTeamSettings()
		doc.SyncAs = policy.SyncAsContact
		_, otherErr = plain.SaveTeamSettings(ctx, "t", "other", doc, 0)
	}}, pol, led)

	_, err := racing.SaveTeamSettings(ctx, "t", "me", policy.DefaultTeamSettings(), 0)
	if otherErr != nil {
		t.Fatal(otherErr)
	}
	if !errors.Is(err, policydb.ErrVersionConflict) {
		t.Fatalf("got %v; want ErrVersionConflict", err)
	}
	hist, _, err := plain.TeamHistory(ctx, "t", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Author != "other" || hist[0].Document.SyncAs != policy.SyncAsContact {
		t.Errorf("got %+v; want exactly the other writer's version", hist)
	}
	head, err := plain.TeamSettings(ctx, "t")
	if err != nil || head.Number != 1 || head.Author != "other" {
		t.Errorf("got head v%d by %q, %v; want v1 by other", head.Number, head.Author, err)
	}
}

// replayingDB sends every transaction twice and answers with the second
// result, as an SDK retry after a lost answer does against a server that
// does not honour ClientRequestToken.
type replayingDB struct{ *dynamodb.Client }

func (r replayingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return motoserver.SentTwice(ctx, r.Client.TransactWriteItems, in, opts...)
}

func TestSaveSurvivesReplayedTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pol, led := newTables(t)
	s := policydb.New(replayingDB{db}, pol, led)
	for want := 1; want <= 2; want++ {
		v, err := s.SaveTeamSettings(ctx, "t", "u", policy.DefaultTeamSettings(), want-1)
		if err != nil || v.Number != want {
			t.Fatalf("got v%d, %v; want v%d, nil", v.Number, err, want)
		}
	}
	// A different writer's replayed conflict is still a conflict.
	if _, err := s.SaveTeamSettings(ctx, "t", "u", policy.DefaultTeamSettings(), 1); !errors.Is(err, policydb.ErrVersionConflict) {
		t.Errorf("got %v; want ErrVersionConflict", err)
	}
}

// newTables creates a policies and a ledger table with names unique to the
// test.
func newTables(t *testing.T) (policies, ledger string) {
	t.Helper()
	sfx := suffix()
	policies, ledger = "policies-"+sfx, "ledger-"+sfx
	createTable(t, policies)
	createTable(t, ledger)
	return policies, ledger
}

// countingDB counts GetItem requests.
type countingDB struct {
	*dynamodb.Client
	gets atomic.Int64
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.Client.GetItem(ctx, in, opts...)
}

// TestRecentBudgetsReadOncePerMaxAge: the sync functions' budget cap comes
// from the team's settings as read within MaxAge, so a batch that has just
// read them makes no second read, and a saved cap takes effect once MaxAge
// has passed. Store.BudgetPercent (the admin API's) always reads.
func TestRecentBudgetsReadOncePerMaxAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pol, led := newTables(t)
	cdb := &countingDB{Client: db}
	s := policydb.New(cdb, pol, led)
	now := start
	s.Now = func() time.Time { return now }
	r := policydb.RecentBudgets{Store: s, MaxAge: time.Minute}
	save := func(percent, expected int) {
		t.Helper()
		ts := policy.DefaultTeamSettings()
		ts.APIBudgetPercent = percent
		mustSave(t, func() error { _, err := s.SaveTeamSettings(ctx, "t", "admin", ts, expected); return err })
	}
	steps := []struct {
		name    string
		before  func()
		budgets interface {
			BudgetPercent(context.Context, string) (int, error)
		}
		team      string
		want      int
		wantReads int64
	}{
		{"a team that never saved settings has the default", nil, r, "other", policy.DefaultTeamSettings().BudgetPercent(), 1},
		{"the first ask reads", func() { save(20, 0) }, r, "t", 20, 1},
		{"an ask within MaxAge does not", func() { now = now.Add(30 * time.Second) }, r, "t", 20, 0},
		{"a saved cap waits for MaxAge", func() { save(30, 1) }, r, "t", 20, 0},
		{"the admin API reads the saved cap at once", nil, s, "t", 30, 1},
		{"the sync functions read it after MaxAge", func() { now = now.Add(61 * time.Second) }, r, "t", 30, 1},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		before := cdb.gets.Load()
		got, err := st.budgets.BudgetPercent(ctx, st.team)
		if reads := cdb.gets.Load() - before; err != nil || got != st.want || reads != st.wantReads {
			t.Errorf("%s: got %d%% with %d reads, %v; want %d%% with %d", st.name, got, reads, err, st.want, st.wantReads)
		}
	}
}

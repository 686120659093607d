package lifecycledb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycledb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

// TestMain points the tests at the shared moto_server through the atomic
// proxy, as the stack runs: moto's conditional writes are not atomic.
func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) {
		p, err := motoserver.StartAtomicProxy(aws.ToString(cfg.BaseEndpoint))
		if err != nil {
			panic(err)
		}
		cfg.BaseEndpoint = aws.String(p.URL)
		awsCfg = cfg
	}))
}

// counter is the DynamoDB client with a count of the requests sent, by
// operation. unprocessed, when set, makes each BatchGetItem send only the
// first half of its keys and answer the rest as unprocessed.
type counter struct {
	*dynamodb.Client
	mu          sync.Mutex
	calls       map[string]int
	unprocessed bool
}

func (c *counter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *counter) setUnprocessed(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unprocessed = on
}

func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *counter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem")
	return c.Client.GetItem(ctx, in, o...)
}

func (c *counter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem")
	return c.Client.PutItem(ctx, in, o...)
}

func (c *counter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.add("UpdateItem")
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *counter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.add("BatchGetItem")
	c.mu.Lock()
	split := c.unprocessed
	c.mu.Unlock()
	if !split {
		return c.Client.BatchGetItem(ctx, in, o...)
	}
	sent := map[string]types.KeysAndAttributes{}
	left := map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		half := (len(ka.Keys) + 1) / 2
		s, l := ka, ka
		s.Keys, l.Keys = ka.Keys[:half], ka.Keys[half:]
		sent[table] = s
		if len(l.Keys) > 0 {
			left[table] = l
		}
	}
	out, err := c.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: sent}, o...)
	if err != nil {
		return nil, err
	}
	out.UnprocessedKeys = left
	return out, nil
}

type fixture struct {
	store *lifecycledb.Store
	db    *counter
	table string
	now   time.Time
}

// newFixture provisions a fresh stack (unique prefix) and returns the marks
// on its ledger table, on a fixed clock.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prov, err := runner.Provision(context.Background(), awsCfg, "life-"+hex.EncodeToString(b), runner.ProvisionOptions{ClientSecret: "x"})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	db := &counter{Client: dynamodb.NewFromConfig(awsCfg), calls: map[string]int{}}
	table := prov.Env[resources.EnvLedgerTable]
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := lifecycledb.New(db, table)
	s.Now = func() time.Time { return now }
	s.Backoff = time.Millisecond
	return &fixture{store: s, db: db, table: table, now: now}
}

// item reads an item as stored.
func (f *fixture) item(t *testing.T, team, email, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.Client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(f.table),
		Key: dynamotx.Key(ledgerdb.EmailPK(team, email), sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("read %s %s: %v", email, sk, err)
	}
	return out.Item
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)

func bounce(email, id string, at time.Time) lifecycle.Bounce {
	return lifecycle.Bounce{Email: email, EventID: id, At: at, Reason: "mailbox full",
		Record: event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001AAA"}}
}

// TestItemsExpire: a claim, a mark and a kept opt-out set expires_at to
// the item's retention after the write (the team's, else Retention, else
// ledger.DefaultRetention); noting an opt-out written, or a write refused
// by its condition, leaves it as it is.
func TestItemsExpire(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const team, email = "team_a", "ada@example.com"
	want := func(step, sk string, at time.Time, retention time.Duration, emails ...string) {
		t.Helper()
		addr := email
		if len(emails) > 0 {
			addr = emails[0]
		}
		it := f.item(t, team, addr, sk)
		if it == nil {
			t.Fatalf("%s: no %s item", step, sk)
		}
		if got, w := dynamotx.Int(it, resources.TTLAttribute), at.Add(retention).Unix(); got != w {
			t.Errorf("%s: %s expires_at %d; want %d (%s after the write)", step, sk, got, w, retention)
		}
	}
	b := bounce(email, "ev_1", t0)
	if _, err := f.store.ClaimBounces(ctx, team, []lifecycle.Bounce{b}); err != nil {
		t.Fatal(err)
	}
	want("claimed", ledgerdb.BounceSK, f.now, ledger.DefaultRetention)

	first := f.now
	f.store.Now = func() time.Time { return first.Add(time.Hour) }
	f.store.Retention = 30 * 24 * time.Hour
	if _, err := f.store.ClaimBounces(ctx, team, []lifecycle.Bounce{bounce(email, "ev_0", t0.Add(-time.Minute))}); err != nil {
		t.Fatal(err)
	}
	want("an older bounce refused", ledgerdb.BounceSK, first, ledger.DefaultRetention)
	if _, err := f.store.WroteBounces(ctx, team, []lifecycle.Bounce{b}); err != nil {
		t.Fatal(err)
	}
	want("written", ledgerdb.BounceSK, first.Add(time.Hour), 30*24*time.Hour)

	f.store.Now = func() time.Time { return first.Add(2 * time.Hour) }
	o := lifecycle.OptOut{Email: email, ContactID: "ct_1", EventID: "ev_5", At: t0}
	if _, err := f.store.KeepOptOuts(ctx, team, []lifecycle.OptOut{o}); err != nil {
		t.Fatal(err)
	}
	want("opt-out kept", ledgerdb.OptOutSK, first.Add(2*time.Hour), 30*24*time.Hour)
	f.store.Now = func() time.Time { return first.Add(3 * time.Hour) }
	f.store.Retention = 0
	if err := f.store.WroteOptOuts(ctx, team, map[string]string{email: "003000000000001AAA"}); err != nil {
		t.Fatal(err)
	}
	want("opt-out written: its expiry as kept", ledgerdb.OptOutSK, first.Add(2*time.Hour), 30*24*time.Hour)

	// A team's own retention on the bounce or opt-out wins over the store's.
	f.store.Now = func() time.Time { return first.Add(4 * time.Hour) }
	b7 := lifecycle.Bounce{Email: "bob@example.com", EventID: "ev_7", At: t0, Reason: "x", Retain: 45 * 24 * time.Hour,
		Record: b.Record}
	if _, err := f.store.ClaimBounces(ctx, team, []lifecycle.Bounce{b7}); err != nil {
		t.Fatal(err)
	}
	want("a bounce with the team's retention", ledgerdb.BounceSK, first.Add(4*time.Hour), 45*24*time.Hour, "bob@example.com")

	// The stored layout, as docs/tables.md lists it.
	it := f.item(t, team, email, ledgerdb.BounceSK)
	for name, wantV := range map[string]types.AttributeValue{
		"event_id": &types.AttributeValueMemberS{Value: "ev_1"},
		"at_ns":    &types.AttributeValueMemberN{Value: strconv.FormatInt(t0.UnixNano(), 10)},
		"reason":   &types.AttributeValueMemberS{Value: "mailbox full"},
		"object":   &types.AttributeValueMemberS{Value: "Contact"},
		"sf_id":    &types.AttributeValueMemberS{Value: "003000000000001AAA"},
		"written":  &types.AttributeValueMemberBOOL{Value: true},
	} {
		if !reflect.DeepEqual(it[name], wantV) {
			t.Errorf("BOUNCE %s: got %#v; want %#v", name, it[name], wantV)
		}
	}
	it = f.item(t, team, email, ledgerdb.OptOutSK)
	for name, wantV := range map[string]types.AttributeValue{
		"contact_id": &types.AttributeValueMemberS{Value: "ct_1"},
		"event_id":   &types.AttributeValueMemberS{Value: "ev_5"},
		"at_ns":      &types.AttributeValueMemberN{Value: strconv.FormatInt(t0.UnixNano(), 10)},
		"written":    &types.AttributeValueMemberSS{Value: []string{"003000000000001AAA"}},
	} {
		if !reflect.DeepEqual(it[name], wantV) {
			t.Errorf("OPTOUT %s: got %#v; want %#v", name, it[name], wantV)
		}
	}
}

// TestRequests: a call costs one write per email and no read, also where
// conditions refuse (the refusal returns the item found); an email with no
// opt-out gets no item from WroteOptOuts.
func TestRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const team = "team_a"
	var bs, older []lifecycle.Bounce
	for i := range 30 {
		email := fmt.Sprintf("p%02d@example.com", i)
		bs = append(bs, bounce(email, fmt.Sprintf("ev_%02d", i), t0))
		older = append(older, bounce(email, fmt.Sprintf("ev_old_%02d", i), t0.Add(-time.Hour)))
	}
	f.db.take()
	for _, step := range []struct {
		name string
		in   []lifecycle.Bounce
	}{{"first claims", bs}, {"older bounces, refused", older}, {"the same again, refused", bs}} {
		marks, err := f.store.ClaimBounces(ctx, team, step.in)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		for i, m := range marks {
			if m.EventID != bs[i].EventID || m.Email != bs[i].Email {
				t.Fatalf("%s: mark %d is %+v; want %s", step.name, i, m, bs[i].EventID)
			}
		}
		if got := f.db.take(); !reflect.DeepEqual(got, map[string]int{"PutItem": 30}) {
			t.Errorf("%s, 30 emails: got requests %v; want 30 PutItem and no read", step.name, got)
		}
	}
	if _, err := f.store.WroteBounces(ctx, team, append(older[:10:10], bs[10:]...)); err != nil {
		t.Fatal(err)
	}
	if got := f.db.take(); !reflect.DeepEqual(got, map[string]int{"UpdateItem": 30}) {
		t.Errorf("WroteBounces of 30 emails, 10 refused: got requests %v; want 30 UpdateItem", got)
	}

	outs := []lifecycle.OptOut{{Email: "ada@example.com", ContactID: "ct_1", EventID: "ev_1", At: t0}}
	if _, err := f.store.KeepOptOuts(ctx, team, outs); err != nil {
		t.Fatal(err)
	}
	outs[0].EventID = "ev_2"
	if kept, err := f.store.KeepOptOuts(ctx, team, outs); err != nil || kept[0].EventID != "ev_1" {
		t.Fatalf("KeepOptOuts again: got %+v, %v; want ev_1 kept", kept, err)
	}
	if got := f.db.take(); !reflect.DeepEqual(got, map[string]int{"PutItem": 2}) {
		t.Errorf("KeepOptOuts twice: got requests %v; want 2 PutItem and no read", got)
	}
	if err := f.store.WroteOptOuts(ctx, team, map[string]string{"ada@example.com": "003000000000001AAA", "nobody@example.com": "003000000000002AAA"}); err != nil {
		t.Fatal(err)
	}
	if got := f.db.take(); !reflect.DeepEqual(got, map[string]int{"UpdateItem": 2}) {
		t.Errorf("WroteOptOuts of 2 emails: got requests %v; want 2 UpdateItem", got)
	}
	if it := f.item(t, team, "nobody@example.com", ledgerdb.OptOutSK); it != nil {
		t.Errorf("WroteOptOuts of an email without an opt-out made an item: %v", it)
	}
	if m, err := f.store.WroteBounces(ctx, team, []lifecycle.Bounce{bounce("nobody@example.com", "ev_9", t0)}); err != nil || m[0] != (lifecycle.BounceMark{}) {
		t.Errorf("WroteBounces of an email without a mark: got %+v, %v; want the zero mark", m, err)
	}
	if it := f.item(t, team, "nobody@example.com", ledgerdb.BounceSK); it != nil {
		t.Errorf("WroteBounces of an email without a mark made an item: %v", it)
	}
}

// TestOptOutsInBatches: OptOuts reads 100 keys a call and resends the keys
// left unprocessed; emails are keyed normalized, and answered as given.
func TestOptOutsInBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const team = "team_a"
	var outs []lifecycle.OptOut
	var emails []string
	for i := range 250 {
		email := fmt.Sprintf("p%03d@example.com", i)
		emails = append(emails, email)
		if i%2 == 0 {
			outs = append(outs, lifecycle.OptOut{Email: email, ContactID: fmt.Sprintf("ct_%d", i), EventID: fmt.Sprintf("ev_%d", i), At: t0})
		}
	}
	if _, err := f.store.KeepOptOuts(ctx, team, outs); err != nil {
		t.Fatal(err)
	}
	emails = append(emails, " P000@Example.com")
	for _, c := range []struct {
		name        string
		unprocessed bool
	}{{"all processed", false}, {"half left unprocessed each time", true}} {
		f.db.setUnprocessed(c.unprocessed)
		f.db.take()
		got, err := f.store.OptOuts(ctx, team, emails)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := f.db.take()["BatchGetItem"]; c.unprocessed && n <= 3 || !c.unprocessed && n != 3 {
			t.Errorf("%s: %d BatchGetItem calls for 250 keys; want 3, and more when keys are left unprocessed", c.name, n)
		}
		if len(got) != 126 {
			t.Errorf("%s: got %d opt-outs; want 126 (125, and one email given twice)", c.name, len(got))
		}
		if o := got[" P000@Example.com"]; o.EventID != "ev_0" || o.Email != " P000@Example.com" || !o.At.Equal(t0) {
			t.Errorf("%s: the email not normalized: got %+v; want ev_0", c.name, o)
		}
		if o := got["p249@example.com"]; o.ContactID != "" {
			t.Errorf("%s: an email without an opt-out: got %+v", c.name, o)
		}
	}
}

// TestInputErrors: invalid input fails the call with an error naming the
// field, before any request.
func TestInputErrors(t *testing.T) {
	t.Parallel()
	s := lifecycledb.New(nil, "unused")
	ctx := context.Background()
	good := bounce("ada@example.com", "ev_1", t0)
	withEmail := func(e string) lifecycle.Bounce { b := good; b.Email = e; return b }
	withID := func(id string) lifecycle.Bounce { b := good; b.EventID = id; return b }
	noTime := good
	noTime.At = time.Time{}
	for _, c := range []struct {
		name, field string
		call        func() error
	}{
		{"team", "team_id", func() error { _, err := s.ClaimBounces(ctx, "", []lifecycle.Bounce{good}); return err }},
		{"team with #", "team_id", func() error { _, err := s.OptOuts(ctx, "a#b", nil); return err }},
		{"empty email", "bounces[1].email", func() error {
			_, err := s.ClaimBounces(ctx, "t1", []lifecycle.Bounce{good, withEmail("  ")})
			return err
		}},
		{"repeated email", "bounces[1].email", func() error {
			_, err := s.ClaimBounces(ctx, "t1", []lifecycle.Bounce{good, withEmail("ADA@example.com")})
			return err
		}},
		{"event id", "bounces[0].event_id", func() error { _, err := s.WroteBounces(ctx, "t1", []lifecycle.Bounce{withID("")}); return err }},
		{"time", "bounces[0].at", func() error { _, err := s.ClaimBounces(ctx, "t1", []lifecycle.Bounce{noTime}); return err }},
		{"opt-out email", "opt_outs[0].email", func() error {
			_, err := s.KeepOptOuts(ctx, "t1", []lifecycle.OptOut{{EventID: "ev_1", At: t0}})
			return err
		}},
		{"emails", "emails[0]", func() error { _, err := s.OptOuts(ctx, "t1", []string{""}); return err }},
		{"record id", "written", func() error {
			return s.WroteOptOuts(ctx, "t1", map[string]string{"ada@example.com": ""})
		}},
	} {
		err := c.call()
		var ie *lifecycledb.InputError
		if !errors.As(err, &ie) || ie.Field != c.field || !errors.Is(err, lifecycledb.ErrInvalid) {
			t.Errorf("%s: got %v; want an InputError of %s", c.name, err, c.field)
		}
	}
}

package ledgerdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

// TestMain points the tests at the shared moto_server through the atomic
// proxy, as the stack runs: moto's conditional writes and transactions are
// not atomic, and a transaction racing another write fails with a 500.
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

// counter is the DynamoDB client with a count of the requests sent.
type counter struct {
	*dynamodb.Client
	mu    sync.Mutex
	calls map[string]int
}

func (c *counter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *counter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.add("BatchGetItem")
	return c.Client.BatchGetItem(ctx, in, o...)
}

func (c *counter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.add("BatchWriteItem")
	return c.Client.BatchWriteItem(ctx, in, o...)
}

func (c *counter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.add("TransactWriteItems")
	return c.Client.TransactWriteItems(ctx, in, o...)
}

func (c *counter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem")
	return c.Client.PutItem(ctx, in, o...)
}

func (c *counter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.add("DeleteItem")
	return c.Client.DeleteItem(ctx, in, o...)
}

func (c *counter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.add("UpdateItem")
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *counter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem")
	return c.Client.GetItem(ctx, in, o...)
}

func (c *counter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.add("Query")
	return c.Client.Query(ctx, in, o...)
}

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	store  *ledgerdb.Store
	db     *counter
	clock  *clock
	table  string
	policy *policydb.Store
}

// newFixture provisions a fresh stack (unique prefix) and returns the ledger
// on its ledger table.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prov, err := runner.Provision(context.Background(), awsCfg, "ledger-"+hex.EncodeToString(b), runner.ProvisionOptions{ClientSecret: "x"})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	db := &counter{Client: dynamodb.NewFromConfig(awsCfg), calls: map[string]int{}}
	table := prov.Env[resources.EnvLedgerTable]
	clk := &clock{}
	clk.ns.Store(time.Now().UnixNano())
	s := ledgerdb.New(db, table)
	s.Now = clk.Now
	s.Backoff = time.Millisecond
	return &fixture{store: s, db: db, clock: clk, table: table, policy: policydb.New(db, prov.Env[resources.EnvPoliciesTable], table)}
}

func membership(team, seq, contact, eventID string, syncAs policy.SyncAs) ledger.Membership {
	return ledger.Membership{
		TeamID: team, SequenceID: seq, ContactID: contact, Email: contact + "@Example.com",
		Contact: event.Contact{ID: contact, Email: contact + "@Example.com", FirstName: "Ada", LastName: "Lovelace",
			Company: "Analytical Engines", Custom: map[string]string{"industry": "Computing"}},
		Policy:   policy.Effective{SyncAs: syncAs, Mode: policy.ModeOnReply, ActivityTracking: true, ActivityKinds: policy.DefaultActivityKinds(), TeamVersion: 3, SequenceVersion: 1},
		PinnedAt: time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC), EventID: eventID,
		Status: ledger.MemberPending, Reason: event.ReasonAwaitingReply,
	}
}

func TestPinMembershipFirstWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	first := membership("team_a", "seq_1", "ct_1", "evt_1", policy.SyncAsLead)
	second := membership("team_a", "seq_1", "ct_1", "evt_2", policy.SyncAsContact)
	second.Status, second.Reason = ledger.MemberSkipped, event.ReasonSyncOff

	got, err := f.store.PinMembership(ctx, first)
	if err != nil {
		t.Fatalf("first pin: %v", err)
	}
	if !reflect.DeepEqual(got, first) {
		t.Errorf("first pin: got %+v; want %+v", got, first)
	}
	f.db.take()
	got, err = f.store.PinMembership(ctx, second)
	if err != nil {
		t.Fatalf("second pin: %v", err)
	}
	if calls := f.db.take(); calls["GetItem"] != 0 {
		t.Errorf("second pin: got %v; want the winner from the failed condition, without a read", calls)
	}
	if !reflect.DeepEqual(got, first) {
		t.Errorf("second pin: got %+v; want the first %+v", got, first)
	}
	key := ledger.MemberKey{SequenceID: "seq_1", ContactID: "ct_1"}
	all, err := f.store.Memberships(ctx, "team_a", []ledger.MemberKey{key, {SequenceID: "seq_1", ContactID: "ct_none"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || !reflect.DeepEqual(all[key], first) {
		t.Errorf("memberships: got %+v; want only %+v", all, first)
	}
	if n, err := f.policy.CountMembers(ctx, "team_a", "seq_1"); err != nil || n != 1 {
		t.Errorf("policy store's member count: got %d, %v; want 1, nil", n, err)
	}

	// SetMembership changes status and record, never the pin.
	upd := second
	upd.Status, upd.Reason = ledger.MemberSynced, ""
	upd.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	if err := f.store.SetMembership(ctx, upd); err != nil {
		t.Fatalf("set membership: %v", err)
	}
	want := first
	want.Status, want.Reason, want.Salesforce = ledger.MemberSynced, "", upd.Salesforce
	all, err = f.store.Memberships(ctx, "team_a", []ledger.MemberKey{key})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(all[key], want) {
		t.Errorf("after set: got %+v; want %+v", all[key], want)
	}
	missing := membership("team_a", "seq_1", "ct_never", "evt_3", policy.SyncAsLead)
	if err := f.store.SetMembership(ctx, missing); !errors.Is(err, ledgerdb.ErrNoMembership) {
		t.Errorf("set of an unpinned membership: got %v; want ErrNoMembership", err)
	}

	// New says which pins this call stored: not the one pinned before, nor
	// the same pin again (a repeat after a lost answer).
	third := membership("team_a", "seq_1", "ct_3", "evt_4", policy.SyncAsLead)
	res, err := f.store.PinMemberships(ctx, []ledger.Membership{first, third, first})
	if err != nil {
		t.Fatal(err)
	}
	var news []bool
	for _, r := range res {
		news = append(news, r.New)
	}
	if want := []bool{false, true, false}; !reflect.DeepEqual(news, want) {
		t.Errorf("new pins: got %v; want %v", news, want)
	}
}

func TestConcurrentClaimHasOneWinner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = f.store.Claim(ctx, "team_a", "Ada@Example.com", fmt.Sprintf("evt_%d", i), f.clock.Now().Add(time.Minute))
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ledger.ErrClaimed):
			t.Errorf("claim %d: got %v; want nil or ErrClaimed", i, err)
		}
	}
	if won != 1 {
		t.Errorf("winners: got %d; want 1 (errors %v)", won, errs)
	}
}

func TestClaimLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	email := "Grace@Example.com"
	rec := ledger.Record{
		TeamID: "team_a", Email: email, Object: event.ObjectLead, ID: "00Q000000000001AAA", Status: event.StatusCreated,
		PolicyVersion: 2, MappingVersion: 1, SyncedAt: time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC), EventID: "evt_a", ContactID: "ct_g",
	}
	recOf := func(owner, id string) ledger.Record { r := rec; r.EventID, r.ID = owner, id; return r }

	steps := []struct {
		name    string
		do      func() error
		wantErr error // nil: success
	}{
		{"a claims", func() error { return s.Claim(ctx, "team_a", email, "evt_a", f.clock.Now().Add(time.Second)) }, nil},
		{"a claims again (its own claim)", func() error { return s.Claim(ctx, "team_a", email, "evt_a", f.clock.Now().Add(time.Second)) }, nil},
		{"b is refused while a holds it", func() error { return s.Claim(ctx, "team_a", email, "evt_b", f.clock.Now().Add(time.Second)) }, ledger.ErrClaimed},
		{"b may not save under a's claim", func() error { return s.SaveRecord(ctx, recOf("evt_b", "00Q000000000002AAA")) }, ledger.ErrClaimed},
		{"b's release leaves a's claim", func() error { return s.Unclaim(ctx, "team_a", email, "evt_b") }, nil},
		{"b is still refused", func() error { return s.Claim(ctx, "team_a", email, "evt_b", f.clock.Now().Add(time.Second)) }, ledger.ErrClaimed},
		{"a's claim expires", func() error { f.clock.Advance(2 * time.Second); return nil }, nil},
		{"b takes the expired claim", func() error { return s.Claim(ctx, "team_a", email, "evt_b", f.clock.Now().Add(time.Second)) }, nil},
		{"a, late, may not save", func() error { return s.SaveRecord(ctx, recOf("evt_a", "00Q000000000001AAA")) }, ledger.ErrClaimed},
		{"b releases", func() error { return s.Unclaim(ctx, "team_a", email, "evt_b") }, nil},
		{"c claims the released email", func() error { return s.Claim(ctx, "team_a", email, "evt_c", f.clock.Now().Add(time.Second)) }, nil},
		{"c saves", func() error { return s.SaveRecord(ctx, recOf("evt_c", "00Q000000000003AAA")) }, nil},
		{"c saves again (a lost answer)", func() error { return s.SaveRecord(ctx, recOf("evt_c", "00Q000000000003AAA")) }, nil},
		{"nobody saves another id", func() error { return s.SaveRecord(ctx, recOf("evt_d", "00Q000000000004AAA")) }, ledgerdb.ErrRecorded},
		{"nor c's id as another event's", func() error { return s.SaveRecord(ctx, recOf("evt_d", "00Q000000000003AAA")) }, ledgerdb.ErrRecorded},
		{"nobody claims a synced email", func() error { return s.Claim(ctx, "team_a", email, "evt_d", f.clock.Now().Add(time.Second)) }, ledgerdb.ErrRecorded},
		{"a synced email's claim is ErrClaimed too", func() error { return s.Claim(ctx, "team_a", email, "evt_d", f.clock.Now().Add(time.Second)) }, ledger.ErrClaimed},
	}
	for _, st := range steps {
		err := st.do()
		if (st.wantErr == nil) != (err == nil) || (st.wantErr != nil && !errors.Is(err, st.wantErr)) {
			t.Fatalf("%s: got %v; want %v", st.name, err, st.wantErr)
		}
	}
	var ce *ledgerdb.ClaimError
	f.clock.Advance(-3 * time.Second)
	_ = s.Claim(ctx, "team_a", "other@example.com", "evt_x", f.clock.Now().Add(time.Minute))
	if err := s.Claim(ctx, "team_a", "OTHER@example.com ", "evt_y", f.clock.Now().Add(time.Minute)); !errors.As(err, &ce) || ce.Owner != "evt_x" {
		t.Errorf("claim of a held email: got %v; want a *ClaimError naming evt_x", err)
	}

	got, err := s.Records(ctx, "team_a", []string{"GRACE@example.com", "other@example.com", "nobody@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := recOf("evt_c", "00Q000000000003AAA")
	want.Email = "grace@example.com"
	if len(got) != 1 || !reflect.DeepEqual(got["grace@example.com"], want) {
		t.Errorf("records: got %+v; want only grace@example.com: %+v", got, want)
	}
	// The contact view finds the record through the membership its
	// contact's outcome names.
	m := membership("team_a", "seq_1", "ct_g", "evt_c", policy.SyncAsLead)
	m.Email = "Grace@example.com"
	if _, err := s.PinMembership(ctx, m); err != nil {
		t.Fatal(err)
	}
	view, err := s.Contact(ctx, "team_a", "ct_g", 10)
	if err != nil || len(view.Records) != 0 {
		t.Errorf("contact view records before any outcome: got %+v, %v; want none", view.Records, err)
	}
	if err := s.RecordOutcomes(ctx, []event.Outcome{outcome("team_a", "evt_c", "ct_g", event.ContactOutcome, event.StatusCreated, f.clock.Now())}); err != nil {
		t.Fatal(err)
	}
	view, err = s.Contact(ctx, "team_a", "ct_g", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Records) != 1 || !reflect.DeepEqual(view.Records[0], want) {
		t.Errorf("contact view records: got %+v; want [%+v]", view.Records, want)
	}
}

// refsOf names the events of outs, with their contacts.
func refsOf(outs ...event.Outcome) []ledger.EventRef { return ledger.RefsOf(outs) }

// refs names events given as "<event>@<contact>".
func refs(pairs ...string) []ledger.EventRef {
	out := make([]ledger.EventRef, len(pairs))
	for i, p := range pairs {
		ev, contact, _ := strings.Cut(p, "@")
		out[i] = ledger.EventRef{EventID: ev, ContactID: contact}
	}
	return out
}

func outcome(team, eventID, contact string, typ event.OutcomeType, status event.Status, at time.Time) event.Outcome {
	o := event.Outcome{ID: "out_" + eventID, Type: typ, Version: event.Version, TeamID: team, EventID: eventID,
		ContactID: contact, SequenceID: "seq_1", Status: status, At: at.UTC()}
	switch status {
	case event.StatusCreated, event.StatusLinked, event.StatusExistsInSalesforce:
		obj := event.ObjectLead
		if typ == event.ActivityOutcome {
			obj = event.ObjectTask
		}
		o.Salesforce = &event.SalesforceRef{Object: obj, ID: "00Q0000000000" + fmt.Sprintf("%02d", len(eventID)%100) + "AAA"}
	case event.StatusFailed:
		o.Error = &event.OutcomeError{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: " + contact, Fields: []string{"Email"}}
	case event.StatusPending:
		o.Reason = event.ReasonAwaitingReply
	case event.StatusSkipped, event.StatusNotInSalesforce:
		if status == event.StatusSkipped {
			o.Reason = event.ReasonSequenceSyncDisabled
		}
	}
	return o
}

func TestOutcomesRoundTripAndReplacement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	first := []event.Outcome{
		outcome("team_a", "evt_created", "ct_1", event.ContactOutcome, event.StatusCreated, t0),
		outcome("team_a", "evt_linked", "ct_2", event.ContactOutcome, event.StatusLinked, t0.Add(1)),
		outcome("team_a", "evt_pending", "ct_3", event.ContactOutcome, event.StatusPending, t0.Add(2)),
		outcome("team_a", "evt_skipped", "ct_4", event.ContactOutcome, event.StatusSkipped, t0.Add(3)),
		outcome("team_a", "evt_failed", "ct_5", event.ContactOutcome, event.StatusFailed, t0.Add(4)),
		outcome("team_a", "evt_task", "ct_1", event.ActivityOutcome, event.StatusCreated, t0.Add(5)),
		outcome("team_a", "evt_dedup", "ct_6", event.DedupOutcome, event.StatusExistsInSalesforce, t0.Add(6)),
		outcome("team_a", "evt_nodup", "ct_7", event.DedupOutcome, event.StatusNotInSalesforce, t0.Add(7)),
	}
	if err := f.store.RecordOutcomes(ctx, first, ledger.Retaining(ledger.DefaultRetention)); err != nil {
		t.Fatalf("record: %v", err)
	}
	later := t0.Add(time.Hour)
	second := []event.Outcome{
		outcome("team_a", "evt_pending", "ct_3", event.ContactOutcome, event.StatusCreated, later), // pending -> final
		outcome("team_a", "evt_created", "ct_1", event.ContactOutcome, event.StatusFailed, later),  // final stays
		outcome("team_a", "evt_skipped", "ct_4", event.ContactOutcome, event.StatusPending, later), // final stays
		outcome("team_a", "evt_failed", "ct_5", event.ContactOutcome, event.StatusLinked, t0),      // older: ignored
		outcome("team_b", "evt_created", "ct_1", event.ContactOutcome, event.StatusSkipped, later), // another team's event
	}
	if err := f.store.RecordOutcomes(ctx, second, ledger.Retaining(ledger.DefaultRetention)); err != nil {
		t.Fatalf("record again: %v", err)
	}
	want := map[string]event.Outcome{}
	for _, o := range first {
		want[o.EventID] = o
	}
	want["evt_pending"] = second[0]
	asked := refsOf(first...)
	got, err := f.store.Outcomes(ctx, "team_a", append(asked, refs("evt_unknown@ct_1", "evt_created@ct_2")...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("outcomes: got %d; want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if err := g.Validate(); err != nil {
			t.Errorf("outcome %s read back: got invalid (%v); want valid", id, err)
		}
		if !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("outcome %s: got %+v; want %+v", id, g, w)
		}
	}
	b, err := f.store.Outcomes(ctx, "team_b", refs("evt_created@ct_1"))
	if err != nil || b["evt_created"].Status != event.StatusSkipped {
		t.Errorf("team_b's outcome: got %+v, %v; want its own skipped outcome", b, err)
	}

	// The contact index holds the replacement only, newest first.
	view, err := f.store.Contact(ctx, "team_a", "ct_3", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Outcomes) != 1 || !reflect.DeepEqual(view.Outcomes[0], second[0]) {
		t.Errorf("ct_3's outcomes: got %+v; want only %+v", view.Outcomes, second[0])
	}
	view, err = f.store.Contact(ctx, "team_a", "ct_1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Outcomes) != 1 || view.Outcomes[0].EventID != "evt_task" || !view.More {
		t.Errorf("ct_1's newest outcome: got %+v more=%v; want evt_task and more", view.Outcomes, view.More)
	}

	// Outcomes expire after the TTL, even before DynamoDB deletes them; a
	// contact outcome is kept as long as the retention given (here the
	// default): the membership its event pinned is found through it.
	f.clock.Advance(ledgerdb.OutcomeTTL + time.Minute)
	got, err = f.store.Outcomes(ctx, "team_a", asked)
	if err != nil || len(got) != 5 || got["evt_task"].EventID != "" || got["evt_dedup"].EventID != "" {
		t.Errorf("after the TTL: got %d outcomes (%v), %v; want the 5 contact outcomes", len(got), got, err)
	}
	f.clock.Advance(ledger.DefaultRetention - ledgerdb.OutcomeTTL)
	got, err = f.store.Outcomes(ctx, "team_a", asked)
	if err != nil || len(got) != 0 {
		t.Errorf("after the retention: got %d outcomes, %v; want none", len(got), err)
	}
}

func TestRecordOutcomesReportsBadOnesAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	good := outcome("team_a", "evt_good", "ct_1", event.ContactOutcome, event.StatusCreated, at)
	noError := outcome("team_a", "evt_bad", "ct_2", event.ContactOutcome, event.StatusFailed, at)
	noError.Error = nil
	badTeam := outcome("team#x", "evt_bad2", "ct_3", event.ContactOutcome, event.StatusCreated, at)
	err := f.store.RecordOutcomes(ctx, []event.Outcome{noError, good, badTeam})
	var ie *ledgerdb.InputError
	if !errors.As(err, &ie) || ie.Field != "outcomes[0].error" {
		t.Errorf("got %v; want an *InputError naming outcomes[0].error", err)
	}
	if err == nil || !errors.Is(err, ledgerdb.ErrInvalid) {
		t.Errorf("got %v; want ErrInvalid", err)
	}
	if err != nil && !strings.Contains(err.Error(), "outcomes[2].team_id") {
		t.Errorf("got %v; want it to name outcomes[2].team_id", err)
	}
	got, err := f.store.Outcomes(ctx, "team_a", refsOf(good, noError))
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got["evt_good"], good) {
		t.Errorf("got %+v, %v; want only the valid outcome stored", got, err)
	}
}

func failuresOf(t *testing.T, s *ledgerdb.Store, team string) map[string][]string {
	t.Helper()
	groups, complete, err := s.Failures(context.Background(), team, 100)
	if err != nil || !complete {
		t.Fatalf("failures: %v complete=%v", err, complete)
	}
	out := map[string][]string{}
	for _, g := range groups {
		if g.Count != len(g.Failures) {
			t.Errorf("group %s: got count %d; want %d", g.Code, g.Count, len(g.Failures))
		}
		for _, fl := range g.Failures {
			out[g.Code] = append(out[g.Code], fl.ContactID+"/"+fl.EventID)
		}
	}
	return out
}

// TestFailureIndexAppearsAndClears runs the same steps with the open
// failures read from the failure index in one query, and from the
// contacts' FAILURES sets (an index of more than a page; here a page is
// one item).
func TestFailureIndexAppearsAndClears(t *testing.T) {
	t.Parallel()
	for _, page := range []int32{0, 1} {
		t.Run(fmt.Sprintf("page %d", page), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			s := f.store
			s.FailurePage = page
			t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			failed := func(eventID, contact string, typ event.OutcomeType, code string, at time.Time) event.Outcome {
				o := outcome("team_a", eventID, contact, typ, event.StatusFailed, at)
				o.Error.Code = code
				return o
			}
			steps := []struct {
				name   string
				record []event.Outcome
				want   map[string][]string
			}{
				{"failures appear", []event.Outcome{
					failed("e1", "ct_1", event.ContactOutcome, "INVALID_EMAIL_ADDRESS", t0),
					failed("e2", "ct_2", event.ContactOutcome, "REQUIRED_FIELD_MISSING", t0),
					failed("e3", "ct_2", event.ActivityOutcome, "STRING_TOO_LONG", t0),
				}, map[string][]string{"INVALID_EMAIL_ADDRESS": {"ct_1/e1"}, "REQUIRED_FIELD_MISSING": {"ct_2/e2"}, "STRING_TOO_LONG": {"ct_2/e3"}}},
				{"a second failure of ct_1 adds", []event.Outcome{
					failed("e4", "ct_1", event.ContactOutcome, "INVALID_EMAIL_ADDRESS", t0.Add(time.Minute)),
				}, map[string][]string{"INVALID_EMAIL_ADDRESS": {"ct_1/e4", "ct_1/e1"}, "REQUIRED_FIELD_MISSING": {"ct_2/e2"}, "STRING_TOO_LONG": {"ct_2/e3"}}},
				{"an older success does not clear a newer failure", []event.Outcome{
					outcome("team_a", "e5", "ct_1", event.ContactOutcome, event.StatusLinked, t0.Add(30*time.Second)),
				}, map[string][]string{"INVALID_EMAIL_ADDRESS": {"ct_1/e4"}, "REQUIRED_FIELD_MISSING": {"ct_2/e2"}, "STRING_TOO_LONG": {"ct_2/e3"}}},
				{"a contact success clears ct_2's contact failure, not its activity failure", []event.Outcome{
					outcome("team_a", "e6", "ct_2", event.ContactOutcome, event.StatusCreated, t0.Add(time.Hour)),
				}, map[string][]string{"INVALID_EMAIL_ADDRESS": {"ct_1/e4"}, "STRING_TOO_LONG": {"ct_2/e3"}}},
				{"a failure and a later success in one batch leave nothing", []event.Outcome{
					failed("e7", "ct_3", event.ContactOutcome, "DUPLICATES_DETECTED", t0),
					outcome("team_a", "e8", "ct_3", event.ContactOutcome, event.StatusLinked, t0.Add(time.Second)),
				}, map[string][]string{"INVALID_EMAIL_ADDRESS": {"ct_1/e4"}, "STRING_TOO_LONG": {"ct_2/e3"}}},
				{"a retried failed event that ends well clears itself", []event.Outcome{
					outcome("team_a", "e4", "ct_1", event.ContactOutcome, event.StatusCreated, t0.Add(2*time.Hour)),
					outcome("team_a", "e9", "ct_2", event.ActivityOutcome, event.StatusCreated, t0.Add(2*time.Hour)),
				}, map[string][]string{}},
			}
			for _, st := range steps {
				if err := s.RecordOutcomes(ctx, st.record); err != nil {
					t.Fatalf("%s: record: %v", st.name, err)
				}
				if got := failuresOf(t, s, "team_a"); !reflect.DeepEqual(got, st.want) {
					t.Errorf("%s: got %v; want %v", st.name, got, st.want)
				}
			}
			if got := failuresOf(t, s, "team_b"); len(got) != 0 {
				t.Errorf("team_b's failures: got %v; want none", got)
			}
		})
	}
}

func TestBatchesBeyondOneCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	const n = 130 // > 100 keys a BatchGetItem, > 25 items a BatchWriteItem
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var outs []event.Outcome
	var ids, emails []string
	var keys []ledger.MemberKey
	for i := range n {
		c := fmt.Sprintf("ct_%03d", i)
		outs = append(outs, outcome("team_a", fmt.Sprintf("evt_%03d", i), c, event.ContactOutcome, event.StatusCreated, t0.Add(time.Duration(i))))
		ids = append(ids, fmt.Sprintf("evt_%03d", i))
		emails = append(emails, c+"@example.com")
		keys = append(keys, ledger.MemberKey{SequenceID: "seq_1", ContactID: c})
	}
	// Set up the memberships and records with a few writers at once.
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				c := keys[i].ContactID
				if _, err := s.PinMembership(ctx, membership("team_a", "seq_1", c, "evt_add", policy.SyncAsLead)); err != nil {
					errs <- err
				}
				if err := s.SaveRecord(ctx, ledger.Record{TeamID: "team_a", Email: emails[i], Object: event.ObjectContact, ID: "003000000000001AAA",
					Status: event.StatusLinked, MatchRule: "contact", SyncedAt: t0, EventID: ids[i], ContactID: c}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("set up: %v", err)
	}
	f.db.take()
	if err := s.RecordOutcomes(ctx, outs); err != nil {
		t.Fatal(err)
	}
	rec := f.db.take()
	got, err := s.Outcomes(ctx, "team_a", refsOf(outs...))
	if err != nil || len(got) != n {
		t.Fatalf("outcomes: got %d, %v; want %d", len(got), err, n)
	}
	members, err := s.Memberships(ctx, "team_a", keys)
	if err != nil || len(members) != n {
		t.Fatalf("memberships: got %d, %v; want %d", len(members), err, n)
	}
	records, err := s.Records(ctx, "team_a", emails)
	if err != nil || len(records) != n {
		t.Fatalf("records: got %d, %v; want %d", len(records), err, n)
	}
	reads := f.db.take()
	// One query of the failure index (no FAILURES item and no outcome item
	// is read); 130 outcome items, each a conditional PutItem of its own,
	// at half the write units of a transaction (the contact index is
	// DynamoDB's to keep).
	wantRec := map[string]int{"Query": 1, "PutItem": n}
	if !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("RecordOutcomes(%d) requests: got %v; want %v", n, rec, wantRec)
	}
	if want := map[string]int{"BatchGetItem": 6}; !reflect.DeepEqual(reads, want) {
		t.Errorf("reads of %d outcomes, memberships and records: got %v; want %v", n, reads, want)
	}
	t.Logf("DynamoDB requests for %d contacts: RecordOutcomes %v; Outcomes+Memberships+Records %v", n, rec, reads)
}

func TestBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	future := f.clock.Now().Add(time.Minute)
	okRec := ledger.Record{TeamID: "team_a", Email: "a@example.com", Object: event.ObjectLead, ID: "00Q000000000001AAA",
		Status: event.StatusCreated, SyncedAt: future, EventID: "evt_1", ContactID: "ct_1"}
	with := func(mut func(*ledger.Record)) ledger.Record { r := okRec; mut(&r); return r }
	badMember := membership("team_a", "seq#1", "ct_1", "evt_1", policy.SyncAsLead)
	tests := []struct {
		name  string
		do    func() error
		field string
	}{
		{"claim without team", func() error { return s.Claim(ctx, "", "a@example.com", "evt_1", future) }, "team_id"},
		{"claim with empty email", func() error { return s.Claim(ctx, "team_a", "  ", "evt_1", future) }, "email"},
		{"claim with control characters", func() error { return s.Claim(ctx, "team_a", "a\x00@example.com", "evt_1", future) }, "email"},
		{"claim in the past", func() error { return s.Claim(ctx, "team_a", "a@example.com", "evt_1", future.Add(-time.Hour)) }, "until"},
		{"claim with a bad owner", func() error { return s.Claim(ctx, "team_a", "a@example.com", "", future) }, "owner"},
		{"records with a bad email", func() error { _, err := s.Records(ctx, "team_a", []string{"ok@x.io", ""}); return err }, "emails[1]"},
		{"outcomes with a bad id", func() error { _, err := s.Outcomes(ctx, "team_a", refs("evt#1@ct_1")); return err }, "events[0].event_id"},
		{"outcomes with a bad contact", func() error { _, err := s.Outcomes(ctx, "team_a", refs("evt_1@ct_1", "evt_2@ct#2")); return err }, "events[1].contact_id"},
		{"memberships with a bad key", func() error {
			_, err := s.Memberships(ctx, "team_a", []ledger.MemberKey{{SequenceID: "s", ContactID: ""}})
			return err
		}, "keys[0].contact_id"},
		{"pin with a bad sequence", func() error { _, err := s.PinMembership(ctx, badMember); return err }, "sequence_id"},
		{"save a Task", func() error {
			return s.SaveRecord(ctx, with(func(r *ledger.Record) { r.Object = event.ObjectTask }))
		}, "object"},
		{"save a bad id", func() error { return s.SaveRecord(ctx, with(func(r *ledger.Record) { r.ID = "x'; drop" })) }, "id"},
		{"save a pending status", func() error {
			return s.SaveRecord(ctx, with(func(r *ledger.Record) { r.Status = event.StatusPending }))
		}, "status"},
		{"save without time", func() error { return s.SaveRecord(ctx, with(func(r *ledger.Record) { r.SyncedAt = time.Time{} })) }, "synced_at"},
		{"contact view limit", func() error { _, err := s.Contact(ctx, "team_a", "ct_1", 0); return err }, "limit"},
	}
	for _, tt := range tests {
		err := tt.do()
		var ie *ledgerdb.InputError
		if !errors.As(err, &ie) || ie.Field != tt.field || !errors.Is(err, ledgerdb.ErrInvalid) {
			t.Errorf("%s: got %v; want an *InputError naming %s", tt.name, err, tt.field)
		}
	}
	if calls := f.db.take(); len(calls) != 0 {
		t.Errorf("requests sent for bad input: got %v; want none", calls)
	}
}

func TestSaveRecordUnderTheWorkersOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	one, two := *f.store, *f.store
	one.Owner, two.Owner = "contactsync-ONE", "contactsync-TWO"
	rec := func(email string) ledger.Record {
		return ledger.Record{TeamID: "team_a", Email: email, Object: event.ObjectContact, ID: "003000000000001AAA",
			Status: event.StatusCreated, SyncedAt: f.clock.Now(), EventID: "evt_1", ContactID: "ct_1"}
	}
	link := func(email string) ledger.Record {
		r := rec(email)
		r.Status, r.MatchRule = event.StatusLinked, "contact"
		return r
	}
	until := f.clock.Now().Add(time.Minute)
	tests := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"worker one claims", func() error { return one.Claim(ctx, "team_a", "a@example.com", one.Owner, until) }, nil},
		{"worker two may not save it", func() error { return two.SaveRecord(ctx, rec("a@example.com")) }, ledger.ErrClaimed},
		{"nor may the event id save it", func() error { return f.store.SaveRecord(ctx, rec("a@example.com")) }, ledger.ErrClaimed},
		{"worker one saves it", func() error { return one.SaveRecord(ctx, rec("a@example.com")) }, nil},
		{"an unclaimed email saves", func() error { return two.SaveRecord(ctx, rec("b@example.com")) }, nil},
		{"worker one claims a third", func() error { return one.Claim(ctx, "team_a", "c@example.com", one.Owner, until) }, nil},
		{"worker two may not link it while the claim lasts", func() error { return two.SaveRecord(ctx, rec("c@example.com")) }, ledger.ErrClaimed},
		{"worker one dies and its claim expires", func() error { f.clock.Advance(2 * time.Minute); return nil }, nil},
		{"worker two links it over the expired claim", func() error { return two.SaveRecord(ctx, rec("c@example.com")) }, nil},
		{"a link found in Salesforce saves where the email has none", func() error { return two.SaveRecord(ctx, link("d@example.com")) }, nil},
		{"the same link again names the record saved", func() error { return one.SaveRecord(ctx, link("d@example.com")) }, ledgerdb.ErrRecorded},
		{"a link over a created record names it", func() error { return two.SaveRecord(ctx, link("a@example.com")) }, ledgerdb.ErrRecorded},
		{"worker one, back late, may not save another id", func() error {
			r := rec("c@example.com")
			r.ID = "003000000000002AAA"
			return one.SaveRecord(ctx, r)
		}, ledgerdb.ErrRecorded},
	}
	for _, tt := range tests {
		err := tt.do()
		if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
			t.Fatalf("%s: got %v; want %v", tt.name, err, tt.wantErr)
		}
	}
	got, err := f.store.Records(ctx, "team_a", []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"})
	if err != nil || len(got) != 4 || got["c@example.com"].ID != "003000000000001AAA" || got["d@example.com"].Status != event.StatusLinked {
		t.Errorf("records: got %+v, %v; want all four, c's saved by worker two, d's linked", got, err)
	}
}

// TestRecordOutcomesInParts: a batch larger than one part is written part
// after part, as if by calls in a row: a failure in the first part is
// cleared by its contact's later success in the second.
func TestRecordOutcomesInParts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	fail := outcome("team_a", "e_fail", "ct_x", event.ContactOutcome, event.StatusFailed, t0)
	fail.Error.Code = "INVALID_EMAIL_ADDRESS"
	outs := []event.Outcome{fail}
	ids := []string{"e_fail"}
	for i := range 520 {
		id := fmt.Sprintf("e_%03d", i)
		outs = append(outs, outcome("team_a", id, fmt.Sprintf("ct_%03d", i), event.ContactOutcome, event.StatusCreated, t0))
		ids = append(ids, id)
	}
	outs = append(outs, outcome("team_a", "e_ok", "ct_x", event.ContactOutcome, event.StatusCreated, t0.Add(time.Second)))
	ids = append(ids, "e_ok")
	if err := s.RecordOutcomes(ctx, outs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outcomes(ctx, "team_a", refsOf(outs...))
	if err != nil || len(got) != len(ids) {
		t.Fatalf("outcomes: got %d, %v; want %d", len(got), err, len(ids))
	}
	if f := failuresOf(t, s, "team_a"); len(f) != 0 {
		t.Errorf("failures: got %v; want none (ct_x succeeded later)", f)
	}
}

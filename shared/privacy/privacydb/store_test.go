package privacydb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycledb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/privacy/privacydb"
	"github.com/sfsync/sfsync/shared/privacy/privacytest"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

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

// stack is a provisioned stack's three tables.
type stack struct {
	db                        *dynamodb.Client
	connections, policies, ll string
}

func newStack(t *testing.T) stack {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prov, err := runner.Provision(context.Background(), awsCfg, "priv-"+hex.EncodeToString(b), runner.ProvisionOptions{ClientSecret: "x"})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return stack{db: dynamodb.NewFromConfig(awsCfg), connections: prov.Env[resources.EnvConnectionsTable],
		policies: prov.Env[resources.EnvPoliciesTable], ll: prov.Env[resources.EnvLedgerTable]}
}

func (s stack) store() *privacydb.Store {
	return &privacydb.Store{DB: s.db, Table: s.ll, Backoff: time.Millisecond}
}

// fixture writes a person's items through the ledger's own writers:
// ledgerdb (memberships, records, claims, outcomes), activitydb (logged
// Tasks, held activity) and lifecycledb (opt-outs, bounces).
type fixture struct {
	ledger    *ledgerdb.Store
	activity  *activitydb.Store
	lifecycle *lifecycledb.Store
	at        time.Time
}

func (s stack) fixture() *fixture {
	return &fixture{ledger: ledgerdb.New(s.db, s.ll), activity: &activitydb.Store{DB: s.db, Table: s.ll},
		lifecycle: lifecycledb.New(s.db, s.ll), at: time.Now().UTC().Truncate(time.Second)}
}

var _ privacytest.Fixture = (*fixture)(nil)

func (f *fixture) Membership(ctx context.Context, team, seq, contact, email string) error {
	id := "evt_add_" + seq + "_" + contact
	if _, err := f.ledger.PinMembership(ctx, ledger.Membership{TeamID: team, SequenceID: seq, ContactID: contact, Email: email,
		Contact: event.Contact{ID: contact, Email: email, LastName: "Lovelace"}, PinnedAt: f.at, EventID: id,
		Status: ledger.MemberPending, Reason: event.ReasonAwaitingReply}); err != nil {
		return err
	}
	return f.ledger.RecordOutcomes(ctx, []event.Outcome{{ID: "out_" + id, Type: event.ContactOutcome, Version: event.Version, TeamID: team,
		EventID: id, ContactID: contact, SequenceID: seq, Status: event.StatusPending, Reason: event.ReasonAwaitingReply, At: f.at}})
}

func (f *fixture) Record(ctx context.Context, team, email, contact, object, id string) error {
	return f.ledger.SaveRecord(ctx, ledger.Record{TeamID: team, Email: email, Object: event.SalesforceObject(object), ID: id,
		Status: event.StatusCreated, SyncedAt: f.at, EventID: "evt_rec_" + contact, ContactID: contact})
}

func (f *fixture) LinkedRecord(ctx context.Context, team, email, contact, object, id string) error {
	return f.ledger.SaveRecord(ctx, ledger.Record{TeamID: team, Email: email, Object: event.SalesforceObject(object), ID: id,
		Status: event.StatusLinked, MatchRule: "lead", SyncedAt: f.at, EventID: "evt_rec_" + contact, ContactID: contact})
}

func (f *fixture) Claim(ctx context.Context, team, email string) error {
	return f.ledger.Claim(ctx, team, email, "worker-1", time.Now().Add(time.Minute))
}

func (f *fixture) Outcome(ctx context.Context, team, eventID, contact string, failed bool) error {
	o := event.Outcome{ID: "out_" + eventID, Type: event.ContactOutcome, Version: event.Version, TeamID: team, EventID: eventID,
		ContactID: contact, SequenceID: "seq_a", Status: event.StatusPending, Reason: event.ReasonAwaitingReply, At: f.at}
	if failed {
		o.Status, o.Reason, o.At = event.StatusFailed, "", f.at.Add(time.Second)
		o.Error = &event.OutcomeError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "no competitors"}
	}
	return f.ledger.RecordOutcomes(ctx, []event.Outcome{o})
}

func (f *fixture) OutcomeOnRecord(ctx context.Context, team, eventID, contact, email string) error {
	return f.ledger.RecordOutcomes(ctx, []event.Outcome{{ID: "out_" + eventID, Type: event.ContactOutcome, Version: event.Version, TeamID: team,
		EventID: eventID, ContactID: contact, SequenceID: "seq_gone", Status: event.StatusLinked, At: f.at,
		Salesforce: &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000005AAA"}}}, ledger.WithEmails(map[string]string{eventID: email}))
}

func (f *fixture) Activity(ctx context.Context, team, key, contact, taskID string) error {
	res, err := f.activity.ClaimAll(ctx, team, []activitysync.ClaimRequest{{Key: key, EventID: "evt_act_" + key}}, "worker-1", time.Now().Add(time.Minute))
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	errs, err := f.activity.DoneAll(ctx, team, "worker-1", []activitysync.LoggedTask{{Key: key, TaskID: taskID}})
	if err != nil {
		return err
	}
	if errs[0] != nil {
		return errs[0]
	}
	id := "evt_act_" + key
	return f.ledger.RecordOutcomes(ctx, []event.Outcome{{ID: "out_" + id, Type: event.ActivityOutcome, Version: event.Version, TeamID: team,
		EventID: id, ContactID: contact, SequenceID: "seq_a", Status: event.StatusCreated, At: f.at,
		Salesforce: &event.SalesforceRef{Object: event.ObjectTask, ID: taskID}}}, ledger.WithActivities(map[string]string{id: key}))
}

func (f *fixture) Held(ctx context.Context, team, seq, contact, eventID string) error {
	ev := event.Event{ID: eventID, Type: event.EmailSent, Version: event.Version, OccurredAt: f.at, TeamID: team,
		Data: event.EmailData{Sequence: event.Sequence{ID: seq, Name: seq}, Contact: event.ContactRef{ID: contact, Email: contact + "@example.com"},
			Message: event.Message{ID: "msg_" + eventID, Subject: "Hello", Step: 1, SentAt: f.at}}}
	return f.activity.Hold(ctx, team, ledger.MemberKey{SequenceID: seq, ContactID: contact}, ev, 0)
}

func (f *fixture) OptOut(ctx context.Context, team, email, contact string) error {
	_, err := f.lifecycle.KeepOptOuts(ctx, team, []lifecycle.OptOut{{Email: email, ContactID: contact, EventID: "evt_unsub_" + contact, At: f.at}})
	return err
}

func (f *fixture) Bounce(ctx context.Context, team, email string) error {
	_, err := f.lifecycle.ClaimBounces(ctx, team, []lifecycle.Bounce{{Email: email, EventID: "evt_bounce", At: f.at, Reason: "550"}})
	return err
}

// TestConformance holds the DynamoDB store to the rules the memory store
// keeps (privacytest.Run), on items the ledger's own writers wrote.
func TestConformance(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	privacytest.Run(t, func(*testing.T) (privacy.Store, privacytest.Fixture) { return s.store(), s.fixture() })
}

func TestReceipts(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	privacytest.RunReceipts(t, func(*testing.T) privacy.Receipts { return &privacydb.Receipts{DB: s.db, Table: s.ll} })
}

// TestReceiptItem: the receipt's item is keyed by its team and id,
// expires three years after the erasure, and holds no identifier.
func TestReceiptItem(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	rc := privacytest.SampleReceipt("team_rcpt")
	if err := (&privacydb.Receipts{DB: s.db, Table: s.ll}).Save(ctx, rc); err != nil {
		t.Fatal(err)
	}
	if got := privacydb.ReceiptPK("team_rcpt", rc.ID); got != "TEAM#team_rcpt#ERASURE#"+rc.ID {
		t.Errorf("ReceiptPK: got %s", got)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.ll), Key: dynamotx.Key(privacydb.ReceiptPK("team_rcpt", rc.ID), privacydb.ReceiptSK)})
	if err != nil || len(out.Item) == 0 {
		t.Fatalf("receipt item: got %v, %v", out, err)
	}
	if got, want := dynamotx.Int(out.Item, resources.TTLAttribute), rc.At.Add(3*365*24*time.Hour).Unix(); got != want {
		t.Errorf("expires_at: got %d; want %d (three years after the erasure)", got, want)
	}
	body := dynamotx.String(out.Item, "receipt")
	for _, secret := range []string{"ada@example.com", "ct_ada", "team_rcpt"} {
		if strings.Contains(body, secret) {
			t.Errorf("receipt item: got %q in %s; want hashes only", secret, body)
		}
	}
}

// flaky leaves the first item of every other BatchWriteItem unprocessed.
type flaky struct {
	privacydb.API
	mu     sync.Mutex
	writes []int
}

func (f *flaky) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	n := 0
	for _, ws := range in.RequestItems {
		n += len(ws)
	}
	f.writes = append(f.writes, n)
	leave := len(f.writes)%2 == 1
	f.mu.Unlock()
	if !leave {
		return f.API.BatchWriteItem(ctx, in, opts...)
	}
	out := &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{}}
	for table, ws := range in.RequestItems {
		if _, err := f.API.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: ws[1:]}}, opts...); err != nil {
			return nil, err
		}
		out.UnprocessedItems[table] = ws[:1]
	}
	return out, nil
}

// TestDeleteBatchesOf25 deletes 60 items: three batches of at most 25,
// each item left unprocessed once sent again, and every item gone.
func TestDeleteBatchesOf25(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	f := s.fixture()
	for i := range 60 {
		if err := f.Outcome(ctx, "team_many", "evt_"+strconv.Itoa(i), "ct_many", false); err != nil {
			t.Fatal(err)
		}
	}
	st := s.store()
	items, err := st.ContactItems(ctx, "team_many", "ct_many")
	if err != nil || len(items) != 60 {
		t.Fatalf("ContactItems: got %d, %v; want 60", len(items), err)
	}
	fl := &flaky{API: s.db}
	st.DB = fl
	if err := st.Delete(ctx, "team_many", items); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, want := fmtInts(fl.writes), "[25 1 25 1 10 1]"; got != want {
		t.Errorf("BatchWriteItem sizes: got %v; want %s", fl.writes, want)
	}
	if left, err := s.store().ContactItems(ctx, "team_many", "ct_many"); err != nil || len(left) != 0 {
		t.Errorf("after Delete: got %d items, %v; want none", len(left), err)
	}
}

func fmtInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestDeleteRefusesAnotherTeamsKeys: nothing is deleted when one key is
// not the team's, a team whose id extends the other's included.
func TestDeleteRefusesAnotherTeamsKeys(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	for _, tt := range []struct{ name, pk string }{
		{"another team", ledgerdb.EventPK("team_b", "evt_1")},
		{"a longer team id", ledgerdb.EventPK("team_ab", "evt_1")},
		{"no team", "STATE#x"},
	} {
		err := s.store().Delete(ctx, "team_a", []privacy.Item{{PK: ledgerdb.EventPK("team_a", "evt_1"), SK: "OUTCOME"}, {PK: tt.pk, SK: "OUTCOME"}})
		if !errors.Is(err, privacy.ErrInvalid) {
			t.Errorf("%s: got %v; want ErrInvalid", tt.name, err)
		}
	}
}

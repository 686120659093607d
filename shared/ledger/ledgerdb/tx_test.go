package ledgerdb_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/policy"
)

func record(team, email, eventID, contactID, id string) ledger.Record {
	return ledger.Record{TeamID: team, Email: email, Object: event.ObjectLead, ID: id, Status: event.StatusCreated,
		MatchRule: "created", PolicyVersion: 1, SyncedAt: time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC), EventID: eventID, ContactID: contactID}
}

// TestClaimAllConflictInTheMiddle: one email of a batch held by another
// owner and one already synced get their own errors, read from the item
// each refused write found (ALL_OLD) without a GetItem; the others are
// claimed, each by its own conditional write.
func TestClaimAllConflictInTheMiddle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	until := f.clock.Now().Add(time.Minute)
	if err := s.Claim(ctx, "team_a", "held@example.com", "w2", until); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, "team_a", "synced@example.com", "w1", until); err != nil {
		t.Fatal(err)
	}
	s.Owner = "w1"
	if err := s.SaveRecord(ctx, record("team_a", "synced@example.com", "evt_0", "ct_0", "00Q000000000009AAA")); err != nil {
		t.Fatal(err)
	}
	f.db.take()
	emails := []string{"a@example.com", "Held@example.com", "b@example.com", "synced@example.com", "c@example.com"}
	errs, err := s.ClaimAll(ctx, "team_a", emails, "w1", until)
	if err != nil {
		t.Fatal(err)
	}
	if calls, want := f.db.take(), map[string]int{"PutItem": 5}; !reflect.DeepEqual(calls, want) {
		t.Errorf("requests: got %v; want %v (one conditional write per email, no read)", calls, want)
	}
	var ce *ledgerdb.ClaimError
	var re *ledgerdb.RecordedError
	cases := []struct {
		email string
		check func(error) bool
		want  string
	}{
		{"a@example.com", func(err error) bool { return err == nil }, "nil"},
		{"Held@example.com", func(err error) bool {
			return errors.As(err, &ce) && ce.Owner == "w2" && errors.Is(err, ledger.ErrClaimed)
		}, "a ClaimError naming w2"},
		{"b@example.com", func(err error) bool { return err == nil }, "nil"},
		{"synced@example.com", func(err error) bool {
			return errors.As(err, &re) && re.Record.ID == "00Q000000000009AAA" && errors.Is(err, ledger.ErrClaimed)
		}, "a RecordedError with the record"},
		{"c@example.com", func(err error) bool { return err == nil }, "nil"},
	}
	for i, tc := range cases {
		if !tc.check(errs[i]) {
			t.Errorf("%s: got %v; want %s", tc.email, errs[i], tc.want)
		}
	}
	// The claims taken are w1's: another owner is refused, w1 may take them again.
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if err := s.Claim(ctx, "team_a", email, "w3", until); !errors.Is(err, ledger.ErrClaimed) {
			t.Errorf("%s claimed by w3: got %v; want ErrClaimed", email, err)
		}
	}
	again, err := s.ClaimAll(ctx, "team_a", []string{"a@example.com", "b@example.com", "c@example.com"}, "w1", until)
	if err != nil || !reflect.DeepEqual(again, []error{nil, nil, nil}) {
		t.Errorf("w1 claims again: got %v, %v; want no errors", again, err)
	}
}

// TestPinMembershipsKeepTheFirstPin: a re-pin returns the stored membership,
// and of two pins of one membership in a batch the first is stored and
// returned for both.
func TestPinMembershipsKeepTheFirstPin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	first := membership("team_a", "seq_1", "ct_1", "evt_1", policy.SyncAsLead)
	if _, err := s.PinMembership(ctx, first); err != nil {
		t.Fatal(err)
	}
	repin := membership("team_a", "seq_1", "ct_1", "evt_9", policy.SyncAsContact)
	twiceA := membership("team_a", "seq_1", "ct_2", "evt_2", policy.SyncAsContact)
	twiceB := membership("team_a", "seq_1", "ct_2", "evt_3", policy.SyncAsLead)
	fresh := membership("team_a", "seq_2", "ct_1", "evt_4", policy.SyncAsLead)
	bad := membership("team_a", "seq#3", "ct_1", "evt_5", policy.SyncAsLead)
	f.db.take()
	got, err := s.PinMemberships(ctx, []ledger.Membership{repin, twiceA, twiceB, fresh, bad})
	if err != nil {
		t.Fatal(err)
	}
	if calls := f.db.take(); calls["GetItem"] != 0 || calls["BatchGetItem"] != 0 {
		t.Errorf("requests: got %v; want no reads (ALL_OLD)", calls)
	}
	want := []ledger.Membership{first, twiceA, twiceA, fresh}
	for i, w := range want {
		if got[i].Err != nil || !reflect.DeepEqual(got[i].Membership, w) {
			t.Errorf("pin %d: got %+v, %v; want %+v", i, got[i].Membership, got[i].Err, w)
		}
	}
	if !errors.Is(got[4].Err, ledgerdb.ErrInvalid) {
		t.Errorf("invalid pin: got %v; want ErrInvalid", got[4].Err)
	}
}

// replaying sends every transaction twice and answers with the second
// send: what the SDK does when a connection drops after DynamoDB committed
// (and DynamoDB's ClientRequestToken is not honoured, as on moto).
type replaying struct{ *counter }

func (r replaying) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if _, err := r.counter.TransactWriteItems(ctx, in, o...); err != nil {
		return nil, err // refused the first time: nothing committed, the caller sees why
	}
	return r.counter.TransactWriteItems(ctx, in, o...)
}

// TestBatchWritesRepeatedAfterCommit: each batch write sent again after it
// committed answers as if sent once.
func TestBatchWritesRepeatedAfterCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := ledgerdb.New(replaying{f.db}, f.table)
	s.Now, s.Owner = f.clock.Now, "w1"
	var ms []ledger.Membership
	var emails []string
	var recs []ledger.Record
	for i := range 3 {
		c := fmt.Sprintf("ct_%d", i)
		ms = append(ms, membership("team_a", "seq_1", c, "evt_"+c, policy.SyncAsLead))
		emails = append(emails, c+"@example.com")
		recs = append(recs, record("team_a", c+"@example.com", "evt_"+c, c, fmt.Sprintf("00Q00000000000%dAAA", i)))
	}
	steps := []struct {
		name string
		run  func() ([]error, error)
	}{
		{"pin", func() ([]error, error) {
			res, err := s.PinMemberships(ctx, ms)
			var errs []error
			for i, r := range res {
				if !reflect.DeepEqual(r.Membership, ms[i]) {
					r.Err = fmt.Errorf("got %+v; want the pin sent", r.Membership)
				}
				errs = append(errs, r.Err)
			}
			return errs, err
		}},
		{"claim", func() ([]error, error) {
			return s.ClaimAll(ctx, "team_a", emails, "w1", f.clock.Now().Add(time.Minute))
		}},
		{"save", func() ([]error, error) { return s.SaveRecords(ctx, recs) }},
		{"set", func() ([]error, error) {
			set := make([]ledger.Membership, len(ms))
			for i, m := range ms {
				m.Status, m.Reason, m.Salesforce = ledger.MemberSynced, "", &event.SalesforceRef{Object: event.ObjectLead, ID: recs[i].ID}
				set[i] = m
			}
			return s.SetMemberships(ctx, set)
		}},
	}
	for _, st := range steps {
		errs, err := st.run()
		if err != nil || !reflect.DeepEqual(errs, []error{nil, nil, nil}) {
			t.Errorf("%s repeated: got %v, %v; want no errors", st.name, errs, err)
		}
	}
	got, err := f.store.Records(ctx, "team_a", emails)
	if err != nil || len(got) != 3 {
		t.Fatalf("records: got %v, %v; want 3", got, err)
	}
	for _, r := range recs {
		want := r
		if g := got[r.Email]; !reflect.DeepEqual(g, want) {
			t.Errorf("record %s: got %+v; want %+v", r.Email, g, want)
		}
	}
}

// TestBatchWritesBeyondOneTransaction: 250 of each write go out each as
// its own conditional write (none in a transaction, which would cost twice
// the write units), and a refused save or membership update is that item's
// own error.
func TestBatchWritesBeyondOneTransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	s.Owner = "w1"
	const n = 250
	var ms []ledger.Membership
	var emails []string
	var recs []ledger.Record
	var keys []ledger.MemberKey
	for i := range n {
		c := fmt.Sprintf("ct_%03d", i)
		ms = append(ms, membership("team_a", "seq_1", c, "evt_"+c, policy.SyncAsLead))
		emails = append(emails, c+"@example.com")
		recs = append(recs, record("team_a", c+"@example.com", "evt_"+c, c, fmt.Sprintf("00Q000000000%03dAAA", i)))
		keys = append(keys, ledger.MemberKey{SequenceID: "seq_1", ContactID: c})
	}
	// Another worker saved one email with another id first.
	other := record("team_a", emails[120], "evt_other", "ct_other", "003000000000777AAA")
	other.Object = event.ObjectContact
	if _, err := ledgerdb.New(f.db, f.table).SaveRecords(ctx, []ledger.Record{other}); err != nil {
		t.Fatal(err)
	}
	f.db.take()
	set := make([]ledger.Membership, n+1)
	for i, m := range ms {
		m.Status = ledger.MemberSynced
		set[i] = m
	}
	set[n] = membership("team_a", "seq_1", "ct_never", "evt_x", policy.SyncAsLead)
	cases := []struct {
		name      string
		run       func() ([]error, error)
		wantCalls map[string]int
		wantErr   map[int]error
	}{
		{"pin", func() ([]error, error) {
			res, err := s.PinMemberships(ctx, ms)
			errs := make([]error, len(res))
			for i, r := range res {
				errs[i] = r.Err
			}
			return errs, err
		}, map[string]int{"PutItem": n}, nil},
		{"claim", func() ([]error, error) {
			return s.ClaimAll(ctx, "team_a", emails, "w1", f.clock.Now().Add(time.Minute))
		}, map[string]int{"PutItem": n}, map[int]error{120: ledgerdb.ErrRecorded}},
		{"save", func() ([]error, error) { return s.SaveRecords(ctx, recs) }, map[string]int{"PutItem": n}, map[int]error{120: ledgerdb.ErrRecorded}},
		{"set", func() ([]error, error) { return s.SetMemberships(ctx, set) }, map[string]int{"UpdateItem": n + 1}, map[int]error{n: ledgerdb.ErrNoMembership}},
	}
	for _, tc := range cases {
		errs, err := tc.run()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, e := range errs {
			if want := tc.wantErr[i]; (want == nil && e != nil) || (want != nil && !errors.Is(e, want)) {
				t.Errorf("%s %d: got %v; want %v", tc.name, i, e, want)
			}
		}
		if calls := f.db.take(); !reflect.DeepEqual(calls, tc.wantCalls) {
			t.Errorf("%s requests: got %v; want %v", tc.name, calls, tc.wantCalls)
		}
	}
	members, err := s.Memberships(ctx, "team_a", keys)
	if err != nil || len(members) != n {
		t.Fatalf("memberships: got %d, %v; want %d", len(members), err, n)
	}
	records, err := s.Records(ctx, "team_a", emails)
	if err != nil || len(records) != n {
		t.Fatalf("records: got %d, %v; want %d", len(records), err, n)
	}
	if got := records[emails[120]].ID; got != other.ID {
		t.Errorf("the other worker's record: got %s; want %s", got, other.ID)
	}
	v, err := s.Contact(ctx, "team_a", "ct_120", 1)
	if err != nil || len(v.Records) != 0 {
		t.Errorf("refused record in the contact index: got %+v, %v; want none", v.Records, err)
	}
}

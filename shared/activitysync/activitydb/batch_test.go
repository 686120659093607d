package activitydb_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
)

// counter is the DynamoDB client with a count of the requests sent.
type counter struct {
	activitydb.API
	mu    sync.Mutex
	calls map[string]int
}

func count(api activitydb.API) *counter { return &counter{API: api, calls: map[string]int{}} }

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

func (c *counter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem")
	return c.API.GetItem(ctx, in, o...)
}

func (c *counter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.add("UpdateItem")
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *counter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem")
	return c.API.PutItem(ctx, in, o...)
}

func (c *counter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.add("DeleteItem")
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *counter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.add("TransactWriteItems")
	return c.API.TransactWriteItems(ctx, in, o...)
}

// replaying sends every write twice and answers with the second send:
// what the SDK does when a connection drops after DynamoDB committed (a
// transaction's ClientRequestToken is not honoured by moto, and a single
// write has none).
type replaying struct{ *counter }

func (r replaying) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := r.counter.PutItem(ctx, in, o...); err != nil {
		return nil, err
	}
	return r.counter.PutItem(ctx, in, o...)
}

func (r replaying) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if _, err := r.counter.UpdateItem(ctx, in, o...); err != nil {
		return nil, err
	}
	return r.counter.UpdateItem(ctx, in, o...)
}

func (r replaying) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if _, err := r.counter.DeleteItem(ctx, in, o...); err != nil {
		return nil, err
	}
	return r.counter.DeleteItem(ctx, in, o...)
}

func (r replaying) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if _, err := r.counter.TransactWriteItems(ctx, in, o...); err != nil {
		return nil, err // refused the first time: nothing committed, the caller sees why
	}
	return r.counter.TransactWriteItems(ctx, in, o...)
}

func reqs(keys ...string) []activitysync.ClaimRequest {
	out := make([]activitysync.ClaimRequest, len(keys))
	for i, k := range keys {
		out[i] = activitysync.ClaimRequest{Key: k, EventID: "evt_" + k}
	}
	return out
}

// TestClaimAllHeldInTheMiddle: in one batch, a key another owner holds, a
// logged key and an expired claim get their own answers from the item each
// refused write found, without a read; the fresh keys are claimed by their
// own writes and the expired claim is taken over by one more.
func TestClaimAllHeldInTheMiddle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t)
	db := count(s.DB)
	s.DB = db
	soon := clk.Now().Add(time.Minute)
	later := clk.Now().Add(10 * time.Minute)
	setup := []struct{ key, owner string }{{"held", "w2"}, {"logged", "w2"}, {"expired", "w3"}}
	for _, st := range setup {
		until := later
		if st.key == "expired" {
			until = soon
		}
		if _, err := claim(s, "t1", st.key, "evt_first", st.owner, until); err != nil {
			t.Fatal(err)
		}
	}
	if err := done(s, "t1", "logged", "w2", "00T000000000001"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	db.take()

	got, err := s.ClaimAll(ctx, "t1", reqs("a", "held", "b", "logged", "expired", "c"), "w1", clk.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if calls, want := db.take(), map[string]int{"PutItem": 6, "UpdateItem": 1}; !reflect.DeepEqual(calls, want) {
		t.Errorf("requests: got %v; want %v (one claim a key, one takeover)", calls, want)
	}
	var ce *activitydb.ClaimError
	cases := []struct {
		key       string
		want      activitysync.Claim
		wantOwner string // a ClaimError naming this owner
	}{
		{"a", activitysync.Claim{EventID: "evt_a"}, ""},
		{"held", activitysync.Claim{}, "w2"},
		{"b", activitysync.Claim{EventID: "evt_b"}, ""},
		{"logged", activitysync.Claim{TaskID: "00T000000000001", EventID: "evt_first"}, ""},
		{"expired", activitysync.Claim{EventID: "evt_first", Attempted: true}, ""},
		{"c", activitysync.Claim{EventID: "evt_c"}, ""},
	}
	for i, tc := range cases {
		r := got[i]
		if tc.wantOwner != "" {
			if !errors.As(r.Err, &ce) || ce.Owner != tc.wantOwner || !errors.Is(r.Err, activitysync.ErrClaimed) {
				t.Errorf("%s: got %v; want a ClaimError naming %s", tc.key, r.Err, tc.wantOwner)
			}
			continue
		}
		if r.Err != nil || r.Claim != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.key, r.Claim, r.Err, tc.want)
		}
	}
	// The claims taken are w1's: another owner is refused.
	for _, key := range []string{"a", "b", "c", "expired"} {
		if _, err := claim(s, "t1", key, "evt_x", "w4", clk.Now().Add(time.Minute)); !errors.Is(err, activitysync.ErrClaimed) {
			t.Errorf("%s claimed by w4: got %v; want ErrClaimed", key, err)
		}
	}
}

// TestClaimAllRefusesBadRequests: a bad or repeated key is that request's
// error; a bad owner or time fails the call.
func TestClaimAllRefusesBadRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t)
	until := clk.Now().Add(time.Minute)
	got, err := s.ClaimAll(ctx, "t1", append(reqs("a", "b#1", "a"), activitysync.ClaimRequest{Key: "d"}), "w1", until)
	if err != nil {
		t.Fatal(err)
	}
	wantInvalid := []bool{false, true, true, true}
	for i, w := range wantInvalid {
		if errors.Is(got[i].Err, activitydb.ErrInvalid) != w {
			t.Errorf("request %d: got %v; want invalid %v", i, got[i].Err, w)
		}
	}
	calls := []struct {
		name  string
		owner string
		until time.Time
	}{
		{"bad owner", "w#1", until},
		{"past time", "w1", clk.Now().Add(-time.Second)},
	}
	for _, tc := range calls {
		if _, err := s.ClaimAll(ctx, "t1", reqs("a"), tc.owner, tc.until); !errors.Is(err, activitydb.ErrInvalid) {
			t.Errorf("%s: got %v; want ErrInvalid", tc.name, err)
		}
	}
}

// TestBatchWritesRepeatedAfterCommit: each batch write sent again after it
// committed answers as if sent once: a fresh claim stays fresh (no Task
// lookup), a takeover stays attempted, a Task recorded twice is recorded.
func TestBatchWritesRepeatedAfterCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t)
	db := count(s.DB)
	s.DB = replaying{db}
	keys := []string{"k1", "k2", "k3"}
	until := func() time.Time { return clk.Now().Add(time.Minute) }
	claims := func() ([]activitysync.Claim, error) {
		res, err := s.ClaimAll(ctx, "t1", reqs(keys...), "w1", until())
		var out []activitysync.Claim
		for _, r := range res {
			if r.Err != nil {
				return nil, r.Err
			}
			out = append(out, r.Claim)
		}
		return out, err
	}
	fresh := []activitysync.Claim{{EventID: "evt_k1"}, {EventID: "evt_k2"}, {EventID: "evt_k3"}}
	attempted := []activitysync.Claim{{EventID: "evt_k1", Attempted: true}, {EventID: "evt_k2", Attempted: true}, {EventID: "evt_k3", Attempted: true}}
	var tasks []activitysync.LoggedTask
	var logged []activitysync.Claim
	for i, k := range keys {
		id := fmt.Sprintf("00T00000000000%d", i)
		tasks = append(tasks, activitysync.LoggedTask{Key: k, TaskID: id})
		logged = append(logged, activitysync.Claim{TaskID: id, EventID: "evt_" + k})
	}
	steps := []struct {
		name string
		do   func() ([]activitysync.Claim, error)
		want []activitysync.Claim
	}{
		{"fresh claims", claims, fresh},
		{"taken over after abandon", func() ([]activitysync.Claim, error) {
			if err := s.AbandonAll(ctx, "t1", "w1", keys); err != nil {
				return nil, err
			}
			return claims()
		}, attempted},
		{"logged", func() ([]activitysync.Claim, error) {
			errs, err := s.DoneAll(ctx, "t1", "w1", tasks)
			if err != nil {
				return nil, err
			}
			if !reflect.DeepEqual(errs, []error{nil, nil, nil}) {
				return nil, fmt.Errorf("done: %v", errs)
			}
			return claims()
		}, logged},
	}
	for _, st := range steps { // in order: each step builds on the last
		got, err := st.do()
		if err != nil || !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s, repeated: got %+v, %v; want %+v", st.name, got, err, st.want)
		}
	}
	if calls := db.take(); calls["GetItem"] != 0 || calls["Query"] != 0 || calls["TransactWriteItems"] != 0 {
		t.Errorf("requests: got %v; want single writes only (no read, no transaction)", calls)
	}
}

// TestBatchWritesBeyondOneTransaction: 250 claims and done marks go out
// each as its own conditional write, none in a transaction (which would
// cost twice the write units); a key held by another owner is its own
// error.
func TestBatchWritesBeyondOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t)
	db := count(s.DB)
	s.DB = db
	const n = 250
	var keys []string
	var tasks []activitysync.LoggedTask
	for i := range n {
		keys = append(keys, fmt.Sprintf("k%03d", i))
		tasks = append(tasks, activitysync.LoggedTask{Key: keys[i], TaskID: fmt.Sprintf("00T000000000%03d", i)})
	}
	until := clk.Now().Add(time.Minute)
	if _, err := claim(s, "t1", keys[120], "evt_other", "w2", until); err != nil {
		t.Fatal(err)
	}
	db.take()

	res, err := s.ClaimAll(ctx, "t1", reqs(keys...), "w1", until)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if i == 120 {
			if !errors.Is(r.Err, activitysync.ErrClaimed) {
				t.Errorf("claim %d: got %v; want ErrClaimed", i, r.Err)
			}
			continue
		}
		if want := (activitysync.Claim{EventID: "evt_" + keys[i]}); r.Err != nil || r.Claim != want {
			t.Errorf("claim %d: got %+v, %v; want %+v", i, r.Claim, r.Err, want)
		}
	}
	if calls, want := db.take(), map[string]int{"PutItem": n}; !reflect.DeepEqual(calls, want) {
		t.Errorf("claim requests: got %v; want %v", calls, want)
	}

	// w1 records its 249 Tasks; key 120 has w2's claim and no Task, so
	// recording a Task for it (as w2 would) succeeds too.
	errs, err := s.DoneAll(ctx, "t1", "w1", tasks)
	if err != nil {
		t.Fatal(err)
	}
	if want := make([]error, n); !reflect.DeepEqual(errs, want) {
		t.Errorf("done: got %v; want no errors", errs)
	}
	if calls, want := db.take(), map[string]int{"UpdateItem": n}; !reflect.DeepEqual(calls, want) {
		t.Errorf("done requests: got %v; want %v", calls, want)
	}

	// Every key is logged now; another Task for one of them is refused.
	res, err = s.ClaimAll(ctx, "t1", reqs(keys...), "w3", until)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.TaskID != tasks[i].TaskID {
			t.Errorf("claim %d after done: got %+v, %v; want task %s", i, r.Claim, r.Err, tasks[i].TaskID)
		}
	}
	other := append([]activitysync.LoggedTask{}, tasks[:3]...)
	other[1].TaskID = "00T000000000999"
	errs, err = s.DoneAll(ctx, "t1", "w3", other)
	if err != nil {
		t.Fatal(err)
	}
	var le *activitydb.LoggedError
	if errs[0] != nil || errs[2] != nil || !errors.As(errs[1], &le) || le.TaskID != tasks[1].TaskID || !errors.Is(errs[1], activitysync.ErrOtherTask) {
		t.Errorf("done with another Task: got %v; want a LoggedError naming %s for the second only", errs, tasks[1].TaskID)
	}
}

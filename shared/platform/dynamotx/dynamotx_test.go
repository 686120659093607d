package dynamotx_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
)

// fake answers transactions like DynamoDB: the writes of items in refuse
// fail their condition (the item found is returned), conflicts cancel the
// first conflicts calls, and a call with any failure writes nothing.
type fake struct {
	refuse    map[string]bool
	conflicts int
	code      string // a cancellation code for every write, when set
	err       error  // the answer to every call, when set
	calls     [][]string
	written   []string

	mu      sync.Mutex // single writes come at once
	singles []string   // the items of single writes, in the order sent
}

func pkOf(w types.TransactWriteItem) string {
	var key map[string]types.AttributeValue
	switch {
	case w.Put != nil:
		key = w.Put.Item
	case w.Update != nil:
		key = w.Update.Key
	case w.Delete != nil:
		key = w.Delete.Key
	case w.ConditionCheck != nil:
		key = w.ConditionCheck.Key
	}
	return key["pk"].(*types.AttributeValueMemberS).Value
}

func (f *fake) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	var pks []string
	for _, w := range in.TransactItems {
		pks = append(pks, pkOf(w))
	}
	f.calls = append(f.calls, pks)
	if f.err != nil {
		return nil, f.err
	}
	reasons := make([]types.CancellationReason, len(pks))
	cancel := false
	for i, pk := range pks {
		reasons[i] = types.CancellationReason{Code: aws.String("None")}
		switch {
		case f.code != "":
			reasons[i].Code, cancel = aws.String(f.code), true
		case f.conflicts > 0:
			reasons[i].Code, cancel = aws.String("TransactionConflict"), true
		case f.refuse[pk]:
			reasons[i] = types.CancellationReason{Code: aws.String("ConditionalCheckFailed"),
				Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "owner": &types.AttributeValueMemberS{Value: "other"}}}
			cancel = true
		}
	}
	if f.conflicts > 0 {
		f.conflicts--
	}
	if cancel {
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
	}
	f.written = append(f.written, pks...)
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// one answers a single write as DynamoDB would, by the same rules.
func (f *fake) one(pk string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.singles = append(f.singles, pk)
	switch {
	case f.err != nil:
		return f.err
	case f.conflicts > 0:
		f.conflicts--
		return &types.TransactionConflictException{Message: aws.String("conflict")}
	case f.refuse[pk]:
		return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed"),
			Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "owner": &types.AttributeValueMemberS{Value: "other"}}}
	}
	f.written = append(f.written, pk)
	return nil
}

func (f *fake) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, f.one(in.Item["pk"].(*types.AttributeValueMemberS).Value)
}

func (f *fake) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, f.one(in.Key["pk"].(*types.AttributeValueMemberS).Value)
}

func (f *fake) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return &dynamodb.DeleteItemOutput{}, f.one(in.Key["pk"].(*types.AttributeValueMemberS).Value)
}

func put(pk string) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String("t"), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "X"}}}}
}

func units(pks ...string) []dynamotx.Unit {
	out := make([]dynamotx.Unit, len(pks))
	for i, pk := range pks {
		out[i] = dynamotx.Unit{put(pk)}
	}
	return out
}

func numbered(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("p%03d", i))
	}
	return out
}

func sizes(calls [][]string) []int {
	var out []int
	for _, c := range calls {
		out = append(out, len(c))
	}
	return out
}

// TestWrite: how units are split into transactions, and what each unit's
// result is.
func TestWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		units      []dynamotx.Unit
		refuse     []string
		wantSizes  []int
		wantFailed map[int]int // unit -> the op that failed
	}{
		{"one call", units("a", "b", "c"), nil, []int{3}, nil},
		{"nothing to write", []dynamotx.Unit{{}, nil}, nil, nil, nil},
		{"100 writes a call", units(numbered(250)...), nil, []int{100, 100, 50}, nil},
		{"a failed condition in the middle: one resend without it", units("a", "b", "c", "d"), []string{"b", "d"},
			[]int{4, 2}, map[int]int{1: 0, 3: 0}},
		{"every condition fails: one call", units("a", "b"), []string{"a", "b"}, []int{2}, map[int]int{0: 0, 1: 0}},
		{"a unit fails as a whole", []dynamotx.Unit{{put("a"), put("b")}, {put("c")}}, []string{"b"},
			[]int{3, 1}, map[int]int{0: 1}},
		{"the same item waits for the next call, in order", units("a", "b", "a", "a"), nil, []int{2, 1, 1}, nil},
		{"units are not split across calls", append(units(numbered(99)...), dynamotx.Unit{put("x"), put("y")}), nil,
			[]int{99, 2}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{refuse: map[string]bool{}}
			for _, pk := range tc.refuse {
				f.refuse[pk] = true
			}
			w := dynamotx.Writer{DB: f, Transactions: true}
			res, err := w.Write(context.Background(), "test", tc.units)
			if err != nil {
				t.Fatal(err)
			}
			if got := sizes(f.calls); !reflect.DeepEqual(got, tc.wantSizes) {
				t.Errorf("calls: got %v; want %v", got, tc.wantSizes)
			}
			if len(res) != len(tc.units) {
				t.Fatalf("results: got %d; want %d", len(res), len(tc.units))
			}
			for i, r := range res {
				op, failed := tc.wantFailed[i]
				if r.Failed != failed || r.Op != op {
					t.Errorf("unit %d: got failed %v op %d; want failed %v op %d", i, r.Failed, r.Op, failed, op)
				}
				if failed {
					pk := pkOf(tc.units[i][op])
					if got := r.Old["owner"]; !reflect.DeepEqual(got, &types.AttributeValueMemberS{Value: "other"}) || pkOf(types.TransactWriteItem{Put: &types.Put{Item: r.Old}}) != pk {
						t.Errorf("unit %d: got old item %v; want the item of %s found", i, r.Old, pk)
					}
				}
			}
		})
	}
}

// TestWriteOrderOfOneItem: writes of one item are sent in the order of
// their units.
func TestWriteOrderOfOneItem(t *testing.T) {
	t.Parallel()
	f := &fake{}
	u := units("a", "b", "a", "c", "a")
	u[2] = dynamotx.Unit{put("a")}
	if _, err := (&dynamotx.Writer{DB: f, Transactions: true}).Write(context.Background(), "test", u); err != nil {
		t.Fatal(err)
	}
	if got, want := f.written, []string{"a", "b", "c", "a", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("written: got %v; want %v", got, want)
	}
}

// TestWriteRefused: what fails a whole batch.
func TestWriteRefused(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	cases := []struct {
		name      string
		f         *fake
		units     []dynamotx.Unit
		want      error
		wantCalls int
		alone     bool // single writes: wantCalls counts them
	}{
		{"conflicts pass after a backoff", &fake{conflicts: 2}, units("a", "b"), nil, 3, false},
		{"alone: conflicts pass after a backoff", &fake{conflicts: 2}, units("a"), nil, 3, true},
		{"alone: conflicts that go on", &fake{conflicts: 100}, units("a"), dynamotx.ErrRefused, 3, true},
		{"alone: the call fails", &fake{err: boom}, units("a"), boom, 1, true},
		{"conflicts that go on", &fake{conflicts: 100}, units("a"), dynamotx.ErrRefused, 3, false},
		{"validation", &fake{code: "ValidationError"}, units("a"), dynamotx.ErrRefused, 1, false},
		{"throttled", &fake{code: "ThrottlingError"}, units("a"), dynamotx.ErrRefused, 1, false},
		{"the call fails", &fake{err: boom}, units("a"), boom, 1, false},
		{"reasons that do not match the writes", &fake{err: &types.TransactionCanceledException{Message: aws.String("x")}}, units("a"),
			dynamotx.ErrRefused, 1, false},
		{"a unit too big", &fake{}, []dynamotx.Unit{make(dynamotx.Unit, 101)}, nil, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := dynamotx.Writer{DB: tc.f, Backoff: time.Millisecond, MaxAttempts: 3, Transactions: !tc.alone}
			_, err := w.Write(context.Background(), "test", tc.units)
			switch {
			case tc.wantCalls == 0:
				if err == nil {
					t.Errorf("got nil; want an error")
				}
			case tc.want == nil && err != nil:
				t.Errorf("got %v; want nil", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("got %v; want %v", err, tc.want)
			}
			got := len(tc.f.calls)
			if tc.alone {
				got = len(tc.f.singles)
			}
			if got != tc.wantCalls {
				t.Errorf("calls: got %d; want %d", got, tc.wantCalls)
			}
		})
	}
}

// TestWriteStopsWithTheContext: a conflict backoff ends with the context.
func TestWriteStopsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := dynamotx.Writer{DB: &fake{conflicts: 100}, Backoff: time.Hour, Transactions: true}
	if _, err := w.Write(ctx, "test", units("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled", err)
	}
}

// TestWriteAlone: a batch of single writes goes without transactions,
// each write on its own, and each unit gets its own result.
func TestWriteAlone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		units      []dynamotx.Unit
		refuse     []string
		wantTx     int // transactions sent
		wantSingle int // single writes sent
		wantFailed []int
	}{
		{"one write a unit: alone", units("a", "b", "c"), nil, 0, 3, nil},
		{"a failed condition fails its unit only", units("a", "b", "c", "d"), []string{"b", "d"}, 0, 4, []int{1, 3}},
		{"250 writes: no transaction", units(numbered(250)...), nil, 0, 250, nil},
		{"a unit of two writes: transactions", []dynamotx.Unit{{put("a"), put("b")}, {put("c")}}, nil, 1, 0, nil},
		{"a condition check: transactions", []dynamotx.Unit{{put("a")}, {{ConditionCheck: &types.ConditionCheck{TableName: aws.String("t"),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "b"}}}}}}, nil, 1, 0, nil},
		{"empty units are written", []dynamotx.Unit{{}, {put("a")}}, nil, 0, 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{refuse: map[string]bool{}}
			for _, pk := range tc.refuse {
				f.refuse[pk] = true
			}
			res, err := (&dynamotx.Writer{DB: f, AtOnce: 4}).Write(context.Background(), "test", tc.units)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(f.calls); got != tc.wantTx {
				t.Errorf("transactions: got %d; want %d", got, tc.wantTx)
			}
			if got := len(f.singles); got != tc.wantSingle {
				t.Errorf("single writes: got %d; want %d", got, tc.wantSingle)
			}
			var failed []int
			for i, r := range res {
				if r.Failed {
					failed = append(failed, i)
					if pk := pkOf(tc.units[i][0]); pkOf(types.TransactWriteItem{Put: &types.Put{Item: r.Old}}) != pk {
						t.Errorf("unit %d: got old item %v; want the item of %s found", i, r.Old, pk)
					}
				}
			}
			if !slices.Equal(failed, tc.wantFailed) {
				t.Errorf("failed units: got %v; want %v", failed, tc.wantFailed)
			}
		})
	}
}

// TestWriteAloneOrderOfOneItem: the single writes of one item are sent one
// after the other, in the order of their units, however many go at once.
func TestWriteAloneOrderOfOneItem(t *testing.T) {
	t.Parallel()
	f := &fake{}
	u := []dynamotx.Unit{{put("a")}, {put("b")}, {{Update: &types.Update{TableName: aws.String("t"), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberS{Value: "X"}}}}}, {put("c")},
		{{Delete: &types.Delete{TableName: aws.String("t"), Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberS{Value: "X"}}}}}}
	for range 20 {
		f.singles = nil
		if _, err := (&dynamotx.Writer{DB: f, AtOnce: 3}).Write(context.Background(), "test", u); err != nil {
			t.Fatal(err)
		}
		var as []int
		for i, pk := range f.singles {
			if pk == "a" {
				as = append(as, i)
			}
		}
		if len(as) != 3 || len(f.singles) != 5 {
			t.Fatalf("single writes: got %v; want three of a among five", f.singles)
		}
	}
}

// TestWriteAloneStopsAtTheFirstError: a failing write stops the batch;
// the writes not yet sent are not sent.
func TestWriteAloneStopsAtTheFirstError(t *testing.T) {
	t.Parallel()
	f := &fake{err: errors.New("boom")}
	if _, err := (&dynamotx.Writer{DB: f, AtOnce: 1}).Write(context.Background(), "test", units(numbered(50)...)); err == nil {
		t.Fatal("got nil; want the error")
	}
	if got := len(f.singles); got != 1 {
		t.Errorf("single writes sent: got %d; want 1", got)
	}
}

// Package dynamotx writes batches of conditional DynamoDB writes and gives
// each unit of writes its own result: written, or refused by a failed
// condition with the item the write found. It also holds what every store
// of the stack reads and builds alike (attrs.go): an item's key, its
// attributes by type, and the item a refused write found.
//
// # What a batch costs
//
// DynamoDB bills a write in a transaction twice: 2 write request units per
// KB against 1 for the same write sent alone (PutItem, UpdateItem,
// DeleteItem with its condition), and on-demand tables bill units, not
// requests
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling).
// So a batch whose units are each one write, which need no atomicity,
// goes out as single conditional writes, several at once (Writer.AtOnce),
// the writes of one item one after the other in the order of their units:
// half the units of a transaction, for more requests. A batch with a unit
// of several writes (which must succeed or fail together) goes out in
// TransactWriteItems calls of up to 100 writes. Writer.Transactions sends
// every batch in transactions.
//
// A single write refused by its condition answers
// ConditionalCheckFailedException with the item it found, when it asks
// for it (ReturnValuesOnConditionCheckFailure ALL_OLD). One that meets a
// transaction of another worker on its item (TransactionConflictException)
// is sent again after a backoff.
//
// # Transactions
//
// A failed condition cancels a whole transaction. Its CancellationReasons
// name the writes that failed, with the item each found when the write asks
// for it (ReturnValuesOnConditionCheckFailure ALL_OLD), so the failed units
// get their result without a read and the rest is sent again without them:
// a batch costs one call per 100 writes, plus one per round of refusals.
//
// The SDK sets a ClientRequestToken on each call and resends the call with
// the same token after a lost connection, which DynamoDB answers from the
// first attempt. Emulators (moto) ignore the token and carry the resend out
// again, so callers write conditions that accept a repeat of their own
// write.
package dynamotx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/backoff"
	"github.com/sfsync/sfsync/shared/resources"
)

// DynamoDB's limits on one TransactWriteItems call: 100 actions, 4 MB in
// all. maxBytes leaves room for the request's own overhead, which the size
// estimate does not count.
const (
	MaxItems = 100
	maxBytes = 3 << 20
)

// Defaults of Writer's knobs.
const (
	DefaultBackoff     = 50 * time.Millisecond
	DefaultMaxAttempts = 8
)

// ErrRefused is returned when DynamoDB cancels a transaction for a reason
// other than a failed condition (validation, throttling, item size), or
// keeps cancelling it, or refusing a single write, over conflicts with
// other transactions.
var ErrRefused = errors.New("dynamotx: transaction refused")

// API is the calls the writer makes.
type API interface {
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DefaultAtOnce is how many single writes a Writer has in flight at once
// when AtOnce is zero: the SDK's HTTP client keeps 10 idle connections per
// host.
const DefaultAtOnce = 10

// Unit is writes that succeed or fail together (a record and its copy,
// say). A unit's writes name distinct items; a unit has at most MaxItems
// writes.
type Unit []types.TransactWriteItem

// Result is what became of a unit: written, or refused because a condition
// failed. Op is the index in the unit of the write whose condition failed;
// Old is the item it found, when the write asked for it (ALL_OLD) and the
// service returned it.
type Result struct {
	Failed bool
	Op     int
	Old    map[string]types.AttributeValue
}

// Writer sends units of writes, alone or in transactions (see the package
// comment).
type Writer struct {
	DB API
	// Transactions sends every batch in TransactWriteItems calls, also
	// when each unit is a single write.
	Transactions bool
	// AtOnce bounds the single writes in flight at once. Zero:
	// DefaultAtOnce.
	AtOnce int
	// Backoff is the first wait before resending a transaction cancelled
	// by a conflict; it doubles (with jitter) up to a second. Zero:
	// DefaultBackoff.
	Backoff time.Duration
	// MaxAttempts bounds the sends of one transaction over conflicts.
	// Zero: DefaultMaxAttempts.
	MaxAttempts int
	// KeyNames are the key attributes of the tables written, by which a
	// Put's item is told apart; nil: resources.PartitionKey and
	// resources.SortKey.
	KeyNames []string
}

// Write sends units and returns a result per unit, in input order (an
// empty unit is written). Units of one write each go alone (see Alone),
// unless w.Transactions is set. Otherwise they go in TransactWriteItems
// calls of up to 100 writes. A unit never shares a transaction with
// another unit writing the same item (DynamoDB refuses that): it waits for
// a later call, so the writes of one item happen in the order of units. A transaction cancelled because
// conditions failed is sent again without the failed units; one cancelled
// by a conflict with another transaction is sent again after a backoff.
// what names the batch in errors.
func (w *Writer) Write(ctx context.Context, what string, units []Unit) ([]Result, error) {
	results := make([]Result, len(units))
	pending := make([]int, 0, len(units))
	for i, u := range units {
		if len(u) > MaxItems {
			return nil, fmt.Errorf("%s: a unit of %d writes exceeds %d", what, len(u), MaxItems)
		}
		if len(u) > 0 {
			pending = append(pending, i)
		}
	}
	if !w.Transactions && Alone(units) {
		return results, w.writeAlone(ctx, what, units, pending, results)
	}
	for len(pending) > 0 {
		var tx, rest []int
		used := map[string]bool{}
		n, size := 0, 0
		for _, i := range pending {
			u := units[i]
			us := unitSize(u)
			clash := false
			for _, wr := range u {
				if used[w.itemKey(wr)] {
					clash = true
				}
			}
			if clash || n+len(u) > MaxItems || (n > 0 && size+us > maxBytes) {
				rest = append(rest, i)
				continue
			}
			for _, wr := range u {
				used[w.itemKey(wr)] = true
			}
			tx = append(tx, i)
			n += len(u)
			size += us
		}
		if err := w.send(ctx, what, units, tx, results); err != nil {
			return nil, err
		}
		pending = rest
	}
	return results, nil
}

// send writes the units tx in one transaction, resending it without the
// units whose condition failed until what is left is written.
func (w *Writer) send(ctx context.Context, what string, units []Unit, tx []int, results []Result) error {
	maxAttempts := w.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	for attempt := 1; len(tx) > 0; attempt++ {
		var items []types.TransactWriteItem
		for _, i := range tx {
			items = append(items, units[i]...)
		}
		_, err := w.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return fmt.Errorf("%s: write %d items in a transaction: %w", what, len(items), err)
		}
		reasons := tce.CancellationReasons
		if len(reasons) != len(items) {
			return fmt.Errorf("%s: transaction cancelled with %d reasons for %d items: %w: %w", what, len(reasons), len(items), ErrRefused, err)
		}
		var keep []int
		conflict := false
		k := 0
		for _, i := range tx {
			failed := false
			for op := range units[i] {
				r := reasons[k]
				k++
				switch code := aws.ToString(r.Code); code {
				case "", "None":
				case "ConditionalCheckFailed":
					if !failed {
						failed = true
						results[i] = Result{Failed: true, Op: op, Old: r.Item}
					}
				case "TransactionConflict":
					conflict = true
				default:
					return fmt.Errorf("%s: transaction cancelled: %s: %s: %w", what, code, aws.ToString(r.Message), ErrRefused)
				}
			}
			if !failed {
				keep = append(keep, i)
			}
		}
		if len(keep) == len(tx) && !conflict {
			return fmt.Errorf("%s: transaction cancelled without a reason: %w: %w", what, ErrRefused, err)
		}
		tx = keep
		if conflict {
			if attempt >= maxAttempts {
				return fmt.Errorf("%s: transaction conflicts after %d attempts: %w", what, attempt, ErrRefused)
			}
			if err := Wait(ctx, w.Backoff, attempt); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	return nil
}

// Wait sleeps before the attempt-th resend (1, 2, ...): exponential from
// first (DefaultBackoff when zero), capped at a second, with full jitter in
// its upper half. It returns early with ctx's error.
func Wait(ctx context.Context, first time.Duration, attempt int) error {
	if first <= 0 {
		first = DefaultBackoff
	}
	return backoff.Wait(ctx, first, time.Second, attempt)
}

// itemKey names the table and item a write touches.
func (w *Writer) itemKey(wr types.TransactWriteItem) string {
	var table string
	var key map[string]types.AttributeValue
	switch {
	case wr.Put != nil:
		table, key = aws.ToString(wr.Put.TableName), wr.Put.Item
	case wr.Update != nil:
		table, key = aws.ToString(wr.Update.TableName), wr.Update.Key
	case wr.Delete != nil:
		table, key = aws.ToString(wr.Delete.TableName), wr.Delete.Key
	case wr.ConditionCheck != nil:
		table, key = aws.ToString(wr.ConditionCheck.TableName), wr.ConditionCheck.Key
	}
	names := w.KeyNames
	if names == nil {
		names = []string{resources.PartitionKey, resources.SortKey}
	}
	s := fmt.Sprintf("%q", table)
	for _, n := range names {
		s += fmt.Sprintf(" %q=%s", n, keyValue(key[n]))
	}
	return s
}

func keyValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return fmt.Sprintf("S%q", v.Value)
	case *types.AttributeValueMemberN:
		return "N" + v.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B%x", v.Value)
	}
	return "-"
}

// unitSize estimates the bytes a unit adds to a request: its items and
// expression values, by DynamoDB's item size rules (names plus values).
func unitSize(u Unit) int {
	n := 0
	for _, w := range u {
		switch {
		case w.Put != nil:
			n += mapSize(w.Put.Item) + len(aws.ToString(w.Put.ConditionExpression)) + mapSize(w.Put.ExpressionAttributeValues)
		case w.Update != nil:
			n += mapSize(w.Update.Key) + len(aws.ToString(w.Update.UpdateExpression)) + len(aws.ToString(w.Update.ConditionExpression)) +
				mapSize(w.Update.ExpressionAttributeValues)
		case w.Delete != nil:
			n += mapSize(w.Delete.Key) + len(aws.ToString(w.Delete.ConditionExpression)) + mapSize(w.Delete.ExpressionAttributeValues)
		}
		n += 100 // table name, attribute names, JSON framing
	}
	return n
}

func mapSize(m map[string]types.AttributeValue) int {
	n := 0
	for k, v := range m {
		n += len(k) + avSize(v)
	}
	return n
}

func avSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + mapSize(v.Value)
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + avSize(e)
		}
		return n
	}
	return 1
}

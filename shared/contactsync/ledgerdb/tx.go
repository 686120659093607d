package ledgerdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB's limits on one TransactWriteItems call: 100 actions, 4 MB in
// all. maxTxBytes leaves room for the request's own overhead, which the
// size estimate below does not count.
const (
	MaxTransactItems = 100
	maxTxBytes       = 3 << 20
)

// ErrTransaction is returned when DynamoDB cancels a transaction for a
// reason other than a failed condition (validation, throttling, item size),
// or keeps cancelling it over conflicts.
var ErrTransaction = errors.New("ledger: transaction refused")

// txUnit is writes that succeed or fail together (a record and its contact
// copy, say). A unit's writes name distinct items.
type txUnit []types.TransactWriteItem

// txResult is what became of a unit: written, or refused because a
// condition failed. Old is the item the failed write found, when the write
// asked for it (ReturnValuesOnConditionCheckFailure ALL_OLD) and the
// service returned it; Op is the index in the unit of the write whose
// condition failed.
type txResult struct {
	Failed bool
	Op     int
	Old    map[string]types.AttributeValue
}

// transact writes units in TransactWriteItems calls of up to 100 writes.
// A unit never shares a transaction with another unit writing the same item
// (DynamoDB refuses that): it waits for a later call, so the writes of one
// item happen in the order of units. When a condition fails, the call is
// cancelled as a whole: the failed units get their result and the others
// are sent again without them, so a batch costs one call more per round of
// failures, not one call per unit. A conflict with another transaction is
// sent again after a backoff.
//
// The SDK sets a ClientRequestToken on each call, and resends the call with
// the same token after a lost connection, which DynamoDB answers from the
// first attempt; the conditions of every write still accept a repeat of
// itself, for emulators that ignore the token.
func (s *Store) transact(ctx context.Context, what string, units []txUnit) ([]txResult, error) {
	results := make([]txResult, len(units))
	pending := make([]int, 0, len(units))
	for i, u := range units {
		if len(u) > MaxTransactItems {
			return nil, fmt.Errorf("%s: a unit of %d writes exceeds %d", what, len(u), MaxTransactItems)
		}
		if len(u) > 0 {
			pending = append(pending, i)
		}
	}
	for len(pending) > 0 {
		var tx, rest []int
		used := map[itemKey]bool{}
		n, size := 0, 0
		for _, i := range pending {
			u := units[i]
			us := unitSize(u)
			clash := false
			for _, w := range u {
				if used[writeItemKey(w)] {
					clash = true
				}
			}
			if clash || n+len(u) > MaxTransactItems || (n > 0 && size+us > maxTxBytes) {
				rest = append(rest, i)
				continue
			}
			for _, w := range u {
				used[writeItemKey(w)] = true
			}
			tx = append(tx, i)
			n += len(u)
			size += us
		}
		if err := s.sendTx(ctx, what, units, tx, results); err != nil {
			return nil, err
		}
		pending = rest
	}
	return results, nil
}

// sendTx writes the units tx in one transaction, resending it without the
// units whose condition failed until what is left is written.
func (s *Store) sendTx(ctx context.Context, what string, units []txUnit, tx []int, results []txResult) error {
	for attempt := 1; len(tx) > 0; attempt++ {
		var items []types.TransactWriteItem
		for _, i := range tx {
			items = append(items, units[i]...)
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return fmt.Errorf("%s: write %d items in a transaction: %w", what, len(items), err)
		}
		reasons := tce.CancellationReasons
		if len(reasons) != len(items) {
			return fmt.Errorf("%s: transaction cancelled with %d reasons for %d items: %w: %w", what, len(reasons), len(items), ErrTransaction, err)
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
						results[i] = txResult{Failed: true, Op: op, Old: r.Item}
					}
				case "TransactionConflict":
					conflict = true
				default:
					return fmt.Errorf("%s: transaction cancelled: %s: %s: %w", what, code, aws.ToString(r.Message), ErrTransaction)
				}
			}
			if !failed {
				keep = append(keep, i)
			}
		}
		if len(keep) == len(tx) && !conflict {
			return fmt.Errorf("%s: transaction cancelled without a reason: %w: %w", what, ErrTransaction, err)
		}
		tx = keep
		if conflict {
			if attempt >= s.MaxAttempts {
				return fmt.Errorf("%s: transaction conflicts after %d attempts: %w", what, attempt, ErrTransaction)
			}
			if err := s.wait(ctx, attempt); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	return nil
}

func writeItemKey(w types.TransactWriteItem) itemKey {
	switch {
	case w.Put != nil:
		return keyString(w.Put.Item)
	case w.Update != nil:
		return keyString(w.Update.Key)
	case w.Delete != nil:
		return keyString(w.Delete.Key)
	case w.ConditionCheck != nil:
		return keyString(w.ConditionCheck.Key)
	}
	return itemKey{}
}

// unitSize estimates the bytes a unit adds to a request: its items and
// expression values, by DynamoDB's item size rules (names plus values).
func unitSize(u txUnit) int {
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

package ledgerdb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
)

// MaxBatchGet is DynamoDB's limit on the keys of one BatchGetItem call.
const MaxBatchGet = 100

// wait sleeps before the attempt-th resend (1, 2, ...): exponential from
// s.Backoff, capped at a second, with jitter (dynamotx.Wait).
func (s *Store) wait(ctx context.Context, attempt int) error {
	return dynamotx.Wait(ctx, s.Backoff, attempt)
}

// batchGet reads the items with the given keys (duplicates are read once),
// consistently, 100 keys a call, resending unprocessed keys with backoff.
// Items that do not exist are absent from the answer.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	seen := make(map[itemKey]bool, len(keys))
	unique := make([]map[string]types.AttributeValue, 0, len(keys))
	for _, k := range keys {
		if ks := keyString(k); !seen[ks] {
			seen[ks] = true
			unique = append(unique, k)
		}
	}
	var items []map[string]types.AttributeValue
	for start := 0; start < len(unique); start += MaxBatchGet {
		chunk := unique[start:min(start+MaxBatchGet, len(unique))]
		req := map[string]types.KeysAndAttributes{s.table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 1; ; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("batch get %d keys from %s: %w", len(req[s.table].Keys), s.table, err)
			}
			items = append(items, out.Responses[s.table]...)
			left, ok := out.UnprocessedKeys[s.table]
			if !ok || len(left.Keys) == 0 {
				break
			}
			if attempt >= s.MaxAttempts {
				return nil, fmt.Errorf("batch get from %s: %d keys after %d attempts: %w", s.table, len(left.Keys), attempt, ErrUnprocessed)
			}
			if err := s.wait(ctx, attempt); err != nil {
				return nil, fmt.Errorf("batch get from %s: %w", s.table, err)
			}
			req = map[string]types.KeysAndAttributes{s.table: left}
		}
	}
	return items, nil
}

// writes is the unconditional puts and deletes of one step, of which only
// the last on each item is sent.
type writes struct {
	order []itemKey
	last  map[itemKey]types.TransactWriteItem
}

func (w *writes) add(k itemKey, t types.TransactWriteItem) {
	if w.last == nil {
		w.last = map[itemKey]types.TransactWriteItem{}
	}
	if _, ok := w.last[k]; !ok {
		w.order = append(w.order, k)
	}
	w.last[k] = t
}

func (w *writes) put(table string, item map[string]types.AttributeValue) {
	w.add(keyString(item), types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: item}})
}

func (w *writes) del(table, pk, sk string) {
	w.add(itemKey{pk, sk}, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(table), Key: dynamotx.Key(pk, sk)}})
}

// units returns the writes, one a unit, in the order their items were
// first written.
func (w *writes) units() []dynamotx.Unit {
	out := make([]dynamotx.Unit, 0, len(w.order))
	for _, k := range w.order {
		out = append(out, dynamotx.Unit{w.last[k]})
	}
	return out
}

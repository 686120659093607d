package ledgerdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB's limits on one batch call.
const (
	MaxBatchGet   = 100
	MaxBatchWrite = 25
)

// wait sleeps before the attempt-th resend (1, 2, ...): exponential from
// s.Backoff, capped at a second, with full jitter in its upper half.
func (s *Store) wait(ctx context.Context, attempt int) error {
	d := s.Backoff << min(attempt-1, 10)
	if d > time.Second || d <= 0 {
		d = time.Second
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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

// batchWrite sends puts and deletes, 25 a call, resending unprocessed ones
// with backoff. Of several requests on one key only the last is sent.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	last := make(map[itemKey]int, len(reqs))
	for i, r := range reqs {
		last[writeKey(r)] = i
	}
	unique := make([]types.WriteRequest, 0, len(last))
	for i, r := range reqs {
		if last[writeKey(r)] == i {
			unique = append(unique, r)
		}
	}
	for start := 0; start < len(unique); start += MaxBatchWrite {
		chunk := unique[start:min(start+MaxBatchWrite, len(unique))]
		for attempt := 1; ; attempt++ {
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: chunk}})
			if err != nil {
				return fmt.Errorf("batch write %d items to %s: %w", len(chunk), s.table, err)
			}
			chunk = out.UnprocessedItems[s.table]
			if len(chunk) == 0 {
				break
			}
			if attempt >= s.MaxAttempts {
				return fmt.Errorf("batch write to %s: %d items after %d attempts: %w", s.table, len(chunk), attempt, ErrUnprocessed)
			}
			if err := s.wait(ctx, attempt); err != nil {
				return fmt.Errorf("batch write to %s: %w", s.table, err)
			}
		}
	}
	return nil
}

func writeKey(r types.WriteRequest) itemKey {
	if r.PutRequest != nil {
		return keyString(r.PutRequest.Item)
	}
	if r.DeleteRequest != nil {
		return keyString(r.DeleteRequest.Key)
	}
	return itemKey{}
}

func put(item map[string]types.AttributeValue) types.WriteRequest {
	return types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
}

func del(pk, sk string) types.WriteRequest {
	return types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyOf(pk, sk)}}
}

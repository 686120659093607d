package dynamotx

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Alone reports whether units may go as single conditional writes: each
// is at most one Put, Update or Delete (a ConditionCheck exists only to
// hold a transaction back, so a batch with one stays in transactions).
func Alone(units []Unit) bool {
	for _, u := range units {
		if len(u) > 1 || (len(u) == 1 && u[0].Put == nil && u[0].Update == nil && u[0].Delete == nil) {
			return false
		}
	}
	return true
}

// writeAlone sends the units pending (each one write) as single
// conditional writes, at most w.AtOnce at a time: the writes of one item
// one after the other, in the order of their units, those of different
// items at once. It fills in each unit's result, and returns the first
// error that is not a failed condition.
func (w *Writer) writeAlone(ctx context.Context, what string, units []Unit, pending []int, results []Result) error {
	var items []string
	byItem := map[string][]int{}
	for _, i := range pending {
		k := w.itemKey(units[i][0])
		if byItem[k] == nil {
			items = append(items, k)
		}
		byItem[k] = append(byItem[k], i)
	}
	atOnce := w.AtOnce
	if atOnce <= 0 {
		atOnce = DefaultAtOnce
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, atOnce)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, k := range items {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			for _, i := range byItem[k] {
				r, err := w.one(ctx, units[i][0])
				if err != nil {
					once.Do(func() { first = fmt.Errorf("%s: %w", what, err); cancel() })
					return
				}
				results[i] = r // each unit's result is written by one goroutine only
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// one sends a single write, again after a backoff while it conflicts with
// another worker's transaction, and returns its result.
func (w *Writer) one(ctx context.Context, wr types.TransactWriteItem) (Result, error) {
	maxAttempts := w.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	for attempt := 1; ; attempt++ {
		err := w.send1(ctx, wr)
		var failed *types.ConditionalCheckFailedException
		var conflict *types.TransactionConflictException
		switch {
		case err == nil:
			return Result{}, nil
		case errors.As(err, &failed):
			return Result{Failed: true, Old: failed.Item}, nil
		case !errors.As(err, &conflict):
			return Result{}, fmt.Errorf("write %s: %w", w.itemKey(wr), err)
		case attempt >= maxAttempts:
			return Result{}, fmt.Errorf("write %s: conflicts after %d attempts: %w", w.itemKey(wr), attempt, ErrRefused)
		}
		if err := Wait(ctx, w.Backoff, attempt); err != nil {
			return Result{}, err
		}
	}
}

// send1 sends one write of a transaction as the single call it stands for.
func (w *Writer) send1(ctx context.Context, wr types.TransactWriteItem) error {
	var err error
	switch {
	case wr.Put != nil:
		p := wr.Put
		_, err = w.DB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
			ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: p.ReturnValuesOnConditionCheckFailure,
		})
	case wr.Update != nil:
		u := wr.Update
		_, err = w.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
			ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: u.ReturnValuesOnConditionCheckFailure,
		})
	case wr.Delete != nil:
		d := wr.Delete
		_, err = w.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: d.TableName, Key: d.Key, ConditionExpression: d.ConditionExpression,
			ExpressionAttributeNames: d.ExpressionAttributeNames, ExpressionAttributeValues: d.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: d.ReturnValuesOnConditionCheckFailure,
		})
	default:
		err = errors.New("a write that is not a Put, Update or Delete")
	}
	return err
}

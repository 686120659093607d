// Package ratelimitdb keeps the API's request counts and cooldown marks in
// DynamoDB, so that every instance of the API function counts against the
// same limits: it implements ratelimit.Windows and ratelimit.Marks.
//
// The items live in the connections table (the API already writes it, so
// the limits need no table, permission or deployment of their own), under
// partition keys of their own that no other item uses:
//
//	pk LIMIT#<team>#<rule>        sk WINDOW#<window start, Unix s>
//	    n: requests counted; last: the token of the last counting call.
//	pk COOLDOWN#<key>             sk COOLDOWN
//	    until: the mark's end (Unix ms); token: the call that set it.
//
// Both carry expires_at, so DynamoDB's TTL deletes them after they ended; an
// item the TTL has not yet deleted is read as what it is, an ended window or
// mark, so nothing depends on when the TTL runs.
//
// Each request costs one conditional write (an UpdateItem of a few dozen
// bytes: one write unit), counted or refused alike. A call the SDK sends
// again after a lost answer finds its own token and gets the first answer,
// so it is not counted twice and a mark is not refused to its own setter.
package ratelimitdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/resources"
)

// DB is the part of the DynamoDB API the store uses.
type DB interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Store is the DynamoDB store of windows and marks.
type Store struct {
	DB    DB
	Table string // the connections table
}

var (
	_ ratelimit.Windows = (*Store)(nil)
	_ ratelimit.Marks   = (*Store)(nil)
)

const skCooldown = "COOLDOWN"

func str(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }

func num(n int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// expiry is t in whole Unix seconds, rounded up: the TTL's unit.
func expiry(t time.Time) int64 { return (t.UnixMilli() + 999) / 1000 }

// Take implements ratelimit.Windows: one conditional UpdateItem.
func (s *Store) Take(ctx context.Context, k string, start time.Time, max int, expires time.Time) (bool, error) {
	pk, sk := "LIMIT#"+k, "WINDOW#"+strconv.FormatInt(start.Unix(), 10)
	token := rand.Text()
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 dynamotx.Key(pk, sk),
		UpdateExpression:    aws.String("ADD #n :one SET #last = :token, #exp = :exp"),
		ConditionExpression: aws.String("(attribute_not_exists(#n) OR #n < :max) AND (attribute_not_exists(#last) OR #last <> :token)"),
		ExpressionAttributeNames: map[string]string{
			"#n": "n", "#last": "last", "#exp": resources.TTLAttribute,
		},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":one": num(1), ":max": num(int64(max)), ":token": str(token), ":exp": num(expiry(expires)),
		},
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		// Refused, unless the refusal found this call's own count: a repeat.
		return dynamotx.String(ccf.Item, "last") == token, nil
	case err != nil:
		return false, fmt.Errorf("count in %s %s: %w", pk, sk, err)
	}
	return true, nil
}

// Mark implements ratelimit.Marks: one conditional PutItem.
func (s *Store) Mark(ctx context.Context, k string, now, until time.Time) (time.Time, bool, error) {
	pk := "COOLDOWN#" + k
	token := rand.Text()
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]ddbtypes.AttributeValue{
			resources.PartitionKey: str(pk), resources.SortKey: str(skCooldown),
			"until": num(until.UnixMilli()), "token": str(token), resources.TTLAttribute: num(expiry(until)),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #until <= :now OR #token = :token"),
		ExpressionAttributeNames: map[string]string{"#pk": resources.PartitionKey, "#until": "until", "#token": "token"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":now": num(now.UnixMilli()), ":token": str(token),
		},
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		old, err := s.found(ctx, pk, ccf.Item)
		if err != nil {
			return time.Time{}, false, err
		}
		return time.UnixMilli(dynamotx.Int(old, "until")).UTC(), false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("mark %s: %w", pk, err)
	}
	return until, true, nil
}

// found is the mark a refused write found, read when an emulator returned
// none.
func (s *Store) found(ctx context.Context, pk string, old map[string]ddbtypes.AttributeValue) (map[string]ddbtypes.AttributeValue, error) {
	return dynamotx.Found(ctx, s.DB, s.Table, dynamotx.Key(pk, skCooldown), old)
}

// Clear implements ratelimit.Marks: deletes the mark if it is the caller's.
func (s *Store) Clear(ctx context.Context, k string, until time.Time) error {
	pk := "COOLDOWN#" + k
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       dynamotx.Key(pk, skCooldown),
		ConditionExpression:       aws.String("#until = :until"),
		ExpressionAttributeNames:  map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":until": num(until.UnixMilli())},
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("clear %s: %w", pk, err)
	}
	return nil
}

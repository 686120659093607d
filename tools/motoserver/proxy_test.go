package motoserver_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/tools/motoserver"
)

// TestAtomicProxy: racing conditional writes through the proxy have exactly
// one winner each, as on DynamoDB.
func TestAtomicProxy(t *testing.T) {
	t.Parallel()
	ep, err := motoserver.Shared()
	if err != nil {
		t.Fatal(err)
	}
	p, err := motoserver.StartAtomicProxy(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	cfg, err := motoserver.AWSConfig(ctx, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	table := fmt.Sprintf("atomic-proxy-%d", time.Now().UnixNano())
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}}}); err != nil {
		t.Fatal(err)
	}
	for round := range 60 {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
					Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint("k", round)}},
					UpdateExpression:          aws.String("SET o = :o"),
					ConditionExpression:       aws.String("attribute_not_exists(o)"),
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":o": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint(i)}}})
				var cf *ddbtypes.ConditionalCheckFailedException
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.As(err, &cf):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d writers won the same conditional claim; want 1", round, n)
		}
	}
}

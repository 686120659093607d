package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/sfsync/sfsync/tools/motoserver"
)

// TestTableGateRefusesWhatIAMRefuses: through a function's gate, a write
// to a table its role may not write is refused with AccessDeniedException,
// in each of the write operations' shapes, while writes to its own tables
// and reads of any table go through.
func TestTableGateRefusesWhatIAMRefuses(t *testing.T) {
	t.Parallel()
	ep := endpoint
	ctx := context.Background()
	cfg, err := motoserver.AWSConfig(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	own, other := uniqueTable(t, cfg, "gate-own"), uniqueTable(t, cfg, "gate-other")
	g, err := StartTableGate(ep, "contactsync", []string{own})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gcfg, err := motoserver.AWSConfig(ctx, g.URL)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(gcfg)
	item := func(string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TEAM#a"}, "sk": &types.AttributeValueMemberS{Value: "X"}}
	}
	key := item("")
	writes := []struct {
		name  string
		write func(table string) error
	}{
		{"PutItem", func(table string) error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item(table)})
			return err
		}},
		{"UpdateItem", func(table string) error {
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key,
				UpdateExpression: aws.String("SET n = :n"), ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "1"}}})
			return err
		}},
		{"DeleteItem", func(table string) error {
			_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key})
			return err
		}},
		{"BatchWriteItem", func(table string) error {
			_, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
				table: {{PutRequest: &types.PutRequest{Item: item(table)}}}}})
			return err
		}},
		{"TransactWriteItems", func(table string) error {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: aws.String(own), Item: map[string]types.AttributeValue{
					"pk": &types.AttributeValueMemberS{Value: "TEAM#a"}, "sk": &types.AttributeValueMemberS{Value: "Y"}}}},
				{Put: &types.Put{TableName: aws.String(table), Item: item(table)}}}})
			return err
		}},
	}
	for _, w := range writes {
		if err := w.write(own); err != nil {
			t.Errorf("%s to its own table: got %v; want nil", w.name, err)
		}
		var api smithy.APIError
		if err := w.write(other); !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
			t.Errorf("%s to another table: got %v; want AccessDeniedException", w.name, err)
		}
	}
	if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(other), Key: key}); err != nil {
		t.Errorf("GetItem of another table: got %v; want nil (reads are not gated)", err)
	}
}

// uniqueTable creates a table keyed pk, sk for the test.
func uniqueTable(t *testing.T, cfg aws.Config, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + "-" + hex.EncodeToString(b)
	_, err := dynamodb.NewFromConfig(cfg).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

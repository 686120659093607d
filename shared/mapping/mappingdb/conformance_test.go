package mappingdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/mapping/mappingtest"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

// conformanceRenderer is mappingdb's Renderer on a table of its own,
// reading the mapping for every contact, with saves through its Store.
type conformanceRenderer struct {
	*mappingdb.Renderer
}

func (r conformanceRenderer) Save(ctx context.Context, team string, object event.SalesforceObject, m mapping.Mapping) (int, error) {
	v, err := r.Store.Save(ctx, team, "conformance", object, m, mappingdb.AnyVersion)
	return v.Number, err
}

// conformanceDB returns a DynamoDB client on moto: the one AWS_ENDPOINT_URL
// names (make test's), else one this test starts and stops.
func conformanceDB(t *testing.T) *dynamodb.Client {
	t.Helper()
	ctx := context.Background()
	ep := os.Getenv("AWS_ENDPOINT_URL")
	if ep == "" {
		srv, err := motoserver.Start(ctx, "127.0.0.1:0")
		if err != nil {
			t.Fatalf("start moto: %v", err)
		}
		t.Cleanup(srv.Stop)
		ep = srv.Endpoint
	}
	cfg, err := motoserver.AWSConfig(ctx, ep)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return dynamodb.NewFromConfig(cfg)
}

// newConformanceRenderer returns a renderer on a fresh policies table.
func newConformanceRenderer(t *testing.T, client *dynamodb.Client) mappingtest.Store {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	table := "mappings-conformance-" + hex.EncodeToString(b)
	if err := motoserver.CreateTable(context.Background(), client, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(resources.PartitionKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(resources.SortKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(resources.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(resources.SortKey), KeyType: types.KeyTypeRange},
		},
	}); err != nil {
		t.Fatalf("create table %s: %v", table, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return conformanceRenderer{&mappingdb.Renderer{Store: mappingdb.New(client, table)}}
}

// TestConformance holds mappingdb's Renderer to the answers of the
// in-memory renderer the engines' unit tests use.
func TestConformance(t *testing.T) {
	client := conformanceDB(t)
	mappingtest.Run(t, func(t *testing.T) mappingtest.Store { return newConformanceRenderer(t, client) })
}

package policydb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/policy/policytest"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

// conformanceStore is a Store on a table of its own whose clock is the
// time of the last save the suite asks for: each save is stamped with it.
type conformanceStore struct {
	*policydb.Store
	mu  sync.Mutex
	now time.Time
}

func (s *conformanceStore) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *conformanceStore) setClock(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = at
}

func (s *conformanceStore) SaveTeamSettings(ctx context.Context, team string, at time.Time, doc policy.TeamSettings) (policy.TeamVersion, error) {
	s.setClock(at)
	return s.Store.SaveTeamSettings(ctx, team, "conformance", doc, policydb.AnyVersion)
}

func (s *conformanceStore) SaveSequenceOverride(ctx context.Context, team, seq string, at time.Time, doc policy.SequenceOverride) (policy.SequenceVersion, error) {
	s.setClock(at)
	return s.Store.SaveSequenceOverride(ctx, team, seq, "conformance", doc, policydb.AnyVersion)
}

// newConformanceStore returns a store on a fresh policies table (which
// also stands for the ledger table, unused here) of the shared moto.
func newConformanceStore(t *testing.T) policytest.Store {
	t.Helper()
	ctx := context.Background()
	ep, err := motoserver.Shared()
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	cfg, err := motoserver.AWSConfig(ctx, ep)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	client := dynamodb.NewFromConfig(cfg)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	table := "policies-conformance-" + hex.EncodeToString(b)
	if err := motoserver.CreateTable(ctx, client, &dynamodb.CreateTableInput{
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
	s := &conformanceStore{Store: policydb.New(client, table, table)}
	s.Store.Now = s.clock
	return s
}

// TestConformance holds policydb to the answers of the in-memory policy
// the engines' unit tests use.
func TestConformance(t *testing.T) {
	t.Parallel()
	policytest.Run(t, newConformanceStore)
}

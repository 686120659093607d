// Package readinessdb keeps each team's last org readiness report, and the
// snapshot of the org it was made of, in the policies table
// (readiness.Store):
//
//	pk TEAM#<team>  sk READINESS  connection_id, checked_ns, report (JSON),
//	                              snapshot (gzipped JSON), expires_at
//
// One item per team, replaced by every new report; it expires a month after
// its report, when nobody asked for one since. The snapshot holds the
// describes of Lead and Contact as the report reads them (salesforce.Describe),
// gzipped to keep the item well under DynamoDB's 400 KB.
package readinessdb

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/shared/resources"
)

// Retention is how long a report is kept after it was made.
const Retention = 30 * 24 * time.Hour

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Store implements readiness.Store on the policies table.
type Store struct {
	DB    API
	Table string
}

var _ readiness.Store = (*Store)(nil)

// key is the key of the team's report in the policies table.
func key(team string) map[string]types.AttributeValue { return dynamotx.Key("TEAM#"+team, "READINESS") }

// Last implements readiness.Store. An item without a readable snapshot
// (one kept before snapshots were) is as if none were kept.
func (s *Store) Last(ctx context.Context, team string) (*readiness.Kept, error) {
	if err := policy.ValidateID("team_id", team); err != nil {
		return nil, err
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(team)})
	if err != nil {
		return nil, fmt.Errorf("read readiness report: %w", err)
	}
	conn, _ := out.Item["connection_id"].(*types.AttributeValueMemberS)
	body, _ := out.Item["report"].(*types.AttributeValueMemberS)
	snap, _ := out.Item["snapshot"].(*types.AttributeValueMemberB)
	if conn == nil || body == nil || snap == nil {
		return nil, nil // none, or unreadable: as if none were kept
	}
	var k readiness.Kept
	if err := json.Unmarshal([]byte(body.Value), &k.Report); err != nil {
		return nil, nil
	}
	if err := unzipJSON(snap.Value, &k.Snapshot); err != nil {
		return nil, nil
	}
	k.Report.ConnectionID = conn.Value
	return &k, nil
}

func zipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func unzipJSON(b []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// Save implements readiness.Store.
func (s *Store) Save(ctx context.Context, team string, k readiness.Kept) error {
	if err := policy.ValidateID("team_id", team); err != nil {
		return err
	}
	r := k.Report
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode readiness report: %w", err)
	}
	snap, err := zipJSON(k.Snapshot)
	if err != nil {
		return fmt.Errorf("encode readiness snapshot: %w", err)
	}
	item := key(team)
	item["connection_id"] = &types.AttributeValueMemberS{Value: r.ConnectionID}
	item["checked_ns"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.CheckedAt.UnixNano(), 10)}
	item["report"] = &types.AttributeValueMemberS{Value: string(body)}
	item["snapshot"] = &types.AttributeValueMemberB{Value: snap}
	item[resources.TTLAttribute] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.CheckedAt.Add(Retention).Unix(), 10)}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("keep readiness report: %w", err)
	}
	return nil
}

package privacydb

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/resources"
)

// PurgeAPI is the part of the DynamoDB client the purge uses.
type PurgeAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Table is one table the purge goes through: its name in answers
// (connections, policies, ledger) and in DynamoDB.
type Table struct {
	Name  string
	Table string
}

// Purger deletes every item of a team in the stack's tables, for a team
// that leaves (DELETE /v1/salesforce?purge=true). It scans each table in
// turn (a paginated Scan, filtered on the team's keys: a rare call, so a
// read of every table is accepted) and deletes what the filter keeps, in
// BatchWriteItem deletes of 25.
//
// A team's items are those whose pk is TEAM#<team> or begins with
// TEAM#<team>#, and, in the connections table, its pending connects and
// their consents: STATE#<state> and CONSENTS#<hour> items whose team_id
// is the team. Left alone are the request-limit windows (LIMIT#<team>#…)
// and cooldowns (COOLDOWN#<team>#…): they hold no data of the team's
// contacts or org, expire within minutes, and deleting them would lift
// the team's request limits, the purge route's own included.
//
// One call works for at most MaxTime (less when the request's deadline is
// nearer) and MaxPages scan pages, then keeps where it stopped in the
// connections table (pk PURGE#<team>, sk PURGE: the table and the scan's
// position; it expires after a day) and answers Complete false; the next
// call goes on from there. The call that reaches the end of the last
// table deletes that item and answers Complete true. Items the team's
// events write behind the scan meanwhile are not seen by it: a purge
// called again after it completed starts over.
type Purger struct {
	DB PurgeAPI
	// Tables in the order they are purged; Cursors is the connections
	// table, where the position is kept.
	Tables  []Table
	Cursors string
	// MaxTime bounds one call's work (0: DefaultPurgeTime); MaxPages its
	// scan pages (0: no bound but the time); PageSize a scan page's items
	// (0: DynamoDB's 1 MB pages).
	MaxTime  time.Duration
	MaxPages int
	PageSize int32
	Backoff  time.Duration
	Now      func() time.Time // nil: time.Now
}

// DefaultPurgeTime bounds a purge call's work: the API function's timeout
// is 15 s.
const DefaultPurgeTime = 8 * time.Second

// purgeReserve is kept of a request's deadline to answer.
const purgeReserve = 3 * time.Second

// PurgeCursorPK is the key of a team's purge position in the connections
// table; PurgeCursorSK its sort key.
func PurgeCursorPK(team string) string { return "PURGE#" + team }

// PurgeCursorSK is the sort key of a team's purge position.
const PurgeCursorSK = "PURGE"

// purgeCursorTTL is how long a purge position is kept.
const purgeCursorTTL = 24 * time.Hour

// Purge deletes the team's items, within one call's bounds.
func (p *Purger) Purge(ctx context.Context, team string) (privacy.Purged, error) {
	if err := checkTeam(team); err != nil {
		return privacy.Purged{}, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	start := time.Now() // the request's deadline is on the wall clock
	limit := p.MaxTime
	if limit <= 0 {
		limit = DefaultPurgeTime
	}
	if dl, ok := ctx.Deadline(); ok {
		limit = min(limit, dl.Sub(start)-purgeReserve)
	}
	out := privacy.Purged{Deleted: map[string]int{}}
	for _, t := range p.Tables {
		out.Deleted[t.Name] = 0
	}
	ti, pos, err := p.cursor(ctx, team)
	if err != nil {
		return privacy.Purged{}, err
	}
	for pages := 0; ti < len(p.Tables); pages++ {
		if pages > 0 && (time.Since(start) >= limit || (p.MaxPages > 0 && pages >= p.MaxPages)) {
			break
		}
		t := p.Tables[ti]
		in := teamScan(t.Table, team)
		in.ExclusiveStartKey = pos
		if p.PageSize > 0 {
			in.Limit = aws.Int32(p.PageSize)
		}
		page, err := p.DB.Scan(ctx, in)
		if err != nil {
			return privacy.Purged{}, fmt.Errorf("scan %s for team %s: %w", t.Name, team, err)
		}
		keys := make([]map[string]types.AttributeValue, 0, len(page.Items))
		for _, raw := range page.Items {
			keys = append(keys, dynamotx.Key(dynamotx.String(raw, resources.PartitionKey), dynamotx.String(raw, resources.SortKey)))
		}
		if err := deleteKeys(ctx, p.DB, t.Table, keys, p.Backoff, 0); err != nil {
			return privacy.Purged{}, fmt.Errorf("purge %s of team %s: %w", t.Name, team, err)
		}
		out.Deleted[t.Name] += len(keys)
		pos = page.LastEvaluatedKey
		if len(pos) == 0 {
			ti, pos = ti+1, nil
		}
	}
	out.Complete = ti >= len(p.Tables)
	if err := p.keep(ctx, team, ti, pos, out.Complete, now()); err != nil {
		return privacy.Purged{}, err
	}
	return out, nil
}

// teamScan is a scan of table for the team's items, keys only.
func teamScan(table, team string) *dynamodb.ScanInput {
	tp := ledgerdb.TeamPK(team)
	return &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		FilterExpression:         aws.String("#pk = :tp OR begins_with(#pk, :tpx) OR ((begins_with(#pk, :state) OR begins_with(#pk, :consents)) AND #team = :team)"),
		ProjectionExpression:     aws.String("#pk, #sk"),
		ExpressionAttributeNames: map[string]string{"#pk": resources.PartitionKey, "#sk": resources.SortKey, "#team": "team_id"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":tp": &types.AttributeValueMemberS{Value: tp}, ":tpx": &types.AttributeValueMemberS{Value: tp + "#"},
			":state": &types.AttributeValueMemberS{Value: "STATE#"}, ":consents": &types.AttributeValueMemberS{Value: "CONSENTS#"},
			":team": &types.AttributeValueMemberS{Value: team}}}
}

// Attributes of the purge position.
const (
	attrPurgeTable = "table_index"
	attrPurgeStart = "start"
)

// cursor reads where the team's purge stopped: the table's index and the
// scan's position in it (nil: its start).
func (p *Purger) cursor(ctx context.Context, team string) (int, map[string]types.AttributeValue, error) {
	got, err := p.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.Cursors), Key: dynamotx.Key(PurgeCursorPK(team), PurgeCursorSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, nil, fmt.Errorf("read the purge position of team %s: %w", team, err)
	}
	if len(got.Item) == 0 {
		return 0, nil, nil
	}
	ti := int(dynamotx.Int(got.Item, attrPurgeTable))
	if ti < 0 || ti >= len(p.Tables) {
		return 0, nil, nil
	}
	var pos map[string]types.AttributeValue
	if m, ok := got.Item[attrPurgeStart].(*types.AttributeValueMemberM); ok && len(m.Value) > 0 {
		pos = m.Value
	}
	return ti, pos, nil
}

// keep stores where the purge stopped, or deletes the position once it
// is complete.
func (p *Purger) keep(ctx context.Context, team string, ti int, pos map[string]types.AttributeValue, complete bool, now time.Time) error {
	key := dynamotx.Key(PurgeCursorPK(team), PurgeCursorSK)
	if complete {
		if _, err := p.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(p.Cursors), Key: key}); err != nil {
			return fmt.Errorf("delete the purge position of team %s: %w", team, err)
		}
		return nil
	}
	item := dynamotx.Key(PurgeCursorPK(team), PurgeCursorSK)
	item[attrPurgeTable] = &types.AttributeValueMemberN{Value: strconv.Itoa(ti)}
	if len(pos) > 0 {
		item[attrPurgeStart] = &types.AttributeValueMemberM{Value: pos}
	}
	item["team_id"] = &types.AttributeValueMemberS{Value: team}
	item[resources.TTLAttribute] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(purgeCursorTTL).Unix(), 10)}
	if _, err := p.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.Cursors), Item: item}); err != nil {
		return fmt.Errorf("keep the purge position of team %s: %w", team, err)
	}
	return nil
}

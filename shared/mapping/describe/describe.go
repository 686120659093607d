// Package describe gives the field mapping the org's metadata: a Describer
// over a team's Salesforce connection, and a per-team cache of the describe
// results in the policies table, so that saving a mapping does not spend an
// API call each time and syncing contacts spends none.
//
// Layout in the policies table:
//
//	pk TEAM#<team>  sk DESCRIBE#Lead  fetched_ns, fetched_at, body (gzip JSON of the describe)
package describe

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// DefaultTTL is how long a cached describe is fresh enough for a save.
const DefaultTTL = 24 * time.Hour

// maxBody bounds a stored describe (DynamoDB items hold at most 400 KB).
const maxBody = 350 << 10

// Describer fetches an object's describe from a team's org.
type Describer interface {
	Describe(ctx context.Context, teamID, object string) (*salesforce.Describe, error)
}

// Org is the Describer over the team's stored connection: one describe call
// with the connection's tokens, refreshed once if Salesforce says they expired.
// connection.ErrNotConnected and ErrNeedsReauth come through errors.Is.
type Org struct {
	Connections connection.Store
	Connector   *connection.Connector // for the refresh grant
	Holder      string                // names this process in the refresh lease
	HTTP        *http.Client          // nil: the Connector's client
	APIVersion  string                // "" : salesforce.DefaultVersion
}

// Describe implements Describer.
func (o *Org) Describe(ctx context.Context, teamID, object string) (*salesforce.Describe, error) {
	hc := o.HTTP
	if hc == nil && o.Connector != nil {
		hc = o.Connector.HTTPClient()
	}
	tokens := &connection.Tokens{TeamID: teamID, Store: o.Connections, Connector: o.Connector, Holder: o.Holder, HTTP: hc}
	client := &salesforce.Client{HTTP: hc, Session: tokens, Version: o.APIVersion}
	d, err := client.Describe(ctx, object)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// API is the part of the DynamoDB client the cache uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Cache keeps each team's describes in the policies table.
type Cache struct {
	DB     API
	Table  string
	Source Describer        // nil: Get serves only what is cached
	TTL    time.Duration    // 0: DefaultTTL
	Now    func() time.Time // nil: time.Now
}

func (c *Cache) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Cache) ttl() time.Duration {
	if c.TTL <= 0 {
		return DefaultTTL
	}
	return c.TTL
}

// key is the key of the team's describe of object in the policies table.
func key(team, object string) map[string]types.AttributeValue {
	return dynamotx.Key("TEAM#"+team, "DESCRIBE#"+object)
}

func check(team, object string) error {
	if err := policy.ValidateID("team_id", team); err != nil {
		return err
	}
	if object != string(event.ObjectLead) && object != string(event.ObjectContact) {
		return &policy.ValidationError{Field: "object", Problem: "must be Lead or Contact"}
	}
	return nil
}

// Cached returns the team's cached describe of object and when it was
// fetched, whatever its age, without calling Salesforce; nil when none is
// cached.
func (c *Cache) Cached(ctx context.Context, team, object string) (*salesforce.Describe, time.Time, error) {
	if err := check(team, object); err != nil {
		return nil, time.Time{}, err
	}
	out, err := c.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), Key: key(team, object)})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read cached describe of %s: %w", object, err)
	}
	if out.Item == nil {
		return nil, time.Time{}, nil
	}
	ns, _ := out.Item["fetched_ns"].(*types.AttributeValueMemberN)
	body, _ := out.Item["body"].(*types.AttributeValueMemberB)
	if ns == nil || body == nil {
		return nil, time.Time{}, nil // unreadable: as if none were cached
	}
	var at int64
	if _, err := fmt.Sscan(ns.Value, &at); err != nil {
		return nil, time.Time{}, nil
	}
	d, err := decode(body.Value)
	if err != nil {
		return nil, time.Time{}, nil
	}
	return d, time.Unix(0, at).UTC(), nil
}

// ErrNoSource means Get needed to fetch a describe but the cache has no Source.
var ErrNoSource = errors.New("describe: no describer configured")

// Get returns the team's describe of object: the cached one while it is
// younger than the TTL, else (or when refresh is set) a fresh one fetched
// through Source and cached. Errors of the fetch come through unchanged
// for errors.Is (connection.ErrNotConnected, salesforce.ErrRequestLimit...).
func (c *Cache) Get(ctx context.Context, team, object string, refresh bool) (*salesforce.Describe, time.Time, error) {
	if !refresh {
		d, at, err := c.Cached(ctx, team, object)
		if err != nil {
			return nil, time.Time{}, err
		}
		if d != nil && c.now().Sub(at) < c.ttl() {
			return d, at, nil
		}
	} else if err := check(team, object); err != nil {
		return nil, time.Time{}, err
	}
	if c.Source == nil {
		return nil, time.Time{}, ErrNoSource
	}
	d, err := c.Source.Describe(ctx, team, object)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("describe %s: %w", object, err)
	}
	at := c.now().UTC()
	if err := c.put(ctx, team, object, d, at); err != nil {
		return nil, time.Time{}, err
	}
	return d, at, nil
}

// Store caches d as the team's describe of object, fetched at at, for a
// caller that fetched it another way (the readiness report reads it inside
// a composite call).
func (c *Cache) Store(ctx context.Context, team, object string, d *salesforce.Describe, at time.Time) error {
	if err := check(team, object); err != nil {
		return err
	}
	return c.put(ctx, team, object, d, at.UTC())
}

func (c *Cache) put(ctx context.Context, team, object string, d *salesforce.Describe, at time.Time) error {
	body, err := encode(d)
	if err != nil {
		return fmt.Errorf("encode describe of %s: %w", object, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("describe of %s: %d bytes compressed exceed the cache's %d", object, len(body), maxBody)
	}
	item := key(team, object)
	item["fetched_ns"] = &types.AttributeValueMemberN{Value: fmt.Sprint(at.UnixNano())}
	item["fetched_at"] = &types.AttributeValueMemberS{Value: at.Format(time.RFC3339Nano)}
	item["body"] = &types.AttributeValueMemberB{Value: body}
	if _, err := c.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(c.Table), Item: item}); err != nil {
		return fmt.Errorf("cache describe of %s: %w", object, err)
	}
	return nil
}

func encode(d *salesforce.Describe) ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func decode(body []byte) (*salesforce.Describe, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, err
	}
	var d salesforce.Describe
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

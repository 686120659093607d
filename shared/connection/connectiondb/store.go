// Package connectiondb stores connections and pending authorizations in the
// connections DynamoDB table, with every token and PKCE verifier sealed by
// KMS envelope encryption bound to its team and connection (or, for a
// consent not yet completed, its team and state).
//
// Items: TEAM#<team>/CONNECTION is the team's connection; STATE#<state>/STATE
// is an authorization in progress, and after the callback its consent
// (sealed tokens, the ticket's hash); TEAM#<team>/CONSENT#<state> notes a
// consent under its team, and CONSENTS#<hour of its deadline>/<deadline in
// ms>#<state> under its deadline, without secrets, so that an expired one
// can be found and revoked, by team or across teams without a scan. Each
// of the last three carries a DynamoDB TTL an hour past its deadline.
// TEAM#<team>/CALLS#<day> keeps the calls the service made for the team on
// a UTC day that its connection no longer counts (RecordUsage, Replace,
// Delete, CallsByDay), for CallsRetention.
package connectiondb

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/resources"
)

// DynamoDB is the part of the DynamoDB API the store uses.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store implements connection.Store.
type Store struct {
	DB     DynamoDB
	Table  string
	Sealer *sealing.Sealer
	// Log notes a day's calls that could not be kept (RecordUsage); nil:
	// slog.Default().
	Log *slog.Logger
}

var _ connection.Store = (*Store)(nil)

const (
	skState         = "STATE"
	skConnection    = "CONNECTION"
	skConsentPrefix = "CONSENT#"
	skCallsPrefix   = "CALLS#"
)

// CallsRetention is how long the calls of a day are kept after the day
// began: as long as the health report's other counts (health.Keep), past
// the longest report.
const CallsRetention = health.Keep

// ttlGrace is how long past its deadline an item waits for DynamoDB's TTL:
// long enough for a sweep to revoke an expired consent first.
const ttlGrace = time.Hour

func stateKey(state string) map[string]ddbtypes.AttributeValue {
	return key("STATE#"+state, skState)
}

func connKey(team string) map[string]ddbtypes.AttributeValue {
	return key("TEAM#"+team, skConnection)
}

func key(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		resources.PartitionKey: &ddbtypes.AttributeValueMemberS{Value: pk},
		resources.SortKey:      &ddbtypes.AttributeValueMemberS{Value: sk},
	}
}

type stateItem struct {
	PK          string         `dynamodbav:"pk"`
	SK          string         `dynamodbav:"sk"`
	TeamID      string         `dynamodbav:"team_id"`
	Admin       string         `dynamodbav:"admin"`
	Verifier    sealing.Sealed `dynamodbav:"verifier"`
	Environment string         `dynamodbav:"environment"`
	LoginURL    string         `dynamodbav:"login_url"`
	ExpiresAt   int64          `dynamodbav:"expires_at"` // TTL, epoch seconds (garbage collection only)
	ExpiresAtMs int64          `dynamodbav:"expires_at_ms"`
	// The consent, once the callback stored it.
	TicketHash       string          `dynamodbav:"ticket_hash,omitempty"`
	ConsentExpiresMs int64           `dynamodbav:"consent_expires_ms,omitempty"`
	InstanceURL      string          `dynamodbav:"instance_url,omitempty"`
	OrgID            string          `dynamodbav:"org_id,omitempty"`
	UserID           string          `dynamodbav:"user_id,omitempty"`
	Username         string          `dynamodbav:"username,omitempty"`
	Access           *sealing.Sealed `dynamodbav:"access,omitempty"`
	Refresh          *sealing.Sealed `dynamodbav:"refresh,omitempty"`
}

// consentNote notes a consent, under its team or under its deadline.
type consentNote struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	TeamID    string `dynamodbav:"team_id"`
	State     string `dynamodbav:"state"`
	ExpiresMs int64  `dynamodbav:"consent_expires_ms"`
	ExpiresAt int64  `dynamodbav:"expires_at"` // TTL
}

func (n consentNote) ref() connection.ConsentRef {
	return connection.ConsentRef{TeamID: n.TeamID, State: n.State, ExpiresAt: time.UnixMilli(n.ExpiresMs)}
}

// deadlinePK is the partition of the consents whose deadline falls in the
// UTC hour of t.
func deadlinePK(t time.Time) string { return "CONSENTS#" + t.UTC().Format("2006-01-02T15") }

// deadlineSK sorts a consent within its hour by its deadline.
func deadlineSK(ms int64, state string) string { return fmt.Sprintf("%013d#%s", ms, state) }

// consentNotes are a consent's notes: under its team, and under its
// deadline.
func consentNotes(ref connection.ConsentRef) []consentNote {
	ms := ref.ExpiresAt.UnixMilli()
	n := consentNote{TeamID: ref.TeamID, State: ref.State, ExpiresMs: ms, ExpiresAt: ref.ExpiresAt.Add(ttlGrace).Unix()}
	byTeam, byDeadline := n, n
	byTeam.PK, byTeam.SK = "TEAM#"+ref.TeamID, skConsentPrefix+ref.State
	byDeadline.PK, byDeadline.SK = deadlinePK(ref.ExpiresAt), deadlineSK(ms, ref.State)
	return []consentNote{byTeam, byDeadline}
}

func consentContext(state, team, purpose string) map[string]string {
	return map[string]string{"purpose": "consent_" + purpose, "team_id": team, "state": state}
}

func stateContext(state, team string) map[string]string {
	return map[string]string{"purpose": "pkce_verifier", "team_id": team, "state": state}
}

// SaveState stores a pending authorization.
func (s *Store) SaveState(ctx context.Context, p connection.PendingAuth) error {
	sealed, err := s.Sealer.Seal(ctx, []byte(p.Verifier), stateContext(p.State, p.TeamID))
	if err != nil {
		return fmt.Errorf("seal verifier: %w", err)
	}
	item, err := attributevalue.MarshalMap(stateItem{PK: "STATE#" + p.State, SK: skState, TeamID: p.TeamID, Admin: p.Admin,
		Verifier: sealed, Environment: string(p.Environment), LoginURL: p.LoginURL,
		ExpiresAt: p.ExpiresAt.Add(time.Hour).Unix(), ExpiresAtMs: p.ExpiresAt.UnixMilli()})
	if err != nil {
		return fmt.Errorf("marshal state: %w", err)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		// A state is 256 random bits: the item that exists is this very
		// request's, written by an attempt whose answer was lost and retried.
		return nil
	}
	if err != nil {
		return fmt.Errorf("put state: %w", err)
	}
	return nil
}

// TakeState claims and returns the pending authorization, once. The claim is
// a conditional update that stamps the state with a fresh nonce: of two
// callbacks with the same state only one gets it, and the SDK retrying our
// own request after a lost answer still gets it (the nonce matches), where a
// conditional delete would report the state as already used. The claimed
// item is left for its TTL.
func (s *Store) TakeState(ctx context.Context, state string) (connection.PendingAuth, error) {
	nonce := rand.Text()
	cond := expression.AttributeExists(expression.Name(resources.PartitionKey)).And(
		expression.AttributeNotExists(expression.Name("taken_by")).Or(
			expression.Name("taken_by").Equal(expression.Value(nonce))))
	expr, err := expression.NewBuilder().WithCondition(cond).
		WithUpdate(expression.Set(expression.Name("taken_by"), expression.Value(nonce))).Build()
	if err != nil {
		return connection.PendingAuth{}, fmt.Errorf("take state: %w", err)
	}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: stateKey(state),
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: ddbtypes.ReturnValueAllNew})
	if err != nil {
		var cf *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &cf) {
			return connection.PendingAuth{}, connection.ErrStateUnknown
		}
		return connection.PendingAuth{}, fmt.Errorf("take state: %w", err)
	}
	var it stateItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return connection.PendingAuth{}, fmt.Errorf("unmarshal state: %w", err)
	}
	verifier, err := s.Sealer.Open(ctx, it.Verifier, stateContext(state, it.TeamID))
	if err != nil {
		return connection.PendingAuth{}, fmt.Errorf("open verifier: %w", err)
	}
	return connection.PendingAuth{State: state, TeamID: it.TeamID, Admin: it.Admin, Verifier: string(verifier),
		Environment: connection.Environment(it.Environment), LoginURL: it.LoginURL,
		ExpiresAt: time.UnixMilli(it.ExpiresAtMs)}, nil
}

// SaveConsent stores what the callback obtained on its taken state item,
// tokens sealed, and notes the consent under its team and its deadline. The
// notes go first: a note without a consent is dropped by the next sweep,
// where a consent without a note could not be found to revoke.
func (s *Store) SaveConsent(ctx context.Context, c connection.Consent) error {
	team := c.Connection.TeamID
	access, err := s.Sealer.Seal(ctx, []byte(c.Connection.AccessToken), consentContext(c.State, team, "access_token"))
	if err != nil {
		return fmt.Errorf("seal access token: %w", err)
	}
	refresh, err := s.Sealer.Seal(ctx, []byte(c.Connection.RefreshToken), consentContext(c.State, team, "refresh_token"))
	if err != nil {
		return fmt.Errorf("seal refresh token: %w", err)
	}
	ttl := c.ExpiresAt.Add(ttlGrace).Unix()
	for _, n := range consentNotes(c.Ref()) {
		note, err := attributevalue.MarshalMap(n)
		if err != nil {
			return fmt.Errorf("marshal consent note: %w", err)
		}
		if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: note}); err != nil {
			return fmt.Errorf("put consent note: %w", err)
		}
	}
	cond := expression.Name("team_id").Equal(expression.Value(team)).
		And(expression.AttributeExists(expression.Name("taken_by"))).
		And(expression.AttributeNotExists(expression.Name("ticket_hash")).
			Or(expression.Name("ticket_hash").Equal(expression.Value(c.TicketHash))))
	upd := expression.Set(expression.Name("ticket_hash"), expression.Value(c.TicketHash)).
		Set(expression.Name("consent_expires_ms"), expression.Value(c.ExpiresAt.UnixMilli())).
		Set(expression.Name("expires_at"), expression.Value(ttl)).
		Set(expression.Name("environment"), expression.Value(string(c.Connection.Environment))).
		Set(expression.Name("login_url"), expression.Value(c.Connection.LoginURL)).
		Set(expression.Name("instance_url"), expression.Value(c.Connection.InstanceURL)).
		Set(expression.Name("org_id"), expression.Value(c.Connection.OrgID)).
		Set(expression.Name("user_id"), expression.Value(c.Connection.UserID)).
		Set(expression.Name("username"), expression.Value(c.Connection.Username)).
		Set(expression.Name("access"), expression.Value(access)).
		Set(expression.Name("refresh"), expression.Value(refresh))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("build consent update: %w", err)
	}
	// The condition admits a repeat of this very write (same ticket hash),
	// which the SDK sends when the first answer is lost.
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: stateKey(c.State),
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	return nil
}

// TakeConsent claims and returns a consent, once, as TakeState claims a
// state: a conditional update stamps it with a fresh nonce, so a repeat of
// our own request still gets it and any other request does not.
func (s *Store) TakeConsent(ctx context.Context, state string) (connection.Consent, error) {
	nonce := rand.Text()
	cond := expression.AttributeExists(expression.Name("ticket_hash")).And(
		expression.AttributeNotExists(expression.Name("claimed_by")).Or(
			expression.Name("claimed_by").Equal(expression.Value(nonce))))
	expr, err := expression.NewBuilder().WithCondition(cond).
		WithUpdate(expression.Set(expression.Name("claimed_by"), expression.Value(nonce))).Build()
	if err != nil {
		return connection.Consent{}, fmt.Errorf("take consent: %w", err)
	}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: stateKey(state),
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: ddbtypes.ReturnValueAllNew})
	if isConditionFailed(err) {
		return connection.Consent{}, connection.ErrNoConsent
	}
	if err != nil {
		return connection.Consent{}, fmt.Errorf("take consent: %w", err)
	}
	var it stateItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return connection.Consent{}, fmt.Errorf("unmarshal consent: %w", err)
	}
	if it.Access == nil || it.Refresh == nil {
		return connection.Consent{}, errors.New("take consent: the consent holds no sealed tokens")
	}
	access, err := s.Sealer.Open(ctx, *it.Access, consentContext(state, it.TeamID, "access_token"))
	if err != nil {
		return connection.Consent{}, fmt.Errorf("open access token: %w", err)
	}
	refresh, err := s.Sealer.Open(ctx, *it.Refresh, consentContext(state, it.TeamID, "refresh_token"))
	if err != nil {
		return connection.Consent{}, fmt.Errorf("open refresh token: %w", err)
	}
	return connection.Consent{State: state, Admin: it.Admin, TicketHash: it.TicketHash,
		ExpiresAt: time.UnixMilli(it.ConsentExpiresMs),
		Connection: connection.Connection{TeamID: it.TeamID, Environment: connection.Environment(it.Environment),
			LoginURL: it.LoginURL, InstanceURL: it.InstanceURL, OrgID: it.OrgID, UserID: it.UserID,
			Username: it.Username, AccessToken: string(access), RefreshToken: string(refresh)}}, nil
}

// DropConsent deletes a consent's state item and its notes.
func (s *Store) DropConsent(ctx context.Context, ref connection.ConsentRef) error {
	if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.Table, Key: stateKey(ref.State)}); err != nil {
		return fmt.Errorf("delete consent: %w", err)
	}
	for _, n := range consentNotes(ref) {
		if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.Table, Key: key(n.PK, n.SK)}); err != nil {
			return fmt.Errorf("delete consent note: %w", err)
		}
	}
	return nil
}

// ExpiredConsents lists the consents whose deadline is at or before now,
// from the hours of the last SweepLookback: one query per hour.
func (s *Store) ExpiredConsents(ctx context.Context, now time.Time) ([]connection.ConsentRef, error) {
	var refs []connection.ConsentRef
	until := deadlineSK(now.UnixMilli()+1, "") // every deadline at or before now sorts below
	for h := now.Add(-connection.SweepLookback).UTC().Truncate(time.Hour); !h.After(now); h = h.Add(time.Hour) {
		kc := expression.Key(resources.PartitionKey).Equal(expression.Value(deadlinePK(h))).
			And(expression.Key(resources.SortKey).LessThan(expression.Value(until)))
		got, err := s.notes(ctx, kc)
		if err != nil {
			return nil, err
		}
		refs = append(refs, got...)
	}
	return refs, nil
}

// Consents lists the team's notes of consents not yet dropped.
func (s *Store) Consents(ctx context.Context, team string) ([]connection.ConsentRef, error) {
	kc := expression.Key(resources.PartitionKey).Equal(expression.Value("TEAM#" + team)).
		And(expression.Key(resources.SortKey).BeginsWith(skConsentPrefix))
	refs, err := s.notes(ctx, kc)
	for i := range refs {
		refs[i].TeamID = team // notes written before they named their team
	}
	return refs, err
}

// notes returns the consent notes kc selects, every page.
func (s *Store) notes(ctx context.Context, kc expression.KeyConditionBuilder) ([]connection.ConsentRef, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build consents query: %w", err)
	}
	in := &dynamodb.QueryInput{TableName: &s.Table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true)}
	var refs []connection.ConsentRef
	for {
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query consents: %w", err)
		}
		for _, item := range out.Items {
			var n consentNote
			if err := attributevalue.UnmarshalMap(item, &n); err != nil {
				return nil, fmt.Errorf("unmarshal consent note: %w", err)
			}
			refs = append(refs, n.ref())
		}
		if len(out.LastEvaluatedKey) == 0 {
			return refs, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

type connItem struct {
	PK          string         `dynamodbav:"pk"`
	SK          string         `dynamodbav:"sk"`
	ConnID      string         `dynamodbav:"conn_id"`
	Environment string         `dynamodbav:"environment"`
	LoginURL    string         `dynamodbav:"login_url"`
	InstanceURL string         `dynamodbav:"instance_url"`
	OrgID       string         `dynamodbav:"org_id"`
	OrgName     string         `dynamodbav:"org_name,omitempty"`
	TimeZone    string         `dynamodbav:"time_zone,omitempty"`
	UserID      string         `dynamodbav:"user_id"`
	Username    string         `dynamodbav:"username"`
	ConnectedAt string         `dynamodbav:"connected_at"`
	ConnectedBy string         `dynamodbav:"connected_by"`
	Status      string         `dynamodbav:"status"`
	Version     int64          `dynamodbav:"version"`
	Access      sealing.Sealed `dynamodbav:"access"`
	Refresh     sealing.Sealed `dynamodbav:"refresh"`
	UsageUsed   int            `dynamodbav:"usage_used,omitempty"`
	UsageLimit  int            `dynamodbav:"usage_limit,omitempty"`
	UsageAt     string         `dynamodbav:"usage_at,omitempty"`
	SvcCalls    int            `dynamodbav:"svc_calls,omitempty"`
	SvcDay      string         `dynamodbav:"svc_day,omitempty"`
	SvcMark     string         `dynamodbav:"svc_mark,omitempty"` // the last usage write's
	LeaseHolder string         `dynamodbav:"lease_holder,omitempty"`
	LeaseUntil  int64          `dynamodbav:"lease_until,omitempty"`
	HeldAtMs    int64          `dynamodbav:"held_at_ms,omitempty"`
	// The day (and its calls) the last start of a day replaced, for
	// keepCalls; "" and 0 when it replaced none. SvcPrevMark is that
	// start's mark, which its keep is added under, so that keeping the day
	// again adds nothing twice (absent on items started before marks).
	SvcPrevDay   string `dynamodbav:"svc_prev_day,omitempty"`
	SvcPrevCalls int    `dynamodbav:"svc_prev_calls,omitempty"`
	SvcPrevMark  string `dynamodbav:"svc_prev_mark,omitempty"`
	// The problem of a needs_admin connection (connection.Problem).
	ProblemReason     string `dynamodbav:"problem_reason,omitempty"`
	ProblemMessage    string `dynamodbav:"problem_message,omitempty"`
	ProblemDeployment bool   `dynamodbav:"problem_deployment,omitempty"`
}

func tokenContext(team, connID, purpose string) map[string]string {
	return map[string]string{"purpose": purpose, "team_id": team, "connection_id": connID}
}

// Get returns the team's connection with its tokens opened.
func (s *Store) Get(ctx context.Context, team string) (connection.Connection, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: connKey(team), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return connection.Connection{}, fmt.Errorf("get connection: %w", err)
	}
	if out.Item == nil {
		return connection.Connection{}, connection.ErrNotConnected
	}
	return s.decode(ctx, team, out.Item)
}

func (s *Store) decode(ctx context.Context, team string, item map[string]ddbtypes.AttributeValue) (connection.Connection, error) {
	var it connItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return connection.Connection{}, fmt.Errorf("unmarshal connection: %w", err)
	}
	access, err := s.Sealer.Open(ctx, it.Access, tokenContext(team, it.ConnID, "access_token"))
	if err != nil {
		return connection.Connection{}, fmt.Errorf("open access token: %w", err)
	}
	refresh, err := s.Sealer.Open(ctx, it.Refresh, tokenContext(team, it.ConnID, "refresh_token"))
	if err != nil {
		return connection.Connection{}, fmt.Errorf("open refresh token: %w", err)
	}
	at, _ := time.Parse(time.RFC3339Nano, it.ConnectedAt)
	c := connection.Connection{TeamID: team, ID: it.ConnID, Environment: connection.Environment(it.Environment),
		LoginURL: it.LoginURL, InstanceURL: it.InstanceURL, OrgID: it.OrgID, OrgName: it.OrgName, TimeZone: it.TimeZone, UserID: it.UserID, Username: it.Username,
		ConnectedAt: at, ConnectedBy: it.ConnectedBy, Status: connection.Status(it.Status), Version: it.Version,
		AccessToken: string(access), RefreshToken: string(refresh)}
	if it.HeldAtMs > 0 {
		c.HeldAt = time.UnixMilli(it.HeldAtMs).UTC()
	}
	c.Problem = connection.Problem{Reason: it.ProblemReason, Message: it.ProblemMessage, Deployment: it.ProblemDeployment}
	if it.UsageLimit > 0 || it.SvcDay != "" {
		ut, _ := time.Parse(time.RFC3339Nano, it.UsageAt)
		c.Usage = &connection.Usage{Used: it.UsageUsed, Limit: it.UsageLimit, At: ut, ServiceCalls: it.SvcCalls, ServiceDay: it.SvcDay}
	}
	return c, nil
}

// Replace stores c as the team's connection and returns the previous one,
// whose tokens the caller revokes. The previous item is read first and the
// put is conditional on it being unchanged (same connection and version),
// so the answer names the connection c replaced even when the SDK sends the
// put again after a lost answer: the repeat finds c stored, and c's own
// item is never taken for the previous one.
//
// The service's count of calls goes on through a reconnect: c's item
// carries the previous item's svc_day, svc_calls and svc_mark (and its
// svc_prev_* note), so today's calls before the reconnect still count
// towards the team's budget, and a day the previous connection last
// counted is kept when the next write starts a new day. The put is also
// conditional on the previous item's svc_mark, so a usage write that lands
// between the read and the put is not lost: the put is refused and tried
// again on the item as it is then. The day the previous item's last start
// replaced is kept again (keepPrev), in case its first keep failed.
func (s *Store) Replace(ctx context.Context, c connection.Connection) (*connection.Connection, error) {
	access, err := s.Sealer.Seal(ctx, []byte(c.AccessToken), tokenContext(c.TeamID, c.ID, "access_token"))
	if err != nil {
		return nil, fmt.Errorf("seal access token: %w", err)
	}
	refresh, err := s.Sealer.Seal(ctx, []byte(c.RefreshToken), tokenContext(c.TeamID, c.ID, "refresh_token"))
	if err != nil {
		return nil, fmt.Errorf("seal refresh token: %w", err)
	}
	item, err := attributevalue.MarshalMap(connItem{PK: "TEAM#" + c.TeamID, SK: skConnection, ConnID: c.ID,
		Environment: string(c.Environment), LoginURL: c.LoginURL, InstanceURL: c.InstanceURL, OrgID: c.OrgID, OrgName: c.OrgName, TimeZone: c.TimeZone,
		UserID: c.UserID, Username: c.Username, ConnectedAt: c.ConnectedAt.UTC().Format(time.RFC3339Nano),
		ConnectedBy: c.ConnectedBy, Status: string(c.Status), Version: c.Version, Access: access, Refresh: refresh,
		HeldAtMs: heldAtMs(c.HeldAt), ProblemReason: c.Problem.Reason, ProblemMessage: c.Problem.Message, ProblemDeployment: c.Problem.Deployment})
	if err != nil {
		return nil, fmt.Errorf("marshal connection: %w", err)
	}
	var before map[string]ddbtypes.AttributeValue // what the last put replaced, had it landed
	for attempt := 1; ; attempt++ {
		got, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: connKey(c.TeamID), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("read connection: %w", err)
		}
		var old connItem
		if got.Item != nil {
			if err := attributevalue.UnmarshalMap(got.Item, &old); err != nil {
				return nil, fmt.Errorf("unmarshal connection: %w", err)
			}
			if old.ConnID == c.ID { // the last put landed and its repeat was refused
				s.keepPrev(ctx, c.TeamID, before)
				return s.previous(ctx, c.TeamID, before), nil
			}
		}
		before = got.Item
		put := item
		cond := expression.AttributeNotExists(expression.Name("pk"))
		if got.Item != nil {
			put = carryCalls(item, got.Item)
			cond = expression.Name("conn_id").Equal(expression.Value(old.ConnID)).
				And(expression.Name("version").Equal(expression.Value(old.Version))).
				And(sameMark(old.SvcMark))
		}
		expr, err := expression.NewBuilder().WithCondition(cond).Build()
		if err != nil {
			return nil, fmt.Errorf("build condition: %w", err)
		}
		_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: put,
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
		var cf *ddbtypes.ConditionalCheckFailedException
		switch {
		case errors.As(err, &cf) && attempt < replaceAttempts:
			continue // changed meanwhile (a token refresh, a usage write, a repeat of this put): look again
		case err != nil:
			return nil, fmt.Errorf("put connection: %w", err)
		}
		s.keepPrev(ctx, c.TeamID, got.Item)
		return s.previous(ctx, c.TeamID, got.Item), nil
	}
}

// carriedCalls are the attributes of the service's count of calls, which a
// new connection item takes over from the one it replaces.
var carriedCalls = []string{"svc_day", "svc_calls", "svc_mark", "svc_prev_day", "svc_prev_calls", "svc_prev_mark"}

// carryCalls is item with the count of calls of old, the item it replaces.
func carryCalls(item, old map[string]ddbtypes.AttributeValue) map[string]ddbtypes.AttributeValue {
	out := maps.Clone(item)
	for _, a := range carriedCalls {
		if v, ok := old[a]; ok {
			out[a] = v
		}
	}
	return out
}

// sameMark holds when the item's svc_mark is mark, or, for mark "", when
// it has none: no usage write landed since it was read.
func sameMark(mark string) expression.ConditionBuilder {
	if mark == "" {
		return expression.AttributeNotExists(expression.Name("svc_mark"))
	}
	return expression.Name("svc_mark").Equal(expression.Value(mark))
}

// previous decodes the connection a Replace replaced; nil when there was
// none, or its tokens cannot be opened (nothing to revoke).
func (s *Store) previous(ctx context.Context, team string, item map[string]ddbtypes.AttributeValue) *connection.Connection {
	if item == nil {
		return nil
	}
	prev, err := s.decode(ctx, team, item)
	if err != nil {
		return nil
	}
	return &prev
}

// replaceAttempts bounds Replace's reads and puts when the stored
// connection keeps changing under it.
const replaceAttempts = 5

func (s *Store) update(ctx context.Context, team string, upd expression.UpdateBuilder, cond expression.ConditionBuilder) (*dynamodb.UpdateItemOutput, error) {
	return s.updateReturning(ctx, team, upd, cond, ddbtypes.ReturnValueUpdatedNew)
}

func (s *Store) updateReturning(ctx context.Context, team string, upd expression.UpdateBuilder, cond expression.ConditionBuilder, rv ddbtypes.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build expression: %w", err)
	}
	return s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: connKey(team),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        rv,
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld})
}

func isConditionFailed(err error) bool {
	var cf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

func versionCond(connID string, version int64) expression.ConditionBuilder {
	return expression.Name("conn_id").Equal(expression.Value(connID)).
		And(expression.Name("version").Equal(expression.Value(version)))
}

// SaveTokens stores refreshed tokens (and the instance URL, when the refresh
// moved the org), fenced by the version they replace, and marks the
// connection connected: Salesforce just granted them.
func (s *Store) SaveTokens(ctx context.Context, team, connID string, version int64, access, refresh, instanceURL string) (int64, error) {
	sa, err := s.Sealer.Seal(ctx, []byte(access), tokenContext(team, connID, "access_token"))
	if err != nil {
		return 0, fmt.Errorf("seal access token: %w", err)
	}
	upd := withProblem(expression.Set(expression.Name("access"), expression.Value(sa)).
		Set(expression.Name("status"), expression.Value(string(connection.StatusConnected))).
		Set(expression.Name("version"), expression.Value(version+1)), connection.Problem{})
	if refresh != "" {
		sr, err := s.Sealer.Seal(ctx, []byte(refresh), tokenContext(team, connID, "refresh_token"))
		if err != nil {
			return 0, fmt.Errorf("seal refresh token: %w", err)
		}
		upd = upd.Set(expression.Name("refresh"), expression.Value(sr))
	}
	if instanceURL != "" {
		upd = upd.Set(expression.Name("instance_url"), expression.Value(instanceURL))
	}
	landed := func(it connItem) bool { // the access token sealed here is unique to this write
		return bytes.Equal(it.Access.Nonce, sa.Nonce) && bytes.Equal(it.Access.Ciphertext, sa.Ciphertext)
	}
	if err := s.fenced(ctx, team, connID, version, upd, landed); err != nil {
		return 0, fmt.Errorf("save tokens: %w", err)
	}
	return version + 1, nil
}

// fenced applies upd if the connection is still connID at version, moving
// it to version+1. A refusal is ErrVersionConflict, unless the item refused
// is this very write already applied (landed): the SDK sends a request again
// when its answer is lost, and the repeat finds its own write. Taking that
// for a lost race would make a refresh revoke the tokens it just saved.
func (s *Store) fenced(ctx context.Context, team, connID string, version int64, upd expression.UpdateBuilder, landed func(connItem) bool) error {
	_, err := s.update(ctx, team, upd, versionCond(connID, version))
	it, refused := refusedItem(err)
	if !refused {
		return err
	}
	if it.ConnID == connID && it.Version == version+1 && landed(it) {
		return nil
	}
	return connection.ErrVersionConflict
}

// refusedItem reports whether err is a refused condition, with the item
// that refused it (update asks for it).
func refusedItem(err error) (connItem, bool) {
	var cf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &cf) {
		return connItem{}, false
	}
	var it connItem
	_ = attributevalue.UnmarshalMap(cf.Item, &it) // an unreadable item matches no write
	return it, true
}

// SetStatus changes the status and its problem, fenced by version.
func (s *Store) SetStatus(ctx context.Context, team, connID string, version int64, st connection.Status, p connection.Problem) error {
	upd := withProblem(expression.Set(expression.Name("status"), expression.Value(string(st))).
		Set(expression.Name("version"), expression.Value(version+1)), p)
	landed := func(it connItem) bool { return it.Status == string(st) && it.ProblemReason == p.Reason }
	if err := s.fenced(ctx, team, connID, version, upd, landed); err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	return nil
}

// withProblem adds to upd the writing of p, or its removal when zero.
func withProblem(upd expression.UpdateBuilder, p connection.Problem) expression.UpdateBuilder {
	if p == (connection.Problem{}) {
		return upd.Remove(expression.Name("problem_reason")).Remove(expression.Name("problem_message")).
			Remove(expression.Name("problem_deployment"))
	}
	upd = upd.Set(expression.Name("problem_reason"), expression.Value(p.Reason)).
		Set(expression.Name("problem_message"), expression.Value(p.Message))
	if p.Deployment {
		return upd.Set(expression.Name("problem_deployment"), expression.Value(true))
	}
	return upd.Remove(expression.Name("problem_deployment"))
}

// Delete removes the team's connection, and keeps the calls it counted:
// the count of its current day (svc_day, svc_calls) is added to that day's
// TEAM#<t>/CALLS#<day>, under the mark gone:<conn_id>, and the day its
// last start replaced is kept again (keepPrev). A connection made later
// that day counts that day's calls from zero, and CallsByDay plus its count
// give the day's calls.
//
// The item is read first and deleted only if unchanged (the same conn_id
// and svc_mark), so the count kept is the count deleted: a usage write
// landing in between makes the delete look again. A delete refused because
// the item is gone was this one, sent again by the SDK after a lost answer
// (the condition held the item as read), or another's delete of the same
// item, which keeps it under the same mark: either way it is kept once.
// (Two disconnects racing a usage write between their reads may keep the
// count the first of them read: a few calls short, never counted twice.)
func (s *Store) Delete(ctx context.Context, team string) error {
	for attempt := 1; ; attempt++ {
		got, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: connKey(team), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		if got.Item == nil {
			return nil
		}
		var old connItem
		if err := attributevalue.UnmarshalMap(got.Item, &old); err != nil {
			return fmt.Errorf("unmarshal connection: %w", err)
		}
		expr, err := expression.NewBuilder().WithCondition(
			expression.Name("conn_id").Equal(expression.Value(old.ConnID)).And(sameMark(old.SvcMark))).Build()
		if err != nil {
			return fmt.Errorf("build condition: %w", err)
		}
		_, err = s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.Table, Key: connKey(team),
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld})
		var cf *ddbtypes.ConditionalCheckFailedException
		switch {
		case err == nil, errors.As(err, &cf) && cf.Item == nil:
			s.keepCalls(ctx, team, old.SvcDay, old.SvcCalls, "gone:"+old.ConnID)
			s.keepPrev(ctx, team, got.Item)
			return nil
		case errors.As(err, &cf) && attempt < replaceAttempts:
			continue // changed meanwhile (a usage write, a token refresh, a reconnect): look again
		case errors.As(err, &cf):
			return fmt.Errorf("delete connection: the connection kept changing under this delete: %w", err)
		default:
			return fmt.Errorf("delete connection: %w", err)
		}
	}
}

// keepPrev keeps again the day the last start of a day replaced, as item
// notes it (svc_prev_*), under that start's mark: a keep that already
// landed adds nothing, and one that failed, or was cut short, is made.
func (s *Store) keepPrev(ctx context.Context, team string, item map[string]ddbtypes.AttributeValue) {
	if item == nil {
		return
	}
	var it connItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return
	}
	s.keepCalls(ctx, team, it.SvcPrevDay, it.SvcPrevCalls, it.SvcPrevMark)
}

func heldAtMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// RecordHold stores at as the team's HeldAt, unless the stored one is
// later (holds noted out of order keep the last).
func (s *Store) RecordHold(ctx context.Context, team string, at time.Time) error {
	ms := at.UnixMilli()
	cond := expression.AttributeExists(expression.Name("pk")).And(
		expression.AttributeNotExists(expression.Name("held_at_ms")).
			Or(expression.Name("held_at_ms").LessThan(expression.Value(ms))))
	upd := expression.Set(expression.Name("held_at_ms"), expression.Value(ms))
	if _, err := s.update(ctx, team, upd, cond); err != nil && !isConditionFailed(err) {
		return fmt.Errorf("record hold: %w", err)
	}
	return nil
}

// AcquireLease takes the refresh lease if it is free, lapsed, or already ours.
func (s *Store) AcquireLease(ctx context.Context, team, holder string, until time.Time) (bool, error) {
	now := time.Now().UnixMilli()
	cond := expression.AttributeExists(expression.Name("pk")).And(
		expression.AttributeNotExists(expression.Name("lease_until")).
			Or(expression.Name("lease_until").LessThan(expression.Value(now))).
			Or(expression.Name("lease_holder").Equal(expression.Value(holder))))
	upd := expression.Set(expression.Name("lease_holder"), expression.Value(holder)).
		Set(expression.Name("lease_until"), expression.Value(until.UnixMilli()))
	if _, err := s.update(ctx, team, upd, cond); err != nil {
		if isConditionFailed(err) {
			return false, nil
		}
		return false, fmt.Errorf("acquire lease: %w", err)
	}
	return true, nil
}

// ReleaseLease frees the lease if holder still has it.
func (s *Store) ReleaseLease(ctx context.Context, team, holder string) error {
	upd := expression.Remove(expression.Name("lease_holder")).Remove(expression.Name("lease_until"))
	cond := expression.Name("lease_holder").Equal(expression.Value(holder))
	if _, err := s.update(ctx, team, upd, cond); err != nil && !isConditionFailed(err) {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// RecordUsage saves the last API usage seen and adds calls to the service's
// count of u.ServiceDay, in one write: adding to the day's count, or, on the
// first write of a day (newDay), starting it. Both are conditional on the
// stored day, so when the guess is wrong the other one follows, and two
// workers starting the same day never lose each other's calls. Each write
// carries a fresh mark, so a write the SDK sends again after a lost answer
// is refused by its own mark rather than counted twice.
//
// The write that starts a day also notes the day it replaces, with its
// calls and its own mark (svc_prev_day, svc_prev_calls, read from the item
// as the write found it, and svc_prev_mark), and then keepCalls adds them
// apart (TEAM#<t>/CALLS#<day>) under that mark: the calls of past days
// cost one write per team and day, and CallsByDay reads them. A start
// whose resend is refused by its own mark finds the note in the refused
// item, so a lost answer loses no day, and the same mark adds it once.
//
// A late report of a finished day (the stored day is later than
// u.ServiceDay), and a report after the connection was deleted, are added
// to that day's CALLS# item under this write's mark.
func (s *Store) RecordUsage(ctx context.Context, team string, u connection.Usage, calls int, newDay bool) error {
	day := u.ServiceDay
	if day == "" {
		day = connection.Day(u.At)
	}
	mark := rand.Text()
	set := func(upd expression.UpdateBuilder) expression.UpdateBuilder {
		upd = upd.Set(expression.Name("svc_mark"), expression.Value(mark))
		if u.Limit <= 0 {
			return upd
		}
		return upd.Set(expression.Name("usage_used"), expression.Value(u.Used)).
			Set(expression.Name("usage_limit"), expression.Value(u.Limit)).
			Set(expression.Name("usage_at"), expression.Value(u.At.UTC().Format(time.RFC3339Nano)))
	}
	exists := expression.AttributeExists(expression.Name("pk")).And(
		expression.AttributeNotExists(expression.Name("svc_mark")).Or(expression.Name("svc_mark").NotEqual(expression.Value(mark))))
	add := func() error {
		_, err := s.update(ctx, team, set(expression.Add(expression.Name("svc_calls"), expression.Value(calls))),
			exists.And(expression.Name("svc_day").Equal(expression.Value(day))))
		return err
	}
	start := func() error {
		out, err := s.updateReturning(ctx, team, set(expression.Set(expression.Name("svc_day"), expression.Value(day)).
			Set(expression.Name("svc_calls"), expression.Value(calls)).
			Set(expression.Name("svc_prev_day"), expression.IfNotExists(expression.Name("svc_day"), expression.Value(""))).
			Set(expression.Name("svc_prev_calls"), expression.IfNotExists(expression.Name("svc_calls"), expression.Value(0))).
			Set(expression.Name("svc_prev_mark"), expression.Value(mark))),
			exists.And(expression.AttributeNotExists(expression.Name("svc_day")).
				Or(expression.Name("svc_day").LessThan(expression.Value(day)))), ddbtypes.ReturnValueAllNew)
		var it connItem
		switch refused, isRefusal := refusedItem(err); {
		case err == nil:
			_ = attributevalue.UnmarshalMap(out.Attributes, &it)
		case isRefusal && refused.SvcMark == mark:
			it = refused // this write landed; its answer was lost
		default:
			return err
		}
		s.keepCalls(ctx, team, it.SvcPrevDay, it.SvcPrevCalls, mark)
		return err
	}
	first, second := add, start
	if newDay {
		first, second = start, add
	}
	for range 3 {
		for _, write := range []func() error{first, second} {
			err := write()
			it, refused := refusedItem(err)
			if err == nil || refused && it.SvcMark == mark {
				return nil // written, maybe by an attempt whose answer was lost
			}
			if !refused {
				return fmt.Errorf("record usage: %w", err)
			}
		}
		// Neither condition held: the connection is gone, or the stored day
		// is later than this one (a late report of a finished day). The
		// calls go to the day's kept count.
		c, err := s.Get(ctx, team)
		if errors.Is(err, connection.ErrNotConnected) || err == nil && c.Usage != nil && c.Usage.ServiceDay > day {
			s.keepCalls(ctx, team, day, calls, mark)
			return nil
		}
	}
	return fmt.Errorf("record usage: the day's count kept changing under this write")
}

// keepCalls adds calls to the team's kept count of day, at
// TEAM#<t>/CALLS#<day>, for CallsRetention after that day began. Each
// addition comes with a mark, noted in the item's set added: an addition
// whose mark is already there (a resend after a lost answer, a keep made
// again) is refused and counts once. The marks are the writes' own: a
// start of a day's (the day it replaced), a late report's, gone:<conn_id>
// for a deleted connection's last day. A failure is logged and not
// returned: the write that called it is done, and only the day's history
// misses these calls.
func (s *Store) keepCalls(ctx context.Context, team, day string, calls int, mark string) {
	if day == "" || calls <= 0 || mark == "" {
		return
	}
	start, ok := health.DayStart(day)
	if !ok {
		return
	}
	cond := expression.AttributeNotExists(expression.Name("added")).
		Or(expression.Not(expression.Contains(expression.Name("added"), mark)))
	upd := expression.Add(expression.Name("calls"), expression.Value(calls)).
		Add(expression.Name("added"), expression.Value(&ddbtypes.AttributeValueMemberSS{Value: []string{mark}})).
		Set(expression.Name(resources.TTLAttribute), expression.Value(start.Add(CallsRetention).Unix()))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err == nil {
		_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: key("TEAM#"+team, skCallsPrefix+day),
			ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	}
	if err == nil || isConditionFailed(err) { // added now, or before under this mark
		return
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(ctx, "calls of a day not kept", slog.String("team_id", team), slog.String("day", day),
		slog.Int("calls", calls), slog.String("error", err.Error()))
}

// CallsByDay returns the calls kept for the team on each day from..to
// (YYYY-MM-DD, both included) that has any: one eventually consistent
// query. They never include the connection's count of its current day
// (its Usage: ServiceDay, ServiceCalls): that count is kept once a write
// starts a later day or the connection is deleted (a reconnect carries it
// into the new connection). A day's calls are what is kept of it plus the
// connection's count of it; a day may have both, when a connection was
// deleted that day and the one made after it counts from zero.
func (s *Store) CallsByDay(ctx context.Context, team, from, to string) (map[string]int, error) {
	kc := expression.Key(resources.PartitionKey).Equal(expression.Value("TEAM#" + team)).
		And(expression.Key(resources.SortKey).Between(expression.Value(skCallsPrefix+from), expression.Value(skCallsPrefix+to)))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build calls query: %w", err)
	}
	out := map[string]int{}
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: &s.Table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read calls per day: %w", err)
		}
		for _, it := range page.Items {
			var day struct {
				SK    string `dynamodbav:"sk"`
				Calls int    `dynamodbav:"calls"`
			}
			if err := attributevalue.UnmarshalMap(it, &day); err != nil {
				return nil, fmt.Errorf("read calls per day: %w", err)
			}
			out[strings.TrimPrefix(day.SK, skCallsPrefix)] = day.Calls
		}
	}
	return out, nil
}

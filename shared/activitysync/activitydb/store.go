// Package activitydb keeps activity sync's own state in the ledger table,
// beside contact sync's: it implements activitysync.Activities on DynamoDB,
// and activitysync.Releaser over it and SQS.
//
// # Layout
//
//	pk TEAM#<t>#ACTIVITY#<key>          sk TASK
//	    the activity's claim (claim_owner, claim_until in Unix ms,
//	    claim_token, attempts, event_id) and, once logged, task_id and
//	    logged_at. An erasure finds it through its email event's outcome,
//	    which the ledger keeps with the activity key (one logged before
//	    December 2026 is in the contact index). TTL: ActivityTTL after its
//	    last write.
//	pk TEAM#<t>#HELD                    sk <seq>#<contact>
//	    a membership with held activities; n counts the holds (the mark).
//	    TTL: the team's retention and HeldMargin after the last hold.
//	pk TEAM#<t>#HELD#<seq>#<contact>    sk <occurred_at>#<event_id>
//	    one held activity: the event as received (attribute event). TTL:
//	    the team's retention and HeldMargin after the hold.
//	pk TEAM#<t>#TASK                    sk FIELDS
//	    the cached activitysync.TaskFields of the team's org.
//
// Ids never contain "#" (the event contract's id rule), so keys split
// unambiguously; the activity key is activitysync.Key, hex. The keys are
// built by ledgerdb, which owns the keys of the whole ledger table;
// docs/tables.md lists every item of every table.
//
// # Claims in batches
//
// ClaimAll, DoneAll and AbandonAll send their conditional writes through
// dynamotx, each write on its own (one write request unit per KB, half of
// what a transaction costs), several at once: a batch of N emails costs N
// writes to claim and N to record its Tasks. A refused write's answer (the
// Task logged, the claim's holder) comes from the item its failed
// condition found (ALL_OLD), with no read. A claim is taken in two rounds:
// first only where the activity was never claimed (fresh), then, for the
// claims that may be taken over, counting the attempt (see ClaimAll).
// Every condition accepts a repeat of its own write, so a write the SDK
// sends again after a lost answer gives the same answer.
package activitydb

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// ActivityTTL is how long an activity's item (its claim, its logged Task)
// is kept after its last write: the outcomes' lifetime. An event older than
// that never comes back; a queue keeps one 14 days at most.
const ActivityTTL = ledgerdb.OutcomeTTL

// expiresAt is the TTL (Unix seconds) of an item written at now and kept
// for d.
func expiresAt(now time.Time, d time.Duration) int64 { return now.Add(d).Unix() }

// number is a number attribute value.
func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Store is activity sync's state on the ledger table.
type Store struct {
	DB    API
	Table string
	Now   func() time.Time // nil: time.Now
}

var _ activitysync.Activities = (*Store)(nil)

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ErrInvalid is wrapped by every *InputError.
var ErrInvalid = errors.New("activitydb: invalid input")

// InputError names the input the store refused and why.
type InputError struct{ Field, Problem string }

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap lets errors.Is find ErrInvalid.
func (e *InputError) Unwrap() error { return ErrInvalid }

// ClaimError is the claim another owner holds; it wraps activitysync.ErrClaimed.
type ClaimError struct {
	Owner string
	Until time.Time
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("activitydb: claimed by %s until %s", e.Owner, e.Until.UTC().Format(time.RFC3339Nano))
}

// Unwrap lets errors.Is find activitysync.ErrClaimed.
func (e *ClaimError) Unwrap() error { return activitysync.ErrClaimed }

// LoggedError is the Task already recorded for an activity; it wraps
// activitysync.ErrOtherTask.
type LoggedError struct{ TaskID string }

func (e *LoggedError) Error() string { return "activitydb: task " + e.TaskID + " is recorded" }

// Unwrap lets errors.Is find activitysync.ErrOtherTask.
func (e *LoggedError) Unwrap() error { return activitysync.ErrOtherTask }

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

func checkID(field, v string) error {
	if !idRE.MatchString(v) {
		return &InputError{field, "must be 1 to 128 letters, digits and . _ : -, starting with a letter or digit"}
	}
	return nil
}

func checkMember(k ledger.MemberKey) error {
	if err := checkID("sequence_id", k.SequenceID); err != nil {
		return err
	}
	return checkID("contact_id", k.ContactID)
}

func (s *Store) update(ctx context.Context, pk, sk string, b expression.Builder, ret types.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build update of %s: %w", pk, err)
	}
	return s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: dynamotx.Key(pk, sk),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: ret, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
}

func (s *Store) checkKey(team, key string) error {
	if err := checkID("team_id", team); err != nil {
		return err
	}
	return checkID("key", key)
}

// tx is the store's writer of conditional writes.
func (s *Store) tx() *dynamotx.Writer { return &dynamotx.Writer{DB: s.DB} }

// updateOf is one conditional update, returning the item it found when its
// condition fails.
func (s *Store) updateOf(pk string, b expression.Builder) (dynamotx.Unit, error) {
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build update of %s: %w", pk, err)
	}
	return dynamotx.Unit{{Update: &types.Update{
		TableName: aws.String(s.Table), Key: dynamotx.Key(pk, ledgerdb.ActivitySK),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}, nil
}

// found is the activity item a failed condition found, read when an
// emulator returned none.
func (s *Store) found(ctx context.Context, pk string, old map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	return dynamotx.Found(ctx, s.DB, s.Table, dynamotx.Key(pk, ledgerdb.ActivitySK), old)
}

func claimErr(pk string, old map[string]types.AttributeValue) error {
	return fmt.Errorf("claim %s: %w", pk, &ClaimError{Owner: dynamotx.String(old, "claim_owner"), Until: time.UnixMilli(dynamotx.Int(old, "claim_until")).UTC()})
}

// freshClaim is the item of a first claim of an activity.
func freshClaim(c claimCall, r activitysync.ClaimRequest) map[string]types.AttributeValue {
	item := dynamotx.Key(ledgerdb.ActivityPK(c.team, r.Key), ledgerdb.ActivitySK)
	item["event_id"] = &types.AttributeValueMemberS{Value: r.EventID}
	item["attempts"] = &types.AttributeValueMemberN{Value: "1"}
	item["claim_owner"] = &types.AttributeValueMemberS{Value: c.owner}
	item["claim_until"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(c.until.UnixMilli(), 10)}
	item["claim_token"] = &types.AttributeValueMemberS{Value: c.token}
	item[resources.TTLAttribute] = number(expiresAt(c.now, ActivityTTL))
	return item
}

// newToken names one ClaimAll call in the claims it writes.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ClaimAll implements activitysync.Activities with conditional writes, one
// per key, in two rounds.
//
// The first takes fresh claims: a conditional put that succeeds where the
// activity was never claimed (no attempts, no Task), so the claim is fresh
// and the event the caller's, with no read. Its condition also accepts a repeat of itself
// (the same owner and the call's token), so a write resent after a
// lost answer gives the same result. The writes whose condition failed
// are answered from the item found (ALL_OLD): a logged activity gives its
// Task, another owner's live claim an error, and a claim that may be taken
// over (expired, abandoned, or this owner's from an earlier call) goes to
// the second round, which takes it and counts the attempt: Attempted, so
// the caller looks for the Task before creating it. A repeat of the second
// round's write passes its own condition (the owner's claim) and counts
// one attempt more, which changes no answer.
//
// An invalid or repeated key or event id is that request's InputError; an
// invalid team, owner or time fails the call.
func (s *Store) ClaimAll(ctx context.Context, team string, reqs []activitysync.ClaimRequest, owner string, until time.Time) ([]activitysync.ClaimResult, error) {
	if err := checkID("team_id", team); err != nil {
		return nil, err
	}
	if err := checkID("owner", owner); err != nil {
		return nil, err
	}
	now := s.now()
	if !until.After(now) {
		return nil, &InputError{"until", "must be in the future"}
	}
	c := claimCall{team: team, owner: owner, token: newToken(), until: until, now: now}
	fresh, invalid, err := s.freshRound(c, reqs)
	if err != nil {
		return nil, err
	}
	out := make([]activitysync.ClaimResult, len(reqs))
	for i, err := range invalid {
		out[i].Err = err
	}
	results, err := s.tx().Write(ctx, "claim activities", fresh.units)
	if err != nil {
		return nil, err
	}
	answered, again, err := s.answerFresh(ctx, c, reqs, fresh, results)
	if err != nil {
		return nil, err
	}
	for i, r := range answered {
		out[i] = r
	}
	if len(again.units) == 0 {
		return out, nil
	}
	results, err = s.tx().Write(ctx, "take activity claims over", again.units)
	if err != nil {
		return nil, err
	}
	refused, err := s.answerTakeOver(ctx, c, reqs, again, results)
	if err != nil {
		return nil, err
	}
	for i, r := range refused {
		out[i] = r
	}
	return out, nil
}

// claimCall is one ClaimAll call: its team, its owner, the token naming it
// in the claims it writes, the claims' end and the time it was made.
type claimCall struct {
	team, owner, token string
	until, now         time.Time
}

// claimRound is the writes of one round of a ClaimAll call: units[j]
// claims reqs[idx[j]].
type claimRound struct {
	units []dynamotx.Unit
	idx   []int
}

// freshRound is the first round's conditional puts, one per valid request,
// and the error of each request that is not valid, by request index.
func (s *Store) freshRound(c claimCall, reqs []activitysync.ClaimRequest) (claimRound, map[int]error, error) {
	owned, tok := expression.Name("claim_owner"), expression.Name("claim_token")
	// Every item that exists has attempts, so the condition passes only
	// where there is no item, or this very claim: it is written whole.
	cond := expression.AttributeNotExists(expression.Name("task_id")).And(expression.Or(
		expression.AttributeNotExists(expression.Name("attempts")),
		tok.Equal(expression.Value(c.token)).And(owned.Equal(expression.Value(c.owner)))))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return claimRound{}, nil, fmt.Errorf("build claim: %w", err)
	}
	var r claimRound
	invalid := map[int]error{}
	seen := map[string]bool{}
	for i, req := range reqs {
		if err := checkRequest(req, seen); err != nil {
			invalid[i] = err
			continue
		}
		seen[req.Key] = true
		r.units = append(r.units, dynamotx.Unit{{Put: &types.Put{
			TableName: aws.String(s.Table), Item: freshClaim(c, req),
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}})
		r.idx = append(r.idx, i)
	}
	return r, invalid, nil
}

// checkRequest checks a claim request's key and event id, and that its key
// is not one of those seen before in the batch.
func checkRequest(req activitysync.ClaimRequest, seen map[string]bool) error {
	if err := checkID("key", req.Key); err != nil {
		return err
	}
	if err := checkID("event_id", req.EventID); err != nil {
		return err
	}
	if seen[req.Key] {
		return &InputError{"key", "repeated in the batch"}
	}
	return nil
}

// answerFresh answers the first round by request index: a claim written is
// fresh; a refused one gives the Task logged or the live claim of another
// owner, or goes to the second round (again), answered as attempted.
func (s *Store) answerFresh(ctx context.Context, c claimCall, reqs []activitysync.ClaimRequest, r claimRound, results []dynamotx.Result) (map[int]activitysync.ClaimResult, claimRound, error) {
	answers := make(map[int]activitysync.ClaimResult, len(r.idx))
	var again claimRound
	for j, res := range results {
		i := r.idx[j]
		if !res.Failed {
			answers[i] = activitysync.ClaimResult{Claim: activitysync.Claim{EventID: reqs[i].EventID}}
			continue
		}
		pk := ledgerdb.ActivityPK(c.team, reqs[i].Key)
		old, err := s.found(ctx, pk, res.Old)
		if err != nil {
			return nil, claimRound{}, err
		}
		if id := dynamotx.String(old, "task_id"); id != "" {
			answers[i] = activitysync.ClaimResult{Claim: activitysync.Claim{TaskID: id, EventID: dynamotx.String(old, "event_id")}}
			continue
		}
		if o := dynamotx.String(old, "claim_owner"); o != "" && o != c.owner && dynamotx.Int(old, "claim_until") >= c.now.UnixMilli() {
			answers[i] = activitysync.ClaimResult{Err: claimErr(pk, old)}
			continue
		}
		answers[i] = activitysync.ClaimResult{Claim: activitysync.Claim{EventID: cmp.Or(dynamotx.String(old, "event_id"), reqs[i].EventID), Attempted: true}}
		u, err := s.takeOver(c, pk, reqs[i].EventID)
		if err != nil {
			return nil, claimRound{}, err
		}
		again.units = append(again.units, u)
		again.idx = append(again.idx, i)
	}
	return answers, again, nil
}

// takeOver is the second round's write for one activity: the claim is
// taken where no Task is logged and the claim is nobody's, the owner's, or
// expired, keeping the event first claimed and counting the attempt.
func (s *Store) takeOver(c claimCall, pk, eventID string) (dynamotx.Unit, error) {
	owned, eid := expression.Name("claim_owner"), expression.Name("event_id")
	cond := expression.AttributeNotExists(expression.Name("task_id")).And(expression.Or(
		expression.AttributeNotExists(owned), owned.Equal(expression.Value(c.owner)),
		expression.Name("claim_until").LessThan(expression.Value(c.now.UnixMilli()))))
	upd := expression.Set(eid, expression.IfNotExists(eid, expression.Value(eventID))).
		Set(owned, expression.Value(c.owner)).Set(expression.Name("claim_until"), expression.Value(c.until.UnixMilli())).
		Set(expression.Name("claim_token"), expression.Value(c.token)).
		Set(expression.Name(resources.TTLAttribute), expression.Value(expiresAt(c.now, ActivityTTL))).
		Add(expression.Name("attempts"), expression.Value(1))
	return s.updateOf(pk, expression.NewBuilder().WithCondition(cond).WithUpdate(upd))
}

// answerTakeOver answers the second round's refusals by request index: a
// Task logged meanwhile, or the claim another owner took meanwhile. The
// claims taken keep the first round's answer.
func (s *Store) answerTakeOver(ctx context.Context, c claimCall, reqs []activitysync.ClaimRequest, r claimRound, results []dynamotx.Result) (map[int]activitysync.ClaimResult, error) {
	answers := map[int]activitysync.ClaimResult{}
	for j, res := range results {
		if !res.Failed {
			continue
		}
		i := r.idx[j]
		pk := ledgerdb.ActivityPK(c.team, reqs[i].Key)
		old, err := s.found(ctx, pk, res.Old)
		if err != nil {
			return nil, err
		}
		if id := dynamotx.String(old, "task_id"); id != "" {
			answers[i] = activitysync.ClaimResult{Claim: activitysync.Claim{TaskID: id, EventID: dynamotx.String(old, "event_id")}}
			continue
		}
		answers[i] = activitysync.ClaimResult{Err: claimErr(pk, old)} // another owner took it meanwhile
	}
	return answers, nil
}

// DoneAll records each Task and ends the claim, with one conditional update
// per Task (no read). A Task already recorded with the same
// id is a no-op, so a repeat is harmless; with another id, errs[i] is a
// *LoggedError. The item expires ActivityTTL after this write; an erasure
// finds it through its event's outcome (ledger.WithActivities).
func (s *Store) DoneAll(ctx context.Context, team, owner string, tasks []activitysync.LoggedTask) ([]error, error) {
	if err := checkID("team_id", team); err != nil {
		return nil, err
	}
	errs := make([]error, len(tasks))
	now := s.now()
	at := now.UTC().Format(time.RFC3339Nano)
	tid := expression.Name("task_id")
	var units []dynamotx.Unit
	var idx []int
	for i, t := range tasks {
		err := checkID("key", t.Key)
		if err == nil {
			err = checkID("task_id", t.TaskID)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		cond := expression.Or(expression.AttributeNotExists(tid), tid.Equal(expression.Value(t.TaskID)))
		upd := expression.Set(tid, expression.Value(t.TaskID)).Set(expression.Name("logged_at"), expression.Value(at)).
			Set(expression.Name(resources.TTLAttribute), expression.Value(expiresAt(now, ActivityTTL))).
			Remove(expression.Name("claim_owner")).Remove(expression.Name("claim_until")).Remove(expression.Name("claim_token"))
		u, err := s.updateOf(ledgerdb.ActivityPK(team, t.Key), expression.NewBuilder().WithCondition(cond).WithUpdate(upd))
		if err != nil {
			return nil, err
		}
		units = append(units, u)
		idx = append(idx, i)
	}
	results, err := s.tx().Write(ctx, "record tasks", units)
	if err != nil {
		return nil, err
	}
	for j, res := range results {
		if !res.Failed {
			continue
		}
		i := idx[j]
		pk := ledgerdb.ActivityPK(team, tasks[i].Key)
		old, err := s.found(ctx, pk, res.Old)
		if err != nil {
			return nil, err
		}
		errs[i] = fmt.Errorf("record task %s of %s: %w", tasks[i].TaskID, pk, &LoggedError{TaskID: dynamotx.String(old, "task_id")})
	}
	return errs, nil
}

// AbandonAll expires owner's claims and keeps their attempt counts, so the
// next claim looks for a Task before creating one: one conditional update
// per key. A key not claimed by owner, or logged, is left
// as it is.
func (s *Store) AbandonAll(ctx context.Context, team, owner string, keys []string) error {
	if err := checkID("team_id", team); err != nil {
		return err
	}
	var units []dynamotx.Unit
	exp := expiresAt(s.now(), ActivityTTL)
	for _, key := range keys {
		if err := checkID("key", key); err != nil {
			return err
		}
		cond := expression.Name("claim_owner").Equal(expression.Value(owner)).And(expression.AttributeNotExists(expression.Name("task_id")))
		upd := expression.Set(expression.Name("claim_until"), expression.Value(0)).
			Set(expression.Name(resources.TTLAttribute), expression.Value(exp))
		u, err := s.updateOf(ledgerdb.ActivityPK(team, key), expression.NewBuilder().WithCondition(cond).WithUpdate(upd))
		if err != nil {
			return err
		}
		units = append(units, u)
	}
	if _, err := s.tx().Write(ctx, "abandon claims", units); err != nil {
		return err
	}
	return nil
}

// Unclaim deletes owner's claim when no Task is recorded: nothing was
// created, so the next attempt starts afresh.
func (s *Store) Unclaim(ctx context.Context, team, key, owner string) error {
	if err := s.checkKey(team, key); err != nil {
		return err
	}
	expr, err := expression.NewBuilder().WithCondition(expression.Name("claim_owner").Equal(expression.Value(owner)).
		And(expression.AttributeNotExists(expression.Name("task_id")))).Build()
	if err != nil {
		return fmt.Errorf("build unclaim: %w", err)
	}
	pk := ledgerdb.ActivityPK(team, key)
	_, err = s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: dynamotx.Key(pk, ledgerdb.ActivitySK),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if _, ok := dynamotx.ConditionFailed(err); ok || err == nil {
		return nil
	}
	return fmt.Errorf("unclaim %s: %w", pk, err)
}

// Hold stores the event under its membership, then counts the hold on the
// team's index of held memberships (the event first, so a listed
// membership always has its events). Both expire keep (the team's
// retention; 0 the default) and activitysync.HeldMargin after the hold.
func (s *Store) Hold(ctx context.Context, team string, k ledger.MemberKey, ev event.Event, keep time.Duration) error {
	if err := checkID("team_id", team); err != nil {
		return err
	}
	if err := checkMember(k); err != nil {
		return err
	}
	if err := checkID("event_id", ev.ID); err != nil {
		return err
	}
	body, err := event.Encode(ev)
	if err != nil {
		return err
	}
	item := dynamotx.Key(ledgerdb.HeldPK(team, k), ledgerdb.HeldEventSK(ev.OccurredAt, ev.ID))
	exp := expiresAt(s.now(), ledger.RetainOr(keep)+activitysync.HeldMargin)
	item["event"] = &types.AttributeValueMemberS{Value: string(body)}
	item[resources.TTLAttribute] = number(exp)
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("hold %s: %w", ev.ID, err)
	}
	upd := expression.Add(expression.Name("n"), expression.Value(1)).
		Set(expression.Name("since_ms"), expression.IfNotExists(expression.Name("since_ms"), expression.Value(s.now().UnixMilli()))).
		Set(expression.Name("sequence_id"), expression.Value(k.SequenceID)).
		Set(expression.Name("contact_id"), expression.Value(k.ContactID)).
		Set(expression.Name(resources.TTLAttribute), expression.Value(exp))
	if _, err := s.update(ctx, ledgerdb.HeldListPK(team), ledgerdb.HeldListSK(k), expression.NewBuilder().WithUpdate(upd), types.ReturnValueNone); err != nil {
		return fmt.Errorf("list held membership: %w", err)
	}
	return nil
}

func (s *Store) query(ctx context.Context, pk string, each func(map[string]types.AttributeValue) error) error {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(resources.PartitionKey).Equal(expression.Value(pk))).Build()
	if err != nil {
		return fmt.Errorf("build query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: aws.String(s.Table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", pk, err)
		}
		for _, it := range page.Items {
			if err := each(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// HeldKeys lists the team's memberships with held activities, their hold
// counts and first holds (one query).
func (s *Store) HeldKeys(ctx context.Context, team string) (map[ledger.MemberKey]activitysync.HeldMark, error) {
	if err := checkID("team_id", team); err != nil {
		return nil, err
	}
	out := map[ledger.MemberKey]activitysync.HeldMark{}
	err := s.query(ctx, ledgerdb.HeldListPK(team), func(it map[string]types.AttributeValue) error {
		var since time.Time
		if ms := dynamotx.Int(it, "since_ms"); ms > 0 {
			since = time.UnixMilli(ms).UTC()
		}
		out[ledger.MemberKey{SequenceID: dynamotx.String(it, "sequence_id"), ContactID: dynamotx.String(it, "contact_id")}] =
			activitysync.HeldMark{N: dynamotx.Int(it, "n"), Since: since}
		return nil
	})
	return out, err
}

// Held returns a membership's held events, oldest first.
func (s *Store) Held(ctx context.Context, team string, k ledger.MemberKey) ([]event.Event, error) {
	if err := checkID("team_id", team); err != nil {
		return nil, err
	}
	if err := checkMember(k); err != nil {
		return nil, err
	}
	var out []event.Event
	err := s.query(ctx, ledgerdb.HeldPK(team, k), func(it map[string]types.AttributeValue) error {
		ev, err := event.Decode([]byte(dynamotx.String(it, "event")))
		if err != nil {
			return fmt.Errorf("decode held event %s: %w", dynamotx.String(it, resources.SortKey), err)
		}
		out = append(out, ev)
		return nil
	})
	slices.SortStableFunc(out, func(a, b event.Event) int { return a.OccurredAt.Compare(b.OccurredAt) })
	return out, err
}

// Unhold deletes the held events, then the membership's index entry when
// its hold count is still mark (no hold since; mark < 0 keeps it).
func (s *Store) Unhold(ctx context.Context, team string, k ledger.MemberKey, eventIDs []string, mark int64) error {
	if err := checkID("team_id", team); err != nil {
		return err
	}
	if err := checkMember(k); err != nil {
		return err
	}
	pk := ledgerdb.HeldPK(team, k)
	want := map[string]bool{}
	for _, id := range eventIDs {
		want[id] = true
	}
	var del []string
	if err := s.query(ctx, pk, func(it map[string]types.AttributeValue) error {
		sk := dynamotx.String(it, resources.SortKey)
		if id, ok := ledgerdb.HeldEventID(sk); ok && want[id] {
			del = append(del, sk)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, sk := range del {
		if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: dynamotx.Key(pk, sk)}); err != nil {
			return fmt.Errorf("unhold %s: %w", sk, err)
		}
	}
	if mark < 0 {
		return nil
	}
	expr, err := expression.NewBuilder().WithCondition(expression.Name("n").Equal(expression.Value(mark))).Build()
	if err != nil {
		return fmt.Errorf("build unlist: %w", err)
	}
	_, err = s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: dynamotx.Key(ledgerdb.HeldListPK(team), ledgerdb.HeldListSK(k)),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if _, ok := dynamotx.ConditionFailed(err); ok || err == nil {
		return nil
	}
	return fmt.Errorf("unlist held membership: %w", err)
}

// TaskFields reads the cached Task fields of the team's org.
func (s *Store) TaskFields(ctx context.Context, team string) (activitysync.TaskFields, time.Time, bool, error) {
	if err := checkID("team_id", team); err != nil {
		return activitysync.TaskFields{}, time.Time{}, false, err
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: dynamotx.Key(ledgerdb.TaskFieldsPK(team), ledgerdb.TaskFieldsSK)})
	if err != nil {
		return activitysync.TaskFields{}, time.Time{}, false, fmt.Errorf("read task fields: %w", err)
	}
	if out.Item == nil {
		return activitysync.TaskFields{}, time.Time{}, false, nil
	}
	tf := activitysync.TaskFields{TypeEmail: dynamotx.Bool(out.Item, "type_email"),
		KeyField: dynamotx.String(out.Item, "key_field"), ClosedStatus: dynamotx.String(out.Item, "closed_status")}
	return tf, time.UnixMilli(dynamotx.Int(out.Item, "fetched_ms")), true, nil
}

// SaveTaskFields caches the Task fields of the team's org.
func (s *Store) SaveTaskFields(ctx context.Context, team string, tf activitysync.TaskFields, at time.Time) error {
	if err := checkID("team_id", team); err != nil {
		return err
	}
	item := dynamotx.Key(ledgerdb.TaskFieldsPK(team), ledgerdb.TaskFieldsSK)
	item["type_email"] = &types.AttributeValueMemberBOOL{Value: tf.TypeEmail}
	item["key_field"] = &types.AttributeValueMemberS{Value: tf.KeyField}
	item["closed_status"] = &types.AttributeValueMemberS{Value: tf.ClosedStatus}
	item["fetched_ms"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(at.UnixMilli(), 10)}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("cache task fields: %w", err)
	}
	return nil
}

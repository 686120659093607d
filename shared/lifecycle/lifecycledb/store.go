// Package lifecycledb keeps lifecycle's marks in the ledger table, beside
// each email's record: it implements lifecycle.Marks on DynamoDB.
//
// # Layout
//
//	pk TEAM#<t>#EMAIL#<email>   sk BOUNCE
//	    the email's newest bounce claimed: event_id, at_ns (when it
//	    bounced, Unix ns), reason, object and sf_id (the record it is
//	    written to; the other fields of the bounce's SalesforceRef are not
//	    kept), written (bool).
//	pk TEAM#<t>#EMAIL#<email>   sk OPTOUT
//	    the email's opt-out, the first kept: contact_id, event_id, at_ns,
//	    and written, the string set of the Salesforce ids it was written to
//	    (absent until the first).
//
// The keys are ledgerdb's (EmailPK, BounceSK, OptOutSK), which owns the
// keys of the whole ledger table; the email is keyed normalized
// (ledger.NormalizeEmail), as the email's RECORD item is. docs/tables.md
// lists every item of every table.
//
// # Expiry
//
// A bounce's claim and mark, and an opt-out kept, set the item's expires_at
// (Unix seconds, the table's TTL attribute) to the team's retention after
// the write (Bounce.Retain, OptOut.Retain; Store.Retention when zero): an
// email nobody bounces or opts out for that long is forgotten. Noting an
// opt-out written leaves its expiry as it is, and a write refused by its
// condition (a bounce older than the mark, a second opt-out) writes
// nothing.
//
// # Requests
//
// Each call checks its whole input first (an invalid team, email, event id
// or time fails the call with an *InputError naming the field, before any
// request), then sends one request per email, up to 32 at once, and reads
// nothing: a write refused by its condition returns the item it
// found (ReturnValuesOnConditionCheckFailure ALL_OLD). ClaimBounces,
// WroteBounces, KeepOptOuts and WroteOptOuts cost one write per email;
// OptOuts one BatchGetItem per 100 emails, plus one per resend of keys left
// unprocessed. Where a refusal that must have found an item returns none
// (an emulator that ignores ALL_OLD), the item is read (one GetItem).
package lifecycledb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store is lifecycle's marks on the ledger table. Use New.
type Store struct {
	db    API
	table string
	// Now is the clock of expiry; tests may replace it.
	Now func() time.Time
	// Retention is how long after its last write an item is kept; zero:
	// ledger.DefaultRetention.
	Retention time.Duration
	// Backoff is the first wait before resending unprocessed batch keys;
	// it doubles (with jitter) up to a second. Zero: dynamotx.DefaultBackoff.
	Backoff time.Duration
	// MaxAttempts bounds the sends of one batch with unprocessed keys.
	MaxAttempts int
}

var _ lifecycle.Marks = (*Store)(nil)

// New returns the marks on the named table (the ledger table).
func New(api API, table string) *Store {
	return &Store{db: api, table: table, Now: time.Now, Backoff: 50 * time.Millisecond, MaxAttempts: 8}
}

// parallelism bounds the concurrent requests of one call.
const parallelism = 32

// ErrInvalid is wrapped by every *InputError.
var ErrInvalid = errors.New("lifecycledb: invalid input")

// InputError names the input the store refused and why.
type InputError struct{ Field, Problem string }

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap lets errors.Is find ErrInvalid.
func (e *InputError) Unwrap() error { return ErrInvalid }

// ErrUnprocessed is returned when DynamoDB kept leaving keys of a batch
// read unprocessed.
var ErrUnprocessed = errors.New("lifecycledb: batch keys left unprocessed")

// The attributes of the items.
const (
	attrEventID   = "event_id"
	attrAt        = "at_ns"
	attrReason    = "reason"
	attrObject    = "object"
	attrRecordID  = "sf_id"
	attrWritten   = "written"
	attrContactID = "contact_id"
)

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// expiry is the expires_at of an item written now, kept for retain (0:
// the store's Retention).
func (s *Store) expiry(retain time.Duration) types.AttributeValue {
	if retain <= 0 {
		retain = s.Retention
	}
	return num(s.now().Add(ledger.RetainOr(retain)).Unix())
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// each runs f(0..n-1), up to parallelism at once, and returns the first
// error; the first error cancels the context of the calls not yet done.
func each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i := range n {
		g.Go(func() error { return f(ctx, i) })
	}
	return g.Wait()
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// checkID refuses an id that is empty, too long, or outside the event
// contract's id rule (ledgerdb's).
func checkID(field, id string) error {
	switch {
	case id == "":
		return &InputError{field, "must not be empty"}
	case len(id) > ledgerdb.MaxIDLength:
		return &InputError{field, fmt.Sprintf("longer than %d characters", ledgerdb.MaxIDLength)}
	case !idRE.MatchString(id):
		return &InputError{field, "must start with a letter or digit and hold only letters, digits and . _ : -"}
	}
	return nil
}

// checkEmail returns the normalized email, the key's, or an error naming
// field.
func checkEmail(field, email string) (string, error) {
	e := ledger.NormalizeEmail(email)
	switch {
	case e == "":
		return "", &InputError{field, "must not be empty"}
	case len(e) > ledgerdb.MaxEmailLength:
		return "", &InputError{field, fmt.Sprintf("longer than %d bytes", ledgerdb.MaxEmailLength)}
	case !utf8.ValidString(e):
		return "", &InputError{field, "is not valid UTF-8"}
	case strings.ContainsFunc(e, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", &InputError{field, "holds control characters"}
	}
	return e, nil
}

// checkAt refuses a time Unix nanoseconds cannot hold (and the zero time).
func checkAt(field string, at time.Time) error {
	if at.IsZero() || !time.Unix(0, at.UnixNano()).Equal(at) {
		return &InputError{field, "must be a time between the years 1678 and 2262"}
	}
	return nil
}

// checkBounce checks a bounce and returns its email normalized.
func checkBounce(i int, b lifecycle.Bounce) (string, error) {
	email, err := checkEmail(fmt.Sprintf("bounces[%d].email", i), b.Email)
	if err != nil {
		return "", err
	}
	if err := checkID(fmt.Sprintf("bounces[%d].event_id", i), b.EventID); err != nil {
		return "", err
	}
	if err := checkAt(fmt.Sprintf("bounces[%d].at", i), b.At); err != nil {
		return "", err
	}
	return email, nil
}

func keyOf(team, email, sk string) map[string]types.AttributeValue {
	return dynamotx.Key(ledgerdb.EmailPK(team, email), sk)
}

// ClaimBounces implements lifecycle.Marks: one conditional put per bounce,
// which replaces the email's mark only where the bounce is newer
// (lifecycle.Newer: a later at_ns, or the same and a larger event_id). A
// refused put returns the mark it found, which is the answer; a claim of
// the mark's own bounce again (a redelivery) is refused too, so it keeps
// written as it is.
func (s *Store) ClaimBounces(ctx context.Context, teamID string, bs []lifecycle.Bounce) ([]lifecycle.BounceMark, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, len(bs))
	seen := make(map[string]bool, len(bs))
	for i, b := range bs {
		email, err := checkBounce(i, b)
		if err != nil {
			return nil, err
		}
		if seen[email] {
			return nil, &InputError{fmt.Sprintf("bounces[%d].email", i), "repeated in the batch"}
		}
		seen[email] = true
		keys[i] = keyOf(teamID, email, ledgerdb.BounceSK)
	}
	out := make([]lifecycle.BounceMark, len(bs))
	err := each(ctx, len(bs), func(ctx context.Context, i int) error {
		m, err := s.claimBounce(ctx, keys[i], bs[i], s.expiry(bs[i].Retain))
		out[i] = m
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) claimBounce(ctx context.Context, key map[string]types.AttributeValue, b lifecycle.Bounce, exp types.AttributeValue) (lifecycle.BounceMark, error) {
	at, ev := expression.Name(attrAt), expression.Name(attrEventID)
	atNs := expression.Value(b.At.UnixNano())
	cond := expression.Or(expression.AttributeNotExists(at), at.LessThan(atNs),
		expression.And(at.Equal(atNs), ev.LessThan(expression.Value(b.EventID))))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return lifecycle.BounceMark{}, fmt.Errorf("build bounce claim: %w", err)
	}
	item := map[string]types.AttributeValue{
		attrEventID:  str(b.EventID),
		attrAt:       num(b.At.UnixNano()),
		attrReason:   str(b.Reason),
		attrObject:   str(string(b.Record.Object)),
		attrRecordID: str(b.Record.ID),
		attrWritten:  &types.AttributeValueMemberBOOL{Value: false},

		resources.TTLAttribute: exp,
	}
	for k, v := range key {
		item[k] = v
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return lifecycle.BounceMark{Bounce: b}, nil
	}
	cf, ok := dynamotx.ConditionFailed(err)
	if !ok {
		return lifecycle.BounceMark{}, fmt.Errorf("claim bounce %s: %w", b.EventID, err)
	}
	// The condition fails only where a mark exists, so a refusal without
	// it is an emulator's: read it.
	old, err := dynamotx.Found(ctx, s.db, s.table, key, cf.Item)
	if err != nil {
		return lifecycle.BounceMark{}, err
	}
	return bounceMark(b.Email, old), nil
}

// bounceMark is the mark an item holds, for email; the zero mark when
// there is no item.
func bounceMark(email string, item map[string]types.AttributeValue) lifecycle.BounceMark {
	if len(item) == 0 {
		return lifecycle.BounceMark{}
	}
	return lifecycle.BounceMark{
		Bounce: lifecycle.Bounce{
			Email:   email,
			Record:  event.SalesforceRef{Object: event.SalesforceObject(dynamotx.String(item, attrObject)), ID: dynamotx.String(item, attrRecordID)},
			EventID: dynamotx.String(item, attrEventID),
			At:      time.Unix(0, dynamotx.Int(item, attrAt)).UTC(),
			Reason:  dynamotx.String(item, attrReason),
		},
		Written: dynamotx.Bool(item, attrWritten),
	}
}

// WroteBounces implements lifecycle.Marks: one conditional update per
// bounce, setting written where the mark is still that bounce (event_id),
// returning the mark as it stands either way (ALL_NEW written, ALL_OLD
// refused). An email with no mark gets the zero mark; no item is made.
func (s *Store) WroteBounces(ctx context.Context, teamID string, bs []lifecycle.Bounce) ([]lifecycle.BounceMark, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, len(bs))
	for i, b := range bs {
		email, err := checkBounce(i, b)
		if err != nil {
			return nil, err
		}
		keys[i] = keyOf(teamID, email, ledgerdb.BounceSK)
	}
	out := make([]lifecycle.BounceMark, len(bs))
	err := each(ctx, len(bs), func(ctx context.Context, i int) error {
		m, err := s.wroteBounce(ctx, keys[i], bs[i], s.expiry(bs[i].Retain))
		out[i] = m
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) wroteBounce(ctx context.Context, key map[string]types.AttributeValue, b lifecycle.Bounce, exp types.AttributeValue) (lifecycle.BounceMark, error) {
	upd := expression.Set(expression.Name(attrWritten), expression.Value(true)).
		Set(expression.Name(resources.TTLAttribute), expression.Value(raw{exp}))
	cond := expression.Name(attrEventID).Equal(expression.Value(b.EventID))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return lifecycle.BounceMark{}, fmt.Errorf("build bounce written: %w", err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return bounceMark(b.Email, out.Attributes), nil
	}
	if cf, ok := dynamotx.ConditionFailed(err); ok {
		// Refused: another bounce's mark (ALL_OLD), or none at all.
		return bounceMark(b.Email, cf.Item), nil
	}
	return lifecycle.BounceMark{}, fmt.Errorf("mark bounce %s written: %w", b.EventID, err)
}

// raw is an attribute value the expression builder takes as it is.
type raw struct{ av types.AttributeValue }

func (r raw) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) { return r.av, nil }

// KeepOptOuts implements lifecycle.Marks: one put per email, on the
// condition that the email has no opt-out; a refused put returns the one
// kept (ALL_OLD). An email given twice is put once, for its first opt-out,
// and both get the answer.
func (s *Store) KeepOptOuts(ctx context.Context, teamID string, os []lifecycle.OptOut) ([]lifecycle.OptOut, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	first := map[string]int{} // by normalized email: the index in os of its first opt-out
	var puts []int
	emails := make([]string, len(os))
	for i, o := range os {
		email, err := checkEmail(fmt.Sprintf("opt_outs[%d].email", i), o.Email)
		if err != nil {
			return nil, err
		}
		if err := checkID(fmt.Sprintf("opt_outs[%d].event_id", i), o.EventID); err != nil {
			return nil, err
		}
		if err := checkAt(fmt.Sprintf("opt_outs[%d].at", i), o.At); err != nil {
			return nil, err
		}
		emails[i] = email
		if _, ok := first[email]; !ok {
			first[email] = i
			puts = append(puts, i)
		}
	}
	kept := make([]lifecycle.OptOut, len(os)) // at the index of each email's first opt-out
	err := each(ctx, len(puts), func(ctx context.Context, j int) error {
		i := puts[j]
		o, err := s.keepOptOut(ctx, keyOf(teamID, emails[i], ledgerdb.OptOutSK), os[i], s.expiry(os[i].Retain))
		kept[i] = o
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]lifecycle.OptOut, len(os))
	for i, o := range os {
		k := kept[first[emails[i]]]
		k.Email = o.Email
		k.Written = slices.Clone(k.Written)
		out[i] = k
	}
	return out, nil
}

func (s *Store) keepOptOut(ctx context.Context, key map[string]types.AttributeValue, o lifecycle.OptOut, exp types.AttributeValue) (lifecycle.OptOut, error) {
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(resources.PartitionKey))).Build()
	if err != nil {
		return lifecycle.OptOut{}, fmt.Errorf("build opt-out: %w", err)
	}
	item := map[string]types.AttributeValue{
		attrContactID: str(o.ContactID),
		attrEventID:   str(o.EventID),
		attrAt:        num(o.At.UnixNano()),

		resources.TTLAttribute: exp,
	}
	for k, v := range key {
		item[k] = v
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		o.Written = nil
		return o, nil
	}
	cf, ok := dynamotx.ConditionFailed(err)
	if !ok {
		return lifecycle.OptOut{}, fmt.Errorf("keep opt-out %s: %w", o.EventID, err)
	}
	// The condition fails only where an opt-out exists, so a refusal
	// without it is an emulator's: read it.
	old, err := dynamotx.Found(ctx, s.db, s.table, key, cf.Item)
	if err != nil {
		return lifecycle.OptOut{}, err
	}
	return optOut(o.Email, old), nil
}

// optOut is the opt-out an item holds, for email.
func optOut(email string, item map[string]types.AttributeValue) lifecycle.OptOut {
	o := lifecycle.OptOut{
		Email:     email,
		ContactID: dynamotx.String(item, attrContactID),
		EventID:   dynamotx.String(item, attrEventID),
		At:        time.Unix(0, dynamotx.Int(item, attrAt)).UTC(),
	}
	if ss, ok := item[attrWritten].(*types.AttributeValueMemberSS); ok && len(ss.Value) > 0 {
		o.Written = slices.Sorted(slices.Values(ss.Value))
	}
	return o
}

// OptOuts implements lifecycle.Marks: BatchGetItem calls of up to 100
// keys, read consistently, resending unprocessed keys with backoff. The
// answer is keyed by the emails as given.
func (s *Store) OptOuts(ctx context.Context, teamID string, emails []string) (map[string]lifecycle.OptOut, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	byKey := map[string][]string{} // by normalized email: the emails given
	var keys []map[string]types.AttributeValue
	for i, e := range emails {
		email, err := checkEmail(fmt.Sprintf("emails[%d]", i), e)
		if err != nil {
			return nil, err
		}
		if _, ok := byKey[email]; !ok {
			keys = append(keys, keyOf(teamID, email, ledgerdb.OptOutSK))
		}
		byKey[email] = append(byKey[email], e)
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	prefix := ledgerdb.EmailPK(teamID, "")
	out := make(map[string]lifecycle.OptOut, len(items))
	for _, it := range items {
		email, ok := strings.CutPrefix(dynamotx.String(it, resources.PartitionKey), prefix)
		if !ok {
			continue
		}
		for _, e := range byKey[email] {
			out[e] = optOut(e, it)
		}
	}
	return out, nil
}

// batchGet reads the items with the given keys (distinct), consistently,
// 100 keys a call, resending unprocessed keys with backoff. Items that do
// not exist are absent from the answer.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for start := 0; start < len(keys); start += ledgerdb.MaxBatchGet {
		chunk := keys[start:min(start+ledgerdb.MaxBatchGet, len(keys))]
		req := map[string]types.KeysAndAttributes{s.table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 1; ; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("batch get %d opt-outs from %s: %w", len(req[s.table].Keys), s.table, err)
			}
			items = append(items, out.Responses[s.table]...)
			left, ok := out.UnprocessedKeys[s.table]
			if !ok || len(left.Keys) == 0 {
				break
			}
			if attempt >= max(s.MaxAttempts, 1) {
				return nil, fmt.Errorf("batch get opt-outs from %s: %d keys after %d attempts: %w", s.table, len(left.Keys), attempt, ErrUnprocessed)
			}
			if err := dynamotx.Wait(ctx, s.Backoff, attempt); err != nil {
				return nil, fmt.Errorf("batch get opt-outs from %s: %w", s.table, err)
			}
			req = map[string]types.KeysAndAttributes{s.table: left}
		}
	}
	return items, nil
}

// WroteOptOuts implements lifecycle.Marks: one update per email, adding
// the record id to written on the condition that the email has an
// opt-out; an email with none is skipped (no item is made).
func (s *Store) WroteOptOuts(ctx context.Context, teamID string, written map[string]string) error {
	if err := checkID("team_id", teamID); err != nil {
		return err
	}
	type note struct {
		key map[string]types.AttributeValue
		id  string
	}
	notes := make([]note, 0, len(written))
	for _, e := range slices.Sorted(maps.Keys(written)) {
		field := "written" // the email is not named: errors reach the logs
		email, err := checkEmail(field, e)
		if err != nil {
			return err
		}
		id := written[e]
		if id == "" {
			return &InputError{field, "the record id must not be empty"}
		}
		notes = append(notes, note{keyOf(teamID, email, ledgerdb.OptOutSK), id})
	}
	return each(ctx, len(notes), func(ctx context.Context, i int) error {
		return s.wroteOptOut(ctx, notes[i].key, notes[i].id)
	})
}

// wroteOptOut notes a record written; the opt-out keeps the expiry it was
// kept with (its team's retention, counted from when it was kept).
func (s *Store) wroteOptOut(ctx context.Context, key map[string]types.AttributeValue, id string) error {
	upd := expression.Add(expression.Name(attrWritten), expression.Value(raw{&types.AttributeValueMemberSS{Value: []string{id}}}))
	cond := expression.AttributeExists(expression.Name(resources.PartitionKey))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("build opt-out written: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if _, ok := dynamotx.ConditionFailed(err); ok || err == nil {
		return nil // refused: the email has no opt-out
	}
	return fmt.Errorf("note opt-out written to %s: %w", id, err)
}

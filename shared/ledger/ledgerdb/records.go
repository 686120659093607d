package ledgerdb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// recordItem is an email's RECORD item: a claim, a saved record, or both
// absent (an ended claim leaves no item). A record saved before December
// 2026 carries the contact index keys (CPK, CSK); one saved since is found
// through the memberships of the contact that saved it.
type recordItem struct {
	PK             string         `json:"pk"`
	SK             string         `json:"sk"`
	CPK            string         `json:"cpk,omitempty"`
	CSK            string         `json:"csk,omitempty"`
	TeamID         string         `json:"team_id"`
	Email          string         `json:"email"`
	ClaimOwner     string         `json:"claim_owner,omitempty"`
	ClaimUntil     int64          `json:"claim_until,omitempty"` // Unix milliseconds
	Object         string         `json:"object,omitempty"`
	SalesforceID   string         `json:"sf_id,omitempty"`
	Status         string         `json:"status,omitempty"`
	MatchRule      string         `json:"match_rule,omitempty"`
	PolicyVersion  int            `json:"policy_version"`
	MappingVersion int            `json:"mapping_version"`
	SyncedAt       time.Time      `json:"synced_at"`
	EventID        string         `json:"event_id,omitempty"`
	ContactID      string         `json:"contact_id,omitempty"`
	Credit         *ledger.Credit `json:"credit,omitempty"`
	// Retain is the record's ledger.Record.Retain in seconds, when one was
	// given.
	Retain int64 `json:"retain_s,omitempty"`
	// ExpiresAt is when DynamoDB's TTL deletes the item (Unix seconds): a
	// claim's end plus ClaimExpiry, or a record's save (or follow) plus
	// its retention.
	ExpiresAt int64 `json:"expires_at,omitempty"`
}

// ClaimExpiry is how long a RECORD item holding only a claim outlives the
// claim: its TTL is claim_until plus a day. A claim is never held longer.
const ClaimExpiry = 24 * time.Hour

// retainAttr is the attribute of an item's own retention, in seconds.
const retainAttr = "retain_s"

// claimItem is a RECORD item that holds only a claim.
type claimItem struct {
	PK         string `json:"pk"`
	SK         string `json:"sk"`
	TeamID     string `json:"team_id"`
	Email      string `json:"email"`
	ClaimOwner string `json:"claim_owner"`
	ClaimUntil int64  `json:"claim_until"` // Unix milliseconds
	ExpiresAt  int64  `json:"expires_at"`  // Unix seconds: claim_until plus ClaimExpiry
}

func (it recordItem) record() ledger.Record {
	return ledger.Record{
		TeamID: it.TeamID, Email: it.Email, Object: event.SalesforceObject(it.Object), ID: it.SalesforceID,
		Status: event.Status(it.Status), MatchRule: it.MatchRule, PolicyVersion: it.PolicyVersion,
		MappingVersion: it.MappingVersion, SyncedAt: it.SyncedAt.UTC(), EventID: it.EventID, ContactID: it.ContactID,
		Credit: it.Credit, Retain: time.Duration(it.Retain) * time.Second,
	}
}

// Records returns the saved records among emails, by normalized email, one
// BatchGetItem per 100 emails. Emails only claimed are absent.
func (s *Store) Records(ctx context.Context, teamID string, emails []string) (map[string]ledger.Record, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, 0, len(emails))
	for i, e := range emails {
		n, err := checkEmail(fmt.Sprintf("emails[%d]", i), e)
		if err != nil {
			return nil, err
		}
		keys = append(keys, dynamotx.Key(EmailPK(teamID, n), RecordSK))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read records of %s: %w", teamID, err)
	}
	out := make(map[string]ledger.Record, len(items))
	for _, raw := range items {
		var it recordItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode record %v: %w", keyString(raw), err)
		}
		if it.SalesforceID != "" {
			out[it.Email] = it.record()
		}
	}
	return out, nil
}

// Claim takes the right to create a record for email until the given time:
// ClaimAll of one email.
func (s *Store) Claim(ctx context.Context, teamID, email, owner string, until time.Time) error {
	errs, err := s.ClaimAll(ctx, teamID, []string{email}, owner, until)
	if err != nil {
		return err
	}
	return errs[0]
}

// ClaimAll takes the right to create a record for each email until the
// given time: one conditional put each, succeeding
// when the email has no record and no unexpired claim of another owner
// (the owner's own claim is taken again, so a repeat is harmless).
// errs[i] wraps ErrClaimed otherwise: a *ClaimError naming the holder, or a
// *RecordedError when a record was saved meanwhile. An invalid email gets an
// *InputError in errs; an invalid team, owner or time fails the call. A
// claim's item expires ClaimExpiry after until, unless a record is saved
// in it.
func (s *Store) ClaimAll(ctx context.Context, teamID string, emails []string, owner string, until time.Time) ([]error, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	if err := checkID("owner", owner); err != nil {
		return nil, err
	}
	now := s.Now()
	if !until.After(now) {
		return nil, &InputError{"until", "must be in the future"}
	}
	// One condition for every email: no record, and no live claim of
	// another owner.
	owned := expression.Name("claim_owner")
	cond := expression.AttributeNotExists(expression.Name("sf_id")).And(
		expression.Or(
			expression.AttributeNotExists(owned),
			owned.Equal(expression.Value(owner)),
			expression.Name("claim_until").LessThan(expression.Value(now.UnixMilli())),
		))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build claim: %w", err)
	}
	errs := make([]error, len(emails))
	var units []dynamotx.Unit
	var idx []int
	var pks []string
	for i, email := range emails {
		n, err := checkEmail("email", email)
		if err != nil {
			errs[i] = err
			continue
		}
		pk := EmailPK(teamID, n)
		// The item holds nothing but a claim (the condition says it has no
		// record), so the claim is written whole.
		item, err := marshal(claimItem{PK: pk, SK: RecordSK, TeamID: teamID, Email: n, ClaimOwner: owner, ClaimUntil: until.UnixMilli(),
			ExpiresAt: until.Add(ClaimExpiry).Unix()})
		if err != nil {
			return nil, fmt.Errorf("encode claim: %w", err)
		}
		units = append(units, dynamotx.Unit{{Put: &types.Put{
			TableName: aws.String(s.table), Item: item, ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}})
		idx = append(idx, i)
		pks = append(pks, pk)
	}
	results, err := s.transact(ctx, "claim emails", units)
	if err != nil {
		return nil, err
	}
	for j, r := range results {
		if !r.Failed {
			continue
		}
		pk := pks[j]
		it, err := s.recordOr(ctx, pk, r.Old)
		if err != nil {
			return nil, err
		}
		if it.SalesforceID != "" {
			errs[idx[j]] = fmt.Errorf("claim %s: %w", pk, &RecordedError{Record: it.record(), claim: true})
		} else {
			errs[idx[j]] = fmt.Errorf("claim %s: %w", pk, &ClaimError{Owner: it.ClaimOwner, Until: time.UnixMilli(it.ClaimUntil).UTC()})
		}
	}
	return errs, nil
}

// recordOr decodes old, or reads the RECORD item when an emulator returned
// no old item with a failed condition.
func (s *Store) recordOr(ctx context.Context, pk string, old map[string]types.AttributeValue) (recordItem, error) {
	old, err := dynamotx.Found(ctx, s.db, s.table, dynamotx.Key(pk, RecordSK), old)
	if err != nil {
		return recordItem{}, err
	}
	var it recordItem
	if err := unmarshal(old, &it); err != nil {
		return recordItem{}, fmt.Errorf("decode %s: %w", pk, err)
	}
	return it, nil
}

var salesforceIDRE = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)

func checkRecord(r ledger.Record) (string, error) {
	for _, f := range []struct{ name, v string }{{"team_id", r.TeamID}, {"event_id", r.EventID}, {"contact_id", r.ContactID}} {
		if err := checkID(f.name, f.v); err != nil {
			return "", err
		}
	}
	n, err := checkEmail("email", r.Email)
	if err != nil {
		return "", err
	}
	if r.Object != event.ObjectLead && r.Object != event.ObjectContact {
		return "", &InputError{"object", fmt.Sprintf("must be Lead or Contact, got %q", r.Object)}
	}
	if r.Status != event.StatusCreated && r.Status != event.StatusLinked {
		return "", &InputError{"status", fmt.Sprintf("must be created or linked, got %q", r.Status)}
	}
	if !salesforceIDRE.MatchString(r.ID) {
		return "", &InputError{"id", "not a 15- or 18-character Salesforce id"}
	}
	if r.SyncedAt.IsZero() {
		return "", &InputError{"synced_at", "missing"}
	}
	if r.PolicyVersion < 0 || r.MappingVersion < 0 {
		return "", &InputError{"policy_version", "versions must not be negative"}
	}
	return n, nil
}

// SaveRecord stores the record and ends the claim: SaveRecords of one
// record.
func (s *Store) SaveRecord(ctx context.Context, r ledger.Record) error {
	errs, err := s.SaveRecords(ctx, []ledger.Record{r})
	if err != nil {
		return err
	}
	return errs[0]
}

// SaveRecords stores each record and ends its claim: one conditional
// put per record. The record is found through the outcome that names its
// email (ledger.WithEmails) and the memberships of the contact that saved
// it. The claim must be the owner's
// (Store.Owner, or r.EventID when that is empty), expired or absent (a
// record found in Salesforce is linked without a claim): errs[i] is a
// *ClaimError otherwise. An email already saved with another Salesforce id
// keeps it: a *RecordedError, and nothing of that record is written. Its
// own event may save a created record again (a resent request writes the
// same item); a linked record is saved only where the email has none, and
// a *RecordedError names the record found otherwise. A saved record
// expires its retention (ledger.RetainOr(r.Retain)) after the save.
func (s *Store) SaveRecords(ctx context.Context, rs []ledger.Record) ([]error, error) {
	errs := make([]error, len(rs))
	var units []dynamotx.Unit
	var idx []int
	now := s.Now()
	for i, r := range rs {
		u, err := s.saveRecord(r, now)
		if err != nil {
			if errors.Is(err, ErrInvalid) {
				errs[i] = err
				continue
			}
			return nil, err
		}
		units = append(units, u)
		idx = append(idx, i)
	}
	results, err := s.transact(ctx, "save records", units)
	if err != nil {
		return nil, err
	}
	for j, res := range results {
		if !res.Failed {
			continue
		}
		r := rs[idx[j]]
		owner := r.EventID
		if s.Owner != "" {
			owner = s.Owner
		}
		pk := EmailPK(r.TeamID, ledger.NormalizeEmail(r.Email))
		it, err := s.recordOr(ctx, pk, res.Old)
		if err != nil {
			return nil, err
		}
		switch {
		case it.SalesforceID != "" && (it.SalesforceID != r.ID || r.Status == event.StatusLinked || it.EventID != r.EventID):
			errs[idx[j]] = fmt.Errorf("save record %s: %w", pk, &RecordedError{Record: it.record()})
		case it.ClaimOwner != "" && it.ClaimOwner != owner && it.ClaimUntil >= s.Now().UnixMilli():
			errs[idx[j]] = fmt.Errorf("save record %s: %w", pk, &ClaimError{Owner: it.ClaimOwner, Until: time.UnixMilli(it.ClaimUntil).UTC()})
		default: // the item changed between the write and the read; the caller retries
			errs[idx[j]] = fmt.Errorf("save record %s: the record changed concurrently: %w", pk, ledger.ErrClaimed)
		}
	}
	return errs, nil
}

// saveRecord is the write of one record: the email's RECORD item.
func (s *Store) saveRecord(r ledger.Record, now time.Time) (dynamotx.Unit, error) {
	n, err := checkRecord(r)
	if err != nil {
		return nil, err
	}
	r.Email, r.SyncedAt = n, r.SyncedAt.UTC()
	owner := r.EventID
	if s.Owner != "" {
		owner = s.Owner
	}
	owned := expression.Name("claim_owner")
	// A link is saved without a claim, so an expired claim of another
	// owner (a worker that died) does not stand in its way. It is saved
	// only where the email has no record yet: two deliveries of one event
	// may both find the record, one of them just after the other created
	// it, and the second must answer as the record says, not as "linked".
	// A created record may be saved again by its own event (a resent
	// request), which writes the same item.
	sfID := expression.Name("sf_id")
	fresh := expression.AttributeNotExists(sfID)
	if r.Status != event.StatusLinked {
		fresh = fresh.Or(sfID.Equal(expression.Value(r.ID)).And(expression.Name("event_id").Equal(expression.Value(r.EventID))))
	}
	cond := expression.And(
		expression.Or(expression.AttributeNotExists(owned), owned.Equal(expression.Value(owner)),
			expression.Name("claim_until").LessThan(expression.Value(now.UnixMilli()))),
		fresh,
	)
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build save: %w", err)
	}
	// The whole item is written (a Put): the claim goes with what it held.
	item, err := marshal(recordItem{
		PK: EmailPK(r.TeamID, n), SK: RecordSK,
		TeamID: r.TeamID, Email: n, Object: string(r.Object), SalesforceID: r.ID, Status: string(r.Status),
		MatchRule: r.MatchRule, PolicyVersion: r.PolicyVersion, MappingVersion: r.MappingVersion,
		SyncedAt: r.SyncedAt, EventID: r.EventID, ContactID: r.ContactID, Credit: r.Credit,
		Retain: retainSeconds(r.Retain), ExpiresAt: expiresAt(now, r.Retain),
	})
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return dynamotx.Unit{
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: item, ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	}, nil
}

// Unclaim gives a claim of owner up: the item is deleted if it holds that
// claim and no record. Ending a claim not held is a no-op.
func (s *Store) Unclaim(ctx context.Context, teamID, email, owner string) error {
	if err := checkID("team_id", teamID); err != nil {
		return err
	}
	n, err := checkEmail("email", email)
	if err != nil {
		return err
	}
	if err := checkID("owner", owner); err != nil {
		return err
	}
	cond := expression.Name("claim_owner").Equal(expression.Value(owner)).And(expression.AttributeNotExists(expression.Name("sf_id")))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build unclaim: %w", err)
	}
	pk := EmailPK(teamID, n)
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: dynamotx.Key(pk, RecordSK),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if _, ok := dynamotx.ConditionFailed(err); ok || err == nil {
		return nil
	}
	return fmt.Errorf("unclaim %s: %w", pk, err)
}

// contactQuery is the query of the contact index for the contact's entries
// whose sort key starts with prefix (all of them when it is empty).
func (s *Store) contactQuery(pk, prefix string) (*dynamodb.QueryInput, error) {
	ix := resources.ContactIndex
	key := expression.Key(ix.PartitionKey).Equal(expression.Value(pk))
	if prefix != "" {
		key = key.And(expression.KeyBeginsWith(expression.Key(ix.SortKey), prefix))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	return &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(ix.Name), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, nil
}

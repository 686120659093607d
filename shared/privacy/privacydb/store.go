// Package privacydb is the privacy erasure's adapter to DynamoDB: Store
// finds and deletes what the ledger table holds of a person
// (privacy.Store), Receipts keeps the erasure receipts in the same table,
// and Purger deletes every item of a team in the three tables when it
// leaves.
//
// Every ledger key is built by ledgerdb's key builders; the receipt's key
// is built here (ReceiptPK, ReceiptSK). docs/tables.md lists the items.
//
// # How a person's items are found
//
//   - a contact's: one query of its partition (ContactPK) gives its
//     outcomes and its FAILURES item; the memberships of the sequences its
//     contact outcomes name, the records of the emails those memberships
//     and its outcomes (email) name that the contact saved, and the
//     activities its outcomes name (activity) are
//     read (one BatchGetItem per 100 each); one query of the contact index
//     (by_contact) gives what was written before December 2026 (outcomes,
//     saved records, memberships, logged activities: the index projects
//     every attribute); a query of the team's held list filtered on the
//     contact, and a query of each held membership's events (the
//     memberships found included, should an event have been put without
//     its list entry); the failure-index entries the FAILURES set and the
//     outcomes name are read so that only those that exist are counted;
//   - an email's: one BatchGetItem of its RECORD, OPTOUT and BOUNCE items.
//
// Reads are consistent where DynamoDB allows it (the index is eventually
// consistent). A membership whose event has no outcome yet (it comes back
// to the queue) is missed, as is what an event still queued writes after
// the erasure: docs/tables.md says when that is.
//
// # Deletes
//
// BatchWriteItem deletes of 25 items, the unprocessed ones sent again
// after a backoff. A delete of an item that is gone is no error.
package privacydb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/resources"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Limits of DynamoDB's batch calls.
const (
	MaxBatchWrite = 25
	MaxBatchGet   = 100
)

// DefaultMaxAttempts bounds the sends of one batch with unprocessed items.
const DefaultMaxAttempts = 8

// ErrUnprocessed is returned when DynamoDB kept leaving items of a batch
// unprocessed.
var ErrUnprocessed = errors.New("privacydb: batch items left unprocessed")

// Store is privacy.Store on the ledger table.
type Store struct {
	DB    API
	Table string
	// Backoff is the first wait before resending unprocessed batch items
	// (0: dynamotx.DefaultBackoff); MaxAttempts bounds the sends (0:
	// DefaultMaxAttempts).
	Backoff     time.Duration
	MaxAttempts int
}

var _ privacy.Store = (*Store)(nil)

// Attributes read from the ledger's items (docs/tables.md).
const (
	attrContactID  = "contact_id"
	attrEmail      = "email"
	attrObject     = "object"
	attrSFID       = "sf_id"
	attrTaskID     = "task_id"
	attrErrorSK    = "error_sk"
	attrOpen       = "open"
	attrSequenceID = "sequence_id"
	attrOutcome    = "outcome"
	attrActivity   = "activity"
)

// ContactItems implements privacy.Store.
func (s *Store) ContactItems(ctx context.Context, team, contact string) ([]privacy.Item, error) {
	if err := checkTeam(team); err != nil {
		return nil, err
	}
	if err := privacy.CheckContactID(contact); err != nil {
		return nil, err
	}
	f := newFinds()
	if err := s.partition(ctx, team, contact, f); err != nil {
		return nil, err
	}
	if err := s.indexed(ctx, team, contact, f); err != nil {
		return nil, err
	}
	if err := s.memberships(ctx, team, contact, f); err != nil {
		return nil, err
	}
	if err := s.records(ctx, team, contact, f); err != nil {
		return nil, err
	}
	if err := s.activities(ctx, team, f); err != nil {
		return nil, err
	}
	failures, err := s.failures(ctx, team, f.failureSKs)
	if err != nil {
		return nil, err
	}
	out := append(f.items, failures...)
	held, err := s.held(ctx, team, contact, f.seqs)
	if err != nil {
		return nil, err
	}
	return append(out, held...), nil
}

// finds is what ContactItems has found so far, and what it has still to
// look for.
type finds struct {
	items      []privacy.Item
	seen       map[[2]string]bool
	failureSKs []string
	seqs       map[string]bool // the contact's memberships, by sequence
	emails     map[string]bool // the emails its memberships and outcomes name
	activities map[string]bool // the activity keys its outcomes name
}

func newFinds() *finds {
	return &finds{seen: map[[2]string]bool{}, seqs: map[string]bool{}, emails: map[string]bool{}, activities: map[string]bool{}}
}

// add keeps it, once.
func (f *finds) add(it privacy.Item) {
	k := [2]string{it.PK, it.SK}
	if !f.seen[k] {
		f.seen[k] = true
		f.items = append(f.items, it)
	}
}

// partition reads the contact's partition: its outcomes (each naming the
// membership its event is about, and a logged Task's activity key) and
// its FAILURES item.
func (s *Store) partition(ctx context.Context, team, contact string, f *finds) error {
	pk := ledgerdb.ContactPK(team, contact)
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": resources.PartitionKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}}
	var bad error
	err := s.query(ctx, in, func(raw map[string]types.AttributeValue) {
		it := privacy.Item{PK: pk, SK: dynamotx.String(raw, resources.SortKey)}
		switch {
		case it.SK == ledgerdb.FailuresSK:
			it.Kind = privacy.KindFailureSet
			f.failureSKs = append(f.failureSKs, openSKs(raw)...)
		case strings.HasPrefix(it.SK, ledgerdb.OutcomePrefix):
			it.Kind = privacy.KindOutcome
			if err := f.outcome(raw); err != nil && bad == nil {
				bad = fmt.Errorf("%s / %s: %w", it.PK, it.SK, err)
			}
		default:
			it.Kind = privacy.KindOther
		}
		f.add(it)
	})
	if err != nil {
		return fmt.Errorf("query the items of %s: %w", pk, err)
	}
	return bad
}

// outcome notes what an outcome item names: its failure-index entry, the
// membership of a contact outcome's sequence, a logged Task's activity.
func (f *finds) outcome(raw map[string]types.AttributeValue) error {
	if esk := dynamotx.String(raw, attrErrorSK); esk != "" {
		f.failureSKs = append(f.failureSKs, esk)
	}
	m, ok := raw[attrOutcome].(*types.AttributeValueMemberM)
	if !ok {
		return errors.New("no outcome")
	}
	var o event.Outcome
	if err := attributevalue.UnmarshalMapWithOptions(m.Value, &o, func(d *attributevalue.DecoderOptions) { d.TagKey = "json" }); err != nil {
		return fmt.Errorf("decode the outcome: %w", err)
	}
	if o.Type == event.ContactOutcome && o.SequenceID != "" {
		f.seqs[o.SequenceID] = true
	}
	if email := dynamotx.String(raw, attrEmail); email != "" {
		f.emails[ledger.NormalizeEmail(email)] = true // the record the outcome is on
	}
	if key := dynamotx.String(raw, attrActivity); key != "" {
		f.activities[key] = true
	}
	return nil
}

// openSKs is the failure-index keys a FAILURES item's open set names.
func openSKs(raw map[string]types.AttributeValue) []string {
	set, ok := raw[attrOpen].(*types.AttributeValueMemberSS)
	if !ok {
		return nil
	}
	var sks []string
	for _, e := range set.Value {
		// "<type>|<at>|<error sk>"
		if parts := strings.SplitN(e, "|", 3); len(parts) == 3 && parts[2] != "" {
			sks = append(sks, parts[2])
		}
	}
	return sks
}

// indexed reads the contact index, which holds what was written for the
// contact before December 2026: outcomes, saved records, memberships and
// logged activities (the index projects every attribute).
func (s *Store) indexed(ctx context.Context, team, contact string, f *finds) error {
	ix := resources.ContactIndex
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), IndexName: aws.String(ix.Name),
		KeyConditionExpression:    aws.String("#cpk = :cpk"),
		ExpressionAttributeNames:  map[string]string{"#cpk": ix.PartitionKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":cpk": &types.AttributeValueMemberS{Value: ledgerdb.ContactPK(team, contact)}}}
	err := s.query(ctx, in, func(raw map[string]types.AttributeValue) {
		it := privacy.Item{PK: dynamotx.String(raw, resources.PartitionKey), SK: dynamotx.String(raw, resources.SortKey)}
		if !ofTeam(team, it.PK) {
			return
		}
		csk := dynamotx.String(raw, ix.SortKey)
		switch {
		case strings.HasPrefix(csk, ledgerdb.OutcomeIndexPrefix):
			it.Kind = privacy.KindOutcome
			if esk := dynamotx.String(raw, attrErrorSK); esk != "" {
				f.failureSKs = append(f.failureSKs, esk)
			}
		case strings.HasPrefix(csk, ledgerdb.RecordIndexPrefix):
			it = recordItem(it, raw)
		case strings.HasPrefix(csk, ledgerdb.MemberIndexPrefix):
			it = memberItem(it, raw, f)
		case strings.HasPrefix(csk, ledgerdb.ActivityIndexPrefix):
			it.Kind = privacy.KindActivity
			if id := dynamotx.String(raw, attrTaskID); id != "" {
				it.Salesforce = &privacy.SalesforceRecord{Object: privacy.ObjectTask, ID: id}
			}
		default:
			it.Kind = privacy.KindOther
		}
		f.add(it)
	})
	if err != nil {
		return fmt.Errorf("query the contact index of %s: %w", ledgerdb.ContactPK(team, contact), err)
	}
	return nil
}

// memberItem is a MEMBER item as the erasure sees it; its sequence and
// email are noted in f.
func memberItem(it privacy.Item, raw map[string]types.AttributeValue, f *finds) privacy.Item {
	it.Kind, it.Email = privacy.KindMembership, ledger.NormalizeEmail(dynamotx.String(raw, attrEmail))
	if seq := dynamotx.String(raw, attrSequenceID); seq != "" {
		f.seqs[seq] = true
	}
	if it.Email != "" {
		f.emails[it.Email] = true
	}
	return it
}

// memberships reads the contact's memberships of the sequences its
// outcomes name (those in the contact index are found already).
func (s *Store) memberships(ctx context.Context, team, contact string, f *finds) error {
	found, err := s.unseen(ctx, f, f.seqs, func(seq string) [2]string {
		return [2]string{ledgerdb.MembershipPK(team, seq), ledgerdb.MemberSK(contact)}
	})
	if err != nil {
		return fmt.Errorf("read the memberships of a contact of %s: %w", team, err)
	}
	for _, raw := range found {
		f.add(memberItem(keyItem(raw), raw, f))
	}
	return nil
}

// records reads the records of the emails the contact's memberships and
// outcomes name that the contact saved (another contact's record of the
// same email is that contact's; an erasure by the email deletes it).
func (s *Store) records(ctx context.Context, team, contact string, f *finds) error {
	found, err := s.unseen(ctx, f, f.emails, func(email string) [2]string { return [2]string{ledgerdb.EmailPK(team, email), ledgerdb.RecordSK} })
	if err != nil {
		return fmt.Errorf("read the records of a contact of %s: %w", team, err)
	}
	for _, raw := range found {
		if it := recordItem(keyItem(raw), raw); it.ContactID == contact && it.Salesforce != nil {
			f.add(it)
		}
	}
	return nil
}

// activities reads the logged activities the contact's outcomes name.
func (s *Store) activities(ctx context.Context, team string, f *finds) error {
	found, err := s.unseen(ctx, f, f.activities, func(key string) [2]string { return [2]string{ledgerdb.ActivityPK(team, key), ledgerdb.ActivitySK} })
	if err != nil {
		return fmt.Errorf("read the activities of a contact of %s: %w", team, err)
	}
	for _, raw := range found {
		it := keyItem(raw)
		it.Kind = privacy.KindActivity
		if id := dynamotx.String(raw, attrTaskID); id != "" {
			it.Salesforce = &privacy.SalesforceRecord{Object: privacy.ObjectTask, ID: id}
		}
		f.add(it)
	}
	return nil
}

// unseen reads the items key gives for names that f has not found yet,
// in the names' order.
func (s *Store) unseen(ctx context.Context, f *finds, names map[string]bool, key func(string) [2]string) ([]map[string]types.AttributeValue, error) {
	var keys []map[string]types.AttributeValue
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if k := key(n); !f.seen[k] {
			keys = append(keys, dynamotx.Key(k[0], k[1]))
		}
	}
	return s.batchGet(ctx, keys)
}

// keyItem is the item of raw's keys.
func keyItem(raw map[string]types.AttributeValue) privacy.Item {
	return privacy.Item{PK: dynamotx.String(raw, resources.PartitionKey), SK: dynamotx.String(raw, resources.SortKey)}
}

// recordItem is a RECORD item as the erasure sees it.
func recordItem(it privacy.Item, raw map[string]types.AttributeValue) privacy.Item {
	it.Kind = privacy.KindRecord
	it.ContactID = dynamotx.String(raw, attrContactID)
	it.Email = ledger.NormalizeEmail(dynamotx.String(raw, attrEmail))
	if id := dynamotx.String(raw, attrSFID); id != "" {
		it.Salesforce = &privacy.SalesforceRecord{Object: dynamotx.String(raw, attrObject), ID: id}
		it.Linked = dynamotx.String(raw, "status") == string(event.StatusLinked)
	}
	return it
}

// failures returns the failure-index entries of sks that exist.
func (s *Store) failures(ctx context.Context, team string, sks []string) ([]privacy.Item, error) {
	slices.Sort(sks)
	sks = slices.Compact(sks)
	if len(sks) == 0 {
		return nil, nil
	}
	keys := make([]map[string]types.AttributeValue, len(sks))
	for i, sk := range sks {
		keys[i] = dynamotx.Key(ledgerdb.ErrorsPK(team), sk)
	}
	found, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read failure-index entries of %s: %w", team, err)
	}
	out := make([]privacy.Item, 0, len(found))
	for _, raw := range found {
		out = append(out, privacy.Item{Kind: privacy.KindFailure, PK: dynamotx.String(raw, resources.PartitionKey), SK: dynamotx.String(raw, resources.SortKey)})
	}
	return out, nil
}

// held returns the contact's entries of the team's held list and the
// events held for its memberships: those listed, and those of seqs.
func (s *Store) held(ctx context.Context, team, contact string, seqs map[string]bool) ([]privacy.Item, error) {
	seqs = maps.Clone(seqs)
	var out []privacy.Item
	list := ledgerdb.HeldListPK(team)
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		FilterExpression:          aws.String("#c = :c"),
		ExpressionAttributeNames:  map[string]string{"#pk": resources.PartitionKey, "#c": attrContactID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: list}, ":c": &types.AttributeValueMemberS{Value: contact}}}
	err := s.query(ctx, in, func(raw map[string]types.AttributeValue) {
		sk := dynamotx.String(raw, resources.SortKey)
		seq := dynamotx.String(raw, attrSequenceID)
		if seq == "" || sk != ledgerdb.HeldListSK(ledger.MemberKey{SequenceID: seq, ContactID: contact}) {
			return
		}
		seqs[seq] = true
		out = append(out, privacy.Item{Kind: privacy.KindHeldList, PK: list, SK: sk})
	})
	if err != nil {
		return nil, fmt.Errorf("query the held list of %s: %w", team, err)
	}
	for _, seq := range slices.Sorted(maps.Keys(seqs)) {
		pk := ledgerdb.HeldPK(team, ledger.MemberKey{SequenceID: seq, ContactID: contact})
		in := &dynamodb.QueryInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ProjectionExpression:      aws.String("#pk, #sk"),
			ExpressionAttributeNames:  map[string]string{"#pk": resources.PartitionKey, "#sk": resources.SortKey},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}}
		err := s.query(ctx, in, func(raw map[string]types.AttributeValue) {
			out = append(out, privacy.Item{Kind: privacy.KindHeldEvent, PK: pk, SK: dynamotx.String(raw, resources.SortKey)})
		})
		if err != nil {
			return nil, fmt.Errorf("query held events of %s: %w", pk, err)
		}
	}
	return out, nil
}

// EmailItems implements privacy.Store.
func (s *Store) EmailItems(ctx context.Context, team, email string) ([]privacy.Item, error) {
	if err := checkTeam(team); err != nil {
		return nil, err
	}
	// The email is the last part of its key, after the team's, so no
	// email (a "#" in it included) reaches another team's items.
	if email == "" || email != ledger.NormalizeEmail(email) {
		return nil, &privacy.InputError{Field: "email", Problem: "must be a normalized email"}
	}
	pk := ledgerdb.EmailPK(team, email)
	found, err := s.batchGet(ctx, []map[string]types.AttributeValue{
		dynamotx.Key(pk, ledgerdb.RecordSK), dynamotx.Key(pk, ledgerdb.OptOutSK), dynamotx.Key(pk, ledgerdb.BounceSK)})
	if err != nil {
		return nil, fmt.Errorf("read the items of an email of %s: %w", team, err)
	}
	out := make([]privacy.Item, 0, len(found))
	for _, raw := range found {
		it := privacy.Item{PK: pk, SK: dynamotx.String(raw, resources.SortKey)}
		switch it.SK {
		case ledgerdb.RecordSK:
			it = recordItem(it, raw)
			if it.Email == "" {
				it.Email = email
			}
		case ledgerdb.OptOutSK:
			it.Kind, it.ContactID = privacy.KindOptOut, dynamotx.String(raw, attrContactID)
		case ledgerdb.BounceSK:
			it.Kind = privacy.KindBounce
		default:
			continue
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b privacy.Item) int { return strings.Compare(a.SK, b.SK) })
	return out, nil
}

// Delete implements privacy.Store: BatchWriteItem deletes of 25, each key
// once. Every key must be one of the team's (ErrInvalid otherwise, and
// nothing is deleted).
func (s *Store) Delete(ctx context.Context, team string, items []privacy.Item) error {
	if err := checkTeam(team); err != nil {
		return err
	}
	seen := map[[2]string]bool{}
	var keys []map[string]types.AttributeValue
	for _, it := range items {
		if !ofTeam(team, it.PK) || it.SK == "" {
			return &privacy.InputError{Field: "items", Problem: fmt.Sprintf("%s / %s is not an item of team %s", it.PK, it.SK, team)}
		}
		k := [2]string{it.PK, it.SK}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, dynamotx.Key(it.PK, it.SK))
		}
	}
	return deleteKeys(ctx, s.DB, s.Table, keys, s.Backoff, s.MaxAttempts)
}

// deleteKeys deletes the items of keys from table, 25 a call, resending the
// unprocessed ones after a backoff.
func deleteKeys(ctx context.Context, db interface {
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}, table string, keys []map[string]types.AttributeValue, backoff time.Duration, maxAttempts int) error {
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	for chunk := range slices.Chunk(keys, MaxBatchWrite) {
		writes := make([]types.WriteRequest, len(chunk))
		for i, k := range chunk {
			writes[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
		}
		for attempt := 1; ; attempt++ {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: writes}})
			if err != nil {
				return fmt.Errorf("batch delete %d items from %s: %w", len(writes), table, err)
			}
			if writes = out.UnprocessedItems[table]; len(writes) == 0 {
				break
			}
			if attempt >= maxAttempts {
				return fmt.Errorf("batch delete from %s: %d items after %d attempts: %w", table, len(writes), attempt, ErrUnprocessed)
			}
			if err := dynamotx.Wait(ctx, backoff, attempt); err != nil {
				return fmt.Errorf("batch delete from %s: %w", table, err)
			}
		}
	}
	return nil
}

// batchGet reads the items of keys (distinct), consistently, 100 keys a
// call, resending the unprocessed keys after a backoff.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	maxAttempts := s.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	var items []map[string]types.AttributeValue
	for chunk := range slices.Chunk(keys, MaxBatchGet) {
		req := map[string]types.KeysAndAttributes{s.Table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 1; ; attempt++ {
			out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("batch get %d keys from %s: %w", len(req[s.Table].Keys), s.Table, err)
			}
			items = append(items, out.Responses[s.Table]...)
			left, ok := out.UnprocessedKeys[s.Table]
			if !ok || len(left.Keys) == 0 {
				break
			}
			if attempt >= maxAttempts {
				return nil, fmt.Errorf("batch get from %s: %d keys after %d attempts: %w", s.Table, len(left.Keys), attempt, ErrUnprocessed)
			}
			if err := dynamotx.Wait(ctx, s.Backoff, attempt); err != nil {
				return nil, fmt.Errorf("batch get from %s: %w", s.Table, err)
			}
			req = map[string]types.KeysAndAttributes{s.Table: left}
		}
	}
	return items, nil
}

// query runs in to its last page, calling each with every item.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue)) error {
	for {
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, raw := range page.Items {
			each(raw)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// ofTeam reports whether pk is a key of team's: TEAM#<team>, or one that
// begins TEAM#<team>#.
func ofTeam(team, pk string) bool {
	tp := ledgerdb.TeamPK(team)
	return pk == tp || strings.HasPrefix(pk, tp+"#")
}

func checkTeam(team string) error {
	if err := event.CheckTeamID(team); err != nil {
		return &privacy.InputError{Field: "team_id", Problem: err.Error()}
	}
	return nil
}

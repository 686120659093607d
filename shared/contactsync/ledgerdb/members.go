package ledgerdb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/resources"
)

// memberItem is a membership as stored.
type memberItem struct {
	PK         string               `json:"pk"`
	SK         string               `json:"sk"`
	TeamID     string               `json:"team_id"`
	SequenceID string               `json:"sequence_id"`
	ContactID  string               `json:"contact_id"`
	Email      string               `json:"email"`
	Contact    event.Contact        `json:"contact"`
	Policy     policy.Effective     `json:"policy"`
	PinnedAt   time.Time            `json:"pinned_at"`
	EventID    string               `json:"event_id"`
	Status     string               `json:"status"`
	Reason     string               `json:"reason,omitempty"`
	Salesforce *event.SalesforceRef `json:"salesforce,omitempty"`
}

func (it memberItem) membership() contactsync.Membership {
	return contactsync.Membership{
		TeamID: it.TeamID, SequenceID: it.SequenceID, ContactID: it.ContactID, Email: it.Email,
		Contact: it.Contact, Policy: it.Policy, PinnedAt: it.PinnedAt.UTC(), EventID: it.EventID,
		Status: contactsync.MembershipStatus(it.Status), Reason: event.Reason(it.Reason), Salesforce: it.Salesforce,
	}
}

func checkStatus(s contactsync.MembershipStatus) error {
	switch s {
	case contactsync.MemberSyncing, contactsync.MemberPending, contactsync.MemberSkipped, contactsync.MemberSynced, contactsync.MemberFailed:
		return nil
	}
	return &InputError{"status", fmt.Sprintf("%q is not syncing, pending, skipped, synced or failed", s)}
}

func checkMembership(m contactsync.Membership) error {
	for _, f := range []struct{ name, v string }{{"team_id", m.TeamID}, {"sequence_id", m.SequenceID}, {"contact_id", m.ContactID}, {"event_id", m.EventID}} {
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
	}
	if _, err := checkEmail("email", m.Email); err != nil {
		return err
	}
	if m.PinnedAt.IsZero() {
		return &InputError{"pinned_at", "missing"}
	}
	return checkStatus(m.Status)
}

// PinMembership stores m unless the membership exists, and returns the
// stored one: one conditional PutItem, whose failure returns the winner.
func (s *Store) PinMembership(ctx context.Context, m contactsync.Membership) (contactsync.Membership, error) {
	if err := checkMembership(m); err != nil {
		return contactsync.Membership{}, err
	}
	pk, sk := policydb.SequenceKey(m.TeamID, m.SequenceID), memberSK(m.ContactID)
	item, err := marshal(memberItem{
		PK: pk, SK: sk, TeamID: m.TeamID, SequenceID: m.SequenceID, ContactID: m.ContactID,
		Email: m.Email, Contact: m.Contact, Policy: m.Policy, PinnedAt: m.PinnedAt.UTC(), EventID: m.EventID,
		Status: string(m.Status), Reason: string(m.Reason), Salesforce: m.Salesforce,
	})
	if err != nil {
		return contactsync.Membership{}, fmt.Errorf("encode membership %s %s: %w", pk, sk, err)
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(resources.PartitionKey))).Build()
	if err != nil {
		return contactsync.Membership{}, fmt.Errorf("build condition: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		m.PinnedAt = m.PinnedAt.UTC()
		return m, nil
	}
	cf, ok := conditionFailed(err)
	if !ok {
		return contactsync.Membership{}, fmt.Errorf("pin membership %s %s: %w", pk, sk, err)
	}
	old := cf.Item
	if len(old) == 0 { // an emulator that does not return the item
		out, gerr := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: keyOf(pk, sk), ConsistentRead: aws.Bool(true)})
		if gerr != nil {
			return contactsync.Membership{}, fmt.Errorf("read pinned membership %s %s: %w", pk, sk, gerr)
		}
		old = out.Item
	}
	var it memberItem
	if err := unmarshal(old, &it); err != nil {
		return contactsync.Membership{}, fmt.Errorf("decode membership %s %s: %w", pk, sk, err)
	}
	return it.membership(), nil
}

// Memberships returns the memberships that exist among keys, one
// BatchGetItem per 100 keys.
func (s *Store) Memberships(ctx context.Context, teamID string, keys []contactsync.MemberKey) (map[contactsync.MemberKey]contactsync.Membership, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	dk := make([]map[string]types.AttributeValue, 0, len(keys))
	for i, k := range keys {
		if err := checkID(fmt.Sprintf("keys[%d].sequence_id", i), k.SequenceID); err != nil {
			return nil, err
		}
		if err := checkID(fmt.Sprintf("keys[%d].contact_id", i), k.ContactID); err != nil {
			return nil, err
		}
		dk = append(dk, keyOf(policydb.SequenceKey(teamID, k.SequenceID), memberSK(k.ContactID)))
	}
	items, err := s.batchGet(ctx, dk)
	if err != nil {
		return nil, fmt.Errorf("read memberships of %s: %w", teamID, err)
	}
	out := make(map[contactsync.MemberKey]contactsync.Membership, len(items))
	for _, raw := range items {
		var it memberItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode membership %v: %w", keyString(raw), err)
		}
		m := it.membership()
		out[contactsync.MemberKey{SequenceID: m.SequenceID, ContactID: m.ContactID}] = m
	}
	return out, nil
}

// SetMembership updates an existing membership's status, reason and record;
// the pin (policy, contact, time, event) is never rewritten. ErrNoMembership
// when it was never pinned.
func (s *Store) SetMembership(ctx context.Context, m contactsync.Membership) error {
	for _, f := range []struct{ name, v string }{{"team_id", m.TeamID}, {"sequence_id", m.SequenceID}, {"contact_id", m.ContactID}} {
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkStatus(m.Status); err != nil {
		return err
	}
	upd := expression.Set(expression.Name("status"), expression.Value(string(m.Status)))
	if m.Reason != "" {
		upd = upd.Set(expression.Name("reason"), expression.Value(string(m.Reason)))
	} else {
		upd = upd.Remove(expression.Name("reason"))
	}
	if m.Salesforce != nil {
		sf, err := encodeValue(m.Salesforce)
		if err != nil {
			return fmt.Errorf("encode salesforce ref: %w", err)
		}
		upd = upd.Set(expression.Name("salesforce"), expression.Value(sf))
	} else {
		upd = upd.Remove(expression.Name("salesforce"))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.AttributeExists(expression.Name(resources.PartitionKey))).Build()
	if err != nil {
		return fmt.Errorf("build update: %w", err)
	}
	pk, sk := policydb.SequenceKey(m.TeamID, m.SequenceID), memberSK(m.ContactID)
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: keyOf(pk, sk),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("set membership %s %s: %w", pk, sk, ErrNoMembership)
	}
	if err != nil {
		return fmt.Errorf("set membership %s %s: %w", pk, sk, err)
	}
	return nil
}

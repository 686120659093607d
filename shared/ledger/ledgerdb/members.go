package ledgerdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
)

// memberItem is a membership as stored.
type memberItem struct {
	PK         string               `json:"pk"`
	SK         string               `json:"sk"`
	CPK        string               `json:"cpk,omitempty"`
	CSK        string               `json:"csk,omitempty"`
	TeamID     string               `json:"team_id"`
	SequenceID string               `json:"sequence_id"`
	ContactID  string               `json:"contact_id"`
	Email      string               `json:"email"`
	Contact    event.Contact        `json:"contact"`
	Rep        *event.User          `json:"rep,omitempty"`
	Policy     policy.Effective     `json:"policy"`
	PinnedAt   time.Time            `json:"pinned_at"`
	EventID    string               `json:"event_id"`
	Status     string               `json:"status"`
	Reason     string               `json:"reason,omitempty"`
	Salesforce *event.SalesforceRef `json:"salesforce,omitempty"`
	// Retain is the membership's ledger.Membership.Retain in seconds, when
	// one was given.
	Retain int64 `json:"retain_s,omitempty"`
	// ExpiresAt is when DynamoDB's TTL deletes the item (Unix seconds):
	// its last write plus its retention.
	ExpiresAt int64 `json:"expires_at,omitempty"`
}

func (it memberItem) membership() ledger.Membership {
	return ledger.Membership{
		TeamID: it.TeamID, SequenceID: it.SequenceID, ContactID: it.ContactID, Email: it.Email,
		Contact: it.Contact, Rep: it.Rep, Policy: it.Policy, PinnedAt: it.PinnedAt.UTC(), EventID: it.EventID,
		Retain: time.Duration(it.Retain) * time.Second,
		Status: ledger.MembershipStatus(it.Status), Reason: event.Reason(it.Reason), Salesforce: it.Salesforce,
	}
}

// retainSeconds is a retention as stored (retain_s): whole seconds, 0 for
// none given.
func retainSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(d / time.Second)
}

// expiresAt is the TTL (Unix seconds) of an item written at now and kept
// for its retention d (ledger.RetainOr).
func expiresAt(now time.Time, d time.Duration) int64 { return now.Add(ledger.RetainOr(d)).Unix() }

func checkStatus(s ledger.MembershipStatus) error {
	switch s {
	case ledger.MemberSyncing, ledger.MemberPending, ledger.MemberSkipped, ledger.MemberSynced, ledger.MemberFailed:
		return nil
	}
	return &InputError{"status", fmt.Sprintf("%q is not syncing, pending, skipped, synced or failed", s)}
}

func checkMembership(m ledger.Membership) error {
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
// stored one: PinMemberships of one membership.
func (s *Store) PinMembership(ctx context.Context, m ledger.Membership) (ledger.Membership, error) {
	res, err := s.PinMemberships(ctx, []ledger.Membership{m})
	if err != nil {
		return ledger.Membership{}, err
	}
	return res[0].Membership, res[0].Err
}

// PinMemberships stores each membership unless it exists, and returns the
// stored ones: one conditional put each, a failed condition
// returning the stored membership (ALL_OLD), read back only from an emulator
// that returns none; a stored one as its add's outcome leaves it (settle). Of two pins of one membership, the first is stored and
// both get it. An invalid membership gets an *InputError of its own. A
// membership stored expires (expires_at) its retention after the pin
// (ledger.RetainOr(m.Retain)). It is not in the contact index: an
// erasure finds it through the contact outcome of the event that pinned it
// (kept as long, see RecordOutcomes), which names its sequence.
func (s *Store) PinMemberships(ctx context.Context, ms []ledger.Membership) ([]ledger.PinResult, error) {
	out := make([]ledger.PinResult, len(ms))
	now := s.Now()
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(resources.PartitionKey))).Build()
	if err != nil {
		return nil, fmt.Errorf("build condition: %w", err)
	}
	var units []dynamotx.Unit
	var idx []int // idx[j]: the membership of units[j]
	for i, m := range ms {
		if err := checkMembership(m); err != nil {
			out[i].Err = err
			continue
		}
		pk, sk := MembershipPK(m.TeamID, m.SequenceID), MemberSK(m.ContactID)
		item, err := marshal(memberItem{
			PK: pk, SK: sk, TeamID: m.TeamID, SequenceID: m.SequenceID, ContactID: m.ContactID,
			Email: m.Email, Contact: m.Contact, Rep: m.Rep, Policy: m.Policy, PinnedAt: m.PinnedAt.UTC(), EventID: m.EventID,
			Status: string(m.Status), Reason: string(m.Reason), Salesforce: m.Salesforce,
			Retain: retainSeconds(m.Retain), ExpiresAt: expiresAt(now, m.Retain),
		})
		if err != nil {
			return nil, fmt.Errorf("encode membership %s %s: %w", pk, sk, err)
		}
		units = append(units, dynamotx.Unit{{Put: &types.Put{
			TableName: aws.String(s.table), Item: item,
			ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}})
		idx = append(idx, i)
	}
	results, err := s.transact(ctx, "pin memberships", units)
	if err != nil {
		return nil, err
	}
	var missing []map[string]types.AttributeValue // stored items the emulator did not return
	for j, r := range results {
		i := idx[j]
		if !r.Failed {
			out[i].Membership, out[i].New = ms[i], true
			out[i].Membership.PinnedAt = ms[i].PinnedAt.UTC()
			continue
		}
		if len(r.Old) == 0 {
			missing = append(missing, dynamotx.Key(MembershipPK(ms[i].TeamID, ms[i].SequenceID), MemberSK(ms[i].ContactID)))
			continue
		}
		var it memberItem
		if err := unmarshal(r.Old, &it); err != nil {
			return nil, fmt.Errorf("decode membership %v: %w", keyString(r.Old), err)
		}
		out[i].Membership = it.membership()
	}
	if len(missing) > 0 {
		items, err := s.batchGet(ctx, missing)
		if err != nil {
			return nil, fmt.Errorf("read pinned memberships: %w", err)
		}
		stored := map[itemKey]ledger.Membership{}
		for _, raw := range items {
			var it memberItem
			if err := unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("decode membership %v: %w", keyString(raw), err)
			}
			stored[keyString(raw)] = it.membership()
		}
		for j, r := range results {
			if i := idx[j]; r.Failed && len(r.Old) == 0 {
				k := itemKey{MembershipPK(ms[i].TeamID, ms[i].SequenceID), MemberSK(ms[i].ContactID)}
				m, ok := stored[k]
				if !ok {
					return nil, fmt.Errorf("pin membership %s %s: refused, and no membership is stored", k.pk, k.sk)
				}
				out[i].Membership = m
			}
		}
	}
	if err := s.settleRefused(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// settleRefused gives the memberships a pin found stored (not New) their
// state as their adds' outcomes leave it.
func (s *Store) settleRefused(ctx context.Context, out []ledger.PinResult) error {
	var found []ledger.Membership
	var at []int
	for i, r := range out {
		if r.Err == nil && !r.New && r.Membership.EventID != "" {
			found, at = append(found, r.Membership), append(at, i)
		}
	}
	settled, err := s.settle(ctx, found)
	if err != nil {
		return err
	}
	for j, i := range at {
		out[i].Membership = settled[j]
	}
	return nil
}

// settle returns ms as their adds' outcomes leave them
// (ledger.Membership.SettledBy): the contact sync records the end of the
// event that pinned a membership as that event's outcome only. The
// outcomes of the memberships stored syncing or failed are read, one
// BatchGetItem per 100.
func (s *Store) settle(ctx context.Context, ms []ledger.Membership) ([]ledger.Membership, error) {
	var keys []map[string]types.AttributeValue
	for _, m := range ms {
		if m.Status == ledger.MemberSyncing || m.Status == ledger.MemberFailed {
			keys = append(keys, dynamotx.Key(ContactPK(m.TeamID, m.ContactID), OutcomeSK(m.EventID)))
		}
	}
	if len(keys) == 0 {
		return ms, nil
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read the outcomes of memberships' adds: %w", err)
	}
	now := s.Now().Unix()
	adds := make(map[teamEvent]event.Outcome, len(items))
	for _, raw := range items {
		var it outcomeItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode outcome %v: %w", keyString(raw), err)
		}
		if it.ExpiresAt > now {
			adds[teamEvent{it.Outcome.TeamID, it.Outcome.EventID}] = it.Outcome
		}
	}
	out := make([]ledger.Membership, len(ms))
	for i, m := range ms {
		out[i] = m
		if o, ok := adds[teamEvent{m.TeamID, m.EventID}]; ok {
			out[i] = m.SettledBy(o)
		}
	}
	return out, nil
}

// Memberships returns the memberships that exist among keys, each as its
// add's outcome leaves it (settle): one BatchGetItem per 100 keys, and one
// per 100 of those stored syncing or failed.
func (s *Store) Memberships(ctx context.Context, teamID string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error) {
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
		dk = append(dk, dynamotx.Key(MembershipPK(teamID, k.SequenceID), MemberSK(k.ContactID)))
	}
	items, err := s.batchGet(ctx, dk)
	if err != nil {
		return nil, fmt.Errorf("read memberships of %s: %w", teamID, err)
	}
	stored := make([]ledger.Membership, 0, len(items))
	for _, raw := range items {
		var it memberItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode membership %v: %w", keyString(raw), err)
		}
		stored = append(stored, it.membership())
	}
	settled, err := s.settle(ctx, stored)
	if err != nil {
		return nil, err
	}
	out := make(map[ledger.MemberKey]ledger.Membership, len(settled))
	for _, m := range settled {
		out[ledger.MemberKey{SequenceID: m.SequenceID, ContactID: m.ContactID}] = m
	}
	return out, nil
}

// SetMembership updates an existing membership's status, reason and record:
// SetMemberships of one membership.
func (s *Store) SetMembership(ctx context.Context, m ledger.Membership) error {
	errs, err := s.SetMemberships(ctx, []ledger.Membership{m})
	if err != nil {
		return err
	}
	return errs[0]
}

// SetMemberships updates existing memberships' status, reason and record,
// one conditional update each; the pin (policy, contact,
// time, event) is never rewritten. errs[i] wraps ErrNoMembership when
// ms[i] was never pinned, or is an *InputError. Of two updates of one
// membership, the later is applied last. Each update also sets the
// membership's expiry anew, its retention after this write
// (ledger.RetainOr(m.Retain)). A membership pinned before December 2026
// keeps its contact index keys.
func (s *Store) SetMemberships(ctx context.Context, ms []ledger.Membership) ([]error, error) {
	errs := make([]error, len(ms))
	var units []dynamotx.Unit
	var idx []int
	now := s.Now()
	for i, m := range ms {
		u, err := s.setMembership(m, now)
		if err != nil {
			if errors.Is(err, ErrInvalid) {
				errs[i] = err
				continue
			}
			return nil, err
		}
		units = append(units, dynamotx.Unit{u})
		idx = append(idx, i)
	}
	results, err := s.transact(ctx, "set memberships", units)
	if err != nil {
		return nil, err
	}
	for j, r := range results {
		if r.Failed {
			m := ms[idx[j]]
			errs[idx[j]] = fmt.Errorf("set membership %s %s: %w", MembershipPK(m.TeamID, m.SequenceID), MemberSK(m.ContactID), ErrNoMembership)
		}
	}
	return errs, nil
}

func (s *Store) setMembership(m ledger.Membership, now time.Time) (types.TransactWriteItem, error) {
	for _, f := range []struct{ name, v string }{{"team_id", m.TeamID}, {"sequence_id", m.SequenceID}, {"contact_id", m.ContactID}} {
		if err := checkID(f.name, f.v); err != nil {
			return types.TransactWriteItem{}, err
		}
	}
	if err := checkStatus(m.Status); err != nil {
		return types.TransactWriteItem{}, err
	}
	upd := expression.Set(expression.Name("status"), expression.Value(string(m.Status))).
		Set(expression.Name(resources.TTLAttribute), expression.Value(expiresAt(now, m.Retain)))
	if m.Reason != "" {
		upd = upd.Set(expression.Name("reason"), expression.Value(string(m.Reason)))
	} else {
		upd = upd.Remove(expression.Name("reason"))
	}
	if m.Salesforce != nil {
		sf, err := encodeValue(m.Salesforce)
		if err != nil {
			return types.TransactWriteItem{}, fmt.Errorf("encode salesforce ref: %w", err)
		}
		upd = upd.Set(expression.Name("salesforce"), expression.Value(sf))
	} else {
		upd = upd.Remove(expression.Name("salesforce"))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.AttributeExists(expression.Name(resources.PartitionKey))).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build update: %w", err)
	}
	pk, sk := MembershipPK(m.TeamID, m.SequenceID), MemberSK(m.ContactID)
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: dynamotx.Key(pk, sk),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}, nil
}

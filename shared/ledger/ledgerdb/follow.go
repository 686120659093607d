package ledgerdb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
)

// RuleFollowed is the match rule of a record moved by FollowRecord.
const RuleFollowed = "followed_conversion"

// FollowRecord moves an email's saved record from the Salesforce record
// fromID to another one: a Lead converted in Salesforce since it synced now
// lives on as its Contact. One conditional UpdateItem (the record must still
// point at fromID, or already at to.ID, so a repeat is a no-op). The record
// keeps its event, contact, versions and expiry (the outcome it is found
// through, and the membership, are kept as long as it was saved for, not
// longer); its match rule becomes RuleFollowed. *RecordedError when the
// record points at a third id; an *InputError on email when the email has
// no saved record.
func (s *Store) FollowRecord(ctx context.Context, teamID, email, fromID string, to event.SalesforceRef) (ledger.Record, error) {
	if err := checkID("team_id", teamID); err != nil {
		return ledger.Record{}, err
	}
	n, err := checkEmail("email", email)
	if err != nil {
		return ledger.Record{}, err
	}
	if !salesforceIDRE.MatchString(fromID) {
		return ledger.Record{}, &InputError{"from_id", "not a 15- or 18-character Salesforce id"}
	}
	if !salesforceIDRE.MatchString(to.ID) {
		return ledger.Record{}, &InputError{"to.id", "not a 15- or 18-character Salesforce id"}
	}
	if to.Object != event.ObjectLead && to.Object != event.ObjectContact {
		return ledger.Record{}, &InputError{"to.object", fmt.Sprintf("must be Lead or Contact, got %q", to.Object)}
	}
	sfID := expression.Name("sf_id")
	cond := expression.Or(sfID.Equal(expression.Value(fromID)), sfID.Equal(expression.Value(to.ID)))
	upd := expression.Set(sfID, expression.Value(to.ID)).
		Set(expression.Name("object"), expression.Value(string(to.Object))).
		Set(expression.Name("match_rule"), expression.Value(RuleFollowed))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return ledger.Record{}, fmt.Errorf("build follow: %w", err)
	}
	pk := EmailPK(teamID, n)
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: dynamotx.Key(pk, RecordSK),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if cf, ok := dynamotx.ConditionFailed(err); ok {
		it, rerr := s.recordOr(ctx, pk, cf.Item)
		if rerr != nil {
			return ledger.Record{}, rerr
		}
		if it.SalesforceID == "" {
			return ledger.Record{}, &InputError{"email", "has no saved record to follow"}
		}
		return ledger.Record{}, fmt.Errorf("follow record %s: %w", pk, &RecordedError{Record: it.record()})
	}
	if err != nil {
		return ledger.Record{}, fmt.Errorf("follow record %s: %w", pk, err)
	}
	var it recordItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return ledger.Record{}, fmt.Errorf("decode %s: %w", pk, err)
	}
	return it.record(), nil
}

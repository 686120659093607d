package ledgerdb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
	"github.com/sfsync/sfsync/shared/resources"
)

// ContactView is what the ledger knows of one contact.
type ContactView struct {
	Records  []ledger.Record // the records saved for the contact, by email
	Outcomes []event.Outcome // newest first, at most the limit asked for
	More     bool            // older outcomes exist beyond the limit
}

// MaxOutcomesPage bounds the outcomes one Contact read returns.
const MaxOutcomesPage = 100

// Contact reads a contact's saved records and its newest outcomes (at most
// limit, 1 to MaxOutcomesPage).
//
// The outcomes are those of the contact's partition (a consistent query)
// and those written before December 2026, from the contact index (which is
// eventually consistent). The records are those its memberships' emails
// resolved to and it saved: the memberships are those its contact
// outcomes name, and those in the contact index; the records saved before
// December 2026 are in the contact index too.
func (s *Store) Contact(ctx context.Context, teamID, contactID string, limit int) (ContactView, error) {
	if err := checkID("team_id", teamID); err != nil {
		return ContactView{}, err
	}
	if err := checkID("contact_id", contactID); err != nil {
		return ContactView{}, err
	}
	if limit < 1 || limit > MaxOutcomesPage {
		return ContactView{}, &InputError{"limit", fmt.Sprintf("must be between 1 and %d", MaxOutcomesPage)}
	}
	outs, emails, err := s.contactOutcomes(ctx, teamID, contactID)
	if err != nil {
		return ContactView{}, err
	}
	recs, err := s.contactRecords(ctx, teamID, contactID, outs, emails)
	if err != nil {
		return ContactView{}, err
	}
	v := ContactView{Records: recs, Outcomes: outs}
	if len(outs) > limit {
		v.Outcomes, v.More = outs[:limit], true
	}
	return v, nil
}

// contactOutcomes reads every unexpired outcome of a contact, newest first:
// those of its partition, and the legacy ones of the contact index (an
// event with both keeps the one of its partition); and the emails of the
// records they are on.
func (s *Store) contactOutcomes(ctx context.Context, teamID, contactID string) ([]event.Outcome, []string, error) {
	now := s.Now().Unix()
	byEvent := map[string]event.Outcome{}
	var emails []string
	keep := func(raw map[string]types.AttributeValue, legacy bool) error {
		var it outcomeItem
		if err := unmarshal(raw, &it); err != nil {
			return fmt.Errorf("decode outcome %v: %w", keyString(raw), err)
		}
		if _, ok := byEvent[it.Outcome.EventID]; (ok && legacy) || it.ExpiresAt <= now || it.Outcome.TeamID != teamID {
			return nil
		}
		byEvent[it.Outcome.EventID] = it.Outcome
		if it.Email != "" {
			emails = append(emails, it.Email)
		}
		return nil
	}
	pk := ContactPK(teamID, contactID)
	in, err := s.partitionQuery(pk, OutcomePrefix)
	if err != nil {
		return nil, nil, err
	}
	if err := s.eachItem(ctx, in, func(raw map[string]types.AttributeValue) error { return keep(raw, false) }); err != nil {
		return nil, nil, fmt.Errorf("query outcomes of %s: %w", pk, err)
	}
	if in, err = s.contactQuery(pk, OutcomeIndexPrefix); err != nil {
		return nil, nil, err
	}
	if err := s.eachItem(ctx, in, func(raw map[string]types.AttributeValue) error { return keep(raw, true) }); err != nil {
		return nil, nil, fmt.Errorf("query the contact index for outcomes of %s: %w", pk, err)
	}
	outs := make([]event.Outcome, 0, len(byEvent))
	for _, o := range byEvent {
		outs = append(outs, o)
	}
	slices.SortFunc(outs, func(a, b event.Outcome) int { return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.EventID, a.EventID)) })
	return outs, emails, nil
}

// contactRecords reads the records a contact saved: those of the emails
// its outcomes name, and of the memberships its contact outcomes name and
// those of the contact index; and the legacy records of the contact index.
func (s *Store) contactRecords(ctx context.Context, teamID, contactID string, outs []event.Outcome, named []string) ([]ledger.Record, error) {
	pk := ContactPK(teamID, contactID)
	byEmail := map[string]ledger.Record{}
	seqs := sequencesOf(outs)
	in, err := s.contactQuery(pk, "")
	if err != nil {
		return nil, err
	}
	err = s.eachItem(ctx, in, func(raw map[string]types.AttributeValue) error {
		switch csk := dynamotx.String(raw, resources.ContactIndex.SortKey); {
		case strings.HasPrefix(csk, RecordIndexPrefix):
			var it recordItem
			if err := unmarshal(raw, &it); err != nil {
				return fmt.Errorf("decode record %v: %w", keyString(raw), err)
			}
			byEmail[it.Email] = it.record()
		case strings.HasPrefix(csk, MemberIndexPrefix):
			seqs = append(seqs, dynamotx.String(raw, "sequence_id"))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query the contact index of %s: %w", pk, err)
	}
	emails, err := s.memberEmails(ctx, teamID, contactID, seqs)
	if err != nil {
		return nil, err
	}
	emails = append(emails, named...)
	slices.Sort(emails)
	recs, err := s.Records(ctx, teamID, slices.Compact(emails))
	if err != nil {
		return nil, err
	}
	for email, r := range recs {
		if r.ContactID == contactID {
			byEmail[email] = r
		}
	}
	out := make([]ledger.Record, 0, len(byEmail))
	for _, r := range byEmail {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ledger.Record) int { return cmp.Compare(a.Email, b.Email) })
	return out, nil
}

// sequencesOf is the sequences the contact outcomes of outs name: those of
// the contact's memberships the ledger keeps.
func sequencesOf(outs []event.Outcome) []string {
	var seqs []string
	for _, o := range outs {
		if o.Type == event.ContactOutcome && o.SequenceID != "" {
			seqs = append(seqs, o.SequenceID)
		}
	}
	slices.Sort(seqs)
	return slices.Compact(seqs)
}

// memberEmails reads the contact's memberships of seqs and returns their
// emails.
func (s *Store) memberEmails(ctx context.Context, teamID, contactID string, seqs []string) ([]string, error) {
	keys := make([]ledger.MemberKey, 0, len(seqs))
	for _, seq := range seqs {
		if seq != "" {
			keys = append(keys, ledger.MemberKey{SequenceID: seq, ContactID: contactID})
		}
	}
	ms, err := s.Memberships(ctx, teamID, keys)
	if err != nil {
		return nil, err
	}
	var emails []string
	for _, m := range ms {
		emails = append(emails, ledger.NormalizeEmail(m.Email))
	}
	slices.Sort(emails)
	return slices.Compact(emails), nil
}

// partitionQuery is the consistent query of a partition's items whose sort
// key starts with prefix.
func (s *Store) partitionQuery(pk, prefix string) (*dynamodb.QueryInput, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(resources.PartitionKey).Equal(expression.Value(pk)).
			And(expression.KeyBeginsWith(expression.Key(resources.SortKey), prefix))).Build()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	return &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, nil
}

// eachItem runs a query to its end, giving each item to f; the first error
// of f stops it.
func (s *Store) eachItem(ctx context.Context, in *dynamodb.QueryInput, f func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, raw := range page.Items {
			if err := f(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

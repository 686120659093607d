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
// eventually consistent; one query gives them, and the records and
// memberships written then). The records are those it saved of the emails
// its outcomes name and its memberships have: the memberships its contact
// outcomes name, and those in the contact index.
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
	c := contactFinds{team: teamID, now: s.Now().Unix(), byEvent: map[string]event.Outcome{}, records: map[string]ledger.Record{}}
	pk := ContactPK(teamID, contactID)
	in, err := s.partitionQuery(pk, OutcomePrefix)
	if err != nil {
		return ContactView{}, err
	}
	if err := s.eachItem(ctx, in, func(raw map[string]types.AttributeValue) error { return c.outcome(raw, false) }); err != nil {
		return ContactView{}, fmt.Errorf("query outcomes of %s: %w", pk, err)
	}
	if in, err = s.contactQuery(pk, ""); err != nil {
		return ContactView{}, err
	}
	if err := s.eachItem(ctx, in, c.indexed); err != nil {
		return ContactView{}, fmt.Errorf("query the contact index of %s: %w", pk, err)
	}
	outs := c.outcomes()
	recs, err := s.contactRecords(ctx, contactID, c, outs)
	if err != nil {
		return ContactView{}, err
	}
	v := ContactView{Records: recs, Outcomes: outs}
	if len(outs) > limit {
		v.Outcomes, v.More = outs[:limit], true
	}
	return v, nil
}

// contactFinds is what Contact has found of a contact: its unexpired
// outcomes by event (one of its partition before a legacy one), the emails
// of the records they are on, the sequences and records of the contact
// index.
type contactFinds struct {
	team    string
	now     int64
	byEvent map[string]event.Outcome
	emails  []string
	seqs    []string
	records map[string]ledger.Record // by email
}

// outcome keeps an outcome item.
func (c *contactFinds) outcome(raw map[string]types.AttributeValue, legacy bool) error {
	var it outcomeItem
	if err := unmarshal(raw, &it); err != nil {
		return fmt.Errorf("decode outcome %v: %w", keyString(raw), err)
	}
	if _, ok := c.byEvent[it.Outcome.EventID]; (ok && legacy) || it.ExpiresAt <= c.now || it.Outcome.TeamID != c.team {
		return nil
	}
	c.byEvent[it.Outcome.EventID] = it.Outcome
	if it.Email != "" {
		c.emails = append(c.emails, it.Email)
	}
	return nil
}

// indexed keeps an entry of the contact index, written before December
// 2026: an outcome, a record, or a membership's sequence.
func (c *contactFinds) indexed(raw map[string]types.AttributeValue) error {
	switch csk := dynamotx.String(raw, resources.ContactIndex.SortKey); {
	case strings.HasPrefix(csk, OutcomeIndexPrefix):
		return c.outcome(raw, true)
	case strings.HasPrefix(csk, RecordIndexPrefix):
		var it recordItem
		if err := unmarshal(raw, &it); err != nil {
			return fmt.Errorf("decode record %v: %w", keyString(raw), err)
		}
		c.records[it.Email] = it.record()
	case strings.HasPrefix(csk, MemberIndexPrefix):
		c.seqs = append(c.seqs, dynamotx.String(raw, "sequence_id"))
	}
	return nil
}

// outcomes are the outcomes found, newest first.
func (c *contactFinds) outcomes() []event.Outcome {
	outs := make([]event.Outcome, 0, len(c.byEvent))
	for _, o := range c.byEvent {
		outs = append(outs, o)
	}
	slices.SortFunc(outs, func(a, b event.Outcome) int { return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.EventID, a.EventID)) })
	return outs
}

// contactRecords reads the records the contact saved of the emails its
// outcomes name and its memberships have, beside those of the contact
// index.
func (s *Store) contactRecords(ctx context.Context, contactID string, c contactFinds, outs []event.Outcome) ([]ledger.Record, error) {
	emails, err := s.memberEmails(ctx, c.team, contactID, append(sequencesOf(outs), c.seqs...))
	if err != nil {
		return nil, err
	}
	emails = append(emails, c.emails...)
	slices.Sort(emails)
	recs, err := s.Records(ctx, c.team, slices.Compact(emails))
	if err != nil {
		return nil, err
	}
	for email, r := range recs {
		if r.ContactID == contactID {
			c.records[email] = r
		}
	}
	out := make([]ledger.Record, 0, len(c.records))
	for _, r := range c.records {
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
	return seqs
}

// memberEmails reads the emails of the contact's memberships of seqs: the
// items as stored (only their emails are wanted, not their state).
func (s *Store) memberEmails(ctx context.Context, teamID, contactID string, seqs []string) ([]string, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(seqs))
	for _, seq := range seqs {
		if seq != "" {
			keys = append(keys, dynamotx.Key(MembershipPK(teamID, seq), MemberSK(contactID)))
		}
	}
	items, err := s.batchGet(ctx, keys) // one request per 100 distinct keys
	if err != nil {
		return nil, fmt.Errorf("read memberships of %s: %w", contactID, err)
	}
	emails := make([]string, 0, len(items))
	for _, raw := range items {
		emails = append(emails, ledger.NormalizeEmail(dynamotx.String(raw, "email")))
	}
	return emails, nil
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

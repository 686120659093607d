package ledgerdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// outcomeItem is an event's outcome in its contact's partition (pk
// ContactPK, sk OutcomeSK). Activity is the activity key of an email
// event whose Task is logged, Email the email of a contact outcome's
// record. An outcome written before December 2026 is
// in its event's partition and in the contact index under CPK and CSK.
type outcomeItem struct {
	PK        string        `json:"pk"`
	SK        string        `json:"sk"`
	CPK       string        `json:"cpk,omitempty"`
	CSK       string        `json:"csk,omitempty"`
	Outcome   event.Outcome `json:"outcome"`
	ErrorSK   string        `json:"error_sk,omitempty"`
	Activity  string        `json:"activity,omitempty"`
	Email     string        `json:"email,omitempty"`
	ExpiresAt int64         `json:"expires_at"`
	// legacy marks an item read from the outcome's old place (legacy.go).
	legacy bool
}

// failureItem is one entry of the failure index.
type failureItem struct {
	PK         string    `json:"pk"`
	SK         string    `json:"sk"`
	Type       string    `json:"type"`
	ContactID  string    `json:"contact_id"`
	EventID    string    `json:"event_id"`
	SequenceID string    `json:"sequence_id,omitempty"`
	Code       string    `json:"code"`
	Message    string    `json:"message"`
	Fields     []string  `json:"fields,omitempty"`
	At         time.Time `json:"at"`
	ExpiresAt  int64     `json:"expires_at"`
}

// failuresItem is a contact's FAILURES item. It expires OutcomeTTL after
// its last change, as the failures it notes do.
type failuresItem struct {
	PK        string   `json:"pk"`
	SK        string   `json:"sk"`
	Open      []string `json:"open,omitempty"`
	ExpiresAt int64    `json:"expires_at,omitempty"`
}

// openEntry is an element of a FAILURES set: "<type>|<at>|<error sk>".
func openEntry(typ event.OutcomeType, at time.Time, esk string) string {
	return string(typ) + "|" + Stamp(at) + "|" + esk
}

func parseOpen(e string) (typ event.OutcomeType, at, esk string, ok bool) {
	t, rest, ok1 := strings.Cut(e, "|")
	a, sk, ok2 := strings.Cut(rest, "|")
	return event.OutcomeType(t), a, sk, ok1 && ok2
}

// final reports whether an outcome status is never replaced.
func final(s event.Status) bool { return s != event.StatusPending && s != event.StatusFailed }

// replaces reports whether n may take the place of old for the same event.
// An invalid_event answer never does: its ids come from an invalid body.
func replaces(n, old event.Outcome) bool {
	return !final(old.Status) && !n.At.Before(old.At) && !event.IsInvalidEvent(n)
}

func succeeded(o event.Outcome) bool {
	return (o.Type == event.ContactOutcome || o.Type == event.ActivityOutcome) &&
		(o.Status == event.StatusCreated || o.Status == event.StatusLinked)
}

// Outcomes returns the unexpired outcomes recorded for these events, by
// event id, one BatchGetItem per 100 events. An event's outcome is kept
// with its contact; a ref's contact may be empty only for an invalid
// event's answer that named none.
func (s *Store) Outcomes(ctx context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, 0, len(refs))
	for i, r := range refs {
		if err := checkID(fmt.Sprintf("events[%d].event_id", i), r.EventID); err != nil {
			return nil, err
		}
		if r.ContactID != "" {
			if err := checkID(fmt.Sprintf("events[%d].contact_id", i), r.ContactID); err != nil {
				return nil, err
			}
		}
		keys = append(keys, dynamotx.Key(ContactPK(teamID, r.ContactID), OutcomeSK(r.EventID)))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read outcomes of %s: %w", teamID, err)
	}
	now := s.Now().Unix()
	out := make(map[string]event.Outcome, len(items))
	for _, raw := range items {
		var it outcomeItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode outcome %v: %w", keyString(raw), err)
		}
		if it.ExpiresAt > now && it.Outcome.TeamID == teamID {
			out[it.Outcome.EventID] = it.Outcome
		}
	}
	var missed []string
	for _, r := range refs {
		if _, ok := out[r.EventID]; !ok {
			missed = append(missed, r.EventID)
		}
	}
	old, err := s.legacyOutcomes(ctx, teamID, missed)
	if err != nil {
		return nil, err
	}
	for k, it := range old {
		out[k.event] = it.Outcome
	}
	return out, nil
}

// outcomeKey is where an event's outcome is kept.
func outcomeKey(o event.Outcome) map[string]types.AttributeValue {
	return dynamotx.Key(ContactPK(o.TeamID, o.ContactID), OutcomeSK(o.EventID))
}

type teamEvent struct{ team, event string }
type teamContact struct{ team, contact string }
type contactType struct {
	teamContact
	typ event.OutcomeType
}

// RecordOutcomes stores outcomes in their contacts' partitions, by event
// id (a contact outcome kept at least as long as opts' Retaining says, an
// email event's with the activity key WithActivities gives), indexes
// failures by error code (invalid_event answers are no failure an admin
// can fix: they stay out of the error inbox), and clears a contact's
// failures that a later created or linked outcome of the same type
// settles. Invalid outcomes are skipped and reported (as *InputError,
// field outcomes[i].<field>) after the valid ones are stored.
func (s *Store) RecordOutcomes(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) error {
	_, err := s.RecordOutcomesKept(ctx, outs, opts...)
	return err
}

// RecordOutcomesKept records outs as RecordOutcomes does, and returns, for
// each, the outcome the ledger keeps for its event: outs[i] itself, or the
// outcome it may not replace (one recorded before that is final or later,
// or another of outs). kept[i] is zero when outs[i] is invalid; kept is
// nil when the write failed.
func (s *Store) RecordOutcomesKept(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) (kept []event.Outcome, err error) {
	rec := ledger.RecordingOf(opts)
	var bad []error
	// The outcome chosen for each event, by its index in outs: a batch of
	// 10,000 outcomes is not copied.
	chosen := map[teamEvent]int{}
	var order []teamEvent
	for i, o := range outs {
		if err := o.Validate(); err != nil {
			var ve *event.ValidationError
			if errors.As(err, &ve) {
				err = &InputError{Field: fmt.Sprintf("outcomes[%d].%s", i, ve.Field), Problem: ve.Problem}
			}
			bad = append(bad, err)
			continue
		}
		k := teamEvent{o.TeamID, o.EventID}
		if prev, ok := chosen[k]; ok {
			if replaces(o, outs[prev]) {
				chosen[k] = i
			}
			continue
		}
		chosen[k] = i
		order = append(order, k)
	}
	// In parts, in order, as if recorded by that many calls one after the
	// other: what one part wrote the next one reads, and a batch of
	// thousands never holds all its items in memory at once.
	keptBy := make(map[teamEvent]event.Outcome, len(order))
	for len(order) > 0 {
		n := min(len(order), recordPart)
		partKept, err := s.record(ctx, part{outs: outs, chosen: chosen, order: order[:n], rec: rec})
		if err != nil {
			return nil, errors.Join(append([]error{err}, bad...)...)
		}
		maps.Copy(keptBy, partKept)
		order = order[n:]
	}
	kept = make([]event.Outcome, len(outs))
	for i, o := range outs {
		kept[i] = keptBy[teamEvent{o.TeamID, o.EventID}] // zero for an invalid one: never chosen
	}
	return kept, errors.Join(bad...)
}

// recordPart is how many outcomes RecordOutcomes writes at a time.
const recordPart = 1000

// record writes the outcomes chosen for the events of order, and returns
// the outcome the ledger keeps for each.
//
// Most events have no outcome yet: those that are not failures are written
// at once, on the condition that their event still has none, so they cost
// no read. The others (failures, and events that turn out to have an
// outcome) are read and replaced as the rules say; their writes, with the
// failure index and the FAILURES sets they change, go out last.
func (s *Store) record(ctx context.Context, p part) (map[teamEvent]event.Outcome, error) {
	if len(p.order) == 0 {
		return nil, nil
	}
	// The open failures of the contacts that succeeded, read before
	// anything is written.
	open, err := s.openFailures(ctx, p.succeededContacts())
	if err != nil {
		return nil, err
	}
	expires := s.Now().Add(OutcomeTTL).Unix()
	fresh, known := p.split()
	if fresh, known, err = s.knownBefore(ctx, p, fresh, known); err != nil {
		return nil, err
	}
	refused, err := s.writeNew(ctx, fresh, p)
	if err != nil {
		return nil, err
	}
	written, known := p.afterNew(fresh, refused, known)
	existing, err := s.readOutcomes(ctx, p.outcomesOf(known))
	if err != nil {
		return nil, err
	}
	replacing, kept := p.replacing(known, existing)
	for _, o := range written {
		kept[teamEvent{o.TeamID, o.EventID}] = o
	}
	settled := settledBy(written, replacing)
	c, err := s.replaceChanges(replacing, existing, settled, p, expires)
	if err != nil {
		return nil, err
	}
	c.merge(s.settleChanges(open, settled))
	stages, err := s.changeStages(c, expires)
	if err != nil {
		return nil, err
	}
	for _, units := range stages {
		if _, err := s.transact(ctx, "write outcomes", units); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// part is the events one record call writes: outs[chosen[k]] is the
// outcome chosen for the event k of order.
type part struct {
	outs   []event.Outcome
	chosen map[teamEvent]int
	order  []teamEvent
	rec    ledger.Recording
}

// outcomesOf is the outcomes chosen for events.
func (p part) outcomesOf(events []teamEvent) []event.Outcome {
	out := make([]event.Outcome, len(events))
	for i, k := range events {
		out[i] = p.outcome(k)
	}
	return out
}

// item is the item that keeps o, with its failure-index key esk (if any).
// A contact outcome is kept as long as the memberships the part pinned or
// ended (Recording.Retain: they are found through it), and never less
// than OutcomeTTL; any other for OutcomeTTL.
func (p part) item(o event.Outcome, esk string, now time.Time) (map[string]types.AttributeValue, error) {
	keep := OutcomeTTL
	if o.Type == event.ContactOutcome {
		keep = max(keep, p.rec.Retain)
	}
	it, err := marshal(outcomeItem{PK: ContactPK(o.TeamID, o.ContactID), SK: OutcomeSK(o.EventID), Outcome: o, ErrorSK: esk,
		Activity: p.rec.Activities[o.EventID], Email: p.rec.Emails[o.EventID], ExpiresAt: now.Add(keep).Unix()})
	if err != nil {
		return nil, fmt.Errorf("encode outcome of %s: %w", o.EventID, err)
	}
	return it, nil
}

// outcome is the outcome chosen for the event k, its time in UTC.
func (p part) outcome(k teamEvent) event.Outcome {
	o := p.outs[p.chosen[k]]
	o.At = o.At.UTC()
	return o
}

// succeededContacts lists the contacts of the outcomes that succeeded.
func (p part) succeededContacts() []teamContact {
	var out []teamContact
	for _, k := range p.order {
		if o := p.outs[p.chosen[k]]; succeeded(o) {
			out = append(out, teamContact{o.TeamID, o.ContactID})
		}
	}
	return out
}

// split parts the events into those whose outcome is written at once where
// the event has none (fresh), and the failures, whose event is read first
// (known).
func (p part) split() (fresh, known []teamEvent) {
	for _, k := range p.order {
		if p.outcome(k).Status == event.StatusFailed {
			known = append(known, k)
		} else {
			fresh = append(fresh, k)
		}
	}
	return fresh, known
}

// afterNew returns the outcomes of fresh written by writeNew, and known
// with the fresh events refused because they had an outcome.
func (p part) afterNew(fresh []teamEvent, refused map[teamEvent]bool, known []teamEvent) (written []event.Outcome, toRead []teamEvent) {
	toRead = known
	for _, k := range fresh {
		if refused[k] {
			toRead = append(toRead, k)
		} else {
			written = append(written, p.outcome(k))
		}
	}
	return written, toRead
}

// replacing returns the outcomes of known that take the place of the one
// stored (or of none), in order, and the outcome the ledger keeps for each
// event of known: the stored one where the chosen one may not replace it.
func (p part) replacing(known []teamEvent, existing map[teamEvent]outcomeItem) ([]event.Outcome, map[teamEvent]event.Outcome) {
	var write []event.Outcome
	kept := make(map[teamEvent]event.Outcome, len(p.order))
	for _, k := range known {
		o := p.outcome(k)
		if old, ok := existing[k]; ok && !replaces(o, old.Outcome) {
			kept[k] = old.Outcome
			continue
		}
		write = append(write, o)
		kept[k] = o
	}
	return write, kept
}

// readOutcomes reads the stored outcomes of the events of outs, by event.
func (s *Store) readOutcomes(ctx context.Context, outs []event.Outcome) (map[teamEvent]outcomeItem, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(outs))
	for _, o := range outs {
		keys = append(keys, outcomeKey(o))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read recorded outcomes: %w", err)
	}
	existing := make(map[teamEvent]outcomeItem, len(items))
	for _, raw := range items {
		var it outcomeItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode %v: %w", keyString(raw), err)
		}
		existing[teamEvent{it.Outcome.TeamID, it.Outcome.EventID}] = it
	}
	if err := s.withLegacy(ctx, outs, existing); err != nil {
		return nil, err
	}
	return existing, nil
}

// settledBy returns the time of the latest success of each contact and
// outcome type among the outcomes written.
func settledBy(written ...[]event.Outcome) map[contactType]time.Time {
	settled := map[contactType]time.Time{}
	for _, outs := range written {
		for _, o := range outs {
			if succeeded(o) {
				ct := contactType{teamContact{o.TeamID, o.ContactID}, o.Type}
				if o.At.After(settled[ct]) {
					settled[ct] = o.At
				}
			}
		}
	}
	return settled
}

// isSettled reports whether a success of o's contact and type, as late as
// o or later, is written.
func isSettled(settled map[contactType]time.Time, o event.Outcome) bool {
	at, ok := settled[contactType{teamContact{o.TeamID, o.ContactID}, o.Type}]
	return ok && !o.At.After(at)
}

// changes is what a part writes besides its fresh outcomes: items put and
// deleted (the last write of each item), and the entries added to and
// removed from contacts' FAILURES sets.
type changes struct {
	items  writes
	add    map[teamContact][]string
	remove map[teamContact][]string
	// moved are the outcomes' old items (legacy.go) whose events' outcomes
	// are now written in their contacts' partitions: deleted last.
	moved writes
}

func newChanges() changes {
	return changes{add: map[teamContact][]string{}, remove: map[teamContact][]string{}}
}

// merge adds o's changes after c's.
func (c *changes) merge(o changes) {
	for _, k := range o.items.order {
		c.items.add(k, o.items.last[k])
	}
	for tc, es := range o.add {
		c.add[tc] = append(c.add[tc], es...)
	}
	for tc, es := range o.remove {
		c.remove[tc] = append(c.remove[tc], es...)
	}
	for _, k := range o.moved.order {
		c.moved.add(k, o.moved.last[k])
	}
}

// replaceChanges are the writes of the outcomes that replace: each outcome,
// its failure-index item and FAILURES entry when it is a failure no later
// success settles, and the removal of the failure it replaces. An
// invalid_event answer is no failure an admin can fix: it stays out of the
// index.
func (s *Store) replaceChanges(write []event.Outcome, existing map[teamEvent]outcomeItem, settled map[contactType]time.Time, p part, expires int64) (changes, error) {
	now := s.Now()
	c := newChanges()
	for _, o := range write {
		esk := ""
		if o.Status == event.StatusFailed && !isSettled(settled, o) && !event.IsInvalidEvent(o) {
			esk = ErrorSK(o.Error.Code, o.ContactID, o.EventID)
		}
		old, ok := existing[teamEvent{o.TeamID, o.EventID}]
		if ok && old.legacy {
			c.moved.del(s.table, EventPK(o.TeamID, o.EventID), LegacyOutcomeSK) // it moves to the contact's partition
		}
		if ok && old.ErrorSK != "" {
			oldEntry := openEntry(old.Outcome.Type, old.Outcome.At, old.ErrorSK)
			if old.ErrorSK != esk {
				c.items.del(s.table, ErrorsPK(o.TeamID), old.ErrorSK)
			}
			if esk == "" || oldEntry != openEntry(o.Type, o.At, esk) {
				otc := teamContact{o.TeamID, old.Outcome.ContactID}
				c.remove[otc] = append(c.remove[otc], oldEntry)
			}
		}
		ev, err := p.item(o, esk, now)
		if err != nil {
			return changes{}, err
		}
		c.items.put(s.table, ev)
		if esk == "" {
			continue
		}
		fi, err := failureRecord(o, esk, expires)
		if err != nil {
			return changes{}, err
		}
		c.items.put(s.table, fi)
		tc := teamContact{o.TeamID, o.ContactID}
		c.add[tc] = append(c.add[tc], openEntry(o.Type, o.At, esk))
	}
	return c, nil
}

// failureRecord encodes a failed outcome's failure-index item.
func failureRecord(o event.Outcome, esk string, expires int64) (map[string]types.AttributeValue, error) {
	fi, err := marshal(failureItem{
		PK: ErrorsPK(o.TeamID), SK: esk, Type: string(o.Type), ContactID: o.ContactID, EventID: o.EventID,
		SequenceID: o.SequenceID, Code: o.Error.Code, Message: o.Error.Message, Fields: o.Error.Fields,
		At: o.At, ExpiresAt: expires,
	})
	if err != nil {
		return nil, fmt.Errorf("encode failure of %s: %w", o.EventID, err)
	}
	return fi, nil
}

// settleChanges removes the open failures a success settles: those of its
// contact and type not later than it (and entries that do not parse).
func (s *Store) settleChanges(open map[teamContact][]string, settled map[contactType]time.Time) changes {
	c := newChanges()
	for tc, entries := range open {
		for _, e := range entries {
			typ, at, esk, ok := parseOpen(e)
			if !ok {
				c.remove[tc] = append(c.remove[tc], e)
				continue
			}
			if when, ok := settled[contactType{tc, typ}]; ok && at <= Stamp(when) {
				c.items.del(s.table, ErrorsPK(tc.team), esk)
				c.remove[tc] = append(c.remove[tc], e)
			}
		}
	}
	return c
}

// changeStages orders c's writes in three stages, each written after the
// one before it is done: new failures are noted (the FAILURES sets) before
// they are indexed, so none is ever untracked; the outcomes and the index
// entries; settled failures are forgotten after their index entries are
// gone, and the old items of outcomes moved (legacy.go) after their new
// ones are written. Each FAILURES update sets the item's expiry to
// expires.
func (s *Store) changeStages(c changes, expires int64) ([][]dynamotx.Unit, error) {
	add, err := s.openUnits(c.add, "ADD", expires)
	if err != nil {
		return nil, err
	}
	rm, err := s.openUnits(c.remove, "DELETE", expires)
	if err != nil {
		return nil, err
	}
	return [][]dynamotx.Unit{add, c.items.units(), append(rm, c.moved.units()...)}, nil
}

// openFailures returns the open failures of the contacts (FAILURES
// entries), by contact. Most teams have few open failures: the team's
// failure index is read in one query, and only when it holds more than one
// page are the contacts' FAILURES items read (one BatchGetItem per 100).
// An entry whose index item expired is not found through the index; it
// stays in its FAILURES set, where nothing reads it but this.
func (s *Store) openFailures(ctx context.Context, contacts []teamContact) (map[teamContact][]string, error) {
	byTeam := map[string][]teamContact{}
	var teams []string
	for _, tc := range contacts {
		if byTeam[tc.team] == nil {
			teams = append(teams, tc.team)
		}
		byTeam[tc.team] = append(byTeam[tc.team], tc)
	}
	open := map[teamContact][]string{}
	for _, team := range teams {
		wanted := map[teamContact]bool{}
		for _, tc := range byTeam[team] {
			wanted[tc] = true
		}
		items, complete, err := s.failurePage(ctx, team)
		if err != nil {
			return nil, err
		}
		if !complete {
			read, err := s.failureSets(ctx, byTeam[team])
			if err != nil {
				return nil, err
			}
			maps.Copy(open, read)
			continue
		}
		for _, it := range items {
			if tc := (teamContact{team, it.ContactID}); wanted[tc] {
				open[tc] = append(open[tc], openEntry(event.OutcomeType(it.Type), it.At, it.SK))
			}
		}
	}
	return open, nil
}

// failurePage reads the first page of the team's failure index; complete
// is false when there is more.
func (s *Store) failurePage(ctx context.Context, team string) (items []failureItem, complete bool, err error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(resources.PartitionKey).Equal(expression.Value(ErrorsPK(team)))).Build()
	if err != nil {
		return nil, false, fmt.Errorf("build query: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	if s.FailurePage > 0 {
		in.Limit = aws.Int32(s.FailurePage)
	}
	page, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, false, fmt.Errorf("query failures of %s: %w", team, err)
	}
	for _, raw := range page.Items {
		var it failureItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, false, fmt.Errorf("decode failure %v: %w", keyString(raw), err)
		}
		items = append(items, it)
	}
	return items, len(page.LastEvaluatedKey) == 0, nil
}

// failureSets reads the contacts' FAILURES items: their open failures, by
// contact.
func (s *Store) failureSets(ctx context.Context, contacts []teamContact) (map[teamContact][]string, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(contacts))
	for _, tc := range contacts {
		keys = append(keys, dynamotx.Key(ContactPK(tc.team, tc.contact), FailuresSK))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read open failures: %w", err)
	}
	open := map[teamContact][]string{}
	for _, raw := range items {
		k := keyString(raw)
		var it failuresItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode %v: %w", k, err)
		}
		team, contact, _ := ContactOf(k.pk)
		open[teamContact{team, contact}] = it.Open
	}
	return open, nil
}

// writeNew writes the outcomes of events on the condition that they have
// none yet, and returns the events refused because they have one.
func (s *Store) writeNew(ctx context.Context, events []teamEvent, p part) (map[teamEvent]bool, error) {
	units := make([]dynamotx.Unit, 0, len(events))
	now := s.Now()
	for _, k := range events {
		ev, err := p.item(p.outcome(k), "", now)
		if err != nil {
			return nil, err
		}
		units = append(units, dynamotx.Unit{{Put: &types.Put{TableName: aws.String(s.table), Item: ev,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": resources.PartitionKey}}}})
	}
	results, err := s.transact(ctx, "write new outcomes", units)
	if err != nil {
		return nil, err
	}
	refused := map[teamEvent]bool{}
	for j, r := range results {
		if r.Failed {
			refused[events[j]] = true
		}
	}
	return refused, nil
}

// openUnits adds entries to (or deletes them from) contacts' FAILURES sets:
// one update per contact; only contacts with failures need one. Each
// update sets the item's expiry (expires_at) to expires.
func (s *Store) openUnits(entries map[teamContact][]string, op string, expires int64) ([]dynamotx.Unit, error) {
	tcs := make([]teamContact, 0, len(entries))
	for tc := range entries {
		tcs = append(tcs, tc)
	}
	slices.SortFunc(tcs, func(a, b teamContact) int {
		return cmp.Or(cmp.Compare(a.team, b.team), cmp.Compare(a.contact, b.contact))
	})
	var units []dynamotx.Unit
	for _, tc := range tcs {
		set := slices.Compact(slices.Sorted(slices.Values(entries[tc])))
		v := raw{&types.AttributeValueMemberSS{Value: set}}
		var upd expression.UpdateBuilder
		if op == "ADD" {
			upd = expression.Add(expression.Name("open"), expression.Value(v))
		} else {
			upd = expression.Delete(expression.Name("open"), expression.Value(v))
		}
		upd = upd.Set(expression.Name(resources.TTLAttribute), expression.Value(expires))
		expr, err := expression.NewBuilder().WithUpdate(upd).Build()
		if err != nil {
			return nil, fmt.Errorf("build failures update: %w", err)
		}
		units = append(units, dynamotx.Unit{{Update: &types.Update{
			TableName: aws.String(s.table), Key: dynamotx.Key(ContactPK(tc.team, tc.contact), FailuresSK),
			UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}}})
	}
	return units, nil
}

// Failure is one failed outcome in the failure index.
type Failure struct {
	Type       event.OutcomeType
	ContactID  string
	EventID    string
	SequenceID string
	Code       string
	Message    string
	Fields     []string
	At         time.Time
}

// FailureGroup is the open failures of one error code: Count of them, the
// newest (at most the limit asked for) in Failures.
type FailureGroup struct {
	Code     string
	Count    int
	Failures []Failure
}

// MaxFailuresScanned bounds the failure index entries one Failures read
// looks at; beyond it the counts are lower bounds.
const MaxFailuresScanned = 5000

// Failures reads the team's open failures grouped by error code, largest
// group first, each with its newest perGroup failures. complete is false
// when more than MaxFailuresScanned entries exist and the counts are lower
// bounds.
func (s *Store) Failures(ctx context.Context, teamID string, perGroup int) (groups []FailureGroup, complete bool, err error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, false, err
	}
	if perGroup < 1 {
		return nil, false, &InputError{"per_group", "must be at least 1"}
	}
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(resources.PartitionKey).Equal(expression.Value(ErrorsPK(teamID)))).Build()
	if err != nil {
		return nil, false, fmt.Errorf("build query: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	now := s.Now().Unix()
	byCode := map[string]*FailureGroup{}
	scanned := 0
	complete = true
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("query failures of %s: %w", teamID, err)
		}
		for _, raw := range page.Items {
			if scanned == MaxFailuresScanned {
				complete = false
				break
			}
			scanned++
			var it failureItem
			if err := unmarshal(raw, &it); err != nil {
				return nil, false, fmt.Errorf("decode failure %v: %w", keyString(raw), err)
			}
			if it.ExpiresAt <= now {
				continue
			}
			g := byCode[it.Code]
			if g == nil {
				g = &FailureGroup{Code: it.Code}
				byCode[it.Code] = g
			}
			g.Count++
			g.Failures = append(g.Failures, Failure{
				Type: event.OutcomeType(it.Type), ContactID: it.ContactID, EventID: it.EventID, SequenceID: it.SequenceID,
				Code: it.Code, Message: it.Message, Fields: it.Fields, At: it.At.UTC(),
			})
		}
		if !complete || len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	for _, g := range byCode {
		slices.SortFunc(g.Failures, func(a, b Failure) int {
			return cmp.Or(b.At.Compare(a.At), cmp.Compare(a.ContactID, b.ContactID), cmp.Compare(a.EventID, b.EventID))
		})
		g.Failures = slices.Clip(g.Failures[:min(perGroup, len(g.Failures))])
		groups = append(groups, *g)
	}
	slices.SortFunc(groups, func(a, b FailureGroup) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code)) })
	return groups, complete, nil
}

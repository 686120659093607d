// Package privacytest holds the privacy ports in memory, for the domain's
// unit tests, and the conformance suite the DynamoDB store (privacydb) is
// held to: Memory is a team's ledger reduced to what an erasure reads,
// Org an org that deletes records, Receipts a receipt store.
package privacytest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Fixture writes the items an erasure finds, as the engines would: the
// suite seeds a store through it. Emails are given normalized.
type Fixture interface {
	// Membership pins contact's membership of seq, added with email, and
	// records the outcome of the event that pinned it (the contact sync
	// records one for every pin).
	Membership(ctx context.Context, team, seq, contact, email string) error
	// Record saves email's record (a Lead or Contact) for contact; it is
	// the contact's when one of its memberships has the email, or one of
	// its outcomes names it (OutcomeOnRecord).
	Record(ctx context.Context, team, email, contact, object, id string) error
	// LinkedRecord saves email's record as a Lead or Contact the org had
	// before, linked to.
	LinkedRecord(ctx context.Context, team, email, contact, object, id string) error
	// Claim claims email: a RECORD item with no record yet.
	Claim(ctx context.Context, team, email string) error
	// Outcome records an outcome of contact's event; a failed one is in
	// the failure index and the contact's FAILURES set.
	Outcome(ctx context.Context, team, eventID, contact string, failed bool) error
	// OutcomeOnRecord records the outcome of contact's event that synced
	// it to email's record, naming the email.
	OutcomeOnRecord(ctx context.Context, team, eventID, contact, email string) error
	// Activity logs an activity as Task taskID for contact, and records
	// the outcome of the email event it logged (with the activity's key).
	Activity(ctx context.Context, team, key, contact, taskID string) error
	// Held holds an activity event of contact's membership of seq.
	Held(ctx context.Context, team, seq, contact, eventID string) error
	// OptOut keeps email's opt-out, of contact.
	OptOut(ctx context.Context, team, email, contact string) error
	// Bounce keeps email's newest bounce.
	Bounce(ctx context.Context, team, email string) error
}

// Memory is a privacy.Store in memory, and its own Fixture. Its keys are
// its own (not the ledger table's); each item is one entry.
type Memory struct {
	mu    sync.Mutex
	items map[key]entry
	// Fail, when set, is returned by every call.
	Fail error
	// Deletes counts Delete calls.
	Deletes int
}

type key struct{ pk, sk string }

// entry is an item and what the store finds it by.
type entry struct {
	team string
	item privacy.Item
	// indexed: the contact whose index holds it ("" for none).
	indexed string
	// contact of a held-list entry, a held event or a FAILURES set.
	contact string
	// failures: the failure-index keys a FAILURES set or an outcome names.
	failures []key
	// email: the record's email an outcome names.
	email string
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{items: map[key]entry{}} }

var (
	_ privacy.Store = (*Memory)(nil)
	_ Fixture       = (*Memory)(nil)
)

func (m *Memory) put(e entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[key{e.item.PK, e.item.SK}] = e
}

func teamPK(team string, parts ...string) string {
	return "TEAM#" + team + "#" + strings.Join(parts, "#")
}

// Membership implements Fixture.
func (m *Memory) Membership(ctx context.Context, team, seq, contact, email string) error {
	m.put(entry{team: team, indexed: contact, item: privacy.Item{Kind: privacy.KindMembership,
		PK: teamPK(team, "SEQ", seq), SK: "MEMBER#" + contact, Email: email}})
	return m.Outcome(ctx, team, "evt_add_"+seq+"_"+contact, contact, false)
}

// Record implements Fixture.
func (m *Memory) Record(_ context.Context, team, email, contact, object, id string) error {
	m.put(entry{team: team, item: privacy.Item{Kind: privacy.KindRecord,
		PK: teamPK(team, "EMAIL", email), SK: "RECORD", ContactID: contact, Email: email,
		Salesforce: &privacy.SalesforceRecord{Object: object, ID: id}}})
	return nil
}

// LinkedRecord implements Fixture.
func (m *Memory) LinkedRecord(_ context.Context, team, email, contact, object, id string) error {
	m.put(entry{team: team, item: privacy.Item{Kind: privacy.KindRecord,
		PK: teamPK(team, "EMAIL", email), SK: "RECORD", ContactID: contact, Email: email,
		Salesforce: &privacy.SalesforceRecord{Object: object, ID: id}, Linked: true}})
	return nil
}

// Claim implements Fixture.
func (m *Memory) Claim(_ context.Context, team, email string) error {
	m.put(entry{team: team, item: privacy.Item{Kind: privacy.KindRecord, PK: teamPK(team, "EMAIL", email), SK: "RECORD", Email: email}})
	return nil
}

// Outcome implements Fixture.
func (m *Memory) Outcome(_ context.Context, team, eventID, contact string, failed bool) error {
	e := entry{team: team, indexed: contact, item: privacy.Item{Kind: privacy.KindOutcome, PK: teamPK(team, "EVENT", eventID), SK: "OUTCOME"}}
	if failed {
		fk := key{teamPK(team, "ERRORS"), "CODE#" + contact + "#" + eventID}
		e.failures = []key{fk}
		m.put(entry{team: team, item: privacy.Item{Kind: privacy.KindFailure, PK: fk.pk, SK: fk.sk}})
		sk := key{teamPK(team, "CONTACT", contact), "FAILURES"}
		m.mu.Lock()
		set, ok := m.items[sk]
		if !ok {
			set = entry{team: team, contact: contact, item: privacy.Item{Kind: privacy.KindFailureSet, PK: sk.pk, SK: sk.sk}}
		}
		set.failures = append(set.failures, fk)
		m.items[sk] = set
		m.mu.Unlock()
	}
	m.put(e)
	return nil
}

// OutcomeOnRecord implements Fixture.
func (m *Memory) OutcomeOnRecord(_ context.Context, team, eventID, contact, email string) error {
	m.put(entry{team: team, indexed: contact, email: email,
		item: privacy.Item{Kind: privacy.KindOutcome, PK: teamPK(team, "CONTACT", contact), SK: "OUTCOME#" + eventID}})
	return nil
}

// Activity implements Fixture.
func (m *Memory) Activity(ctx context.Context, team, key, contact, taskID string) error {
	m.put(entry{team: team, indexed: contact, item: privacy.Item{Kind: privacy.KindActivity, PK: teamPK(team, "ACTIVITY", key), SK: "TASK",
		Salesforce: &privacy.SalesforceRecord{Object: privacy.ObjectTask, ID: taskID}}})
	return m.Outcome(ctx, team, "evt_act_"+key, contact, false)
}

// Held implements Fixture.
func (m *Memory) Held(_ context.Context, team, seq, contact, eventID string) error {
	m.put(entry{team: team, contact: contact, item: privacy.Item{Kind: privacy.KindHeldList, PK: teamPK(team, "HELD"), SK: seq + "#" + contact}})
	m.put(entry{team: team, contact: contact, item: privacy.Item{Kind: privacy.KindHeldEvent, PK: teamPK(team, "HELD", seq, contact), SK: eventID}})
	return nil
}

// OptOut implements Fixture.
func (m *Memory) OptOut(_ context.Context, team, email, contact string) error {
	m.put(entry{team: team, item: privacy.Item{Kind: privacy.KindOptOut, PK: teamPK(team, "EMAIL", email), SK: "OPTOUT", ContactID: contact}})
	return nil
}

// Bounce implements Fixture.
func (m *Memory) Bounce(_ context.Context, team, email string) error {
	m.put(entry{team: team, item: privacy.Item{Kind: privacy.KindBounce, PK: teamPK(team, "EMAIL", email), SK: "BOUNCE"}})
	return nil
}

// ContactItems implements privacy.Store.
func (m *Memory) ContactItems(_ context.Context, team, contact string) ([]privacy.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	var out []privacy.Item
	var failures []key
	for _, e := range m.items {
		if e.team != team {
			continue
		}
		switch {
		case e.indexed == contact && e.indexed != "":
			out = append(out, e.item)
			failures = append(failures, e.failures...)
		case e.contact == contact && e.item.Kind != privacy.KindFailure:
			out = append(out, e.item)
			failures = append(failures, e.failures...)
		}
	}
	// A record is the contact's when it saved it and one of its
	// memberships has the record's email, or one of its outcomes names it
	// (as the ledger finds it).
	emails := map[string]bool{}
	for _, it := range out {
		if it.Kind == privacy.KindMembership {
			emails[it.Email] = true
		}
	}
	for _, e := range m.items {
		if e.team == team && e.indexed == contact && e.email != "" {
			emails[e.email] = true
		}
	}
	for _, e := range m.items {
		if r := e.item; e.team == team && r.Kind == privacy.KindRecord && r.Salesforce != nil && r.ContactID == contact && emails[r.Email] {
			out = append(out, r)
		}
	}
	seen := map[key]bool{}
	for _, fk := range failures {
		if f, ok := m.items[fk]; ok && !seen[fk] && f.team == team {
			seen[fk] = true
			out = append(out, f.item)
		}
	}
	return sorted(out), nil
}

// EmailItems implements privacy.Store.
func (m *Memory) EmailItems(_ context.Context, team, email string) ([]privacy.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	var out []privacy.Item
	for _, sk := range []string{"RECORD", "OPTOUT", "BOUNCE"} {
		if e, ok := m.items[key{teamPK(team, "EMAIL", email), sk}]; ok {
			out = append(out, e.item)
		}
	}
	return sorted(out), nil
}

// Delete implements privacy.Store.
func (m *Memory) Delete(_ context.Context, team string, items []privacy.Item) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	m.Deletes++
	for _, it := range items {
		if !strings.HasPrefix(it.PK, "TEAM#"+team+"#") {
			return fmt.Errorf("delete %s / %s: %w: not a key of team %s", it.PK, it.SK, privacy.ErrInvalid, team)
		}
	}
	for _, it := range items {
		delete(m.items, key{it.PK, it.SK})
	}
	return nil
}

// Kinds counts the items held of team by kind.
func (m *Memory) Kinds(team string) map[privacy.Kind]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[privacy.Kind]int{}
	for _, e := range m.items {
		if e.team == team {
			out[e.item.Kind]++
		}
	}
	return out
}

func sorted(items []privacy.Item) []privacy.Item {
	slices.SortFunc(items, func(a, b privacy.Item) int { return cmp.Or(cmp.Compare(a.PK, b.PK), cmp.Compare(a.SK, b.SK)) })
	return items
}

// Orgs opens the in-memory orgs of teams.
type Orgs struct {
	mu   sync.Mutex
	orgs map[string]*Org
	// Opened counts the opens.
	Opened int
}

// NewOrgs returns orgs with no team connected.
func NewOrgs() *Orgs { return &Orgs{orgs: map[string]*Org{}} }

// Connect gives team an org and returns it.
func (o *Orgs) Connect(team string) *Org {
	o.mu.Lock()
	defer o.mu.Unlock()
	org := &Org{records: map[string]string{}, deleted: map[string]bool{}, refuse: map[string]string{}}
	o.orgs[team] = org
	return org
}

// Open implements privacy.Orgs: connection.ErrNotConnected for a team
// never connected.
func (o *Orgs) Open(_ context.Context, team string) (privacy.Org, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Opened++
	org, ok := o.orgs[team]
	if !ok {
		return nil, fmt.Errorf("open org of %s: %w", team, connection.ErrNotConnected)
	}
	return org, nil
}

// Org is an org in memory: records by id, the deleted ones remembered.
type Org struct {
	mu      sync.Mutex
	records map[string]string // id -> object
	deleted map[string]bool
	refuse  map[string]string // id -> error code
	// Budget, when set, is what Allow answers.
	Budget error
	// FailCall, when set, fails the DeleteRecords call of this number
	// (1-based) and every later one.
	FailCall int
	FailErr  error
	// Calls are the ids of each DeleteRecords call; Allowed the
	// priorities Allow was asked with; Closed the Close calls.
	Calls   [][]string
	Allowed []budget.Priority
	Closed  int
}

// Seed adds records of object.
func (o *Org) Seed(object string, ids ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range ids {
		o.records[id] = object
	}
}

// Refuse makes the org refuse to delete id with code.
func (o *Org) Refuse(id, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refuse[id] = code
}

// Has reports whether the org has id, not deleted.
func (o *Org) Has(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.records[id]
	return ok && !o.deleted[id]
}

// Allow implements privacy.Org.
func (o *Org) Allow(p budget.Priority) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Allowed = append(o.Allowed, p)
	return o.Budget
}

// DeleteRecords implements privacy.Org as Salesforce answers: a record
// deleted before is ENTITY_IS_DELETED, an unknown id
// INVALID_CROSS_REFERENCE_KEY.
func (o *Org) DeleteRecords(_ context.Context, ids []string) ([]salesforce.SaveResult, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Calls = append(o.Calls, slices.Clone(ids))
	if o.FailCall > 0 && len(o.Calls) >= o.FailCall {
		return nil, o.FailErr
	}
	if len(ids) > salesforce.MaxCollection {
		return nil, errors.New("more than 200 ids in one call")
	}
	out := make([]salesforce.SaveResult, len(ids))
	for i, id := range ids {
		_, known := o.records[id]
		switch {
		case o.refuse[id] != "":
			out[i] = refusal(o.refuse[id])
		case !known:
			out[i] = refusal(salesforce.CodeInvalidCrossReference)
		case o.deleted[id]:
			out[i] = refusal(salesforce.CodeEntityIsDeleted)
		default:
			o.deleted[id] = true
			out[i] = salesforce.SaveResult{ID: id, Success: true}
		}
	}
	return out, nil
}

func refusal(code string) salesforce.SaveResult {
	return salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: code, Message: code + " (memory org)"}}}
}

// Close implements privacy.Org.
func (o *Org) Close(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Closed++
	return nil
}

// Receipts keeps receipts in memory.
type Receipts struct {
	mu    sync.Mutex
	saved map[[2]string]privacy.Receipt
}

// NewReceipts returns an empty receipt store.
func NewReceipts() *Receipts { return &Receipts{saved: map[[2]string]privacy.Receipt{}} }

var _ privacy.Receipts = (*Receipts)(nil)

// Save implements privacy.Receipts.
func (r *Receipts) Save(_ context.Context, rc privacy.Receipt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved[[2]string{rc.TeamID, rc.ID}] = rc
	return nil
}

// Get implements privacy.Receipts.
func (r *Receipts) Get(_ context.Context, team, id string) (privacy.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc, ok := r.saved[[2]string{team, id}]
	if !ok {
		return privacy.Receipt{}, fmt.Errorf("receipt %s of %s: %w", id, team, privacy.ErrNoReceipt)
	}
	return rc, nil
}

// All returns every receipt kept, by team and id.
func (r *Receipts) All() map[[2]string]privacy.Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.saved)
}

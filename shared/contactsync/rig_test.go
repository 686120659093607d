package contactsync_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgertest"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycletest"
	"github.com/sfsync/sfsync/shared/mapping/mappingtest"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policytest"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// team is the team the rules are stated for; worker is its engine's name
// in claims.
const (
	team   = "team_rules"
	worker = "worker_1"
)

// connectedAt is when the team connected Salesforce; the events of the
// rules occur after it (at(h) is h hours after), and are processed later
// still, from start on: a backlog the queue delayed.
var (
	connectedAt = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	start       = connectedAt.Add(72 * time.Hour)
)

// at is the moment h hours after the team connected.
func at(h int) time.Time { return connectedAt.Add(time.Duration(h) * time.Hour) }

// rig is the contact engine on the in-memory ports: one ledger, the team's
// org connected at connectedAt, the team's policies and mappings, and what
// the engine publishes, releases and counts, all on one settable clock.
type rig struct {
	clock    *ledgertest.Clock
	ledger   *ledgertest.Memory
	orgs     *orgtest.Orgs
	org      *orgtest.Org
	policies *policytest.Policies
	mapping  *mappingtest.Renderer
	pub      *published
	released *releases
	counts   *counts
	marks    *lifecycletest.Memory
	e        *contactsync.Engine
}

// newRig returns a rig with nothing saved: the team's settings are the
// defaults, its mapping the shipped one. A passing fault brings a part
// back at once (no rerun, so no wait).
func newRig() *rig {
	r := &rig{clock: ledgertest.NewClock(start), orgs: orgtest.New(), policies: policytest.New(), mapping: mappingtest.New(),
		pub: &published{}, released: &releases{}, counts: &counts{n: map[countKey]int{}}, marks: lifecycletest.New()}
	r.ledger = ledgertest.New(r.clock.Now)
	r.ledger.Owner = worker
	r.org = r.orgs.Connect(team, connectedAt)
	r.e = r.engine(r.ledger, worker)
	return r
}

// engine is an engine of the rig's ports with its own ledger view and
// claim owner.
func (r *rig) engine(l contactsync.Ledger, owner string) *contactsync.Engine {
	return &contactsync.Engine{Ledger: l, Orgs: r.orgs.Contacts(), Policies: r.policies, Renderer: r.mapping, Publisher: r.pub,
		Release: r.released, Counts: r.counts, Lifecycle: r.marks, Owner: owner, Reruns: -1, Now: r.clock.Now, Reps: &attribution.Users{Now: r.clock.Now}, AccountWait: time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// process runs one batch and returns the deliveries that come back.
func (r *rig) process(ds ...delivery.Delivery) map[string]error {
	return r.e.Process(context.Background(), slices.Clone(ds))
}

// settings saves the team's settings, the defaults changed by change, in
// effect from when.
func (r *rig) settings(t *testing.T, when time.Time, change func(*policy.TeamSettings)) {
	t.Helper()
	s := policy.DefaultTeamSettings()
	if change != nil {
		change(&s)
	}
	if _, err := r.policies.SaveTeamSettings(context.Background(), team, when, s); err != nil {
		t.Fatalf("save settings: %v", err)
	}
}

// override saves a sequence's override, in effect from when.
func (r *rig) override(t *testing.T, seq string, when time.Time, o policy.SequenceOverride) {
	t.Helper()
	if _, err := r.policies.SaveSequenceOverride(context.Background(), team, seq, when, o); err != nil {
		t.Fatalf("save override: %v", err)
	}
}

// membership is the ledger's membership of the contact in seq.
func (r *rig) membership(seq, contact string) (ledger.Membership, bool) {
	return r.ledger.Membership(team, ledger.MemberKey{SequenceID: seq, ContactID: contact})
}

// person is a contact of the sequencer with a name and a company.
func person(id, email string) event.Contact {
	return event.Contact{ID: id, Email: email, FirstName: "Ada", LastName: "Lovelace", Company: "Engines"}
}

// contactEvent is a delivery of a contact event of the team that occurred
// at when, first received at start (behind a backlog).
func contactEvent(id string, typ event.Type, seq *event.Sequence, c event.Contact, when time.Time) delivery.Delivery {
	return delivery.Delivery{ID: "msg_" + id, FirstReceived: start, Event: event.Event{ID: id, Type: typ, Version: event.Version,
		TeamID: team, OccurredAt: when, Data: event.ContactData{Sequence: seq, Contact: c}}}
}

// added is a contact.added of c to seq.
func added(id, seq string, c event.Contact, when time.Time) delivery.Delivery {
	return contactEvent(id, event.ContactAdded, &event.Sequence{ID: seq}, c, when)
}

// replied is a contact.replied of c in seq.
func replied(id, seq string, c event.Contact, when time.Time) delivery.Delivery {
	return contactEvent(id, event.ContactReplied, &event.Sequence{ID: seq}, c, when)
}

// created is a contact.created of c.
func created(id string, c event.Contact, when time.Time) delivery.Delivery {
	return contactEvent(id, event.ContactCreated, nil, c, when)
}

// published keeps what the engine publishes, and how many at each call.
type published struct {
	mu    sync.Mutex
	outs  []event.Outcome
	calls []int
}

func (p *published) Publish(_ context.Context, outs []event.Outcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outs = append(p.outs, outs...)
	p.calls = append(p.calls, len(outs))
	return nil
}

// of returns every answer published for the event, in order.
func (p *published) of(id string) []event.Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []event.Outcome
	for _, o := range p.outs {
		if o.EventID == id {
			out = append(out, o)
		}
	}
	return out
}

// all returns everything published, in order.
func (p *published) all() []event.Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.outs)
}

// brief is an outcome in a word: status, then the reason or the error
// code when there is one ("created", "skipped/sync_off",
// "failed/REQUIRED_FIELD_MISSING"); "" for no outcome.
func brief(o event.Outcome) string {
	detail := string(o.Reason)
	if o.Error != nil {
		detail = o.Error.Code
	}
	return strings.TrimSuffix(string(o.Status)+"/"+detail, "/")
}

// answer is the last answer published for the event in brief, with the
// object of the record it names ("created Lead"); "" when none was
// published. refOf gives the record's id.
func (r *rig) answer(id string) string {
	outs := r.pub.of(id)
	if len(outs) == 0 {
		return ""
	}
	o := outs[len(outs)-1]
	if o.Salesforce != nil {
		return brief(o) + " " + string(o.Salesforce.Object)
	}
	return brief(o)
}

// releases keeps the memberships the engine releases, one at a time.
type releases struct {
	mu   sync.Mutex
	keys []ledger.MemberKey
}

func (r *releases) Release(_ context.Context, _ string, k ledger.MemberKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, k)
	return nil
}

func (r *releases) kept() []ledger.MemberKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}

// batchReleases is releases taking a batch's memberships at once.
type batchReleases struct{ releases }

func (r *batchReleases) ReleaseAll(ctx context.Context, team string, keys []ledger.MemberKey) error {
	for _, k := range keys {
		if err := r.Release(ctx, team, k); err != nil {
			return err
		}
	}
	return nil
}

// countKey is an object and a mapping version.
type countKey struct {
	object  event.SalesforceObject
	version int
}

// counts keeps the contacts created with each mapping version.
type counts struct {
	mu sync.Mutex
	n  map[countKey]int
}

func (c *counts) CountSynced(_ context.Context, _ string, object event.SalesforceObject, version, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[countKey{object, version}] += n
	return nil
}

func (c *counts) of(object event.SalesforceObject, version int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[countKey{object, version}]
}

// hookedOrgs opens the team's orgs as orgs does, each wrapped by wrap: a
// test sees or changes what happens around the org's calls.
type hookedOrgs struct {
	contactsync.Orgs
	wrap func(contactsync.Org) contactsync.Org
}

func (o hookedOrgs) Open(ctx context.Context, teamID string) (contactsync.Org, delivery.Connection, error) {
	org, conn, err := o.Orgs.Open(ctx, teamID)
	if err != nil {
		return nil, conn, err
	}
	return o.wrap(org), conn, nil
}

// beforeCreate is an org that runs before ahead of each Create, with its
// records and options.
type beforeCreate struct {
	contactsync.Org
	before func(recs []salesforce.SObject, opts salesforce.WriteOptions)
}

func (o beforeCreate) Create(ctx context.Context, recs []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	o.before(recs, opts)
	return o.Org.Create(ctx, recs, opts)
}

// onCreate has the rig's engine run before ahead of each Create.
func (r *rig) onCreate(before func(recs []salesforce.SObject, opts salesforce.WriteOptions)) {
	r.e.Orgs = hookedOrgs{Orgs: r.e.Orgs, wrap: func(o contactsync.Org) contactsync.Org { return beforeCreate{Org: o, before: before} }}
}

package activitysync_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/sfsync/sfsync/shared/attribution"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitytest"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgertest"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycletest"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policytest"
)

// The rule tests run the engine (Process) on the shared in-memory ports
// (ledgertest, activitytest, orgtest, policytest) with a settable clock:
// no AWS service, no network, no sleep. Each rule family of the design's
// R1, R7 and R9 has a file of its own, each a table of rules.

// The team of the rule tests, its sequence, and when it connected
// Salesforce; the clock starts a day later.
const (
	teamID = "team_rules"
	seqID  = "seq_1"
)

var (
	connectedAt = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	start       = connectedAt.Add(24 * time.Hour)
)

// rig is the engine on in-memory ports, its clock at start.
type rig struct {
	t        *testing.T
	clk      *ledgertest.Clock
	e        *activitysync.Engine
	ledger   *ledgertest.Memory
	acts     *activitytest.Memory
	orgs     *orgtest.Orgs
	org      *orgtest.Org
	policies *policytest.Policies
	pub      *published
	marks    *lifecycletest.Memory
	// back is what the last batch sent back to the queue, by delivery id.
	back map[string]error
	// reads counts the engine's reads of the team's settings.
	reads atomic.Int64
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, clk: ledgertest.NewClock(start), orgs: orgtest.New(), policies: policytest.New(), pub: &published{}, marks: lifecycletest.New()}
	r.ledger, r.acts = ledgertest.New(r.clk.Now), activitytest.New(r.clk.Now)
	r.org = r.orgs.Connect(teamID, connectedAt)
	r.e = &activitysync.Engine{Ledger: r.ledger, Activities: r.acts, Orgs: r.orgs.Activities(), Settings: countedSettings{r},
		Publisher: r.pub, Lifecycle: r.marks, Owner: "worker_1", Reruns: -1, Now: r.clk.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Reps: &attribution.Users{Now: r.clk.Now}}
	return r
}

// process runs one batch; what comes back is in r.back.
func (r *rig) process(ds ...delivery.Delivery) {
	r.pub.batch()
	r.back = r.e.Process(context.Background(), ds)
}

// email is the delivery of an email event of contact that occurred at at.
// Its event id is "evt_"+id, its delivery id "msg_"+id, its message
// "m_"+id; the queue first delivered it when it occurred.
func email(id string, typ event.Type, contact string, at time.Time) delivery.Delivery {
	msg := event.Message{ID: "m_" + id, Subject: "Hello " + id, BodyText: "Hi there", Step: 1, SentAt: at}
	switch typ {
	case event.EmailClicked:
		msg.URL = "https://example.com/offer"
	case event.EmailBounced:
		msg.Reason = "mailbox full"
	}
	return delivery.Delivery{ID: "msg_" + id, FirstReceived: at, Event: event.Event{ID: "evt_" + id, Type: typ, Version: event.Version,
		TeamID: teamID, OccurredAt: at, Data: event.EmailData{Sequence: event.Sequence{ID: seqID, Name: "Q4"},
			Contact: event.ContactRef{ID: contact, Email: emailOf(contact)}, Message: msg}}}
}

// again is d delivered again by the queue, as another message.
func again(d delivery.Delivery) delivery.Delivery {
	d.ID += "_again"
	return d
}

// as is d under another event id (the same message and kind).
func as(d delivery.Delivery, id string) delivery.Delivery {
	d.ID, d.Event.ID = "msg_"+id, "evt_"+id
	return d
}

func emailOf(contact string) string { return contact + "@example.com" }

func memberKey(contact string) ledger.MemberKey {
	return ledger.MemberKey{SequenceID: seqID, ContactID: contact}
}

// member puts the contact's membership at status. A synced contact gets a
// Lead in the org, the membership's record, and the ledger's record of its
// email; its Lead's id is returned.
func (r *rig) member(contact string, st ledger.MembershipStatus) string {
	r.t.Helper()
	ctx := context.Background()
	m := ledger.Membership{TeamID: teamID, SequenceID: seqID, ContactID: contact, Email: emailOf(contact),
		PinnedAt: connectedAt, EventID: "evt_added_" + contact, Status: st}
	var leadID string
	if st == ledger.MemberSynced {
		leadID = r.org.Seed(orgtest.Lead, map[string]any{"LastName": contact, "Company": "Acme", "Email": emailOf(contact)})
		m.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: leadID}
		r.record(contact, event.ObjectLead, leadID)
	}
	pins, err := r.ledger.PinMemberships(ctx, []ledger.Membership{m})
	if err == nil {
		err = pins[0].Err
	}
	if err == nil && !pins[0].New {
		var errs []error
		if errs, err = r.ledger.SetMemberships(ctx, []ledger.Membership{m}); err == nil {
			err = errs[0]
		}
	}
	if err != nil {
		r.t.Fatalf("membership of %s: %v", contact, err)
	}
	return leadID
}

// record saves the ledger's record of the contact's email.
func (r *rig) record(contact string, obj event.SalesforceObject, id string) {
	r.t.Helper()
	errs, err := r.ledger.SaveRecords(context.Background(), []ledger.Record{{TeamID: teamID, Email: emailOf(contact), Object: obj, ID: id,
		Status: event.StatusCreated, SyncedAt: connectedAt, EventID: "evt_added_" + contact, ContactID: contact}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		r.t.Fatalf("record of %s: %v", contact, err)
	}
}

// settings saves the team's settings, changed by change from the
// defaults, in effect from at.
func (r *rig) settings(at time.Time, change func(s *policy.TeamSettings)) {
	r.t.Helper()
	s := policy.DefaultTeamSettings()
	change(&s)
	if _, err := r.policies.SaveTeamSettings(context.Background(), teamID, at, s); err != nil {
		r.t.Fatalf("save settings: %v", err)
	}
}

// tasks is the Tasks in the org, in the order they were created.
func (r *rig) tasks() []orgtest.Record { return r.org.Records(orgtest.Task) }

// held is the contact's held activities.
func (r *rig) held(contact string) []event.Event {
	r.t.Helper()
	evs, err := r.acts.Held(context.Background(), teamID, memberKey(contact))
	if err != nil {
		r.t.Fatalf("held activities of %s: %v", contact, err)
	}
	return evs
}

// countedSettings is the rig's settings, its reads counted.
type countedSettings struct{ r *rig }

func (s countedSettings) TeamSettingsAt(ctx context.Context, team string, at time.Time) (policy.TeamVersion, error) {
	s.r.reads.Add(1)
	return s.r.policies.TeamSettingsAt(ctx, team, at)
}

// published keeps every outcome published, batch by batch.
type published struct {
	mu      sync.Mutex
	batches [][]event.Outcome
}

func (p *published) Publish(_ context.Context, outs []event.Outcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches[len(p.batches)-1] = append(p.batches[len(p.batches)-1], outs...)
	return nil
}

// batch starts the answers of a new batch.
func (p *published) batch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches = append(p.batches, nil)
}

// last is the last answer published for each event, over every batch.
func (p *published) last() map[string]event.Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]event.Outcome{}
	for _, b := range p.batches {
		for _, o := range b {
			out[o.EventID] = o
		}
	}
	return out
}

// all is every answer published, in order.
func (p *published) all() []event.Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []event.Outcome
	for _, b := range p.batches {
		out = append(out, b...)
	}
	return out
}

// lastBatch is the answers published by the last batch.
func (p *published) lastBatch() []event.Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]event.Outcome(nil), p.batches[len(p.batches)-1]...)
}

// rule is one clause of the design's rules as a row of a table: the world
// before (setup, which may run earlier batches and move the clock), the
// batch, and what each event comes to.
type rule struct {
	rule   string
	setup  func(r *rig)
	events []delivery.Delivery
	// want is what each event comes to, by event id: the last answer
	// published for it (in any batch), or how its delivery in this batch
	// comes back.
	want map[string]want
	// tasks is how many Tasks the org holds afterwards.
	tasks int
	// check states whatever more the rule says.
	check func(t *testing.T, r *rig)
}

// want is what becomes of an event: an answer (status and reason), or
// the error kind its delivery comes back with (back).
type want struct {
	status event.Status
	reason event.Reason
	back   error
}

func created() want                    { return want{status: event.StatusCreated} }
func skipped(reason event.Reason) want { return want{status: event.StatusSkipped, reason: reason} }
func pending() want                    { return want{status: event.StatusPending, reason: event.ReasonContactPending} }
func comesBack(kind error) want        { return want{back: kind} }

func (w want) String() string {
	if w.back != nil {
		return fmt.Sprintf("back (%v)", w.back)
	}
	return fmt.Sprintf("%s/%s", w.status, w.reason)
}

// runRules runs each rule on a rig of its own, in parallel.
func runRules(t *testing.T, rules []rule) {
	t.Helper()
	for _, rc := range rules {
		t.Run(rc.rule, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			if rc.setup != nil {
				rc.setup(r)
			}
			r.process(rc.events...)
			r.checkWant(t, rc.events, rc.want)
			if n := len(r.tasks()); n != rc.tasks {
				t.Errorf("Tasks in the org: got %d; want %d", n, rc.tasks)
			}
			r.checkAnswers(t, rc.events)
			if rc.check != nil {
				rc.check(t, r)
			}
		})
	}
}

// checkWant compares what became of each event with want.
func (r *rig) checkWant(t *testing.T, ds []delivery.Delivery, wants map[string]want) {
	t.Helper()
	last := r.pub.last()
	for id, w := range wants {
		if w.back != nil {
			err := r.backOf(ds, id)
			if !errors.Is(err, w.back) {
				t.Errorf("%s: got back with %v; want %s", id, err, w)
			}
			continue
		}
		o, ok := last[id]
		if !ok || o.Status != w.status || o.Reason != w.reason {
			t.Errorf("%s: got %s/%s (published %v, back with %v); want %s", id, o.Status, o.Reason, ok, r.backOf(ds, id), w)
		}
	}
}

// backOf is the error the batch's delivery of event id came back with.
func (r *rig) backOf(ds []delivery.Delivery, id string) error {
	for _, d := range ds {
		if d.Event.ID == id && r.back[d.ID] != nil {
			return r.back[d.ID]
		}
	}
	return nil
}

// checkAnswers states R9: each event of the batch either comes back or
// gets exactly one answer; an event's final answer, once given, is the
// only one it is ever given (published again, never changed); and the
// last answer published for each event is the one the ledger keeps.
func (r *rig) checkAnswers(t *testing.T, ds []delivery.Delivery) {
	t.Helper()
	count := map[string]int{}
	for _, o := range r.pub.lastBatch() {
		count[o.EventID]++
	}
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Event.ID] {
			continue
		}
		seen[d.Event.ID] = true
		back := r.backOf(ds, d.Event.ID) != nil
		if n := count[d.Event.ID]; back && n != 0 || !back && n != 1 {
			t.Errorf("%s: came back %v with %d answers; want back without an answer, or one answer", d.Event.ID, back, n)
		}
	}
	first := map[string]event.Outcome{}
	for _, o := range r.pub.all() {
		if o.Status == event.StatusPending || o.Status == event.StatusFailed {
			continue // not final: a failed activity is tried again when redelivered
		}
		if f, ok := first[o.EventID]; ok && !sameAnswer(f, o) {
			t.Errorf("%s: answered %s/%s, then %s/%s; want one final answer", o.EventID, f.Status, f.Reason, o.Status, o.Reason)
		}
		first[o.EventID] = o
	}
	for id, o := range r.pub.last() {
		if o.Status == event.StatusPending {
			continue
		}
		if kept, ok := r.ledger.Outcome(teamID, id); !ok || !sameAnswer(kept, o) {
			t.Errorf("%s: published %s/%s %v; the ledger keeps %s/%s %v (%v)", id, o.Status, o.Reason, o.Salesforce,
				kept.Status, kept.Reason, kept.Salesforce, ok)
		}
	}
}

func sameAnswer(a, b event.Outcome) bool {
	return a.ID == b.ID && a.Status == b.Status && a.Reason == b.Reason &&
		(a.Salesforce == nil) == (b.Salesforce == nil) && (a.Salesforce == nil || reflect.DeepEqual(*a.Salesforce, *b.Salesforce))
}

// synced is the setup of a rule whose contacts are synced.
func synced(contacts ...string) func(r *rig) {
	return func(r *rig) {
		for _, c := range contacts {
			r.member(c, ledger.MemberSynced)
		}
	}
}

// wantBackWith checks that the batch's delivery of event id came back
// with an error matching each of kinds.
func wantBackWith(id string, kinds ...error) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		for _, k := range kinds {
			if err := r.back["msg_"+id]; !errors.Is(err, k) {
				t.Errorf("%s: got back with %v; want an error matching %v", id, err, k)
			}
		}
	}
}

// ds is a batch of deliveries.
func ds(d ...delivery.Delivery) []delivery.Delivery { return d }

// wants is a want map from pairs of event id and want.
func wants(pairs ...any) map[string]want {
	out := map[string]want{}
	for i := 0; i+1 < len(pairs); i += 2 {
		out[pairs[i].(string)] = pairs[i+1].(want)
	}
	return out
}

// both runs checks in turn.
func both(checks ...func(t *testing.T, r *rig)) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		for _, c := range checks {
			c(t, r)
		}
	}
}

package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// Ledger is what Run holds to the rules: contact sync's and activity
// sync's ledger ports together (contactsync.Ledger and activitysync.Ledger,
// written out here so that neither engine is imported).
type Ledger interface {
	Outcomes(ctx context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error)
	RecordOutcomes(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) error
	RecordOutcomesKept(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) ([]event.Outcome, error)
	PinMemberships(ctx context.Context, ms []ledger.Membership) ([]ledger.PinResult, error)
	Memberships(ctx context.Context, teamID string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error)
	SetMemberships(ctx context.Context, ms []ledger.Membership) ([]error, error)
	Records(ctx context.Context, teamID string, emails []string) (map[string]ledger.Record, error)
	ClaimAll(ctx context.Context, teamID string, emails []string, owner string, until time.Time) ([]error, error)
	SaveRecords(ctx context.Context, rs []ledger.Record) ([]error, error)
	Unclaim(ctx context.Context, teamID, email, owner string) error
	FollowRecord(ctx context.Context, teamID, email, fromID string, to event.SalesforceRef) (ledger.Record, error)
}

var _ Ledger = (*Memory)(nil)

// Open returns a ledger on the clock now, for one case of Run. The ledger
// may be shared by the cases (Run gives each case teams of its own), but
// its clock must be now, and it must save records under each record's
// EventID (no worker-wide owner).
type Open func(t *testing.T, now func() time.Time) Ledger

// Start is the time every case's clock starts at.
var Start = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// westOfUTC is a zone times are given in to see that the ledger keeps
// them in UTC.
var westOfUTC = time.FixedZone("UTC-5", -5*60*60)

// Clock is a settable clock, safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now is the clock's time, in UTC.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testCase is one rule of the ledger ports, stated on h.
type testCase struct {
	name string
	run  func(h *harness)
}

// Run states every rule of the ledger ports the engines rely on, one
// subtest each, on ledgers from open: memberships, claims, records and
// outcomes. Each case has its own clock and teams, and runs in parallel
// with the others.
func Run(t *testing.T, open Open) {
	var cases []testCase
	for _, part := range [][]testCase{memberCases(), claimCases(), recordCases(), outcomeCases()} {
		cases = append(cases, part...)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := NewClock(Start)
			h := &harness{t: t, ctx: context.Background(), clock: clk, l: open(t, clk.Now),
				a: fmt.Sprintf("team_%02d_a", i), b: fmt.Sprintf("team_%02d_b", i)}
			c.run(h)
		})
	}
}

// harness is one case's ledger, clock and teams, with the calls a case
// makes; a call that fails as a whole stops the case.
type harness struct {
	t     *testing.T
	ctx   context.Context
	l     Ledger
	clock *Clock
	a, b  string // the case's teams
}

// errAny stands for any error in a list of wanted errors.
var errAny = errors.New("any error")

// wantErrs checks per-item answers: nil wants nil, errAny any error, and
// another error an error that wraps it.
func (h *harness) wantErrs(what string, got []error, want ...error) {
	h.t.Helper()
	if len(got) != len(want) {
		h.t.Fatalf("%s: got %d answers %v; want %d", what, len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		ok := (w == nil && g == nil) || (w == errAny && g != nil) || (w != nil && w != errAny && errors.Is(g, w))
		if !ok {
			h.t.Errorf("%s [%d]: got %v; want %v", what, i, g, w)
		}
	}
}

func (h *harness) must(what string, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
}

func (h *harness) pin(ms ...ledger.Membership) []ledger.PinResult {
	h.t.Helper()
	res, err := h.l.PinMemberships(h.ctx, ms)
	h.must("pin memberships", err)
	if len(res) != len(ms) {
		h.t.Fatalf("pin memberships: got %d results; want %d", len(res), len(ms))
	}
	return res
}

func (h *harness) set(ms ...ledger.Membership) []error {
	h.t.Helper()
	errs, err := h.l.SetMemberships(h.ctx, ms)
	h.must("set memberships", err)
	return errs
}

func (h *harness) memberships(team string, keys ...ledger.MemberKey) map[ledger.MemberKey]ledger.Membership {
	h.t.Helper()
	got, err := h.l.Memberships(h.ctx, team, keys)
	h.must("memberships", err)
	return got
}

// claim is ClaimAll for a minute from now.
func (h *harness) claim(team, owner string, emails ...string) []error {
	h.t.Helper()
	return h.claimFor(time.Minute, team, owner, emails...)
}

func (h *harness) claimFor(d time.Duration, team, owner string, emails ...string) []error {
	h.t.Helper()
	errs, err := h.l.ClaimAll(h.ctx, team, emails, owner, h.clock.Now().Add(d))
	h.must("claim", err)
	return errs
}

func (h *harness) save(rs ...ledger.Record) []error {
	h.t.Helper()
	errs, err := h.l.SaveRecords(h.ctx, rs)
	h.must("save records", err)
	return errs
}

func (h *harness) records(team string, emails ...string) map[string]ledger.Record {
	h.t.Helper()
	got, err := h.l.Records(h.ctx, team, emails)
	h.must("records", err)
	return got
}

func (h *harness) record(outs ...event.Outcome) {
	h.t.Helper()
	h.must("record outcomes", h.l.RecordOutcomes(h.ctx, outs))
}

// outcomes reads the outcomes of events, each given as "<event>@<contact>",
// or as an event id of ct_1.
func (h *harness) outcomes(team string, ids ...string) map[string]event.Outcome {
	h.t.Helper()
	refs := make([]ledger.EventRef, len(ids))
	for i, id := range ids {
		ev, contact, ok := strings.Cut(id, "@")
		if !ok {
			contact = "ct_1"
		}
		refs[i] = ledger.EventRef{EventID: ev, ContactID: contact}
	}
	got, err := h.l.Outcomes(h.ctx, team, refs)
	h.must("outcomes", err)
	return got
}

// wantEqual fails the case unless got and want are deeply equal.
func wantEqual[T any](h *harness, what string, got, want T) {
	h.t.Helper()
	if !reflect.DeepEqual(got, want) {
		h.t.Errorf("%s: got %+v; want %+v", what, got, want)
	}
}

// membership is a valid pending membership of an on_reply sequence.
func membership(team, seq, contact, eventID string) ledger.Membership {
	return ledger.Membership{
		TeamID: team, SequenceID: seq, ContactID: contact, Email: contact + "@Example.com",
		Contact: event.Contact{ID: contact, Email: contact + "@Example.com", FirstName: "Ada", LastName: "Lovelace",
			Company: "Analytical Engines", Custom: map[string]string{"industry": "Computing"}},
		Policy: policy.Effective{SyncAs: policy.SyncAsLead, Mode: policy.ModeOnReply, ActivityTracking: true,
			ActivityKinds: policy.DefaultActivityKinds(), TeamVersion: 3, SequenceVersion: 1},
		PinnedAt: Start.Add(-time.Hour), EventID: eventID, Status: ledger.MemberPending, Reason: event.ReasonAwaitingReply,
	}
}

func key(seq, contact string) ledger.MemberKey {
	return ledger.MemberKey{SequenceID: seq, ContactID: contact}
}

// record is a created Lead saved by eventID (its claim's owner).
func record(team, email, eventID, id string) ledger.Record {
	return ledger.Record{TeamID: team, Email: email, Object: event.ObjectLead, ID: id, Status: event.StatusCreated,
		MatchRule: "created", PolicyVersion: 1, MappingVersion: 2, SyncedAt: Start, EventID: eventID, ContactID: "ct_" + eventID}
}

// linked is a Contact found in Salesforce and linked by eventID.
func linked(team, email, eventID, id string) ledger.Record {
	r := record(team, email, eventID, id)
	r.Object, r.Status, r.MatchRule = event.ObjectContact, event.StatusLinked, "contact"
	return r
}

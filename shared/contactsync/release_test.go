package contactsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// pinLedger is fakeLedger with the memberships and outcomes of a whole
// run: every pin is new, and SetMemberships refuses the contacts in
// refuse.
type pinLedger struct {
	fakeLedger
	refuse   map[string]bool // contact ids
	recorded []event.Outcome
}

func (l *pinLedger) PinMemberships(_ context.Context, ms []ledger.Membership) ([]ledger.PinResult, error) {
	out := make([]ledger.PinResult, len(ms))
	for i, m := range ms {
		out[i] = ledger.PinResult{Membership: m, New: true}
	}
	return out, nil
}

func (l *pinLedger) SetMemberships(_ context.Context, ms []ledger.Membership) ([]error, error) {
	errs := make([]error, len(ms))
	for i, m := range ms {
		if l.refuse[m.ContactID] {
			errs[i] = errors.New("the membership changed meanwhile")
		}
	}
	return errs, nil
}

func (l *pinLedger) RecordOutcomes(_ context.Context, outs []event.Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recorded = append(l.recorded, outs...)
	return nil
}

// sequencePolicies pins, by sequence id, "off" (never synced), "reply"
// (on_reply) or anything else (synced on add), with the default settings.
type sequencePolicies struct{ allowSaveFrom }

func (sequencePolicies) ResolveAt(_ context.Context, _, sequenceID string, _ time.Time) (policy.Effective, error) {
	switch sequenceID {
	case "off":
		return policy.Effective{Mode: policy.ModeOff, Reason: policy.ReasonSyncOff}, nil
	case "reply":
		return policy.Effective{Mode: policy.ModeOnReply}, nil
	}
	return policy.Effective{Mode: policy.ModeOnAdd}, nil
}

// verdictOrg is an org that has the records in found and refuses to
// create those whose email is in refuse, with its error.
type verdictOrg struct {
	fakeOrg
	refuse map[string]salesforce.ErrorItem
}

func (o *verdictOrg) Create(ctx context.Context, recs []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	out, err := o.fakeOrg.Create(ctx, recs, opts)
	for i, r := range recs {
		if fe, ok := o.refuse[fmt.Sprint(r["Email"])]; ok {
			out[i] = salesforce.SaveResult{Errors: []salesforce.ErrorItem{fe}}
		}
	}
	return out, err
}

func (o *verdictOrg) Close(context.Context) error { return nil }

// openOrgs opens org, connected at connected.
type openOrgs struct {
	org       Org
	connected time.Time
}

func (o openOrgs) Open(context.Context, string) (Org, delivery.Connection, error) {
	return o.org, delivery.Connection{Status: "connected", ConnectedAt: o.connected}, nil
}
func (openOrgs) RecordHold(context.Context, string, time.Time) error { return nil }

// unmappable renders every contact as plainRenderer does, but the one
// whose email is bad, which its mapping cannot render.
type unmappable struct{ bad string }

func (r unmappable) Render(ctx context.Context, team string, object event.SalesforceObject, c event.Contact) (salesforce.SObject, int, error) {
	if c.Email == r.bad {
		return nil, 0, errors.New("mapping: Company: the template names an unknown field")
	}
	return plainRenderer{}.Render(ctx, team, object, c)
}

// keptReleases is a Releaser that keeps the memberships it is told of,
// one at a time.
type keptReleases struct {
	mu   sync.Mutex
	keys []ledger.MemberKey
}

func (r *keptReleases) Release(_ context.Context, _ string, k ledger.MemberKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, k)
	return nil
}

// keptBatchReleases is keptReleases taking a batch's memberships at once.
type keptBatchReleases struct{ keptReleases }

func (r *keptBatchReleases) ReleaseAll(ctx context.Context, team string, keys []ledger.MemberKey) error {
	for _, k := range keys {
		if err := r.Release(ctx, team, k); err != nil {
			return err
		}
	}
	return nil
}

// TestEveryFinalMembershipIsReleased (R7): the held activity of every
// membership that reaches a final state in a batch is released, once:
// synced (created or linked), failed (refused by Salesforce, or by its
// mapping) or skipped by its policy, whichever way the releaser takes
// them. A membership still pending (on_reply) is not released, nor one
// whose final state the ledger refused (its event comes back).
func TestEveryFinalMembershipIsReleased(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	contacts := []struct {
		id, sequence string
		outcome      string // status/reason or status/code; "" when the event comes back
		released     bool
	}{
		{"created", "add", "created/", true},
		{"linked", "add", "linked/matched_contact", true},
		{"refused", "add", "failed/REQUIRED_FIELD_MISSING", true},
		{"unmapped", "add", "failed/MAPPING_ERROR", true},
		{"off", "off", "skipped/sync_off", true},
		{"pending", "reply", "pending/awaiting_reply", false},
		{"unwritten", "add", "", false},
	}
	var ds []delivery.Delivery
	for _, c := range contacts {
		ds = append(ds, delivery.Delivery{ID: "msg_" + c.id, Event: event.Event{ID: "evt_" + c.id, Type: event.ContactAdded, TeamID: "team_rel",
			OccurredAt: now.Add(-time.Minute),
			Data: event.ContactData{Contact: event.Contact{ID: "c_" + c.id, Email: c.id + "@rel.example"},
				Sequence: &event.Sequence{ID: c.sequence}}}})
	}
	for _, rel := range []struct {
		name string
		r    interface {
			Releaser
			kept() []ledger.MemberKey
		}
	}{
		{"one call for the batch", &keptBatchReleases{}},
		{"one call each", &keptReleases{}},
	} {
		t.Run(rel.name, func(t *testing.T) {
			t.Parallel()
			fl := &pinLedger{refuse: map[string]bool{"c_unwritten": true}}
			org := &verdictOrg{fakeOrg: fakeOrg{found: map[string]ledger.Match{
				"linked@rel.example": {Object: event.ObjectContact, ID: "0030000000000LK", Rule: "contact"}}},
				refuse: map[string]salesforce.ErrorItem{"refused@rel.example": {Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}}}
			pub := &keptPublisher{}
			e := &Engine{Ledger: fl, Orgs: openOrgs{org: org, connected: now.Add(-time.Hour)}, Policies: sequencePolicies{},
				Renderer: unmappable{bad: "unmapped@rel.example"}, Publisher: pub, Release: rel.r, Owner: "w1",
				Now: func() time.Time { return now }}
			failed := e.Process(context.Background(), slices.Clone(ds))

			got := map[string]string{}
			for _, o := range pub.outs {
				detail := string(o.Reason)
				if o.Error != nil {
					detail = o.Error.Code
				}
				got[o.EventID] = string(o.Status) + "/" + detail
			}
			var released []ledger.MemberKey
			for _, c := range contacts {
				if c.released {
					released = append(released, ledger.MemberKey{SequenceID: c.sequence, ContactID: "c_" + c.id})
				}
				if c.outcome == "" {
					if !errors.Is(failed["msg_"+c.id], delivery.ErrRetry) {
						t.Errorf("%s: got %v; want it back (ErrRetry)", c.id, failed["msg_"+c.id])
					}
					continue
				}
				if got["evt_"+c.id] != c.outcome {
					t.Errorf("%s: got outcome %q; want %q", c.id, got["evt_"+c.id], c.outcome)
				}
			}
			cmpKey := func(a, b ledger.MemberKey) int { return cmp.Compare(a.ContactID, b.ContactID) }
			gotKeys := slices.SortedFunc(slices.Values(rel.r.kept()), cmpKey)
			slices.SortFunc(released, cmpKey)
			if !slices.Equal(gotKeys, released) {
				t.Errorf("released: got %v; want %v", gotKeys, released)
			}
			if n := len(failed); n != 1 {
				t.Errorf("deliveries back: got %d (%v); want 1", n, failed)
			}
		})
	}
}

func (r *keptReleases) kept() []ledger.MemberKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}

// lookupOnceOrg is verdictOrg whose lookups after the first fail.
type lookupOnceOrg struct {
	verdictOrg
	lookups int
}

func (o *lookupOnceOrg) FindByEmail(ctx context.Context, emails []string) (map[string]ledger.Match, error) {
	if o.lookups++; o.lookups > 1 {
		return nil, errors.New("connection reset by peer")
	}
	return o.fakeOrg.FindByEmail(ctx, emails)
}

// TestReleasedEvenWhenALaterStepFails (R7): a membership whose final state
// was written is released even when a later step fails the part (here the
// lookup after a duplicate rule's answer): the part comes back, but the
// contact it created is synced, and its held activity goes.
func TestReleasedEvenWhenALaterStepFails(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	add := func(id string) delivery.Delivery {
		return delivery.Delivery{ID: "msg_" + id, Event: event.Event{ID: "evt_" + id, Type: event.ContactAdded, TeamID: "team_rel",
			OccurredAt: now.Add(-time.Minute),
			Data:       event.ContactData{Contact: event.Contact{ID: "c_" + id, Email: id + "@rel.example"}, Sequence: &event.Sequence{ID: "add"}}}}
	}
	org := &lookupOnceOrg{verdictOrg: verdictOrg{refuse: map[string]salesforce.ErrorItem{
		"dup@rel.example": {Code: salesforce.CodeDuplicatesDetected, Message: "Use one of these records?"}}}}
	rel := &keptBatchReleases{}
	fl := &pinLedger{}
	e := &Engine{Ledger: fl, Orgs: openOrgs{org: org, connected: now.Add(-time.Hour)}, Policies: sequencePolicies{},
		Renderer: plainRenderer{}, Publisher: &keptPublisher{}, Release: rel, Owner: "w1", Now: func() time.Time { return now }}
	failed := e.Process(context.Background(), []delivery.Delivery{add("made"), add("dup")})
	if len(failed) != 2 || !errors.Is(failed["msg_made"], delivery.ErrRetry) {
		t.Fatalf("failed: got %v; want the whole part back (ErrRetry)", failed)
	}
	var saved []string
	for _, r := range fl.saved {
		saved = append(saved, r.Email)
	}
	if want := []string{"made@rel.example"}; !slices.Equal(saved, want) {
		t.Errorf("records saved: got %v; want %v", saved, want)
	}
	if got, want := rel.kept(), []ledger.MemberKey{{SequenceID: "add", ContactID: "c_made"}}; !slices.Equal(got, want) {
		t.Errorf("released: got %v; want %v", got, want)
	}
}

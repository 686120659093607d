package contactsync_test

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
)

// setSpy is a ledger that keeps the memberships written by SetMemberships
// and what each RecordOutcomes call was told beside the outcomes.
type setSpy struct {
	contactsync.Ledger
	mu  sync.Mutex
	set []ledger.MemberKey
	rec []ledger.Recording // what each RecordOutcomes call was told
}

func (l *setSpy) SetMemberships(ctx context.Context, ms []ledger.Membership) ([]error, error) {
	l.mu.Lock()
	for _, m := range ms {
		l.set = append(l.set, ledger.MemberKey{SequenceID: m.SequenceID, ContactID: m.ContactID})
	}
	l.mu.Unlock()
	return l.Ledger.SetMemberships(ctx, ms)
}

func (l *setSpy) RecordOutcomes(ctx context.Context, outs []event.Outcome, opts ...ledger.RecordOption) error {
	l.mu.Lock()
	l.rec = append(l.rec, ledger.RecordingOf(opts))
	l.mu.Unlock()
	return l.Ledger.RecordOutcomes(ctx, outs, opts...)
}

// readingReleaser reads, when told to release a membership's held
// activity, the membership as activity sync would then find it.
type readingReleaser struct {
	l    contactsync.Ledger
	mu   sync.Mutex
	seen map[ledger.MemberKey]ledger.MembershipStatus
}

func (r *readingReleaser) Release(ctx context.Context, team string, k ledger.MemberKey) error {
	ms, err := r.l.Memberships(ctx, team, []ledger.MemberKey{k})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[k] = ms[k].Status
	return err
}

// TestAnAddEndsItsMembershipByItsOutcome: the end of the add that pinned a
// membership (synced or failed) is recorded as the add's outcome only, a
// write unit less per contact; the ledger reads the membership's state
// from there, activity sync included, so its held activity is released
// only once that outcome is recorded. A reply's end is written to the
// membership itself.
func TestAnAddEndsItsMembershipByItsOutcome(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.settings(t, at(0), func(s *policy.TeamSettings) { s.RetentionDays = 500 })
	r.override(t, "reply", at(0), policy.SequenceOverride{SyncMode: string(policy.ModeOnReply), SyncAs: policy.Inherit})
	seed(r, orgtest.Contact, "linked@settle.example")
	r.org.Refuse("refused@settle.example", orgtest.RequiredFieldMissing("LastName"))
	spy := &setSpy{Ledger: r.ledger}
	rel := &readingReleaser{l: r.ledger, seen: map[ledger.MemberKey]ledger.MembershipStatus{}}
	r.e.Ledger, r.e.Release = spy, rel

	r.process(added("evt_new", "add", person("c_new", "new@settle.example"), at(1)),
		added("evt_linked", "add", person("c_linked", "linked@settle.example"), at(1)),
		added("evt_refused", "add", person("c_refused", "refused@settle.example"), at(1)),
		added("evt_pending", "reply", person("c_reply", "reply@settle.example"), at(1)))
	if len(spy.set) != 0 {
		t.Errorf("memberships written for the adds: got %v; want none", spy.set)
	}
	for _, c := range []struct {
		contact string
		want    ledger.MembershipStatus
	}{{"c_new", ledger.MemberSynced}, {"c_linked", ledger.MemberSynced}, {"c_refused", ledger.MemberFailed}} {
		k := ledger.MemberKey{SequenceID: "add", ContactID: c.contact}
		if m, _ := r.membership("add", c.contact); m.Status != c.want || (c.want == ledger.MemberSynced && m.Salesforce == nil) {
			t.Errorf("%s: got %s (%+v); want %s", c.contact, m.Status, m.Salesforce, c.want)
		}
		if got := rel.seen[k]; got != c.want {
			t.Errorf("%s at its release: got %q; want %s (its add's outcome recorded first)", c.contact, got, c.want)
		}
	}

	// Each outcome on a record names the record's email (the erasure finds
	// the record through it), and is kept as long as the team's retention
	// (500 days here).
	if len(spy.rec) != 1 {
		t.Fatalf("RecordOutcomes calls: got %d; want 1", len(spy.rec))
	}
	wantEmails := map[string]string{"evt_new": "new@settle.example", "evt_linked": "linked@settle.example"}
	if got := spy.rec[0].Emails; !maps.Equal(got, wantEmails) {
		t.Errorf("records' emails: got %v; want %v", got, wantEmails)
	}
	if got, want := spy.rec[0].Retain, 500*24*time.Hour; got != want {
		t.Errorf("outcomes kept: got %v; want the team's retention, %v", got, want)
	}

	// The add again (its run died after recording the answer, before the
	// release): answered the same, and released again.
	rel.seen = map[ledger.MemberKey]ledger.MembershipStatus{}
	r.process(added("evt_new", "add", person("c_new", "new@settle.example"), at(1)))
	if got := rel.seen[ledger.MemberKey{SequenceID: "add", ContactID: "c_new"}]; got != ledger.MemberSynced {
		t.Errorf("c_new redelivered: released %q; want released again, synced", got)
	}
	if len(spy.set) != 0 {
		t.Errorf("memberships written for the redelivered add: got %v; want none", spy.set)
	}

	r.process(replied("evt_reply", "reply", person("c_reply", "reply@settle.example"), at(2)))
	if want := []ledger.MemberKey{{SequenceID: "reply", ContactID: "c_reply"}}; len(spy.set) != 1 || spy.set[0] != want[0] {
		t.Errorf("memberships written for the reply: got %v; want %v", spy.set, want)
	}
	if m, _ := r.membership("reply", "c_reply"); m.Status != ledger.MemberSynced {
		t.Errorf("c_reply: got %s; want synced", m.Status)
	}
}

// TestOutcomesKeptAsLongAsTheirMemberships: a part's contact outcomes are
// kept as long as the team keeps the memberships it pins (an erasure finds
// a membership through its add's outcome), and never less than outcomes'
// own 90 days: a team keeping 1,000 days keeps its adds' outcomes past
// the default 400, one keeping 30 keeps them 90.
func TestOutcomesKeptAsLongAsTheirMemberships(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, tt := range []struct {
		days       int
		kept, gone time.Duration // still read back after kept, not after gone
	}{
		{1000, 999 * day, 1001 * day},
		{30, 89 * day, 91 * day},
	} {
		r := newRig()
		r.settings(t, at(0), func(s *policy.TeamSettings) { s.RetentionDays = tt.days })
		r.override(t, "reply", at(0), policy.SequenceOverride{SyncMode: string(policy.ModeOnReply), SyncAs: policy.Inherit})
		// Each add in a part of its own: the pending one ends no membership,
		// so only the part's pins keep its answer.
		r.process(added("evt_sync", "add", person("c_1", "one@keep.example"), at(1)))
		r.process(added("evt_wait", "reply", person("c_2", "two@keep.example"), at(1)))
		refs := []ledger.EventRef{{EventID: "evt_sync", ContactID: "c_1"}, {EventID: "evt_wait", ContactID: "c_2"}}
		for _, c := range []struct {
			advance time.Duration
			want    int
		}{{tt.kept, 2}, {tt.gone - tt.kept, 0}} {
			r.clock.Advance(c.advance)
			got, err := r.ledger.Outcomes(context.Background(), team, refs)
			if err != nil || len(got) != c.want {
				t.Errorf("retention %d days, %v later: got %d outcomes (%v); want %d", tt.days, c.advance, len(got), err, c.want)
			}
		}
	}
}

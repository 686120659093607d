package contactsync_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
)

// setSpy is a ledger that keeps the memberships written by SetMemberships.
type setSpy struct {
	contactsync.Ledger
	mu  sync.Mutex
	set []ledger.MemberKey
}

func (l *setSpy) SetMemberships(ctx context.Context, ms []ledger.Membership) ([]error, error) {
	l.mu.Lock()
	for _, m := range ms {
		l.set = append(l.set, ledger.MemberKey{SequenceID: m.SequenceID, ContactID: m.ContactID})
	}
	l.mu.Unlock()
	return l.Ledger.SetMemberships(ctx, ms)
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

	r.process(replied("evt_reply", "reply", person("c_reply", "reply@settle.example"), at(2)))
	if want := []ledger.MemberKey{{SequenceID: "reply", ContactID: "c_reply"}}; len(spy.set) != 1 || spy.set[0] != want[0] {
		t.Errorf("memberships written for the reply: got %v; want %v", spy.set, want)
	}
	if m, _ := r.membership("reply", "c_reply"); m.Status != ledger.MemberSynced {
		t.Errorf("c_reply: got %s; want synced", m.Status)
	}
}

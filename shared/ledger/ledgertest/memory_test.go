package ledgertest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgertest"
)

// Memory serves both engines' ledger ports, and the suite's Ledger is
// exactly what they ask for.
var (
	_ contactsync.Ledger  = (*ledgertest.Memory)(nil)
	_ activitysync.Ledger = (*ledgertest.Memory)(nil)
	_ contactsync.Ledger  = ledgertest.Ledger(nil)
	_ activitysync.Ledger = ledgertest.Ledger(nil)
)

// TestMemory holds the memory ledger to the ledger ports' rules.
func TestMemory(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(_ *testing.T, now func() time.Time) ledgertest.Ledger { return ledgertest.New(now) })
}

// TestMemoryShowsWhatItStores: a test can look at what the engines wrote
// without going through the ports.
func TestMemoryShowsWhatItStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := ledgertest.NewClock(ledgertest.Start)
	l := ledgertest.New(clk.Now)
	m := ledger.Membership{TeamID: "team_a", SequenceID: "seq_1", ContactID: "ct_1", Email: "ada@example.com",
		PinnedAt: ledgertest.Start, EventID: "evt_1", Status: ledger.MemberSyncing}
	if _, err := l.PinMemberships(ctx, []ledger.Membership{m}); err != nil {
		t.Fatal(err)
	}
	until := clk.Now().Add(time.Minute)
	if _, err := l.ClaimAll(ctx, "team_a", []string{"Claimed@example.com"}, "w1", until); err != nil {
		t.Fatal(err)
	}
	rec := ledger.Record{TeamID: "team_a", Email: "ada@example.com", Object: event.ObjectLead, ID: "00Q000000000001AAA",
		Status: event.StatusCreated, SyncedAt: ledgertest.Start, EventID: "evt_1", ContactID: "ct_1"}
	if _, err := l.SaveRecords(ctx, []ledger.Record{rec}); err != nil {
		t.Fatal(err)
	}
	out := event.Outcome{ID: "out_1", Type: event.ContactOutcome, Version: event.Version, TeamID: "team_a", EventID: "evt_1",
		ContactID: "ct_1", Status: event.StatusPending, Reason: event.ReasonAwaitingReply, At: ledgertest.Start}
	if err := l.RecordOutcomes(ctx, []event.Outcome{out}); err != nil {
		t.Fatal(err)
	}
	got, ok := l.Membership("team_a", ledger.MemberKey{SequenceID: "seq_1", ContactID: "ct_1"})
	if !ok || got.EventID != "evt_1" {
		t.Errorf("membership: got %+v, %v; want evt_1's", got, ok)
	}
	if r, ok := l.Record("team_a", "ADA@example.com"); !ok || r.ID != rec.ID {
		t.Errorf("record: got %+v, %v; want %s", r, ok, rec.ID)
	}
	if owner, at, ok := l.Claim("team_a", "claimed@example.com"); !ok || owner != "w1" || !at.Equal(until) {
		t.Errorf("claim: got %s until %s, %v; want w1 until %s", owner, at, ok, until)
	}
	if _, _, ok := l.Claim("team_a", "ada@example.com"); ok {
		t.Errorf("claim of a saved email: got one; want none (saving ends it)")
	}
	if o, ok := l.Outcome("team_a", "evt_1"); !ok || o.Status != event.StatusPending {
		t.Errorf("outcome: got %+v, %v; want pending", o, ok)
	}
}

// TestMemorySavesUnderTheWorkersOwner: with Owner set, a record saves
// under the worker's claim, not its event's.
func TestMemorySavesUnderTheWorkersOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := ledgertest.NewClock(ledgertest.Start)
	l := ledgertest.New(clk.Now)
	l.Owner = "contactsync-ONE"
	if _, err := l.ClaimAll(ctx, "team_a", []string{"a@example.com"}, l.Owner, clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rec := ledger.Record{TeamID: "team_a", Email: "a@example.com", Object: event.ObjectContact, ID: "003000000000001AAA",
		Status: event.StatusCreated, SyncedAt: clk.Now(), EventID: "evt_1", ContactID: "ct_1"}
	errs, err := l.SaveRecords(ctx, []ledger.Record{rec})
	if err != nil || errs[0] != nil {
		t.Errorf("save under the worker's claim: got %v, %v; want saved", errs, err)
	}
	other := ledgertest.New(clk.Now)
	if _, err := other.ClaimAll(ctx, "team_a", []string{"a@example.com"}, "contactsync-ONE", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if errs, _ := other.SaveRecords(ctx, []ledger.Record{rec}); !errors.Is(errs[0], ledger.ErrClaimed) {
		t.Errorf("save under the event's id while a worker holds the claim: got %v; want ErrClaimed", errs[0])
	}
}

// TestMemoryConcurrentClaimHasOneWinner: the memory ledger is safe for
// concurrent use, and of owners claiming one email at once one wins.
func TestMemoryConcurrentClaimHasOneWinner(t *testing.T) {
	t.Parallel()
	clk := ledgertest.NewClock(ledgertest.Start)
	l := ledgertest.New(clk.Now)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var e []error
			e, errs[i] = l.ClaimAll(context.Background(), "team_a", []string{"ada@example.com"}, fmt.Sprintf("w%d", i), clk.Now().Add(time.Minute))
			if errs[i] == nil {
				errs[i] = e[0]
			}
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ledger.ErrClaimed):
			t.Errorf("claim %d: got %v; want nil or ErrClaimed", i, err)
		}
	}
	if won != 1 {
		t.Errorf("winners: got %d; want 1", won)
	}
}

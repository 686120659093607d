package activitysync_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// failedWith checks that the event's answer failed with code.
func failedWith(id, code string) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		t.Helper()
		if o := r.pub.last()[id]; o.Error == nil || o.Error.Code != code {
			t.Errorf("%s: got error %+v; want %s", id, o.Error, code)
		}
	}
}

// TestOutcomeRules: R9 as activity sync applies it. Every email event
// ends in exactly one final outcome (created, or skipped or failed with
// why), recorded and published; a held one is answered pending first. A
// failed activity is tried again when it comes back. (runRules states for
// every rule that each event of the batch comes back or gets one answer,
// and that a final answer is never changed.)
func TestOutcomeRules(t *testing.T) {
	t.Parallel()
	at := start.Add(-time.Hour)
	mixed := func(r *rig) {
		r.member("c1", ledger.MemberSynced)
		r.member("c2", ledger.MemberPending)
		r.member("c3", ledger.MemberSkipped)
		r.member("c4", ledger.MemberFailed)
	}
	noClosed := func(r *rig) {
		r.member("c1", ledger.MemberSynced)
		r.org.SetTaskFields(activitysync.TaskFields{TypeEmail: true})
	}
	sent := email("1", event.EmailSent, "c1", at)
	runRules(t, []rule{
		{rule: "a mixed batch: one answer each, saying why", setup: mixed,
			events: ds(sent, email("2", event.EmailSent, "c2", at), email("3", event.EmailSent, "c3", at), email("4", event.EmailSent, "c4", at),
				email("5", event.EmailSent, "c5", at), email("6", event.EmailSent, "c1", connectedAt.Add(-time.Hour)),
				email("7", event.EmailOpened, "c1", at)),
			want: wants("evt_1", created(), "evt_2", pending(), "evt_3", skipped(event.ReasonContactWillNotSync),
				"evt_4", skipped(event.ReasonContactFailed), "evt_5", skipped(event.ReasonNotAdded),
				"evt_6", skipped(event.ReasonBeforeConnection), "evt_7", skipped(activitysync.ReasonKindOff)), tasks: 1},
		{rule: "the org without a closed Task status: failed NO_CLOSED_TASK_STATUS, no open Task", setup: noClosed,
			events: ds(sent), want: wants("evt_1", want{status: event.StatusFailed}),
			check: failedWith("evt_1", activitysync.CodeNoClosedTaskStatus)},
		{rule: "failed, then tried again once the org has a closed status: created",
			setup: func(r *rig) {
				noClosed(r)
				r.process(sent)
				r.org.SetTaskFields(activitysync.TaskFields{TypeEmail: true, ClosedStatus: "Completed"})
			},
			events: ds(again(sent)), want: wants("evt_1", created()), tasks: 1},
		{rule: "not connected: answered, not left without an outcome",
			setup:  func(r *rig) { r.orgs.SetStatus(teamID, connection.StatusDisconnected) },
			events: ds(sent, email("2", event.EmailReplied, "c2", at)),
			want:   wants("evt_1", skipped(event.ReasonNotConnected), "evt_2", skipped(event.ReasonNotConnected))},
	})
}

// counted counts the outcomes of each Publish.
type counted struct {
	mu    sync.Mutex
	calls []int
}

func (p *counted) Publish(_ context.Context, outs []event.Outcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, len(outs))
	return nil
}

// TestLargeBatchesRunInParts: a team's batch larger than the part size
// runs in parts of delivery.PartSize, one after the other, each answered
// on its own.
func TestLargeBatchesRunInParts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		n         int
		wantCalls []int
	}{
		{"one part", 1000, []int{1000}},
		{"three parts", 2500, []int{1000, 1000, 500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.orgs.SetStatus(teamID, connection.StatusDisconnected)
			pub := &counted{}
			r.e.Publisher = pub
			batch := make([]delivery.Delivery, tc.n)
			for i := range batch {
				batch[i] = email(strconv.Itoa(i), event.EmailSent, "c1", start.Add(-time.Hour))
			}
			if back := r.e.Process(context.Background(), batch); len(back) != 0 {
				t.Fatalf("back: got %d; want none", len(back))
			}
			if !slices.Equal(pub.calls, tc.wantCalls) {
				t.Errorf("outcomes published per run: got %v; want %v", pub.calls, tc.wantCalls)
			}
		})
	}
}

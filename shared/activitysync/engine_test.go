package activitysync

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
)

// quietLedger has no outcomes and keeps none.
type quietLedger struct{ Ledger }

func (quietLedger) Outcomes(context.Context, string, []string) (map[string]event.Outcome, error) {
	return nil, nil
}
func (quietLedger) RecordOutcomes(context.Context, []event.Outcome) error { return nil }
func (quietLedger) RecordOutcomesKept(_ context.Context, outs []event.Outcome) ([]event.Outcome, error) {
	return outs, nil
}

// offline is a team with no connection.
type offline struct{}

func (offline) Open(context.Context, string) (Org, delivery.Connection, error) {
	return nil, delivery.Connection{}, connection.ErrNotConnected
}

// countingPublisher counts the outcomes of each call.
type countingPublisher struct{ calls []int }

func (p *countingPublisher) Publish(_ context.Context, outs []event.Outcome) error {
	p.calls = append(p.calls, len(outs))
	return nil
}

// TestLargeBatchesRunInParts: a team's batch larger than the part size
// runs in parts of delivery.PartSize, one after the other.
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
			ds := make([]delivery.Delivery, tc.n)
			for i := range ds {
				n := strconv.Itoa(i)
				ds[i] = delivery.Delivery{ID: "msg_" + n, Event: event.Event{ID: "evt_" + n, Type: event.EmailSent, TeamID: "team_parts",
					OccurredAt: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}}
			}
			pub := &countingPublisher{}
			e := &Engine{Ledger: quietLedger{}, Orgs: offline{}, Publisher: pub}
			if failed := e.Process(context.Background(), ds); len(failed) != 0 {
				t.Fatalf("failed: got %d; want none", len(failed))
			}
			if !slices.Equal(pub.calls, tc.wantCalls) {
				t.Errorf("outcomes published per run: got %v; want %v", pub.calls, tc.wantCalls)
			}
		})
	}
}

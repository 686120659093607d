package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
)

var gatherNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// received is n deliveries of team, first delivered ago before gatherNow.
func received(team string, n int, ago time.Duration) []delivery.Delivery {
	out := make([]delivery.Delivery, n)
	for i := range out {
		out[i] = delivery.Delivery{ID: fmt.Sprintf("%s_%d_%s", team, i, ago), FirstReceived: gatherNow.Add(-ago),
			Event: event.Event{ID: fmt.Sprintf("evt_%s_%d_%s", team, i, ago), TeamID: team}}
	}
	return out
}

func TestGatherHolds(t *testing.T) {
	t.Parallel()
	g := delivery.Gather{Min: 100, For: 10 * time.Second}
	retry := received("t", 1, time.Second)
	retry[0].Retry = true
	unknown := received("t", 1, 0)
	unknown[0].FirstReceived = time.Time{}
	tests := []struct {
		name string
		g    delivery.Gather
		ds   []delivery.Delivery
		want bool
	}{
		{"a small, young part waits", g, received("t", 40, time.Second), true},
		{"a part of Min runs", g, received("t", 100, time.Second), false},
		{"one delivery that has waited For runs the part", g, slices.Concat(received("t", 10, time.Second), received("t", 1, 10*time.Second)), false},
		{"just under For still waits", g, received("t", 10, 10*time.Second-time.Millisecond), true},
		{"an admin's retry runs at once", g, slices.Concat(received("t", 10, time.Second), retry), false},
		{"no first-receipt time: young", g, unknown, true},
		{"the zero Gather holds nothing", delivery.Gather{}, received("t", 1, 0), false},
		{"no time to gather: nothing held", delivery.Gather{Min: 100}, received("t", 1, 0), false},
	}
	for _, tt := range tests {
		if got := tt.g.Holds(tt.ds, gatherNow); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestRunPartsGathers: of a batch's teams, the one whose part is small and
// young goes back to wait (ErrGathering, an ErrWait), the others run.
func TestRunPartsGathers(t *testing.T) {
	t.Parallel()
	small, big, old := received("small", 5, time.Second), received("big", 120, time.Second), received("old", 5, time.Minute)
	failed := map[string]error{}
	var ran []string
	delivery.RunParts(context.Background(), slices.Concat(small, big, old), failed, delivery.Runner{
		Reruns: -1, Now: func() time.Time { return gatherNow }, First: func(int) int { return 0 },
		Gather: delivery.Gather{Min: 100, For: 10 * time.Second},
		Run: func(_ context.Context, team string, part []delivery.Delivery) (map[string]error, error) {
			ran = append(ran, team)
			return nil, nil
		},
	})
	if want := []string{"big", "old"}; !slices.Equal(ran, want) {
		t.Errorf("teams run: got %v; want %v", ran, want)
	}
	if len(failed) != len(small) {
		t.Fatalf("sent back: got %d; want the small team's %d", len(failed), len(small))
	}
	for _, d := range small {
		if err := failed[d.ID]; !errors.Is(err, delivery.ErrGathering) || !errors.Is(err, delivery.ErrWait) {
			t.Errorf("%s: got %v; want ErrGathering, an ErrWait", d.ID, err)
		}
	}
}

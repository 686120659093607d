package delivery_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
)

// TestRunPartsRunsTeamsAtOnce: with Teams 3, three teams' parts run at
// the same time: each waits until all three have started, which never
// happens when they run one after the other (then each but the last gives
// up at the end of its share, and its part comes back).
func TestRunPartsRunsTeamsAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		teams      int
		wantFailed int
	}{
		{"three at once", 3, 0},
		// The first two wait out their shares and come back; only the
		// third then finds all three started.
		{"one after the other", 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var started sync.WaitGroup
			started.Add(3)
			all := make(chan struct{})
			go func() { started.Wait(); close(all) }()
			failed := map[string]error{}
			delivery.RunParts(ctx, []delivery.Delivery{deliveryOf("a", 1), deliveryOf("b", 1), deliveryOf("c", 1)}, failed, delivery.Runner{
				Log: quiet(), Reruns: -1, Teams: tt.teams, MinTeamTime: time.Millisecond,
				Run: func(ctx context.Context, _ string, _ []delivery.Delivery) (map[string]error, error) {
					started.Done()
					select {
					case <-all:
						return nil, nil
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				},
			})
			if len(failed) != tt.wantFailed {
				t.Errorf("came back: got %d (%v); want %d", len(failed), failed, tt.wantFailed)
			}
		})
	}
}

// TestRunPartsTeamsShareTheTimeByTurns: with two teams at once, the time
// left is shared by turns: of four teams, the first two run under half of
// it each, at the same time; the two after them, their turn being the
// last, under all that is left.
func TestRunPartsTeamsShareTheTimeByTurns(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(40*time.Second))
	defer cancel()
	var mu sync.Mutex
	shares := map[string]time.Duration{}
	ds := []delivery.Delivery{deliveryOf("a", 1), deliveryOf("b", 1), deliveryOf("c", 1), deliveryOf("d", 1)}
	delivery.RunParts(ctx, ds, map[string]error{}, delivery.Runner{
		Log: quiet(), Teams: 2, MinTeamTime: time.Second,
		Now: func() time.Time { return now }, First: func(int) int { return 0 },
		Run: func(ctx context.Context, team string, _ []delivery.Delivery) (map[string]error, error) {
			dl, _ := ctx.Deadline()
			mu.Lock()
			shares[team] = dl.Sub(now)
			mu.Unlock()
			return nil, nil
		},
	})
	want := map[string]time.Duration{"a": 20 * time.Second, "b": 20 * time.Second, "c": 40 * time.Second, "d": 40 * time.Second}
	if !maps.Equal(shares, want) {
		t.Errorf("shares: got %v; want %v", shares, want)
	}
}

// TestRunPartsGathersEveryTeamsAnswer: what each of the teams running at
// once sends back (a delivery the run returns, or a whole part that
// failed) reaches the batch's answer, and nothing else does.
func TestRunPartsGathersEveryTeamsAnswer(t *testing.T) {
	t.Parallel()
	errBack, errPart := errors.New("this one comes back"), errors.New("the whole part comes back")
	var ds []delivery.Delivery
	for _, team := range []string{"a", "b", "c", "d", "e", "f"} {
		ds = append(ds, deliveryOf(team, 1), deliveryOf(team, 2))
	}
	failed := map[string]error{}
	delivery.RunParts(context.Background(), ds, failed, delivery.Runner{
		Log: quiet(), Reruns: -1, Teams: 4,
		Run: func(_ context.Context, team string, part []delivery.Delivery) (map[string]error, error) {
			switch team {
			case "b", "e":
				return map[string]error{part[0].ID: errBack}, nil
			case "c":
				return map[string]error{part[0].ID: errBack}, errPart
			}
			return nil, nil
		},
	})
	got := slices.Sorted(maps.Keys(failed))
	if want := []string{"b-1", "c-1", "c-2", "e-1"}; !slices.Equal(got, want) {
		t.Fatalf("came back: got %v; want %v", got, want)
	}
	for id, want := range map[string]error{"b-1": errBack, "e-1": errBack, "c-1": errPart, "c-2": errPart} {
		if !errors.Is(failed[id], want) {
			t.Errorf("%s: got %v; want %v", id, failed[id], want)
		}
	}
}

package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/platform/backoff"
)

func TestDelay(t *testing.T) {
	t.Parallel()
	const first, limit = 100 * time.Millisecond, time.Second
	tests := []struct {
		n        int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},  // capped
		{60, 500 * time.Millisecond, time.Second}, // no overflow
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		for range 50 {
			if got := backoff.Delay(first, limit, tt.n); got < tt.min || got > tt.max {
				t.Fatalf("Delay(%v, %v, %d): got %v; want between %v and %v", first, limit, tt.n, got, tt.min, tt.max)
			}
		}
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := backoff.Wait(ctx, time.Hour, time.Hour, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled", err)
	}
	if err := backoff.Wait(context.Background(), time.Millisecond, time.Millisecond, 1); err != nil {
		t.Errorf("got %v; want nil", err)
	}
}

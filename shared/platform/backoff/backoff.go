// Package backoff is the wait between attempts that every retry loop of the
// service uses: exponential from a first wait, capped, jittered in its upper
// half so that workers retrying together spread out.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the wait before attempt n (1: the first one sent again): first
// doubled n-1 times, at most limit, then a random point of its upper half.
func Delay(first, limit time.Duration, n int) time.Duration {
	d := first << min(max(n-1, 0), 20)
	if d > limit || d <= 0 {
		d = limit
	}
	return d/2 + rand.N(d/2+1)
}

// Wait sleeps Delay(first, limit, n), or until ctx ends (its error).
func Wait(ctx context.Context, first, limit time.Duration, n int) error {
	t := time.NewTimer(Delay(first, limit, n))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

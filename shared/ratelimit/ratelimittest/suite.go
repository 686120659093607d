// Package ratelimittest is the conformance suite of the ratelimit stores:
// every implementation of ratelimit.Windows and ratelimit.Marks runs it, so
// the in-memory store the unit tests use behaves as the shared one does.
package ratelimittest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/ratelimit"
)

// Store is what the suite checks.
type Store interface {
	ratelimit.Windows
	ratelimit.Marks
}

// t0 is on a whole minute, as window starts are.
var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// Run checks the store newStore returns (a fresh, empty one per call): each
// case of cases, in parallel, on a store of its own.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, newStore(t))
		})
	}
}

// cases are the behaviours every store shares.
var cases = []struct {
	name  string
	check func(t *testing.T, s Store)
}{
	{"a window counts up to its max", countsUpToMax},
	{"windows and keys count apart", countsApart},
	{"concurrent takes never exceed the max", concurrentTakes},
	{"a mark refuses until it runs out", markRefuses},
	{"clear removes only the caller's own mark", clearOwnMark},
	{"concurrent marks set one", concurrentMarks},
}

// countsUpToMax: a window counts up to its max.
func countsUpToMax(t *testing.T, s Store) {
	ctx := context.Background()
	var got []bool
	for range 4 {
		ok, err := s.Take(ctx, "team_a#all", t0, 3, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if want := []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Errorf("four takes of a window of 3: got %v; want %v", got, want)
	}
}

// countsApart: windows count apart by key and by start.
func countsApart(t *testing.T, s Store) {
	ctx := context.Background()
	take := func(key string, start time.Time) bool {
		t.Helper()
		ok, err := s.Take(ctx, key, start, 1, start.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	steps := []struct {
		name  string
		key   string
		start time.Time
		want  bool
	}{
		{"first of team A", "team_a#all", t0, true},
		{"second of team A, full", "team_a#all", t0, false},
		{"team B's own window", "team_b#all", t0, true},
		{"team A under another rule", "team_a#retry", t0, true},
		{"team A's next window", "team_a#all", t0.Add(time.Minute), true},
	}
	for _, st := range steps {
		if got := take(st.key, st.start); got != st.want {
			t.Errorf("%s: got %v; want %v", st.name, got, st.want)
		}
	}
}

// concurrentTakes: concurrent takes of one window never count more than its max.
func concurrentTakes(t *testing.T, s Store) {
	ctx := context.Background()
	const max, callers = 5, 12
	var wg sync.WaitGroup
	results := make(chan bool, callers)
	for range callers {
		wg.Go(func() {
			ok, err := s.Take(ctx, "team_c#all", t0, max, t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			results <- ok
		})
	}
	wg.Wait()
	close(results)
	n := 0
	for ok := range results {
		if ok {
			n++
		}
	}
	if n != max {
		t.Errorf("%d concurrent takes of a window of %d: got %d counted; want %d", callers, max, n, max)
	}
}

// markRefuses: a mark refuses its key until it runs out.
func markRefuses(t *testing.T, s Store) {
	ctx := context.Background()
	until := t0.Add(2 * time.Minute)
	steps := []struct {
		name      string
		key       string
		now       time.Time
		wantUntil time.Time
		wantSet   bool
	}{
		{"first mark", "team_a#retry#x", t0, until, true},
		{"again within the period", "team_a#retry#x", t0.Add(time.Minute), until, false},
		{"just before it runs out", "team_a#retry#x", until.Add(-time.Millisecond), until, false},
		{"another key", "team_a#retry#y", t0.Add(time.Minute), t0.Add(3 * time.Minute), true},
		{"another team", "team_b#retry#x", t0.Add(time.Minute), t0.Add(3 * time.Minute), true},
		{"once it has run out", "team_a#retry#x", until, until.Add(2 * time.Minute), true},
	}
	for _, st := range steps {
		got, set, err := s.Mark(ctx, st.key, st.now, st.now.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if set != st.wantSet || !got.Equal(st.wantUntil) {
			t.Errorf("%s: got %v until %v; want %v until %v", st.name, set, got, st.wantSet, st.wantUntil)
		}
	}
}

// clearOwnMark: Clear removes only the caller's own mark.
func clearOwnMark(t *testing.T, s Store) {
	ctx := context.Background()
	mark := func(now time.Time) bool {
		t.Helper()
		_, set, err := s.Mark(ctx, "team_a#retry#x", now, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	mark(t0)
	if err := s.Clear(ctx, "team_a#retry#x", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if mark(t0.Add(time.Second)) {
		t.Errorf("after clearing another mark: got the key marked again; want it still refused")
	}
	if err := s.Clear(ctx, "team_a#retry#x", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !mark(t0.Add(2 * time.Second)) {
		t.Errorf("after clearing its own mark: got it refused; want it marked again")
	}
	if err := s.Clear(ctx, "team_a#retry#never", t0); err != nil {
		t.Errorf("clearing a key never marked: got %v; want nil", err)
	}
}

// concurrentMarks: of concurrent marks of one key, one is set.
func concurrentMarks(t *testing.T, s Store) {
	ctx := context.Background()
	const callers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	set := 0
	for range callers {
		wg.Go(func() {
			_, ok, err := s.Mark(ctx, "team_d#retry#x", t0, t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				set++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if set != 1 {
		t.Errorf("%d concurrent marks: got %d set; want 1", callers, set)
	}
}

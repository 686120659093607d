package healthtest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
)

// Run checks the store newStore returns (a fresh, empty one per call):
// each case, in parallel, on a store of its own.
func Run(t *testing.T, newStore func(t *testing.T) health.Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, newStore(t))
		})
	}
}

var cases = []struct {
	name  string
	check func(t *testing.T, s health.Store)
}{
	{"adds of a day sum per status", addsSum},
	{"teams and days count apart", countApart},
	{"a range holds both its ends and nothing outside", rangeEnds},
	{"nothing counted reads empty", readsEmpty},
	{"zero counts are not kept", zerosLeftOut},
	{"concurrent adds lose nothing", concurrentAdds},
	{"bad input is refused and writes nothing", badInput},
}

type by = map[event.Status]int

func add(t *testing.T, s health.Store, team, day string, b by) {
	t.Helper()
	if err := s.Add(context.Background(), team, day, b); err != nil {
		t.Fatalf("add %s %s %v: %v", team, day, b, err)
	}
}

func read(t *testing.T, s health.Store, team, from, to string) map[string]by {
	t.Helper()
	got, err := s.Outcomes(context.Background(), team, from, to)
	if err != nil {
		t.Fatalf("outcomes %s %s..%s: %v", team, from, to, err)
	}
	return got
}

// addsSum: two adds of a day sum per status (an ADD, not a put).
func addsSum(t *testing.T, s health.Store) {
	add(t, s, "team_a", "2026-03-04", by{event.StatusCreated: 2, event.StatusFailed: 1})
	add(t, s, "team_a", "2026-03-04", by{event.StatusCreated: 3, event.StatusExistsInSalesforce: 1})
	got := read(t, s, "team_a", "2026-03-04", "2026-03-04")
	want := map[string]by{"2026-03-04": {event.StatusCreated: 5, event.StatusFailed: 1, event.StatusExistsInSalesforce: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

// countApart: a team never reads another's counts, nor a day another's.
func countApart(t *testing.T, s health.Store) {
	add(t, s, "team_a", "2026-03-04", by{event.StatusCreated: 1})
	add(t, s, "team_a", "2026-03-05", by{event.StatusSkipped: 2})
	add(t, s, "team_b", "2026-03-04", by{event.StatusFailed: 7})
	tests := []struct {
		team string
		want map[string]by
	}{
		{"team_a", map[string]by{"2026-03-04": {event.StatusCreated: 1}, "2026-03-05": {event.StatusSkipped: 2}}},
		{"team_b", map[string]by{"2026-03-04": {event.StatusFailed: 7}}},
		{"team_c", map[string]by{}},
	}
	for _, tt := range tests {
		if got := read(t, s, tt.team, "2026-03-01", "2026-03-31"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v; want %v", tt.team, got, tt.want)
		}
	}
}

// rangeEnds: from and to are both included; the days around them are not,
// across a month's end.
func rangeEnds(t *testing.T, s health.Store) {
	for i, d := range []string{"2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03"} {
		add(t, s, "team_a", d, by{event.StatusLinked: i + 1})
	}
	got := read(t, s, "team_a", "2026-02-28", "2026-03-02")
	want := map[string]by{"2026-02-28": {event.StatusLinked: 2}, "2026-03-01": {event.StatusLinked: 3}, "2026-03-02": {event.StatusLinked: 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

// readsEmpty: a team with nothing counted reads an empty map, no error.
func readsEmpty(t *testing.T, s health.Store) {
	got := read(t, s, "team_a", "2026-03-01", "2026-03-30")
	if got == nil || len(got) != 0 {
		t.Errorf("got %#v; want an empty map", got)
	}
}

// zerosLeftOut: a zero count is not kept; an add of only zeros leaves the
// day absent.
func zerosLeftOut(t *testing.T, s health.Store) {
	add(t, s, "team_a", "2026-03-04", by{event.StatusCreated: 2, event.StatusFailed: 0})
	add(t, s, "team_a", "2026-03-05", by{event.StatusFailed: 0})
	got := read(t, s, "team_a", "2026-03-01", "2026-03-31")
	want := map[string]by{"2026-03-04": {event.StatusCreated: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

// concurrentAdds: adds racing on one day all count.
func concurrentAdds(t *testing.T, s health.Store) {
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			errs <- s.Add(context.Background(), "team_a", "2026-03-04", by{event.StatusCreated: 1, event.StatusPending: 2})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, s, "team_a", "2026-03-04", "2026-03-04")
	if want := (map[string]by{"2026-03-04": {event.StatusCreated: n, event.StatusPending: 2 * n}}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

// badInput: a team id that is not one, a day that is not one, a status that
// is not a word, and a range backwards are refused with health.ErrInvalid.
func badInput(t *testing.T, s health.Store) {
	ctx := context.Background()
	adds := []struct {
		name, team, day string
		b               by
	}{
		{"team with a separator", "team#a", "2026-03-04", by{event.StatusCreated: 1}},
		{"empty team", "", "2026-03-04", by{event.StatusCreated: 1}},
		{"day out of the calendar", "team_a", "2026-02-30", by{event.StatusCreated: 1}},
		{"day with a time", "team_a", "2026-03-04T00:00:00Z", by{event.StatusCreated: 1}},
		{"status not a word", "team_a", "2026-03-04", by{"Created Now": 1}},
		{"empty status", "team_a", "2026-03-04", by{"": 1}},
	}
	for _, tt := range adds {
		if err := s.Add(ctx, tt.team, tt.day, tt.b); !errors.Is(err, health.ErrInvalid) {
			t.Errorf("add, %s: got %v; want an error wrapping health.ErrInvalid", tt.name, err)
		}
	}
	reads := []struct{ name, team, from, to string }{
		{"team with a separator", "team#a", "2026-03-01", "2026-03-31"},
		{"from not a day", "team_a", "March", "2026-03-31"},
		{"backwards", "team_a", "2026-03-31", "2026-03-01"},
	}
	for _, tt := range reads {
		if _, err := s.Outcomes(ctx, tt.team, tt.from, tt.to); !errors.Is(err, health.ErrInvalid) {
			t.Errorf("read, %s: got %v; want an error wrapping health.ErrInvalid", tt.name, err)
		}
	}
	if got := read(t, s, "team_a", "2026-01-01", "2026-12-31"); len(got) != 0 {
		t.Errorf("after refused adds: got %v; want nothing counted", got)
	}
}

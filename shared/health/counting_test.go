package health_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthtest"
)

// publisher records the batches it is given; err is its answer.
type publisher struct {
	mu      sync.Mutex
	batches [][]event.Outcome
	err     error
}

func (p *publisher) Publish(_ context.Context, outs []event.Outcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches = append(p.batches, outs)
	return p.err
}

// addCall is one Add a counter was asked.
type addCall struct {
	team, day string
	by        map[event.Status]int
}

// recorder is a Counter recording its Adds; err is its answer.
type recorder struct {
	calls []addCall
	err   error
}

func (r *recorder) Add(_ context.Context, team, day string, by map[event.Status]int) error {
	r.calls = append(r.calls, addCall{team, day, by})
	return r.err
}

func outcome(team string, s event.Status, at time.Time) event.Outcome {
	return event.Outcome{ID: fmt.Sprintf("out_%s_%s_%d", team, s, at.UnixNano()), TeamID: team, Status: s, At: at}
}

// TestCountingOneAddPerTeamDay: a batch of outcomes of two teams, one of
// them across a UTC midnight, is counted in one Add per team and day, each
// summing its statuses.
func TestCountingOneAddPerTeamDay(t *testing.T) {
	t.Parallel()
	late := time.Date(2026, 3, 3, 23, 59, 59, 0, time.UTC)
	early := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	batch := []event.Outcome{
		outcome("team_b", event.StatusCreated, early),
		outcome("team_a", event.StatusCreated, late),
		outcome("team_a", event.StatusCreated, early),
		outcome("team_a", event.StatusFailed, early),
		outcome("team_a", event.StatusCreated, early.Add(time.Hour)),
		outcome("team_b", event.StatusSkipped, early.Add(2*time.Hour)),
		outcome("team_a", event.StatusPending, time.Time{}), // no time: counted today
	}
	next, rec := &publisher{}, &recorder{}
	c := &health.Counting{Next: next, Counts: rec, Now: func() time.Time { return early.Add(5 * time.Hour) }}
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := []addCall{
		{"team_a", "2026-03-03", map[event.Status]int{event.StatusCreated: 1}},
		{"team_a", "2026-03-04", map[event.Status]int{event.StatusCreated: 2, event.StatusFailed: 1, event.StatusPending: 1}},
		{"team_b", "2026-03-04", map[event.Status]int{event.StatusCreated: 1, event.StatusSkipped: 1}},
	}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("got adds %v; want %v", rec.calls, want)
	}
	if len(next.batches) != 1 || len(next.batches[0]) != len(batch) {
		t.Errorf("got %d batches published; want the one batch, whole", len(next.batches))
	}
}

// TestCountingAMemoryStore: the decorator on the in-memory store writes
// once per team-day, and the report reads what it counted.
func TestCountingAMemoryStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := new(healthtest.Memory)
	c := &health.Counting{Next: &publisher{}, Counts: m}
	var batch []event.Outcome
	for i := range 50 {
		batch = append(batch, outcome("team_a", event.StatusCreated, now.Add(time.Duration(i)*time.Second)))
	}
	if err := c.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := m.Writes(); got != 1 {
		t.Errorf("writes for 50 outcomes of one team-day: got %d; want 1", got)
	}
	got, err := m.Outcomes(ctx, "team_a", "2026-03-04", "2026-03-04")
	if err != nil || got["2026-03-04"][event.StatusCreated] != 50 {
		t.Errorf("got %v, %v; want 50 created", got, err)
	}
}

// TestCountingOnlyWhatWasPublished: a batch the next publisher failed is
// not counted, and its error is the decorator's.
func TestCountingOnlyWhatWasPublished(t *testing.T) {
	t.Parallel()
	boom := errors.New("queue unavailable")
	rec := &recorder{}
	c := &health.Counting{Next: &publisher{err: boom}, Counts: rec}
	err := c.Publish(context.Background(), []event.Outcome{outcome("team_a", event.StatusCreated, now)})
	if !errors.Is(err, boom) {
		t.Errorf("got %v; want the publisher's error", err)
	}
	if len(rec.calls) != 0 {
		t.Errorf("got %d adds; want none for a batch not published", len(rec.calls))
	}
}

// TestCountingFailureNeverFailsTheBatch: a failed Add is logged once, and
// Publish succeeds; the other team-days are still counted.
func TestCountingFailureNeverFailsTheBatch(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	rec := &recorder{err: errors.New("throttled")}
	c := &health.Counting{Next: &publisher{}, Counts: rec, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	err := c.Publish(context.Background(), []event.Outcome{outcome("team_a", event.StatusCreated, now), outcome("team_b", event.StatusCreated, now)})
	if err != nil {
		t.Errorf("got %v; want nil: the outcomes were published", err)
	}
	if len(rec.calls) != 2 {
		t.Errorf("got %d adds; want 2 (each team-day tried)", len(rec.calls))
	}
	if n := strings.Count(logs.String(), "health counts not kept"); n != 1 || !strings.Contains(logs.String(), "throttled") {
		t.Errorf("got logs %s; want one line with the error", logs.String())
	}
}

// TestCountingAnEmptyBatch: nothing to count, nothing written.
func TestCountingAnEmptyBatch(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	c := &health.Counting{Next: &publisher{}, Counts: rec}
	if err := c.Publish(context.Background(), nil); err != nil || len(rec.calls) != 0 {
		t.Errorf("got %v and %d adds; want nil and none", err, len(rec.calls))
	}
}

// TestCountingOnTheUTCDay: an outcome whose At is written in another zone
// counts on the UTC day of its instant, not on the day its zone's clock
// shows: near midnight the two differ, either way. An outcome without At
// counts on the UTC day of a clock in another zone.
func TestCountingOnTheUTCDay(t *testing.T) {
	t.Parallel()
	newYork := time.FixedZone("UTC-5", -5*3600)
	kolkata := time.FixedZone("UTC+5:30", 5*3600+1800)
	tests := []struct {
		name string
		at   time.Time
		now  time.Time
		want string
	}{
		{"evening west of UTC: the next UTC day", time.Date(2026, 3, 3, 20, 30, 0, 0, newYork), now, "2026-03-04"},
		{"just after midnight east of UTC: the UTC day before", time.Date(2026, 3, 4, 0, 15, 0, 0, kolkata), now, "2026-03-03"},
		{"UTC itself", time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), now, "2026-03-04"},
		{"no At: the UTC day of a clock west of UTC", time.Time{}, time.Date(2026, 3, 4, 22, 0, 0, 0, newYork), "2026-03-05"},
	}
	for _, tt := range tests {
		rec := &recorder{}
		c := &health.Counting{Next: &publisher{}, Counts: rec, Now: func() time.Time { return tt.now }}
		if err := c.Publish(context.Background(), []event.Outcome{outcome("team_a", event.StatusCreated, tt.at)}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(rec.calls) != 1 || rec.calls[0].day != tt.want {
			t.Errorf("%s: got adds %v; want one on %s", tt.name, rec.calls, tt.want)
		}
	}
}

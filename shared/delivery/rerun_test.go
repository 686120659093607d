package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func TestRerun(t *testing.T) {
	t.Parallel()
	transient := fmt.Errorf("%w: create records: %w", delivery.ErrRetry, salesforce.ErrTransient)
	other := errors.New("read outcomes: throttled")
	held := fmt.Errorf("%w: %w", delivery.ErrHeld, salesforce.ErrTransient)
	tests := []struct {
		name     string
		answers  []error // what each run returns; the last repeats
		reruns   int
		deadline time.Duration // 0: none
		want     error
		runs     int
	}{
		{"success: one run", []error{nil}, 0, 0, nil, 1},
		{"a passing 5xx: run again, done", []error{transient, nil}, 0, 0, nil, 2},
		{"two passing 5xx: the default reruns cover them", []error{transient, transient, nil}, 0, 0, nil, 3},
		{"a lasting 5xx: back to the queue after the reruns", []error{transient}, 0, 0, salesforce.ErrTransient, 3},
		{"reruns switched off", []error{transient, nil}, -1, 0, salesforce.ErrTransient, 1},
		{"one rerun asked for", []error{transient}, 1, 0, salesforce.ErrTransient, 2},
		{"not a Salesforce fault: no rerun", []error{other, nil}, 0, 0, other, 1},
		{"held: no rerun", []error{held, nil}, 0, 0, delivery.ErrHeld, 1},
		{"too close to the deadline: no rerun", []error{transient, nil}, 0, 5 * time.Second, salesforce.ErrTransient, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			runs := 0
			err := delivery.Rerun(ctx, tt.reruns, time.Millisecond, func() error {
				runs++
				return tt.answers[min(runs, len(tt.answers))-1]
			})
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Errorf("err: got %v; want %v", err, tt.want)
			}
			if runs != tt.runs {
				t.Errorf("runs: got %d; want %d", runs, tt.runs)
			}
		})
	}
}

func TestByTeam(t *testing.T) {
	t.Parallel()
	d := func(id, team string) delivery.Delivery {
		var dl delivery.Delivery
		dl.ID, dl.Event.TeamID = id, team
		return dl
	}
	ids := func(ds []delivery.Delivery) string {
		var s []string
		for _, d := range ds {
			s = append(s, d.ID)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name  string
		in    []delivery.Delivery
		teams string
		parts string // each team's ids, in the order of teams
	}{
		{"none", nil, "[]", ""},
		{"one team", []delivery.Delivery{d("1", "a"), d("2", "a")}, "[a]", "1,2"},
		{"interleaved", []delivery.Delivery{d("1", "b"), d("2", "a"), d("3", "b"), d("4", "c"), d("5", "a")}, "[b a c]", "1,3 2,5 4"},
	}
	for _, tt := range tests {
		teams, by := delivery.ByTeam(tt.in)
		var parts []string
		for _, team := range teams {
			parts = append(parts, ids(by[team]))
		}
		if got := fmt.Sprint(teams); got != tt.teams || strings.Join(parts, " ") != tt.parts || len(by) != len(teams) {
			t.Errorf("%s: got %v %v; want %v %v", tt.name, got, parts, tt.teams, tt.parts)
		}
		if len(teams) > 1 {
			first := by[teams[0]]
			_ = append(first, d("x", "x")) // must not write over the next team's part
			if got := ids(by[teams[1]]); got != strings.Split(tt.parts, " ")[1] {
				t.Errorf("%s: after appending to the first part, the second: got %v; want %v", tt.name, got, strings.Split(tt.parts, " ")[1])
			}
		}
	}
}

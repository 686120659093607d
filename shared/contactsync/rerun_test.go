package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func TestRerun(t *testing.T) {
	t.Parallel()
	transient := fmt.Errorf("%w: create records: %w", contactsync.ErrRetry, salesforce.ErrTransient)
	other := errors.New("read outcomes: throttled")
	held := fmt.Errorf("%w: %w", contactsync.ErrHeld, salesforce.ErrTransient)
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
		{"held: no rerun", []error{held, nil}, 0, 0, contactsync.ErrHeld, 1},
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
			err := contactsync.Rerun(ctx, tt.reruns, time.Millisecond, func() error {
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
	d := func(id, team string) contactsync.Delivery {
		var dl contactsync.Delivery
		dl.ID, dl.Event.TeamID = id, team
		return dl
	}
	teams, by := contactsync.ByTeam([]contactsync.Delivery{d("1", "b"), d("2", "a"), d("3", "b")})
	if fmt.Sprint(teams) != "[b a]" || len(by["b"]) != 2 || by["b"][1].ID != "3" || len(by["a"]) != 1 {
		t.Errorf("got %v %v; want [b a] with b: 1, 3 and a: 2", teams, by)
	}
}

package health_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/health"
)

func TestParseDays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		want   int
		bad    bool
	}{
		{"absent: the default", nil, 7, false},
		{"one", []string{"1"}, 1, false},
		{"thirty", []string{"30"}, 30, false},
		{"leading zeros", []string{"07"}, 7, false},
		{"zero", []string{"0"}, 0, true},
		{"thirty-one", []string{"31"}, 0, true},
		{"a word", []string{"abc"}, 0, true},
		{"empty", []string{""}, 0, true},
		{"a sign", []string{"+7"}, 0, true},
		{"negative", []string{"-7"}, 0, true},
		{"a fraction", []string{"7.0"}, 0, true},
		{"spaces", []string{" 7"}, 0, true},
		{"huge", []string{"99999999999999999999"}, 0, true},
		{"given twice", []string{"7", "7"}, 0, true},
	}
	for _, tt := range tests {
		got, err := health.ParseDays(tt.values)
		if tt.bad {
			if !errors.Is(err, health.ErrDays) {
				t.Errorf("%s: got %d, %v; want ErrDays", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
}

func TestDaysEndTodayUTC(t *testing.T) {
	t.Parallel()
	la := time.FixedZone("UTC-8", -8*3600)
	tests := []struct {
		name string
		now  time.Time
		n    int
		want []string
	}{
		{"one day: today", time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), 1, []string{"2026-03-04"}},
		{"the last instant of a day", time.Date(2026, 3, 4, 23, 59, 59, 999999999, time.UTC), 2, []string{"2026-03-03", "2026-03-04"}},
		{"the first instant of a day", time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), 2, []string{"2026-03-04", "2026-03-05"}},
		{"a clock in another zone counts UTC days", time.Date(2026, 3, 4, 20, 0, 0, 0, la), 1, []string{"2026-03-05"}},
		{"across a month and a leap day", time.Date(2028, 3, 1, 1, 0, 0, 0, time.UTC), 3, []string{"2028-02-28", "2028-02-29", "2028-03-01"}},
		{"across a year", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 2, []string{"2026-12-31", "2027-01-01"}},
	}
	for _, tt := range tests {
		if got := health.Days(tt.now, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	if got := health.Days(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), 30); len(got) != 30 || got[0] != "2026-02-03" || got[29] != "2026-03-04" {
		t.Errorf("30 days: got %d from %s to %s; want 30 from 2026-02-03 to 2026-03-04", len(got), got[0], got[len(got)-1])
	}
}

func TestValidDay(t *testing.T) {
	t.Parallel()
	for day, want := range map[string]bool{
		"2026-03-04": true, "2028-02-29": true, "2026-02-29": false, "2026-3-4": false, "2026-03-04T00:00:00Z": false, "": false, "today": false,
	} {
		if got := health.ValidDay(day); got != want {
			t.Errorf("ValidDay(%q): got %v; want %v", day, got, want)
		}
	}
}

// TestKeepOutlivesTheLongestReport: what a report reads of a day is kept
// until the longest report that shows the day can no longer be asked: its
// oldest day began MaxDays-1 days before today, which ends a day later.
func TestKeepOutlivesTheLongestReport(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 3, 4, 23, 59, 59, 0, time.UTC)
	days := health.Days(today, health.MaxDays)
	oldest, _ := health.DayStart(days[0])
	if end := today.Add(time.Second); oldest.Add(health.Keep).Before(end) {
		t.Errorf("got %s kept until %s; want it kept until at least %s, the end of the last day that shows it", days[0], oldest.Add(health.Keep), end)
	}
}

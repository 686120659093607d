package connecthttp

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/readiness"
)

// TestAfterConnectTimeKeepsToTheRequestsDeadline: the report after a
// connect gets at most 8 s, never past the request's deadline less 2 s, and
// is skipped with less than 2 s.
func TestAfterConnectTimeKeepsToTheRequestsDeadline(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		left   time.Duration // 0: no deadline
		want   time.Duration
		wantOK bool
	}{
		{"no deadline", 0, 8 * time.Second, true},
		{"a fresh 15 s request", 15 * time.Second, 8 * time.Second, true},
		{"a slow connect left 6 s", 6 * time.Second, 4 * time.Second, true},
		{"exactly enough", 4 * time.Second, 2 * time.Second, true},
		{"too little left", 3500 * time.Millisecond, 1500 * time.Millisecond, false},
		{"past the deadline", -time.Second, -3 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tc.left != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, now.Add(tc.left))
				defer cancel()
			}
			got, ok := afterConnectTime(ctx, now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("got %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// countingReadiness counts the reports asked for and keeps their deadlines.
type countingReadiness struct {
	calls    int
	deadline time.Time
}

func (c *countingReadiness) AfterConnect(ctx context.Context, _ string) (*readiness.Summary, error) {
	c.calls++
	c.deadline, _ = ctx.Deadline()
	return &readiness.Summary{}, nil
}

func (c *countingReadiness) Summary(context.Context, string, string) (*readiness.Summary, error) {
	return nil, nil
}

// TestAfterConnectSkipsTheReportWithoutTime: a connect whose request has
// little time left answers without the report (the first GET makes it);
// with time, the report's deadline comes before the request's.
func TestAfterConnectSkipsTheReportWithoutTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		left      time.Duration
		wantCalls int
	}{
		{"time left", 12 * time.Second, 1},
		{"little time left", time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), tc.left)
			defer cancel()
			rd := &countingReadiness{}
			h := &Handlers{Readiness: rd}
			r := httptest.NewRequestWithContext(ctx, "POST", "/v1/salesforce/connect/complete", nil)
			s := h.afterConnect(r, "team_a")
			if rd.calls != tc.wantCalls || (s != nil) != (tc.wantCalls == 1) {
				t.Fatalf("reports: got %d (summary %v); want %d", rd.calls, s, tc.wantCalls)
			}
			if dl, _ := ctx.Deadline(); tc.wantCalls == 1 && !rd.deadline.Before(dl.Add(-afterConnectReserve+time.Millisecond)) {
				t.Errorf("report deadline: got %v; want at least %v before the request's %v", rd.deadline, afterConnectReserve, dl)
			}
		})
	}
}

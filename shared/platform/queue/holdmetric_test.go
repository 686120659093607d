package queue

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/platform/metrics"
)

// TestHoldMetric: a held message counts towards the alarm metric of why it
// is held; a needs_admin connection's error, which also matches
// ErrNeedsReauth (so it is held alike), counts as NeedsAdmin; a refresh
// refused for this deployment's connected app, which matches
// ErrNeedsReauth too, as AppRefused (the operator's alarm, not the team's).
func TestHoldMetric(t *testing.T) {
	t.Parallel()
	admin := &connection.AdminError{Problem: connection.Problem{Reason: "inactive_user", Message: "reactivate them"}}
	app := &connection.AppRefusedError{Problem: connection.Problem{Reason: "invalid_client", Message: "check the secret", Deployment: true}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"needs_reauth", fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth), metrics.NeedsReauth},
		{"needs_admin", fmt.Errorf("%w: open org: %w", delivery.ErrHeld, admin), metrics.NeedsAdmin},
		{"connected app refused", fmt.Errorf("%w: look emails up: refresh after POST /composite: %w", delivery.ErrHeld, app), metrics.AppRefused},
		{"budget", fmt.Errorf("%w: %w", delivery.ErrHeld, budget.ErrCapped), metrics.BudgetExceeded},
		{"not held", admin, ""},
		{"held for another cause", fmt.Errorf("%w: %w", delivery.ErrHeld, errors.New("parked add")), ""},
	}
	for _, tt := range tests {
		if got := holdMetric(tt.err); got != tt.want {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
}

package connecthttp

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
)

// percent is a team's budget setting as a store answers it.
type percent int

func (p percent) BudgetPercent(context.Context, string) (int, error) { return int(p), nil }

// TestStatusBudgetIsTheOneView: the status route's budget is budget.View
// of today's calls and the org's usage, as the health report's is: a
// percent out of 1..100 shows as the default the governor applies, the cap
// is absent until the org's allocation is known, and calls of another day
// are not today's.
func TestStatusBudgetIsTheOneView(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 23, 30, 0, 0, time.UTC)
	today := &connection.Usage{Used: 100, Limit: 15000, ServiceCalls: 6000, ServiceDay: "2026-03-04"}
	tests := []struct {
		name    string
		percent percent
		usage   *connection.Usage
		want    string
	}{
		{"near the cap", 50, today, `{"percent":50,"cap":7500,"calls_today":6000,"state":"near_cap"}`},
		{"capped", 40, today, `{"percent":40,"cap":6000,"calls_today":6000,"state":"capped"}`},
		{"a percent out of range: the default", 0, today, `{"percent":50,"cap":7500,"calls_today":6000,"state":"near_cap"}`},
		{"no usage reported: no cap", 20, nil, `{"percent":20,"calls_today":0,"state":"ok"}`},
		{"yesterday's calls", 50, &connection.Usage{Used: 100, Limit: 15000, ServiceCalls: 7500, ServiceDay: "2026-03-03"},
			`{"percent":50,"cap":7500,"calls_today":0,"state":"ok"}`},
	}
	for _, tt := range tests {
		h := &Handlers{Budgets: tt.percent, Now: func() time.Time { return now }}
		b, err := h.budget(context.Background(), "team_a", tt.usage)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, _ := json.Marshal(b)
		if string(got) != tt.want {
			t.Errorf("%s: got %s; want %s", tt.name, got, tt.want)
		}
	}
	if b, err := (&Handlers{}).budget(context.Background(), "team_a", today); b != nil || err != nil {
		t.Errorf("no budgets: got %+v, %v; want none", b, err)
	}
}

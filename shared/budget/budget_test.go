package budget

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestAllow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    Figures
		p    Priority
		want error
	}{
		{"nothing reported yet", Figures{Service: 1000}, High, nil},
		{"well under the cap", Figures{OrgUsed: 100, OrgLimit: 15000, Service: 100, Percent: 20}, Low, nil},
		{"high priority near the cap goes on", Figures{OrgUsed: 2500, OrgLimit: 15000, Service: 2500, Percent: 20}, High, nil},
		{"low priority near the cap waits", Figures{OrgUsed: 2500, OrgLimit: 15000, Service: 2400, Percent: 20}, Low, ErrNearCap},
		{"low priority just under near goes on", Figures{OrgUsed: 2500, OrgLimit: 15000, Service: 2399, Percent: 20}, Low, nil},
		{"at the cap everything waits", Figures{OrgUsed: 3000, OrgLimit: 15000, Service: 3000, Percent: 20}, High, ErrCapped},
		{"org out of calls by others", Figures{OrgUsed: 15000, OrgLimit: 15000, Service: 10, Percent: 100}, High, ErrCapped},
		{"unset percent takes the default", Figures{OrgUsed: 7500, OrgLimit: 15000, Service: 7500}, High, ErrCapped},
		{"unset percent under the default", Figures{OrgUsed: 7499, OrgLimit: 15000, Service: 7499}, High, nil},
		{"full allocation allowed", Figures{OrgUsed: 14999, OrgLimit: 15000, Service: 14999, Percent: 100}, High, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Allow(tt.f, tt.p)
			if tt.want == nil && got != nil || tt.want != nil && !errors.Is(got, tt.want) {
				t.Errorf("Allow(%+v, %v): got %v; want %v", tt.f, tt.p, got, tt.want)
			}
		})
	}
}

func TestCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    Figures
		want int
	}{
		{Figures{OrgLimit: 15000, Percent: 20}, 3000},
		{Figures{OrgLimit: 15000}, 7500},
		{Figures{OrgLimit: 15000, Percent: 101}, 7500},
		{Figures{Percent: 20}, -1},
	}
	for _, tt := range tests {
		if got := tt.f.Cap(); got != tt.want {
			t.Errorf("Cap(%+v): got %d; want %d", tt.f, got, tt.want)
		}
	}
}

// TestView: the view of a team's budget normalizes a percent out of 1..100
// as the cap does, has no cap until the org's allocation is known, and
// words the governor's decision for low-value work.
func TestView(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    Figures
		want string // the view as JSON
	}{
		{"nothing reported yet: no cap", Figures{Service: 1000, Percent: 20},
			`{"percent":20,"calls_today":1000,"state":"ok"}`},
		{"well under the cap", Figures{OrgUsed: 100, OrgLimit: 15000, Service: 100, Percent: 20},
			`{"percent":20,"cap":3000,"calls_today":100,"state":"ok"}`},
		{"near the cap", Figures{OrgUsed: 2500, OrgLimit: 15000, Service: 2400, Percent: 20},
			`{"percent":20,"cap":3000,"calls_today":2400,"state":"near_cap"}`},
		{"just under near", Figures{OrgUsed: 2500, OrgLimit: 15000, Service: 2399, Percent: 20},
			`{"percent":20,"cap":3000,"calls_today":2399,"state":"ok"}`},
		{"at the cap", Figures{OrgUsed: 3000, OrgLimit: 15000, Service: 3000, Percent: 20},
			`{"percent":20,"cap":3000,"calls_today":3000,"state":"capped"}`},
		{"the org out of calls", Figures{OrgUsed: 15000, OrgLimit: 15000, Service: 1, Percent: 10},
			`{"percent":10,"cap":1500,"calls_today":1,"state":"capped"}`},
		{"a cap of no calls", Figures{OrgLimit: 1, Percent: 50},
			`{"percent":50,"cap":0,"calls_today":0,"state":"capped"}`},
		{"unset percent: the default", Figures{OrgLimit: 15000},
			`{"percent":50,"cap":7500,"calls_today":0,"state":"ok"}`},
		{"percent over 100: the default", Figures{OrgLimit: 15000, Percent: 101},
			`{"percent":50,"cap":7500,"calls_today":0,"state":"ok"}`},
		{"negative percent: the default", Figures{OrgLimit: 15000, Service: 7500, Percent: -5},
			`{"percent":50,"cap":7500,"calls_today":7500,"state":"capped"}`},
		{"percent out of range, no allocation: the default", Figures{Percent: 0},
			`{"percent":50,"calls_today":0,"state":"ok"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.f.View())
		if got := string(b); err != nil || got != tt.want {
			t.Errorf("%s: View(%+v): got %s, %v; want %s", tt.name, tt.f, got, err, tt.want)
		}
	}
}

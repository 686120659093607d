package event

import (
	"strings"
	"testing"
)

func TestCheckTeamID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"team_a", true},
		{"T1.eu-west:7", true},
		{strings.Repeat("t", MaxIDLength), true},
		{"", false},
		{strings.Repeat("t", MaxIDLength+1), false},
		{"team#a", false},
		{"_team", false},
		{"team a", false},
		{"team/a", false},
		{"tëam", false},
		{"team\n", false},
	}
	for _, tt := range tests {
		err := CheckTeamID(tt.id)
		if (err == nil) != tt.want {
			t.Errorf("CheckTeamID(%.20q): got %v; want accepted=%v", tt.id, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "team_id") {
			t.Errorf("CheckTeamID(%.20q): got %q; want it to name team_id", tt.id, err)
		}
	}
}

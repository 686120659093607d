package connection

import "testing"

// The connected user's time zone is kept only when Go knows it: a name
// the ActivityDate could not be computed in is as if none were given.
func TestTimeZoneOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"America/Los_Angeles", "America/Los_Angeles"},
		{"Europe/Paris", "Europe/Paris"},
		{"", ""},
		{"Local", ""},
		{"Mars/Olympus_Mons", ""},
		{"../../etc/passwd", ""},
	}
	for _, tt := range tests {
		if got := timeZoneOf(tt.in); got != tt.want {
			t.Errorf("timeZoneOf(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

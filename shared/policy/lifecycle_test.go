package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// withLifecycleDefaults is want with the lifecycle settings a PUT leaves
// out set as ParseTeamSettings sets them: write-backs on, 400 days.
func withLifecycleDefaults(want TeamSettings) TeamSettings {
	if want.BounceWritebackSetting == nil {
		want.SetBounceWriteback(true)
	}
	if want.OptOutWritebackSetting == nil {
		want.SetOptOutWriteback(true)
	}
	if want.RetentionDays == 0 {
		want.RetentionDays = DefaultRetentionDays
	}
	return want
}

func TestParseLifecycleSettings(t *testing.T) {
	t.Parallel()
	type lifecycle struct {
		bounce, optOut bool
		days           int
	}
	defaults := lifecycle{true, true, 400}
	tests := []struct {
		name    string
		members string
		field   string // "" for valid
		problem string
		want    lifecycle
	}{
		{name: "absent: the defaults", want: defaults},
		{name: "every setting", members: `"bounce_writeback":false,"optout_writeback":false,"retention_days":90`, want: lifecycle{false, false, 90}},
		{name: "write-backs on, said so", members: `"bounce_writeback":true,"optout_writeback":true`, want: defaults},
		{name: "bounce off only", members: `"bounce_writeback":false`, want: lifecycle{false, true, 400}},
		{name: "opt-out off only", members: `"optout_writeback":false`, want: lifecycle{true, false, 400}},
		{name: "retention at its least", members: `"retention_days":30`, want: lifecycle{true, true, 30}},
		{name: "retention at its most", members: `"retention_days":3650`, want: lifecycle{true, true, 3650}},
		{name: "retention below its least", members: `"retention_days":29`, field: "retention_days", problem: "must be a whole number of days from 30 to 3650"},
		{name: "retention above its most", members: `"retention_days":3651`, field: "retention_days", problem: "must be a whole number of days from 30 to 3650"},
		{name: "retention zero", members: `"retention_days":0`, field: "retention_days", problem: "from 30 to 3650"},
		{name: "retention negative", members: `"retention_days":-400`, field: "retention_days", problem: "from 30 to 3650"},
		{name: "retention fraction", members: `"retention_days":90.5`, field: "retention_days", problem: "from 30 to 3650"},
		{name: "retention huge", members: `"retention_days":4294967697`, field: "retention_days", problem: "from 30 to 3650"},
		{name: "retention a string", members: `"retention_days":"90"`, field: "retention_days", problem: "from 30 to 3650"},
		{name: "retention null", members: `"retention_days":null`, field: "retention_days", problem: "from 30 to 3650"},
		{name: "retention a boolean", members: `"retention_days":true`, field: "retention_days", problem: "from 30 to 3650"},
		{name: "bounce_writeback a string", members: `"bounce_writeback":"true"`, field: "bounce_writeback", problem: "must be true or false"},
		{name: "bounce_writeback a number", members: `"bounce_writeback":1`, field: "bounce_writeback", problem: "must be true or false"},
		{name: "bounce_writeback null", members: `"bounce_writeback":null`, field: "bounce_writeback", problem: "must be true or false"},
		{name: "optout_writeback a string", members: `"optout_writeback":"false"`, field: "optout_writeback", problem: "must be true or false"},
		{name: "optout_writeback an object", members: `"optout_writeback":{}`, field: "optout_writeback", problem: "must be true or false"},
		{name: "optout_writeback null", members: `"optout_writeback":null`, field: "optout_writeback", problem: "must be true or false"},
		{name: "misspelt opt_out_writeback", members: `"opt_out_writeback":false`, field: "opt_out_writeback", problem: "unknown field"},
		{name: "duplicate retention_days", members: `"retention_days":90,"retention_days":30`, field: "retention_days", problem: "more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTeamSettings([]byte(withBase(tt.members)))
			checkParse(t, err, tt.field, tt.problem)
			if tt.field != "" {
				return
			}
			if got, want := (lifecycle{got.BounceWriteback(), got.OptOutWriteback(), got.RetainDays()}), tt.want; got != want {
				t.Errorf("BounceWriteback, OptOutWriteback, RetainDays: got %v; want %v", got, want)
			}
			// The values are set, not left to the defaults' reading.
			if got.BounceWritebackSetting == nil || got.OptOutWritebackSetting == nil || got.RetentionDays == 0 {
				t.Errorf("stored fields: got %v, %v, %v; want all set", got.BounceWritebackSetting, got.OptOutWritebackSetting, got.RetentionDays)
			}
			if got, want := got.Retention(), time.Duration(tt.want.days)*24*time.Hour; got != want {
				t.Errorf("Retention: got %v; want %v", got, want)
			}
		})
	}
}

// TestLifecycleDefaults: a version saved before the lifecycle settings
// existed (nil switches, no retention) reads as write-backs on and 400
// days; set values read as set; DefaultTeamSettings states the defaults.
func TestLifecycleDefaults(t *testing.T) {
	t.Parallel()
	off := TeamSettings{}
	off.SetBounceWriteback(false)
	off.SetOptOutWriteback(false)
	off.RetentionDays = 30
	tests := []struct {
		name           string
		s              TeamSettings
		bounce, optOut bool
		retention      time.Duration
	}{
		{"older version", TeamSettings{}, true, true, 400 * 24 * time.Hour},
		{"the defaults", DefaultTeamSettings(), true, true, 400 * 24 * time.Hour},
		{"turned off, kept 30 days", off, false, false, 30 * 24 * time.Hour},
		{"retention at its most", TeamSettings{RetentionDays: MaxRetentionDays}, true, true, 3650 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got, want := [2]bool{tt.s.BounceWriteback(), tt.s.OptOutWriteback()}, [2]bool{tt.bounce, tt.optOut}; got != want {
			t.Errorf("%s BounceWriteback, OptOutWriteback: got %v; want %v", tt.name, got, want)
		}
		if got, want := tt.s.Retention(), tt.retention; got != want {
			t.Errorf("%s Retention: got %v; want %v", tt.name, got, want)
		}
	}
	d := DefaultTeamSettings()
	if d.BounceWritebackSetting == nil || !*d.BounceWritebackSetting || d.OptOutWritebackSetting == nil || !*d.OptOutWritebackSetting || d.RetentionDays != DefaultRetentionDays {
		t.Errorf("DefaultTeamSettings: got %v, %v, %v; want true, true, %v stated", d.BounceWritebackSetting, d.OptOutWritebackSetting, d.RetentionDays, DefaultRetentionDays)
	}
	// Each call states its own switches: changing one changes no other.
	d.SetBounceWriteback(false)
	*d.OptOutWritebackSetting = false
	if again := DefaultTeamSettings(); !again.BounceWriteback() || !again.OptOutWriteback() {
		t.Errorf("DefaultTeamSettings after a change to an earlier one: got %v, %v; want true, true", again.BounceWriteback(), again.OptOutWriteback())
	}
}

// TestValidateRetention: Validate holds a stored retention_days to its
// bounds; 0 (a version saved before it existed) is the default.
func TestValidateRetention(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		days int
		ok   bool
	}{{0, true}, {29, false}, {30, true}, {400, true}, {3650, true}, {3651, false}, {-1, false}} {
		s := DefaultTeamSettings()
		s.RetentionDays = tt.days
		err := s.Validate()
		if got, want := err == nil, tt.ok; got != want {
			t.Errorf("Validate with %d days: got %v; want ok %v", tt.days, err, want)
		}
		if err != nil {
			checkParse(t, err, "retention_days", "from 30 to 3650")
		}
	}
}

// TestLifecycleSettingsJSON: the settings are written under their JSON
// names, a switch nil (a version saved before it existed) left out, a
// switch set to false kept.
func TestLifecycleSettingsJSON(t *testing.T) {
	t.Parallel()
	off := DefaultTeamSettings()
	off.SetBounceWriteback(false)
	tests := []struct {
		name string
		s    TeamSettings
		want map[string]any // members; nil: absent
	}{
		{"older version", TeamSettings{}, map[string]any{"bounce_writeback": nil, "optout_writeback": nil, "retention_days": 0.0}},
		{"the defaults", DefaultTeamSettings(), map[string]any{"bounce_writeback": true, "optout_writeback": true, "retention_days": 400.0}},
		{"bounce off", off, map[string]any{"bounce_writeback": false, "optout_writeback": true, "retention_days": 400.0}},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for k, want := range tt.want {
			if got := m[k]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: got %v; want %v", tt.name, k, got, want)
			}
		}
		var back TeamSettings
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got, want := [3]any{back.BounceWriteback(), back.OptOutWriteback(), back.Retention()}, [3]any{tt.s.BounceWriteback(), tt.s.OptOutWriteback(), tt.s.Retention()}; got != want {
			t.Errorf("%s read back: got %v; want %v", tt.name, got, want)
		}
	}
}

// TestCloneSharesNothing: a clone's switches, kinds and domains are its
// own.
func TestCloneSharesNothing(t *testing.T) {
	t.Parallel()
	s := DefaultTeamSettings()
	s.FreeMailDomains = []string{"proton.me"}
	c := s.Clone()
	if !reflect.DeepEqual(c, s) {
		t.Fatalf("Clone: got %+v; want %+v", c, s)
	}
	*c.BounceWritebackSetting = false
	c.SetOptOutWriteback(false)
	c.ActivityKinds[ActivityOpened] = true
	c.FreeMailDomains[0] = "gmx.net"
	if !s.BounceWriteback() || !s.OptOutWriteback() || s.ActivityKinds[ActivityOpened] || s.FreeMailDomains[0] != "proton.me" {
		t.Errorf("original after changing the clone: got %+v; want it unchanged", s)
	}
	if got := (TeamSettings{}).Clone(); got.BounceWritebackSetting != nil || got.OptOutWritebackSetting != nil || got.FreeMailDomains != nil {
		t.Errorf("Clone of an older version: got %+v; want the switches and domains left unset", got)
	}
}

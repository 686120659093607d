package policyhttp_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/policy"
)

// TestLifecycleSettingsThroughTheRoute: bounce_writeback, optout_writeback
// and retention_days are shown at their effective values: the defaults
// before anything is saved, as saved, back at the defaults when a PUT
// leaves them out, and the defaults for a version saved before they
// existed (which holds none of them), in the history too.
func TestLifecycleSettingsThroughTheRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	defaults := map[string]any{"bounce_writeback": true, "optout_writeback": true, "retention_days": 400.0}
	check := func(name string, r response, want map[string]any) {
		t.Helper()
		s := r.json(t)["settings"].(map[string]any)
		for _, k := range []string{"bounce_writeback", "optout_writeback", "retention_days"} {
			if got, w := s[k], want[k]; !reflect.DeepEqual(got, w) {
				t.Errorf("%s: %s: got %#v; want %#v", name, k, got, w)
			}
		}
	}
	check("version 0", a.do(adminA, "GET", settingsPath, settingsPath, "", ""), defaults)

	saved := map[string]any{"bounce_writeback": false, "optout_writeback": false, "retention_days": 30.0}
	r := a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, `{`+baseSettings+`,"bounce_writeback":false,"optout_writeback":false,"retention_days":30}`)
	if r.status != 200 {
		t.Fatalf("PUT: got %d %s; want 200", r.status, r.body)
	}
	check("PUT answer", r, saved)
	check("GET", a.do(adminA, "GET", settingsPath, settingsPath, "", ""), saved)
	v, err := a.store.TeamSettings(context.Background(), "team_a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := [3]any{v.Document.BounceWriteback(), v.Document.OptOutWriteback(), v.Document.RetainDays()}, [3]any{false, false, 30}; got != want {
		t.Errorf("stored BounceWriteback, OptOutWriteback, RetainDays: got %v; want %v", got, want)
	}

	if r = a.do(adminA, "PUT", settingsPath, settingsPath, `"1"`, `{`+baseSettings+`,"retention_days":3650}`); r.status != 200 {
		t.Fatalf("PUT without the switches: got %d %s; want 200", r.status, r.body)
	}
	check("switches left out", r, map[string]any{"bounce_writeback": true, "optout_writeback": true, "retention_days": 3650.0})

	old := policy.DefaultTeamSettings()
	old.BounceWritebackSetting, old.OptOutWritebackSetting, old.RetentionDays = nil, nil, 0
	if _, err := a.store.SaveTeamSettings(context.Background(), "team_a", "older", old, 2); err != nil {
		t.Fatal(err)
	}
	check("an older version", a.do(adminA, "GET", settingsPath, settingsPath, "", ""), defaults)
	h := a.do(adminA, "GET", historyPath, historyPath, "", "").json(t)["versions"].([]any)
	if len(h) != 3 {
		t.Fatalf("history: got %d versions; want 3", len(h))
	}
	for i, want := range []map[string]any{defaults, {"bounce_writeback": true, "optout_writeback": true, "retention_days": 3650.0}, saved} {
		check(fmt.Sprintf("history %d", i), response{body: mustJSON(t, h[i])}, want)
	}
}

// TestBadLifecycleSettings: each bad value is a 400 naming its field, and
// nothing is saved.
func TestBadLifecycleSettings(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		name, members, field, message string
	}{
		{"retention below its least", `"retention_days":29`, "retention_days", "from 30 to 3650"},
		{"retention above its most", `"retention_days":3651`, "retention_days", "from 30 to 3650"},
		{"retention a string", `"retention_days":"400"`, "retention_days", "from 30 to 3650"},
		{"retention null", `"retention_days":null`, "retention_days", "from 30 to 3650"},
		{"bounce_writeback a string", `"bounce_writeback":"false"`, "bounce_writeback", "true or false"},
		{"bounce_writeback null", `"bounce_writeback":null`, "bounce_writeback", "true or false"},
		{"optout_writeback a number", `"optout_writeback":0`, "optout_writeback", "true or false"},
	}
	for _, tt := range tests {
		r := a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, `{`+baseSettings+`,`+tt.members+`}`)
		field, msg := r.errorField(t)
		if r.status != 400 || field != tt.field || !strings.Contains(msg, tt.message) {
			t.Errorf("%s: got %d field %q message %q; want 400 naming %s with %q", tt.name, r.status, field, msg, tt.field, tt.message)
		}
	}
	if r := a.do(adminA, "GET", settingsPath, settingsPath, "", ""); r.etag != `"0"` {
		t.Errorf("got ETag %s after bad input; want \"0\" (nothing saved)", r.etag)
	}
}

package policyhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// fakeUsers is the teams' orgs as the settings route checks users in them.
type fakeUsers struct {
	mu     sync.Mutex
	answer map[string]error // user id -> CheckUser's answer; absent: no such user
	calls  []string         // "team/user" of each check
}

func (f *fakeUsers) CheckUser(_ context.Context, team, user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, team+"/"+user)
	if err, ok := f.answer[user]; ok {
		return err
	}
	return fmt.Errorf("look up user %s: %w", user, policy.ErrUserNotFound)
}

func (f *fakeUsers) set(user string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer[user] = err
}

// took returns the checks made since the last call.
func (f *fakeUsers) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

const (
	activeUser   = "0055g00000Ab1CdAAJ"
	inactiveUser = "0055g00000Zq7RtAAB"
	missingUser  = "0055g00000Mm9XyAAC"
	newUser      = "0055g00000Nw4PqAAD"
	baseSettings = `"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true`
)

// withFallback is a settings document with owner_fallback_user_id set to
// user ("-": left out).
func withFallback(user string) string {
	if user == "-" {
		return "{" + baseSettings + "}"
	}
	return `{` + baseSettings + `,"owner":"fallback_only","owner_fallback_user_id":"` + user + `"}`
}

// TestFallbackUserCheckedAgainstTheOrg: a new owner_fallback_user_id is
// saved only when the team's org has it active; not found and inactive are
// 400s naming the field; a value unchanged from the current version, or
// cleared, is not checked again; a stale If-Match is refused before any
// check; a team not connected is told to connect first.
func TestFallbackUserCheckedAgainstTheOrg(t *testing.T) {
	t.Parallel()
	users := &fakeUsers{answer: map[string]error{activeUser: nil, inactiveUser: fmt.Errorf("user %s: %w", inactiveUser, policy.ErrUserInactive)}}
	a := newAPIWith(t, users)
	steps := []struct {
		name, ifMatch, body string
		before              func()
		status              int
		etag                string // the ETag of the settings after the step
		field, message      string // of an error
		calls               []string
	}{
		{name: "found and active: saved", ifMatch: `"0"`, body: withFallback(activeUser), status: 200, etag: `"1"`, calls: []string{"team_a/" + activeUser}},
		{name: "not found", ifMatch: `"1"`, body: withFallback(missingUser), status: 400, etag: `"1"`,
			field: "owner_fallback_user_id", message: "no such Salesforce user in the connected org", calls: []string{"team_a/" + missingUser}},
		{name: "inactive", ifMatch: `"1"`, body: withFallback(inactiveUser), status: 400, etag: `"1"`,
			field: "owner_fallback_user_id", message: "the Salesforce user is inactive", calls: []string{"team_a/" + inactiveUser}},
		{name: "unchanged: not checked again", ifMatch: `"1"`, body: withFallback(activeUser), status: 200, etag: `"2"`,
			before: func() { users.set(activeUser, policy.ErrUserInactive) }},
		{name: "cleared: the connected user, not checked", ifMatch: `"2"`, body: withFallback(""), status: 200, etag: `"3"`},
		{name: "left out: not checked", ifMatch: `"3"`, body: withFallback("-"), status: 200, etag: `"4"`},
		{name: "set again after clearing: checked", ifMatch: `"4"`, body: withFallback(activeUser), status: 400, etag: `"4"`,
			field: "owner_fallback_user_id", message: "inactive", calls: []string{"team_a/" + activeUser}},
		{name: "a stale If-Match: refused before the check", ifMatch: `"3"`, body: withFallback(newUser), status: 412, etag: `"4"`,
			field: "If-Match", message: "the current version is 4", before: func() { users.set(newUser, nil) }},
		{name: "not connected", ifMatch: `"4"`, body: withFallback(newUser), status: 409, etag: `"4"`, message: "connect Salesforce first",
			before: func() { users.set(newUser, fmt.Errorf("open org: %w", connection.ErrNotConnected)) }, calls: []string{"team_a/" + newUser}},
		{name: "Salesforce unavailable", ifMatch: `"4"`, body: withFallback(newUser), status: 502, etag: `"4"`, message: "did not answer",
			before: func() { users.set(newUser, fmt.Errorf("query user: %w", salesforce.ErrTransient)) }, calls: []string{"team_a/" + newUser}},
		{name: "the org's API limit", ifMatch: `"4"`, body: withFallback(newUser), status: 429, etag: `"4"`, message: "daily API limit",
			before: func() { users.set(newUser, fmt.Errorf("query user: %w", salesforce.ErrRequestLimit)) }, calls: []string{"team_a/" + newUser}},
		{name: "If-Match *: checked, saved", ifMatch: "*", body: withFallback(newUser), status: 200, etag: `"5"`,
			before: func() { users.set(newUser, nil) }, calls: []string{"team_a/" + newUser}},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		r := a.do(adminA, "PUT", settingsPath, settingsPath, st.ifMatch, st.body)
		if r.status != st.status {
			t.Fatalf("%s: got %d %s; want %d", st.name, r.status, r.body, st.status)
		}
		if st.status != 200 {
			field, msg := r.errorField(t)
			if field != st.field || !strings.Contains(msg, st.message) {
				t.Errorf("%s: got field %q message %q; want field %q with %q", st.name, field, msg, st.field, st.message)
			}
		}
		if got := users.took(); !slices.Equal(got, st.calls) {
			t.Errorf("%s: got checks %v; want %v", st.name, got, st.calls)
		}
		if g := a.do(adminA, "GET", settingsPath, settingsPath, "", ""); g.etag != st.etag {
			t.Errorf("%s: got ETag %s after it; want %s", st.name, g.etag, st.etag)
		}
	}
	r := a.do(adminA, "GET", settingsPath, settingsPath, "", "")
	if got := r.json(t)["settings"].(map[string]any)["owner_fallback_user_id"]; got != newUser {
		t.Errorf("saved owner_fallback_user_id: got %v; want %s", got, newUser)
	}

	// Another team's first save of the same user is its own change: checked,
	// in its own org.
	if r := a.do(adminB, "PUT", settingsPath, settingsPath, `"0"`, withFallback(newUser)); r.status != 200 {
		t.Errorf("team_b: got %d %s; want 200", r.status, r.body)
	}
	if got, want := users.took(), []string{"team_b/" + newUser}; !slices.Equal(got, want) {
		t.Errorf("team_b checks: got %v; want %v", got, want)
	}
}

// TestAttributionSettingsThroughTheRoute: the owner, Account, free-mail and
// time zone settings are shown at their defaults, saved and read back
// (free-mail domains normalized), return to their defaults when a PUT
// leaves them out, and a version saved before they existed shows them at
// their defaults. Without a UserChecker, a well-formed fallback user is
// saved unchecked.
func TestAttributionSettingsThroughTheRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	defaults := map[string]any{"owner": "rep", "account_matching": "domain", "account_fallback": "create", "free_mail_domains": []any{}}
	check := func(name string, r response, want map[string]any) {
		t.Helper()
		s := r.json(t)["settings"].(map[string]any)
		for _, k := range []string{"owner", "owner_fallback_user_id", "account_matching", "account_fallback", "free_mail_domains", "time_zone"} {
			if got, w := s[k], want[k]; !reflect.DeepEqual(got, w) {
				t.Errorf("%s: %s: got %#v; want %#v", name, k, got, w)
			}
		}
	}
	check("version 0", a.do(adminA, "GET", settingsPath, settingsPath, "", ""), defaults)

	full := `{` + baseSettings + `,"owner":"assignment_rules","owner_fallback_user_id":"` + activeUser + `","account_matching":"name",` +
		`"account_fallback":"lead","free_mail_domains":["@Proton.ME","www.gmx.net","proton.me"],"time_zone":"America/Chicago"}`
	saved := map[string]any{"owner": "assignment_rules", "owner_fallback_user_id": activeUser, "account_matching": "name",
		"account_fallback": "lead", "free_mail_domains": []any{"proton.me", "gmx.net"}, "time_zone": "America/Chicago"}
	r := a.do(adminA, "PUT", settingsPath, settingsPath, `"0"`, full)
	if r.status != 200 {
		t.Fatalf("PUT: got %d %s; want 200", r.status, r.body)
	}
	check("PUT answer", r, saved)
	check("GET", a.do(adminA, "GET", settingsPath, settingsPath, "", ""), saved)

	if r = a.do(adminA, "PUT", settingsPath, settingsPath, `"1"`, `{`+baseSettings+`}`); r.status != 200 {
		t.Fatalf("PUT without them: got %d %s; want 200", r.status, r.body)
	}
	check("left out", r, defaults)

	old := policy.DefaultTeamSettings()
	old.Owner, old.AccountMatching, old.AccountFallback = "", "", ""
	if _, err := a.store.SaveTeamSettings(context.Background(), "team_a", "older", old, 2); err != nil {
		t.Fatal(err)
	}
	check("an older version", a.do(adminA, "GET", settingsPath, settingsPath, "", ""), defaults)
	h := a.do(adminA, "GET", historyPath, historyPath, "", "").json(t)["versions"].([]any)
	if len(h) != 3 {
		t.Fatalf("history: got %d versions; want 3", len(h))
	}
	for i, want := range []map[string]any{defaults, defaults, saved} {
		check(fmt.Sprintf("history %d", i), response{body: mustJSON(t, h[i])}, want)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadAttributionSettings: each bad value is a 400 naming its field, and
// nothing is saved.
func TestBadAttributionSettings(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		name, members, field, message string
	}{
		{"owner", `"owner":"manager"`, "owner", "rep, fallback_only, assignment_rules"},
		{"fallback user", `"owner_fallback_user_id":"00Q5g00000KzF3aEAF"`, "owner_fallback_user_id", "starting with 005"},
		{"account matching", `"account_matching":"website"`, "account_matching", "domain, name, none"},
		{"account fallback", `"account_fallback":"skip"`, "account_fallback", "create, lead, private"},
		{"free-mail domains", `"free_mail_domains":["gmx.net","gmx"]`, "free_mail_domains[1]", "two or more labels"},
		{"free-mail domains type", `"free_mail_domains":"gmx.net"`, "free_mail_domains", "array"},
		{"empty time zone", `"time_zone":""`, "time_zone", "leave the field out"},
		{"Local", `"time_zone":"Local"`, "time_zone", "server's time zone"},
		{"unknown time zone", `"time_zone":"Europe/Atlantis"`, "time_zone", "not an IANA time zone name"},
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

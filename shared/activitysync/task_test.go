package activitysync

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func emailEvent(t event.Type, subject, body string) event.Event {
	return event.Event{ID: "evt_1", Type: t, Version: 1, TeamID: "team_a",
		OccurredAt: time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC),
		Data: event.EmailData{Sequence: event.Sequence{ID: "seq_1", Name: "Q4"}, Contact: event.ContactRef{ID: "c1", Email: "a@b.example"},
			Message: event.Message{ID: "msg_1", Subject: subject, BodyText: body, Step: 2, URL: "https://x.example/a", Reason: "mailbox full"}}}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	head := "[sfsync] Email (Onboarding, step 2): "
	for _, c := range []struct {
		kind policy.ActivityKind
		in   string
		want string
	}{
		{policy.ActivitySent, "Hello", "[sfsync] Email (Onboarding, step 2): Hello"},
		{policy.ActivityReplied, "Re: Hello", "[sfsync] Email replied (Onboarding, step 2): Re: Hello"},
		{policy.ActivityOpened, "Hello", "[sfsync] Email opened (Onboarding, step 2): Hello"},
		{policy.ActivityClicked, "Hello", "[sfsync] Email clicked (Onboarding, step 2): Hello"},
		{policy.ActivityBounced, "Hello", "[sfsync] Email bounced (Onboarding, step 2): Hello"},
		{policy.ActivitySent, "two\r\nlines", "[sfsync] Email (Onboarding, step 2): two lines"},
		{policy.ActivitySent, long, head + strings.Repeat("é", 255-len(head)-1) + "…"},
		// 200 emoji are 400 UTF-16 units: what fits after the sequence and step, then "…"
		{policy.ActivitySent, strings.Repeat("😀", 200), head + strings.Repeat("😀", (255-len(head)-1)/2) + "…"},
	} {
		got := Subject(c.kind, "Onboarding", 2, c.in)
		if got != c.want {
			t.Errorf("Subject(%s, %.20q): got %q; want %q", c.kind, c.in, got, c.want)
		}
		if n := salesforce.TextLength(got); n > MaxSubject {
			t.Errorf("Subject length: got %d; want at most %d", n, MaxSubject)
		}
	}
	// The sequence's id stands in for a missing name; a long name is cut
	// so the email's subject keeps room; no step, no step.
	for _, c := range []struct{ seq, id, want string }{
		{"", "seq_9", "[sfsync] Email (seq_9, step 2): Hi"},
		{strings.Repeat("s", 300), "seq_9", "[sfsync] Email (" + strings.Repeat("s", 79) + "…, step 2): Hi"},
	} {
		ev := emailEvent(event.EmailSent, "Hi", "")
		d := ev.Data.(event.EmailData)
		d.Sequence = event.Sequence{ID: c.id, Name: c.seq}
		ev.Data = d
		if got := SubjectOf(ev); got != c.want {
			t.Errorf("SubjectOf(sequence %.10q): got %q; want %q", c.seq, got, c.want)
		}
	}
	if got := Subject(policy.ActivitySent, "Q4", 0, "Hi"); got != "[sfsync] Email (Q4): Hi" {
		t.Errorf("no step: got %q; want %q", got, "[sfsync] Email (Q4): Hi")
	}
}

func TestDescription(t *testing.T) {
	t.Parallel()
	key := Key("team_a", "msg_1", policy.ActivitySent)
	for _, c := range []struct {
		name      string
		ev        event.Event
		truncated bool
		contains  string
	}{
		{"short body kept whole", emailEvent(event.EmailSent, "s", "Hi Ada"), false, "Hi Ada"},
		{"click names the link", emailEvent(event.EmailClicked, "s", ""), false, "Clicked link: https://x.example/a"},
		{"bounce names the reason", emailEvent(event.EmailBounced, "s", ""), false, "Bounce reason: mailbox full"},
		{"long body cut with a marker", emailEvent(event.EmailSent, "s", strings.Repeat("ß", 40000)), true, "ßß"},
		{"emoji count two units each", emailEvent(event.EmailSent, "s", strings.Repeat("😀", 16000)), true, "😀😀"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := Description(c.ev, key)
			if n := salesforce.TextLength(d); n > MaxDescription || !utf8.ValidString(d) {
				t.Errorf("length: got %d; want at most %d", n, MaxDescription)
			}
			if got := strings.Contains(d, TruncatedMarker); got != c.truncated {
				t.Errorf("truncated: got %v; want %v", got, c.truncated)
			}
			if !strings.Contains(d, c.contains) {
				t.Errorf("description: got %.80q; want it to contain %q", d, c.contains)
			}
			if got := KeyFromDescription(d); got != key {
				t.Errorf("key: got %q; want %q", got, key)
			}
		})
	}
}

func TestKeyAndTask(t *testing.T) {
	t.Parallel()
	a, b := Key("team_a", "msg_1", policy.ActivitySent), Key("team_a", "msg_1", policy.ActivityOpened)
	if a == b || a != Key("team_a", "msg_1", policy.ActivitySent) || Key("team_b", "msg_1", policy.ActivitySent) == a {
		t.Errorf("keys: got %s and %s; want stable and distinct per team, message and kind", a, b)
	}
	ev := emailEvent(event.EmailSent, "Hello", "body")
	for _, c := range []struct {
		tf    TaskFields
		owner string
		want  map[string]any
		not   []string
	}{
		{TaskFields{ClosedStatus: "Completed"}, "", map[string]any{"WhoId": "00Q000000000001", "Status": "Completed", "TaskSubtype": "Email", "ActivityDate": "2026-11-26"}, []string{"Type", "OwnerId", "Sfsync_Key__c"}},
		{TaskFields{TypeEmail: true, KeyField: "Sfsync_Key__c", ClosedStatus: "Done"}, "005000000000001", map[string]any{"Type": "Email", "Sfsync_Key__c": a, "OwnerId": "005000000000001", "Status": "Done"}, nil},
		// no closed status: NewTask leaves Status out (create sends no such Task: the activity fails)
		{TaskFields{}, "", map[string]any{"WhoId": "00Q000000000001"}, []string{"Status"}},
	} {
		task := NewTask(ev, "00Q000000000001", a, c.tf, c.owner, nil)
		for k, v := range c.want {
			if task[k] != v {
				t.Errorf("%s: got %v; want %v", k, task[k], v)
			}
		}
		for _, k := range c.not {
			if _, ok := task[k]; ok {
				t.Errorf("%s: got %v; want it unset", k, task[k])
			}
		}
	}
}

// ActivityDate is the activity's date in the team's time zone: an email
// sent at 03:30 UTC on 7 March is still 6 March in Los Angeles (PST,
// UTC-8), and the date of a zone east of UTC may be the next day.
func TestActivityDateInTheTeamsTimeZone(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	tests := []struct {
		at   string
		loc  *time.Location
		want string
	}{
		{"2026-03-07T03:30:00Z", la, "2026-03-06"},
		{"2026-03-07T03:30:00Z", nil, "2026-03-07"},
		{"2026-03-07T03:30:00Z", time.UTC, "2026-03-07"},
		{"2026-03-06T16:00:00Z", tokyo, "2026-03-07"},
		{"2026-07-07T06:59:00Z", la, "2026-07-06"}, // PDT, UTC-7
		{"2026-07-07T07:00:00Z", la, "2026-07-07"},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		ev := event.Event{Type: event.EmailSent, OccurredAt: at, Data: event.EmailData{}}
		if got := ActivityDate(ev, tt.loc); got != tt.want {
			t.Errorf("ActivityDate(%s in %v): got %s; want %s", tt.at, tt.loc, got, tt.want)
		}
	}
}

// The time zone is the team's setting, else the connected user's, else
// UTC; a name Go does not know is passed over.
func TestLocation(t *testing.T) {
	tests := []struct {
		zones []string
		want  string
	}{
		{[]string{"Europe/Paris", "America/Los_Angeles"}, "Europe/Paris"},
		{[]string{"", "America/Los_Angeles"}, "America/Los_Angeles"},
		{[]string{"Not/AZone", "Asia/Tokyo"}, "Asia/Tokyo"},
		{[]string{"", ""}, "UTC"},
	}
	for _, tt := range tests {
		if got := location(tt.zones...).String(); got != tt.want {
			t.Errorf("location(%q): got %s; want %s", tt.zones, got, tt.want)
		}
	}
}

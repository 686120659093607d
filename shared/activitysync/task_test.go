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
	for _, c := range []struct {
		kind policy.ActivityKind
		in   string
		want string
	}{
		{policy.ActivitySent, "Hello", "[sfsync] Email: Hello"},
		{policy.ActivityReplied, "Re: Hello", "[sfsync] Email replied: Re: Hello"},
		{policy.ActivityOpened, "Hello", "[sfsync] Email opened: Hello"},
		{policy.ActivityClicked, "Hello", "[sfsync] Email clicked: Hello"},
		{policy.ActivityBounced, "Hello", "[sfsync] Email bounced: Hello"},
		{policy.ActivitySent, "two\r\nlines", "[sfsync] Email: two lines"},
		{policy.ActivitySent, long, "[sfsync] Email: " + strings.Repeat("é", 255-len("[sfsync] Email: ")-1) + "…"},
		// 200 emoji are 400 UTF-16 units: 119 fit (238 units) with the prefix (16) and "…" (1)
		{policy.ActivitySent, strings.Repeat("😀", 200), "[sfsync] Email: " + strings.Repeat("😀", 119) + "…"},
	} {
		got := Subject(c.kind, c.in)
		if got != c.want {
			t.Errorf("Subject(%s, %.20q): got %q; want %q", c.kind, c.in, got, c.want)
		}
		if n := salesforce.TextLength(got); n > MaxSubject {
			t.Errorf("Subject length: got %d; want at most %d", n, MaxSubject)
		}
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
		task := NewTask(ev, "00Q000000000001", a, c.tf, c.owner)
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

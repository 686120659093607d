package activitysync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

type staticSession struct{ tok salesforce.Token }

func (s staticSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s staticSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return s.tok, nil
}

// TestEmojiSubjectIsSaved: an email whose subject is 200 emoji (400 UTF-16
// units) becomes a Task whose subject is cut to the field's 255 units, as
// Salesforce counts them, and the simulator's default org, which counts
// the same way, saves it and reads it back unchanged.
func TestEmojiSubjectIsSaved(t *testing.T) {
	t.Parallel()
	sim := org.New(org.Config{})
	if _, err := sim.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	tok := sim.IssueTokens()
	c := &salesforce.Client{Session: staticSession{salesforce.Token{AccessToken: tok.AccessToken, InstanceURL: tok.InstanceURL}}}
	ctx := context.Background()

	lead := salesforce.NewSObject("Lead")
	lead["LastName"], lead["Company"], lead["Email"] = "Emoji", "E", "emoji@subject.example"
	res, err := c.CreateCollection(ctx, []salesforce.SObject{lead}, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil || !res[0].Success {
		t.Fatalf("create the Lead: got %v %+v; want saved", err, res)
	}
	ev := event.Event{ID: "evt_emoji", Type: event.EmailSent, Version: 1, TeamID: "team_a",
		Data: event.EmailData{Sequence: event.Sequence{ID: "seq_1", Name: "Q4"}, Contact: event.ContactRef{ID: "c1", Email: "emoji@subject.example"},
			Message: event.Message{ID: "msg_1", Subject: strings.Repeat("😀", 200), BodyText: "hi", Step: 1}}}
	task := activitysync.NewTask(ev, res[0].ID, "key_1", activitysync.TaskFields{ClosedStatus: "Completed"}, "", nil)
	subject, _ := task["Subject"].(string)
	// Full, but an emoji (2 units) is never split: 254 or 255 units.
	if n := salesforce.TextLength(subject); n != activitysync.MaxSubject && n != activitysync.MaxSubject-1 {
		t.Fatalf("subject: got %d UTF-16 units; want %d or %d", n, activitysync.MaxSubject-1, activitysync.MaxSubject)
	}
	saved, err := c.CreateCollection(ctx, []salesforce.SObject{task}, salesforce.WriteOptions{})
	if err != nil || !saved[0].Success {
		t.Fatalf("create the Task: got %v %+v; want saved", err, saved)
	}
	if got, _ := sim.Record("Task", saved[0].ID); got["Subject"] != subject {
		t.Errorf("saved subject: got %q; want %q", got["Subject"], subject)
	}
}

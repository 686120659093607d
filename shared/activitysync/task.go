package activitysync

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Salesforce's limits on the Task fields written here, in UTF-16 code units
// as Salesforce counts text (an emoji is 2; help.salesforce.com article
// 005166849).
const (
	MaxSubject     = 255   // Task.Subject
	MaxDescription = 32000 // Task.Description
)

// SubjectPrefix begins the subject of every Task this service creates.
const SubjectPrefix = "[sfsync] "

// TruncatedMarker ends a description whose email body was cut.
const TruncatedMarker = "… [truncated]"

// keyLabel introduces the activity key in a description's footer.
const keyLabel = "sfsync key: "

// KindOf is the activity kind of an email event type ("" for others).
func KindOf(t event.Type) policy.ActivityKind {
	if !t.IsEmail() {
		return ""
	}
	return policy.ActivityKind(strings.TrimPrefix(string(t), "email."))
}

// Key is the idempotency key of one activity: the same for every delivery
// of the same (team, message, kind), 45 characters that are safe in SOQL
// and in an external-ID field.
func Key(teamID, messageID string, kind policy.ActivityKind) string {
	h := sha256.Sum256([]byte(teamID + "\x00" + messageID + "\x00" + string(kind)))
	return "sfsync-" + hex.EncodeToString(h[:19])
}

var verbs = map[policy.ActivityKind]string{
	policy.ActivitySent:    "Email",
	policy.ActivityReplied: "Email replied",
	policy.ActivityOpened:  "Email opened",
	policy.ActivityClicked: "Email clicked",
	policy.ActivityBounced: "Email bounced",
}

// maxSequenceInSubject bounds the sequence's name in a subject, so the
// email's own subject always keeps room.
const maxSequenceInSubject = 80

// Subject is the Task's subject: the prefix, what happened, the sequence
// (its name, else its id) and step it came from, and the email's subject,
// cut to Salesforce's 255 UTF-16 units: "[sfsync] Email (Onboarding, step
// 2): Hello".
func Subject(kind policy.ActivityKind, sequence string, step int, subject string) string {
	verb, ok := verbs[kind]
	if !ok {
		verb = "Email " + string(kind)
	}
	from := cut(strings.Join(strings.Fields(sequence), " "), maxSequenceInSubject, "…")
	if step > 0 {
		from += ", step " + strconv.Itoa(step)
	}
	if from != "" {
		verb += " (" + from + ")"
	}
	s := SubjectPrefix + verb + ": " + strings.Join(strings.Fields(subject), " ")
	return cut(s, MaxSubject, "…")
}

// SubjectOf is the subject of the Task of an email event.
func SubjectOf(ev event.Event) string {
	d, _ := ev.Data.(event.EmailData)
	seq := d.Sequence.Name
	if seq == "" {
		seq = d.Sequence.ID
	}
	return Subject(KindOf(ev.Type), seq, d.Message.Step, d.Message.Subject)
}

// Description is the Task's description: what happened, the body, and a
// footer with the activity key, within Salesforce's 32,000 characters; a
// body that does not fit is cut and ends with TruncatedMarker.
func Description(ev event.Event, key string) string {
	d, _ := ev.Data.(event.EmailData)
	m := d.Message
	var head strings.Builder
	switch ev.Type {
	case event.EmailClicked:
		head.WriteString("Clicked link: " + m.URL + "\n")
	case event.EmailBounced:
		head.WriteString("Bounce reason: " + m.Reason + "\n")
	}
	if d.Sequence.Name != "" {
		head.WriteString("Sequence: " + d.Sequence.Name + "\n")
	} else {
		head.WriteString("Sequence: " + d.Sequence.ID + "\n")
	}
	if m.Step > 0 {
		head.WriteString("Step: " + strconv.Itoa(m.Step) + "\n")
	}
	footer := "\n\n--\n" + keyLabel + key
	room := MaxDescription - salesforce.TextLength(footer)
	body := head.String()
	if m.BodyText != "" {
		body += "\n" + m.BodyText
	}
	return cut(body, room, TruncatedMarker) + footer
}

// KeyFromDescription reads the activity key from a description's footer
// ("" when there is none).
func KeyFromDescription(desc string) string {
	i := strings.LastIndex(desc, "\n"+keyLabel)
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(desc[i+1+len(keyLabel):])
}

// ActivityDate is the date of the activity in the time zone loc (UTC when
// nil), as Task.ActivityDate wants it: a date without a time zone, so an
// email sent at 19:00 in California is dated that day, not the next.
func ActivityDate(ev event.Event, loc *time.Location) string {
	at := ev.OccurredAt
	if at.IsZero() {
		if d, ok := ev.Data.(event.EmailData); ok {
			at = d.Message.SentAt
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	return at.In(loc).Format(time.DateOnly)
}

// NewTask builds the closed Task of one activity on the record whoID, its
// Status the org's closed status (tf.ClosedStatus).
// owner, when set, becomes OwnerId; else Salesforce gives the Task to the
// connected user. Its ActivityDate is the activity's date in loc.
func NewTask(ev event.Event, whoID, key string, tf TaskFields, owner string, loc *time.Location) salesforce.SObject {
	t := salesforce.NewSObject("Task")
	t["WhoId"] = whoID
	t["Subject"] = SubjectOf(ev)
	t["Description"] = Description(ev, key)
	t["ActivityDate"] = ActivityDate(ev, loc)
	if tf.ClosedStatus != "" {
		t["Status"] = tf.ClosedStatus
	}
	t["TaskSubtype"] = "Email"
	if tf.TypeEmail {
		t["Type"] = "Email"
	}
	if tf.KeyField != "" {
		t[tf.KeyField] = key
	}
	if owner != "" {
		t["OwnerId"] = owner
	}
	return t
}

// cut shortens s to at most max UTF-16 units, ending with marker when cut;
// a character is never split.
func cut(s string, max int, marker string) string {
	if salesforce.TextLength(s) <= max {
		return s
	}
	return s[:salesforce.TextPrefix(s, max-salesforce.TextLength(marker))] + marker
}

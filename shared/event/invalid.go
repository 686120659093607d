package event

import (
	"errors"
	"time"
)

// InvalidEventCode is the error code of an invalid_event outcome.
const InvalidEventCode = "INVALID_EVENT"

// InvalidOutcome is the answer to a message that failed validation (rule
// R9): failed, reason invalid_event, the field and the problem in Error.
// It reads what the body still tells of its event, each value only when it
// is a valid id: the event id and team_id, which it needs (ok is false
// without them: such a message goes to the dead-letter queue only), and the
// contact and sequence ids, which it names when it can. The outcome type is
// the event type's, or the queue's when the type is unknown.
//
// Nothing else of the body is trusted or echoed, but the problem Decode
// named, within the outcome's limits.
func InvalidOutcome(body []byte, queue string, reason error, at time.Time) (Outcome, bool) {
	root, err := parseObject(body)
	if err != nil {
		return Outcome{}, false
	}
	id, team := readID(root, "id"), readID(root, "team_id")
	if id == "" || team == "" {
		return Outcome{}, false
	}
	typ, _ := root.m["type"].(string)
	o := Outcome{ID: "out_" + id, Type: invalidOutcomeType(Type(typ), queue), Version: Version, TeamID: team, EventID: id,
		Status: StatusFailed, Reason: ReasonInvalidEvent, At: at.UTC()}
	if data, ok := root.m["data"].(map[string]any); ok {
		d := object{at: "data", m: data}
		if c, ok := d.m["contact"].(map[string]any); ok {
			o.ContactID = readID(object{m: c}, "id")
		}
		if s, ok := d.m["sequence"].(map[string]any); ok && o.Type != DedupOutcome && Type(typ) != ContactUnsubscribed {
			o.SequenceID = readID(object{m: s}, "id")
		}
	}
	o.Error = invalidError(reason)
	if o.Validate() != nil { // an id too long to prefix, say
		return Outcome{}, false
	}
	return o, true
}

// readID is the member name of o when it is a valid id, else "".
func readID(o object, name string) string {
	s, ok := o.m[name].(string)
	if !ok || checkID(s) != "" {
		return ""
	}
	return s
}

// invalidOutcomeType is the outcome type of an invalid event of type t
// found on queue: its type's, else its queue's.
func invalidOutcomeType(t Type, queue string) OutcomeType {
	if t.Known() {
		return Event{Type: t}.OutcomeType()
	}
	if queue == ActivityQueue {
		return ActivityOutcome
	}
	return ContactOutcome
}

// invalidError is the Error of an invalid_event outcome: the field Decode
// named, when it is a field name, and "field: problem" as the message.
func invalidError(reason error) *OutcomeError {
	oe := &OutcomeError{Code: InvalidEventCode, Message: "the event is invalid"}
	if reason != nil {
		oe.Message = reason.Error()
	}
	if len(oe.Message) > MaxErrorMessage { // bytes: within the character limit too
		oe.Message = truncateUTF8(oe.Message, MaxErrorMessage)
	}
	var ve *ValidationError
	if errors.As(reason, &ve) && len(ve.Field) <= MaxNameLength && fieldNameRE.MatchString(ve.Field) {
		oe.Fields = []string{ve.Field}
	}
	return oe
}

// truncateUTF8 cuts s to at most n bytes, never inside a character.
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// IsInvalidEvent reports whether o answers a message that failed
// validation (InvalidOutcome): it never takes the place of another answer
// of its event id, and a valid event of that id is processed over it.
func IsInvalidEvent(o Outcome) bool {
	return o.Status == StatusFailed && o.Reason == ReasonInvalidEvent
}

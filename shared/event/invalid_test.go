package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestInvalidOutcome(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("x", 3600))
	long := strings.Repeat("a", MaxIDLength)
	for _, tt := range []struct {
		name, body, queue string
		ok                bool
		want              Outcome // ID, Type, TeamID, EventID, ContactID, SequenceID, Fields[0]
	}{
		{name: "bad email, every id readable", queue: ContactQueue, ok: true,
			body: `{"id":"evt_1","type":"contact.added","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"team_a",
				"data":{"sequence":{"id":"seq_1"},"contact":{"id":"ct_1","email":"not an email"}}}`,
			want: Outcome{ID: "out_evt_1", Type: ContactOutcome, TeamID: "team_a", EventID: "evt_1", ContactID: "ct_1", SequenceID: "seq_1",
				Error: &OutcomeError{Fields: []string{"data.contact.email"}}}},
		{name: "contact.created answers as its dedup check", queue: ContactQueue, ok: true,
			body: `{"id":"evt_2","type":"contact.created","version":1,"occurred_at":"yesterday","team_id":"team_a",
				"data":{"sequence":{"id":"seq_1"},"contact":{"id":"ct_2","email":"a@b.example"}}}`,
			want: Outcome{ID: "out_evt_2", Type: DedupOutcome, TeamID: "team_a", EventID: "evt_2", ContactID: "ct_2",
				Error: &OutcomeError{Fields: []string{"occurred_at"}}}},
		{name: "unknown type on the activity queue, contact unreadable", queue: ActivityQueue, ok: true,
			body: `{"id":"evt_3","type":"email.teleported","version":1,"team_id":"team_a","data":{"contact":"ct_3"}}`,
			want: Outcome{ID: "out_evt_3", Type: ActivityOutcome, TeamID: "team_a", EventID: "evt_3",
				Error: &OutcomeError{Fields: []string{"type"}}}},
		{name: "a contact id that is no id is not named", queue: ContactQueue, ok: true,
			body: `{"id":"evt_4","type":"contact.added","version":2,"team_id":"team_a","data":{"contact":{"id":"ct#4"}}}`,
			want: Outcome{ID: "out_evt_4", Type: ContactOutcome, TeamID: "team_a", EventID: "evt_4",
				Error: &OutcomeError{Fields: []string{"version"}}}},
		{name: "contact.unsubscribed names no sequence, even one sent", queue: ContactQueue, ok: true,
			body: `{"id":"evt_10","type":"contact.unsubscribed","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"team_a",
				"data":{"sequence":{"id":"seq_1"},"contact":{"id":"ct_10","email":"a@b.example"}}}`,
			want: Outcome{ID: "out_evt_10", Type: ContactOutcome, TeamID: "team_a", EventID: "evt_10", ContactID: "ct_10",
				Error: &OutcomeError{Fields: []string{"data.sequence"}}}},
		{name: "no team", queue: ContactQueue, body: `{"id":"evt_5","type":"contact.added","version":1}`},
		{name: "no id", queue: ContactQueue, body: `{"type":"contact.added","team_id":"team_a"}`},
		{name: "a team that is no id", queue: ContactQueue, body: `{"id":"evt_6","team_id":"TEAM#b#EVENT#x"}`},
		{name: "an id of the wrong type", queue: ContactQueue, body: `{"id":7,"team_id":"team_a"}`},
		{name: "an id too long to answer", queue: ContactQueue, body: `{"id":"` + long + `","team_id":"team_a"}`},
		{name: "not JSON", queue: ContactQueue, body: `{"id":"evt_8","team_id":"team_a"`},
		{name: "not an object", queue: ContactQueue, body: `["evt_9","team_a"]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, derr := Decode([]byte(tt.body))
			if derr == nil {
				t.Fatalf("Decode: got nil; want an error (the case must be invalid)")
			}
			got, ok := InvalidOutcome([]byte(tt.body), tt.queue, derr, at)
			if ok != tt.ok {
				t.Fatalf("ok: got %v; want %v (%+v)", ok, tt.ok, got)
			}
			if !ok {
				return
			}
			w := tt.want
			if got.ID != w.ID || got.Type != w.Type || got.TeamID != w.TeamID || got.EventID != w.EventID ||
				got.ContactID != w.ContactID || got.SequenceID != w.SequenceID {
				t.Errorf("ids: got %+v; want %+v", got, w)
			}
			if got.Status != StatusFailed || got.Reason != ReasonInvalidEvent || !got.At.Equal(at) || got.At.Location() != time.UTC {
				t.Errorf("status, reason, at: got %s, %s, %v; want failed, invalid_event, %v UTC", got.Status, got.Reason, got.At, at)
			}
			if got.Error == nil || got.Error.Code != InvalidEventCode || got.Error.Message != derr.Error() ||
				!reflect.DeepEqual(got.Error.Fields, w.Error.Fields) {
				t.Errorf("error: got %+v; want code %s, message %q, fields %v", got.Error, InvalidEventCode, derr.Error(), w.Error.Fields)
			}
			if !IsInvalidEvent(got) {
				t.Errorf("IsInvalidEvent: got false; want true")
			}
			body, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if err := schemaValidate(schema(t, "outcome"), body); err != nil {
				t.Errorf("outcome schema: got %v; want valid (%s)", err, body)
			}
		})
	}
}

// Only an invalid_event answer may leave contact_id out, in Go and in the schema.
func TestOutcomeWithoutContact(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	failed := Outcome{ID: "out_e", Type: ContactOutcome, Version: Version, TeamID: "t", EventID: "e", Status: StatusFailed,
		Error: &OutcomeError{Code: InvalidEventCode, Message: "x"}, At: at}
	for _, tt := range []struct {
		name  string
		o     func(Outcome) Outcome
		valid bool
	}{
		{"invalid_event", func(o Outcome) Outcome { o.Reason = ReasonInvalidEvent; return o }, true},
		{"failed for another reason", func(o Outcome) Outcome { return o }, false},
		{"skipped invalid_event", func(o Outcome) Outcome {
			o.Status, o.Reason, o.Error = StatusSkipped, ReasonInvalidEvent, nil
			return o
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tt.o(failed)
			if err := o.Validate(); (err == nil) != tt.valid {
				t.Errorf("Validate: got %v; want valid %v", err, tt.valid)
			}
			body, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := schemaValidate(schema(t, "outcome"), body); (err == nil) != tt.valid {
				t.Errorf("outcome schema: got %v; want valid %v", err, tt.valid)
			}
		})
	}
}

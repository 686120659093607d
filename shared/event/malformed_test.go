package event

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleMap reads events/samples/<name>.json as a generic JSON tree.
func sampleMap(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join(eventsDir, "samples", name+".json")), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// set changes (or, with del, removes) the member at a dotted path.
func set(m map[string]any, path string, v any) map[string]any {
	keys := strings.Split(path, ".")
	cur := m
	for _, k := range keys[:len(keys)-1] {
		cur = cur[k].(map[string]any)
	}
	if v == del {
		delete(cur, keys[len(keys)-1])
	} else {
		cur[keys[len(keys)-1]] = v
	}
	return m
}

type deletion struct{}

var del any = deletion{}

type malformed struct {
	name    string
	body    func(t testing.TB) []byte
	field   string // the field the Go error must name
	problem string // a part of the Go error's problem, if the wording matters
}

func mutate(sample, path string, v any) func(t testing.TB) []byte {
	return func(t testing.TB) []byte {
		b, err := json.Marshal(set(sampleMap(t, sample), path, v))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func raw(s string) func(testing.TB) []byte { return func(testing.TB) []byte { return []byte(s) } }

// malformedEvents are rejected by Decode and by the envelope schema alike.
var malformedEvents = []malformed{
	{"missing id", mutate("contact.added", "id", del), "id", "missing"},
	{"empty id", mutate("contact.added", "id", ""), "id", "empty"},
	{"id with a hash", mutate("contact.added", "id", "evt#1"), "id", ""},
	{"id with a space", mutate("contact.added", "id", "evt 1"), "id", ""},
	{"id too long", mutate("contact.added", "id", strings.Repeat("e", 129)), "id", "129 characters"},
	{"id is a number", mutate("contact.added", "id", 17), "id", "must be a string"},
	{"bad email", mutate("contact.added", "data.contact.email", "ada.example.com"), "data.contact.email", "not an email address"},
	{"email with display name", mutate("contact.added", "data.contact.email", "Ada <ada@example.com>"), "data.contact.email", "not an email address"},
	{"email with spaces", mutate("contact.added", "data.contact.email", " ada@example.com"), "data.contact.email", "not an email address"},
	{"email without dot in domain", mutate("contact.added", "data.contact.email", "ada@localhost"), "data.contact.email", "not an email address"},
	{"email with two @", mutate("contact.added", "data.contact.email", "ada@b@example.com"), "data.contact.email", "not an email address"},
	{"email with double dot", mutate("contact.added", "data.contact.email", "ada..l@example.com"), "data.contact.email", "not an email address"},
	{"email quoted local part", mutate("contact.added", "data.contact.email", `"ada l"@example.com`), "data.contact.email", "not an email address"},
	{"email address literal", mutate("contact.added", "data.contact.email", "ada@[192.0.2.1]"), "data.contact.email", "not an email address"},
	{"email not ASCII", mutate("contact.added", "data.contact.email", "adá@example.com"), "data.contact.email", "not an email address"},
	{"email too long", mutate("contact.added", "data.contact.email", strings.Repeat("a", 69)+"@example.com"), "data.contact.email", "81 characters"},
	{"email missing", mutate("contact.added", "data.contact.email", del), "data.contact.email", "missing"},
	{"email null", mutate("contact.added", "data.contact.email", nil), "data.contact.email", "null"},
	{"email event without email", mutate("email.sent", "data.contact.email", del), "data.contact.email", "missing"},
	{"unknown type", mutate("contact.added", "type", "contact.deleted"), "type", `unknown event type "contact.deleted"`},
	{"missing type", mutate("contact.added", "type", del), "type", "missing"},
	{"version 2", mutate("contact.added", "version", 2), "version", "version 2 is not supported; this consumer reads version 1"},
	{"version 0", mutate("contact.added", "version", 0), "version", "version 0 is not supported"},
	{"version as string", mutate("contact.added", "version", "1"), "version", "must be an integer"},
	{"version missing", mutate("contact.added", "version", del), "version", "missing"},
	{"not JSON", raw(`{"id": "evt_1", "type": `), "body", "not JSON"},
	{"empty body", raw(``), "body", "not JSON"},
	{"JSON array", raw(`[{"id":"evt_1"}]`), "body", "must be a JSON object"},
	{"JSON null", raw(`null`), "body", "must be a JSON object"},
	{"data after the object", func(t testing.TB) []byte {
		return append(mutate("contact.added", "id", "evt_1")(t), []byte(` {}`)...)
	}, "body", "not JSON"},
	{"not UTF-8", raw("{\"id\": \"evt_\xff\"}"), "body", "UTF-8"},
	{"300 KB body", mutate("email.sent", "data.message.body_text", strings.Repeat("All work and no play. ", 300000/22)), "body", "bytes exceeds the 262144-byte limit"},
	{"body_text too long", mutate("email.sent", "data.message.body_text", strings.Repeat("é", MaxBodyTextLength+1)), "data.message.body_text", "100001 characters exceeds"},
	{"missing sequence on contact.added", mutate("contact.added", "data.sequence", del), "data.sequence", "missing"},
	{"missing sequence on contact.replied", mutate("contact.replied", "data.sequence", del), "data.sequence", "missing"},
	{"missing sequence on email.opened", mutate("email.opened", "data.sequence", del), "data.sequence", "missing"},
	{"sequence without id", mutate("contact.added", "data.sequence.id", del), "data.sequence.id", "missing"},
	{"sequence on contact.created", mutate("contact.created", "data.sequence", map[string]any{"id": "seq_1"}), "data.sequence", "not allowed on contact.created"},
	{"bad occurred_at", mutate("contact.added", "occurred_at", "26/11/2026 10:00"), "occurred_at", "RFC 3339"},
	{"occurred_at without zone", mutate("contact.added", "occurred_at", "2026-11-26T10:00:00"), "occurred_at", "RFC 3339"},
	{"occurred_at lower case", mutate("contact.added", "occurred_at", "2026-11-26t10:00:00z"), "occurred_at", "RFC 3339"},
	{"occurred_at month 13", mutate("contact.added", "occurred_at", "2026-13-01T10:00:00Z"), "occurred_at", "RFC 3339"},
	{"occurred_at leap second", mutate("contact.added", "occurred_at", "2026-12-31T23:59:60Z"), "occurred_at", "RFC 3339"},
	{"occurred_at February 30", mutate("contact.added", "occurred_at", "2026-02-30T10:00:00Z"), "occurred_at", "RFC 3339"},
	{"occurred_at February 29 of 2026", mutate("contact.added", "occurred_at", "2026-02-29T10:00:00Z"), "occurred_at", "RFC 3339"},
	{"occurred_at offset +24:00", mutate("contact.added", "occurred_at", "2026-11-26T10:00:00+24:00"), "occurred_at", "RFC 3339"},
	{"occurred_at ten fraction digits", mutate("contact.added", "occurred_at", "2026-11-26T10:00:00.0123456789Z"), "occurred_at", "RFC 3339"},
	{"occurred_at a number", mutate("contact.added", "occurred_at", 1795687200), "occurred_at", "must be a string"},
	{"occurred_at before 1970", mutate("contact.added", "occurred_at", "1969-12-31T23:59:59Z"), "occurred_at", "RFC 3339"},
	{"missing team_id", mutate("contact.added", "team_id", del), "team_id", "missing"},
	{"missing data", mutate("contact.added", "data", del), "data", "missing"},
	{"data is a string", mutate("contact.added", "data", "ct_1"), "data", "must be an object"},
	{"contact null", mutate("contact.added", "data.contact", nil), "data.contact", "null"},
	{"contact missing", mutate("contact.created", "data.contact", del), "data.contact", "missing"},
	{"contact without id", mutate("contact.added", "data.contact.id", del), "data.contact.id", "missing"},
	{"first_name a number", mutate("contact.added", "data.contact.first_name", 7), "data.contact.first_name", "must be a string"},
	{"first_name too long", mutate("contact.added", "data.contact.first_name", strings.Repeat("A", 256)), "data.contact.first_name", "256 characters"},
	{"company null", mutate("contact.added", "data.contact.company", nil), "data.contact.company", "null"},
	{"custom value a number", mutate("contact.added", "data.contact.custom.employees", 120), "data.contact.custom.employees", "must be a string"},
	{"custom key with a space", mutate("contact.added", "data.contact.custom.lead source", "web"), "data.contact.custom.lead source", "field names"},
	{"custom an array", mutate("contact.added", "data.contact.custom", []any{"a"}), "data.contact.custom", "must be an object"},
	{"click without url", mutate("email.clicked", "data.message.url", del), "data.message.url", "missing"},
	{"click with javascript url", mutate("email.clicked", "data.message.url", "javascript:alert(1)"), "data.message.url", "not an absolute http(s) URL"},
	{"click with relative url", mutate("email.clicked", "data.message.url", "/pricing"), "data.message.url", "not an absolute http(s) URL"},
	{"click with an IP literal host", mutate("email.clicked", "data.message.url", "http://[::1]/pricing"), "data.message.url", "not an absolute http(s) URL"},
	{"click with a bad port", mutate("email.clicked", "data.message.url", "https://example.com:http/"), "data.message.url", "not an absolute http(s) URL"},
	{"click with an ftp url", mutate("email.clicked", "data.message.url", "ftp://example.com/file"), "data.message.url", "not an absolute http(s) URL"},
	{"click with spaces in url", mutate("email.clicked", "data.message.url", "https://example.com/a b"), "data.message.url", "not an absolute http(s) URL"},
	{"url on email.sent", mutate("email.sent", "data.message.url", "https://example.com/"), "data.message.url", "only allowed on email.clicked"},
	{"bounce without reason", mutate("email.bounced", "data.message.reason", del), "data.message.reason", "missing"},
	{"bounce with empty reason", mutate("email.bounced", "data.message.reason", ""), "data.message.reason", "empty"},
	{"reason on email.opened", mutate("email.opened", "data.message.reason", "550"), "data.message.reason", "only allowed on email.bounced"},
	{"missing message", mutate("email.opened", "data.message", del), "data.message", "missing"},
	{"message without id", mutate("email.sent", "data.message.id", del), "data.message.id", "missing"},
	{"message without subject", mutate("email.sent", "data.message.subject", del), "data.message.subject", "missing"},
	{"step 0", mutate("email.sent", "data.message.step", 0), "data.message.step", "outside 1 to 1000"},
	{"step 1001", mutate("email.sent", "data.message.step", 1001), "data.message.step", "outside 1 to 1000"},
	{"step 1.5", mutate("email.sent", "data.message.step", 1.5), "data.message.step", "must be an integer"},
	{"step a string", mutate("email.sent", "data.message.step", "1"), "data.message.step", "must be an integer"},
	{"step missing", mutate("email.sent", "data.message.step", del), "data.message.step", "missing"},
	{"missing sent_at", mutate("email.sent", "data.message.sent_at", del), "data.message.sent_at", "missing"},
	{"user on contact.created", mutate("contact.created", "data.user", map[string]any{"id": "usr_1", "email": "rep@acme.example"}), "data.user", "not allowed on contact.created"},
	{"user null", mutate("contact.added", "data.user", nil), "data.user", "null"},
	{"user a string", mutate("contact.added", "data.user", "rep@acme.example"), "data.user", "must be an object"},
	{"user empty", mutate("email.sent", "data.user", map[string]any{}), "data.user.id", "missing"},
	{"user without id", mutate("contact.added", "data.user.id", del), "data.user.id", "missing"},
	{"user id with a space", mutate("contact.replied", "data.user.id", "usr 1"), "data.user.id", "letters, digits"},
	{"user id too long", mutate("email.opened", "data.user.id", strings.Repeat("u", MaxIDLength+1)), "data.user.id", "129 characters"},
	{"user without email", mutate("email.clicked", "data.user.email", del), "data.user.email", "missing"},
	{"user email with display name", mutate("contact.added", "data.user.email", "Charles <charles@acme.example>"), "data.user.email", "not an email address"},
	{"user email too long", mutate("email.bounced", "data.user.email", strings.Repeat("c", 69)+"@acme.example"), "data.user.email", "82 characters"},
	{"user email a number", mutate("email.replied", "data.user.email", 7), "data.user.email", "must be a string"},
	{"user name too long", mutate("contact.added", "data.user.name", strings.Repeat("C", MaxNameLength+1)), "data.user.name", "256 characters"},
	{"user name null", mutate("email.sent", "data.user.name", nil), "data.user.name", "null"},
	{"bad sent_at", mutate("email.sent", "data.message.sent_at", "yesterday"), "data.message.sent_at", "RFC 3339"},
	{"sequence on contact.unsubscribed", mutate("contact.unsubscribed", "data.sequence", map[string]any{"id": "seq_1"}), "data.sequence", "not allowed on contact.unsubscribed"},
	{"unsubscribed without contact", mutate("contact.unsubscribed", "data.contact", del), "data.contact", "missing"},
	{"unsubscribed without email", mutate("contact.unsubscribed", "data.contact.email", del), "data.contact.email", "missing"},
	{"unsubscribed bad email", mutate("contact.unsubscribed", "data.contact.email", "Ada <ada@example.com>"), "data.contact.email", "not an email address"},
	{"unsubscribed contact id with a hash", mutate("contact.unsubscribed", "data.contact.id", "ct#1"), "data.contact.id", "letters, digits"},
	{"unsubscribed first_name too long", mutate("contact.unsubscribed", "data.contact.first_name", strings.Repeat("A", 256)), "data.contact.first_name", "256 characters"},
	{"unsubscribed user without email", mutate("contact.unsubscribed", "data.user.email", del), "data.user.email", "missing"},
	{"unsubscribed user null", mutate("contact.unsubscribed", "data.user", nil), "data.user", "null"},
	{"unsubscribe reason too long", mutate("contact.unsubscribed", "data.reason", strings.Repeat("é", MaxUnsubscribeReasonLength+1)), "data.reason", "256 characters exceeds the 255-character limit"},
	{"unsubscribe reason a number", mutate("contact.unsubscribed", "data.reason", 7), "data.reason", "must be a string"},
	{"unsubscribe reason an object", mutate("contact.unsubscribed", "data.reason", map[string]any{"text": "x"}), "data.reason", "must be a string"},
	{"unsubscribe reason null", mutate("contact.unsubscribed", "data.reason", nil), "data.reason", "null"},
	{"reason on contact.added", mutate("contact.added", "data.reason", "no longer interested"), "data.reason", "only allowed on contact.unsubscribed"},
	{"reason on contact.replied", mutate("contact.replied", "data.reason", ""), "data.reason", "only allowed on contact.unsubscribed"},
	{"reason on contact.created", mutate("contact.created", "data.reason", "x"), "data.reason", "only allowed on contact.unsubscribed"},
}

func TestDecodeRejectsMalformedEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range malformedEvents {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.body(t)
			_, err := Decode(body)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode error: got %v; want one wrapping ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Decode error: got %T; want *ValidationError", err)
			}
			if ve.Field != tc.field {
				t.Errorf("field: got %q (%v); want %q", ve.Field, err, tc.field)
			}
			if !strings.Contains(ve.Problem, tc.problem) {
				t.Errorf("problem: got %q; want it to contain %q", ve.Problem, tc.problem)
			}
			if !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Errorf("message: got %q; want it to start with %q", err.Error(), tc.field+": ")
			}
			if err := schemaValidate(schema(t, "envelope"), body); err == nil {
				t.Errorf("envelope schema: got valid; want invalid")
			}
		})
	}
}

func TestDecodeVersionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version     any
		unsupported bool
		want        string
	}{
		{2, true, "version: version 2 is not supported; this consumer reads version 1"},
		{17, true, "version: version 17 is not supported; this consumer reads version 1"},
		{"2", false, "version: must be an integer, got a string"},
		{1.5, false, "version: must be an integer, got 1.5"},
		{json.Number("1" + strings.Repeat("0", 5000)), true, "version: version 100000000000000000000000... is not supported; this consumer reads version 1"},
	}
	for _, tc := range tests {
		_, err := Decode(mutate("email.sent", "version", tc.version)(t))
		if err == nil || err.Error() != tc.want {
			t.Errorf("version %v: got %v; want %s", tc.version, err, tc.want)
		}
		if got := errors.Is(err, ErrUnsupportedVersion); got != tc.unsupported {
			t.Errorf("version %v errors.Is(ErrUnsupportedVersion): got %v; want %v", tc.version, got, tc.unsupported)
		}
	}
}

// TestDecodeAcceptsEdges pins decisions where the contract tolerates input:
// unknown fields, integral numbers written as decimals, offsets, an empty
// custom object, and an email at exactly 80 characters.
func TestDecodeAcceptsEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  func(testing.TB) []byte
		check func(t *testing.T, e Event)
	}{
		{"unknown top-level field", mutate("contact.added", "trace_id", "abc"), nil},
		{"unknown contact field", mutate("contact.added", "data.contact.owner_email", "rep@example.com"), nil},
		{"extra contact fields on an email event", mutate("email.sent", "data.contact.first_name", "Ada"), nil},
		{"version 1.0", mutate("contact.added", "version", 1.0), nil},
		{"step written 2.0", func(t testing.TB) []byte {
			return []byte(strings.Replace(string(mutate("email.sent", "data.message.step", 7)(t)), `"step":7`, `"step":2.0`, 1))
		}, func(t *testing.T, e Event) {
			if got, want := e.Data.(EmailData).Message.Step, 2; got != want {
				t.Errorf("step: got %v; want %v", got, want)
			}
		}},
		{"offset converted to UTC", mutate("contact.added", "occurred_at", "2026-11-26T11:30:00.5+01:30"), func(t *testing.T, e Event) {
			if got, want := e.OccurredAt.Format("2006-01-02T15:04:05.999Z07:00"), "2026-11-26T10:00:00.5Z"; got != want {
				t.Errorf("occurred_at: got %v; want %v", got, want)
			}
		}},
		{"empty custom", mutate("contact.added", "data.contact.custom", map[string]any{}), func(t *testing.T, e Event) {
			if got := e.Data.(ContactData).Contact.Custom; got != nil {
				t.Errorf("custom: got %v; want nil", got)
			}
		}},
		{"email at 80 characters keeps its case", mutate("contact.added", "data.contact.email", strings.Repeat("A", 68)+"@Example.COM"), func(t *testing.T, e Event) {
			if got, want := e.Email(), strings.Repeat("A", 68)+"@Example.COM"; got != want {
				t.Errorf("email: got %v; want %v", got, want)
			}
		}},
		{"email with plus and apostrophe", mutate("contact.added", "data.contact.email", "o'neil+sfdc@mail.example.co.uk"), nil},
		{"empty subject", mutate("email.opened", "data.message.subject", ""), nil},
		{"February 29 of 2028", mutate("contact.added", "occurred_at", "2028-02-29T23:59:59.999999999-23:59"), nil},
		{"click url with user, port, query and fragment", mutate("email.clicked", "data.message.url", "HTTPS://u:p@example.com:8443/a/b?c=d&e=%20#f"), nil},
		{"no user on contact.added", mutate("contact.added", "data.user", del), func(t *testing.T, e Event) {
			if got := e.User(); got != nil {
				t.Errorf("User: got %+v; want nil", got)
			}
		}},
		{"no user on email.sent", mutate("email.sent", "data.user", del), func(t *testing.T, e Event) {
			if got := e.User(); got != nil {
				t.Errorf("User: got %+v; want nil", got)
			}
		}},
		{"user without name, email kept as sent", mutate("email.sent", "data.user", map[string]any{"id": "usr_1", "email": "Rep.One@ACME.example"}), func(t *testing.T, e Event) {
			if got, want := e.User(), (&User{ID: "usr_1", Email: "Rep.One@ACME.example"}); got == nil || *got != *want {
				t.Errorf("User: got %+v; want %+v", got, want)
			}
		}},
		{"unknown user field", mutate("contact.replied", "data.user.role", "admin"), func(t *testing.T, e Event) {
			if got, want := e.User(), (&User{ID: "usr_8Wt3Cq", Email: "Charles.Wheatstone@acme.example"}); got == nil || *got != *want {
				t.Errorf("User: got %+v; want %+v", got, want)
			}
		}},
		{"user name at 255 characters", mutate("contact.added", "data.user.name", strings.Repeat("é", MaxNameLength)), func(t *testing.T, e Event) {
			if got := e.User(); got == nil || got.Name != strings.Repeat("é", MaxNameLength) {
				t.Errorf("User: got %+v; want a name of 255 characters", got)
			}
		}},
		{"unsubscribed: the contact, no sequence, its reason", mutate("contact.unsubscribed", "trace_id", "abc"), func(t *testing.T, e Event) {
			got := [5]string{e.ContactID(), e.Email(), e.SequenceID(), e.Data.(ContactData).Reason, e.Queue()}
			want := [5]string{"ct_7Hn2Lq", "Ada.Lovelace@analytical-engines.example", "", "Clicked the unsubscribe link in step 2", ContactQueue}
			if got != want {
				t.Errorf("ContactID, Email, SequenceID, Reason, Queue: got %q; want %q", got, want)
			}
			if got, want := e.OutcomeType(), ContactOutcome; got != want {
				t.Errorf("OutcomeType: got %v; want %v", got, want)
			}
			if e.Data.(ContactData).Sequence != nil {
				t.Errorf("Sequence: got %+v; want nil", e.Data.(ContactData).Sequence)
			}
		}},
		{"unsubscribed without reason or user", func(t testing.TB) []byte {
			m := set(sampleMap(t, "contact.unsubscribed"), "data.reason", del)
			b, err := json.Marshal(set(m, "data.user", del))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, func(t *testing.T, e Event) {
			if got := e.Data.(ContactData); got.Reason != "" || got.User != nil || e.User() != nil {
				t.Errorf("Reason, User: got %q, %+v; want empty, nil", got.Reason, got.User)
			}
		}},
		{"unsubscribed with an empty reason", mutate("contact.unsubscribed", "data.reason", ""), func(t *testing.T, e Event) {
			if got := e.Data.(ContactData).Reason; got != "" {
				t.Errorf("Reason: got %q; want empty", got)
			}
		}},
		{"unsubscribe reason at 255 characters, kept as sent", mutate("contact.unsubscribed", "data.reason", " "+strings.Repeat("é", MaxUnsubscribeReasonLength-1)), func(t *testing.T, e Event) {
			if got, want := e.Data.(ContactData).Reason, " "+strings.Repeat("é", MaxUnsubscribeReasonLength-1); got != want {
				t.Errorf("Reason: got %q; want %q", got, want)
			}
		}},
		{"unsubscribed contact with custom fields", mutate("contact.unsubscribed", "data.contact.custom", map[string]any{"industry": "Computing"}), func(t *testing.T, e Event) {
			if got, want := e.Data.(ContactData).Contact.Custom, map[string]string{"industry": "Computing"}; !reflect.DeepEqual(got, want) {
				t.Errorf("Custom: got %v; want %v", got, want)
			}
		}},
		{"reason on an email event is an unknown field", mutate("email.sent", "data.reason", "x"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.body(t)
			e, err := Decode(body)
			if err != nil {
				t.Fatalf("Decode: got %v; want nil", err)
			}
			if err := schemaValidate(schema(t, "envelope"), body); err != nil {
				t.Errorf("envelope schema: got %v; want valid", err)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestCheckEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email string
		ok    bool
	}{
		{"ada@example.com", true},
		{"Ada.Lovelace@Analytical-Engines.example", true},
		{"a@b.co", true},
		{"ada@example.com.", false},
		{"ada@-example.com", false},
		{".ada@example.com", false},
		{"ada.@example.com", false},
		{"ada@example..com", false},
		{"ada@example.com\n", false},
		{"ada(comment)@example.com", false},
		{"", false},
	}
	for _, tc := range tests {
		err := CheckEmail(tc.email)
		if got := err == nil; got != tc.ok {
			t.Errorf("CheckEmail(%q): got %v; want ok=%v", tc.email, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckEmail(%q): got %v; want an error wrapping ErrInvalid", tc.email, err)
		}
	}
}

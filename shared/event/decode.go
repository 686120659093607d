package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Decode parses one message body and checks it against the contract. It either
// returns a valid Event or an error wrapping ErrInvalid; the error is a
// *ValidationError naming the first offending field in a fixed order (body,
// version, id, type, occurred_at, team_id, then data).
//
// Unknown fields are tolerated and dropped, so producers can add fields within
// a version; a field the contract knows but forbids for the type (a sequence
// or a user on contact.created, a sequence on contact.unsubscribed, a
// data.reason on any other contact event, a url on anything but
// email.clicked) is an error.
// Strings are taken as sent: nothing is trimmed, case-folded or truncated.
// Timestamps are returned in UTC.
func Decode(body []byte) (Event, error) {
	root, err := parseObject(body)
	if err != nil {
		return Event{}, err
	}
	var e Event
	if e.Version, err = root.version(); err != nil {
		return Event{}, err
	}
	if e.ID, err = root.id("id"); err != nil {
		return Event{}, err
	}
	typ, err := root.str("type", true, 64)
	if err != nil {
		return Event{}, err
	}
	e.Type = Type(typ)
	if !e.Type.Known() {
		return Event{}, invalid("type", "unknown event type %q", typ)
	}
	if e.OccurredAt, err = root.timestamp("occurred_at"); err != nil {
		return Event{}, err
	}
	if e.TeamID, err = root.id("team_id"); err != nil {
		return Event{}, err
	}
	data, err := root.object("data", true)
	if err != nil {
		return Event{}, err
	}
	if e.Type.IsContact() {
		e.Data, err = decodeContactData(data, e.Type)
	} else {
		e.Data, err = decodeEmailData(data, e.Type)
	}
	if err != nil {
		return Event{}, err
	}
	return e, nil
}

func parseObject(body []byte) (object, error) {
	if len(body) > MaxBodyBytes {
		return object{}, invalid("body", "%d bytes exceeds the %d-byte limit", len(body), MaxBodyBytes)
	}
	if !utf8.Valid(body) {
		return object{}, invalid("body", "not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return object{}, invalid("body", "not JSON: empty")
		}
		return object{}, invalid("body", "not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return object{}, invalid("body", "not JSON: data after the top-level value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return object{}, invalid("body", "must be a JSON object, got %s", kindOf(v))
	}
	return object{m: m}, nil
}

func decodeContactData(data object, t Type) (ContactData, error) {
	var d ContactData
	if t.HasSequence() {
		s, err := decodeSequence(data)
		if err != nil {
			return d, err
		}
		d.Sequence = &s
	} else if data.has("sequence") {
		return d, invalid(data.path("sequence"), "not allowed on %s", t)
	}
	c, err := data.object("contact", true)
	if err != nil {
		return d, err
	}
	if d.Contact.ID, err = c.id("id"); err != nil {
		return d, err
	}
	if d.Contact.Email, err = c.email("email"); err != nil {
		return d, err
	}
	for _, f := range []struct {
		name string
		max  int
		dst  *string
	}{
		{"first_name", MaxNameLength, &d.Contact.FirstName},
		{"last_name", MaxNameLength, &d.Contact.LastName},
		{"company", MaxNameLength, &d.Contact.Company},
		{"title", MaxNameLength, &d.Contact.Title},
		{"phone", MaxNameLength, &d.Contact.Phone},
		{"website", MaxWebLength, &d.Contact.Website},
		{"linkedin_url", MaxWebLength, &d.Contact.LinkedInURL},
	} {
		if *f.dst, err = c.str(f.name, false, f.max); err != nil {
			return d, err
		}
	}
	if d.Contact.Custom, err = decodeCustom(c); err != nil {
		return d, err
	}
	if t == ContactCreated {
		if data.has("user") {
			return d, invalid(data.path("user"), "not allowed on %s", t)
		}
	} else if d.User, err = decodeUser(data); err != nil {
		return d, err
	}
	if t == ContactUnsubscribed {
		if d.Reason, err = data.str("reason", false, MaxUnsubscribeReasonLength); err != nil {
			return d, err
		}
	} else if data.has("reason") {
		return d, invalid(data.path("reason"), "only allowed on %s", ContactUnsubscribed)
	}
	return d, nil
}

// decodeUser reads the optional data.user, the rep: nil when absent.
func decodeUser(data object) (*User, error) {
	o, err := data.object("user", false)
	if err != nil || o.m == nil {
		return nil, err
	}
	var u User
	if u.ID, err = o.id("id"); err != nil {
		return nil, err
	}
	if u.Email, err = o.email("email"); err != nil {
		return nil, err
	}
	if u.Name, err = o.str("name", false, MaxNameLength); err != nil {
		return nil, err
	}
	return &u, nil
}

func decodeCustom(c object) (map[string]string, error) {
	custom, err := c.object("custom", false)
	if err != nil || custom.m == nil {
		return nil, err
	}
	if n := len(custom.m); n > MaxCustomFields {
		return nil, invalid(custom.at, "%d fields exceeds the limit of %d", n, MaxCustomFields)
	}
	if len(custom.m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(custom.m))
	for _, k := range slices.Sorted(maps.Keys(custom.m)) {
		if length(k) > MaxCustomKey || !customKeyRE.MatchString(k) {
			return nil, invalid(custom.path(k), "field names start with a letter and hold only letters, digits and _ (at most %d)", MaxCustomKey)
		}
		if out[k], err = custom.str(k, true, MaxCustomValue); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeSequence(data object) (Sequence, error) {
	var s Sequence
	seq, err := data.object("sequence", true)
	if err != nil {
		return s, err
	}
	if s.ID, err = seq.id("id"); err != nil {
		return s, err
	}
	if s.Name, err = seq.str("name", false, MaxNameLength); err != nil {
		return s, err
	}
	return s, nil
}

func decodeEmailData(data object, t Type) (EmailData, error) {
	var d EmailData
	var err error
	if d.Sequence, err = decodeSequence(data); err != nil {
		return d, err
	}
	c, err := data.object("contact", true)
	if err != nil {
		return d, err
	}
	if d.Contact.ID, err = c.id("id"); err != nil {
		return d, err
	}
	if d.Contact.Email, err = c.email("email"); err != nil {
		return d, err
	}
	m, err := data.object("message", true)
	if err != nil {
		return d, err
	}
	if d.Message.ID, err = m.id("id"); err != nil {
		return d, err
	}
	if d.Message.Subject, err = m.str("subject", true, MaxSubjectLength); err != nil {
		return d, err
	}
	if d.Message.BodyText, err = m.str("body_text", false, MaxBodyTextLength); err != nil {
		return d, err
	}
	if d.Message.Step, err = m.integer("step", 1, MaxStep); err != nil {
		return d, err
	}
	if d.Message.SentAt, err = m.timestamp("sent_at"); err != nil {
		return d, err
	}
	if t == EmailClicked {
		u, err := m.str("url", true, MaxURLLength)
		if err != nil {
			return d, err
		}
		if p := checkURL(u); p != "" {
			return d, invalid(m.path("url"), "%s", p)
		}
		d.Message.URL = u
	} else if m.has("url") {
		return d, invalid(m.path("url"), "only allowed on %s", EmailClicked)
	}
	if t == EmailBounced {
		if d.Message.Reason, err = m.str("reason", true, MaxReasonLength); err != nil {
			return d, err
		}
		if d.Message.Reason == "" {
			return d, invalid(m.path("reason"), "must not be empty")
		}
	} else if m.has("reason") {
		return d, invalid(m.path("reason"), "only allowed on %s", EmailBounced)
	}
	if d.User, err = decodeUser(data); err != nil {
		return d, err
	}
	return d, nil
}

// object is a JSON object being read, with its path for error messages.
type object struct {
	at string // "" for the top level
	m  map[string]any
}

func (o object) path(name string) string {
	if o.at == "" {
		return name
	}
	return o.at + "." + name
}

func (o object) has(name string) bool {
	_, ok := o.m[name]
	return ok
}

// get returns the member, failing when a required member is missing.
// A null member is never accepted: the contract has no nullable fields.
func (o object) get(name string, required bool) (any, bool, error) {
	v, ok := o.m[name]
	if !ok {
		if required {
			return nil, false, invalid(o.path(name), "missing")
		}
		return nil, false, nil
	}
	if v == nil {
		return nil, false, invalid(o.path(name), "must not be null")
	}
	return v, true, nil
}

func (o object) object(name string, required bool) (object, error) {
	v, ok, err := o.get(name, required)
	if err != nil || !ok {
		return object{at: o.path(name)}, err
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return object{}, invalid(o.path(name), "must be an object, got %s", kindOf(v))
	}
	return object{at: o.path(name), m: m}, nil
}

func (o object) str(name string, required bool, max int) (string, error) {
	v, ok, err := o.get(name, required)
	if err != nil || !ok {
		return "", err
	}
	s, isStr := v.(string)
	if !isStr {
		return "", invalid(o.path(name), "must be a string, got %s", kindOf(v))
	}
	if p := checkLength(s, max); p != "" {
		return "", invalid(o.path(name), "%s", p)
	}
	return s, nil
}

func (o object) id(name string) (string, error) {
	s, err := o.str(name, true, MaxIDLength)
	if err != nil {
		return "", err
	}
	if p := checkID(s); p != "" {
		return "", invalid(o.path(name), "%s", p)
	}
	return s, nil
}

func (o object) email(name string) (string, error) {
	v, _, err := o.get(name, true)
	if err != nil {
		return "", err
	}
	s, isStr := v.(string)
	if !isStr {
		return "", invalid(o.path(name), "must be a string, got %s", kindOf(v))
	}
	if p := checkEmail(s); p != "" {
		return "", invalid(o.path(name), "%s", p)
	}
	return s, nil
}

func (o object) timestamp(name string) (time.Time, error) {
	s, err := o.str(name, true, 64)
	if err != nil {
		return time.Time{}, err
	}
	t, p := parseTimestamp(s)
	if p != "" {
		return time.Time{}, invalid(o.path(name), "%s", p)
	}
	return t, nil
}

// number reads a JSON number that must be an integer: 1, 1.0 and 10e-1 alike,
// as JSON Schema's "integer" has it. Numbers outside ±1e9 are reported as
// out of range without being examined further.
func (o object) number(name string) (n json.Number, f float64, err error) {
	v, _, err := o.get(name, true)
	if err != nil {
		return "", 0, err
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return "", 0, invalid(o.path(name), "must be an integer, got %s", kindOf(v))
	}
	f, err = strconv.ParseFloat(string(n), 64)
	if err != nil || math.Abs(f) > 1e9 {
		return n, math.Inf(1), nil
	}
	// Exactly integral, not merely after rounding to float64.
	if r, ok := new(big.Rat).SetString(string(n)); !ok || !r.IsInt() {
		return "", 0, invalid(o.path(name), "must be an integer, got %s", short(n))
	}
	return n, f, nil
}

// short cuts a number from the input down to a length fit for an error
// message.
func short(n json.Number) string {
	if len(n) > 24 {
		return string(n[:24]) + "..."
	}
	return string(n)
}

func (o object) integer(name string, min, max int) (int, error) {
	n, f, err := o.number(name)
	if err != nil {
		return 0, err
	}
	if f < float64(min) || f > float64(max) {
		return 0, invalid(o.path(name), "%s is outside %d to %d", short(n), min, max)
	}
	return int(f), nil
}

func (o object) version() (int, error) {
	n, f, err := o.number("version")
	if err != nil {
		return 0, err
	}
	if f != Version {
		e := invalid("version", "version %s is not supported; this consumer reads version %d", short(n), Version)
		e.kind = ErrUnsupportedVersion
		return 0, e
	}
	return Version, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

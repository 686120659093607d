// Package mapping is the domain of custom field mapping (rule R8): which
// Salesforce field of a new Lead or Contact gets which contact field, constant
// or template; the shipped default mapping; the preflight of a mapping against
// the org's describe; and the rendering of a contact into a record, typed and
// trimmed as the org's fields expect.
//
// It knows nothing of DynamoDB or HTTP: mappingdb stores versions, describe
// caches the org's metadata, and mappinghttp serves the API.
package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sfsync/sfsync/shared/event"
)

// Limits of a mapping document.
const (
	MaxRows           = 500  // rows in one mapping
	MaxConstantLength = 4096 // characters of a constant or on_empty
	MaxTemplateLength = 1024 // characters of a template
	MaxPlaceholders   = 20   // {{field}} placeholders in one template
	MaxFieldName      = 80   // characters of a Salesforce field API name
	maxCustomKey      = event.MaxCustomKey
)

// MaxRecordBytes bounds a contact's rendered record: the bytes of its field
// names and values together. Rendering stops at the field that would cross
// it, with a *RecordTooLargeError.
const MaxRecordBytes = 64 << 10

// ErrInvalid is matched (errors.Is) by every problem report of this package.
var ErrInvalid = errors.New("mapping: invalid")

// ErrValue is matched by a *ValueError: a contact's value that cannot be
// written to the field's type.
var ErrValue = errors.New("mapping: value does not fit the field")

// ErrRecordTooLarge is matched by a *RecordTooLargeError: a contact whose
// rendered record would exceed MaxRecordBytes.
var ErrRecordTooLarge = errors.New("mapping: rendered record too large")

// Source says where a row's value comes from: exactly one of a contact field
// (first_name, ..., custom.<key>), a constant, or a template such as
// "{{first_name}} {{last_name}}".
type Source struct {
	Field    string  `json:"field,omitempty"`
	Constant *string `json:"constant,omitempty"`
	Template string  `json:"template,omitempty"`
}

// Rule is one row of a mapping.
type Rule struct {
	SalesforceField string  `json:"salesforce_field"`
	Source          Source  `json:"source"`
	OnEmpty         *string `json:"on_empty,omitempty"`
}

// Mapping is the whole mapping of one object.
type Mapping struct {
	Fields []Rule `json:"fields"`
}

// Clone returns a deep copy.
func (m Mapping) Clone() Mapping {
	out := Mapping{Fields: make([]Rule, len(m.Fields))}
	for i, r := range m.Fields {
		if r.Source.Constant != nil {
			c := *r.Source.Constant
			r.Source.Constant = &c
		}
		if r.OnEmpty != nil {
			e := *r.OnEmpty
			r.OnEmpty = &e
		}
		out.Fields[i] = r
	}
	return out
}

// Version is one saved mapping (Number 0: the shipped default, never saved).
type Version struct {
	Object  event.SalesforceObject
	Number  int
	SavedAt time.Time // zero for version 0
	Author  string
	Mapping Mapping
}

// ObjectFromPath reads the {object} path word: lead or contact.
func ObjectFromPath(s string) (event.SalesforceObject, error) {
	switch s {
	case "lead":
		return event.ObjectLead, nil
	case "contact":
		return event.ObjectContact, nil
	}
	return "", &Problem{Field: "object", Code: "invalid_object", Message: "object: must be lead or contact"}
}

// PathWord is the {object} path word of an object.
func PathWord(o event.SalesforceObject) string { return strings.ToLower(string(o)) }

// CheckObject returns an error unless o is Lead or Contact.
func CheckObject(o event.SalesforceObject) error {
	if o != event.ObjectLead && o != event.ObjectContact {
		return &Problem{Field: "object", Code: "invalid_object", Message: fmt.Sprintf("object: %q is not Lead or Contact", string(o))}
	}
	return nil
}

// Contact fields a source may name; custom.<key> names contact.custom[key].
const (
	FieldID          = "id"
	FieldEmail       = "email"
	FieldFirstName   = "first_name"
	FieldLastName    = "last_name"
	FieldCompany     = "company"
	FieldTitle       = "title"
	FieldPhone       = "phone"
	FieldWebsite     = "website"
	FieldLinkedInURL = "linkedin_url"
	CustomPrefix     = "custom."
)

// ContactFields lists the contact fields a source may name (besides custom.<key>).
var ContactFields = []string{FieldID, FieldEmail, FieldFirstName, FieldLastName, FieldCompany, FieldTitle, FieldPhone, FieldWebsite, FieldLinkedInURL}

var (
	customKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	apiNameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// validSourceField reports whether name is a contact field or custom.<key>.
func validSourceField(name string) bool {
	if key, ok := strings.CutPrefix(name, CustomPrefix); ok {
		return len(key) <= maxCustomKey && customKeyRE.MatchString(key)
	}
	for _, f := range ContactFields {
		if f == name {
			return true
		}
	}
	return false
}

// ContactValue returns the contact's value of a source field name.
func ContactValue(c event.Contact, name string) string {
	switch name {
	case FieldID:
		return c.ID
	case FieldEmail:
		return c.Email
	case FieldFirstName:
		return c.FirstName
	case FieldLastName:
		return c.LastName
	case FieldCompany:
		return c.Company
	case FieldTitle:
		return c.Title
	case FieldPhone:
		return c.Phone
	case FieldWebsite:
		return c.Website
	case FieldLinkedInURL:
		return c.LinkedInURL
	}
	if key, ok := strings.CutPrefix(name, CustomPrefix); ok {
		return c.Custom[key]
	}
	return ""
}

func row(sf, field string) Rule { return Rule{SalesforceField: sf, Source: Source{Field: field}} }

// Default is the shipped mapping of an object (version 0): the standard
// fields a sequencer contact fills.
func Default(o event.SalesforceObject) Mapping {
	switch o {
	case event.ObjectContact:
		return Mapping{Fields: []Rule{
			row("FirstName", FieldFirstName), row("LastName", FieldLastName), row("Email", FieldEmail),
			row("Title", FieldTitle), row("Phone", FieldPhone),
		}}
	default:
		return Mapping{Fields: []Rule{
			row("FirstName", FieldFirstName), row("LastName", FieldLastName), row("Company", FieldCompany),
			row("Email", FieldEmail), row("Title", FieldTitle), row("Phone", FieldPhone), row("Website", FieldWebsite),
		}}
	}
}

// template is a parsed template: literal text and contact field names.
type template []segment

type segment struct {
	literal piece  // the literal text, its white space collapsed
	field   string // set for a placeholder
}

// placeholders counts the template's {{field}} placeholders.
func (t template) placeholders() int {
	n := 0
	for _, s := range t {
		if s.field != "" {
			n++
		}
	}
	return n
}

// parseTemplate splits s into literals and {{field}} placeholders.
func parseTemplate(s string) (template, error) {
	var t template
	rest := s
	for rest != "" {
		open := strings.Index(rest, "{{")
		closing := strings.Index(rest, "}}")
		if open < 0 {
			if closing >= 0 {
				return nil, fmt.Errorf(`has "}}" without an opening "{{"`)
			}
			t = append(t, segment{literal: newPiece(rest)})
			break
		}
		if closing >= 0 && closing < open {
			return nil, fmt.Errorf(`has "}}" without an opening "{{"`)
		}
		if open > 0 {
			t = append(t, segment{literal: newPiece(rest[:open])})
		}
		rest = rest[open+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			return nil, fmt.Errorf(`has "{{" without a closing "}}"`)
		}
		name := strings.TrimSpace(rest[:end])
		if !validSourceField(name) {
			return nil, fmt.Errorf("{{%s}} is not a contact field (%s, or custom.<key>)", name, strings.Join(ContactFields, ", "))
		}
		t = append(t, segment{field: name})
		rest = rest[end+2:]
	}
	return t, nil
}

// render fills the template into w; a run of spaces left by empty fields
// collapses. A template whose placeholders are all empty renders empty (so
// on_empty applies), not as its bare literal text. It stops as soon as w
// takes no more text, so a template costs no more than it may produce.
func (t template) render(w *textWriter, vals *contactValues) {
	placeholders, filled := 0, false
	for _, s := range t {
		if s.field != "" {
			placeholders++
			filled = filled || vals.get(s.field).words != ""
		}
	}
	if placeholders > 0 && !filled {
		return
	}
	for _, s := range t {
		if w.stopped() {
			return
		}
		if s.field != "" {
			w.write(vals.get(s.field))
		} else {
			w.write(s.literal)
		}
	}
}

// Validate checks the mapping's structure (not the org's metadata): every
// row has a well-formed Salesforce field name, exactly one known source and
// sane lengths, and no field is mapped twice. All problems are returned.
func (m Mapping) Validate() error {
	var ps Problems
	if len(m.Fields) > MaxRows {
		ps = append(ps, Problem{Field: "fields", Code: "too_many_rows", Message: fmt.Sprintf("fields: %d rows exceed the limit of %d", len(m.Fields), MaxRows)})
		return ps
	}
	seen := map[string]int{}
	for i, r := range m.Fields {
		ps = append(ps, validateRow(i, r, seen)...)
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

func validateRow(i int, r Rule, seen map[string]int) Problems {
	var ps Problems
	at := func(suffix string) string { return fmt.Sprintf("fields[%d]%s", i, suffix) }
	add := func(field, code, format string, args ...any) {
		ps = append(ps, Problem{Row: rowIndex(i), SalesforceField: r.SalesforceField, Field: at(field), Code: code,
			Message: at(field) + ": " + fmt.Sprintf(format, args...)})
	}
	switch name := r.SalesforceField; {
	case name == "":
		add(".salesforce_field", "invalid_field_name", "is required: the Salesforce field's API name, e.g. LastName or Industry__c")
	case len(name) > MaxFieldName || !apiNameRE.MatchString(name):
		add(".salesforce_field", "invalid_field_name", "%q is not a Salesforce field API name (letters, digits and _, starting with a letter, at most %d)", clip(name), MaxFieldName)
	default:
		key := strings.ToLower(name)
		if first, dup := seen[key]; dup {
			add(".salesforce_field", "duplicate_field", "%s is already mapped by row %d; map each field once", name, first)
		} else {
			seen[key] = i
		}
	}
	n := 0
	if r.Source.Field != "" {
		n++
	}
	if r.Source.Constant != nil {
		n++
	}
	if r.Source.Template != "" {
		n++
	}
	switch {
	case n != 1:
		add(".source", "invalid_source", "must hold exactly one of field, constant or template")
	case r.Source.Field != "":
		if !validSourceField(r.Source.Field) {
			add(".source.field", "unknown_source_field", "%q is not a contact field (%s, or custom.<key>)", clip(r.Source.Field), strings.Join(ContactFields, ", "))
		}
	case r.Source.Constant != nil:
		switch c := *r.Source.Constant; {
		case strings.TrimSpace(c) == "":
			add(".source.constant", "invalid_constant", "must not be empty; leave the row out to send nothing")
		case utf8.RuneCountInString(c) > MaxConstantLength:
			add(".source.constant", "invalid_constant", "longer than %d characters", MaxConstantLength)
		}
	default:
		if utf8.RuneCountInString(r.Source.Template) > MaxTemplateLength {
			add(".source.template", "invalid_template", "longer than %d characters", MaxTemplateLength)
		} else if t, err := parseTemplate(r.Source.Template); err != nil {
			add(".source.template", "invalid_template", "%v", err)
		} else if n := t.placeholders(); n > MaxPlaceholders {
			add(".source.template", "invalid_template", "has %d placeholders; a template holds at most %d", n, MaxPlaceholders)
		}
	}
	if r.OnEmpty != nil {
		switch e := *r.OnEmpty; {
		case strings.TrimSpace(e) == "":
			add(".on_empty", "invalid_on_empty", "must not be empty; leave it out to send nothing when the source is empty")
		case utf8.RuneCountInString(e) > MaxConstantLength:
			add(".on_empty", "invalid_on_empty", "longer than %d characters", MaxConstantLength)
		}
	}
	return ps
}

func rowIndex(i int) *int { return &i }

// clip shortens a hostile value before it is echoed in a message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	r := []rune(s)
	return string(r[:60]) + "..."
}

// Problem is one thing wrong with a mapping: the row (when there is one),
// the Salesforce field, the request field and what is wrong.
type Problem struct {
	Row             *int   `json:"row,omitempty"`
	SalesforceField string `json:"salesforce_field,omitempty"`
	Field           string `json:"field"`
	Code            string `json:"code"`
	Message         string `json:"message"`
}

func (p *Problem) Error() string { return p.Message }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (p *Problem) Unwrap() error { return ErrInvalid }

// Problems is every problem found in a mapping, in row order.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (ps Problems) Unwrap() error { return ErrInvalid }

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Row, ps[j].Row
		switch {
		case a == nil && b == nil:
			return false
		case a == nil:
			return false
		case b == nil:
			return true
		}
		return *a < *b
	})
}

// ValueError is a contact's value that the field's type cannot take (a
// custom value "maybe" for a checkbox): the contact's sync fails with the
// field named.
type ValueError struct {
	Field   string // Salesforce field
	Problem string
}

func (e *ValueError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap makes errors.Is(err, ErrValue) hold.
func (e *ValueError) Unwrap() error { return ErrValue }

// RecordTooLargeError is a contact whose rendered record would exceed
// MaxRecordBytes: the contact's sync fails, naming the field at which the
// record crossed the limit; nothing else of the batch is affected.
type RecordTooLargeError struct {
	Field string // Salesforce field being rendered when the record crossed the limit
	Limit int    // bytes
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("%s: the rendered record exceeds %d bytes at this field; map fewer or shorter values", e.Field, e.Limit)
}

// Unwrap makes errors.Is(err, ErrRecordTooLarge) hold.
func (e *RecordTooLargeError) Unwrap() error { return ErrRecordTooLarge }

package mapping

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Field type classes, by describe type.
type class int

const (
	classUnsupported class = iota
	classText              // string, textarea, combobox: any source
	classPicklist          // picklist, multipicklist: any source; restricted ones check constants
	classEmail
	classPhone
	classURL
	classBoolean
	classNumber
	classInteger
	classDate
	classDateTime
)

func classOf(fieldType string) class {
	switch fieldType {
	case "string", "textarea", "combobox":
		return classText
	case "picklist", "multipicklist":
		return classPicklist
	case "email":
		return classEmail
	case "phone":
		return classPhone
	case "url":
		return classURL
	case "boolean":
		return classBoolean
	case "double", "currency", "percent":
		return classNumber
	case "int", "long":
		return classInteger
	case "date":
		return classDate
	case "datetime":
		return classDateTime
	}
	return classUnsupported
}

// sourceKind is what a contact field holds.
type sourceKind int

const (
	kindText sourceKind = iota
	kindEmail
	kindPhone
	kindURL
	kindUntyped // custom.<key>: the sequencer's custom values carry no type
)

func kindOf(field string) sourceKind {
	switch field {
	case FieldEmail:
		return kindEmail
	case FieldPhone:
		return kindPhone
	case FieldWebsite, FieldLinkedInURL:
		return kindURL
	}
	if strings.HasPrefix(field, CustomPrefix) {
		return kindUntyped
	}
	return kindText
}

// fits reports whether a contact field of kind k may feed a field of class c.
func fits(c class, k sourceKind) bool {
	if k == kindUntyped {
		return true
	}
	switch c {
	case classText, classPicklist:
		return true
	case classEmail:
		return k == kindEmail
	case classPhone:
		return k == kindPhone
	case classURL:
		return k == kindURL
	}
	return false
}

// Fields that always get a value whatever the mapping says (see Render):
// the required fields the product fills itself, and Email, the dedup key.
func fallbackField(o event.SalesforceObject, name string) bool {
	switch strings.ToLower(name) {
	case "lastname":
		return true
	case "company":
		return o == event.ObjectLead
	}
	return false
}

// EmailField is the field every created record carries the contact's email
// in; a mapping may only feed it from the email contact field.
const EmailField = "Email"

// Preflight checks m against the org's describe of the object: every field
// exists and is createable, each source's type fits the field's type,
// constants (and on_empty values) fit the field's length, type and
// restricted picklist values, and every field the org requires on create
// gets a value. It returns every problem, in row order, or nil.
func Preflight(o event.SalesforceObject, m Mapping, d *salesforce.Describe) Problems {
	var ps Problems
	mapped := map[string]bool{}
	for i, r := range m.Fields {
		at := func(suffix string) string { return fmt.Sprintf("fields[%d]%s", i, suffix) }
		add := func(field, code, format string, args ...any) {
			ps = append(ps, Problem{Row: rowIndex(i), SalesforceField: r.SalesforceField, Field: at(field), Code: code,
				Message: fmt.Sprintf("row %d, %s: ", i, r.SalesforceField) + fmt.Sprintf(format, args...)})
		}
		f, ok := d.Field(r.SalesforceField)
		if !ok {
			add(".salesforce_field", "unknown_field", "%s has no field %s (check the API name; custom fields end in __c)", o, r.SalesforceField)
			continue
		}
		mapped[strings.ToLower(f.Name)] = true
		if !f.Createable {
			add(".salesforce_field", "not_createable", "the field is not createable (read-only, formula or system field, or hidden from the connected user)")
			continue
		}
		c := classOf(f.Type)
		if c == classUnsupported {
			add(".salesforce_field", "unsupported_type", "fields of type %s cannot be mapped", f.Type)
			continue
		}
		if strings.EqualFold(f.Name, EmailField) && r.Source.Field != FieldEmail {
			add(".source", "reserved_field", "Email always receives the contact's email (the key that prevents duplicates); map it from the email field or leave it out")
			continue
		}
		switch {
		case r.Source.Field != "":
			if !fits(c, kindOf(r.Source.Field)) {
				add(".source.field", "type_mismatch", "a %s field cannot take %s (%s)", f.Type, r.Source.Field, kindWords(kindOf(r.Source.Field)))
			}
		case r.Source.Template != "":
			if c != classText && c != classPicklist {
				add(".source.template", "type_mismatch", "a %s field cannot take a template; templates make text", f.Type)
			}
		case r.Source.Constant != nil:
			if code, msg := checkConstant(f, c, *r.Source.Constant); code != "" {
				add(".source.constant", code, "%s", msg)
			}
		}
		if r.OnEmpty != nil {
			if code, msg := checkConstant(f, c, *r.OnEmpty); code != "" {
				add(".on_empty", code, "%s", msg)
			}
		}
		if f.RequiredOnCreate() && !fallbackField(o, f.Name) && r.Source.Constant == nil && r.OnEmpty == nil {
			add(".on_empty", "required_may_be_empty", "%s requires a value on create; give on_empty for contacts whose %s is empty", f.Name, sourceWords(r.Source))
		}
	}
	for _, f := range d.Fields {
		if f.RequiredOnCreate() && !fallbackField(o, f.Name) && !mapped[strings.ToLower(f.Name)] {
			ps = append(ps, Problem{SalesforceField: f.Name, Field: "fields", Code: "required_unmapped",
				Message: fmt.Sprintf("%s: the org requires %s on create and it has no default; add a row for it", f.Name, f.Name)})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	ps.sort()
	return ps
}

func kindWords(k sourceKind) string {
	switch k {
	case kindEmail:
		return "an email address"
	case kindPhone:
		return "a phone number"
	case kindURL:
		return "a URL"
	}
	return "free text"
}

func sourceWords(s Source) string {
	if s.Field != "" {
		return s.Field
	}
	return "template"
}

// checkConstant says whether the constant v fits field f; it returns a
// problem code and message, or "" when it fits.
func checkConstant(f salesforce.DescribeField, c class, v string) (code, msg string) {
	switch c {
	case classBoolean:
		if _, ok := parseBool(v); !ok {
			return "type_mismatch", fmt.Sprintf("%q is not a checkbox value (true or false)", clip(v))
		}
		return "", ""
	case classNumber, classInteger:
		if _, ok := parseNumber(v, c == classInteger); !ok {
			kind := "a number"
			if c == classInteger {
				kind = "a whole number"
			}
			return "type_mismatch", fmt.Sprintf("%q is not %s", clip(v), kind)
		}
		return "", ""
	case classDate:
		if _, ok := parseDate(v); !ok {
			return "type_mismatch", fmt.Sprintf("%q is not a date (YYYY-MM-DD)", clip(v))
		}
		return "", ""
	case classDateTime:
		if _, ok := parseDateTime(v); !ok {
			return "type_mismatch", fmt.Sprintf("%q is not a date-time (RFC 3339, e.g. 2026-11-26T10:00:00Z)", clip(v))
		}
		return "", ""
	}
	if n := salesforce.TextLength(v); f.Length > 0 && n > f.Length {
		return "too_long", fmt.Sprintf("the value is %d characters as Salesforce counts them (an emoji is 2); the field holds at most %d", n, f.Length)
	}
	switch c {
	case classEmail:
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v || a.Name != "" {
			return "type_mismatch", fmt.Sprintf("%q is not an email address", clip(v))
		}
	case classPicklist:
		if f.RestrictedPicklist {
			if _, ok := picklistValue(f, v); !ok {
				return "not_in_picklist", fmt.Sprintf("%q is not a value of this restricted picklist (%s)", clip(v), picklistWords(f))
			}
		}
	}
	return "", ""
}

// picklistValue finds v among the field's active values, case-insensitively,
// and returns the value as the org spells it.
func picklistValue(f salesforce.DescribeField, v string) (string, bool) {
	for _, p := range f.PicklistValues {
		if p.Active && p.Value == v {
			return p.Value, true
		}
	}
	for _, p := range f.PicklistValues {
		if p.Active && strings.EqualFold(p.Value, v) {
			return p.Value, true
		}
	}
	return "", false
}

func picklistWords(f salesforce.DescribeField) string {
	var vs []string
	for _, p := range f.PicklistValues {
		if p.Active {
			vs = append(vs, p.Value)
		}
	}
	if len(vs) > 10 {
		return strings.Join(vs[:10], ", ") + fmt.Sprintf(" and %d more", len(vs)-10)
	}
	return strings.Join(vs, ", ")
}

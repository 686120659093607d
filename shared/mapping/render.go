package mapping

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Unknown is the value of a required name the contact cannot supply.
const Unknown = "Unknown"

// standardLengths are the lengths of the standard fields the default mapping
// writes, used to trim values when no describe of the org is cached yet.
var standardLengths = map[string]int{
	"firstname": 40, "lastname": 80, "company": 255, "title": 128, "phone": 40, "mobilephone": 40,
	"website": 255, "email": 80, "city": 40, "state": 80, "country": 80, "postalcode": 20, "department": 80,
}

// Compiled is a mapping ready to render contacts: its templates are parsed
// once. A renderer keeps one per mapping version (mappingdb.Renderer does)
// rather than parsing the templates again for every contact.
type Compiled struct {
	rules []compiledRule
}

type compiledRule struct {
	Rule
	tmpl template // the parsed template; nil when the row has none
}

// Compile parses m's templates. A template that does not parse (a mapping
// saved through Validate never holds one) renders empty.
func Compile(m Mapping) *Compiled {
	cm := &Compiled{rules: make([]compiledRule, len(m.Fields))}
	for i, r := range m.Fields {
		cm.rules[i].Rule = r
		if r.Source.Template != "" {
			cm.rules[i].tmpl, _ = parseTemplate(r.Source.Template)
		}
	}
	return cm
}

// Render turns a contact into the fields of a new record of object o through
// mapping m: Compile(m).Render(o, d, c). A renderer of many contacts compiles
// the mapping once instead.
func Render(o event.SalesforceObject, m Mapping, d *salesforce.Describe, c event.Contact) (salesforce.SObject, error) {
	return Compile(m).Render(o, d, c)
}

// Render turns a contact into the fields of a new record of object o. With
// the org's describe d, values are typed as each field expects (checkbox,
// number, date, date-time), picklist values take the org's spelling, and
// text is trimmed to the field's length; without it (nil: nothing cached
// yet) every value is text, trimmed to the standard fields' lengths. Email
// always carries the contact's email; LastName (and, on a Lead, Company)
// always get a value: the contact's, else the email's local part (domain),
// else "Unknown".
//
// A template is rendered only up to its field's length, never built whole.
// A contact value the field's type cannot take is a *ValueError naming the
// field, unless the row has an on_empty to use instead. A record that would
// exceed MaxRecordBytes is a *RecordTooLargeError, found as it grows.
func (cm *Compiled) Render(o event.SalesforceObject, d *salesforce.Describe, c event.Contact) (salesforce.SObject, error) {
	if err := CheckObject(o); err != nil {
		return nil, err
	}
	rec := salesforce.NewSObject(string(o))
	size := recordSize{}
	vals := &contactValues{c: c}
	for _, r := range cm.rules {
		name := r.SalesforceField
		var f *salesforce.DescribeField
		if d != nil {
			if df, ok := d.Field(name); ok {
				f, name = &df, df.Name
			}
		}
		if strings.EqualFold(name, EmailField) {
			continue // set below from the contact, whatever the row says
		}
		v, err := r.evaluate(vals, name, f, size.left(name))
		if err != nil {
			return nil, err
		}
		if v == "" && r.OnEmpty != nil {
			v = *r.OnEmpty
		}
		if v == "" {
			continue
		}
		typed, err := typeValue(name, f, v)
		if err != nil && r.OnEmpty != nil && v != *r.OnEmpty {
			typed, err = typeValue(name, f, *r.OnEmpty)
		}
		if err != nil {
			return nil, err
		}
		if err := size.add(name, typed); err != nil {
			return nil, err
		}
		rec[name] = typed
	}
	if email := strings.TrimSpace(c.Email); email != "" {
		name := fieldName(d, EmailField)
		if err := size.add(name, email); err != nil {
			return nil, err
		}
		rec[name] = email
	}
	local, domain := splitEmail(c.Email)
	fill := func(field string, candidates ...string) error {
		name := fieldName(d, field)
		if s, ok := rec[name].(string); ok && s != "" {
			return nil
		}
		for _, v := range append(candidates, Unknown) {
			if v = strings.TrimSpace(v); v != "" {
				v = trim(v, lengthOf(d, name))
				rec[name] = v
				return size.add(name, v)
			}
		}
		return nil
	}
	if err := fill("LastName", c.LastName, local); err != nil {
		return nil, err
	}
	if o == event.ObjectLead {
		if err := fill("Company", c.Company, domain); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// maxTypedText bounds the text a template may give a checkbox, number or
// date field: no such value is longer.
const maxTypedText = 100

// evaluate gives the row's value for field name, trimmed of white space. A
// template renders at most the field's length and budget bytes.
func (r compiledRule) evaluate(vals *contactValues, name string, f *salesforce.DescribeField, budget int) (string, error) {
	switch {
	case r.Source.Field != "":
		return strings.TrimSpace(ContactValue(vals.c, r.Source.Field)), nil
	case r.Source.Constant != nil:
		return strings.TrimSpace(*r.Source.Constant), nil
	case r.tmpl == nil:
		return "", nil
	}
	room, typed := textRoom(name, f)
	w := newTextWriter(room, budget)
	r.tmpl.render(w, vals)
	switch {
	case w.over:
		return "", &RecordTooLargeError{Field: name, Limit: MaxRecordBytes}
	case w.cut && typed:
		return "", &ValueError{Field: name, Problem: fmt.Sprintf("the template renders more than %d characters, too many for a %s", maxTypedText, f.Type)}
	}
	return w.String(), nil
}

// textRoom is how many UTF-16 units of a template field name takes (negative:
// as many as the record allows), and whether the field is typed (checkbox,
// number, date), where a longer text is no value at all.
func textRoom(name string, f *salesforce.DescribeField) (room int, typed bool) {
	if f == nil {
		if n := standardLengths[strings.ToLower(name)]; n > 0 {
			return n, false
		}
		return -1, false
	}
	switch classOf(f.Type) {
	case classBoolean, classNumber, classInteger, classDate, classDateTime:
		return maxTypedText, true
	case classPicklist, classEmail:
		// Never trimmed (see typeValue): one character more than the field
		// holds keeps a value that is too long visibly too long.
		if f.Length > 0 {
			return f.Length + 1, false
		}
		return -1, false
	}
	if f.Length > 0 {
		return f.Length, false
	}
	return -1, false
}

// recordSize counts the bytes of a record's field names and values.
type recordSize struct{ used int }

// left is how many bytes a value of field name may still take.
func (s *recordSize) left(name string) int { return MaxRecordBytes - s.used - len(name) }

func (s *recordSize) add(name string, v any) error {
	n := len(name) + 8 // a checkbox, number or date
	if str, ok := v.(string); ok {
		n = len(name) + len(str)
	}
	if s.used += n; s.used > MaxRecordBytes {
		return &RecordTooLargeError{Field: name, Limit: MaxRecordBytes}
	}
	return nil
}

func fieldName(d *salesforce.Describe, name string) string {
	if d != nil {
		if f, ok := d.Field(name); ok {
			return f.Name
		}
	}
	return name
}

func lengthOf(d *salesforce.Describe, name string) int {
	if d != nil {
		if f, ok := d.Field(name); ok {
			return f.Length
		}
	}
	return standardLengths[strings.ToLower(name)]
}

func splitEmail(email string) (local, domain string) {
	email = strings.TrimSpace(email)
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return "", ""
	}
	return email[:i], email[i+1:]
}

// trim shortens v to n UTF-16 units, as Salesforce counts a field's length
// (0: no limit); a text of at most n bytes has at most n units.
func trim(v string, n int) string {
	if n <= 0 || len(v) <= n {
		return v
	}
	return v[:salesforce.TextPrefix(v, n)]
}

// typeValue converts v for field name (f nil: no describe; text).
func typeValue(name string, f *salesforce.DescribeField, v string) (any, error) {
	if f == nil {
		return trim(v, standardLengths[strings.ToLower(name)]), nil
	}
	bad := func(what string) error {
		return &ValueError{Field: f.Name, Problem: fmt.Sprintf("%q is not %s", clip(v), what)}
	}
	switch classOf(f.Type) {
	case classBoolean:
		b, ok := parseBool(v)
		if !ok {
			return nil, bad("a checkbox value (true or false)")
		}
		return b, nil
	case classNumber:
		x, ok := parseNumber(v, false)
		if !ok {
			return nil, bad("a number")
		}
		return x, nil
	case classInteger:
		x, ok := parseNumber(v, true)
		if !ok {
			return nil, bad("a whole number")
		}
		return int64(x), nil
	case classDate:
		t, ok := parseDate(v)
		if !ok {
			return nil, bad("a date (YYYY-MM-DD)")
		}
		return t.Format(time.DateOnly), nil
	case classDateTime:
		t, ok := parseDateTime(v)
		if !ok {
			return nil, bad("a date-time (RFC 3339)")
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	case classPicklist:
		if canon, ok := picklistValue(*f, v); ok {
			return canon, nil
		}
		return v, nil // a restricted picklist answers INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, naming the field
	case classEmail:
		return v, nil // a cut address is a wrong address: let Salesforce name it
	}
	return trim(v, f.Length), nil
}

// parseBool reads a checkbox value as people write it in a spreadsheet.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "y", "1", "on", "checked":
		return true, true
	case "false", "no", "n", "0", "off", "unchecked":
		return false, true
	}
	return false, false
}

// parseNumber reads a decimal number; thousands separators (,) and spaces
// are ignored. whole demands an integer.
func parseNumber(v string, whole bool) (float64, bool) {
	s := strings.NewReplacer(",", "", " ", "", "_", "").Replace(strings.TrimSpace(v))
	if s == "" || strings.ContainsAny(s, "xXpP") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") ||
		strings.EqualFold(strings.TrimLeft(s, "+-"), "infinity") || strings.EqualFold(s, "nan") {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, false
	}
	if whole && (x != math.Trunc(x) || math.Abs(x) > 1<<53) {
		return 0, false
	}
	return x, true
}

func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
	}
	return time.Time{}, false
}

func parseDateTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

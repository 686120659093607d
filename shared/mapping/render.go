package mapping

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// Render turns a contact into the fields of a new record of object o through
// mapping m. With the org's describe d, values are typed as each field
// expects (checkbox, number, date, date-time), picklist values take the
// org's spelling, and text is trimmed to the field's length; without it
// (nil: nothing cached yet) every value is text, trimmed to the standard
// fields' lengths. Email always carries the contact's email; LastName (and,
// on a Lead, Company) always get a value: the contact's, else the email's
// local part (domain), else "Unknown".
//
// A contact value the field's type cannot take is a *ValueError naming the
// field, unless the row has an on_empty to use instead.
func Render(o event.SalesforceObject, m Mapping, d *salesforce.Describe, c event.Contact) (salesforce.SObject, error) {
	if err := CheckObject(o); err != nil {
		return nil, err
	}
	rec := salesforce.NewSObject(string(o))
	for _, r := range m.Fields {
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
		v := strings.TrimSpace(evaluate(r.Source, c))
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
		rec[name] = typed
	}
	if email := strings.TrimSpace(c.Email); email != "" {
		rec[fieldName(d, EmailField)] = email
	}
	local, domain := splitEmail(c.Email)
	fill := func(field string, candidates ...string) {
		name := fieldName(d, field)
		if s, ok := rec[name].(string); ok && s != "" {
			return
		}
		for _, v := range append(candidates, Unknown) {
			if v = strings.TrimSpace(v); v != "" {
				rec[name] = trim(v, lengthOf(d, name))
				return
			}
		}
	}
	fill("LastName", c.LastName, local)
	if o == event.ObjectLead {
		fill("Company", c.Company, domain)
	}
	return rec, nil
}

func evaluate(s Source, c event.Contact) string {
	switch {
	case s.Field != "":
		return ContactValue(c, s.Field)
	case s.Constant != nil:
		return *s.Constant
	case s.Template != "":
		t, err := parseTemplate(s.Template)
		if err != nil {
			return ""
		}
		return t.render(c)
	}
	return ""
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

// trim shortens v to n characters (0: no limit).
func trim(v string, n int) string {
	if n <= 0 || utf8.RuneCountInString(v) <= n {
		return v
	}
	return string([]rune(v)[:n])
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

package soql

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// lit is a literal converted for the field it is compared with.
type lit struct {
	null bool
	s    string // text, id (canonical 15-character form) or date (YYYY-MM-DD)
	f    float64
	b    bool
	t    time.Time
	re   *regexp.Regexp // LIKE pattern
}

// comparison is one field expression of the WHERE clause.
type comparison struct {
	field string
	kind  FieldKind
	op    string
	vals  []lit
}

func (c *comparison) eval(rec map[string]any) bool {
	v, ok := fieldValue(rec[c.field], c.kind)
	switch c.op {
	case "IN", "NOT IN":
		in := false
		for _, l := range c.vals {
			if l.null {
				if !ok {
					in = true
				}
				continue
			}
			if ok && compare(c.kind, v, l) == 0 {
				in = true
			}
		}
		if c.op == "IN" {
			return in
		}
		return !in
	case "LIKE":
		return ok && c.vals[0].re.MatchString(v.s)
	}
	l := c.vals[0]
	if l.null {
		switch c.op {
		case "=":
			return !ok
		case "!=":
			return ok
		}
		return false
	}
	if !ok {
		return c.op == "!="
	}
	r := compare(c.kind, v, l)
	switch c.op {
	case "=":
		return r == 0
	case "!=":
		return r != 0
	case "<":
		return r < 0
	case ">":
		return r > 0
	case "<=":
		return r <= 0
	case ">=":
		return r >= 0
	}
	return false
}

// compare orders two non-null values of one kind; text compares
// case-insensitively.
func compare(kind FieldKind, a, b lit) int {
	switch kind {
	case KindString:
		if strings.EqualFold(a.s, b.s) {
			return 0
		}
		if r := strings.Compare(strings.ToUpper(a.s), strings.ToUpper(b.s)); r != 0 {
			return r
		}
		return strings.Compare(a.s, b.s)
	case KindID, KindReference, KindDate:
		return strings.Compare(a.s, b.s)
	case KindBool:
		switch {
		case a.b == b.b:
			return 0
		case !a.b:
			return -1
		}
		return 1
	case KindNumber:
		return cmp.Compare(a.f, b.f)
	case KindDateTime:
		return a.t.Compare(b.t)
	}
	return 0
}

// fieldValue converts a record's value for comparison; ok is false for null
// or for a value that cannot be read as the field's kind.
func fieldValue(v any, kind FieldKind) (lit, bool) {
	if v == nil {
		return lit{}, false
	}
	switch kind {
	case KindString:
		if s, ok := v.(string); ok {
			return lit{s: s}, true
		}
		return lit{s: fmt.Sprint(v)}, true
	case KindID, KindReference:
		s, ok := v.(string)
		if !ok || s == "" {
			return lit{}, false
		}
		if id, ok := canonicalID(s); ok {
			return lit{s: id}, true
		}
		return lit{s: s}, true
	case KindBool:
		switch b := v.(type) {
		case bool:
			return lit{b: b}, true
		case string:
			pb, err := strconv.ParseBool(b)
			return lit{b: pb}, err == nil
		}
	case KindNumber:
		if f, ok := number(v); ok {
			return lit{f: f}, true
		}
	case KindDate:
		switch d := v.(type) {
		case time.Time:
			return lit{s: d.Format(time.DateOnly)}, true
		case string:
			if len(d) >= 10 {
				if s, ok := parseDate(d[:10]); ok {
					return lit{s: s}, true
				}
			}
		}
	case KindDateTime:
		switch d := v.(type) {
		case time.Time:
			return lit{t: d}, true
		case string:
			if t, ok := parseDateTime(d); ok {
				return lit{t: t}, true
			}
		}
	}
	return lit{}, false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

func parseDate(s string) (string, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", false
	}
	return t.Format(time.DateOnly), true
}

// dateTimeLayouts are the forms a dateTime takes in a query or in a record:
// SOQL literals, and the REST API's own "2026-11-26T10:00:00.000+0000".
var dateTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.000Z0700",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
}

func parseDateTime(s string) (time.Time, bool) {
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

const idSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// canonicalID returns the 15-character, case-sensitive form of a record id.
// For an 18-character id the letter case of the first 15 characters is taken
// from the checksum suffix, so any casing of an 18-character id resolves to
// the same record.
func canonicalID(s string) (string, bool) {
	if len(s) != 15 && len(s) != 18 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", false
		}
	}
	if len(s) == 15 {
		return s, true
	}
	b := []byte(s[:15])
	for k := range 3 {
		bits := strings.IndexByte(idSuffixAlphabet, upperASCII(s[15+k]))
		if bits < 0 {
			return "", false
		}
		for j := range 5 {
			c := &b[k*5+j]
			if bits&(1<<j) != 0 {
				*c = upperASCII(*c)
			} else if *c >= 'A' && *c <= 'Z' {
				*c += 'a' - 'A'
			}
		}
	}
	return string(b), true
}

func upperASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// Sort orders recs by the ORDER BY clause, keeping the given order between
// records that tie. Without ORDER BY it leaves recs as they are.
func (q *Query) Sort(recs []map[string]any) {
	if len(q.order) == 0 {
		return
	}
	slices.SortStableFunc(recs, func(a, b map[string]any) int {
		for _, o := range q.order {
			va, oka := fieldValue(a[o.field], o.kind)
			vb, okb := fieldValue(b[o.field], o.kind)
			var r int
			switch {
			case !oka && !okb:
				r = 0
			case !oka || !okb:
				r = -1 // a is null
				if oka {
					r = 1
				}
				if o.nullsLast {
					r = -r
				}
			default:
				r = compare(o.kind, va, vb)
				if o.desc {
					r = -r
				}
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
}

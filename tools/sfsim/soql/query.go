package soql

import (
	"strings"
)

// FieldKind is how a field's values compare. Map describe types onto it:
// string, email, phone, url, textarea, picklist, combobox → KindString; id →
// KindID; reference → KindReference; boolean → KindBool; double, int, currency,
// percent → KindNumber; date → KindDate; datetime → KindDateTime.
type FieldKind int

// Field kinds.
const (
	KindString FieldKind = iota
	KindID
	KindReference
	KindBool
	KindNumber
	KindDate
	KindDateTime
)

func (k FieldKind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindID:
		return "id"
	case KindReference:
		return "reference"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "double"
	case KindDate:
		return "date"
	case KindDateTime:
		return "dateTime"
	}
	return "unknown"
}

func (k FieldKind) isID() bool { return k == KindID || k == KindReference }

// Schema tells the parser which objects and fields exist. Fields returns the
// object's fields keyed by their canonical names; ok is false for an unknown
// object. Lookups by the parser are case-insensitive: it first asks for the
// object as written, then, if the schema also implements ObjectNamer, for its
// canonical name.
type Schema interface {
	Fields(object string) (map[string]FieldKind, bool)
}

// ObjectNamer is optionally implemented by a Schema to resolve an object name
// written in any letter case to its canonical name.
type ObjectNamer interface {
	ObjectName(name string) (string, bool)
}

// MapSchema is a Schema held in memory: object name → field name → kind.
// Object and field names are matched case-insensitively.
type MapSchema map[string]map[string]FieldKind

// Fields implements Schema.
func (m MapSchema) Fields(object string) (map[string]FieldKind, bool) {
	name, ok := m.ObjectName(object)
	if !ok {
		return nil, false
	}
	return m[name], true
}

// ObjectName implements ObjectNamer.
func (m MapSchema) ObjectName(name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

// Query is a parsed, validated query ready to be evaluated against records.
type Query struct {
	object string
	fields []string
	where  cond // nil without WHERE
	order  []orderItem
	limit  int
	hasLim bool
}

// Object is the canonical name of the queried object.
func (q *Query) Object() string { return q.object }

// Fields are the selected fields' canonical names, in SELECT order.
func (q *Query) Fields() []string { return append([]string(nil), q.fields...) }

// Limit is the LIMIT value, and whether the query had one.
func (q *Query) Limit() (int, bool) { return q.limit, q.hasLim }

// Match reports whether rec satisfies the WHERE clause. rec is keyed by
// canonical field names; a missing key or a nil value is null.
func (q *Query) Match(rec map[string]any) bool {
	if q.where == nil {
		return true
	}
	return q.where.eval(rec)
}

type orderItem struct {
	field     string
	kind      FieldKind
	desc      bool
	nullsLast bool
}

// cond is a node of the WHERE clause.
type cond interface {
	eval(rec map[string]any) bool
}

type andCond []cond

func (c andCond) eval(rec map[string]any) bool {
	for _, x := range c {
		if !x.eval(rec) {
			return false
		}
	}
	return true
}

type orCond []cond

func (c orCond) eval(rec map[string]any) bool {
	for _, x := range c {
		if x.eval(rec) {
			return true
		}
	}
	return false
}

type notCond struct{ c cond }

func (c notCond) eval(rec map[string]any) bool { return !c.c.eval(rec) }

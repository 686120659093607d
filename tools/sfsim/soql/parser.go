package soql

import (
	"fmt"
	"strconv"
	"strings"
)

// reserved words cannot name a field or an object.
var reserved = map[string]bool{
	"AND": true, "ASC": true, "DESC": true, "EXCLUDES": true, "FIRST": true, "FROM": true,
	"GROUP": true, "HAVING": true, "IN": true, "INCLUDES": true, "LAST": true, "LIKE": true,
	"LIMIT": true, "NOT": true, "NULL": true, "NULLS": true, "OR": true, "SELECT": true,
	"WHERE": true, "WITH": true, "ORDER": true, "BY": true, "TRUE": true, "FALSE": true,
}

var comparisonOps = map[string]bool{"=": true, "!=": true, "<>": true, "<": true, ">": true, "<=": true, ">=": true}

// Parse parses query and checks it against schema. It returns a *Error
// carrying Salesforce's error code and message when Salesforce would reject
// the query.
func Parse(query string, schema Schema) (*Query, error) {
	q, err := parse(query, schema)
	if err != nil {
		return nil, err
	}
	return q, nil
}

func parse(query string, schema Schema) (*Query, *Error) {
	if strings.TrimSpace(query) == "" {
		return nil, &Error{Code: CodeMalformedQuery, Message: "SOQL statements cannot be empty or null"}
	}
	toks, lerr := lex(query)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{src: query, toks: toks}
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	return p.resolve(st, schema)
}

type parser struct {
	src  string
	toks []token
	i    int
}

// Syntax tree, before names and types are checked.
type statement struct {
	fields []int // token indices
	object int
	where  *node
	order  []orderSyntax
	limit  int // token index, or -1
}

type orderSyntax struct {
	field     int
	desc      bool
	nullsLast bool
}

type nodeKind int

const (
	nodeAnd nodeKind = iota
	nodeOr
	nodeNot
	nodeCmp
)

type node struct {
	kind  nodeKind
	kids  []*node
	field int    // nodeCmp: token index of the field
	op    string // =, !=, <, >, <=, >=, IN, NOT IN, LIKE (<> is stored as !=)
	vals  []int  // token indices of the values
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) isKeyword(kw string) bool { return p.peek().upper() == kw }

func (p *parser) expectKeyword(kw string) *Error {
	if !p.isKeyword(kw) {
		return p.unexpected(p.i)
	}
	p.i++
	return nil
}

func (p *parser) expectPunct(s string) *Error {
	if t := p.peek(); t.kind != tokPunct || t.text != s {
		return p.unexpected(p.i)
	}
	p.i++
	return nil
}

// name consumes an identifier that is not a reserved word.
func (p *parser) name() (int, *Error) {
	t := p.peek()
	if t.kind != tokIdent || reserved[t.upper()] {
		return 0, p.unexpected(p.i)
	}
	p.i++
	return p.i - 1, nil
}

func (p *parser) statement() (*statement, *Error) {
	st := &statement{limit: -1}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	for {
		f, err := p.name()
		if err != nil {
			return nil, err
		}
		st.fields = append(st.fields, f)
		if t := p.peek(); t.kind == tokPunct && t.text == "," {
			p.i++
			continue
		}
		break
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	obj, err := p.name()
	if err != nil {
		return nil, err
	}
	st.object = obj
	if p.isKeyword("WHERE") {
		p.i++
		if st.where, err = p.condition(); err != nil {
			return nil, err
		}
	}
	if p.isKeyword("ORDER") {
		p.i++
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			f, err := p.name()
			if err != nil {
				return nil, err
			}
			o := orderSyntax{field: f}
			switch p.peek().upper() {
			case "ASC":
				p.i++
			case "DESC":
				o.desc = true
				p.i++
			}
			if p.isKeyword("NULLS") {
				p.i++
				switch p.peek().upper() {
				case "FIRST":
				case "LAST":
					o.nullsLast = true
				default:
					return nil, p.unexpected(p.i)
				}
				p.i++
			}
			st.order = append(st.order, o)
			if t := p.peek(); t.kind == tokPunct && t.text == "," {
				p.i++
				continue
			}
			break
		}
	}
	if p.isKeyword("LIMIT") {
		p.i++
		t := p.peek()
		if t.kind != tokNumber || strings.ContainsAny(t.text, "+-.") {
			return nil, p.unexpected(p.i)
		}
		st.limit = p.i
		p.i++
	}
	if p.peek().kind != tokEOF {
		return nil, p.unexpected(p.i)
	}
	return st, nil
}

// condition parses a run of expressions joined by one kind of logical
// operator; switching between AND and OR without parentheses is an error at
// the operator that switches, and NOT may only open the condition.
func (p *parser) condition() (*node, *Error) {
	first, err := p.primary(true)
	if err != nil {
		return nil, err
	}
	kids := []*node{first}
	op := ""
	for {
		kw := p.peek().upper()
		if kw != "AND" && kw != "OR" {
			break
		}
		if op != "" && kw != op {
			return nil, p.unexpected(p.i)
		}
		op = kw
		p.i++
		n, err := p.primary(false)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	switch op {
	case "AND":
		return &node{kind: nodeAnd, kids: kids}, nil
	case "OR":
		return &node{kind: nodeOr, kids: kids}, nil
	}
	return first, nil
}

func (p *parser) primary(allowNot bool) (*node, *Error) {
	if allowNot && p.isKeyword("NOT") {
		p.i++
		n, err := p.primary(false)
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeNot, kids: []*node{n}}, nil
	}
	if t := p.peek(); t.kind == tokPunct && t.text == "(" {
		p.i++
		n, err := p.condition()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return n, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (*node, *Error) {
	f, err := p.name()
	if err != nil {
		return nil, err
	}
	n := &node{kind: nodeCmp, field: f}
	t := p.peek()
	switch {
	case t.kind == tokPunct && comparisonOps[t.text]:
		n.op = t.text
		if n.op == "<>" {
			n.op = "!="
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.vals = []int{v}
	case t.upper() == "LIKE":
		n.op = "LIKE"
		p.i++
		if p.peek().kind != tokString {
			return nil, p.unexpected(p.i)
		}
		n.vals = []int{p.i}
		p.i++
	case t.upper() == "IN":
		n.op = "IN"
		p.i++
		if n.vals, err = p.valueList(); err != nil {
			return nil, err
		}
	case t.upper() == "NOT":
		p.i++
		if err := p.expectKeyword("IN"); err != nil {
			return nil, err
		}
		n.op = "NOT IN"
		if n.vals, err = p.valueList(); err != nil {
			return nil, err
		}
	default:
		return nil, p.unexpected(p.i)
	}
	return n, nil
}

func (p *parser) value() (int, *Error) {
	t := p.peek()
	switch t.kind {
	case tokString, tokNumber, tokDate, tokDateTime:
		p.i++
		return p.i - 1, nil
	case tokIdent:
		switch t.upper() {
		case "TRUE", "FALSE", "NULL":
			p.i++
			return p.i - 1, nil
		}
	}
	return 0, p.unexpected(p.i)
}

func (p *parser) valueList() ([]int, *Error) {
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	var vals []int
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		t := p.peek()
		if t.kind == tokPunct && t.text == "," {
			p.i++
			continue
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return vals, nil
	}
}

// resolve checks names and types against the schema and builds the query.
func (p *parser) resolve(st *statement, schema Schema) (*Query, *Error) {
	objText := p.toks[st.object].text
	object := objText
	if n, ok := schema.(ObjectNamer); ok {
		if canon, ok := n.ObjectName(objText); ok {
			object = canon
		}
	}
	fields, ok := schema.Fields(object)
	if !ok {
		return nil, p.errAt(st.object, CodeInvalidType, unsupportedType(objText))
	}
	r := &resolver{p: p, object: object, fields: fields}
	q := &Query{object: object}
	seen := map[string]bool{}
	for _, i := range st.fields {
		name, _, err := r.field(i)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, p.errAt(i, CodeMalformedQuery, "duplicate field selected: "+name)
		}
		seen[name] = true
		q.fields = append(q.fields, name)
	}
	if st.where != nil {
		c, err := r.cond(st.where)
		if err != nil {
			return nil, err
		}
		q.where = c
	}
	for _, o := range st.order {
		name, kind, err := r.field(o.field)
		if err != nil {
			return nil, err
		}
		q.order = append(q.order, orderItem{field: name, kind: kind, desc: o.desc, nullsLast: o.nullsLast})
	}
	if st.limit >= 0 {
		n, err := strconv.Atoi(p.toks[st.limit].text)
		if err != nil {
			return nil, p.unexpected(st.limit)
		}
		q.limit, q.hasLim = n, true
	}
	return q, nil
}

type resolver struct {
	p      *parser
	object string
	fields map[string]FieldKind
}

// field resolves the field named by token i to its canonical name. A prefix
// naming the queried object ("Lead.Email") is allowed.
func (r *resolver) field(i int) (string, FieldKind, *Error) {
	text := r.p.toks[i].text
	name := text
	if dot := strings.IndexByte(name, '.'); dot >= 0 && strings.EqualFold(name[:dot], r.object) {
		name = name[dot+1:]
	}
	if k, ok := r.fields[name]; ok {
		return name, k, nil
	}
	for canon, k := range r.fields {
		if strings.EqualFold(canon, name) {
			return canon, k, nil
		}
	}
	return "", 0, r.p.errAt(i, CodeInvalidField, noSuchColumn(name, r.object))
}

func (r *resolver) cond(n *node) (cond, *Error) {
	switch n.kind {
	case nodeAnd, nodeOr:
		kids := make([]cond, 0, len(n.kids))
		for _, k := range n.kids {
			c, err := r.cond(k)
			if err != nil {
				return nil, err
			}
			kids = append(kids, c)
		}
		if n.kind == nodeAnd {
			return andCond(kids), nil
		}
		return orCond(kids), nil
	case nodeNot:
		c, err := r.cond(n.kids[0])
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	name, kind, err := r.field(n.field)
	if err != nil {
		return nil, err
	}
	cmp := &comparison{field: name, kind: kind, op: n.op}
	for _, vi := range n.vals {
		v, err := r.literal(vi, name, kind, n.op == "LIKE")
		if err != nil {
			return nil, err
		}
		cmp.vals = append(cmp.vals, v)
	}
	if n.op == "LIKE" && cmp.vals[0].null {
		return nil, r.p.unexpected(n.vals[0])
	}
	return cmp, nil
}

// literal checks a value against the field's kind and converts it.
func (r *resolver) literal(i int, field string, kind FieldKind, like bool) (lit, *Error) {
	t := r.p.toks[i]
	mismatch := func() *Error {
		quoted := "should not be enclosed in quotes"
		if kind == KindString || kind.isID() {
			quoted = "should be enclosed in quotes"
		}
		return r.p.errAt(i, CodeInvalidField, fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and %s", field, kind, quoted))
	}
	switch t.kind {
	case tokString:
		if kind != KindString && !kind.isID() {
			return lit{}, mismatch()
		}
		parts, bad := decodeString(t.text, like)
		if bad != "" {
			return lit{}, r.p.errAt(i, CodeMalformedQuery, fmt.Sprintf("Invalid string literal '%s'. Illegal character sequence '%s' in string literal.", t.text[1:len(t.text)-1], bad))
		}
		if like {
			return lit{re: likeRegexp(parts)}, nil
		}
		s := joinParts(parts)
		if kind.isID() {
			id, ok := canonicalID(s)
			if !ok {
				return lit{}, r.p.errAt(i, CodeMalformedQuery, "invalid ID field: "+s)
			}
			return lit{s: id}, nil
		}
		return lit{s: s}, nil
	case tokNumber:
		if kind != KindNumber {
			return lit{}, mismatch()
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return lit{}, r.p.unexpected(i)
		}
		return lit{f: f}, nil
	case tokDate:
		if kind != KindDate {
			return lit{}, mismatch()
		}
		d, ok := parseDate(t.text)
		if !ok {
			return lit{}, r.p.unexpected(i)
		}
		return lit{s: d}, nil
	case tokDateTime:
		if kind != KindDateTime {
			return lit{}, mismatch()
		}
		tm, ok := parseDateTime(t.text)
		if !ok {
			return lit{}, r.p.unexpected(i)
		}
		return lit{t: tm}, nil
	}
	switch t.upper() {
	case "NULL":
		return lit{null: true}, nil
	case "TRUE", "FALSE":
		if kind != KindBool {
			return lit{}, mismatch()
		}
		return lit{b: t.upper() == "TRUE"}, nil
	}
	return lit{}, r.p.unexpected(i)
}

package main

import (
	"maps"
	"strings"
	"unicode"
)

// applyUpdate returns a copy of before with an UpdateExpression applied, by
// top-level attribute: what the item's size becomes, for an UpdateItem whose
// answer does not carry the item (see capacity.go). keyNames are the index
// key attributes whose string values the shadow keeps.
//
// SET a = v sets a's size to v's (v a value, a path, if_not_exists(a, v),
// list_append(x, y), or x + y / x - y, a number the size of the larger);
// REMOVE a drops a; ADD a v adds a number (kept at the larger size) or set
// elements; DELETE a v takes set
// elements out. A nested path (a.b, a[1]) adds its value to a's size on
// SET and changes nothing on REMOVE: an approximation on the high side.
func applyUpdate(before *shadowItem, expr string, names map[string]string, values map[string]attrValue, keyNames map[string]bool) *shadowItem {
	after := &shadowItem{attrs: maps.Clone(before.attrs), keys: maps.Clone(before.keys)}
	if after.attrs == nil {
		after.attrs = map[string]int{}
	}
	if after.keys == nil {
		after.keys = map[string]string{}
	}
	u := updater{s: after, names: names, values: values}
	for _, cl := range clauses(expr) {
		for _, action := range splitTop(cl.body, ',') {
			action = strings.TrimSpace(action)
			if action == "" {
				continue
			}
			switch cl.verb {
			case "SET":
				lhs, rhs, ok := cutTop(action, '=')
				if !ok {
					continue
				}
				name, nested := u.path(lhs)
				size, str, isStr := u.eval(rhs)
				switch {
				case nested:
					after.attrs[name] = u.current(name) + len(name) + size + 1
				default:
					after.attrs[name] = len(name) + size
					if keyNames[name] {
						if isStr {
							after.keys[name] = str
						} else {
							delete(after.keys, name)
						}
					}
				}
			case "REMOVE":
				if name, nested := u.path(action); !nested {
					delete(after.attrs, name)
					delete(after.keys, name)
				}
			case "ADD", "DELETE":
				fields := strings.Fields(action)
				if len(fields) != 2 {
					continue
				}
				name, _ := u.path(fields[0])
				v := values[strings.TrimSpace(fields[1])]
				cur, has := after.attrs[name]
				switch {
				case cl.verb == "ADD" && v.N != nil:
					after.attrs[name] = len(name) + max(u.current(name), numberSize(*v.N))
				case cl.verb == "ADD":
					if !has {
						cur = len(name)
					}
					after.attrs[name] = cur + valueSize(v)
				case has:
					after.attrs[name] = max(len(name), cur-valueSize(v))
				}
			}
		}
	}
	return after
}

type updater struct {
	s      *shadowItem
	names  map[string]string
	values map[string]attrValue
}

// current is the size of attribute name's value (0 when absent).
func (u updater) current(name string) int {
	n, ok := u.s.attrs[name]
	if !ok {
		return 0
	}
	return n - len(name)
}

// path is a document path's top-level attribute (placeholders resolved) and
// whether the path goes below it.
func (u updater) path(p string) (name string, nested bool) {
	p = strings.TrimSpace(p)
	end := strings.IndexAny(p, ".[")
	first := p
	if end >= 0 {
		first, nested = p[:end], true
	}
	if n, ok := u.names[first]; ok {
		first = n
	}
	return first, nested
}

// eval is the size of an update value; for a plain string value, the
// string too.
func (u updater) eval(operand string) (size int, str string, isStr bool) {
	operand = strings.TrimSpace(operand)
	if a, b, ok := cutTop(operand, '+'); ok {
		sa, _, _ := u.eval(a)
		sb, _, _ := u.eval(b)
		return max(sa, sb), "", false // numbers: a carry is not counted
	}
	if a, b, ok := cutTop(operand, '-'); ok {
		sa, _, _ := u.eval(a)
		sb, _, _ := u.eval(b)
		return max(sa, sb), "", false
	}
	if fn, args, ok := call(operand); ok {
		switch strings.ToLower(fn) {
		case "if_not_exists":
			if len(args) == 2 {
				name, _ := u.path(args[0])
				if _, has := u.s.attrs[name]; has {
					if k, ok := u.s.keys[name]; ok {
						return u.current(name), k, true
					}
					return u.current(name), "", false
				}
				return u.eval(args[1])
			}
		case "list_append":
			if len(args) == 2 {
				sa, _, _ := u.eval(args[0])
				sb, _, _ := u.eval(args[1])
				return max(sa+sb-3, 3), "", false // one list's overhead
			}
		}
		return 0, "", false
	}
	if strings.HasPrefix(operand, ":") {
		v := u.values[operand]
		if v.S != nil {
			return valueSize(v), *v.S, true
		}
		return valueSize(v), "", false
	}
	name, _ := u.path(operand) // a path: the value of an attribute
	return u.current(name), "", false
}

// call splits "fn(a, b)" into fn and its arguments.
func call(s string) (fn string, args []string, ok bool) {
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return "", nil, false
	}
	return strings.TrimSpace(s[:open]), splitTop(s[open+1:len(s)-1], ','), true
}

type clause struct{ verb, body string }

// clauses splits an update expression into its SET, REMOVE, ADD and DELETE
// clauses (keywords in any case, outside parentheses).
func clauses(expr string) []clause {
	var out []clause
	depth, start := 0, -1
	verb := ""
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(':
			depth++
			continue
		case ')':
			depth--
			continue
		}
		if depth != 0 || (i > 0 && isWordByte(expr[i-1])) {
			continue
		}
		for _, kw := range []string{"SET", "REMOVE", "ADD", "DELETE"} {
			end := i + len(kw)
			if end <= len(expr) && strings.EqualFold(expr[i:end], kw) && (end == len(expr) || !isWordByte(expr[end])) {
				if start >= 0 {
					out = append(out, clause{verb, expr[start:i]})
				}
				verb, start = kw, end
				i = end - 1
				break
			}
		}
	}
	if start >= 0 {
		out = append(out, clause{verb, expr[start:]})
	}
	return out
}

// isWordByte: letters, digits and the characters of names and placeholders.
func isWordByte(c byte) bool {
	return c == '_' || c == '#' || c == ':' || c == '.' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))
}

// splitTop splits s on sep outside parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// cutTop cuts s around the first sep outside parentheses.
func cutTop(s string, sep byte) (before, after string, found bool) {
	parts := splitTop(s, sep)
	if len(parts) < 2 {
		return s, "", false
	}
	return parts[0], strings.Join(parts[1:], string(sep)), true
}

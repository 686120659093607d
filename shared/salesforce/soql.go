package salesforce

import "strings"

// QuoteString returns s as a SOQL string literal, single-quoted, with every
// character Salesforce treats specially escaped. It is the only way any value
// reaches a SOQL statement in this product.
func QuoteString(s string) string { return quote("", s, "", false) }

// QuoteLikeContains returns a LIKE pattern, quoted as QuoteString quotes,
// that matches any text containing s: s's own LIKE wildcards (% and _) are
// escaped, so they match only themselves.
func QuoteLikeContains(s string) string { return quote("%", s, "%", true) }

// QuoteLikeSuffix returns a quoted LIKE pattern matching any text that
// ends with s (its wildcards escaped, as QuoteLikeContains does).
func QuoteLikeSuffix(s string) string { return quote("%", s, "", true) }

// quote writes s as a SOQL string literal between the raw pattern parts
// before and after; like escapes s's LIKE wildcards too.
func quote(before, s, after string, like bool) string {
	var b strings.Builder
	b.Grow(len(s) + len(before) + len(after) + 2)
	b.WriteByte('\'')
	b.WriteString(before)
	for _, r := range s {
		if like && (r == '%' || r == '_') {
			b.WriteByte('\\')
			b.WriteRune(r)
			continue
		}
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(after)
	b.WriteByte('\'')
	return b.String()
}

// QuoteList returns a parenthesised, comma-separated list of quoted values
// for an IN clause.
func QuoteList(values []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(QuoteString(v))
	}
	b.WriteByte(')')
	return b.String()
}

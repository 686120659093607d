package soql

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Quote returns s as a SOQL string literal: in single quotes, with the
// reserved characters (' and \) and the characters that have an escape
// sequence (", newline, carriage return, tab, bell \b, form feed) escaped.
// The result compares equal to s, and only to s, with "=" and IN. Every other
// byte, including non-ASCII text, is copied unchanged. It never emits \% or
// \_, which Salesforce accepts only in LIKE patterns; see QuoteLike.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		writeEscaped(&b, s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// QuoteLike is Quote for a LIKE pattern that must match s literally: it also
// escapes the wildcards % and _.
func QuoteLike(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%', '_':
			b.WriteByte('\\')
			b.WriteByte(s[i])
		default:
			writeEscaped(&b, s[i])
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func writeEscaped(b *strings.Builder, c byte) {
	switch c {
	case '\\', '\'', '"':
		b.WriteByte('\\')
		b.WriteByte(c)
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
		b.WriteByte(c)
	}
}

// likePart is one piece of a decoded LIKE pattern: literal text, or a
// wildcard (% or _) when wild is non-zero.
type likePart struct {
	lit  string
	wild byte
}

// decodeString decodes the string token text (with its quotes). With like set,
// unescaped % and _ become wildcards and \% \_ literal characters; otherwise
// \% and \_ are illegal. bad is the illegal escape sequence, if any.
func decodeString(text string, like bool) (parts []likePart, bad string) {
	body := text[1 : len(text)-1]
	var cur []byte
	var pending []uint16 // UTF-16 code units from \u escapes, joined into runes
	flushU := func() {
		if len(pending) > 0 {
			cur = append(cur, string(utf16.Decode(pending))...)
			pending = pending[:0]
		}
	}
	flush := func() {
		flushU()
		if len(cur) > 0 {
			parts = append(parts, likePart{lit: string(cur)})
			cur = cur[:0]
		}
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			flushU()
			if like && (c == '%' || c == '_') {
				flush()
				parts = append(parts, likePart{wild: c})
				continue
			}
			cur = append(cur, c)
			continue
		}
		if i+1 >= len(body) {
			return nil, `\`
		}
		e := body[i+1]
		i++
		if e == 'u' {
			if i+5 > len(body) {
				return nil, body[i-1:]
			}
			hex := body[i+1 : i+5]
			v, err := strconv.ParseUint(hex, 16, 16)
			if err != nil || !isHex(hex) {
				return nil, body[i-1 : i+5]
			}
			pending = append(pending, uint16(v))
			i += 4
			continue
		}
		flushU()
		switch e {
		case 'n', 'N':
			cur = append(cur, '\n')
		case 'r', 'R':
			cur = append(cur, '\r')
		case 't', 'T':
			cur = append(cur, '\t')
		case 'b', 'B':
			cur = append(cur, '\b')
		case 'f', 'F':
			cur = append(cur, '\f')
		case '"', '\'', '\\':
			cur = append(cur, e)
		case '%', '_':
			if !like {
				return nil, body[i-1 : i+1]
			}
			cur = append(cur, e)
		default:
			return nil, body[i-1 : i+1]
		}
	}
	flush()
	return parts, ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// joinParts is the plain string of a pattern without wildcards.
func joinParts(parts []likePart) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.lit)
	}
	return b.String()
}

// likeRegexp compiles a LIKE pattern: % is any run of characters, _ exactly
// one, matched case-insensitively over the whole value.
func likeRegexp(parts []likePart) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?is)\A`)
	for _, p := range parts {
		switch p.wild {
		case '%':
			b.WriteString(`.*`)
		case '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(p.lit))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

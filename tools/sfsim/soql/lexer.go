package soql

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokDate
	tokDateTime
	tokPunct
)

// token is one lexeme; pos is its byte offset in the query and text its exact
// source text (for a string, including the quotes).
type token struct {
	kind tokKind
	text string
	pos  int
}

// upper is the keyword form of an identifier.
func (t token) upper() string {
	if t.kind != tokIdent {
		return ""
	}
	return strings.ToUpper(t.text)
}

var (
	dateTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})`)
	dateRE     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	numberRE   = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)`)
)

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '.' }

// lex splits the query into tokens. The last token is always tokEOF.
func lex(src string) ([]token, *Error) {
	var toks []token
	i := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r' || src[i] == '\f') {
			i++
		}
		if i >= len(src) {
			return append(toks, token{kind: tokEOF, pos: len(src)}), nil
		}
		c := src[i]
		rest := src[i:]
		switch {
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: src[i:j], pos: i})
			i = j
		case c == '\'':
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == '\\' {
					j += 2
					continue
				}
				if src[j] == '\'' {
					closed = true
					break
				}
				j++
			}
			if !closed {
				toks = append(toks, token{kind: tokPunct, text: "'", pos: i}, token{kind: tokEOF, pos: len(src)})
				p := &parser{src: src, toks: toks}
				return nil, p.unexpected(len(toks) - 2)
			}
			toks = append(toks, token{kind: tokString, text: src[i : j+1], pos: i})
			i = j + 1
		case dateTimeRE.MatchString(rest):
			m := dateTimeRE.FindString(rest)
			toks = append(toks, token{kind: tokDateTime, text: m, pos: i})
			i += len(m)
		case dateRE.MatchString(rest):
			m := dateRE.FindString(rest)
			toks = append(toks, token{kind: tokDate, text: m, pos: i})
			i += len(m)
		case numberRE.MatchString(rest) && ((c != '+' && c != '-') || signAllowed(toks)):
			m := numberRE.FindString(rest)
			toks = append(toks, token{kind: tokNumber, text: m, pos: i})
			i += len(m)
		case strings.HasPrefix(rest, "!=") || strings.HasPrefix(rest, "<>") || strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, ">="):
			toks = append(toks, token{kind: tokPunct, text: rest[:2], pos: i})
			i += 2
		case strings.IndexByte("(),=<>", c) >= 0:
			toks = append(toks, token{kind: tokPunct, text: rest[:1], pos: i})
			i++
		default:
			return nil, lexError(src, toks, i)
		}
	}
}

// signAllowed reports whether a leading + or - may start a number here: only
// where a value is expected, after an operator, a comma or an opening
// parenthesis.
func signAllowed(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	t := toks[len(toks)-1]
	return t.kind == tokPunct && t.text != ")"
}

// lexError reports a character no token can start with, as Salesforce's lexer
// does: the message carries the 0-based position, and the reported column is
// that same number.
func lexError(src string, toks []token, pos int) *Error {
	r, _ := utf8.DecodeRuneInString(src[pos:])
	lineStart := strings.LastIndexByte(src[:pos], '\n') + 1
	row := strings.Count(src[:pos], "\n") + 1
	p0 := utf8.RuneCountInString(src[lineStart:pos])
	msg := fmt.Sprintf("line %d:%d no viable alternative at character '%c'", row, p0, r)
	if p0 == 0 {
		return &Error{Code: CodeMalformedQuery, Message: msg}
	}
	// The column Salesforce prints here is the 0-based offset, so the caret
	// sits one character to the left of the offending one.
	prev := pos - 1
	for prev > lineStart && !utf8.RuneStart(src[prev]) {
		prev--
	}
	return caretError(src, prev, CodeMalformedQuery, msg)
}

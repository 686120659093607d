package soql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Salesforce error codes a query can fail with.
const (
	CodeMalformedQuery = "MALFORMED_QUERY"
	CodeInvalidField   = "INVALID_FIELD"
	CodeInvalidType    = "INVALID_TYPE"
)

// Error is a query rejected the way Salesforce rejects it: Code is the
// errorCode of the REST error body and Message its message, ready to be sent
// as they are. Row and Column locate the offending token (1-based) when the
// message points at one; both are zero otherwise.
type Error struct {
	Code    string
	Message string
	Row     int
	Column  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// windowReach is how far, in characters, the query excerpt of an error
// message reaches either side of the offending token. The excerpt is cut at
// word boundaries (whitespace and commas), which reproduces the excerpts seen
// in Salesforce's own messages.
const windowReach = 42

// errAt builds an error whose message points at token i of the lexed query.
// An error at the very first token carries no excerpt.
func (p *parser) errAt(i int, code, msg string) *Error {
	if i <= 0 {
		return &Error{Code: code, Message: msg}
	}
	return caretError(p.src, p.toks[i].pos, code, msg)
}

func isDelim(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == ',' }

// caretError lays the message out as Salesforce does, with the caret under
// byte offset pos.
func caretError(src string, pos int, code, msg string) *Error {
	lineStart := strings.LastIndexByte(src[:pos], '\n') + 1
	lineEnd := len(src)
	if j := strings.IndexByte(src[pos:], '\n'); j >= 0 {
		lineEnd = pos + j
	}
	start := runeOffset(src, pos, -windowReach)
	if start <= lineStart {
		start = lineStart
	} else {
		for start < pos && !isDelim(src[start-1]) {
			start++
		}
		for start < pos && isDelim(src[start]) {
			start++
		}
		for start < pos && !utf8.RuneStart(src[start]) {
			start++
		}
	}
	end := runeOffset(src, pos, windowReach)
	if end >= lineEnd {
		end = lineEnd
	} else {
		for end > pos && !isDelim(src[end]) {
			end--
		}
		for end > pos && isDelim(src[end-1]) {
			end--
		}
		if end <= pos {
			end = runeOffset(src, pos, 1)
		}
	}
	row := strings.Count(src[:pos], "\n") + 1
	col := utf8.RuneCountInString(src[lineStart:pos]) + 1
	caret := strings.Repeat(" ", utf8.RuneCountInString(src[start:pos]))
	return &Error{
		Code:    code,
		Message: fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s", src[start:end], caret, row, col, msg),
		Row:     row,
		Column:  col,
	}
}

// runeOffset moves n characters from byte offset pos (backwards for negative
// n), stopping at the ends of s.
func runeOffset(s string, pos, n int) int {
	for ; n < 0 && pos > 0; n++ {
		_, size := utf8.DecodeLastRuneInString(s[:pos])
		pos -= size
	}
	for ; n > 0 && pos < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[pos:])
		pos += size
	}
	return pos
}

func (p *parser) unexpected(i int) *Error {
	t := p.toks[i]
	text := t.text
	if t.kind == tokEOF {
		text = "<EOF>"
	}
	return p.errAt(i, CodeMalformedQuery, fmt.Sprintf("unexpected token: '%s'", text))
}

func noSuchColumn(field, object string) string {
	return fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", field, object)
}

func unsupportedType(object string) string {
	return fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", object)
}

package event

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Encode writes an event as one compact JSON message body, the way producers
// should send it. Unlike json.Marshal it does not escape <, >, & or the line
// and paragraph separators, so an event never grows past the body limit by
// being re-encoded: whatever Decode accepted, Encode writes in at most as many
// bytes, and Decode reads back as an equal Event.
func Encode(e Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return unescapeSeparators(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// unescapeSeparators turns the \u2028 and \u2029 escapes encoding/json always
// writes back into the characters themselves, which JSON allows in strings.
// It walks escape sequences whole, so an escaped backslash followed by the
// text "u2028" is left alone.
func unescapeSeparators(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u202`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+5]) == "202" && (b[i+5] == '8' || b[i+5] == '9') {
			if b[i+5] == '8' {
				out = append(out, "\u2028"...)
			} else {
				out = append(out, "\u2029"...)
			}
			i += 5
			continue
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

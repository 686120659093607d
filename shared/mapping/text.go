package mapping

import (
	"strings"
	"unicode"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// piece is a text with its runs of white space collapsed: its words joined
// by one space, and whether white space came before or after them (a text
// of white space only has lead set and no words).
type piece struct {
	lead, trail bool
	words       string
}

func newPiece(s string) piece {
	words := strings.TrimSpace(s)
	p := piece{lead: len(strings.TrimLeftFunc(s, unicode.IsSpace)) < len(s)}
	if words == "" {
		return p
	}
	p.trail = len(strings.TrimRightFunc(s, unicode.IsSpace)) < len(s)
	if collapsed(words) {
		p.words = words
	} else {
		p.words = strings.Join(strings.Fields(words), " ")
	}
	return p
}

// collapsed reports whether s holds no white space but single ' '.
func collapsed(s string) bool {
	prev := false
	for _, r := range s {
		space := unicode.IsSpace(r)
		if space && (prev || r != ' ') {
			return false
		}
		prev = space
	}
	return true
}

// contactValues gives a contact's values as pieces, each collapsed once per
// contact however many placeholders name it.
type contactValues struct {
	c    event.Contact
	seen map[string]piece
}

func (v *contactValues) get(field string) piece {
	if p, ok := v.seen[field]; ok {
		return p
	}
	p := newPiece(ContactValue(v.c, field))
	if v.seen == nil {
		v.seen = make(map[string]piece, 8)
	}
	v.seen[field] = p
	return p
}

// textWriter builds a template's text: runs of white space collapse into
// one space, none is left at either end. It takes at most room UTF-16
// units (how Salesforce counts a field's length: an emoji is 2; negative:
// no limit) and budget bytes, and stops taking text once either runs out,
// so the text is never built beyond what may be sent.
type textWriter struct {
	b      strings.Builder
	room   int
	budget int
	space  bool // a space is owed before the next word
	cut    bool // room ran out: the text was cut to room units
	over   bool // budget ran out
}

func newTextWriter(room, budget int) *textWriter {
	return &textWriter{room: room, budget: budget}
}

func (w *textWriter) stopped() bool { return w.cut || w.over }

func (w *textWriter) write(p piece) {
	if p.lead {
		w.space = true
	}
	if p.words != "" {
		if w.space && w.b.Len() > 0 {
			w.put(" ")
		}
		w.space = false
		w.put(p.words)
	}
	if p.trail {
		w.space = true
	}
}

// put appends as much of s as room and budget allow.
func (w *textWriter) put(s string) {
	if w.stopped() {
		return
	}
	n := len(s)
	if w.room >= 0 {
		// stops at the first character past room; never splits one, an emoji's pair included
		if n = salesforce.TextPrefix(s, w.room); n < len(s) {
			w.cut = true
		}
		w.room -= salesforce.TextLength(s[:n])
	}
	if n > w.budget {
		w.over = true
		return
	}
	w.b.WriteString(s[:n])
	w.budget -= n
}

func (w *textWriter) String() string { return w.b.String() }

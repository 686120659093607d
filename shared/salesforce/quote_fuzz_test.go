package salesforce

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sfsync/sfsync/tools/sfsim/soql"
)

var quoteSchema = soql.MapSchema{"Lead": {"Id": soql.KindID, "Email": soql.KindString}}

// FuzzQuoteString: any string quotes to exactly one SOQL literal that stands
// for that string and nothing else, as the simulator's SOQL parser (modelled
// on Salesforce's) reads it: the query parses, matches the value itself, and
// no value that differs from it other than by letter case.
func FuzzQuoteString(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", "o'brien@example.com", `back\slash@example.com`, "x' OR Email != null OR Email = 'y",
		`\'`, `\\'`, "'", "''", "%", "_", "\n\r\t\b\f\"", `\u0041`, "日本@例え.jp", "ǅ", "ß", "", " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("Salesforce text is UTF-8; invalid input never reaches a query (the event decoder rejects it)")
		}
		query := "SELECT Id FROM Lead WHERE Email = " + QuoteString(s)
		q, err := soql.Parse(query, quoteSchema)
		if err != nil {
			t.Fatalf("Parse(%q): got error %v; want none", query, err)
		}
		if !q.Match(map[string]any{"Email": s}) {
			t.Errorf("%s: got no match for %q; want a match", query, s)
		}
		others := []string{s + "x", "x" + s, "x", "'", `\`}
		if len(s) > 0 {
			_, n := utf8.DecodeRuneInString(s)
			others = append(others, s[n:])
		}
		for _, o := range others {
			if got, want := q.Match(map[string]any{"Email": o}), strings.EqualFold(o, s); got != want {
				t.Errorf("%s on %q: got %v; want %v", query, o, got, want)
			}
		}
	})
}

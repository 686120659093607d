package soql

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", `''`},
		{"ada@example.com", `'ada@example.com'`},
		{"o'brien@example.com", `'o\'brien@example.com'`},
		{`back\slash`, `'back\\slash'`},
		{`say "hi"`, `'say \"hi\"'`},
		{"a\nb\rc\td\be\ff", `'a\nb\rc\td\be\ff'`},
		{"50%_off", `'50%_off'`},
		{"café ü 日本", `'café ü 日本'`},
		{"x' OR Email != null OR Email = 'y", `'x\' OR Email != null OR Email = \'y'`},
		{`\'`, `'\\\''`},
	}
	for _, tc := range tests {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q): got %s; want %s", tc.in, got, tc.want)
		}
	}
	if got, want := QuoteLike("50%_off\\'"), `'50\%\_off\\\''`; got != want {
		t.Errorf("QuoteLike: got %s; want %s", got, want)
	}
}

// TestQuotedValuesMatchOnlyThemselves runs values through Quote into a query
// and checks each matches exactly the records holding it (case-insensitively).
func TestQuotedValuesMatchOnlyThemselves(t *testing.T) {
	t.Parallel()
	values := []string{
		"x' OR Email != null OR Email = 'y",
		"x\\' OR Email != null OR Email = \\'y",
		"' OR '1'='1",
		"a@example.com') OR (Email != null",
		"50%@example.com",
		"a_b@example.com",
		"%",
		"_",
		"line\nbreak@example.com",
		"tab\tand\rreturn\b\f",
		"quote\"@example.com",
		"back\\slash@example.com",
		"\\",
		"\\u0041",
		"é@exämple.com",
		"日本@example.jp",
		"\x00nul",
		"",
	}
	var recs []map[string]any
	for i, v := range values {
		recs = append(recs, map[string]any{"Id": i, "Email": v})
	}
	recs = append(recs,
		map[string]any{"Id": "upper", "Email": strings.ToUpper(values[0])},
		map[string]any{"Id": "null"},
		map[string]any{"Id": "x", "Email": "x"},
		map[string]any{"Id": "y", "Email": "y"},
		map[string]any{"Id": "A", "Email": "A"},
	)
	for _, v := range values {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			for _, query := range []string{
				"SELECT Id FROM Lead WHERE Email = " + Quote(v),
				"SELECT Id FROM Lead WHERE Email IN (" + Quote("nobody") + ", " + Quote(v) + ")",
				"SELECT Id FROM Lead WHERE Email LIKE " + QuoteLike(v),
			} {
				q, err := Parse(query, testSchema)
				if err != nil {
					t.Fatalf("Parse(%q): got error %v; want none", query, err)
				}
				for _, r := range recs {
					got := q.Match(r)
					email, _ := r["Email"].(string)
					want := r["Email"] != nil && strings.EqualFold(email, v)
					if got != want {
						t.Errorf("%s on Email %q: got %v; want %v", query, email, got, want)
					}
				}
			}
		})
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", "x' OR Email != null OR Email = 'y", `\`, `\'`, "'", "%", "_",
		"\n\r\t\b\f", "\\u0041", "日本", "\xff\xfe", "\\%", "ǅ", "ß", "K",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		query := "SELECT Id FROM Lead WHERE Email = " + Quote(s)
		q, err := Parse(query, testSchema)
		if err != nil {
			t.Fatalf("Parse(%q): got error %v; want none", query, err)
		}
		others := []string{s + "x", "x" + s, "", "x", strings.ToUpper(s), strings.ToLower(s), strings.TrimSpace(s)}
		if len(s) > 0 {
			others = append(others, s[1:], s[:len(s)-1])
		}
		if !q.Match(map[string]any{"Email": s}) {
			t.Errorf("%s: got no match for Email %q; want a match", query, s)
		}
		if q.Match(map[string]any{}) {
			t.Errorf("%s: got a match for null Email; want none", query)
		}
		for _, o := range others {
			if got, want := q.Match(map[string]any{"Email": o}), strings.EqualFold(o, s); got != want {
				t.Errorf("%s on Email %q: got %v; want %v", query, o, got, want)
			}
		}
	})
}

// FuzzParse checks that no input makes Parse panic or fail with anything but
// a Salesforce error, and that accepted queries evaluate and sort.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT Id FROM Lead WHERE Email IN ('a', 'b') AND (IsConverted = false OR NOT LastName LIKE 'x\\%%') ORDER BY CreatedDate DESC NULLS LAST LIMIT 5",
		"SELECT Id FROM Lead WHERE Id = '00Q5g00000ABcdEEAT'", "SELECT Id FROM Lead WHERE Email = '\\u00e9\\uD83D\\uDE00'",
		"select id from lead where NumberOfEmployees > -5.5", "SELECT\nId\nFROM\nLead\nWHERE\nEmail\n=\n'''",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s, testSchema)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q): got error %T; want *Error", s, err)
			}
			return
		}
		recs := []map[string]any{{"Email": "a", "IsConverted": true, "NumberOfEmployees": 3}, {}}
		q.Match(recs[0])
		q.Match(recs[1])
		q.Sort(recs)
	})
}

// TestEscapesDecode checks each escape sequence decodes to the character
// Salesforce gives it, by matching a record holding that character.
func TestEscapesDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		literal, value string
	}{
		{`'a\nb'`, "a\nb"}, {`'a\Nb'`, "a\nb"},
		{`'a\rb'`, "a\rb"}, {`'a\Rb'`, "a\rb"},
		{`'a\tb'`, "a\tb"}, {`'a\Tb'`, "a\tb"},
		{`'a\bb'`, "a\bb"}, {`'a\Bb'`, "a\bb"},
		{`'a\fb'`, "a\fb"}, {`'a\Fb'`, "a\fb"},
		{`'a\"b'`, `a"b`}, {`'a\'b'`, "a'b"}, {`'a\\b'`, `a\b`},
		{`'caf\u00e9'`, "café"}, {`'caf\u00C9'`, "cafÉ"},
		{`'\uD83D\uDE00'`, "😀"},
		{`'\uD83D'`, "\uFFFD"},
		{"'raw\nnewline'", "raw\nnewline"},
		{`'\\%'`, `\%`},
	}
	for _, tc := range tests {
		t.Run(tc.literal, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, "SELECT Id FROM Lead WHERE Email = "+tc.literal)
			if !q.Match(map[string]any{"Email": tc.value}) {
				t.Errorf("%s: got no match for %q; want a match", tc.literal, tc.value)
			}
			if q.Match(map[string]any{"Email": tc.value + "x"}) {
				t.Errorf("%s: got a match for %q; want none", tc.literal, tc.value+"x")
			}
		})
	}
}

package soql

import (
	"slices"
	"testing"
	"time"
)

func mustParse(t *testing.T, query string) *Query {
	t.Helper()
	q, err := Parse(query, testSchema)
	if err != nil {
		t.Fatalf("Parse(%q): got error %v; want none", query, err)
	}
	return q
}

func TestMatch(t *testing.T) {
	t.Parallel()
	ada := map[string]any{
		"Id": "00Q5g00000ABcdEEAT", "Email": "Ada.Lovelace@Example.com", "FirstName": "Ada", "LastName": "Lovelace",
		"Company": "50% Engines_Ltd", "IsConverted": false, "NumberOfEmployees": 12,
		"CreatedDate": "2026-11-26T10:00:00.000+0000", "LastActivityDate": "2026-11-20",
	}
	tests := []struct {
		name  string
		where string
		want  bool
	}{
		{"equal, same case", "Email = 'Ada.Lovelace@Example.com'", true},
		{"equal, lower case", "Email = 'ada.lovelace@example.com'", true},
		{"equal, upper case", "Email = 'ADA.LOVELACE@EXAMPLE.COM'", true},
		{"equal, other address", "Email = 'ada.lovelace@example.co'", false},
		{"keyword case", "email = 'ada.lovelace@example.com' and isconverted = FALSE", true},
		{"in, mixed case", "Email IN ('x@example.com', 'ADA.lovelace@example.COM')", true},
		{"in, none", "Email IN ('x@example.com', 'y@example.com')", false},
		{"not in, listed", "Email NOT IN ('ada.lovelace@example.com')", false},
		{"not in, unlisted", "Email NOT IN ('x@example.com')", true},
		{"not equal", "Email != 'ada.lovelace@example.com'", false},
		{"angle not equal", "Email <> 'x@example.com'", true},
		{"boolean", "IsConverted = false", true},
		{"boolean true", "IsConverted = true", false},
		{"boolean not equal", "IsConverted != true", true},
		{"number less", "NumberOfEmployees < 13", true},
		{"number greater or equal", "NumberOfEmployees >= 12.0", true},
		{"number greater", "NumberOfEmployees > 12", false},
		{"number negative", "NumberOfEmployees > -1", true},
		{"datetime after", "CreatedDate > 2026-11-26T09:59:59Z", true},
		{"datetime equal other zone", "CreatedDate = 2026-11-26T11:00:00+01:00", true},
		{"datetime before", "CreatedDate < 2026-11-26T10:00:00Z", false},
		{"date", "LastActivityDate <= 2026-11-20", true},
		{"date after", "LastActivityDate > 2026-11-20", false},
		{"text ordering is case-insensitive", "LastName > 'lovelacd' AND LastName < 'LOVELACF'", true},
		{"like prefix", "Email LIKE 'ada%'", true},
		{"like suffix mixed case", "Email LIKE '%@EXAMPLE.com'", true},
		{"like single", "FirstName LIKE 'A_a'", true},
		{"like single too short", "FirstName LIKE 'A_'", false},
		{"like whole value", "FirstName LIKE 'Ad'", false},
		{"like escaped percent", `Company LIKE '50\% %'`, true},
		{"like escaped percent is literal", `Company LIKE '5\%%'`, false},
		{"like escaped underscore", `Company LIKE '%Engines\_Ltd'`, true},
		{"like escaped underscore is literal", `Company LIKE '%Engines\_tLd'`, false},
		{"like regexp characters are literal", "Company LIKE '50% Engines.Ltd'", false},
		{"percent is literal in equality", "Company = '50% Engines_Ltd'", true},
		{"percent does not wildcard in equality", "Company = '50% Engines%'", false},
		{"and", "Email = 'ada.lovelace@example.com' AND IsConverted = false AND FirstName = 'ada'", true},
		{"and, one false", "Email = 'ada.lovelace@example.com' AND IsConverted = true", false},
		{"or", "Email = 'x' OR FirstName = 'Ada'", true},
		{"or, none", "Email = 'x' OR FirstName = 'Bob'", false},
		{"parentheses", "(Email = 'x' OR FirstName = 'Ada') AND IsConverted = false", true},
		{"parentheses other grouping", "Email = 'x' OR (FirstName = 'Ada' AND IsConverted = true)", false},
		{"not", "NOT Email = 'x'", true},
		{"not group", "NOT (Email = 'x' OR FirstName = 'Ada')", false},
		{"not inside parentheses", "IsConverted = false AND (NOT FirstName = 'Bob')", true},
		{"18-char id, exact", "Id = '00Q5g00000ABcdEEAT'", true},
		{"18-char id, any case", "Id = '00q5G00000abCDeeat'", true},
		{"15-char id, exact", "Id = '00Q5g00000ABcdE'", true},
		{"15-char id, other case", "Id = '00Q5g00000ABCDE'", false},
		{"18-char id, other record", "Id = '00Q5g00000ABCDEAAA'", false},
		{"id in", "Id IN ('00Q5g00000ABCDEAAA', '00q5g00000abcdeeat')", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, "SELECT Id FROM Lead WHERE "+tc.where)
			if got := q.Match(ada); got != tc.want {
				t.Errorf("Match(%s): got %v; want %v", tc.where, got, tc.want)
			}
		})
	}
}

func TestMatchNulls(t *testing.T) {
	t.Parallel()
	rec := map[string]any{"Email": nil, "LastName": "Lovelace"} // everything else missing
	tests := []struct {
		where string
		want  bool
	}{
		{"Email = null", true},
		{"Email != null", false},
		{"LastName = null", false},
		{"LastName != null", true},
		{"Email = 'x'", false},
		{"Email != 'x'", true},
		{"Email IN ('x')", false},
		{"Email IN ('x', null)", true},
		{"Email NOT IN ('x')", true},
		{"Email NOT IN ('x', null)", false},
		{"Email LIKE '%'", false},
		{"Email < 'x'", false},
		{"NumberOfEmployees > 0", false},
		{"IsConverted = false", false},
		{"IsConverted != true", true},
		{"ConvertedContactId = null", true},
		{"LastName < null", false},
	}
	for _, tc := range tests {
		t.Run(tc.where, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, "SELECT Id FROM Lead WHERE "+tc.where)
			if got := q.Match(rec); got != tc.want {
				t.Errorf("Match(%s): got %v; want %v", tc.where, got, tc.want)
			}
		})
	}
}

func TestMatchValueForms(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		where string
		rec   map[string]any
		want  bool
	}{
		{"time.Time datetime", "CreatedDate = 2026-11-26T10:00:00Z", map[string]any{"CreatedDate": when}, true},
		{"RFC 3339 datetime", "CreatedDate = 2026-11-26T10:00:00Z", map[string]any{"CreatedDate": "2026-11-26T10:00:00Z"}, true},
		{"time.Time date", "LastActivityDate = 2026-11-26", map[string]any{"LastActivityDate": when}, true},
		{"float number", "NumberOfEmployees = 12", map[string]any{"NumberOfEmployees": 12.0}, true},
		{"int64 number", "NumberOfEmployees = 12", map[string]any{"NumberOfEmployees": int64(12)}, true},
		{"text number", "NumberOfEmployees = 12", map[string]any{"NumberOfEmployees": "12"}, true},
		{"text boolean", "IsConverted = true", map[string]any{"IsConverted": "true"}, true},
		{"unreadable number is null", "NumberOfEmployees = null", map[string]any{"NumberOfEmployees": "many"}, true},
		{"empty reference is null", "ConvertedContactId = null", map[string]any{"ConvertedContactId": ""}, true},
		{"reference 18 vs 15", "ConvertedContactId = '0035g00000XyZab'", map[string]any{"ConvertedContactId": "0035g00000XyZabAAA"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, "SELECT Id FROM Lead WHERE "+tc.where)
			if got := q.Match(tc.rec); got != tc.want {
				t.Errorf("Match(%s) on %v: got %v; want %v", tc.where, tc.rec, got, tc.want)
			}
		})
	}
}

func TestCanonicalID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"00Q5g00000ABcdE", "00Q5g00000ABcdE", true},
		{"00Q5g00000ABcdEEAT", "00Q5g00000ABcdE", true},
		{"00q5g00000abcdeeat", "00Q5g00000ABcdE", true},
		{"001000000000000AAA", "001000000000000", true},
		{"00Q5g00000ABcdEFG", "", false},
		{"00Q5g00000ABcd!", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := canonicalID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("canonicalID(%q): got %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMatchMixedCaseEmails(t *testing.T) {
	t.Parallel()
	recs := []map[string]any{
		{"Id": "1", "Email": "ada@example.com"},
		{"Id": "2", "Email": "ADA@EXAMPLE.COM"},
		{"Id": "3", "Email": "Ada@Example.Com"},
		{"Id": "4", "Email": "ada@example.co"},
		{"Id": "5", "Email": "bob@example.com"},
		{"Id": "6", "Email": "xada@example.com"},
		{"Id": "7"},
	}
	tests := []struct {
		where string
		want  []string
	}{
		{"Email = 'aDa@eXample.cOm'", []string{"1", "2", "3"}},
		{"Email IN ('ADA@example.com', 'BOB@EXAMPLE.COM')", []string{"1", "2", "3", "5"}},
		{"Email NOT IN ('ada@example.com')", []string{"4", "5", "6", "7"}},
		{"Email LIKE 'ADA@%'", []string{"1", "2", "3", "4"}},
	}
	for _, tc := range tests {
		t.Run(tc.where, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, "SELECT Id FROM Contact WHERE "+tc.where)
			var got []string
			for _, r := range recs {
				if q.Match(r) {
					got = append(got, r["Id"].(string))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("matched: got %v; want %v", got, tc.want)
			}
		})
	}
}

func TestSort(t *testing.T) {
	t.Parallel()
	recs := func() []map[string]any {
		return []map[string]any{
			{"Id": "a", "LastName": "smith", "NumberOfEmployees": 3},
			{"Id": "b", "LastName": nil, "NumberOfEmployees": 1},
			{"Id": "c", "LastName": "Adams", "NumberOfEmployees": 2},
			{"Id": "d", "LastName": "SMITH", "NumberOfEmployees": 1},
			{"Id": "e", "NumberOfEmployees": nil},
		}
	}
	tests := []struct {
		order string
		want  []string
	}{
		{"", []string{"a", "b", "c", "d", "e"}},
		{"ORDER BY LastName", []string{"b", "e", "c", "a", "d"}},
		{"ORDER BY LastName ASC NULLS LAST", []string{"c", "a", "d", "b", "e"}},
		{"ORDER BY LastName DESC", []string{"b", "e", "a", "d", "c"}},
		{"ORDER BY LastName DESC NULLS LAST", []string{"a", "d", "c", "b", "e"}},
		{"ORDER BY LastName NULLS LAST, NumberOfEmployees DESC", []string{"c", "a", "d", "e", "b"}},
		{"ORDER BY NumberOfEmployees, Id DESC", []string{"e", "d", "b", "c", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.order, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, "SELECT Id FROM Lead "+tc.order)
			rs := recs()
			q.Sort(rs)
			var got []string
			for _, r := range rs {
				got = append(got, r["Id"].(string))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order: got %v; want %v", got, tc.want)
			}
		})
	}
}

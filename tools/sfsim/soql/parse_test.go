package soql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var testSchema = MapSchema{
	"Lead": {
		"Id": KindID, "Email": KindString, "FirstName": KindString, "LastName": KindString,
		"Company": KindString, "IsConverted": KindBool, "ConvertedContactId": KindReference,
		"NumberOfEmployees": KindNumber, "CreatedDate": KindDateTime, "LastActivityDate": KindDate,
	},
	"Contact": {"Id": KindID, "Email": KindString, "LastName": KindString},
	"Account": {"Id": KindID, "Name": KindString, "AccountNumber": KindString},
}

// located is a message in Salesforce's caret layout.
func located(excerpt string, caret, row, col int, msg string) string {
	return fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s", excerpt, strings.Repeat(" ", caret), row, col, msg)
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query    string
		object   string
		fields   []string
		limit    int
		hasLimit bool
	}{
		{"SELECT Id FROM Lead", "Lead", []string{"Id"}, 0, false},
		{"select id, EMAIL from lead", "Lead", []string{"Id", "Email"}, 0, false},
		{"SeLeCt Id,Email,IsConverted,ConvertedContactId FrOm LEAD wHeRe Email In ('a@x.com') LiMiT 5", "Lead", []string{"Id", "Email", "IsConverted", "ConvertedContactId"}, 5, true},
		{"SELECT Lead.Email FROM Lead", "Lead", []string{"Email"}, 0, false},
		{"SELECT Id FROM Lead WHERE Email = 'a@x.com' AND IsConverted = false", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE Email = 'a' OR Email = 'b' OR Email = 'c'", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE (Email = 'a' AND LastName = 'b') OR Email = 'c'", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE Email = 'a' AND (LastName = 'b' OR Email = 'c')", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE NOT Email = 'a'", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE Email != null AND (NOT (IsConverted = true))", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE Email <> 'x' AND Email NOT IN ('a', 'b') AND Email LIKE '%@x.com'", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE NumberOfEmployees >= 10 AND NumberOfEmployees < 1000", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE NumberOfEmployees > -5.5 AND NumberOfEmployees <= +7", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE CreatedDate > 2026-11-26T10:00:00Z AND CreatedDate < 2026-11-27T10:00:00.000+01:00", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE LastActivityDate = 2026-11-26", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE Id = '00Q000000000001' OR Id IN ('00Q000000000001AAA', null)", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead ORDER BY LastName, FirstName DESC NULLS LAST, Email ASC NULLS FIRST LIMIT 200", "Lead", []string{"Id"}, 200, true},
		{"SELECT Id FROM Lead LIMIT 0", "Lead", []string{"Id"}, 0, true},
		{"SELECT Id\nFROM Lead\nWHERE Email = 'a'\n", "Lead", []string{"Id"}, 0, false},
		{"SELECT Id FROM Lead WHERE Email LIKE 'a\\%b\\_c%'", "Lead", []string{"Id"}, 0, false},
		{`SELECT Id FROM Lead WHERE Email = '\n\N\r\R\t\T\b\B\f\F\"\'\\\u00e9'`, "Lead", []string{"Id"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			q, err := Parse(tc.query, testSchema)
			if err != nil {
				t.Fatalf("Parse: got error %v; want none", err)
			}
			if got := q.Object(); got != tc.object {
				t.Errorf("Object: got %q; want %q", got, tc.object)
			}
			if got := q.Fields(); !slices.Equal(got, tc.fields) {
				t.Errorf("Fields: got %v; want %v", got, tc.fields)
			}
			n, ok := q.Limit()
			if n != tc.limit || ok != tc.hasLimit {
				t.Errorf("Limit: got %d, %v; want %d, %v", n, ok, tc.limit, tc.hasLimit)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	const customField = "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
	const customObject = "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
	tests := []struct {
		name, query, code, message string
	}{
		// Messages reproduced from responses of real orgs.
		{"observed unknown column", "SELECT Bacon__c FROM Account LIMIT 2", CodeInvalidField,
			located("SELECT Bacon__c FROM Account LIMIT 2", 7, 1, 8, "No such column 'Bacon__c' on entity 'Account'. "+customField)},
		{"observed unknown object", "SELECT Id, Name, AccountNumber FROM AccountOpps WHERE Name like 'okToDelete%'", CodeInvalidType,
			located("SELECT Id, Name, AccountNumber FROM AccountOpps WHERE Name like 'okToDelete%'", 36, 1, 37, "sObject type 'AccountOpps' is not supported. "+customObject)},
		{"observed bad character", "select Id from Account where id = $sfid", CodeMalformedQuery,
			located("select Id from Account where id = $sfid", 33, 1, 34, "line 1:34 no viable alternative at character '$'")},
		{"observed bare word", "invalid", CodeMalformedQuery, "unexpected token: 'invalid'"},
		{"observed end of query", "SELECT Id FROM Account WHERE", CodeMalformedQuery,
			located("SELECT Id FROM Account WHERE", 28, 1, 29, "unexpected token: '<EOF>'")},

		{"empty", "   ", CodeMalformedQuery, "SOQL statements cannot be empty or null"},
		{"not select", "UPDATE Lead", CodeMalformedQuery, "unexpected token: 'UPDATE'"},
		{"no fields", "SELECT FROM Lead", CodeMalformedQuery, located("SELECT FROM Lead", 7, 1, 8, "unexpected token: 'FROM'")},
		{"trailing comma", "SELECT Id, FROM Lead", CodeMalformedQuery, located("SELECT Id, FROM Lead", 11, 1, 12, "unexpected token: 'FROM'")},
		{"no from", "SELECT Id", CodeMalformedQuery, located("SELECT Id", 9, 1, 10, "unexpected token: '<EOF>'")},
		{"count not supported", "SELECT COUNT() FROM Lead", CodeMalformedQuery, located("SELECT COUNT() FROM Lead", 12, 1, 13, "unexpected token: '('")},
		{"unknown object", "SELECT Id FROM Foo", CodeInvalidType, located("SELECT Id FROM Foo", 15, 1, 16, "sObject type 'Foo' is not supported. "+customObject)},
		{"unknown object wins over unknown field", "SELECT Bogus FROM Foo", CodeInvalidType, located("SELECT Bogus FROM Foo", 18, 1, 19, "sObject type 'Foo' is not supported. "+customObject)},
		{"unknown field", "SELECT Id, Bogus FROM Lead", CodeInvalidField, located("SELECT Id, Bogus FROM Lead", 11, 1, 12, "No such column 'Bogus' on entity 'Lead'. "+customField)},
		{"unknown field, object in lower case", "SELECT Bogus FROM lead", CodeInvalidField, located("SELECT Bogus FROM lead", 7, 1, 8, "No such column 'Bogus' on entity 'Lead'. "+customField)},
		{"unknown where field", "SELECT Id FROM Lead WHERE Emial = 'a'", CodeInvalidField, located("SELECT Id FROM Lead WHERE Emial = 'a'", 26, 1, 27, "No such column 'Emial' on entity 'Lead'. "+customField)},
		{"unknown order field", "SELECT Id FROM Lead ORDER BY Nope", CodeInvalidField, located("SELECT Id FROM Lead ORDER BY Nope", 29, 1, 30, "No such column 'Nope' on entity 'Lead'. "+customField)},
		{"field on another object", "SELECT Contact.Email FROM Lead", CodeInvalidField, located("SELECT Contact.Email FROM Lead", 7, 1, 8, "No such column 'Contact.Email' on entity 'Lead'. "+customField)},
		{"duplicate field", "SELECT Id, id FROM Lead", CodeMalformedQuery, located("SELECT Id, id FROM Lead", 11, 1, 12, "duplicate field selected: Id")},
		{"syntax before names", "SELECT Bogus FROM Lead WHERE", CodeMalformedQuery, located("SELECT Bogus FROM Lead WHERE", 28, 1, 29, "unexpected token: '<EOF>'")},
		{"and then or", "SELECT Id FROM Lead WHERE Email = 'a' AND LastName = 'b' OR Email = 'c'", CodeMalformedQuery,
			located("Lead WHERE Email = 'a' AND LastName = 'b' OR Email = 'c'", 42, 1, 58, "unexpected token: 'OR'")},
		{"or then and", "SELECT Id FROM Lead WHERE Email = 'a' OR Email = 'b' AND IsConverted = false", CodeMalformedQuery,
			located("Lead WHERE Email = 'a' OR Email = 'b' AND IsConverted = false", 38, 1, 54, "unexpected token: 'AND'")},
		{"mixed inside parentheses", "SELECT Id FROM Lead WHERE (Email = 'a' OR Email = 'b' AND Email = 'c')", CodeMalformedQuery,
			located("Lead WHERE (Email = 'a' OR Email = 'b' AND Email = 'c')", 39, 1, 55, "unexpected token: 'AND'")},
		{"not after and", "SELECT Id FROM Lead WHERE Email = 'x' AND NOT (Email = 'y')", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email = 'x' AND NOT (Email = 'y')", 42, 1, 43, "unexpected token: 'NOT'")},
		{"unclosed parenthesis", "SELECT Id FROM Lead WHERE (Email = 'a'", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE (Email = 'a'", 38, 1, 39, "unexpected token: '<EOF>'")},
		{"no operator", "SELECT Id FROM Lead WHERE Email 'a'", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email 'a'", 32, 1, 33, "unexpected token: ''a''")},
		{"double equals", "SELECT Id FROM Lead WHERE Email == 'a'", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email == 'a'", 33, 1, 34, "unexpected token: '='")},
		{"empty in list", "SELECT Id FROM Lead WHERE Email IN ()", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email IN ()", 36, 1, 37, "unexpected token: ')'")},
		{"in without list", "SELECT Id FROM Lead WHERE Email IN 'a'", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email IN 'a'", 35, 1, 36, "unexpected token: ''a''")},
		{"not like", "SELECT Id FROM Lead WHERE Email NOT LIKE 'a'", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email NOT LIKE 'a'", 36, 1, 37, "unexpected token: 'LIKE'")},
		{"like number", "SELECT Id FROM Lead WHERE NumberOfEmployees LIKE 5", CodeMalformedQuery,
			located("Id FROM Lead WHERE NumberOfEmployees LIKE 5", 42, 1, 50, "unexpected token: '5'")},
		{"double quotes", `SELECT Id FROM Lead WHERE Email = "a"`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email = "a"`, 33, 1, 34, `line 1:34 no viable alternative at character '"'`)},
		{"unterminated string", "SELECT Id FROM Lead WHERE Email = 'abc", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email = 'abc", 34, 1, 35, "unexpected token: '''")},
		{"unterminated by escaped quote", `SELECT Id FROM Lead WHERE Email = 'abc\'`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email = 'abc\'`, 34, 1, 35, "unexpected token: '''")},
		{"injection without escaping", "SELECT Id FROM Lead WHERE Email = 'x' OR Email != null OR Email = 'y' AND IsConverted = false", CodeMalformedQuery,
			located("= 'x' OR Email != null OR Email = 'y' AND IsConverted = false", 38, 1, 71, "unexpected token: 'AND'")},
		{"bad escape", `SELECT Id FROM Lead WHERE Email = 'a\qb'`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email = 'a\qb'`, 34, 1, 35, `Invalid string literal 'a\qb'. Illegal character sequence '\q' in string literal.`)},
		{"percent escape outside like", `SELECT Id FROM Lead WHERE Email = '50\%'`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email = '50\%'`, 34, 1, 35, `Invalid string literal '50\%'. Illegal character sequence '\%' in string literal.`)},
		{"underscore escape outside like", `SELECT Id FROM Lead WHERE Email IN ('a\_b')`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email IN ('a\_b')`, 36, 1, 37, `Invalid string literal 'a\_b'. Illegal character sequence '\_' in string literal.`)},
		{"short unicode escape", `SELECT Id FROM Lead WHERE Email = '\u12'`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email = '\u12'`, 34, 1, 35, `Invalid string literal '\u12'. Illegal character sequence '\u12' in string literal.`)},
		{"non-hex unicode escape", `SELECT Id FROM Lead WHERE Email = '\u12G4x'`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email = '\u12G4x'`, 34, 1, 35, `Invalid string literal '\u12G4x'. Illegal character sequence '\u12G4' in string literal.`)},
		{"upper-case U escape", `SELECT Id FROM Lead WHERE Email = '\U00e9'`, CodeMalformedQuery,
			located(`SELECT Id FROM Lead WHERE Email = '\U00e9'`, 34, 1, 35, `Invalid string literal '\U00e9'. Illegal character sequence '\U' in string literal.`)},
		{"boolean in quotes", "SELECT Id FROM Lead WHERE IsConverted = 'false'", CodeInvalidField,
			located("SELECT Id FROM Lead WHERE IsConverted = 'false'", 40, 1, 41, "value of filter criterion for field 'IsConverted' must be of type boolean and should not be enclosed in quotes")},
		{"boolean as number", "SELECT Id FROM Lead WHERE IsConverted = 0", CodeInvalidField,
			located("SELECT Id FROM Lead WHERE IsConverted = 0", 40, 1, 41, "value of filter criterion for field 'IsConverted' must be of type boolean and should not be enclosed in quotes")},
		{"like on boolean", "SELECT Id FROM Lead WHERE IsConverted LIKE 'true'", CodeInvalidField,
			located("Id FROM Lead WHERE IsConverted LIKE 'true'", 36, 1, 44, "value of filter criterion for field 'IsConverted' must be of type boolean and should not be enclosed in quotes")},
		{"text unquoted", "SELECT Id FROM Lead WHERE Email = true", CodeInvalidField,
			located("SELECT Id FROM Lead WHERE Email = true", 34, 1, 35, "value of filter criterion for field 'Email' must be of type string and should be enclosed in quotes")},
		{"text as number", "SELECT Id FROM Lead WHERE LastName IN ('a', 5)", CodeInvalidField,
			located("Id FROM Lead WHERE LastName IN ('a', 5)", 37, 1, 45, "value of filter criterion for field 'LastName' must be of type string and should be enclosed in quotes")},
		{"number in quotes", "SELECT Id FROM Lead WHERE NumberOfEmployees > '5'", CodeInvalidField,
			located("Id FROM Lead WHERE NumberOfEmployees > '5'", 39, 1, 47, "value of filter criterion for field 'NumberOfEmployees' must be of type double and should not be enclosed in quotes")},
		{"date in quotes", "SELECT Id FROM Lead WHERE LastActivityDate = '2026-11-26'", CodeInvalidField,
			located("Id FROM Lead WHERE LastActivityDate = '2026-11-26'", 38, 1, 46, "value of filter criterion for field 'LastActivityDate' must be of type date and should not be enclosed in quotes")},
		{"date on datetime", "SELECT Id FROM Lead WHERE CreatedDate > 2026-11-26", CodeInvalidField,
			located("SELECT Id FROM Lead WHERE CreatedDate > 2026-11-26", 40, 1, 41, "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes")},
		{"datetime on date", "SELECT Id FROM Lead WHERE LastActivityDate < 2026-11-26T10:00:00Z", CodeInvalidField,
			located("Id FROM Lead WHERE LastActivityDate < 2026-11-26T10:00:00Z", 38, 1, 46, "value of filter criterion for field 'LastActivityDate' must be of type date and should not be enclosed in quotes")},
		{"impossible date", "SELECT Id FROM Lead WHERE LastActivityDate = 2026-02-30", CodeMalformedQuery,
			located("Id FROM Lead WHERE LastActivityDate = 2026-02-30", 38, 1, 46, "unexpected token: '2026-02-30'")},
		{"invalid id", "SELECT Id FROM Lead WHERE Id = 'abc'", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Id = 'abc'", 31, 1, 32, "invalid ID field: abc")},
		{"invalid reference id", "SELECT Id FROM Lead WHERE ConvertedContactId IN ('003000000000001', '003-00000000002')", CodeMalformedQuery,
			located("ConvertedContactId IN ('003000000000001', '003-00000000002')", 42, 1, 69, "invalid ID field: 003-00000000002")},
		{"id unquoted", "SELECT Id FROM Lead WHERE Id = 5", CodeInvalidField,
			located("SELECT Id FROM Lead WHERE Id = 5", 31, 1, 32, "value of filter criterion for field 'Id' must be of type id and should be enclosed in quotes")},
		{"like null", "SELECT Id FROM Lead WHERE Email LIKE null", CodeMalformedQuery,
			located("SELECT Id FROM Lead WHERE Email LIKE null", 37, 1, 38, "unexpected token: 'null'")},
		{"negative limit", "SELECT Id FROM Lead LIMIT -1", CodeMalformedQuery,
			located("SELECT Id FROM Lead LIMIT -1", 25, 1, 26, "line 1:26 no viable alternative at character '-'")},
		{"fractional limit", "SELECT Id FROM Lead LIMIT 1.5", CodeMalformedQuery,
			located("SELECT Id FROM Lead LIMIT 1.5", 26, 1, 27, "unexpected token: '1.5'")},
		{"limit word", "SELECT Id FROM Lead LIMIT ten", CodeMalformedQuery,
			located("SELECT Id FROM Lead LIMIT ten", 26, 1, 27, "unexpected token: 'ten'")},
		{"limit before order", "SELECT Id FROM Lead LIMIT 1 ORDER BY Email", CodeMalformedQuery,
			located("SELECT Id FROM Lead LIMIT 1 ORDER BY Email", 28, 1, 29, "unexpected token: 'ORDER'")},
		{"order without by", "SELECT Id FROM Lead ORDER Email", CodeMalformedQuery,
			located("SELECT Id FROM Lead ORDER Email", 26, 1, 27, "unexpected token: 'Email'")},
		{"nulls without position", "SELECT Id FROM Lead ORDER BY Email NULLS", CodeMalformedQuery,
			located("SELECT Id FROM Lead ORDER BY Email NULLS", 40, 1, 41, "unexpected token: '<EOF>'")},
		{"trailing garbage", "SELECT Id FROM Lead garbage", CodeMalformedQuery,
			located("SELECT Id FROM Lead garbage", 20, 1, 21, "unexpected token: 'garbage'")},
		{"second row", "SELECT Id\nFROM Lead\nWHERE Emial = 'a'", CodeInvalidField,
			located("WHERE Emial = 'a'", 6, 3, 7, "No such column 'Emial' on entity 'Lead'. "+customField)},
		{"long query excerpt", "SELECT Id, Email, FirstName, LastName, Company, IsConverted, ConvertedContactId, Bogus, NumberOfEmployees, CreatedDate, LastActivityDate FROM Lead", CodeInvalidField,
			located("Company, IsConverted, ConvertedContactId, Bogus, NumberOfEmployees, CreatedDate", 42, 1, 82, "No such column 'Bogus' on entity 'Lead'. "+customField)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := Parse(tc.query, testSchema)
			if err == nil {
				t.Fatalf("Parse(%q): got query for %s; want error %s", tc.query, q.Object(), tc.code)
			}
			var serr *Error
			if !errors.As(err, &serr) {
				t.Fatalf("Parse(%q): got error %T; want *Error", tc.query, err)
			}
			if serr.Code != tc.code {
				t.Errorf("Code: got %s; want %s", serr.Code, tc.code)
			}
			if serr.Message != tc.message {
				t.Errorf("Message:\ngot  %q\nwant %q", serr.Message, tc.message)
			}
			if got, want := err.Error(), tc.code+": "+tc.message; got != want {
				t.Errorf("Error(): got %q; want %q", got, want)
			}
		})
	}
}

// TestParseSideRules checks lexical rules whose exact error text matters
// less than whether the query is accepted.
func TestParseSideRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query string
		ok    bool
	}{
		{"SELECT Id FROM Lead WHERE NumberOfEmployees >= 10 AND NumberOfEmployees < 1e3", false}, // no exponent form
		{"SELECT Id FROM Lead WHERE Email = 'it''s'", false},                                     // '' is not an escape
		{"SELECT Id FROM Lead WHERE Email = 'it\\'s'", true},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.query, testSchema)
			if got := err == nil; got != tc.ok {
				t.Errorf("Parse(%q) succeeded: got %v; want %v (err %v)", tc.query, got, tc.ok, err)
			}
		})
	}
}

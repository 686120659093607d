// Package soql parses and evaluates the subset of Salesforce's query language
// that the sync service sends, with Salesforce's own syntax, escaping,
// comparison and error behaviour, so the simulator can answer queries the way
// a real org would.
//
// Supported: SELECT of plain fields FROM one object; WHERE with =, !=, <>, <,
// >, <=, >=, IN, NOT IN, LIKE, AND, OR, NOT and parentheses; ORDER BY with
// ASC/DESC and NULLS FIRST/LAST over several fields; LIMIT.
//
// Behaviour chosen to match Salesforce (and where the documentation is silent,
// decided here):
//
//   - Keywords, object names and field names are case-insensitive; Fields and
//     Object report the schema's canonical spelling.
//   - String comparison (=, !=, IN, NOT IN, LIKE, and the ordering operators)
//     is case-insensitive, using Unicode simple case folding. Salesforce uses
//     the querying user's locale; the simulator behaves like an English locale.
//   - Id and reference fields compare by record identity: an 18-character id is
//     reduced to its 15-character form, with the letter case restored from the
//     3-character checksum suffix, so 18-character ids match whatever their
//     case, while 15-character ids compare case-sensitively. A string literal
//     on an id field that is not 15 or 18 letters/digits is MALFORMED_QUERY
//     "invalid ID field: <value>".
//   - Mixing AND and OR at one level without parentheses is MALFORMED_QUERY,
//     reported as an unexpected token at the first operator that differs. NOT
//     may only open a condition (right after WHERE or an opening parenthesis),
//     and negates the simple expression or parenthesised group that follows.
//   - String literals take the backslash escapes \n \r \t \b \f (either case),
//     \" \' \\ and \uXXXX. \% and \_ are accepted only in a LIKE pattern, as
//     the documentation says; in any other literal they, like every other
//     backslash sequence, are MALFORMED_QUERY "Invalid string literal ...
//     Illegal character sequence ...".
//   - A quoted value on a boolean, number, date or dateTime field, or an
//     unquoted one on a text field, is INVALID_FIELD "value of filter criterion
//     for field 'F' must be of type T and should (not) be enclosed in quotes".
//     A date literal on a dateTime field (or the reverse) gets the same error.
//   - Null semantics: "= null" and "!= null" test for null; any other
//     comparison with a null field value is false, except != and NOT IN, which
//     are true for null. ORDER BY puts nulls first unless NULLS LAST is given,
//     in either direction; text sorts case-insensitively.
//   - Error messages that point at a place in the query use Salesforce's
//     layout: a newline, an excerpt of the query's line reaching up to 42
//     characters either side of the offending token and cut at whitespace or
//     commas, a line with a caret under the token, "ERROR at Row:r:Column:c"
//     (1-based), then the message. The excerpt rule was inferred from messages
//     captured from real orgs, which the tests reproduce. An error at the very
//     first token carries no excerpt ("unexpected token: 'invalid'"). A
//     character no token starts with is "line r:p no viable alternative at
//     character 'c'", where p is 0-based and, as in Salesforce's output, also
//     printed as the column.
//   - Not enforced: the 4,000-character limit on a WHERE string and the
//     100,000-character limit on a statement (their error texts are not known).
package soql

package event

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the contract. The JSON Schemas under events/schema state the same
// numbers; the tests check both against the same examples.
//
// Salesforce's own field lengths (FirstName 40, Title 128, ...) are not
// enforced here: which Salesforce field a value lands in is the team's field
// mapping, which is checked against the org's metadata. The exception is the
// email address, the dedup key, which must fit Salesforce's Email field as is.
const (
	MaxIDLength       = 128    // id, team_id, contact, sequence and message ids
	MaxEmailLength    = 80     // Salesforce's Email field
	MaxNameLength     = 255    // sequence name, first/last name, company, title, phone
	MaxWebLength      = 255    // website, linkedin_url
	MaxCustomFields   = 100    // keys in contact.custom
	MaxCustomKey      = 64     // length of a contact.custom key
	MaxCustomValue    = 4096   // length of a contact.custom value
	MaxSubjectLength  = 998    // an email subject line (RFC 5322 line limit)
	MaxBodyTextLength = 100000 // message.body_text, in characters
	MaxStep           = 1000   // message.step is 1..MaxStep
	MaxURLLength      = 2048   // message.url
	MaxReasonLength   = 1000   // message.reason (bounce reason)
	// MaxUnsubscribeReasonLength bounds data.reason of contact.unsubscribed.
	MaxUnsubscribeReasonLength = 255
)

// Patterns shared with the schemas (RE2 and ECMA-262 read them alike).
const (
	idPattern        = `^[A-Za-z0-9][A-Za-z0-9._:-]*$`
	customKeyPattern = `^[A-Za-z][A-Za-z0-9_]*$`
	// An RFC 3339 date-time with an upper-case T, an explicit offset, at most
	// nanosecond precision, a year from 1970 and no leap second (Go's time
	// package has none).
	timestampPattern = `^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`
	// A bare address: dot-atom local part (RFC 5322 atext, ASCII), then a host
	// name of at least two labels. No display name, quotes, comments or
	// address literals; this is the subset Salesforce's Email field accepts.
	emailPattern = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*" +
		"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
	// An absolute http(s) URL; hosts in brackets (IP literals) are refused.
	urlPattern = `^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#\[\]]+([/?#]\S*)?$`
)

var (
	idRE        = regexp.MustCompile(idPattern)
	customKeyRE = regexp.MustCompile(customKeyPattern)
	timestampRE = regexp.MustCompile(timestampPattern)
	emailRE     = regexp.MustCompile(emailPattern)
	urlRE       = regexp.MustCompile(urlPattern)
)

// length counts characters (code points), as JSON Schema's maxLength does.
func length(s string) int { return utf8.RuneCountInString(s) }

func checkLength(s string, max int) string {
	if n := length(s); n > max {
		return fmt.Sprintf("%d characters exceeds the %d-character limit", n, max)
	}
	return ""
}

// checkID returns the problem with an identifier, or "".
func checkID(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if p := checkLength(s, MaxIDLength); p != "" {
		return p
	}
	if !idRE.MatchString(s) {
		return "must start with a letter or digit and hold only letters, digits and . _ : -"
	}
	return ""
}

// CheckTeamID returns nil if s is a team id the event contract accepts, and
// a *ValidationError for field "team_id" otherwise. The API holds the team_id
// claim of its callers to the same rule, so every team that can call it can
// also send events, and no key built from a team id holds a "#".
func CheckTeamID(s string) error {
	if p := checkID(s); p != "" {
		return invalid("team_id", "%s", p)
	}
	return nil
}

// CheckEmail returns nil if s is an email address this service accepts, and
// a *ValidationError for field "email" otherwise. The address is not
// normalised: surrounding spaces make it invalid rather than being trimmed.
func CheckEmail(s string) error {
	if p := checkEmail(s); p != "" {
		return invalid("email", "%s", p)
	}
	return nil
}

func checkEmail(s string) string {
	if p := checkLength(s, MaxEmailLength); p != "" {
		return p
	}
	if !emailRE.MatchString(s) {
		return "not an email address"
	}
	// The pattern already excludes what follows; net/mail is a second opinion
	// from the standard library that the string is one bare address.
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.Count(s, "@") != 1 {
		return "not an email address"
	}
	return ""
}

// parseTimestamp parses an RFC 3339 timestamp and returns it in UTC.
func parseTimestamp(s string) (time.Time, string) {
	if !timestampRE.MatchString(s) {
		return time.Time{}, "not an RFC 3339 timestamp with a time zone, e.g. 2026-11-26T10:00:00Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, "not an RFC 3339 timestamp: " + strings.TrimPrefix(err.Error(), "parsing time ")
	}
	t = t.UTC()
	if y := t.Year(); y < 1970 || y > 9999 {
		return time.Time{}, "outside the years 1970 to 9999"
	}
	return t, ""
}

func checkURL(s string) string {
	if p := checkLength(s, MaxURLLength); p != "" {
		return p
	}
	if !urlRE.MatchString(s) {
		return "not an absolute http(s) URL"
	}
	if u, err := url.Parse(s); err != nil || u.Host == "" {
		return "not an absolute http(s) URL"
	}
	return ""
}

package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the time zone database: Lambda's runtime may have no /usr/share/zoneinfo
)

// The team settings of rule R10: who owns what the service creates, which
// Account a new Contact goes under, and the time zone activity is dated in.
// Each reads as its default in versions saved before it existed (its zero
// value); the accessors below give the value in force.

// OwnerRule says who owns the Leads, Contacts and Tasks the service creates.
type OwnerRule string

// The owner values of team settings.
const (
	// OwnerRep gives them to the rep's active Salesforce user (the event's
	// data.user, matched by email), else to the fallback user. The default.
	OwnerRep OwnerRule = "rep"
	// OwnerFallbackOnly gives them all to the fallback user.
	OwnerFallbackOnly OwnerRule = "fallback_only"
	// OwnerAssignmentRules leaves new Leads to the org's lead assignment
	// rules; Contacts and Tasks, which those rules do not assign, go as
	// with OwnerRep.
	OwnerAssignmentRules OwnerRule = "assignment_rules"
)

// AccountMatching says how the Account of a new Contact is found.
type AccountMatching string

// The account_matching values of team settings.
const (
	// AccountMatchDomain matches the Account whose website has the
	// contact's email domain (its website's when the email is free mail);
	// a contact with neither a business email nor a website is matched by
	// its company's name. The default.
	AccountMatchDomain AccountMatching = "domain"
	// AccountMatchName matches the Account named as the contact's company.
	AccountMatchName AccountMatching = "name"
	// AccountMatchNone looks for no Account: Contacts are created without
	// one.
	AccountMatchNone AccountMatching = "none"
)

// AccountFallback says what becomes of a contact to be synced as a Contact
// when no Account matches.
type AccountFallback string

// The account_fallback values of team settings.
const (
	// AccountFallbackCreate creates the Account (named after the company,
	// else the domain) and the Contact under it. The default.
	AccountFallbackCreate AccountFallback = "create"
	// AccountFallbackLead syncs the contact as a Lead instead (outcome
	// reason no_account).
	AccountFallbackLead AccountFallback = "lead"
	// AccountFallbackPrivate creates the Contact without an Account, a
	// private Contact (outcome reason private_contact).
	AccountFallbackPrivate AccountFallback = "private"
)

// Limits of the R10 settings.
const (
	MaxFreeMailDomains = 500 // entries of free_mail_domains
	MaxDomainLength    = 253 // characters of one domain (DNS)
	MaxTimeZoneLength  = 64  // characters of time_zone; IANA names are far shorter
)

// ErrUserNotFound and ErrUserInactive are what a check of
// owner_fallback_user_id against the team's org finds wrong: the org has no
// User of that id, or that User is inactive (and could own nothing).
var (
	ErrUserNotFound = errors.New("no such Salesforce user in the connected org")
	ErrUserInactive = errors.New("the Salesforce user is inactive")
)

var (
	ownerValues           = []string{string(OwnerRep), string(OwnerFallbackOnly), string(OwnerAssignmentRules)}
	accountMatchingValues = []string{string(AccountMatchDomain), string(AccountMatchName), string(AccountMatchNone)}
	accountFallbackValues = []string{string(AccountFallbackCreate), string(AccountFallbackLead), string(AccountFallbackPrivate)}

	userIDRE = regexp.MustCompile(`^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$`)
	labelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

const userIDProblem = "must be a Salesforce User id (15 or 18 letters and digits starting with 005), or empty for the connected user"

// OwnerRule is the team's owner setting; OwnerRep when unset.
func (s TeamSettings) OwnerRule() OwnerRule {
	if s.Owner == "" {
		return OwnerRep
	}
	return s.Owner
}

// AccountMatchingRule is the team's account_matching; AccountMatchDomain
// when unset.
func (s TeamSettings) AccountMatchingRule() AccountMatching {
	if s.AccountMatching == "" {
		return AccountMatchDomain
	}
	return s.AccountMatching
}

// AccountFallbackRule is the team's account_fallback;
// AccountFallbackCreate when unset.
func (s TeamSettings) AccountFallbackRule() AccountFallback {
	if s.AccountFallback == "" {
		return AccountFallbackCreate
	}
	return s.AccountFallback
}

// Location is the time zone the team's activity is dated in (a Task's date
// is the activity's date there): time_zone when set, else connectedUserTZ
// (the connected user's Salesforce TimeZoneSidKey, "" when unknown) when it
// names a zone, else UTC.
func (s TeamSettings) Location(connectedUserTZ string) *time.Location {
	for _, name := range []string{s.TimeZone, connectedUserTZ} {
		if loc, err := loadZone(name); err == nil {
			return loc
		}
	}
	return time.UTC
}

// ValidUserID reports whether id is a Salesforce User id: 15 or 18 letters
// and digits starting with 005.
func ValidUserID(id string) bool { return userIDRE.MatchString(id) }

// zones caches the locations loaded by name: a sync dates many Tasks in few
// zones.
var zones sync.Map // name -> *time.Location

// loadZone loads an IANA time zone by name. "" and "Local" are refused:
// the first is UTC to time.LoadLocation and the second the server's zone,
// neither of which a team means.
func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if p := timeZoneProblem(name); p != "" {
		return nil, errors.New(p)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// timeZoneProblem says what keeps name from being a time zone setting
// before it is looked up, or "".
func timeZoneProblem(name string) string {
	switch {
	case name == "":
		return "must be an IANA time zone name such as Europe/Paris; leave the field out to use the connected user's time zone (else UTC)"
	case name == "Local":
		return "Local is the server's time zone; name an IANA time zone such as Europe/Paris"
	case len(name) > MaxTimeZoneLength:
		return fmt.Sprintf("longer than %d characters; name an IANA time zone such as Europe/Paris", MaxTimeZoneLength)
	}
	return ""
}

// CheckTimeZone returns nil if name is an IANA time zone name the service
// can load, and a *ValidationError for field "time_zone" otherwise.
func CheckTimeZone(name string) error {
	if p := timeZoneProblem(name); p != "" {
		return invalid("time_zone", "%s", p)
	}
	if _, err := loadZone(name); err != nil {
		return invalid("time_zone", "%q is not an IANA time zone name, such as Europe/Paris or America/New_York", name)
	}
	return nil
}

// NormalizeFreeMailDomain is the form a free-mail domain is kept in:
// lower-case, without a leading "@" or "www.". It does not check the
// result.
func NormalizeFreeMailDomain(s string) string {
	s = strings.TrimPrefix(strings.ToLower(s), "@")
	return strings.TrimPrefix(s, "www.")
}

// domainProblem says why d, normalized, is not a DNS name of two or more
// labels (ASCII letters, digits and inner hyphens, the last not all
// digits), or "".
func domainProblem(d string) string {
	if d == "" {
		return "must not be empty"
	}
	if len(d) > MaxDomainLength {
		return fmt.Sprintf("longer than %d characters", MaxDomainLength)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "must be a domain of two or more labels, such as mail.example"
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return fmt.Sprintf("%q is not a domain name: labels of 1-63 ASCII letters, digits and inner hyphens, separated by dots (write an international domain in its xn-- form)", d)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return fmt.Sprintf("%q is not a domain name: its last label is a number", d)
	}
	return ""
}

// NormalizeFreeMailDomains normalizes a team's free-mail domains
// (NormalizeFreeMailDomain), checks each, and drops repeats, keeping the
// first of each in the order given. An empty list is nil. The error names
// the offending entry (free_mail_domains[i]).
func NormalizeFreeMailDomains(in []string) ([]string, error) {
	if len(in) > MaxFreeMailDomains {
		return nil, invalid("free_mail_domains", "%d domains exceeds the limit of %d", len(in), MaxFreeMailDomains)
	}
	var out []string
	for i, d := range in {
		n := NormalizeFreeMailDomain(d)
		if p := domainProblem(n); p != "" {
			return nil, invalid(fmt.Sprintf("free_mail_domains[%d]", i), "%s", p)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// validateAttribution checks the R10 settings of s as stored: each enum
// unset or one of its values, the fallback user unset or a User id, the
// free-mail domains normalized and distinct, the time zone unset or
// loadable.
func (s TeamSettings) validateAttribution() error {
	for _, f := range []struct {
		name, v string
		values  []string
	}{
		{"owner", string(s.Owner), ownerValues},
		{"account_matching", string(s.AccountMatching), accountMatchingValues},
		{"account_fallback", string(s.AccountFallback), accountFallbackValues},
	} {
		if f.v != "" && !slices.Contains(f.values, f.v) {
			return invalid(f.name, "%s", oneOf(f.values))
		}
	}
	if s.OwnerFallbackUserID != "" && !ValidUserID(s.OwnerFallbackUserID) {
		return invalid("owner_fallback_user_id", "%s", userIDProblem)
	}
	if err := validateStoredDomains(s.FreeMailDomains); err != nil {
		return err
	}
	if s.TimeZone != "" {
		return CheckTimeZone(s.TimeZone)
	}
	return nil
}

// validateStoredDomains checks free-mail domains as kept: at most
// MaxFreeMailDomains, each normalized, valid and given once.
func validateStoredDomains(ds []string) error {
	if len(ds) > MaxFreeMailDomains {
		return invalid("free_mail_domains", "%d domains exceeds the limit of %d", len(ds), MaxFreeMailDomains)
	}
	for i, d := range ds {
		field := fmt.Sprintf("free_mail_domains[%d]", i)
		if n := NormalizeFreeMailDomain(d); n != d {
			return invalid(field, "must be written %q", n)
		}
		if p := domainProblem(d); p != "" {
			return invalid(field, "%s", p)
		}
		if slices.Contains(ds[:i], d) {
			return invalid(field, "%q is listed twice", d)
		}
	}
	return nil
}

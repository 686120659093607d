package policy

import (
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// base is a minimal settings document; attribution tests add members to it.
const base = `"sync_as":"contact","sync_mode":"on_add","deduplication":true,"activity_tracking":true`

func withBase(members string) string {
	if members == "" {
		return "{" + base + "}"
	}
	return "{" + base + "," + members + "}"
}

// domainList is a JSON array of n distinct valid domains.
func domainList(n int) string {
	ds := make([]string, n)
	for i := range ds {
		ds[i] = strconv.Quote(fmt.Sprintf("mail%d.example", i))
	}
	return "[" + strings.Join(ds, ",") + "]"
}

func TestParseAttributionSettings(t *testing.T) {
	t.Parallel()
	type r10 struct {
		owner    OwnerRule
		user     string
		matching AccountMatching
		fallback AccountFallback
		domains  []string
		zone     string
	}
	defaults := r10{owner: OwnerRep, matching: AccountMatchDomain, fallback: AccountFallbackCreate}
	tests := []struct {
		name    string
		members string
		field   string // "" for valid
		problem string
		want    r10
	}{
		{name: "absent: the defaults", want: defaults},
		{name: "every setting", members: `"owner":"fallback_only","owner_fallback_user_id":"0055g00000Ab1CdAAJ","account_matching":"name","account_fallback":"private",` +
			`"free_mail_domains":["@Proton.ME","www.gmx.net","proton.me","mail.example.co.uk"],"time_zone":"Europe/Paris"`,
			want: r10{OwnerFallbackOnly, "0055g00000Ab1CdAAJ", AccountMatchName, AccountFallbackPrivate, []string{"proton.me", "gmx.net", "mail.example.co.uk"}, "Europe/Paris"}},
		{name: "assignment rules, no matching, lead fallback", members: `"owner":"assignment_rules","account_matching":"none","account_fallback":"lead"`,
			want: r10{owner: OwnerAssignmentRules, matching: AccountMatchNone, fallback: AccountFallbackLead}},
		{name: "15-character user id", members: `"owner_fallback_user_id":"0055g00000Ab1Cd"`, want: r10{OwnerRep, "0055g00000Ab1Cd", AccountMatchDomain, AccountFallbackCreate, nil, ""}},
		{name: "empty user id: the connected user", members: `"owner_fallback_user_id":""`, want: defaults},
		{name: "no free-mail domains", members: `"free_mail_domains":[]`, want: defaults},
		{name: "500 domains", members: `"free_mail_domains":` + domainList(MaxFreeMailDomains), want: func() r10 {
			w := defaults
			for i := range MaxFreeMailDomains {
				w.domains = append(w.domains, fmt.Sprintf("mail%d.example", i))
			}
			return w
		}()},
		{name: "UTC", members: `"time_zone":"UTC"`, want: r10{OwnerRep, "", AccountMatchDomain, AccountFallbackCreate, nil, "UTC"}},
		{name: "three-part zone", members: `"time_zone":"America/Argentina/Buenos_Aires"`, want: r10{OwnerRep, "", AccountMatchDomain, AccountFallbackCreate, nil, "America/Argentina/Buenos_Aires"}},
		{name: "unknown owner", members: `"owner":"manager"`, field: "owner", problem: "must be one of rep, fallback_only, assignment_rules"},
		{name: "owner null", members: `"owner":null`, field: "owner", problem: "must be one of"},
		{name: "unknown matching", members: `"account_matching":"website"`, field: "account_matching", problem: "must be one of domain, name, none"},
		{name: "unknown fallback", members: `"account_fallback":"skip"`, field: "account_fallback", problem: "must be one of create, lead, private"},
		{name: "a Lead id as user", members: `"owner_fallback_user_id":"00Q5g00000KzF3aEAF"`, field: "owner_fallback_user_id", problem: "starting with 005"},
		{name: "16-character user id", members: `"owner_fallback_user_id":"0055g00000Ab1CdA"`, field: "owner_fallback_user_id", problem: "15 or 18"},
		{name: "user id a number", members: `"owner_fallback_user_id":5`, field: "owner_fallback_user_id", problem: "Salesforce User id"},
		{name: "user id null", members: `"owner_fallback_user_id":null`, field: "owner_fallback_user_id", problem: "Salesforce User id"},
		{name: "domains a string", members: `"free_mail_domains":"gmail.com"`, field: "free_mail_domains", problem: "array of domain names"},
		{name: "domains null", members: `"free_mail_domains":null`, field: "free_mail_domains", problem: "array of domain names"},
		{name: "501 domains", members: `"free_mail_domains":` + domainList(MaxFreeMailDomains+1), field: "free_mail_domains", problem: "501 domains exceeds the limit of 500"},
		{name: "a domain a number", members: `"free_mail_domains":["gmx.net",7]`, field: "free_mail_domains[1]", problem: "a string"},
		{name: "an empty domain", members: `"free_mail_domains":[""]`, field: "free_mail_domains[0]", problem: "must not be empty"},
		{name: "a bare @", members: `"free_mail_domains":["@"]`, field: "free_mail_domains[0]", problem: "must not be empty"},
		{name: "one label", members: `"free_mail_domains":["gmail"]`, field: "free_mail_domains[0]", problem: "two or more labels"},
		{name: "a space", members: `"free_mail_domains":["gmx.net"," mail.example"]`, field: "free_mail_domains[1]", problem: "not a domain name"},
		{name: "a leading hyphen", members: `"free_mail_domains":["-mail.example"]`, field: "free_mail_domains[0]", problem: "not a domain name"},
		{name: "a trailing dot", members: `"free_mail_domains":["gmail.com."]`, field: "free_mail_domains[0]", problem: "not a domain name"},
		{name: "an address", members: `"free_mail_domains":["ada@gmail.com"]`, field: "free_mail_domains[0]", problem: "not a domain name"},
		{name: "not ASCII", members: `"free_mail_domains":["münchen.de"]`, field: "free_mail_domains[0]", problem: "xn--"},
		{name: "an IP address", members: `"free_mail_domains":["192.168.0.1"]`, field: "free_mail_domains[0]", problem: "last label is a number"},
		{name: "a label of 64", members: `"free_mail_domains":["` + strings.Repeat("a", 64) + `.example"]`, field: "free_mail_domains[0]", problem: "not a domain name"},
		{name: "a domain of 254", members: `"free_mail_domains":["` + strings.Repeat("a.", 127) + `ab"]`, field: "free_mail_domains[0]", problem: "longer than 253"},
		{name: "empty time zone", members: `"time_zone":""`, field: "time_zone", problem: "leave the field out"},
		{name: "Local", members: `"time_zone":"Local"`, field: "time_zone", problem: "server's time zone"},
		{name: "unknown zone", members: `"time_zone":"Mars/Olympus_Mons"`, field: "time_zone", problem: "not an IANA time zone name"},
		{name: "a path", members: `"time_zone":"../../etc/passwd"`, field: "time_zone", problem: "not an IANA time zone name"},
		{name: "an offset", members: `"time_zone":"+02:00"`, field: "time_zone", problem: "not an IANA time zone name"},
		{name: "a long zone", members: `"time_zone":"` + strings.Repeat("Z", MaxTimeZoneLength+1) + `"`, field: "time_zone", problem: "longer than 64"},
		{name: "zone a number", members: `"time_zone":2`, field: "time_zone", problem: "IANA time zone name"},
		{name: "zone null", members: `"time_zone":null`, field: "time_zone", problem: "IANA time zone name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ParseTeamSettings([]byte(withBase(tt.members)))
			checkParse(t, err, tt.field, tt.problem)
			if tt.field != "" {
				return
			}
			got := r10{s.Owner, s.OwnerFallbackUserID, s.AccountMatching, s.AccountFallback, s.FreeMailDomains, s.TimeZone}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

// TestValidateAttribution: Validate holds a stored document to the same
// rules, with its free-mail domains in their normalized form, and takes
// the zero values of versions saved before the settings existed.
func TestValidateAttribution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(s *TeamSettings)
		field   string
		problem string
	}{
		{"zero values of an older version", func(s *TeamSettings) {
			s.Owner, s.AccountMatching, s.AccountFallback = "", "", ""
		}, "", ""},
		{"every setting", func(s *TeamSettings) {
			s.Owner, s.OwnerFallbackUserID, s.AccountMatching, s.AccountFallback = OwnerFallbackOnly, "0055g00000Ab1Cd", AccountMatchNone, AccountFallbackLead
			s.FreeMailDomains, s.TimeZone = []string{"proton.me", "gmx.net"}, "Asia/Kolkata"
		}, "", ""},
		{"unknown owner", func(s *TeamSettings) { s.Owner = "Rep" }, "owner", "rep, fallback_only, assignment_rules"},
		{"unknown matching", func(s *TeamSettings) { s.AccountMatching = "website" }, "account_matching", "domain, name, none"},
		{"unknown fallback", func(s *TeamSettings) { s.AccountFallback = "skip" }, "account_fallback", "create, lead, private"},
		{"not a user id", func(s *TeamSettings) { s.OwnerFallbackUserID = "0015g00000XyZ9kAAF" }, "owner_fallback_user_id", "005"},
		{"upper-case domain", func(s *TeamSettings) { s.FreeMailDomains = []string{"gmx.net", "Proton.me"} }, "free_mail_domains[1]", `must be written "proton.me"`},
		{"www domain", func(s *TeamSettings) { s.FreeMailDomains = []string{"www.gmx.net"} }, "free_mail_domains[0]", `must be written "gmx.net"`},
		{"a repeat", func(s *TeamSettings) { s.FreeMailDomains = []string{"gmx.net", "proton.me", "gmx.net"} }, "free_mail_domains[2]", "listed twice"},
		{"a bad domain", func(s *TeamSettings) { s.FreeMailDomains = []string{"gmx"} }, "free_mail_domains[0]", "two or more labels"},
		{"too many", func(s *TeamSettings) {
			for i := range MaxFreeMailDomains + 1 {
				s.FreeMailDomains = append(s.FreeMailDomains, fmt.Sprintf("m%d.example", i))
			}
		}, "free_mail_domains", "exceeds the limit"},
		{"Local", func(s *TeamSettings) { s.TimeZone = "Local" }, "time_zone", "server's"},
		{"unknown zone", func(s *TeamSettings) { s.TimeZone = "Europe/Atlantis" }, "time_zone", "not an IANA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := DefaultTeamSettings()
			tt.change(&s)
			checkParse(t, s.Validate(), tt.field, tt.problem)
		})
	}
}

// TestAttributionDefaults: the accessors give the default for a version
// saved before the setting existed, and the value otherwise.
func TestAttributionDefaults(t *testing.T) {
	t.Parallel()
	var old TeamSettings
	if got, want := [3]string{string(old.OwnerRule()), string(old.AccountMatchingRule()), string(old.AccountFallbackRule())},
		[3]string{"rep", "domain", "create"}; got != want {
		t.Errorf("older version: got %v; want %v", got, want)
	}
	set := TeamSettings{Owner: OwnerAssignmentRules, AccountMatching: AccountMatchName, AccountFallback: AccountFallbackPrivate}
	if got, want := [3]string{string(set.OwnerRule()), string(set.AccountMatchingRule()), string(set.AccountFallbackRule())},
		[3]string{"assignment_rules", "name", "private"}; got != want {
		t.Errorf("set: got %v; want %v", got, want)
	}
	d := DefaultTeamSettings()
	if d.OwnerRule() != OwnerRep || d.AccountMatching != AccountMatchDomain || d.AccountFallback != AccountFallbackCreate ||
		d.OwnerFallbackUserID != "" || d.FreeMailDomains != nil || d.TimeZone != "" {
		t.Errorf("DefaultTeamSettings: got %+v; want rep, domain, create and nothing else set", d)
	}
}

// TestLocation: activity is dated in the team's time zone, else the
// connected user's, else UTC; a Task's date follows.
func TestLocation(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		team, connected string
		zone, date      string
	}{
		{"Asia/Tokyo", "America/New_York", "Asia/Tokyo", "2026-11-27"},
		{"", "America/Los_Angeles", "America/Los_Angeles", "2026-11-26"},
		{"", "Pacific/Kiritimati", "Pacific/Kiritimati", "2026-11-27"},
		{"", "", "UTC", "2026-11-26"},
		{"", "Nowhere/Town", "UTC", "2026-11-26"},
		{"", "Local", "UTC", "2026-11-26"},
		{"Europe/Atlantis", "Asia/Tokyo", "Asia/Tokyo", "2026-11-27"}, // not valid; never saved, but never trusted
	}
	for _, tt := range tests {
		loc := TeamSettings{TimeZone: tt.team}.Location(tt.connected)
		if got := loc.String(); got != tt.zone {
			t.Errorf("Location(%q, connected %q): got %v; want %v", tt.team, tt.connected, got, tt.zone)
		}
		if got := at.In(loc).Format(time.DateOnly); got != tt.date {
			t.Errorf("date of %v in %s: got %v; want %v", at, tt.zone, got, tt.date)
		}
	}
}

// TestTimeZoneDatabaseIsEmbedded: the package imports time/tzdata, so
// time zones load where the system has no zoneinfo (Lambda's runtime).
func TestTimeZoneDatabaseIsEmbedded(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if imp.Path.Value == `"time/tzdata"` {
				return
			}
		}
	}
	t.Errorf("imports of package policy: got no time/tzdata; want it, for runtimes without /usr/share/zoneinfo")
}

func TestNormalizeFreeMailDomains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"GMX.net", "@gmx.net", "www.GMX.NET", "@www.proton.me"}, []string{"gmx.net", "proton.me"}},
		{[]string{"wwwmail.example"}, []string{"wwwmail.example"}},
		{[]string{"xn--mnchen-3ya.de"}, []string{"xn--mnchen-3ya.de"}},
	}
	for _, tt := range tests {
		got, err := NormalizeFreeMailDomains(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("NormalizeFreeMailDomains(%q): got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

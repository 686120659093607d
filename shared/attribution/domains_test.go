package attribution_test

import (
	_ "embed"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/attribution"
)

func TestNormalizeDomain(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"acme.com", "acme.com"},
		{"ACME.Com", "acme.com"},
		{"  acme.com\t", "acme.com"},
		{"http://acme.com", "acme.com"},
		{"https://www.acme.com/about", "acme.com"},
		{"acme.com/login?next=https://acme.com/home", "acme.com"},
		{"www.acme.com/r?u=http://x.io", "acme.com"},
		{"acme.com,", ""},
		{"HTTPS://www.Acme.com:443/about?x=1", "acme.com"},
		{"www.acme.com", "acme.com"},
		{"WWW.ACME.COM", "acme.com"},
		{"acme.com/path/to?q=1#top", "acme.com"},
		{"acme.com?q=1", "acme.com"},
		{"acme.com:8080", "acme.com"},
		{"acme.com.", "acme.com"},
		{"www.acme.com.", "acme.com"},
		{"https://www.acme.com.:443/", "acme.com"},
		{"//acme.com/x", "acme.com"},
		{"https://user:secret@www.acme.com/", "acme.com"},
		{"eu.acme.com", "eu.acme.com"},     // a subdomain is its own domain
		{"www2.acme.com", "www2.acme.com"}, // only "www." goes
		{"acme.com.evil.io", "acme.com.evil.io"},
		{"acme.co.uk", "acme.co.uk"},
		{"", ""},
		{"   ", ""},
		{"localhost", ""},
		{"http://localhost:8080/", ""},
		{"not a url", ""},
		{"acme", ""},
		{"https://", ""},
		{"http://:80/", ""},
		{"www.", ""},
		{"acme_corp.com", ""},
		{"100%.com", ""},
	}
	for _, tt := range tests {
		if got := attribution.NormalizeDomain(tt.in); got != tt.want {
			t.Errorf("NormalizeDomain(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestEmailDomain(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"ann@acme.com", "acme.com"},
		{"Ann@ACME.Com", "acme.com"},
		{"ann@mail.acme.com", "mail.acme.com"},
		{"ann@www.acme.com", "acme.com"},
		{`"a@b"@acme.com`, "acme.com"}, // the last @
		{"ann", ""},
		{"", ""},
		{"ann@", ""},
		{"ann@localhost", ""},
		{"acme.com", ""}, // no @: not an email
	}
	for _, tt := range tests {
		if got := attribution.EmailDomain(tt.in); got != tt.want {
			t.Errorf("EmailDomain(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

//go:embed freemail.txt
var shippedList string

func TestFreeMail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		domain string
		extra  []string
		want   bool
	}{
		{"gmail.com", nil, true},
		{"126.com", nil, true}, // the list's first entry
		{"yahoo.com", nil, true},
		{"outlook.com", nil, true},
		{"acme.com", nil, false},
		{"mail.gmail.com", nil, false}, // only the listed domain
		{"acme.com", []string{"acme.com"}, true},
		{"acme.com", []string{"other.io", "ACME.com"}, true},              // extra ones normalized
		{"acme.com", []string{"https://www.acme.com/"}, true},             // ... as NormalizeDomain does
		{"acme.com", []string{"other.io"}, false},                         // another team's extra is not this one's
		{"gmail.com", []string{"other.io"}, true},                         // extra ones add to the list
		{"corp-mail.net", []string{"corp-mail.net.evil.io"}, false},       // no containment
		{"corp-mail.net.evil.io", []string{"corp-mail.net"}, false},       // either way
		{"not-listed.example", []string{"localhost", "not a url"}, false}, // garbage extra ones match nothing
	}
	for _, tt := range tests {
		if got := attribution.FreeMail(tt.domain, tt.extra); got != tt.want {
			t.Errorf("FreeMail(%q, %q): got %v; want %v", tt.domain, tt.extra, got, tt.want)
		}
	}
}

// TestFreeMailShippedList: every domain of freemail.txt is free mail, and
// its comments are not domains.
func TestFreeMailShippedList(t *testing.T) {
	t.Parallel()
	n := 0
	for _, line := range strings.Split(shippedList, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		if !attribution.FreeMail(line, nil) {
			t.Errorf("FreeMail(%q): got false; want true (it is in freemail.txt)", line)
		}
		if attribution.NormalizeDomain(line) != line {
			t.Errorf("freemail.txt: %q is not a normalized domain (NormalizeDomain gives %q): it could never match", line, attribution.NormalizeDomain(line))
		}
	}
	if n < 50 {
		t.Errorf("freemail.txt: got %d domains; want the shipped list (over 50)", n)
	}
	for _, c := range []string{"#", "# Free and consumer mail domains: an address at one of these says nothing of"} {
		if attribution.FreeMail(c, nil) {
			t.Errorf("FreeMail(%q): got true; want false (a comment)", c)
		}
	}
}

package attribution

import (
	_ "embed"
	"net/url"
	"strings"
)

//go:embed freemail.txt
var freemailList string

// freemail is the shipped list of free-mail domains.
var freemail = parseList(freemailList)

func parseList(s string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out[line] = true
		}
	}
	return out
}

// FreeMail reports whether domain is a free-mail domain: in the shipped
// list or the team's extra ones (normalized as NormalizeDomain does).
func FreeMail(domain string, extra []string) bool {
	if freemail[domain] {
		return true
	}
	for _, e := range extra {
		if NormalizeDomain(e) == domain {
			return true
		}
	}
	return false
}

// NormalizeDomain reduces a website or a domain to the domain it names:
// scheme, user info, port, path, query, a trailing dot, "www." and letter
// case dropped. "HTTPS://www.Acme.com:443/about?x=1" is "acme.com". It
// returns "" when nothing like a host is left.
func NormalizeDomain(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return ""
	}
	if i := strings.Index(s, "://"); i < 0 || strings.ContainsAny(s[:i], "/?#") {
		s = "http://" + strings.TrimPrefix(s, "//")
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	host = strings.TrimPrefix(host, "www.")
	if !strings.Contains(host, ".") || strings.ContainsAny(host, " ,;%_'\"\\") {
		return ""
	}
	return host
}

// EmailDomain is the normalized domain of an email address, "" when it has
// none.
func EmailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	return NormalizeDomain(email[at+1:])
}

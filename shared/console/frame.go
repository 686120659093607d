package console

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrFrameAncestors marks a CONSOLE_FRAME_ANCESTORS value the console
// refuses.
var ErrFrameAncestors = errors.New("not a frame-ancestors source list")

// FrameAncestors checks a frame-ancestors source list and returns it with
// single spaces: 'none' (also for an empty value), 'self', or https origins
// (https://app.example.com, https://*.example.com, with an optional port),
// separated by spaces; http only for localhost and loopback addresses.
// Anything else (a path, a scheme-only source, a semicolon or comma that
// would start another directive, a keyword such as 'unsafe-inline') is an
// error naming the source: the value goes into a response header.
func FrameAncestors(v string) (string, error) {
	sources := strings.Fields(v)
	if len(sources) == 0 {
		return "'none'", nil
	}
	for _, s := range sources {
		if err := checkSource(s); err != nil {
			return "", err
		}
	}
	if len(sources) > 1 && strings.Contains(" "+strings.Join(sources, " ")+" ", " 'none' ") {
		return "", fmt.Errorf("%w: 'none' cannot be combined with other sources", ErrFrameAncestors)
	}
	return strings.Join(sources, " "), nil
}

func checkSource(s string) error {
	if s == "'none'" || s == "'self'" {
		return nil
	}
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrFrameAncestors, s, why) }
	if strings.ContainsAny(s, ";,'\"\\") {
		return bad("holds a quote, ; or , (only 'none' and 'self' are quoted)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return bad("is not an origin such as https://app.example.com")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return bad("is not an origin: no user, path, query or fragment")
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return bad("uses http on a host that is not this machine; use https")
		}
	default:
		return bad("must be an https origin")
	}
	labels := strings.TrimPrefix(host, "*.")
	if labels == "" || strings.Contains(labels, "*") {
		return bad("may have a wildcard only as its first label (https://*.example.com)")
	}
	for _, l := range strings.Split(labels, ".") {
		if !dnsLabel(l) && net.ParseIP(labels) == nil {
			return bad("is not a host name")
		}
	}
	return nil
}

func dnsLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

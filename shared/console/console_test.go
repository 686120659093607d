package console_test

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// The whole Content-Security-Policy, written out: a directive dropped or
// loosened (form-action, trusted-types, img-src...) fails the tests that
// compare against these, where a check of some parts would not.
const (
	wantPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
		"require-trusted-types-for 'script'; trusted-types 'none'"
	wantFramedPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors https://app.example.com 'self'; " +
		"require-trusted-types-for 'script'; trusted-types 'none'"
)

// serve sends one GET through a router that registers the console as the
// API function does.
func serve(t *testing.T, frameAncestors, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	rt := httpapi.NewRouter()
	console.Register(rt, frameAncestors)
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req) // no claims: the console is public
	return rec
}

// staticFiles lists the console's files as the repository holds them.
func staticFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, filepath.ToSlash(strings.TrimPrefix(p, "static"+string(filepath.Separator))))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestEveryFileIsServedUnderTheStrictPolicy: each file, the page at
// /console/ included, answers 200 with its content type, nosniff, no
// referrer, a revalidating cache, and a CSP that allows this origin's
// scripts and styles only: no inline code, no eval, Trusted Types, framing
// by no one unless configured.
func TestEveryFileIsServedUnderTheStrictPolicy(t *testing.T) {
	t.Parallel()
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	paths := map[string]string{"/console/": ".html"}
	for _, name := range staticFiles(t) {
		paths["/console/"+name] = filepath.Ext(name)
	}
	for path, ext := range paths {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			rec := serve(t, "", path, nil)
			h := rec.Header()
			if rec.Code != http.StatusOK || h.Get("Content-Type") != types[ext] {
				t.Fatalf("got %d %q; want 200 %q", rec.Code, h.Get("Content-Type"), types[ext])
			}
			if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != wantPolicy {
				t.Errorf("Content-Security-Policy: got %q; want exactly [%q]", got, wantPolicy)
			}
			want := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s: got %q; want %q", k, h.Get(k), v)
				}
			}
			wantCache := "no-cache"
			if ext == ".html" {
				wantCache = "no-store" // its address may carry the OAuth return's ticket
			}
			if h.Get("Cache-Control") != wantCache || !strings.HasPrefix(h.Get("ETag"), `"`) {
				t.Errorf("cache: got %q, ETag %q; want %q with an ETag", h.Get("Cache-Control"), h.Get("ETag"), wantCache)
			}
		})
	}
}

func TestRevalidationAnswersNotModified(t *testing.T) {
	t.Parallel()
	first := serve(t, "", "/console/console.css", nil)
	etag := first.Header().Get("ETag")
	tests := []struct {
		match string
		want  int
	}{
		{etag, http.StatusNotModified},
		{"W/" + etag + `, "other"`, http.StatusNotModified},
		{`"other"`, http.StatusOK},
	}
	for _, tt := range tests {
		rec := serve(t, "", "/console/console.css", map[string]string{"If-None-Match": tt.match})
		if rec.Code != tt.want || (tt.want == http.StatusNotModified && rec.Body.Len() != 0) {
			t.Errorf("If-None-Match %s: got %d with %d bytes; want %d", tt.match, rec.Code, rec.Body.Len(), tt.want)
		}
		if got := rec.Header().Get("Content-Security-Policy"); got != wantPolicy {
			t.Errorf("If-None-Match %s: got CSP %q; want %q on every answer", tt.match, got, wantPolicy)
		}
	}
}

func TestUnknownFilesAndRedirect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path         string
		wantStatus   int
		wantLocation string
	}{
		{"/console", http.StatusFound, "console/"},
		{"/console?salesforce=consented&state=s&ticket=t", http.StatusFound, "console/?salesforce=consented&state=s&ticket=t"},
		{"/console/index.html", http.StatusOK, ""},
		{"/console/nope.js", http.StatusNotFound, ""},
		{"/console/js", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		rec := serve(t, "", tt.path, nil)
		if rec.Code != tt.wantStatus || rec.Header().Get("Location") != tt.wantLocation {
			t.Errorf("GET %s: got %d Location %q; want %d %q", tt.path, rec.Code, rec.Header().Get("Location"), tt.wantStatus, tt.wantLocation)
		}
		if got := rec.Header().Get("Content-Security-Policy"); tt.wantStatus != http.StatusFound && got != wantPolicy {
			t.Errorf("GET %s: got CSP %q; want %q", tt.path, got, wantPolicy)
		}
	}
}

// TestRootRouteServesThePageForATrailingSlash: whichever of the two routes
// a gateway gives /console/, the page is served, never a redirect to
// /console/console/.
func TestRootRouteServesThePageForATrailingSlash(t *testing.T) {
	t.Parallel()
	h := console.Redirect(console.Handler(""))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("GET /console/ on the root route: got %d %q Location %q; want the page", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Location"))
	}
}

func TestFrameAncestorsFromConfiguration(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/console/", "/console/js/main.js", "/console/nope.js"} {
		rec := serve(t, "https://app.example.com 'self'", path, nil)
		if got := rec.Header().Values("Content-Security-Policy"); len(got) != 1 || got[0] != wantFramedPolicy {
			t.Errorf("GET %s: got CSP %q; want exactly [%q]", path, got, wantFramedPolicy)
		}
		if got := rec.Header().Get("X-Frame-Options"); got != "" {
			t.Errorf("GET %s: got X-Frame-Options %q; want none when an app may frame the console", path, got)
		}
	}
}

// TestPolicy: the policy Policy writes is the one the handler sends.
func TestPolicy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ frameAncestors, want string }{
		{"", wantPolicy},
		{"'none'", wantPolicy},
		{"https://app.example.com 'self'", wantFramedPolicy},
	} {
		if got := console.Policy(tt.frameAncestors); got != tt.want {
			t.Errorf("Policy(%q): got %q; want %q", tt.frameAncestors, got, tt.want)
		}
	}
}

func TestFrameAncestors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "'none'", true},
		{"  ", "'none'", true},
		{"'none'", "'none'", true},
		{"'self'", "'self'", true},
		{"https://app.example.com", "https://app.example.com", true},
		{"https://app.example.com:8443  https://*.example.org 'self'", "https://app.example.com:8443 https://*.example.org 'self'", true},
		{"http://localhost:3000 http://127.0.0.1:8080", "http://localhost:3000 http://127.0.0.1:8080", true},
		{"https://app.example.com/", "https://app.example.com/", true},
		{"http://app.example.com", "", false},                        // http off this machine
		{"https://app.example.com; script-src *", "", false},         // another directive
		{"https://app.example.com,https://b.example.com", "", false}, // a second policy
		{"'unsafe-inline'", "", false},                               // a keyword that is no source
		{"*", "", false},                                             // anyone
		{"https:", "", false},                                        // any https page
		{"https://app.example.com/admin", "", false},                 // a path
		{"https://user@app.example.com", "", false},                  // user info
		{"https://*.*.example.com", "", false},                       // a wildcard inside
		{"'none' https://app.example.com", "", false},                // none with others
		{"https://app.example.com\r\nSet-Cookie: x=1", "", false},    // header injection
		{"javascript:alert(1)", "", false},                           // no origin
		{"https://exa mple.com", "https://exa", false},               // split: "mple.com" is no origin
		{"https://-bad-.example.com", "", false},                     // not a host name
		{"https://app.example.com?x=1", "", false},                   // a query
		{"https://app.example.com#x", "", false},                     // a fragment
		{"HTTPS://App.Example.com", "HTTPS://App.Example.com", true}, // schemes and hosts ignore case
		{"https://[::1]:8443", "https://[::1]:8443", true},           // an IP literal
		{"https://203.0.113.7", "https://203.0.113.7", true},         // an address
		{"ftp://app.example.com", "", false},                         // another scheme
		{"https://app.example.com 'self' 'self'", "https://app.example.com 'self' 'self'", true},
	}
	for _, tt := range tests {
		got, err := console.FrameAncestors(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("FrameAncestors(%q): got %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !tt.ok && (err == nil || !errors.Is(err, console.ErrFrameAncestors)) {
			t.Errorf("FrameAncestors(%q): got %q, %v; want ErrFrameAncestors", tt.in, got, err)
		}
	}
}

// TestPageHoldsNoInlineCode: the page has no inline script, no style
// element or attribute, no on*= handler and no javascript: URL, and every
// file it names exists, so the CSP blocks nothing of the console's own.
func TestPageHoldsNoInlineCode(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	banned := []struct{ name, pattern string }{
		{"inline script", `(?is)<script(?:\s[^>]*)?>\s*[^<\s]`},
		{"style element", `(?i)<style[\s>]`},
		{"style attribute", `(?i)\sstyle\s*=`},
		{"handler attribute", `(?i)\son[a-z]+\s*=`},
		{"javascript: URL", `(?i)javascript:`},
	}
	for _, b := range banned {
		if m := regexp.MustCompile(b.pattern).FindString(html); m != "" {
			t.Errorf("%s: got %q; want none", b.name, m)
		}
	}
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("script %s: got no src; want every script loaded from a file", tag)
		}
	}
	files := map[string]bool{}
	for _, f := range staticFiles(t) {
		files[f] = true
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(html, -1) {
		if !files[m[1]] {
			t.Errorf("the page names %s; want it among the console's files", m[1])
		}
	}
}

// TestScriptsUseNoParsingSinks: no script writes HTML from a string
// (innerHTML and its kin), evaluates code, or keeps the token beyond the
// tab; modules import only files that exist. Trusted Types would refuse the
// sinks at run time; this catches them before.
func TestScriptsUseNoParsingSinks(t *testing.T) {
	t.Parallel()
	banned := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
		"setTimeout(\"", "localStorage", "document.cookie", "createContextualFragment", "srcdoc"}
	files := map[string]bool{}
	for _, f := range staticFiles(t) {
		files[f] = true
	}
	imports := regexp.MustCompile(`from "\./([^"]+)"`)
	// If-Match: * overwrites whatever version is current: a page saves
	// with the version it read, or not at all.
	anyVersion := regexp.MustCompile(`(?i)ifMatch[^\n]*"\*"|"If-Match"[^\n]*"\*"`)
	n := 0
	for name := range files {
		if filepath.Ext(name) != ".js" {
			continue
		}
		n++
		src, err := os.ReadFile(filepath.Join("static", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range banned {
			if strings.Contains(string(src), b) {
				t.Errorf("%s: got %q; want none", name, b)
			}
		}
		if m := anyVersion.FindString(string(src)); m != "" {
			t.Errorf("%s: got %q; want no If-Match: *", name, m)
		}
		for _, m := range imports.FindAllStringSubmatch(string(src), -1) {
			if !files["js/"+m[1]] {
				t.Errorf("%s imports %s; want it among the console's files", name, m[1])
			}
		}
	}
	if n == 0 {
		t.Fatal("got no scripts; want the console's")
	}
	api, err := os.ReadFile("static/js/api.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sessionStorage.setItem(tokenKey", "history.replaceState", `"Authorization": "Bearer "`, "query.delete(\"token\")"} {
		if !strings.Contains(string(api), want) {
			t.Errorf("api.js: got no %q; want the token kept in the tab and sent as a header only", want)
		}
	}
}

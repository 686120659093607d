package connectpage_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/tools/runner/connectpage"
)

// TestPagesAreStrictCSPFriendly: every page runs under a CSP that allows
// only the same origin's script file, and holds no inline script or handler
// that the policy would block.
func TestPagesAreStrictCSPFriendly(t *testing.T) {
	t.Parallel()
	h := connectpage.Handler(`http://127.0.0.1:8081/"><script>alert(1)</script>`)
	inline := regexp.MustCompile(`(?i)<script[^>]*>[^<]|\son[a-z]+=|javascript:`)
	for _, path := range []string{connectpage.StartPath, connectpage.ReturnPath} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") ||
			strings.Contains(rec.Header().Get("Content-Security-Policy"), "unsafe-inline") {
			t.Errorf("%s: got %d CSP %q; want 200 with script-src 'self' only", path, rec.Code, rec.Header().Get("Content-Security-Policy"))
		}
		if inline.MatchString(body) {
			t.Errorf("%s: got inline script or handler in %s", path, body)
		}
		if rec.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q; want no-referrer (the return page's URL carries the ticket)", path, rec.Header().Get("Referrer-Policy"))
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/local/connect.js", nil))
	js := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("script: got %d %q; want 200 text/javascript", rec.Code, rec.Header().Get("Content-Type"))
	}
	// The token lives in the tab's sessionStorage and is sent only as a
	// header to the same origin; the completion needs it.
	for _, want := range []string{"sessionStorage.getItem(tokenKey)", `"/v1/salesforce/connect/complete"`, "holds no admin token"} {
		if !strings.Contains(js, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if strings.Contains(js, "localStorage") || strings.Contains(js, "searchParams.set(\"token") {
		t.Errorf("script keeps the token beyond the tab or puts it in a URL")
	}
}

package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/platform/environ"
)

// TestConsoleFrameAncestorsSetting: CONSOLE_FRAME_ANCESTORS is optional
// ('none' when unset); a value the console refuses stops the start with
// the variable's name and value, never served as a default.
func TestConsoleFrameAncestorsSetting(t *testing.T) {
	tests := []struct {
		value, want string
		wantErr     bool
	}{
		{"", "'none'", false},
		{"https://app.example.com  'self'", "https://app.example.com 'self'", false},
		{"https://app.example.com; script-src *", "", true},
		{"*", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv(console.EnvFrameAncestors, tt.value)
			var env environ.Reader
			s, err := readSettings(&env)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), console.EnvFrameAncestors+`="`+tt.value+`"`) {
					t.Errorf("got %v; want an error naming %s and its value", err, console.EnvFrameAncestors)
				}
				return
			}
			if err != nil || s.frameAncestors != tt.want {
				t.Errorf("got %q, %v; want %q", s.frameAncestors, err, tt.want)
			}
		})
	}
}

// TestConsoleIsServedPublicly: the API function serves the console without
// a token, under its policy with the configured frame ancestors.
func TestConsoleIsServedPublicly(t *testing.T) {
	t.Parallel()
	s, _ := newSettings(t, nil)
	s.frameAncestors = "https://app.example.com"
	rt, _ := newRouter(newKit(s), s)
	for _, path := range []string{"/console/", "/console/js/main.js"} {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil)) // no claims
		if csp := rec.Header().Get("Content-Security-Policy"); rec.Code != http.StatusOK || !strings.Contains(csp, "frame-ancestors https://app.example.com;") {
			t.Errorf("GET %s: got %d CSP %q; want 200 framed only by the configured app", path, rec.Code, csp)
		}
	}
}

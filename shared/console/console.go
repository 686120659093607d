// Package console serves the admin console: the static page, style sheet
// and scripts through which a team's admins connect their Salesforce org,
// change the sync settings, sequence overrides and field mappings, and
// watch the sync's health and error inbox. The files are embedded in the
// API function's binary; the page calls only the public JSON API, with the
// bearer token the host app hands it in the URL fragment.
//
// Every file is served under a strict Content Security Policy: scripts,
// styles, images and requests from this origin only, no inline script or
// style, no eval, Trusted Types required for every DOM sink that parses
// (so no innerHTML), and framing only by the configured ancestors.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// Route keys the console is served under (declared in shared/resources).
const (
	RouteRoot  = "GET /console"
	RouteFiles = "GET /console/{proxy+}"
)

// Path is where the console's page is: the host app opens
// Path + "#token=<jwt>" on the API's origin.
const Path = "/console/"

// EnvFrameAncestors is the API function's optional setting of the pages
// that may frame the console: a CSP frame-ancestors source list
// (FrameAncestors says what it accepts); unset or empty, none may.
const EnvFrameAncestors = "CONSOLE_FRAME_ANCESTORS"

//go:embed static
var static embed.FS

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
	cache       string
}

// Handler serves the console's files for GET /console/{proxy+}: the page
// at /console/ (and /console/index.html), the rest by name. frameAncestors
// is a source list FrameAncestors accepted; empty means 'none'.
func Handler(frameAncestors string) http.Handler {
	files := load()
	csp := Policy(frameAncestors)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header(), csp, frameAncestors)
		name := strings.TrimPrefix(r.URL.Path, Path)
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok || name != path.Clean(name) {
			httpapi.WriteError(w, http.StatusNotFound, "not_found", "the console has no file "+r.URL.Path, "")
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", f.cache)
		h.Set("ETag", f.etag)
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, f.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(f.body)
	})
}

// Redirect answers GET /console with the page's address, /console/, kept
// relative so the console works under a base path, and with the query
// (an OAuth return URL configured without the slash still completes). A
// request for /console/ that reaches this route (a gateway that matches a
// trailing slash to the route without it) is given to page instead.
func Redirect(page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			page.ServeHTTP(w, r)
			return
		}
		to := "console/"
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", to)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(http.StatusFound)
	})
}

// Register serves the console on rt: its routes are public (the page
// carries no secret; its token stays in the browser) and so not counted
// against any team's request limit.
func Register(rt *httpapi.Router, frameAncestors string) {
	files := Handler(frameAncestors)
	rt.Handle(RouteRoot, Redirect(files))
	rt.Handle(RouteFiles, files)
}

// Policy is the Content-Security-Policy of every console response.
func Policy(frameAncestors string) string {
	if frameAncestors == "" {
		frameAncestors = "'none'"
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors " + frameAncestors + "; " +
		"require-trusted-types-for 'script'; trusted-types 'none'"
}

// secure sets the headers every console response carries, errors included.
func secure(h http.Header, csp, frameAncestors string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if frameAncestors == "" || frameAncestors == "'none'" {
		h.Set("X-Frame-Options", "DENY") // for browsers older than frame-ancestors
	}
}

// load reads the embedded files once.
func load() map[string]file {
	files := map[string]file{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "static/")
		f := file{body: body, contentType: contentType(name), etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: "no-cache"}
		if name == "index.html" {
			// The page's address may carry the OAuth return's one-time
			// ticket: nothing keeps a copy.
			f.cache = "no-store"
		}
		files[name] = f
		return nil
	})
	if err != nil {
		panic("console: the embedded files cannot be read: " + err.Error())
	}
	return files
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// etagMatches reports whether an If-None-Match value names etag.
func etagMatches(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

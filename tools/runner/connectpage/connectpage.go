// Package connectpage serves the local stack's stand-in for the app that
// embeds the connect flow: a start page, where an admin pastes a token of
// their team (kept in that browser tab's sessionStorage) and starts a
// connect, and the return page Salesforce's consent lands on, which shows
// the parameters and completes the connect only with the token that same tab
// holds. Plain HTML and one script file, under a strict Content Security
// Policy; no token is ever carried in a URL or minted by the pages.
package connectpage

import (
	_ "embed"
	"html"
	"io"
	"net/http"
	"strings"
)

// Paths of the pages.
const (
	StartPath  = "/local/connect"
	ReturnPath = "/local/connect/return"
	scriptPath = "/local/connect.js"
)

//go:embed connect.js
var script []byte

// Handler serves the pages; loginURL is the start page's default custom
// login URL (the local Salesforce).
func Handler(loginURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StartPath, func(w http.ResponseWriter, _ *http.Request) {
		page(w, startPage(loginURL))
	})
	mux.HandleFunc("GET "+ReturnPath, func(w http.ResponseWriter, _ *http.Request) {
		page(w, returnPage)
	})
	mux.HandleFunc("GET "+scriptPath, func(w http.ResponseWriter, _ *http.Request) {
		headers(w, "text/javascript; charset=utf-8")
		_, _ = w.Write(script)
	})
	return mux
}

func headers(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
}

func page(w http.ResponseWriter, body string) {
	headers(w, "text/html; charset=utf-8")
	_, _ = io.WriteString(w, body)
}

const head = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sfsync local: connect Salesforce</title>
<script src="` + scriptPath + `" defer></script></head><body>
`

func startPage(loginURL string) string {
	return head + strings.ReplaceAll(`<h1>Connect Salesforce (local)</h1>
<p>Stands in for the app's integrations page. Paste an admin token of your team
(<code>make token TEAM=team_acme</code>): it stays in this browser tab only. Finish the
consent in this same tab: only it can complete the connect.</p>
<form id="start">
<p><label>Admin token<br><textarea id="token" rows="4" cols="80" autocomplete="off"></textarea></label></p>
<p><label>Environment <select id="environment">
<option value="custom">custom (login URL below)</option>
<option value="production">production</option>
<option value="sandbox">sandbox</option></select></label></p>
<p><label>Login URL <input id="login_url" size="50" value="LOGIN_URL"></label></p>
<p><button type="submit">Connect</button></p>
</form>
<p id="result" role="status"></p>
</body></html>
`, "LOGIN_URL", html.EscapeString(loginURL))
}

const returnPage = head + `<h1>Salesforce connect (local)</h1>
<dl>
<dt>salesforce</dt><dd id="salesforce"></dd>
<dt>state</dt><dd id="state"></dd>
<dt>ticket</dt><dd id="ticket"></dd>
<dt>reason</dt><dd id="reason"></dd>
</dl>
<p id="result" role="status">Completing...</p>
</body></html>
`

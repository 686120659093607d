package connecthttp_test

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/openapi"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

var (
	docOnce sync.Once
	doc     map[string]any
	docErr  error
)

// documentedResponse returns the OpenAPI response object of an operation
// and status (the default one for an undocumented error status), with a
// $ref followed.
func documentedResponse(method, route string, status int) (map[string]any, bool) {
	docOnce.Do(func() { docErr = json.Unmarshal(openapi.Document(), &doc) })
	if docErr != nil {
		return nil, false
	}
	walk := func(v any, path ...string) (any, bool) {
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[p]; !ok {
				return nil, false
			}
		}
		return v, true
	}
	responses, ok := walk(doc, "paths", route, strings.ToLower(method), "responses")
	if !ok {
		return nil, false
	}
	r, ok := walk(responses, strconv.Itoa(status))
	if !ok && status >= 400 {
		r, ok = walk(responses, "default")
	}
	m, _ := r.(map[string]any)
	if ref, isRef := m["$ref"].(string); isRef {
		r, ok = walk(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
		m, _ = r.(map[string]any)
	}
	return m, ok && m != nil
}

// documented checks one answer of a connection route against the OpenAPI
// document: a JSON body against its schema (openapitest, as the other APIs'
// tests do), a redirect for the headers the document requires (its body is
// the courtesy link net/http writes, which the document does not describe),
// and any other body for a media type the document lists for that status.
func documented(t testing.TB, method, route string, resp *http.Response, body []byte) {
	t.Helper()
	status := resp.StatusCode
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case status >= 300 && status < 400:
		openapitest.Validate(t, method, route, status, nil)
		r, _ := documentedResponse(method, route, status)
		headers, _ := r["headers"].(map[string]any)
		for name, h := range headers {
			if hm, _ := h.(map[string]any); hm["required"] == true && resp.Header.Get(name) == "" {
				t.Errorf("%s %s %d: the document requires header %s; got none", method, route, status, name)
			}
		}
	case len(body) == 0 || mediaType == "application/json":
		openapitest.Validate(t, method, route, status, body)
	default:
		r, ok := documentedResponse(method, route, status)
		content, _ := r["content"].(map[string]any)
		if _, listed := content[mediaType]; !ok || !listed {
			t.Errorf("%s %s %d: got a %s body; the document lists %v", method, route, status, mediaType, keys(content))
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestConnectRoutesMatchTheOpenAPIDocument drives every documented answer of
// the connection routes; env.do checks each against the document.
func TestConnectRoutesMatchTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{autoApprove: true})
	ctx := context.Background()
	e.do("GET", "/v1/salesforce", "") // disconnected
	e.do("DELETE", "/v1/salesforce", "")
	e.do("POST", "/v1/salesforce/connect", `{"environment":"staging"}`)
	e.do("POST", "/v1/salesforce/connect", `{"environment":"custom","login_url":"https://evil.example.com"}`)
	e.do("POST", "/v1/salesforce/connect", `not json`)
	e.do("POST", "/v1/salesforce/connect", `{"environment":"production"}`)
	e.do("POST", "/v1/salesforce/connect", `{"environment":"sandbox"}`)
	e.do("GET", "/oauth/salesforce/callback?state=forged&code=x", "")
	denied := e.authorize(e.beginConnect())
	q := denied.Query()
	q.Del("code")
	q.Set("error", "access_denied")
	denied.RawQuery = q.Encode()
	e.callback(denied)
	e.complete(httpapi.Claims{}, "", "")                                                 // 400
	e.complete(httpapi.Claims{TeamID: "team_a", Role: "member", Subject: "m"}, "s", "t") // 403
	e.complete(httpapi.Claims{}, "unknown", "ticket")                                    // 404
	e.connect()
	// Usage recorded by the sync functions shows in the status.
	tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "t"}
	c, err := tokens.Connection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordUsage(ctx, "team_a", connection.Usage{Used: 12, Limit: 15000, At: c.ConnectedAt, ServiceCalls: 3}, 3, true); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/v1/salesforce", "") // connected, with usage
	if err := e.store.SetStatus(ctx, "team_a", c.ID, c.Version, connection.StatusNeedsReauth, connection.Problem{}); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/v1/salesforce", "") // needs_reauth
	e.do("DELETE", "/v1/salesforce", "")

	want := []string{
		"GET /v1/salesforce 200",
		"DELETE /v1/salesforce 204",
		"POST /v1/salesforce/connect 200",
		"POST /v1/salesforce/connect 400",
		"GET /oauth/salesforce/callback 302",
		"GET /oauth/salesforce/callback 400",
		"POST /v1/salesforce/connect/complete 200",
		"POST /v1/salesforce/connect/complete 400",
		"POST /v1/salesforce/connect/complete 403",
		"POST /v1/salesforce/connect/complete 404",
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range want {
		if !e.validated[w] {
			t.Errorf("%s: never checked against the document", w)
		}
	}
}

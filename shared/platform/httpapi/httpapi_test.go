package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sfsync/sfsync/shared/ratelimit"
)

func testRouter() *Router {
	rt := NewRouter()
	echo := func(w http.ResponseWriter, r *http.Request) {
		c := ClaimsFrom(r.Context())
		team := ""
		if c != nil {
			team = c.TeamID
		}
		WriteJSON(w, http.StatusOK, map[string]string{"team": team, "seq": r.PathValue("sequence_id"), "q": r.URL.Query().Get("x")})
	}
	rt.HandleFunc("GET /openapi.json", echo)
	rt.HandleFunc("GET /v1/sequences/{sequence_id}/salesforce", echo)
	rt.HandleFunc("PUT /v1/sequences/{sequence_id}/salesforce", echo)
	return rt
}

func TestRouterAuthAndErrors(t *testing.T) {
	t.Parallel()
	admin := &Claims{TeamID: "team_a", Role: "admin", Subject: "u1"}
	member := &Claims{TeamID: "team_a", Role: "member", Subject: "u2"}
	tests := []struct {
		name       string
		method     string
		path       string
		claims     *Claims
		wantStatus int
		wantBody   string
	}{
		{"public route needs no token", "GET", "/openapi.json", nil, 200, `"team":""`},
		{"team route without claims", "GET", "/v1/sequences/seq_1/salesforce", nil, 401, `"code":"unauthorized"`},
		{"team route without team claim", "GET", "/v1/sequences/seq_1/salesforce", &Claims{Role: "admin"}, 401, `"code":"unauthorized"`},
		{"team route with claims", "GET", "/v1/sequences/seq_1/salesforce?x=1", member, 200, `"seq":"seq_1","team":"team_a"`},
		{"admin route as member", "PUT", "/v1/sequences/seq_1/salesforce", member, 403, `"code":"forbidden"`},
		{"admin route as admin", "PUT", "/v1/sequences/seq_1/salesforce", admin, 200, `"team":"team_a"`},
		{"unknown route", "GET", "/v1/nope", admin, 404, `"code":"not_found"`},
		{"wrong method", "DELETE", "/v1/sequences/seq_1/salesforce", admin, 405, `"code":"method_not_allowed"`},
	}
	rt := testRouter()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req = req.WithContext(WithClaims(req.Context(), tt.claims))
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("got %d %s; want %d containing %s", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestRouterRejectsUndeclaredRoutes(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"GET /v1/undeclared", "POST /openapi.json"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q): got no panic; want one", key)
				}
			}()
			NewRouter().HandleFunc(key, func(http.ResponseWriter, *http.Request) {})
		}()
	}
}

// TestGreedyRoute: a route declared with API Gateway's greedy {name+}
// matches the rest of the path, slashes and the empty rest included, and
// the handler reads it as the path value; the route's prefix alone does
// not match it.
func TestGreedyRoute(t *testing.T) {
	t.Parallel()
	rt := NewRouter()
	rt.HandleFunc("GET /console/{proxy+}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"proxy": r.PathValue("proxy")})
	})
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/console/", 200, `{"proxy":""}`},
		{"/console/index.html", 200, `{"proxy":"index.html"}`},
		{"/console/js/main.js", 200, `{"proxy":"js/main.js"}`},
		{"/consoles/x", 404, `"code":"not_found"`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("GET %s: got %d %s; want %d %s", tt.path, rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
		}
	}
	if got, want := rt.Keys(), []string{"GET /console/{proxy+}"}; !slices.Equal(got, want) {
		t.Errorf("keys: got %v; want %v (as declared)", got, want)
	}
}

func TestLambdaHandlerCarriesClaimsAndBodies(t *testing.T) {
	t.Parallel()
	h := LambdaHandler(testRouter())
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/v1/sequences/seq_9/salesforce", RawQueryString: "x=42",
		Headers: map[string]string{"content-type": "application/json"},
		Body:    base64.StdEncoding.EncodeToString([]byte(`{}`)), IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "PUT", Path: "/v1/sequences/seq_9/salesforce"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"team_id": "team_z", "role": "admin", "sub": "u9"}}},
		},
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.Unmarshal([]byte(resp.Body), &body)
	if resp.StatusCode != 200 || body["team"] != "team_z" || body["seq"] != "seq_9" || body["q"] != "42" {
		t.Errorf("got %d %s; want 200 with team_z, seq_9, q=42", resp.StatusCode, resp.Body)
	}
	if got := resp.Headers["Content-Type"]; got != "application/json" {
		t.Errorf("content type: got %q; want application/json", got)
	}
	ev.IsBase64Encoded, ev.Body = true, "%%%"
	resp, _ = h(context.Background(), ev)
	if resp.StatusCode != 400 {
		t.Errorf("bad base64 body: got %d; want 400", resp.StatusCode)
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type doc struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	tests := []struct {
		body      string
		wantField string
	}{
		{`{"name":"a","count":1}`, ""},
		{`{"name":"a","extra":1}`, "extra"},
		{`{"name":5}`, "name"},
		{`{"count":"x"}`, "count"},
		{`{"name":"a"`, "body"},
		{``, "body"},
		{`{} {}`, "body"},
		{`[1]`, "body"},
		{`{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "body"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("PUT", "/", strings.NewReader(tt.body))
		var d doc
		err := DecodeJSON(req, &d)
		got := ""
		if fe, ok := err.(*FieldError); ok {
			got = fe.Field
		} else if err != nil {
			t.Errorf("DecodeJSON(%.40q): got %T; want *FieldError", tt.body, err)
		}
		if got != tt.wantField {
			t.Errorf("DecodeJSON(%.40q): got field %q (%v); want %q", tt.body, got, err, tt.wantField)
		}
	}
}

// TestTeamClaimMustBeATeamID: a verified token whose team_id breaks the
// event contract's id rule never reaches a handler.
func TestTeamClaimMustBeATeamID(t *testing.T) {
	t.Parallel()
	rt := testRouter()
	tests := []struct {
		name       string
		team       string
		wantStatus int
	}{
		{"a plain id", "team_a", 200},
		{"the longest id", strings.Repeat("t", 128), 200},
		{"a key separator", "team_a#LIMIT", 401},
		{"a space", "team a", 401},
		{"a leading dot", ".team", 401},
		{"a slash", "team/../b", 401},
		{"too long", strings.Repeat("t", 129), 401},
		{"non-ASCII", "tëam", 401},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "PUT"} {
			req := httptest.NewRequest(method, "/v1/sequences/seq_1/salesforce", nil)
			req = req.WithContext(WithClaims(req.Context(), &Claims{TeamID: tt.team, Role: RoleAdmin, Subject: "u1"}))
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("%s, %s: got %d %s; want %d", tt.name, method, rec.Code, rec.Body.String(), tt.wantStatus)
			}
			if rec.Code == 401 && (!strings.Contains(rec.Body.String(), `"code":"unauthorized"`) || strings.Contains(rec.Body.String(), tt.team)) {
				t.Errorf("%s: got %s; want unauthorized without echoing the claim", tt.name, rec.Body.String())
			}
		}
	}
}

// fakeLimiter refuses team_full, fails for team_broken and records the
// calls it gets.
type fakeLimiter struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeLimiter) Allow(_ context.Context, team, route string) (ratelimit.Decision, error) {
	f.mu.Lock()
	f.calls = append(f.calls, team+" "+route)
	f.mu.Unlock()
	switch team {
	case "team_full":
		return ratelimit.Decision{RetryAfter: 17 * time.Second, Limit: ratelimit.Limit{Requests: 5, Per: time.Minute}}, nil
	case "team_broken":
		return ratelimit.Decision{}, errors.New("store unreachable")
	}
	return ratelimit.Decision{Allowed: true}, nil
}

func TestLimitTeams(t *testing.T) {
	t.Parallel()
	rt := testRouter()
	lim := &fakeLimiter{}
	logs := &bytes.Buffer{}
	rt.LimitTeams(lim, slog.New(slog.NewJSONHandler(logs, nil)))
	serve := func(method, path string, c *Claims) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req = req.WithContext(WithClaims(req.Context(), c))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		return rec
	}
	full := serve("GET", "/v1/sequences/seq_1/salesforce", &Claims{TeamID: "team_full", Role: "member"})
	var body struct {
		Error ErrorDetail `json:"error"`
	}
	_ = json.Unmarshal(full.Body.Bytes(), &body)
	if full.Code != 429 || full.Header().Get("Retry-After") != "17" || body.Error.Code != "rate_limited" || body.Error.RetryAfter != 17 ||
		!strings.Contains(body.Error.Message, "5 requests per minute") {
		t.Errorf("a team over its limit: got %d Retry-After %q %s; want 429, Retry-After 17, rate_limited naming the limit",
			full.Code, full.Header().Get("Retry-After"), full.Body.String())
	}
	if rec := serve("GET", "/v1/sequences/seq_1/salesforce", &Claims{TeamID: "team_ok", Role: "member"}); rec.Code != 200 {
		t.Errorf("another team: got %d; want 200", rec.Code)
	}
	if rec := serve("GET", "/v1/sequences/seq_1/salesforce", &Claims{TeamID: "team_broken", Role: "member"}); rec.Code != 200 ||
		!strings.Contains(logs.String(), "store unreachable") {
		t.Errorf("a limiter that fails: got %d, logs %s; want the request served and the error logged", rec.Code, logs.String())
	}
	serve("GET", "/openapi.json", &Claims{TeamID: "team_full"})
	serve("GET", "/v1/sequences/seq_1/salesforce", nil)
	serve("PUT", "/v1/sequences/seq_1/salesforce", &Claims{TeamID: "team_ok", Role: "member"})
	serve("PUT", "/v1/sequences/seq_1/salesforce", &Claims{TeamID: "team_ok", Role: "admin"})
	want := []string{
		"team_full GET /v1/sequences/{sequence_id}/salesforce",
		"team_ok GET /v1/sequences/{sequence_id}/salesforce",
		"team_broken GET /v1/sequences/{sequence_id}/salesforce",
		"team_ok PUT /v1/sequences/{sequence_id}/salesforce",
	}
	if !slices.Equal(lim.calls, want) {
		t.Errorf("limiter calls: got %q; want %q (public, unauthenticated and forbidden requests are not counted)", lim.calls, want)
	}
}

// TestReadBody: a body is read whole up to MaxBodyBytes; an empty one is a
// 400 and a larger one a 413, each naming the body.
func TestReadBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		ok     bool
		status int
	}{
		{"a JSON object", `{"a":1}`, true, 0},
		{"at the limit", strings.Repeat(" ", MaxBodyBytes-2) + "{}", true, 0},
		{"empty", "", false, http.StatusBadRequest},
		{"only spaces", " \n\t", false, http.StatusBadRequest},
		{"one byte over", strings.Repeat(" ", MaxBodyBytes-1) + "{}", false, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			got, ok := ReadBody(w, httptest.NewRequest(http.MethodPut, "/", strings.NewReader(tt.body)))
			if ok != tt.ok || (ok && string(got) != tt.body) {
				t.Fatalf("got %q, %v; want the body, %v", got, ok, tt.ok)
			}
			if !ok && (w.Code != tt.status || !strings.Contains(w.Body.String(), `"field":"body"`)) {
				t.Errorf("answer: got %d %s; want %d naming the body", w.Code, w.Body, tt.status)
			}
		})
	}
}

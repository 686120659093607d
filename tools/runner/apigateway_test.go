package runner

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/jwtlocal"
)

func TestMatchRoute(t *testing.T) {
	t.Parallel()
	routes := append(slices.Clone(resources.Routes),
		resources.Route{Method: "GET", Path: "/v1/sequences/special/salesforce"},
		resources.Route{Method: "GET", Path: "/files/{path+}"})
	tests := []struct {
		method, path string
		wantKey      string
		wantParams   map[string]string
	}{
		{"GET", "/v1/salesforce", "GET /v1/salesforce", nil},
		{"DELETE", "/v1/salesforce", "DELETE /v1/salesforce", nil},
		{"GET", "/v1/sequences/seq_1/salesforce", "GET /v1/sequences/{sequence_id}/salesforce", map[string]string{"sequence_id": "seq_1"}},
		{"GET", "/v1/sequences/seq%2F1/salesforce", "GET /v1/sequences/{sequence_id}/salesforce", map[string]string{"sequence_id": "seq/1"}},
		{"GET", "/v1/sequences/special/salesforce", "GET /v1/sequences/special/salesforce", nil},
		{"POST", "/v1/salesforce/field-mappings/lead/preview", "POST /v1/salesforce/field-mappings/{object}/preview", map[string]string{"object": "lead"}},
		{"GET", "/files/a/b/c", "GET /files/{path+}", map[string]string{"path": "a/b/c"}},
		{"GET", "/console", "GET /console", nil},
		{"GET", "/console/", "GET /console/{proxy+}", map[string]string{"proxy": ""}},
		{"GET", "/console/js/main.js", "GET /console/{proxy+}", map[string]string{"proxy": "js/main.js"}},
		{"POST", "/console/", "", nil},
		{"GET", "/consoles", "", nil},
		{"GET", "/v1/sequences//salesforce", "", nil},
		{"PATCH", "/v1/salesforce", "", nil},
		{"GET", "/v1/salesforce/", "", nil},
		{"GET", "/nope", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			rt, params, ok := matchRoute(routes, tc.method, tc.path)
			if tc.wantKey == "" {
				if ok {
					t.Fatalf("match: got %s; want no route", rt.Key())
				}
				return
			}
			if !ok || rt.Key() != tc.wantKey {
				t.Fatalf("match: got %s (%v); want %s", rt.Key(), ok, tc.wantKey)
			}
			if len(params) != len(tc.wantParams) {
				t.Fatalf("params: got %v; want %v", params, tc.wantParams)
			}
			for k, v := range tc.wantParams {
				if params[k] != v {
					t.Errorf("param %s: got %q; want %q", k, params[k], v)
				}
			}
		})
	}
}

// startAPIStack runs the test program as the api function behind the
// gateway and returns the stack and the keys that sign accepted tokens.
func startAPIStack(t *testing.T) (*Stack, *jwtlocal.Keys) {
	t.Helper()
	s, keys, _ := startAPIStackIn(t, t.TempDir())
	return s, keys
}

func startAPIStackIn(t *testing.T, state string) (*Stack, *jwtlocal.Keys, string) {
	t.Helper()
	keys, err := jwtlocal.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	s := &Stack{}
	err = s.Start(context.Background(), StackOptions{
		Endpoint: endpoint, Prefix: uniquePrefix(t), StateDir: state,
		Functions: []resources.Function{{Name: "api", Env: []string{resources.EnvConnectionsTable, resources.EnvOAuthRedirectURL},
			Timeout: 5 * time.Second, Memory: 128}},
		Binaries: map[string]string{"api": testBin}, APIAddr: "127.0.0.1:0", APIConcurrency: 2,
		Output: out, Logger: slog.New(slog.DiscardHandler), SalesforceURL: "http://127.0.0.1:1",
	})
	if err != nil {
		t.Fatalf("Stack.Start: got %v; want nil", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("function output:\n%s", out.String())
		}
	})
	return s, keys, state
}

// stateKey reads the signing key the stack verifies with, to sign tokens
// whose claims Mint would never produce.
func stateKey(t *testing.T, dir string) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, jwtlocal.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("key file: got no PEM block; want one")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

type echoed struct {
	Request     events.APIGatewayV2HTTPRequest `json:"request"`
	Function    string                         `json:"function"`
	RuntimeAPI  string                         `json:"runtime_api"`
	AWSRequest  string                         `json:"aws_request"`
	FunctionARN string                         `json:"function_arn"`
	HasDeadline bool                           `json:"has_deadline"`
	Connections string                         `json:"connections"`
	Endpoint    string                         `json:"endpoint"`
}

func do(t *testing.T, method, url, token string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: got %v; want a response", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestAPIGatewayDeliversRequestsAndClaims(t *testing.T) {
	t.Parallel()
	s, keys := startAPIStack(t)
	tok, err := keys.Mint("team_acme", "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "PUT", s.APIURL+"/v1/sequences/seq_42/salesforce?x=1&x=2&y=%20z", tok,
		strings.NewReader(`{"sync_mode":"off"}`),
		map[string]string{"Content-Type": "application/json", "Cookie": "a=1; b=2", "X-Custom": "v", "User-Agent": "tester/1"})
	if resp.StatusCode != 200 {
		t.Fatalf("status: got %d; want 200 (body %s)", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, []string{"session=abc; Path=/", "theme=dark"}) {
		t.Errorf("Set-Cookie: got %v; want the function's cookies", got)
	}
	if got := resp.Header.Values("X-Multi"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("X-Multi: got %v; want [a b]", got)
	}
	if resp.Header.Get("X-Echo") != "1" || resp.Header.Get("Apigw-Requestid") == "" {
		t.Errorf("headers: got %v; want X-Echo and Apigw-Requestid", resp.Header)
	}
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode echo %s: %v", body, err)
	}
	r := e.Request
	checks := []struct{ name, got, want string }{
		{"version", r.Version, "2.0"},
		{"routeKey", r.RouteKey, "PUT /v1/sequences/{sequence_id}/salesforce"},
		{"rawPath", r.RawPath, "/v1/sequences/seq_42/salesforce"},
		{"rawQueryString", r.RawQueryString, "x=1&x=2&y=%20z"},
		{"query x", r.QueryStringParameters["x"], "1,2"},
		{"query y", r.QueryStringParameters["y"], " z"},
		{"path param", r.PathParameters["sequence_id"], "seq_42"},
		{"header", r.Headers["x-custom"], "v"},
		{"content-type", r.Headers["content-type"], "application/json"},
		{"cookie header removed", r.Headers["cookie"], ""},
		{"body", r.Body, `{"sync_mode":"off"}`},
		{"method", r.RequestContext.HTTP.Method, "PUT"},
		{"path", r.RequestContext.HTTP.Path, "/v1/sequences/seq_42/salesforce"},
		{"sourceIp", r.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"userAgent", r.RequestContext.HTTP.UserAgent, "tester/1"},
		{"stage", r.RequestContext.Stage, "$default"},
		{"team claim", r.RequestContext.Authorizer.JWT.Claims["team_id"], "team_acme"},
		{"role claim", r.RequestContext.Authorizer.JWT.Claims["role"], "admin"},
		{"iss claim", r.RequestContext.Authorizer.JWT.Claims["iss"], jwtlocal.Issuer},
		{"function", e.Function, "api"},
		{"function arn", e.FunctionARN, "arn:aws:lambda:us-east-1:123456789012:function:api"},
		{"connections table", e.Connections, s.Resources.Tables["connections"]},
		{"aws endpoint", e.Endpoint, s.gates["api"].URL}, // moto, through the api's table gate
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q; want %q", c.name, c.got, c.want)
		}
	}
	if !slices.Equal(r.Cookies, []string{"a=1", "b=2"}) {
		t.Errorf("cookies: got %v; want [a=1 b=2]", r.Cookies)
	}
	if r.IsBase64Encoded || r.RequestContext.RequestID == "" || r.RequestContext.TimeEpoch == 0 || r.RequestContext.Time == "" {
		t.Errorf("request context: got %+v; want requestId, time and a text body", r.RequestContext)
	}
	if !e.HasDeadline || e.AWSRequest == "" || e.RuntimeAPI == "" {
		t.Errorf("lambda context: got deadline %v, request %q, runtime %q; want all set", e.HasDeadline, e.AWSRequest, e.RuntimeAPI)
	}
}

func TestAPIGatewayBodiesAndPublicRoutes(t *testing.T) {
	t.Parallel()
	s, keys := startAPIStack(t)
	tok, err := keys.Mint("team_acme", "member", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Binary request body arrives base64-encoded.
	resp, body := do(t, "POST", s.APIURL+"/v1/salesforce/dedup-check", tok, strings.NewReader("\x00\x01raw"),
		map[string]string{"Content-Type": "application/octet-stream"})
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 200 {
		t.Fatalf("binary post: got %d %s; want 200 echo", resp.StatusCode, body)
	}
	if !e.Request.IsBase64Encoded || e.Request.Body != "AAFyYXc=" {
		t.Errorf("binary body: got %q (base64 %v); want AAFyYXc= base64", e.Request.Body, e.Request.IsBase64Encoded)
	}
	// Public route: no token needed, no authorizer context.
	resp, body = do(t, "GET", s.APIURL+"/oauth/salesforce/callback?code=c&state=s", "", nil, nil)
	e = echoed{}
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 200 {
		t.Fatalf("public route: got %d %s; want 200 echo", resp.StatusCode, body)
	}
	if e.Request.RequestContext.Authorizer != nil {
		t.Errorf("public route authorizer: got %+v; want none", e.Request.RequestContext.Authorizer)
	}
	// Binary response body is decoded; status codes pass through.
	resp, body = do(t, "GET", s.APIURL+"/openapi.json?binary=1", "", nil, nil)
	if resp.StatusCode != 200 || string(body) != "\x00\x01\x02\xff" {
		t.Errorf("binary response: got %d %q; want 200 and 4 raw bytes", resp.StatusCode, body)
	}
	resp, _ = do(t, "GET", s.APIURL+"/openapi.json?status=201", "", nil, nil)
	if resp.StatusCode != 201 {
		t.Errorf("status passthrough: got %d; want 201", resp.StatusCode)
	}
	// A function error is API Gateway's 500; a crash too, and the process is replaced.
	for _, q := range []string{"fail=1", "crash=1"} {
		resp, body = do(t, "GET", s.APIURL+"/openapi.json?"+q, "", nil, nil)
		if resp.StatusCode != 500 || string(body) != `{"message":"Internal Server Error"}` {
			t.Errorf("%s: got %d %s; want 500 Internal Server Error", q, resp.StatusCode, body)
		}
	}
	resp, _ = do(t, "GET", s.APIURL+"/openapi.json", "", nil, nil)
	if resp.StatusCode != 200 {
		t.Errorf("after crash: got %d; want 200 from a restarted process", resp.StatusCode)
	}
	if got := s.Functions["api"].Stats().Crashes; got != 1 {
		t.Errorf("crashes: got %d; want 1", got)
	}
}

func TestAPIGatewayRejects(t *testing.T) {
	t.Parallel()
	s, keys, state := startAPIStackIn(t, t.TempDir())
	mine := stateKey(t, state)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": jwtlocal.Issuer, "aud": jwtlocal.Audience, "team_id": "t1", "role": "admin",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(key *rsa.PrivateKey, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good, err := keys.Mint("t1", "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, auth string
		status                   int
		body                     string
	}{
		{"missing token", "GET", "/v1/salesforce", "", 401, `{"message":"Unauthorized"}`},
		{"not bearer garbage", "GET", "/v1/salesforce", "Bearer abc.def.ghi", 401, `{"message":"Unauthorized"}`},
		{"control: valid token", "GET", "/v1/salesforce", "Bearer " + sign(mine, claims(nil)), 200, ""},
		{"no Bearer prefix", "GET", "/v1/salesforce", sign(mine, claims(nil)), 200, ""},
		{"bad signature", "GET", "/v1/salesforce", "Bearer " + sign(other, claims(nil)), 401, `{"message":"Unauthorized"}`},
		{"expired", "GET", "/v1/salesforce", "Bearer " + sign(mine, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), 401, `{"message":"Unauthorized"}`},
		{"wrong audience", "GET", "/v1/salesforce", "Bearer " + sign(mine, claims(func(c jwt.MapClaims) { c["aud"] = "other-api" })), 401, `{"message":"Unauthorized"}`},
		{"wrong issuer", "GET", "/v1/salesforce", "Bearer " + sign(mine, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), 401, `{"message":"Unauthorized"}`},
		{"no expiry", "GET", "/v1/salesforce", "Bearer " + sign(mine, claims(func(c jwt.MapClaims) { delete(c, "exp") })), 401, `{"message":"Unauthorized"}`},
		{"tampered payload", "GET", "/v1/salesforce", "Bearer " + tamper(good), 401, `{"message":"Unauthorized"}`},
		{"unknown route", "GET", "/v2/whatever", "Bearer " + good, 404, `{"message":"Not Found"}`},
		{"wrong method", "PATCH", "/v1/salesforce", "Bearer " + good, 404, `{"message":"Not Found"}`},
		{"unknown route without token", "GET", "/nope", "", 404, `{"message":"Not Found"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			resp, body := do(t, tc.method, s.APIURL+tc.path, "", nil, hdr)
			if tc.body == "" && resp.StatusCode == tc.status {
				return
			}
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Errorf("%s %s: got %d %s; want %d %s", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.body)
			}
		})
	}
}

// tamper swaps the token's payload for one claiming another team, keeping
// the original signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload := `{"iss":"` + jwtlocal.Issuer + `","aud":"` + jwtlocal.Audience + `","team_id":"someone_else","role":"admin","exp":9999999999}`
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(payload))
	return strings.Join(parts, ".")
}

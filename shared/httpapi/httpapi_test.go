package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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

package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sfsync/sfsync/shared/resources"
)

// TokenVerifier checks a bearer token and returns its claims; jwtlocal.Keys
// is one.
type TokenVerifier interface {
	Verify(token string) (jwt.MapClaims, error)
}

// Invoker runs one invocation; *Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// APIGateway serves the HTTP API as API Gateway's HTTP API with a JWT
// authorizer and a Lambda proxy integration (payload format 2.0) would.
type APIGateway struct {
	Routes   []resources.Route
	Verifier TokenVerifier
	Function Invoker
	APIID    string // requestContext.apiId; "local" when empty
	Logger   *slog.Logger
	now      func() time.Time
}

// NewAPIGateway returns the gateway for the stack's declared routes.
func NewAPIGateway(fn Invoker, verifier TokenVerifier, logger *slog.Logger) *APIGateway {
	return &APIGateway{Routes: resources.Routes, Verifier: verifier, Function: fn, APIID: "local", Logger: logger}
}

// ServeHTTP implements http.Handler.
func (g *APIGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if g.now != nil {
		now = g.now()
	}
	reqID := gatewayRequestID()
	w.Header().Set("Apigw-Requestid", reqID)
	route, params, ok := matchRoute(g.Routes, r.Method, r.URL.EscapedPath())
	if !ok {
		gatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	var authz *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
	if !route.Public {
		claims, scopes, err := g.authorize(r)
		if err != nil {
			w.Header().Set("Www-Authenticate", `Bearer scope="" error="invalid_token" error_description="`+describeTokenError(err)+`"`)
			gatewayError(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		authz = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: scopes},
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		gatewayError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxPayload {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := g.event(r, route, params, body, authz, reqID, now)
	payload, err := json.Marshal(ev)
	if err != nil {
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	// As with API Gateway, a client that hangs up does not stop the
	// invocation; the function's timeout bounds it.
	resp, err := g.Function.Invoke(context.WithoutCancel(r.Context()), payload)
	if err != nil {
		var ie *InvokeError
		status, msg := http.StatusInternalServerError, "Internal Server Error"
		if errors.As(err, &ie) && ie.Type == ErrorTypeTimeout {
			status, msg = http.StatusServiceUnavailable, "Service Unavailable"
		}
		if g.Logger != nil {
			g.Logger.Warn("integration failed", "route", route.Key(), "request_id", reqID, "error", err.Error())
		}
		gatewayError(w, status, msg)
		return
	}
	if err := writeProxyResponse(w, resp); err != nil {
		if g.Logger != nil {
			g.Logger.Warn("malformed integration response", "route", route.Key(), "request_id", reqID, "error", err.Error())
		}
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

var errNoToken = errors.New("no bearer token")

func (g *APIGateway) authorize(r *http.Request) (map[string]string, []string, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	// API Gateway accepts the token with or without the Bearer prefix.
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	if h == "" {
		return nil, nil, errNoToken
	}
	if g.Verifier == nil {
		return nil, nil, errors.New("no verifier configured")
	}
	mc, err := g.Verifier.Verify(h)
	if err != nil {
		return nil, nil, err
	}
	claims := make(map[string]string, len(mc))
	for k, v := range mc {
		claims[k] = claimString(v)
	}
	var scopes []string
	if s, ok := mc["scope"].(string); ok && s != "" {
		scopes = strings.Fields(s)
	}
	return claims, scopes, nil
}

func describeTokenError(err error) string {
	switch {
	case errors.Is(err, errNoToken):
		return "no token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token does not have a valid audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token does not have a valid issuer"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature is invalid"
	default:
		return "the token is invalid"
	}
}

// claimString renders a claim the way API Gateway flattens JWT claims into
// map[string]string: strings as they are, numbers without exponent, anything
// else as JSON.
func claimString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case []any:
		parts := make([]string, len(t))
		for i, p := range t {
			parts[i] = claimString(p)
		}
		return "[" + strings.Join(parts, " ") + "]"
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// matchRoute finds the route for method and the escaped path. Literal
// segments win over {param} ones, as API Gateway prefers the most specific
// route; a greedy {name+} matches the rest of the path.
func matchRoute(routes []resources.Route, method, path string) (resources.Route, map[string]string, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var best resources.Route
	var bestParams map[string]string
	bestScore := -1
	for _, rt := range routes {
		if rt.Method != method && rt.Method != "ANY" {
			continue
		}
		params, score, ok := matchPath(strings.Split(strings.TrimPrefix(rt.Path, "/"), "/"), segs)
		if ok && score > bestScore {
			best, bestParams, bestScore = rt, params, score
		}
	}
	return best, bestParams, bestScore >= 0
}

func matchPath(tmpl, segs []string) (map[string]string, int, bool) {
	params := map[string]string{}
	score := 0
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "+}") {
			if i >= len(segs) {
				return nil, 0, false
			}
			v, err := url.PathUnescape(strings.Join(segs[i:], "/"))
			if err != nil {
				return nil, 0, false
			}
			params[t[1:len(t)-2]] = v
			return params, score, true
		}
		if i >= len(segs) {
			return nil, 0, false
		}
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if segs[i] == "" {
				return nil, 0, false
			}
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, 0, false
			}
			params[t[1:len(t)-1]] = v
			continue
		}
		if t != segs[i] {
			return nil, 0, false
		}
		score += 2
	}
	if len(tmpl) != len(segs) {
		return nil, 0, false
	}
	if len(params) == 0 {
		params = nil
	}
	return params, score + 1, true
}

func (g *APIGateway) event(r *http.Request, route resources.Route, params map[string]string, body []byte,
	authz *events.APIGatewayV2HTTPRequestContextAuthorizerDescription, reqID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	host := r.Host
	headers["host"] = host
	var cookies []string
	for _, c := range r.Header.Values("Cookie") {
		for _, part := range strings.Split(c, ";") {
			if p := strings.TrimSpace(part); p != "" {
				cookies = append(cookies, p)
			}
		}
	}
	var query map[string]string
	if r.URL.RawQuery != "" {
		query = map[string]string{}
		for k, vs := range r.URL.Query() {
			query[k] = strings.Join(vs, ",")
		}
	}
	sourceIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		sourceIP = r.RemoteAddr
	}
	domain, _, err := net.SplitHostPort(host)
	if err != nil {
		domain = host
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.Key(),
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     route.Key(),
			AccountID:    AccountID,
			Stage:        "$default",
			RequestID:    reqID,
			Authorizer:   authz,
			APIID:        cmpOr(g.APIID, "local"),
			DomainName:   domain,
			DomainPrefix: strings.SplitN(domain, ".", 2)[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.EscapedPath(), Protocol: r.Proto, SourceIP: sourceIP, UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isTextContent(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// isTextContent reports whether API Gateway passes a body of this type as
// text; everything else reaches the function base64-encoded.
func isTextContent(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript":
		return true
	}
	return false
}

// writeProxyResponse writes a payload format 2.0 response. A response
// without statusCode is, as API Gateway infers, a 200 JSON body.
func writeProxyResponse(w http.ResponseWriter, resp []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(resp, &probe); err != nil || probe["statusCode"] == nil {
		if !json.Valid(resp) {
			return fmt.Errorf("response is not JSON")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp)
		return nil
	}
	var out events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(resp, &out); err != nil {
		return fmt.Errorf("decode proxy response: %w", err)
	}
	if out.StatusCode < 100 || out.StatusCode > 599 {
		return fmt.Errorf("statusCode %d is not an HTTP status", out.StatusCode)
	}
	body := []byte(out.Body)
	if out.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(out.Body)
		if err != nil {
			return fmt.Errorf("decode base64 body: %w", err)
		}
		body = b
	}
	h := w.Header()
	for k, vs := range out.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range out.Headers {
		h.Set(k, v)
	}
	for _, c := range out.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(out.StatusCode)
	_, _ = w.Write(body)
	return nil
}

func gatewayError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func gatewayRequestID() string {
	h := randomHex(16)
	return strings.ToUpper(h[:1]) + h[1:12] + "="
}

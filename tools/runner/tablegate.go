package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
)

// A TableGate stands between one function and the local AWS endpoint and
// refuses, as IAM does in AWS, a DynamoDB write to a table the function's
// role may not write (resources.Function.WriteTables). moto checks no
// IAM, so without it a store pointed at the wrong table passes every local
// test and is refused in AWS. Everything else goes through untouched.
type TableGate struct {
	URL string // point the function's AWS_ENDPOINT_URL here

	function string
	allowed  map[string]bool // table names
	srv      *http.Server
}

// FunctionHeader names, on each request a gate passes on, the function it
// came from: behind the gate every function's requests reach the endpoint
// from this process, so a local meter (the bench's) tells them apart by it.
// AWS has no such header; moto ignores it.
const FunctionHeader = "X-Sfsync-Function"

// dynamoWriteOps are the DynamoDB operations IAM checks as writes.
var dynamoWriteOps = []string{"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

// StartTableGate starts a gate for function in front of endpoint, letting
// it write only the tables named in allowed.
func StartTableGate(endpoint, function string, allowed []string) (*TableGate, error) {
	target, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("table gate: endpoint %q: %w", endpoint, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("table gate: %w", err)
	}
	g := &TableGate{URL: "http://" + ln.Addr().String(), function: function, allowed: map[string]bool{}}
	for _, t := range allowed {
		g.allowed[t] = true
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused, ok := g.refuse(r); ok {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{
				"__type":  "com.amazon.coral.service#AccessDeniedException",
				"message": fmt.Sprintf("function %s is not authorized to perform a write on table %s (its role writes only %s)", g.function, refused, strings.Join(allowed, ", ")),
			})
			return
		}
		r.Header.Set(FunctionHeader, g.function)
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

// refuse reads a DynamoDB write's body (and puts it back for the proxy)
// and returns the first table it writes that the function may not.
func (g *TableGate) refuse(r *http.Request) (table string, refused bool) {
	service, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	if !strings.HasPrefix(service, "DynamoDB_") || !slices.Contains(dynamoWriteOps, op) {
		return "", false
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return "", false // the proxy answers the broken request
	}
	for _, t := range writtenTables(op, body) {
		if !g.allowed[t] {
			return t, true
		}
	}
	return "", false
}

// writtenTables are the tables a DynamoDB write operation's request body
// writes.
func writtenTables(op string, body []byte) []string {
	var req struct {
		TableName     string
		RequestItems  map[string]json.RawMessage
		TransactItems []map[string]struct{ TableName string }
	}
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	var tables []string
	switch op {
	case "BatchWriteItem":
		for t := range req.RequestItems {
			tables = append(tables, t)
		}
	case "TransactWriteItems":
		for _, it := range req.TransactItems {
			for kind, w := range it {
				if kind != "ConditionCheck" {
					tables = append(tables, w.TableName)
				}
			}
		}
	default:
		tables = append(tables, req.TableName)
	}
	return tables
}

// Close stops the gate.
func (g *TableGate) Close() error { return g.srv.Close() }

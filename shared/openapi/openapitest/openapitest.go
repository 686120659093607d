// Package openapitest checks HTTP responses against the API's OpenAPI
// document, for the API's tests: a handler's answer must match the schema
// the document gives for its route, method and status.
package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sfsync/sfsync/shared/openapi"
)

const docURL = "https://api.sfsync.invalid/openapi.json"

var (
	mu       sync.Mutex
	loaded   bool
	loadErr  error
	doc      map[string]any
	compiler *jsonschema.Compiler
	compiled = map[string]*jsonschema.Schema{}
)

func load() error {
	if loaded {
		return loadErr
	}
	loaded = true
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(openapi.Document()))
	if err != nil {
		loadErr = fmt.Errorf("openapi.json: %w", err)
		return loadErr
	}
	d, ok := v.(map[string]any)
	if !ok {
		loadErr = fmt.Errorf("openapi.json: not an object")
		return loadErr
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, d); err != nil {
		loadErr = fmt.Errorf("openapi.json: %w", err)
		return loadErr
	}
	doc, compiler = d, c
	return nil
}

// pointerToken escapes one JSON pointer token.
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// Schema compiles the schema at the JSON pointer ptr of the document (e.g.
// "/components/schemas/Error").
func Schema(ptr string) (*jsonschema.Schema, error) {
	mu.Lock()
	defer mu.Unlock()
	if err := load(); err != nil {
		return nil, err
	}
	if s, ok := compiled[ptr]; ok {
		return s, nil
	}
	frag := (&url.URL{Fragment: ptr}).EscapedFragment()
	s, err := compiler.Compile(docURL + "#" + frag)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", ptr, err)
	}
	compiled[ptr] = s
	return s, nil
}

// lookup walks the document along tokens.
func lookup(tokens ...string) (any, bool) {
	var cur any = doc
	for _, t := range tokens {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[t]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// response finds the documented response of an operation and the JSON
// pointer of its JSON schema ("" when it documents no body).
func response(method, route string, status int) (schemaPtr string, err error) {
	mu.Lock()
	defer mu.Unlock()
	if err := load(); err != nil {
		return "", err
	}
	op := strings.ToLower(method)
	if _, ok := lookup("paths", route, op); !ok {
		return "", fmt.Errorf("%s %s is not in the OpenAPI document", method, route)
	}
	code := strconv.Itoa(status)
	tokens := []string{"paths", route, op, "responses", code}
	resp, ok := lookup(tokens...)
	if !ok {
		if status < 400 {
			return "", fmt.Errorf("%s %s: status %d is not documented", method, route, status)
		}
		tokens[4] = "default"
		if resp, ok = lookup(tokens...); !ok {
			return "", fmt.Errorf("%s %s: status %d is not documented and there is no default", method, route, status)
		}
	}
	if m, ok := resp.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			tokens = strings.Split(strings.TrimPrefix(ref, "#/"), "/")
			if _, ok = lookup(tokens...); !ok {
				return "", fmt.Errorf("%s %s %d: unresolved %s", method, route, status, ref)
			}
		}
	}
	if _, ok := lookup(append(tokens, "content")...); !ok {
		return "", nil
	}
	if _, ok := lookup(append(tokens, "content", "application/json", "schema")...); !ok {
		return "", fmt.Errorf("%s %s %d: no application/json schema", method, route, status)
	}
	var b strings.Builder
	for _, t := range append(tokens, "content", "application/json", "schema") {
		b.WriteString("/" + pointerToken(t))
	}
	return b.String(), nil
}

// Check returns nil when body is a valid response with status of the
// operation method routeTemplate (as declared: "/v1/sequences/{sequence_id}/salesforce").
// A status the operation does not list is checked against its default
// response when it is an error status, and is an error otherwise.
func Check(method, routeTemplate string, status int, body []byte) error {
	ptr, err := response(method, routeTemplate, status)
	if err != nil {
		return err
	}
	if ptr == "" {
		if len(bytes.TrimSpace(body)) != 0 {
			return fmt.Errorf("%s %s %d: the document gives no body, got %d bytes", method, routeTemplate, status, len(body))
		}
		return nil
	}
	sch, err := Schema(ptr)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s %d: body is not JSON: %w", method, routeTemplate, status, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s %s %d: body does not match the document: %w", method, routeTemplate, status, err)
	}
	return nil
}

// Validate fails t when Check does.
func Validate(t testing.TB, method, routeTemplate string, status int, body []byte) {
	t.Helper()
	if err := Check(method, routeTemplate, status, body); err != nil {
		t.Errorf("got a response off the OpenAPI document: %v\nbody: %s", err, abbreviate(body))
	}
}

// CheckValue is Check for a Go value, marshalled as the API would send it.
func CheckValue(method, routeTemplate string, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return Check(method, routeTemplate, status, b)
}

func abbreviate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

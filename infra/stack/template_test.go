package stack_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
)

// cfn is a CloudFormation template decoded from JSON (or from YAML with the
// short-form tags expanded), with helpers to walk it.
type cfn map[string]any

func (t cfn) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range asMap(t["Resources"]) {
		out[id] = asMap(r)
	}
	return out
}

// ofType returns the logical ids of the resources of a type, sorted.
func (t cfn) ofType(typ string) []string {
	var ids []string
	for id, r := range t.resources() {
		if r["Type"] == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (t cfn) resource(tb testing.TB, id string) map[string]any {
	tb.Helper()
	r, ok := t.resources()[id]
	if !ok {
		tb.Fatalf("got no resource %s; want one", id)
	}
	return r
}

func (t cfn) props(tb testing.TB, id string) map[string]any {
	tb.Helper()
	return asMap(t.resource(tb, id)["Properties"])
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// num reads a JSON number whichever way it was decoded.
func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	case string:
		var f float64
		fmt.Sscan(n, &f)
		return f
	}
	return -1
}

// ref returns the logical id a value refers to through Ref or Fn::GetAtt, or "".
func ref(v any) string {
	m := asMap(v)
	if r, ok := m["Ref"].(string); ok {
		return r
	}
	if ga := asSlice(m["Fn::GetAtt"]); len(ga) > 0 {
		s, _ := ga[0].(string)
		return s
	}
	return ""
}

// refs returns every logical id referenced anywhere in v, sorted and unique.
func refs(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r := ref(x); r != "" {
				out = append(out, r)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	sort.Strings(out)
	return slices.Compact(out)
}

// strings converts a []any of strings (or a single string) to []string.
func strs(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	var out []string
	for _, e := range asSlice(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// contains reports whether any value in v (recursively) satisfies pred.
func containsKey(v any, key string) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x[key]; ok {
			return true
		}
		for _, e := range x {
			if containsKey(e, key) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if containsKey(e, key) {
				return true
			}
		}
	}
	return false
}

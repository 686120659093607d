package org

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testOrg starts an org for one test and closes it at the end.
func testOrg(t *testing.T, cfg Config) (*Org, string) {
	t.Helper()
	if cfg.RedirectURIs == nil {
		cfg.RedirectURIs = []string{"http://127.0.0.1:9/callback"}
	}
	o := New(cfg)
	u, err := o.Start()
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o, u
}

// fakeClock is a settable clock for token and code expiry.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// client calls the org's REST API with a token.
type client struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

func newClient(t *testing.T, o *Org) *client {
	tok := o.IssueTokens()
	return &client{t: t, base: tok.InstanceURL, token: tok.AccessToken, hc: &http.Client{Timeout: 10 * time.Second}}
}

type result struct {
	status int
	header http.Header
	raw    []byte
	body   any
}

func (c *client) do(method, path string, body any, hdr ...string) result {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.base + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			c.t.Fatalf("%s %s: body is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return r
}

func (c *client) query(q string, hdr ...string) result {
	return c.do("GET", "/services/data/v62.0/query?q="+url.QueryEscape(q), nil, hdr...)
}

const v = "/services/data/v62.0"

// errorsOf returns the errorCode (or statusCode) list of an error array body.
func errorsOf(body any) []string {
	arr, _ := body.([]any)
	var out []string
	for _, e := range arr {
		m, _ := e.(map[string]any)
		if c, ok := m["errorCode"].(string); ok {
			out = append(out, c)
		} else if c, ok := m["statusCode"].(string); ok {
			out = append(out, c)
		}
	}
	return out
}

func firstErr(body any) map[string]any {
	arr, _ := body.([]any)
	if len(arr) == 0 {
		return nil
	}
	m, _ := arr[0].(map[string]any)
	return m
}

func loadFixture(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return v
}

// shapeDiff compares JSON shapes: the same keys (exact) or at least the fixture's
// keys (subset), with the same JSON types; arrays compare element by element against
// the fixture's first element. It returns the first difference.
func shapeDiff(path string, want, got any, subset bool) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %T; want object", path, got)
		}
		var wk, gk []string
		for k := range w {
			wk = append(wk, k)
		}
		for k := range g {
			gk = append(gk, k)
		}
		sort.Strings(wk)
		sort.Strings(gk)
		if !subset && strings.Join(wk, ",") != strings.Join(gk, ",") {
			return fmt.Sprintf("%s: got keys %v; want %v", path, gk, wk)
		}
		for _, k := range wk {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s: got no key %q; want it", path, k)
			}
			if d := shapeDiff(path+"."+k, w[k], gv, subset); d != "" {
				return d
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %T; want array", path, got)
		}
		if len(w) == 0 {
			return ""
		}
		if len(g) == 0 {
			return fmt.Sprintf("%s: got empty array; want elements", path)
		}
		for i, ge := range g {
			we := w[min(i, len(w)-1)]
			if d := shapeDiff(fmt.Sprintf("%s[%d]", path, i), we, ge, subset); d != "" {
				return d
			}
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			return fmt.Sprintf("%s: got %T (%v); want %T", path, got, got, want)
		}
	}
	return ""
}

func assertShape(t *testing.T, fixture string, got any, subset bool) {
	t.Helper()
	if d := shapeDiff("$", loadFixture(t, fixture), got, subset); d != "" {
		t.Errorf("shape vs %s: %s", fixture, d)
	}
}

func mustSeed(t *testing.T, o *Org, object string, recs ...map[string]any) []string {
	t.Helper()
	ids, err := o.Seed(object, recs...)
	if err != nil {
		t.Fatalf("seed %s: %v", object, err)
	}
	return ids
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

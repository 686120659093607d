// Package shared_test holds the rule the shared packages are laid out by:
// the domain knows nothing of Lambda, SQS, DynamoDB or HTTP serving. It
// defines small interfaces (ports); adapters in their own packages
// implement them, and the functions' mains wire the two.
//
// TestDomainImportsNoAdapter checks it on what the domain packages import,
// directly or through each other: the packages of this module they reach
// must be domain packages or the libraries below, never the AWS SDK,
// aws-lambda-go or an adapter package (*db, *http, orgs, describe, queue,
// outcomes, httpapi, awsenv, ...); and none of them may use net/http's
// server side. net/http as a client is allowed: the connect flow exchanges
// OAuth codes with it and the Salesforce client reaches the org with it.
// Test files are out of its scope: a domain package's tests may start
// moto or a simulator.
package shared_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/sfsync/sfsync/"

// domain are the domain packages, each with why it is domain. A package
// moved or renamed must be moved here too: go list fails on a missing one.
var domain = map[string]string{
	"shared/policy":       "settings, sequence overrides, their versions and Resolve as of a time (R2-R4)",
	"shared/contactsync":  "the contact-sync engine (R4-R6, R9); its subpackages are its adapters",
	"shared/activitysync": "the activity-sync engine (R7); activitydb is its adapter",
	"shared/mapping":      "field mappings, their preflight and the rendering of a record (R8)",
	"shared/connection":   "the connect flow and the token source (R1); connectiondb and connecthttp are its adapters",
	"shared/budget":       "the API budget governor's decision, from numbers it is given",
	"shared/ratelimit":    "a team's share of the API: the limit and the cooldowns, on a store port (ratelimitdb)",
	"shared/event":        "the event and outcome contract the engines speak, with no transport",
	"shared/ledger":       "the memberships and records both engines keep, and the keys that name them",
	"shared/delivery":     "a batch's deliveries, the team parts and reruns, the waits and the errors that bring a delivery back",
	"shared/readiness":    "the org readiness report's assessment, from a snapshot of the org",
	"shared/attribution":  "who owns a new record or Task and which Account a new Contact joins (R10), on a directory port",
	"shared/lifecycle":    "bounces and opt-outs written back to the record, once each, on a marks port (lifecycledb)",
	"shared/health":       "a team's sync health: outcome counts per day, calls per day, the budget and what is held, on counter and reader ports (healthdb, healthhttp)",
	"shared/privacy":      "a person's erasure and its receipt, on store, org and receipt ports (privacydb, privacyhttp)",
}

// libraries are the packages of this module, beside the domain, that a
// domain package may use: none reaches AWS or serves HTTP.
var libraries = map[string]string{
	"shared/salesforce":       "the org the domain syncs into, reached through Salesforce's REST API as an HTTP client",
	"shared/platform/backoff": "the wait between attempts of every retry loop",
}

// modules are the modules outside the standard library and this one that
// a domain package may reach.
var modules = map[string]string{
	"golang.org/x/oauth2": "the OAuth 2.0 client of the connect flow",
	"golang.org/x/sync":   "errgroup, for calls made side by side",
}

// serving are net/http's server side: what only a package that serves
// HTTP (routes, handlers) uses.
var serving = []string{"Handle", "HandleFunc", "Handler", "HandlerFunc", "ListenAndServe", "ListenAndServeTLS",
	"NewServeMux", "ResponseWriter", "Serve", "ServeMux", "ServeTLS", "Server", "FileServer", "StripPrefix",
	"TimeoutHandler", "MaxBytesHandler", "NotFoundHandler", "RedirectHandler"}

// TestDomainImportsNoAdapter: no domain package reaches the AWS SDK,
// aws-lambda-go, an adapter package or net/http's server side.
func TestDomainImportsNoAdapter(t *testing.T) {
	t.Parallel()
	var roots []string
	for p := range domain {
		roots = append(roots, module+p)
	}
	slices.Sort(roots)
	pkgs, err := listDeps(roots)
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range roots {
		for _, v := range importViolations(root, pkgs) {
			t.Error(v)
		}
	}
	for _, p := range pkgs {
		if !allowedInModule(p.ImportPath) {
			continue
		}
		files, err := parseFiles(p.Dir, p.GoFiles)
		if err != nil {
			t.Fatal(err)
		}
		for _, use := range servingUses(files) {
			t.Errorf("%s uses net/http's server side: %s; a domain package serves no HTTP (an adapter does)", short(p.ImportPath), use)
		}
	}
}

// TestArchitectureCheck: the checks above find what they are for.
func TestArchitectureCheck(t *testing.T) {
	t.Parallel()
	pkgs := map[string]listed{
		module + "shared/policy":                        {ImportPath: module + "shared/policy", Imports: []string{"time", module + "shared/budget"}},
		module + "shared/budget":                        {ImportPath: module + "shared/budget", Imports: []string{"errors"}},
		module + "shared/contactsync":                   {ImportPath: module + "shared/contactsync", Imports: []string{module + "shared/policy", module + "shared/platform/queue"}},
		module + "shared/platform/queue":                {ImportPath: module + "shared/platform/queue", Imports: []string{"github.com/aws/aws-lambda-go/events"}},
		module + "shared/mapping":                       {ImportPath: module + "shared/mapping", Imports: []string{module + "shared/salesforce", "github.com/aws/aws-sdk-go-v2/service/dynamodb"}},
		module + "shared/salesforce":                    {ImportPath: module + "shared/salesforce", Imports: []string{"net/http", module + "shared/platform/backoff"}},
		module + "shared/platform/backoff":              {ImportPath: module + "shared/platform/backoff"},
		module + "shared/connection":                    {ImportPath: module + "shared/connection", Imports: []string{"golang.org/x/oauth2", "github.com/google/uuid"}},
		"golang.org/x/oauth2":                           {ImportPath: "golang.org/x/oauth2", Imports: []string{"golang.org/x/oauth2/internal"}},
		"golang.org/x/oauth2/internal":                  {ImportPath: "golang.org/x/oauth2/internal"},
		"github.com/google/uuid":                        {ImportPath: "github.com/google/uuid"},
		"github.com/aws/aws-sdk-go-v2/service/dynamodb": {ImportPath: "github.com/aws/aws-sdk-go-v2/service/dynamodb"},
		"github.com/aws/aws-lambda-go/events":           {ImportPath: "github.com/aws/aws-lambda-go/events"},
	}
	for _, name := range []string{"time", "errors", "net/http"} {
		pkgs[name] = listed{ImportPath: name, Standard: true}
	}
	imports := []struct {
		root string
		want string
	}{
		{"shared/policy", ""},
		{"shared/contactsync", "imports shared/platform/queue (contactsync → queue)"},
		{"shared/mapping", "imports github.com/aws/aws-sdk-go-v2/service/dynamodb (mapping → dynamodb)"},
		{"shared/connection", "imports github.com/google/uuid (connection → uuid)"},
	}
	for _, tt := range imports {
		got := strings.Join(importViolations(module+tt.root, pkgs), "\n")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("imports of %s: got %q; want %q", tt.root, got, tt.want)
		}
	}

	sources := []struct {
		name string
		src  string
		want string
	}{
		{"a client", `package p; import "net/http"; var c http.Client; func f() { http.NewRequest("GET", "/", nil) }`, ""},
		{"a handler", `package p; import "net/http"; func f(w http.ResponseWriter, r *http.Request) {}`, "http.ResponseWriter"},
		{"a router under another name", `package p; import web "net/http"; var m = web.NewServeMux()`, "web.NewServeMux"},
		{"another package's Handler", `package p; import "example.com/http"; var h http.Handler`, ""},
	}
	for _, tt := range sources {
		f, err := parser.ParseFile(token.NewFileSet(), "p.go", tt.src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(servingUses([]*ast.File{f}), " "); !strings.Contains(got, tt.want) || (tt.want == "" && got != "") {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
}

// listed is what go list says of a package.
type listed struct {
	ImportPath string
	Standard   bool
	Dir        string
	GoFiles    []string
	Imports    []string
}

// listDeps returns roots and every package they import, directly or not,
// by import path.
func listDeps(roots []string) (map[string]listed, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", append([]string{"list", "-deps", "-json=ImportPath,Standard,Dir,GoFiles,Imports"}, roots...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	pkgs := map[string]listed{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs[p.ImportPath] = p
	}
}

// importViolations names each package root reaches, directly or not, that
// a domain package may not use, with the chain of imports that reaches it.
func importViolations(root string, pkgs map[string]listed) []string {
	var found []string
	via := map[string]string{root: ""} // package -> the package that imported it first
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if why := refused(p, pkgs[p].Standard); why != "" {
			found = append(found, fmt.Sprintf("%s imports %s (%s): %s", short(root), short(p), chain(p, via), why))
			continue
		}
		for _, imp := range pkgs[p].Imports {
			if _, seen := via[imp]; !seen {
				via[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return found
}

// refused says why a domain package may not use the package at path, or ""
// when it may.
func refused(path string, standard bool) string {
	switch {
	case standard, path == "C": // C: cgo, which the standard library's net uses
		return ""
	case strings.HasPrefix(path, module):
		if allowedInModule(path) {
			return ""
		}
		return "a package of this module that is neither domain nor one of its libraries (an adapter or plumbing); the domain defines a port and the adapter implements it"
	case strings.HasPrefix(path, "github.com/aws/"):
		return "AWS (the SDK, Lambda) belongs in an adapter"
	}
	for m := range modules {
		if path == m || strings.HasPrefix(path, m+"/") {
			return ""
		}
	}
	return "a module the domain has not been allowed; add it to modules in shared/architecture_test.go if it is not an adapter's"
}

func allowedInModule(path string) bool {
	p, ok := strings.CutPrefix(path, module)
	if !ok {
		return false
	}
	_, d := domain[p]
	_, l := libraries[p]
	return d || l
}

// chain is the chain of imports via records that reaches p from its root.
func chain(p string, via map[string]string) string {
	var names []string
	for ; p != ""; p = via[p] {
		names = append(names, filepath.Base(p))
	}
	slices.Reverse(names)
	return strings.Join(names, " → ")
}

func short(path string) string { return strings.TrimPrefix(path, module) }

func parseFiles(dir string, names []string) ([]*ast.File, error) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// servingUses lists the uses of net/http's server side in files, as
// written (http.ResponseWriter).
func servingUses(files []*ast.File) []string {
	var uses []string
	for _, f := range files {
		name := ""
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path == "net/http" {
				name = "http"
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == name && slices.Contains(serving, sel.Sel.Name) {
				uses = append(uses, name+"."+sel.Sel.Name)
			}
			return true
		})
	}
	return uses
}

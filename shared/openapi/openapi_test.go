package openapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthhttp"
	"github.com/sfsync/sfsync/shared/openapi"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
)

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

func parse(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapi.Document(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func TestDocumentMatchesDeclaredRoutes(t *testing.T) {
	t.Parallel()
	doc := parse(t)
	if got := doc["openapi"]; got != "3.1.0" {
		t.Errorf("got openapi %v; want 3.1.0", got)
	}
	var documented []string
	for path, item := range obj(doc["paths"]) {
		for _, m := range methods {
			if _, ok := obj(item)[m]; ok {
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	var declared []string
	for _, r := range resources.Routes {
		declared = append(declared, r.Key())
	}
	sort.Strings(documented)
	sort.Strings(declared)
	for _, k := range declared {
		if !slices.Contains(documented, k) {
			t.Errorf("got route %s undocumented; want it in openapi.json", k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(declared, k) {
			t.Errorf("got %s documented; want it declared in shared/resources.Routes", k)
		}
	}
}

func TestDocumentAuthMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc := parse(t)
	if _, ok := obj(obj(obj(doc["components"])["securitySchemes"])["bearerAuth"])["scheme"]; !ok {
		t.Fatalf("got no bearerAuth security scheme; want one")
	}
	for _, r := range resources.Routes {
		op := obj(obj(obj(doc["paths"])[r.Path])[strings.ToLower(r.Method)])
		if op == nil {
			continue // reported by TestDocumentMatchesDeclaredRoutes
		}
		sec, hasSec := op["security"].([]any)
		public := hasSec && len(sec) == 0
		if public != r.Public {
			t.Errorf("%s: got public=%v in the document; want %v", r.Key(), public, r.Public)
		}
		responses := obj(op["responses"])
		if !r.Public {
			if _, ok := responses["401"]; !ok {
				t.Errorf("%s: got no 401 response; want one", r.Key())
			}
		}
		admin := op["x-required-role"] == "admin"
		if admin != r.Admin {
			t.Errorf("%s: got x-required-role admin=%v; want %v", r.Key(), admin, r.Admin)
		}
		// An admin route documents the router's 403; a team route may
		// document a 403 its handler answers itself.
		if _, ok := responses["403"]; r.Admin && !ok {
			t.Errorf("%s: got no 403 response; want one", r.Key())
		}
	}
}

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

func TestPathParametersDeclared(t *testing.T) {
	t.Parallel()
	doc := parse(t)
	params := obj(obj(doc["components"])["parameters"])
	names := func(list any) map[string]string {
		out := map[string]string{}
		for _, p := range list.([]any) {
			p := obj(p)
			if ref, ok := p["$ref"].(string); ok {
				p = obj(params[strings.TrimPrefix(ref, "#/components/parameters/")])
			}
			out[p["name"].(string)] = p["in"].(string)
		}
		return out
	}
	for path, item := range obj(doc["paths"]) {
		for _, m := range methods {
			op := obj(obj(item)[m])
			if op == nil {
				continue
			}
			declared := map[string]string{}
			if l, ok := obj(item)["parameters"]; ok {
				for k, v := range names(l) {
					declared[k] = v
				}
			}
			if l, ok := op["parameters"]; ok {
				for k, v := range names(l) {
					declared[k] = v
				}
			}
			for _, match := range templateParam.FindAllStringSubmatch(path, -1) {
				if declared[match[1]] != "path" {
					t.Errorf("%s %s: got path parameter %s undeclared; want it declared in: path", m, path, match[1])
				}
			}
		}
	}
}

// TestReferencesResolveAndSchemasCompile walks the document: every $ref
// points at something, and every component schema compiles.
func TestReferencesResolveAndSchemasCompile(t *testing.T) {
	t.Parallel()
	doc := parse(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var cur any = doc
				for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					cur = obj(cur)[tok]
				}
				if !strings.HasPrefix(ref, "#/") || cur == nil {
					t.Errorf("%s: got unresolved $ref %s; want it to resolve", at, ref)
				}
			}
			for k, c := range v {
				walk(c, at+"/"+k)
			}
		case []any:
			for _, c := range v {
				walk(c, at+"/[]")
			}
		}
	}
	walk(doc, "")
	for name, s := range obj(obj(doc["components"])["schemas"]) {
		sch, err := openapitest.Schema("/components/schemas/" + name)
		if err != nil {
			t.Errorf("schema %s: %v", name, err)
			continue
		}
		if ex, ok := obj(s)["example"]; ok {
			b, _ := json.Marshal(ex)
			var inst any
			_ = json.Unmarshal(b, &inst)
			if err := sch.Validate(inst); err != nil {
				t.Errorf("schema %s: got its example invalid: %v; want valid", name, err)
			}
		}
	}
}

func TestHandlerServesDocumentPublicly(t *testing.T) {
	t.Parallel()
	rt := httpapi.NewRouter()
	rt.Handle("GET /openapi.json", openapi.Handler())
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil)) // no claims
	if rec.Code != http.StatusOK {
		t.Fatalf("got status %d; want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q; want application/json", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), openapi.Document()) {
		t.Errorf("got a body of %d bytes; want the document's %d", rec.Body.Len(), len(openapi.Document()))
	}
	openapitest.Validate(t, "GET", "/openapi.json", rec.Code, rec.Body.Bytes())
}

// jsonNames lists the JSON member names of a struct type's fields.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// propertyNames lists the properties a component schema documents.
func propertyNames(schema map[string]any) []string {
	var names []string
	for k := range obj(schema["properties"]) {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func sorted(v []string) []string { sort.Strings(v); return v }

// outcomeStatuses lists every status an outcome of any type may carry,
// sorted.
func outcomeStatuses() []string {
	var all []string
	for _, ss := range event.Statuses {
		for _, s := range ss {
			if !slices.Contains(all, string(s)) {
				all = append(all, string(s))
			}
		}
	}
	return sorted(all)
}

func enumOf(v any) []string {
	var out []string
	for _, e := range obj(v)["enum"].([]any) {
		out = append(out, e.(string))
	}
	return out
}

// TestSchemasMatchGoTypes: the settings document and the outcome's record
// reference document every member their Go types write, and the words of
// the owner and Account settings and decisions are the Go constants.
func TestSchemasMatchGoTypes(t *testing.T) {
	t.Parallel()
	schemas := obj(obj(parse(t)["components"])["schemas"])
	settings := obj(schemas["TeamSettings"])
	match := obj(schemas["Match"])
	tests := []struct {
		name      string
		got, want any
	}{
		{"TeamSettings properties", propertyNames(settings), jsonNames(reflect.TypeFor[policy.TeamSettings]())},
		{"SalesforceRef properties", propertyNames(obj(schemas["SalesforceRef"])), jsonNames(reflect.TypeFor[event.SalesforceRef]())},
		{"Match properties", propertyNames(match), jsonNames(reflect.TypeFor[event.Match]())},
		{"owner enum", enumOf(obj(settings["properties"])["owner"]),
			[]string{string(policy.OwnerRep), string(policy.OwnerFallbackOnly), string(policy.OwnerAssignmentRules)}},
		{"account_matching enum", enumOf(obj(settings["properties"])["account_matching"]),
			[]string{string(policy.AccountMatchDomain), string(policy.AccountMatchName), string(policy.AccountMatchNone)}},
		{"account_fallback enum", enumOf(obj(settings["properties"])["account_fallback"]),
			[]string{string(policy.AccountFallbackCreate), string(policy.AccountFallbackLead), string(policy.AccountFallbackPrivate)}},
		{"free_mail_domains maxItems", obj(obj(settings["properties"])["free_mail_domains"])["maxItems"], float64(policy.MaxFreeMailDomains)},
		{"time_zone maxLength", obj(obj(settings["properties"])["time_zone"])["maxLength"], float64(policy.MaxTimeZoneLength)},
		{"retention_days bounds", [3]any{obj(obj(settings["properties"])["retention_days"])["minimum"], obj(obj(settings["properties"])["retention_days"])["maximum"],
			obj(obj(settings["properties"])["retention_days"])["default"]}, [3]any{float64(policy.MinRetentionDays), float64(policy.MaxRetentionDays), float64(policy.DefaultRetentionDays)}},
		{"write-back defaults", [2]any{obj(obj(settings["properties"])["bounce_writeback"])["default"], obj(obj(settings["properties"])["optout_writeback"])["default"]},
			[2]any{policy.DefaultTeamSettings().BounceWriteback(), policy.DefaultTeamSettings().OptOutWriteback()}},
		{"match owner enum", enumOf(obj(match["properties"])["owner"]), event.MatchOwners},
		{"match account enum", enumOf(obj(match["properties"])["account"]), event.MatchAccounts},
		{"match detail maxLength", obj(obj(match["properties"])["detail"])["maxLength"], float64(event.MaxMatchDetail)},
		{"Outcome status enum", sorted(enumOf(obj(obj(schemas["Outcome"])["properties"])["status"])), outcomeStatuses()},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, tt.got, tt.want)
		}
	}
	// A fallback user id the document accepts is one policy accepts.
	pattern := regexp.MustCompile(obj(obj(settings["properties"])["owner_fallback_user_id"])["pattern"].(string))
	for _, id := range []string{"", "0055g00000Ab1Cd", "0055g00000Ab1CdAAJ", "00Q5g00000KzF3aEAF", "0055g00000Ab1CdA", "005"} {
		if got, want := pattern.MatchString(id), id == "" || policy.ValidUserID(id); got != want {
			t.Errorf("owner_fallback_user_id %q: got document valid %v; want %v", id, got, want)
		}
	}
}

// TestHealthSchemaMatchesGoTypes: the health report documents every member
// its Go type writes, the held reasons are the domain's, and a day's
// outcomes are keyed by the outcome statuses.
func TestHealthSchemaMatchesGoTypes(t *testing.T) {
	t.Parallel()
	report := obj(obj(obj(parse(t)["components"])["schemas"])["HealthReport"])
	props := obj(report["properties"])
	day := obj(obj(props["days"])["items"])
	held := obj(obj(props["held"])["items"])
	var reasons []string
	for _, r := range health.Reasons {
		reasons = append(reasons, string(r))
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"HealthReport properties", propertyNames(report), jsonNames(reflect.TypeFor[healthhttp.Response]())},
		{"day properties", propertyNames(day), jsonNames(reflect.TypeFor[healthhttp.Day]())},
		{"budget properties", propertyNames(obj(props["budget"])), jsonNames(reflect.TypeFor[healthhttp.Budget]())},
		{"held properties", propertyNames(held), jsonNames(reflect.TypeFor[healthhttp.Held]())},
		{"held reason enum", enumOf(obj(held["properties"])["reason"]), reasons},
		{"outcome statuses", sorted(enumOf(obj(obj(day["properties"])["outcomes"])["propertyNames"])), outcomeStatuses()},
		{"days maxItems", obj(props["days"])["maxItems"], float64(health.MaxDays)},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestSequenceMembersParameter: a sequence's GET documents its members
// query parameter (true or false, in the query), which asks for the count
// of its members; the PUT takes none.
func TestSequenceMembersParameter(t *testing.T) {
	t.Parallel()
	item := obj(obj(parse(t)["paths"])["/v1/sequences/{sequence_id}/salesforce"])
	find := func(op map[string]any) map[string]any {
		list, _ := op["parameters"].([]any)
		for _, p := range list {
			if obj(p)["name"] == "members" {
				return obj(p)
			}
		}
		return nil
	}
	p := find(obj(item["get"]))
	if p == nil {
		t.Fatal("GET: got no members parameter; want one in the query")
	}
	if got, want := [2]any{p["in"], enumOf(p["schema"])}, [2]any{"query", []string{"true", "false"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("GET members: got %v; want %v", got, want)
	}
	if p := find(obj(item["put"])); p != nil {
		t.Errorf("PUT: got members parameter %v; want none", p)
	}
}

// TestBudgetSchemasAreTheOneView: the budget of GET /v1/salesforce and of
// the health report document the members of budget.View, the one view of
// a team's budget both answer, and its states.
func TestBudgetSchemasAreTheOneView(t *testing.T) {
	t.Parallel()
	schemas := obj(obj(parse(t)["components"])["schemas"])
	states := []string{budget.StateOK, budget.StateNearCap, budget.StateCapped}
	for _, name := range []string{"ConnectionStatus", "HealthReport"} {
		b := obj(obj(obj(schemas[name])["properties"])["budget"])
		if got, want := propertyNames(b), jsonNames(reflect.TypeFor[budget.View]()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s budget properties: got %v; want %v", name, got, want)
		}
		if got := enumOf(obj(b["properties"])["state"]); !reflect.DeepEqual(got, states) {
			t.Errorf("%s budget states: got %v; want %v", name, got, states)
		}
	}
}

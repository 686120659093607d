package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sfsync/sfsync/infra/stack"
	"github.com/sfsync/sfsync/shared/resources"
)

const samTemplatePath = "../../template.yaml"

// loadSAM reads template.yaml into the same shape as a JSON template, with
// CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...) expanded to
// their long form and YAML aliases resolved.
func loadSAM(t *testing.T) cfn {
	t.Helper()
	raw, err := os.ReadFile(samTemplatePath)
	if err != nil {
		t.Fatalf("read SAM template: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse SAM template: %v", err)
	}
	v, err := fromYAML(&doc)
	if err != nil {
		t.Fatalf("SAM template: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("SAM template: got a %T at the top; want a mapping", v)
	}
	return cfn(m)
}

func fromYAML(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromYAML(n.Content[0])
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := []any{}
		for _, c := range n.Content {
			val, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: number %q: %w", n.Line, n.Value, err)
			}
			v = f
		case "!!bool":
			v = n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
		case "!!null":
			v = nil
		default:
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			resource, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
			}
			v = []any{resource, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// samFunction is a serverless function with the template's Globals applied.
func samFunction(t *testing.T, sam cfn, id string) map[string]any {
	t.Helper()
	r := sam.resource(t, id)
	if r["Type"] != "AWS::Serverless::Function" {
		t.Fatalf("SAM %s: got type %v; want AWS::Serverless::Function", id, r["Type"])
	}
	p := maps.Clone(asMap(asMap(asMap(sam["Globals"])["Function"])))
	if p == nil {
		p = map[string]any{}
	}
	for k, v := range asMap(r["Properties"]) {
		if g, ok := p[k].(map[string]any); ok {
			merged := maps.Clone(g)
			maps.Copy(merged, asMap(v))
			p[k] = merged
			continue
		}
		p[k] = v
	}
	return p
}

func TestSAMParity(t *testing.T) {
	t.Parallel()
	sam := loadSAM(t)
	cdk := tmpls[region]
	if sam["Transform"] != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform: got %v; want AWS::Serverless-2016-10-31", sam["Transform"])
	}

	t.Run("functions", func(t *testing.T) {
		t.Parallel()
		if got, want := len(sam.ofType("AWS::Serverless::Function")), len(resources.Functions); got != want {
			t.Errorf("SAM functions: got %d; want %d", got, want)
		}
		for _, decl := range resources.Functions {
			id, _ := stack.FunctionLogicalID(decl.Name)
			s, c := samFunction(t, sam, id), cdk.props(t, id)
			checks := []struct {
				what      string
				got, want any
			}{
				{"BuildMethod", asMap(sam.resource(t, id)["Metadata"])["BuildMethod"], "makefile"},
				{"Handler", s["Handler"], c["Handler"]},
				{"Runtime", s["Runtime"], c["Runtime"]},
				{"Architectures", strings.Join(strs(s["Architectures"]), ","), strings.Join(strs(c["Architectures"]), ",")},
				{"MemorySize", num(s["MemorySize"]), num(c["MemorySize"])},
				{"Timeout", num(s["Timeout"]), num(c["Timeout"])},
				{"Tracing", s["Tracing"], asMap(c["TracingConfig"])["Mode"]},
				{"LogFormat", asMap(s["LoggingConfig"])["LogFormat"], asMap(c["LoggingConfig"])["LogFormat"]},
				{"environment", strings.Join(envNames(s), ","), strings.Join(envNames(c), ",")},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s %s: got %v in SAM; want %v as in CDK", id, ch.what, ch.got, ch.want)
				}
			}
		}
	})

	t.Run("event sources", func(t *testing.T) {
		t.Parallel()
		cdkSources := map[string]map[string]any{}
		for _, id := range cdk.ofType("AWS::Lambda::EventSourceMapping") {
			p := cdk.props(t, id)
			cdkSources[ref(p["FunctionName"])] = p
		}
		for _, decl := range resources.Functions {
			id, _ := stack.FunctionLogicalID(decl.Name)
			var samSources []map[string]any
			for _, e := range asMap(samFunction(t, sam, id)["Events"]) {
				if asMap(e)["Type"] == "SQS" {
					samSources = append(samSources, asMap(asMap(e)["Properties"]))
				}
			}
			c, inCDK := cdkSources[id]
			if !inCDK {
				if len(samSources) > 0 {
					t.Errorf("%s: got %d SQS events in SAM; want none as in CDK", id, len(samSources))
				}
				continue
			}
			if len(samSources) != 1 {
				t.Errorf("%s: got %d SQS events in SAM; want 1", id, len(samSources))
				continue
			}
			s := samSources[0]
			checks := []struct {
				what      string
				got, want any
			}{
				{"queue", ref(s["Queue"]), ref(c["EventSourceArn"])},
				{"BatchSize", num(s["BatchSize"]), num(c["BatchSize"])},
				{"MaximumBatchingWindowInSeconds", num(s["MaximumBatchingWindowInSeconds"]), num(c["MaximumBatchingWindowInSeconds"])},
				{"FunctionResponseTypes", strings.Join(strs(s["FunctionResponseTypes"]), ","), strings.Join(strs(c["FunctionResponseTypes"]), ",")},
				{"MaximumConcurrency", num(asMap(s["ScalingConfig"])["MaximumConcurrency"]), num(asMap(c["ScalingConfig"])["MaximumConcurrency"])},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s %s: got %v in SAM; want %v as in CDK", id, ch.what, ch.got, ch.want)
				}
			}
		}
	})

	t.Run("schedules", func(t *testing.T) {
		t.Parallel()
		cdkRules := map[string]string{}
		for _, id := range cdk.ofType("AWS::Events::Rule") {
			p := cdk.props(t, id)
			for _, target := range asSlice(p["Targets"]) {
				cdkRules[ref(asMap(target)["Arn"])] = fmt.Sprint(p["ScheduleExpression"])
			}
		}
		samRules := map[string]string{}
		for _, id := range sam.ofType("AWS::Serverless::Function") {
			for _, e := range asMap(samFunction(t, sam, id)["Events"]) {
				if asMap(e)["Type"] == "Schedule" {
					samRules[id] = fmt.Sprint(asMap(asMap(e)["Properties"])["Schedule"])
				}
			}
		}
		if !maps.Equal(samRules, cdkRules) {
			t.Errorf("schedules: got %v in SAM; want %v as in CDK", samRules, cdkRules)
		}
	})

	t.Run("routes", func(t *testing.T) {
		t.Parallel()
		// route key -> "function auth"
		samRoutes := map[string]string{}
		for _, id := range sam.ofType("AWS::Serverless::Function") {
			for _, e := range asMap(samFunction(t, sam, id)["Events"]) {
				if asMap(e)["Type"] != "HttpApi" {
					continue
				}
				p := asMap(asMap(e)["Properties"])
				auth := "JWT"
				if asMap(p["Auth"])["Authorizer"] == "NONE" {
					auth = "NONE"
				}
				if ref(p["ApiId"]) != "HttpApi" {
					t.Errorf("SAM route %v %v: got ApiId %v; want !Ref HttpApi", p["Method"], p["Path"], p["ApiId"])
				}
				samRoutes[fmt.Sprintf("%v %v", p["Method"], p["Path"])] = id + " " + auth
			}
		}
		integrations := map[string]string{}
		for _, id := range cdk.ofType("AWS::ApiGatewayV2::Integration") {
			integrations[id] = ref(cdk.props(t, id)["IntegrationUri"])
		}
		cdkRoutes := map[string]string{}
		for _, id := range cdk.ofType("AWS::ApiGatewayV2::Route") {
			p := cdk.props(t, id)
			auth, _ := p["AuthorizationType"].(string)
			if auth == "" {
				auth = "NONE"
			}
			var fn string
			for _, r := range refs(p["Target"]) {
				fn = integrations[r]
			}
			cdkRoutes[p["RouteKey"].(string)] = fn + " " + auth
		}
		if !maps.Equal(samRoutes, cdkRoutes) {
			for k, v := range cdkRoutes {
				if samRoutes[k] != v {
					t.Errorf("route %s: got %q in SAM; want %q as in CDK", k, samRoutes[k], v)
				}
			}
			for k, v := range samRoutes {
				if _, ok := cdkRoutes[k]; !ok {
					t.Errorf("route %s: got %q in SAM; want no such route, as in CDK", k, v)
				}
			}
		}
		api := asMap(sam.props(t, "HttpApi")["Auth"])
		jwt := asMap(asMap(asMap(api["Authorizers"])[fmt.Sprint(api["DefaultAuthorizer"])])["JwtConfiguration"])
		if ref(jwt["issuer"]) != "JwtIssuer" || ref(jwt["audience"]) != "JwtAudience" {
			t.Errorf("SAM default JWT authorizer: got %v; want issuer and audience from the parameters", jwt)
		}
	})

	t.Run("queues", func(t *testing.T) {
		t.Parallel()
		if got, want := sam.ofType("AWS::SQS::Queue"), cdk.ofType("AWS::SQS::Queue"); !slices.Equal(got, want) {
			t.Errorf("queues: got %v in SAM; want %v as in CDK", got, want)
		}
		for _, id := range cdk.ofType("AWS::SQS::Queue") {
			s, c := sam.props(t, id), cdk.props(t, id)
			sr, cr := asMap(s["RedrivePolicy"]), asMap(c["RedrivePolicy"])
			checks := []struct {
				what      string
				got, want any
			}{
				{"VisibilityTimeout", num(s["VisibilityTimeout"]), num(c["VisibilityTimeout"])},
				{"MessageRetentionPeriod", num(s["MessageRetentionPeriod"]), num(c["MessageRetentionPeriod"])},
				{"SqsManagedSseEnabled", s["SqsManagedSseEnabled"], c["SqsManagedSseEnabled"]},
				{"redrive target", ref(sr["deadLetterTargetArn"]), ref(cr["deadLetterTargetArn"])},
				{"maxReceiveCount", num(sr["maxReceiveCount"]), num(cr["maxReceiveCount"])},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s %s: got %v in SAM; want %v as in CDK", id, ch.what, ch.got, ch.want)
				}
			}
		}
	})

	t.Run("tables keys and secret", func(t *testing.T) {
		t.Parallel()
		if got, want := sam.ofType("AWS::DynamoDB::Table"), cdk.ofType("AWS::DynamoDB::Table"); !slices.Equal(got, want) {
			t.Errorf("tables: got %v in SAM; want %v as in CDK", got, want)
		}
		for _, id := range cdk.ofType("AWS::DynamoDB::Table") {
			s, c := sam.props(t, id), cdk.props(t, id)
			for _, key := range []string{"KeySchema", "AttributeDefinitions", "BillingMode", "TimeToLiveSpecification", "PointInTimeRecoverySpecification", "DeletionProtectionEnabled", "GlobalSecondaryIndexes"} {
				if got, want := jsonText(s[key]), jsonText(c[key]); got != want {
					t.Errorf("%s %s: got %s in SAM; want %s as in CDK", id, key, got, want)
				}
			}
			if got, want := ref(asMap(s["SSESpecification"])["KMSMasterKeyId"]), ref(asMap(c["SSESpecification"])["KMSMasterKeyId"]); got != want {
				t.Errorf("%s SSE key: got %q in SAM; want %q as in CDK", id, got, want)
			}
		}
		for _, id := range slices.Concat(cdk.ofType("AWS::DynamoDB::Table"), []string{"DataKey", "TokenKey", "SalesforceClientSecret"}) {
			if got, want := sam.resource(t, id)["DeletionPolicy"], cdk.resource(t, id)["DeletionPolicy"]; got != want {
				t.Errorf("%s DeletionPolicy: got %v in SAM; want %v as in CDK", id, got, want)
			}
		}
	})

	t.Run("permissions", func(t *testing.T) {
		t.Parallel()
		// Both templates give each function an explicit role and spell out every
		// statement, X-Ray and SQS polling included, so they must match
		// statement for statement, with one exception: the CDK's table grants add
		// stream reads, meaningless on tables without a stream. A function's log
		// group has a CDK-generated id, so it is compared as "<function> logs".
		stream := func(action string) bool {
			return action == "dynamodb:GetRecords" || action == "dynamodb:GetShardIterator"
		}
		for _, decl := range resources.Functions {
			id, _ := stack.FunctionLogicalID(decl.Name)
			wantRole, _ := stack.FunctionRoleLogicalID(decl.Name)
			statements := func(tmpl cfn, fn map[string]any, side string) map[string]bool {
				role := ref(fn["Role"])
				if role != wantRole {
					t.Errorf("%s role in %s: got %q; want %q", id, side, role, wantRole)
				}
				logs := ref(asMap(fn["LoggingConfig"])["LogGroup"])
				out := map[string]bool{}
				for _, p := range rolePermissions(t, tmpl, role) {
					r := p.resource
					if r == logs {
						r = id + " logs"
					}
					for _, a := range p.actions {
						if !stream(a) {
							out[r+" "+a] = true
						}
					}
				}
				for _, m := range managedPolicies(t, tmpl, role) {
					out["managed policy "+m] = true
				}
				out["trusts "+strings.Join(trustedServices(tmpl.props(t, role)), ",")] = true
				return out
			}
			want := statements(cdk, cdk.props(t, id), "CDK")
			got := statements(sam, samFunction(t, sam, id), "SAM")
			for k := range want {
				if !got[k] {
					t.Errorf("%s: got no %q in SAM; want it as in CDK", id, k)
				}
			}
			for k := range got {
				if !want[k] {
					t.Errorf("%s: got %q in SAM; want none, as in CDK", id, k)
				}
			}
		}
	})

	t.Run("token key policy", func(t *testing.T) {
		t.Parallel()
		checkTokenKeyLock(t, sam, tokenKeyRoles(t, sam))
		if got, want := keyPolicyShape(t, sam), keyPolicyShape(t, cdk); !slices.Equal(got, want) {
			t.Errorf("TokenKey policy: got %v in SAM; want %v as in CDK", got, want)
		}
	})
}

// keyPolicyShape describes each statement of the token key's policy by what it
// means, not how it is spelt: effect, actions, principal (the account root,
// *, or the principals' references) and the roles in its condition.
func keyPolicyShape(t *testing.T, tmpl cfn) []string {
	t.Helper()
	var out []string
	for _, st := range asSlice(asMap(tmpl.props(t, "TokenKey")["KeyPolicy"])["Statement"]) {
		s := asMap(st)
		principal := jsonText(s["Principal"])
		switch {
		case strings.Contains(principal, ":root"):
			principal = "account root"
		case s["Principal"] == "*" || asMap(s["Principal"])["AWS"] == "*":
			principal = "*"
		}
		cond := asMap(s["Condition"])
		var conds []string
		for _, op := range slices.Sorted(maps.Keys(cond)) {
			for _, key := range slices.Sorted(maps.Keys(asMap(cond[op]))) {
				conds = append(conds, fmt.Sprintf("%s %s %v", op, key, refs(asMap(cond[op])[key])))
			}
		}
		out = append(out, fmt.Sprintf("%v %v %v on %v if %v", s["Effect"], sorted(strs(s["Action"])), principal, strs(s["Resource"]), conds))
	}
	sort.Strings(out)
	return out
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// cdkLintIgnores are cfn-lint findings the CDK itself produces: W3005 flags
// the explicit DependsOn the CDK adds from a function to its role policy.
var cdkLintIgnores = []string{"W3005"}

func TestCfnLint(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint is not on PATH (install it with: pip install cfn-lint): %v", err)
	}
	t.Run("template.yaml", func(t *testing.T) {
		t.Parallel()
		out, err := exec.Command(bin, "--", samTemplatePath).CombinedOutput()
		if err != nil {
			t.Errorf("cfn-lint template.yaml: got %v\n%s; want no findings", err, out)
		}
	})
	for _, r := range testRegions {
		t.Run(r, func(t *testing.T) {
			t.Parallel()
			raw, err := json.Marshal(tmpls[r])
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), stackInfos[r].name+".template.json")
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"--regions", r, "--ignore-checks"}
			args = append(args, cdkLintIgnores...)
			out, err := exec.Command(bin, append(args, "--", path)...).CombinedOutput()
			if err != nil {
				t.Errorf("cfn-lint %s: got %v\n%s; want no findings", r, err, out)
			}
		})
	}
}

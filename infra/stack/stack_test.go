package stack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/infra/stack"
	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/resources"
)

const region = "eu-west-1"

func TestTablesAreDurableAndEncrypted(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	if got, want := len(tmpl.ofType("AWS::DynamoDB::Table")), len(resources.Tables); got != want {
		t.Fatalf("got %d tables; want %d", got, want)
	}
	for _, decl := range resources.Tables {
		t.Run(decl.Name, func(t *testing.T) {
			t.Parallel()
			id := stack.TableLogicalID(decl.Name)
			r := tmpl.resource(t, id)
			p := asMap(r["Properties"])
			checks := []struct {
				what      string
				got, want any
			}{
				{"DeletionPolicy", r["DeletionPolicy"], "Retain"},
				{"UpdateReplacePolicy", r["UpdateReplacePolicy"], "Retain"},
				{"BillingMode", p["BillingMode"], "PAY_PER_REQUEST"},
				{"DeletionProtectionEnabled", p["DeletionProtectionEnabled"], true},
				{"PITR", asMap(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"], true},
				{"SSEType", asMap(p["SSESpecification"])["SSEType"], "KMS"},
				{"SSE key", ref(asMap(p["SSESpecification"])["KMSMasterKeyId"]), "DataKey"},
				{"TTL attribute", asMap(p["TimeToLiveSpecification"])["AttributeName"], resources.TTLAttribute},
				{"TTL enabled", asMap(p["TimeToLiveSpecification"])["Enabled"], true},
				{"key schema", keySchema(p), resources.PartitionKey + ":HASH " + resources.SortKey + ":RANGE"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %v; want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

// TestCDKMatchers repeats key properties through the CDK's own matchers, so
// a change in how the CDK renders them shows up here too. Not parallel: it
// calls into jsii.
func TestCDKMatchers(t *testing.T) {
	tmpl := templates[region]
	tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(len(resources.Tables)))
	tmpl.AllResources(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
		"DeletionPolicy": "Retain",
		"Properties": assertions.Match_ObjectLike(&map[string]any{
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"DeletionProtectionEnabled":        true,
			"BillingMode":                      "PAY_PER_REQUEST",
		}),
	})
	tmpl.AllResourcesProperties(jsii.String("AWS::Lambda::EventSourceMapping"), &map[string]any{
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
	})
	tmpl.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"TracingConfig": map[string]any{"Mode": "Active"},
		"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
	})
	// The sequencer's principal may send events and read outcomes.
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), &map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{
				"Action":    assertions.Match_ArrayWith(&[]any{"sqs:SendMessage"}),
				"Principal": map[string]any{"AWS": testConfig.SequencerPrincipals[0]},
			}),
		})},
	})
}

func keySchema(p map[string]any) string {
	var parts []string
	for _, k := range asSlice(p["KeySchema"]) {
		m := asMap(k)
		parts = append(parts, m["AttributeName"].(string)+":"+m["KeyType"].(string))
	}
	return strings.Join(parts, " ")
}

func TestKeysAndSecretAreRetained(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	for _, id := range []string{"DataKey", "TokenKey", "SalesforceClientSecret"} {
		r := tmpl.resource(t, id)
		if got := r["DeletionPolicy"]; got != "Retain" {
			t.Errorf("%s DeletionPolicy: got %v; want Retain", id, got)
		}
	}
	for _, id := range []string{"DataKey", "TokenKey"} {
		if got := tmpl.props(t, id)["EnableKeyRotation"]; got != true {
			t.Errorf("%s EnableKeyRotation: got %v; want true", id, got)
		}
	}
	if got := tmpl.ofType("AWS::KMS::Key"); !slices.Equal(got, []string{"DataKey", "TokenKey"}) {
		t.Errorf("KMS keys: got %v; want [DataKey TokenKey]", got)
	}
	secret := tmpl.props(t, "SalesforceClientSecret")
	if _, ok := secret["SecretString"]; ok {
		t.Errorf("client secret: got a SecretString in the template; want only a generated placeholder")
	}
	if secret["GenerateSecretString"] == nil {
		t.Errorf("client secret GenerateSecretString: got nil; want a generated placeholder")
	}
}

func TestQueuesHaveDLQsAndSafeTimeouts(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	consumerTimeout := map[string]float64{}
	for _, f := range resources.Functions {
		if f.Source != nil {
			consumerTimeout[f.Source.Queue] = max(consumerTimeout[f.Source.Queue], f.Timeout.Seconds())
		}
	}
	if got, want := len(tmpl.ofType("AWS::SQS::Queue")), 2*len(resources.Queues); got != want {
		t.Errorf("queues: got %d; want %d (each with a DLQ)", got, want)
	}
	for _, q := range resources.Queues {
		t.Run(q.Name, func(t *testing.T) {
			t.Parallel()
			main := tmpl.props(t, stack.QueueLogicalID(q.Name))
			dlq := tmpl.props(t, stack.DLQLogicalID(q.Name))
			redrive := asMap(main["RedrivePolicy"])
			if got, want := ref(redrive["deadLetterTargetArn"]), stack.DLQLogicalID(q.Name); got != want {
				t.Errorf("redrive target: got %q; want %q", got, want)
			}
			if got := num(redrive["maxReceiveCount"]); got < 5 || got != float64(q.MaxReceiveCount) {
				t.Errorf("maxReceiveCount: got %v; want %d (>= 5)", got, q.MaxReceiveCount)
			}
			if got, min := num(main["VisibilityTimeout"]), 6*consumerTimeout[q.Name]; got < min || got != q.VisibilityTimeout.Seconds() {
				t.Errorf("VisibilityTimeout: got %v; want %v (>= %v)", got, q.VisibilityTimeout.Seconds(), min)
			}
			if got := num(main["MessageRetentionPeriod"]); got != q.Retention.Seconds() {
				t.Errorf("retention: got %v; want %v", got, q.Retention.Seconds())
			}
			if got := num(dlq["MessageRetentionPeriod"]); got != 14*24*3600 {
				t.Errorf("DLQ retention: got %v; want %d", got, 14*24*3600)
			}
			for name, p := range map[string]map[string]any{"queue": main, "DLQ": dlq} {
				if p["SqsManagedSseEnabled"] != true && p["KmsMasterKeyId"] == nil {
					t.Errorf("%s encryption: got none; want SSE", name)
				}
			}
		})
	}
}

func TestFunctionsFollowTheirDeclarations(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	roles := map[string]string{}
	for _, decl := range resources.Functions {
		id, err := stack.FunctionLogicalID(decl.Name)
		if err != nil {
			t.Fatal(err)
		}
		p := tmpl.props(t, id)
		checks := []struct {
			what      string
			got, want any
		}{
			{"Runtime", p["Runtime"], "provided.al2023"},
			{"Architectures", strings.Join(strs(p["Architectures"]), ","), "arm64"},
			{"Handler", p["Handler"], "bootstrap"},
			{"MemorySize", num(p["MemorySize"]), float64(decl.Memory)},
			{"Timeout", num(p["Timeout"]), decl.Timeout.Seconds()},
			{"LogFormat", asMap(p["LoggingConfig"])["LogFormat"], "JSON"},
			{"Tracing", asMap(p["TracingConfig"])["Mode"], "Active"},
			{"environment", strings.Join(envNames(p), ","), strings.Join(sorted(wantEnv(decl)), ",")},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s %s: got %v; want %v", decl.Name, c.what, c.got, c.want)
			}
		}
		role := ref(p["Role"])
		if other, dup := roles[role]; dup {
			t.Errorf("%s role: got %s, shared with %s; want a role per function", decl.Name, role, other)
		}
		roles[role] = decl.Name
	}
	for _, decl := range resources.Functions {
		if decl.Source == nil || !slices.Contains(decl.Env, resources.EnvDeadLetterQueueURL) {
			continue
		}
		id, _ := stack.FunctionLogicalID(decl.Name)
		env := asMap(asMap(tmpl.props(t, id)["Environment"])["Variables"])
		if got, want := ref(env[resources.EnvDeadLetterQueueURL]), stack.DLQLogicalID(decl.Source.Queue); got != want {
			t.Errorf("%s %s: got %q; want the DLQ of its own queue %q", decl.Name, resources.EnvDeadLetterQueueURL, got, want)
		}
	}
	env := asMap(asMap(tmpl.props(t, "ApiFunction")["Environment"])["Variables"])
	if got, want := env[console.EnvFrameAncestors], testConfig.ConsoleFrameAncestors; got != want {
		t.Errorf("api %s: got %v; want the config's consoleFrameAncestors %q", console.EnvFrameAncestors, got, want)
	}
	if got := env[resources.EnvOAuthRedirectURL]; !strings.Contains(strings.Join(refs(got), ","), "HttpApi") {
		t.Errorf("api %s: got %v; want the HTTP API's callback URL", resources.EnvOAuthRedirectURL, got)
	}
}

// wantEnv are the variables a function's environment holds: those it
// declares, and the api's optional console setting.
func wantEnv(decl resources.Function) []string {
	if decl.Name == "api" {
		return append(slices.Clone(decl.Env), console.EnvFrameAncestors)
	}
	return decl.Env
}

func envNames(p map[string]any) []string {
	return sorted(slices.Collect(maps.Keys(asMap(asMap(p["Environment"])["Variables"]))))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestEventSourceMappings(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	byFunction := map[string]map[string]any{}
	for _, id := range tmpl.ofType("AWS::Lambda::EventSourceMapping") {
		p := tmpl.props(t, id)
		byFunction[ref(p["FunctionName"])] = p
	}
	for _, decl := range resources.Functions {
		id, _ := stack.FunctionLogicalID(decl.Name)
		p, ok := byFunction[id]
		if decl.Source == nil {
			if ok {
				t.Errorf("%s: got an event source mapping; want none", decl.Name)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: got no event source mapping; want one", decl.Name)
			continue
		}
		checks := []struct {
			what      string
			got, want any
		}{
			{"queue", ref(p["EventSourceArn"]), stack.QueueLogicalID(decl.Source.Queue)},
			{"BatchSize", num(p["BatchSize"]), float64(decl.Source.BatchSize)},
			{"MaximumBatchingWindowInSeconds", num(p["MaximumBatchingWindowInSeconds"]), decl.Source.BatchingWindow.Seconds()},
			{"MaximumConcurrency", num(asMap(p["ScalingConfig"])["MaximumConcurrency"]), float64(decl.Source.MaxConcurrency)},
			{"FunctionResponseTypes", strings.Join(strs(p["FunctionResponseTypes"]), ","), "ReportBatchItemFailures"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s %s: got %v; want %v", decl.Name, c.what, c.got, c.want)
			}
		}
	}
}

// TestSchedules: a function declaring a schedule is invoked by an
// EventBridge rule at that rate, which may invoke it and nothing else; the
// other functions have no rule.
func TestSchedules(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	rules := map[string]string{} // function logical id -> schedule expression
	for _, id := range tmpl.ofType("AWS::Events::Rule") {
		p := tmpl.props(t, id)
		targets := asSlice(p["Targets"])
		if len(targets) != 1 || p["State"] != "ENABLED" {
			t.Errorf("rule %s: got %d targets, state %v; want one target, enabled", id, len(targets), p["State"])
			continue
		}
		fn := ref(asMap(targets[0])["Arn"])
		rules[fn] = fmt.Sprint(p["ScheduleExpression"])
		var allowed bool
		for _, pid := range tmpl.ofType("AWS::Lambda::Permission") {
			pp := tmpl.props(t, pid)
			if pp["Principal"] == "events.amazonaws.com" && ref(pp["FunctionName"]) == fn && ref(pp["SourceArn"]) == id && pp["Action"] == "lambda:InvokeFunction" {
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("rule %s: got no permission for events.amazonaws.com to invoke %s from this rule; want one", id, fn)
		}
	}
	for _, decl := range resources.Functions {
		id, _ := stack.FunctionLogicalID(decl.Name)
		want := ""
		if decl.Schedule > 0 {
			want = decl.ScheduleExpression()
		}
		if got := rules[id]; got != want {
			t.Errorf("%s schedule: got %q; want %q", decl.Name, got, want)
		}
	}
	if got := resources.Functions[0].ScheduleExpression(); resources.Functions[0].Name != "api" || got != "rate(2 minutes)" {
		t.Errorf("api schedule: got %s %q; want api rate(2 minutes)", resources.Functions[0].Name, got)
	}
}

func TestHTTPAPI(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	authorizers := tmpl.ofType("AWS::ApiGatewayV2::Authorizer")
	if len(authorizers) != 1 {
		t.Fatalf("authorizers: got %v; want one", authorizers)
	}
	auth := tmpl.props(t, authorizers[0])
	jwt := asMap(auth["JwtConfiguration"])
	if got, want := jwt["Issuer"], testConfig.JWTIssuer; got != want {
		t.Errorf("JWT issuer: got %v; want %v", got, want)
	}
	if got, want := strs(jwt["Audience"]), testConfig.JWTAudience; !slices.Equal(got, want) {
		t.Errorf("JWT audience: got %v; want %v", got, want)
	}

	routes := map[string]map[string]any{}
	for _, id := range tmpl.ofType("AWS::ApiGatewayV2::Route") {
		p := tmpl.props(t, id)
		routes[p["RouteKey"].(string)] = p
	}
	if got, want := len(routes), len(resources.Routes); got != want {
		t.Errorf("routes: got %d; want %d", got, want)
	}
	for _, r := range resources.Routes {
		p, ok := routes[r.Key()]
		if !ok {
			t.Errorf("route %s: got none; want one", r.Key())
			continue
		}
		gotType, _ := p["AuthorizationType"].(string)
		if gotType == "" {
			gotType = "NONE"
		}
		wantType, wantAuthorizer := "JWT", authorizers[0]
		if r.Public {
			wantType, wantAuthorizer = "NONE", ""
		}
		if gotType != wantType || ref(p["AuthorizerId"]) != wantAuthorizer {
			t.Errorf("route %s: got %s authorizer %q; want %s authorizer %q", r.Key(), gotType, ref(p["AuthorizerId"]), wantType, wantAuthorizer)
		}
	}

	stages := tmpl.ofType("AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("stages: got %v; want one", stages)
	}
	stage := tmpl.props(t, stages[0])
	settings := asMap(stage["DefaultRouteSettings"])
	if got, want := num(settings["ThrottlingRateLimit"]), testConfig.Throttle.RatePerSecond; got != want {
		t.Errorf("stage rate limit: got %v; want %v", got, want)
	}
	if got, want := num(settings["ThrottlingBurstLimit"]), float64(testConfig.Throttle.Burst); got != want {
		t.Errorf("stage burst limit: got %v; want %v", got, want)
	}
	logs := asMap(stage["AccessLogSettings"])
	if dest := ref(logs["DestinationArn"]); tmpl.resource(t, dest)["Type"] != "AWS::Logs::LogGroup" {
		t.Errorf("access log destination: got %q; want a log group", dest)
	}
	if format, _ := logs["Format"].(string); !strings.Contains(format, "$context.requestId") || strings.Contains(strings.ToLower(format), "authorization") {
		t.Errorf("access log format: got %q; want request id and no authorization header", format)
	}
	cors := asMap(tmpl.props(t, "HttpApi")["CorsConfiguration"])
	if got := strs(cors["AllowOrigins"]); !slices.Equal(got, []string{testConfig.AdminOrigin}) {
		t.Errorf("CORS origins: got %v; want [%s]", got, testConfig.AdminOrigin)
	}
	// Every PUT of a versioned document sends If-Match: without it in the
	// preflight's answer, the browser never sends the PUT.
	if got := strs(cors["AllowHeaders"]); !slices.Equal(got, []string{"authorization", "content-type", "if-match"}) {
		t.Errorf("CORS headers: got %v; want [authorization content-type if-match]", got)
	}
}

// grant is an expected IAM permission: actions on one resource.
type grant struct {
	resource string
	actions  []string
}

func TestLeastPrivilegePerFunction(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	tableRead := []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"}
	tableWrite := []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
	send := []string{"sqs:SendMessage"}
	consume := []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}
	secret := []string{"secretsmanager:GetSecretValue"}
	decryptGenerate := []string{"kms:Decrypt", "kms:GenerateDataKey"}
	tokenEncrypt := []string{"kms:Encrypt", "kms:ReEncrypt*"}
	logWrite := []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	cases := []struct {
		fn     string
		want   []grant
		forbid []grant
	}{
		{
			fn: "api",
			want: []grant{
				{"ConnectionsTable", slices.Concat(tableRead, tableWrite)},
				{"PoliciesTable", slices.Concat(tableRead, tableWrite)},
				{"LedgerTable", slices.Concat(tableRead, tableWrite)},
				// POST /v1/salesforce/errors/retry re-sends failed contacts' events.
				{"ContactEventsQueue", send},
				{"SalesforceClientSecret", secret},
				// Sealing tokens takes a data key; opening them, Decrypt.
				{"TokenKey", decryptGenerate},
			},
			forbid: []grant{
				{"TokenKey", tokenEncrypt},
				// It never sends email activity: no retry re-sends it.
				{"ActivityEventsQueue", slices.Concat(send, consume)},
				{"ContactEventsQueue", consume},
				{"ResultsQueue", slices.Concat(send, consume)},
				{"ContactEventsDLQ", send}, {"ActivityEventsDLQ", send}, {"ResultsDLQ", send},
			},
		},
		{
			fn: "contactsync",
			want: []grant{
				{"ConnectionsTable", slices.Concat(tableRead, tableWrite)},
				{"LedgerTable", slices.Concat(tableRead, tableWrite)},
				{"PoliciesTable", tableRead},
				{"ResultsQueue", send},
				{"ContactEventsQueue", slices.Concat(send, consume)}, // send: parks held events on its own queue
				{"ActivityEventsQueue", send},                        // releases activity held for a contact that synced
				{"ContactEventsDLQ", send},
				{"SalesforceClientSecret", secret},
				{"TokenKey", decryptGenerate},
			},
			forbid: []grant{
				{"PoliciesTable", tableWrite},
				{"TokenKey", tokenEncrypt},
				{"ActivityEventsQueue", consume},
				{"ActivityEventsDLQ", send},
				{"ResultsQueue", consume},
			},
		},
		{
			fn: "activitysync",
			want: []grant{
				{"ConnectionsTable", slices.Concat(tableRead, tableWrite)},
				{"LedgerTable", slices.Concat(tableRead, tableWrite)},
				{"PoliciesTable", tableRead},
				{"ResultsQueue", send},
				{"ActivityEventsQueue", slices.Concat(send, consume)}, // send: parks held events on its own queue
				{"ActivityEventsDLQ", send},
				{"SalesforceClientSecret", secret},
				{"TokenKey", decryptGenerate},
			},
			forbid: []grant{
				{"PoliciesTable", tableWrite},
				{"TokenKey", tokenEncrypt},
				{"ContactEventsQueue", slices.Concat(send, consume)},
				{"ContactEventsDLQ", send},
				{"ResultsQueue", consume},
			},
		},
	}
	logGroups := map[string]string{} // function logical id -> its log group's
	for _, decl := range resources.Functions {
		id, _ := stack.FunctionLogicalID(decl.Name)
		logGroups[id] = ref(asMap(tmpl.props(t, id)["LoggingConfig"])["LogGroup"])
	}
	for _, tc := range cases {
		t.Run(tc.fn, func(t *testing.T) {
			t.Parallel()
			id, _ := stack.FunctionLogicalID(tc.fn)
			role := ref(tmpl.props(t, id)["Role"])
			if wantRole, _ := stack.FunctionRoleLogicalID(tc.fn); role != wantRole {
				t.Errorf("role: got %q; want its own role %q", role, wantRole)
			}
			if got := trustedServices(tmpl.props(t, role)); !slices.Equal(got, []string{"lambda.amazonaws.com"}) {
				t.Errorf("role trusts %v; want only lambda.amazonaws.com", got)
			}
			if managed := managedPolicies(t, tmpl, role); len(managed) > 0 {
				t.Errorf("role managed policies: got %v; want none (AWSLambdaBasicExecutionRole is logs:* on *)", managed)
			}
			tc.want = append(tc.want, grant{"*", xrayActions}, grant{logGroups[id], logWrite})
			for other, lg := range logGroups {
				if other != id {
					tc.forbid = append(tc.forbid, grant{lg, logWrite})
				}
			}
			tc.forbid = append(tc.forbid,
				grant{logGroups[id], []string{"logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"}},
				grant{"TokenKey", []string{"kms:CreateGrant", "kms:PutKeyPolicy"}})
			allowed := rolePermissions(t, tmpl, role)
			for _, g := range tc.want {
				for _, a := range g.actions {
					if !allowed.allows(g.resource, a) {
						t.Errorf("%s on %s: got denied; want allowed", a, g.resource)
					}
				}
			}
			for _, g := range tc.forbid {
				for _, a := range g.actions {
					if allowed.allows(g.resource, a) {
						t.Errorf("%s on %s: got allowed; want denied", a, g.resource)
					}
				}
			}
			for _, p := range allowed {
				if !strings.Contains(p.resource, "*") || tableIndexes(p.resource, allowed) {
					continue
				}
				for _, a := range p.actions {
					if p.resource != "*" || !slices.Contains(xrayActions, a) {
						t.Errorf("%s on resource %s: got allowed; want the known resource (only %v may be on *)", a, p.resource, xrayActions)
					}
				}
			}
		})
	}
}

// xrayActions are the only actions a function may have on resource "*":
// X-Ray has no resource-level permissions, so AWS accepts only "*" for them.
var xrayActions = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

// trustedServices lists the service principals a role's trust policy allows.
func trustedServices(role map[string]any) []string {
	var out []string
	for _, st := range asSlice(asMap(role["AssumeRolePolicyDocument"])["Statement"]) {
		s := asMap(st)
		if s["Effect"] == "Allow" {
			out = append(out, strs(asMap(s["Principal"])["Service"])...)
			if p := asMap(s["Principal"]); p["AWS"] != nil || p["Federated"] != nil {
				out = append(out, "non-service principal")
			}
		}
	}
	return sorted(out)
}

// managedPolicies lists the managed policies attached to a role, by its own
// ManagedPolicyArns or by an AWS::IAM::ManagedPolicy's Roles.
// Their statements are not in the template, so a least-privilege role has none.
func managedPolicies(t *testing.T, tmpl cfn, role string) []string {
	t.Helper()
	var out []string
	for _, arn := range asSlice(tmpl.props(t, role)["ManagedPolicyArns"]) {
		out = append(out, jsonText(arn))
	}
	for _, id := range tmpl.ofType("AWS::IAM::ManagedPolicy") {
		if slices.Contains(refs(tmpl.props(t, id)["Roles"]), role) {
			out = append(out, id)
		}
	}
	return out
}

// TestOnlyFunctionsDecryptTokens checks that no IAM policy in the stack lets
// anything but the function roles decrypt with the token key.
func TestOnlyFunctionsDecryptTokens(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	functionRoles := map[string]bool{}
	for _, decl := range resources.Functions {
		id, _ := stack.FunctionLogicalID(decl.Name)
		functionRoles[ref(tmpl.props(t, id)["Role"])] = true
	}
	for _, id := range tmpl.ofType("AWS::IAM::Policy") {
		p := tmpl.props(t, id)
		for _, st := range asSlice(asMap(p["PolicyDocument"])["Statement"]) {
			s := asMap(st)
			if !slices.Contains(refs(s["Resource"]), "TokenKey") && !slices.Contains(strs(s["Resource"]), "*") {
				continue
			}
			if !slices.ContainsFunc(strs(s["Action"]), func(a string) bool { return a == "kms:Decrypt" || a == "kms:*" }) {
				continue
			}
			for _, r := range refs(p["Roles"]) {
				if !functionRoles[r] {
					t.Errorf("policy %s: got kms:Decrypt on the token key for role %s; want function roles only", id, r)
				}
			}
		}
	}
}

func TestTokenKeyPolicyDeniesDecryptToOthers(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	checkTokenKeyLock(t, tmpl, tokenKeyRoles(t, tmpl))
	for _, st := range asSlice(asMap(tmpl.props(t, "DataKey")["KeyPolicy"])["Statement"]) {
		if asMap(st)["Effect"] == "Deny" {
			t.Errorf("data key policy: got a Deny %v; want the token lock on the token key only", st)
		}
	}
}

// tokenKeyRoles are the roles of the functions that use the token key, sorted.
func tokenKeyRoles(t *testing.T, tmpl cfn) []string {
	t.Helper()
	var roles []string
	for _, decl := range resources.Functions {
		if stack.DefaultAccess[decl.Name].TokenKey == stack.TokenKeyNone {
			continue
		}
		id, _ := stack.FunctionLogicalID(decl.Name)
		roles = append(roles, ref(tmpl.props(t, id)["Role"]))
	}
	sort.Strings(roles)
	return roles
}

// Actions on the token key that read a stored token or pass that power on
// (ReEncryptFrom decrypts under the key; a grant can allow Decrypt), and
// administration the account root must keep.
var (
	tokenReadPaths = []string{"kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant"}
	keyAdmin       = []string{"kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey", "kms:EnableKeyRotation",
		"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:ListGrants", "kms:RevokeGrant", "kms:RetireGrant", "kms:TagResource"}
)

// checkTokenKeyLock checks the token key's policy: every token read path is
// denied to every principal but exactly the function roles, and the account
// root keeps kms:* apart from those, so key administration stays possible.
func checkTokenKeyLock(t *testing.T, tmpl cfn, functionRoles []string) {
	t.Helper()
	statements := asSlice(asMap(tmpl.props(t, "TokenKey")["KeyPolicy"])["Statement"])
	denied := map[string]bool{}
	for _, st := range statements {
		s := asMap(st)
		if s["NotAction"] != nil || s["NotPrincipal"] != nil || s["NotResource"] != nil {
			t.Errorf("token key statement %v: got NotAction/NotPrincipal/NotResource; want none", s)
		}
		if s["Effect"] != "Deny" {
			continue
		}
		actions := permissions{{resource: "*", actions: strs(s["Action"])}}
		for _, a := range keyAdmin {
			if actions.allows("*", a) {
				t.Errorf("token key Deny %v: covers %s; want key administration left to the account", strs(s["Action"]), a)
			}
		}
		if p := s["Principal"]; p != "*" && asMap(p)["AWS"] != "*" {
			t.Errorf("token key Deny %v: got principal %v; want every principal (*)", strs(s["Action"]), p)
		}
		if got := strs(s["Resource"]); !slices.Equal(got, []string{"*"}) {
			t.Errorf("token key Deny %v: got resource %v; want * (the key itself)", strs(s["Action"]), got)
		}
		cond := asMap(s["Condition"])
		exempt := asMap(cond["ArnNotEquals"])
		if len(cond) != 1 || len(exempt) != 1 {
			t.Errorf("token key Deny %v: got condition %v; want only ArnNotEquals aws:PrincipalArn", strs(s["Action"]), cond)
		}
		if got := refs(exempt["aws:PrincipalArn"]); !slices.Equal(got, functionRoles) {
			t.Errorf("token key Deny %v: exempts %v; want exactly the function roles %v", strs(s["Action"]), got, functionRoles)
			continue
		}
		for _, a := range tokenReadPaths {
			if actions.allows("*", a) {
				denied[a] = true
			}
		}
	}
	for _, a := range tokenReadPaths {
		if !denied[a] {
			t.Errorf("token key policy: got no Deny of %s to others; want one exempting only the function roles %v", a, functionRoles)
		}
	}
	var rootAdmin bool
	for _, st := range statements {
		s := asMap(st)
		if s["Effect"] == "Allow" && strings.Contains(jsonText(asMap(s["Principal"])["AWS"]), ":root") &&
			slices.Equal(strs(s["Action"]), []string{"kms:*"}) && s["Condition"] == nil {
			rootAdmin = true
		}
	}
	if !rootAdmin {
		t.Errorf("token key policy: got no unconditional Allow of kms:* to the account root; want one, so the key stays administrable")
	}
}

type permission struct {
	resource string
	actions  []string
}

type permissions []permission

func (ps permissions) allows(resource, action string) bool {
	for _, p := range ps {
		if p.resource != resource && p.resource != "*" {
			continue
		}
		for _, a := range p.actions {
			if a == action || (strings.HasSuffix(a, "*") && strings.HasPrefix(action, strings.TrimSuffix(a, "*"))) {
				return true
			}
		}
	}
	return false
}

// tableIndexes reports whether resource names the indexes of a table the
// role is granted itself ("<table ARN>/index/*", as the CDK's table grants
// write it): a wildcard over the table's own indexes, not beyond it.
func tableIndexes(resource string, allowed permissions) bool {
	var join struct {
		Join []json.RawMessage `json:"Fn::Join"`
	}
	if json.Unmarshal([]byte(resource), &join) != nil || len(join.Join) != 2 {
		return false
	}
	var parts []any
	if json.Unmarshal(join.Join[1], &parts) != nil || len(parts) != 2 || parts[1] != "/index/*" {
		return false
	}
	table := ref(parts[0])
	for _, p := range allowed {
		if p.resource == table && table != "" {
			return true
		}
	}
	return false
}

// rolePermissions collects the Allow statements of every inline policy of a
// role: its own Policies and the AWS::IAM::Policy and AWS::IAM::RolePolicy
// resources naming it. Managed policies are managedPolicies' concern. A
// statement with NotAction or NotResource fails the test: it cannot be least
// privilege.
func rolePermissions(t *testing.T, tmpl cfn, role string) permissions {
	t.Helper()
	var docs []any
	for _, p := range asSlice(tmpl.props(t, role)["Policies"]) {
		docs = append(docs, asMap(p)["PolicyDocument"])
	}
	for _, id := range tmpl.ofType("AWS::IAM::Policy") {
		if p := tmpl.props(t, id); slices.Contains(refs(p["Roles"]), role) {
			docs = append(docs, p["PolicyDocument"])
		}
	}
	for _, id := range tmpl.ofType("AWS::IAM::RolePolicy") {
		if p := tmpl.props(t, id); ref(p["RoleName"]) == role {
			docs = append(docs, p["PolicyDocument"])
		}
	}
	var out permissions
	for _, doc := range docs {
		for _, st := range asSlice(asMap(doc)["Statement"]) {
			s := asMap(st)
			if s["NotAction"] != nil || s["NotResource"] != nil {
				t.Errorf("role %s: got a statement with NotAction or NotResource %v; want Action and Resource", role, s)
			}
			if s["Effect"] != "Allow" {
				continue
			}
			for _, r := range resourceNames(s["Resource"]) {
				out = append(out, permission{resource: r, actions: strs(s["Action"])})
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("role %s: got no permissions; want some", role)
	}
	return out
}

// resourceNames names each resource of a statement: the logical id it refers
// to (Ref or Fn::GetAtt), a literal as it is ("*", an ARN), anything else
// (Fn::Join, Fn::Sub, ...) as its JSON text, so a wildcard in it stays visible.
func resourceNames(v any) []string {
	items := asSlice(v)
	if items == nil {
		items = []any{v}
	}
	var out []string
	for _, r := range items {
		switch {
		case ref(r) != "":
			out = append(out, ref(r))
		case r != nil:
			if s, ok := r.(string); ok {
				out = append(out, s)
			} else {
				out = append(out, jsonText(r))
			}
		}
	}
	return out
}

func TestAlarms(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	type alarm struct{ metric, dimension string }
	var got []alarm
	expressions := map[string]bool{}
	for _, id := range tmpl.ofType("AWS::CloudWatch::Alarm") {
		p := tmpl.props(t, id)
		if len(refs(p["AlarmActions"])) == 0 {
			t.Errorf("alarm %s: got no alarm action; want the alarm topic", id)
		}
		if m, ok := p["MetricName"].(string); ok {
			for _, d := range asSlice(p["Dimensions"]) {
				got = append(got, alarm{m, ref(asMap(d)["Value"])})
			}
		}
		for _, m := range asSlice(p["Metrics"]) {
			if e, ok := asMap(m)["Expression"].(string); ok {
				expressions[e] = true
			}
		}
	}
	var want []alarm
	for _, q := range resources.Queues {
		want = append(want, alarm{"ApproximateNumberOfMessagesVisible", stack.DLQLogicalID(q.Name)})
	}
	for _, f := range resources.Functions {
		id, _ := stack.FunctionLogicalID(f.Name)
		want = append(want, alarm{"Errors", id}, alarm{"Throttles", id})
		if f.Source != nil {
			want = append(want, alarm{"ApproximateAgeOfOldestMessage", stack.QueueLogicalID(f.Source.Queue)})
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("alarm on %s of %s: got none; want one", w.metric, w.dimension)
		}
	}
	// The names the functions emit (package metrics) each have their alarm.
	for _, metric := range metrics.Alarmed {
		want := `SELECT SUM(` + metric + `) FROM SCHEMA("` + metrics.Namespace + `", TeamId)`
		if !expressions[want] {
			t.Errorf("alarm on %s: got expressions %v; want %q", metric, slices.Collect(maps.Keys(expressions)), want)
		}
	}
	subs := tmpl.ofType("AWS::SNS::Subscription")
	if len(subs) != 1 || tmpl.props(t, subs[0])["Endpoint"] != testConfig.Alarms.Email {
		t.Errorf("alarm subscriptions: got %v; want one for %s", subs, testConfig.Alarms.Email)
	}
}

func TestOutputsForTheSequencer(t *testing.T) {
	t.Parallel()
	tmpl := tmpls[region]
	outputs := asMap(tmpl["Outputs"])
	want := map[string]string{"ApiUrl": "HttpApi"}
	for _, q := range resources.Queues {
		want[strings.TrimSuffix(stack.QueueLogicalID(q.Name), "Queue")+"QueueUrl"] = stack.QueueLogicalID(q.Name)
	}
	for name, target := range want {
		o := asMap(outputs[name])
		if o == nil {
			t.Errorf("output %s: got none; want one", name)
			continue
		}
		if !slices.Contains(refs(o["Value"]), target) {
			t.Errorf("output %s: got %v; want a reference to %s", name, o["Value"], target)
		}
	}
}

func TestRegionsAreSelfContained(t *testing.T) {
	t.Parallel()
	if got, want := len(tmpls), len(testRegions); got != want {
		t.Fatalf("stacks: got %d; want %d", got, want)
	}
	counts := map[string]int{}
	for _, r := range testRegions {
		info := stackInfos[r]
		if got, want := info.name, "sfsync-test-"+r; got != want {
			t.Errorf("stack name: got %s; want %s", got, want)
		}
		if got := info.region; got != r {
			t.Errorf("stack region: got %s; want %s", got, r)
		}
		tmpl := tmpls[r]
		if containsKey(tmpl, "Fn::ImportValue") {
			t.Errorf("%s: got Fn::ImportValue; want no cross-stack reference", r)
		}
		for name, o := range asMap(tmpl["Outputs"]) {
			if _, ok := asMap(o)["Export"]; ok {
				t.Errorf("%s output %s: got an export; want none", r, name)
			}
		}
		if info.dependencies > 0 {
			t.Errorf("%s: got %d stack dependencies; want none", r, info.dependencies)
		}
		counts[r] = len(tmpl.resources())
	}
	if counts[testRegions[0]] != counts[testRegions[1]] {
		t.Errorf("resource counts: got %v; want the same stack in every region", counts)
	}
}

// Not parallel: it calls into jsii.
func TestStackRejectsBadProps(t *testing.T) {
	cases := []struct {
		name     string
		assetDir string
		access   map[string]stack.Access
		wantErr  error
		wantText string
	}{
		{name: "missing asset", assetDir: t.TempDir(), wantErr: stack.ErrMissingAsset, wantText: "api.zip"},
		{name: "function without access", assetDir: assetDir, access: map[string]stack.Access{"api": stack.DefaultAccess["api"]}, wantText: "function contactsync: no access declared"},
		{name: "unknown writable table", assetDir: assetDir, access: withAccess("contactsync", stack.Access{WriteTables: []string{"ledgr"}, TokenKey: stack.TokenKeyDecryptGenerate}), wantText: `unknown table "ledgr"`},
		{name: "token key env without access", assetDir: assetDir, access: withAccess("activitysync", stack.Access{}), wantText: "function activitysync: declares TOKEN_KMS_KEY_ID but has no token key access"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			_, err := stack.NewServiceStack(app, "bad", &stack.ServiceStackProps{Config: testConfig, AssetDir: tc.assetDir, Access: tc.access})
			if err == nil {
				t.Fatalf("got no error; want %q", tc.wantText)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v; want errors.Is %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("got %q; want it to mention %q", err, tc.wantText)
			}
		})
	}
}

func withAccess(fn string, a stack.Access) map[string]stack.Access {
	m := maps.Clone(stack.DefaultAccess)
	m[fn] = a
	return m
}

func TestEveryFunctionHasALogicalID(t *testing.T) {
	t.Parallel()
	for _, f := range resources.Functions {
		if _, err := stack.FunctionLogicalID(f.Name); err != nil {
			t.Errorf("got %v; want a logical id for %s", err, f.Name)
		}
	}
	if _, err := stack.FunctionLogicalID("nope"); err == nil {
		t.Errorf("got no error for an unknown function; want one")
	}
}

// TestAccessWritesTheDeclaredTables: each function's role writes exactly
// the tables its declaration names (resources.Function.WriteTables), the
// ones the local stack's table gate lets it write: a store the tests let
// through is one AWS lets through.
func TestAccessWritesTheDeclaredTables(t *testing.T) {
	t.Parallel()
	for _, decl := range resources.Functions {
		got := slices.Sorted(slices.Values(stack.DefaultAccess[decl.Name].WriteTables))
		want := slices.Sorted(slices.Values(decl.WriteTables))
		if !slices.Equal(got, want) {
			t.Errorf("%s writes: got %v in its role; want %v as declared", decl.Name, got, want)
		}
	}
}

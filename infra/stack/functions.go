package stack

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/resources"
)

// ErrMissingAsset is returned when a function's zip is not in the asset directory.
var ErrMissingAsset = errors.New("function asset missing (run make build)")

// TokenKeyAccess is what a function may do with the token key.
type TokenKeyAccess int

const (
	// TokenKeyNone: no use of the token key.
	TokenKeyNone TokenKeyAccess = iota
	// TokenKeyDecryptGenerate: read stored tokens (Decrypt) and seal new or
	// refreshed ones (GenerateDataKey): all that envelope encryption
	// (shared/platform/sealing) calls. Neither kms:Encrypt nor kms:ReEncrypt*: the
	// key never encrypts a token itself, only the data key that does.
	TokenKeyDecryptGenerate
)

// Access is the least privilege of one function beyond what its declaration
// implies. Reading a table, sending to a queue and reading the client secret
// follow from the environment variables it declares; consuming a queue
// follows from its event source.
type Access struct {
	// WriteTables names the tables (resources.Table.Name) the function writes;
	// every other declared table is read-only.
	WriteTables []string
	TokenKey    TokenKeyAccess
}

// DefaultAccess is the access of each function of the service.
var DefaultAccess = map[string]Access{
	"api":          {WriteTables: []string{"connections", "policies", "ledger"}, TokenKey: TokenKeyDecryptGenerate},
	"contactsync":  {WriteTables: []string{"connections", "ledger"}, TokenKey: TokenKeyDecryptGenerate},
	"activitysync": {WriteTables: []string{"connections", "ledger"}, TokenKey: TokenKeyDecryptGenerate},
}

// Settings are the deployment values the functions receive.
type Settings struct {
	ClientID   string
	APIVersion string
	LogLevel   string
	// LegacyOutcomesUntil is every function's LEDGER_LEGACY_OUTCOMES_UNTIL.
	LegacyOutcomesUntil string
	OAuthReturnURL      string
	// ConsoleFrameAncestors is the api function's CONSOLE_FRAME_ANCESTORS
	// (empty: no page may frame the console).
	ConsoleFrameAncestors string
	LogRetentionDays      int
}

// FunctionsProps configures the functions.
type FunctionsProps struct {
	Functions []resources.Function
	// AssetDir holds <name>.zip for every function, each with a bootstrap
	// binary for linux/arm64 (make build writes them to build/).
	AssetDir    string
	Access      map[string]Access
	Data        *DataStore
	Queues      *Queues
	Credentials *Credentials
	Settings    Settings
}

// Functions holds the stack's Lambda functions by resources.Function.Name.
type Functions struct {
	constructs.Construct
	ByName map[string]awslambda.Function
	decls  map[string]resources.Function
}

// NewFunctions creates one function per declaration with its own role, log
// group, environment and grants, and the SQS event source mappings.
// EnvOAuthRedirectURL is left for SetEnv once the HTTP API exists.
func NewFunctions(scope constructs.Construct, id string, props *FunctionsProps) (*Functions, error) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	f := &Functions{Construct: c, ByName: map[string]awslambda.Function{}, decls: map[string]resources.Function{}}
	env := envValues(props)
	for _, decl := range props.Functions {
		logicalID, err := FunctionLogicalID(decl.Name)
		if err != nil {
			return nil, err
		}
		access, ok := props.Access[decl.Name]
		if !ok {
			return nil, fmt.Errorf("function %s: no access declared", decl.Name)
		}
		asset := filepath.Join(props.AssetDir, decl.Name+".zip")
		if _, err := os.Stat(asset); err != nil {
			return nil, fmt.Errorf("function %s: %s: %w", decl.Name, asset, ErrMissingAsset)
		}
		fnEnv := maps.Clone(env)
		if src := decl.Source; src != nil {
			if q, ok := props.Queues.ByName[src.Queue]; ok {
				// Poison messages go straight to the DLQ of the function's own queue.
				fnEnv[resources.EnvDeadLetterQueueURL] = q.DLQ.QueueUrl()
			}
		}
		vars := map[string]*string{}
		for _, name := range decl.Env {
			v, known := fnEnv[name]
			if !known {
				return nil, fmt.Errorf("function %s: environment variable %s has no value in the stack", decl.Name, name)
			}
			if v != nil {
				vars[name] = v
			}
		}
		if decl.Name == "api" { // optional, so not among the declared variables
			vars[console.EnvFrameAncestors] = jsii.String(props.Settings.ConsoleFrameAncestors)
		}
		logGroup := newLogGroup(c, jsii.String(logicalID+"Logs"), props.Settings.LogRetentionDays)
		role, err := newFunctionRole(c, decl.Name)
		if err != nil {
			return nil, err
		}
		// Logs: only creating streams in and writing to its own log group
		// (the group exists, so no logs:CreateLogGroup).
		logGroup.GrantWrite(role)
		// Tracing: Active makes the CDK add xray:PutTraceSegments and
		// xray:PutTelemetryRecords on "*" to the role. That is the one "*" the
		// functions get: X-Ray has no resource-level permissions, so AWS accepts
		// only "*" for these actions.
		fn := awslambda.NewFunction(c, jsii.String(logicalID), &awslambda.FunctionProps{
			Role:          role,
			Description:   jsii.String("sfsync " + decl.Name),
			Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:  awslambda.Architecture_ARM_64(),
			Handler:       jsii.String("bootstrap"),
			Code:          awslambda.Code_FromAsset(jsii.String(asset), nil),
			MemorySize:    jsii.Number(decl.Memory),
			Timeout:       awscdk.Duration_Seconds(jsii.Number(decl.Timeout.Seconds())),
			Environment:   &vars,
			LoggingFormat: awslambda.LoggingFormat_JSON,
			LogGroup:      logGroup,
			Tracing:       awslambda.Tracing_ACTIVE,
		})
		overrideLogicalID(fn, logicalID)
		if err := grant(fn, decl, access, props); err != nil {
			return nil, err
		}
		if src := decl.Source; src != nil {
			q, ok := props.Queues.ByName[src.Queue]
			if !ok {
				return nil, fmt.Errorf("function %s: event source queue %q is not declared", decl.Name, src.Queue)
			}
			fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(q.Main, &awslambdaeventsources.SqsEventSourceProps{
				BatchSize:               jsii.Number(src.BatchSize),
				MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(src.BatchingWindow.Seconds())),
				MaxConcurrency:          jsii.Number(src.MaxConcurrency),
				ReportBatchItemFailures: jsii.Bool(true),
			}))
		}
		if decl.Schedule > 0 {
			if decl.Schedule%time.Minute != 0 {
				return nil, fmt.Errorf("function %s: schedule %v is not whole minutes", decl.Name, decl.Schedule)
			}
			// The rule invokes the function asynchronously with a scheduled
			// event; the target adds the permission for events.amazonaws.com.
			rule := awsevents.NewRule(c, jsii.String(logicalID+"Schedule"), &awsevents.RuleProps{
				Description: jsii.String("sfsync " + decl.Name + ": " + decl.ScheduleExpression()),
				Schedule:    awsevents.Schedule_Expression(jsii.String(decl.ScheduleExpression())),
			})
			rule.AddTarget(awseventstargets.NewLambdaFunction(fn, nil))
		}
		f.ByName[decl.Name] = fn
		f.decls[decl.Name] = decl
	}
	return f, nil
}

// newFunctionRole creates a function's own role: assumable by Lambda only and
// without AWSLambdaBasicExecutionRole (logs:* on every log group); the
// function's grants add everything it may do. Its logical id is pinned, so the
// token key policy in template.yaml names the same roles.
func newFunctionRole(scope constructs.Construct, name string) (awsiam.Role, error) {
	id, err := FunctionRoleLogicalID(name)
	if err != nil {
		return nil, err
	}
	role := awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("sfsync " + name + " function"),
	})
	overrideLogicalID(role, id)
	return role, nil
}

// SetEnv sets a deferred environment variable on every function declaring it.
func (f *Functions) SetEnv(name string, value *string) {
	for fnName, decl := range f.decls {
		if slices.Contains(decl.Env, name) {
			f.ByName[fnName].AddEnvironment(jsii.String(name), value, nil)
		}
	}
}

// envValues maps every environment variable the stack can provide to its
// value; a nil value is set later through SetEnv.
func envValues(p *FunctionsProps) map[string]*string {
	v := map[string]*string{
		resources.EnvTokenKeyID:       p.Credentials.TokenKey.KeyArn(),
		resources.EnvClientID:         jsii.String(p.Settings.ClientID),
		resources.EnvClientSecretARN:  p.Credentials.ClientSecret.SecretArn(),
		resources.EnvOAuthRedirectURL: nil,
		resources.EnvOAuthReturnURL:   jsii.String(p.Settings.OAuthReturnURL),
		resources.EnvAPIVersion:       jsii.String(p.Settings.APIVersion),
		resources.EnvLogLevel:         jsii.String(p.Settings.LogLevel),
		// Empty unless set: the functions then read no old outcome.
		resources.EnvLegacyOutcomesUntil: jsii.String(p.Settings.LegacyOutcomesUntil),
	}
	for _, t := range resources.Tables {
		if table, ok := p.Data.Tables[t.Name]; ok {
			v[t.EnvVar] = table.TableName()
		}
	}
	for _, q := range p.Queues.ByName {
		v[q.Decl.EnvVar] = q.Main.QueueUrl()
	}
	return v
}

// grant gives a function exactly what its declaration and access need.
func grant(fn awslambda.Function, decl resources.Function, access Access, p *FunctionsProps) error {
	for _, name := range access.WriteTables {
		if _, ok := p.Data.Tables[name]; !ok {
			return fmt.Errorf("function %s: access names unknown table %q", decl.Name, name)
		}
	}
	for _, t := range resources.Tables {
		table, ok := p.Data.Tables[t.Name]
		if !ok || !slices.Contains(decl.Env, t.EnvVar) {
			continue
		}
		if slices.Contains(access.WriteTables, t.Name) {
			table.GrantReadWriteData(fn)
		} else {
			table.GrantReadData(fn)
		}
	}
	for _, q := range p.Queues.ByName {
		// The event source grants consuming the function's own queue.
		if slices.Contains(decl.Env, q.Decl.EnvVar) {
			q.Main.GrantSendMessages(fn)
		}
		if decl.Source != nil && decl.Source.Queue == q.Decl.Name && slices.Contains(decl.Env, resources.EnvDeadLetterQueueURL) {
			q.DLQ.GrantSendMessages(fn)
		}
	}
	if slices.Contains(decl.Env, resources.EnvClientSecretARN) {
		p.Credentials.ClientSecret.GrantRead(fn, nil)
	}
	if slices.Contains(decl.Env, resources.EnvTokenKeyID) {
		switch access.TokenKey {
		case TokenKeyDecryptGenerate:
			p.Credentials.TokenKey.Grant(fn, jsii.String("kms:Decrypt"), jsii.String("kms:GenerateDataKey"))
		default:
			return fmt.Errorf("function %s: declares %s but has no token key access", decl.Name, resources.EnvTokenKeyID)
		}
	} else if access.TokenKey != TokenKeyNone {
		return fmt.Errorf("function %s: has token key access but does not declare %s", decl.Name, resources.EnvTokenKeyID)
	}
	return nil
}

// Package stack defines the CloudFormation stack that runs the service in one
// region, built from the declarations in shared/resources: the tables, queues,
// functions and HTTP routes, each concern in its own construct.
package stack

import (
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/sfsync/sfsync/infra/config"
	"github.com/sfsync/sfsync/shared/resources"
)

// CallbackPath is the API route Salesforce redirects the admin's browser to.
const CallbackPath = "oauth/salesforce/callback"

// ServiceStackProps configures one regional stack.
type ServiceStackProps struct {
	awscdk.StackProps
	Config config.Config
	// AssetDir holds the functions' zips (build/ at the repository root).
	AssetDir string
	// Access overrides DefaultAccess, for tests.
	Access map[string]Access
}

// ServiceStack is the whole service in one region.
type ServiceStack struct {
	awscdk.Stack
	Data        *DataStore
	Credentials *Credentials
	Queues      *Queues
	Functions   *Functions
	API         *API
	Alarms      *Alarms
	Dashboard   *Dashboard
}

// NewServiceStack builds the stack. Nothing in it refers to another stack, so
// each region deploys and fails on its own.
func NewServiceStack(scope constructs.Construct, id string, props *ServiceStackProps) (*ServiceStack, error) {
	cfg := props.Config
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	// The dashboard is left untagged: not every region's CloudFormation
	// takes Tags on AWS::CloudWatch::Dashboard yet.
	untagged := &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings("AWS::CloudWatch::Dashboard")}
	awscdk.Tags_Of(st).Add(jsii.String("app"), jsii.String("sfsync"), untagged)
	awscdk.Tags_Of(st).Add(jsii.String("stage"), jsii.String(cfg.Stage), untagged)
	s := &ServiceStack{Stack: st}

	s.Data = NewDataStore(st, "Data", &DataStoreProps{Tables: resources.Tables})
	s.Credentials = NewCredentials(st, "Credentials", &CredentialsProps{Stage: cfg.Stage})

	consumerTimeout := map[string]int{}
	var eventQueues []string
	for _, f := range resources.Functions {
		if f.Source != nil {
			consumerTimeout[f.Source.Queue] = max(consumerTimeout[f.Source.Queue], int(f.Timeout.Seconds()))
			eventQueues = append(eventQueues, f.Source.Queue)
		}
	}
	var err error
	if s.Queues, err = NewQueues(st, "Queues", &QueuesProps{Queues: resources.Queues, ConsumerTimeout: consumerTimeout}); err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}

	access := props.Access
	if access == nil {
		access = DefaultAccess
	}
	s.Functions, err = NewFunctions(st, "Functions", &FunctionsProps{
		Functions:   resources.Functions,
		AssetDir:    props.AssetDir,
		Access:      access,
		Data:        s.Data,
		Queues:      s.Queues,
		Credentials: s.Credentials,
		Settings: Settings{
			ClientID:              cfg.SalesforceClientID,
			APIVersion:            cfg.SalesforceAPIVersion,
			LogLevel:              cfg.LogLevel,
			LegacyOutcomesUntil:   cfg.LegacyOutcomesUntil,
			OAuthReturnURL:        cfg.OAuthReturnURL,
			ConsoleFrameAncestors: cfg.ConsoleFrameAncestors,
			LogRetentionDays:      cfg.LogRetentionDays,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}
	if err := lockTokenKey(s.Credentials, s.Functions, access); err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}
	apiFn, ok := s.Functions.ByName["api"]
	if !ok {
		return nil, fmt.Errorf("stack %s: no function named api serves the HTTP API", id)
	}
	s.API, err = NewAPI(st, "Api", &APIProps{
		Handler:        apiFn,
		Routes:         resources.Routes,
		JWTIssuer:      cfg.JWTIssuer,
		JWTAudience:    cfg.JWTAudience,
		RequiredScopes: cfg.RequiredScopes,
		AdminOrigin:    cfg.AdminOrigin,
		RateLimit:      cfg.Throttle.RatePerSecond,
		BurstLimit:     cfg.Throttle.Burst,
		LogRetention:   cfg.LogRetentionDays,
	})
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}
	redirectURL := awscdk.Fn_Join(jsii.String(""), &[]*string{s.API.URL(), jsii.String(CallbackPath)})
	s.Functions.SetEnv(resources.EnvOAuthRedirectURL, redirectURL)

	var topic awssns.ITopic
	if cfg.Alarms.TopicARN != "" {
		topic = awssns.Topic_FromTopicArn(st, jsii.String("AlarmTopic"), jsii.String(cfg.Alarms.TopicARN))
	} else {
		t := awssns.NewTopic(st, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("sfsync " + cfg.Stage + " alarms"),
			EnforceSSL:  jsii.Bool(true),
		})
		if cfg.Alarms.Email != "" {
			t.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.Alarms.Email), nil))
		}
		topic = t
	}
	s.Alarms, err = NewAlarms(st, "Alarms", &AlarmsProps{
		Topic:                   topic,
		Queues:                  s.Queues,
		Functions:               s.Functions,
		EventQueues:             eventQueues,
		OldestMessageSeconds:    cfg.Alarms.OldestMessageSeconds,
		NeedsReauthThreshold:    cfg.Alarms.NeedsReauthThreshold,
		BudgetExceededThreshold: cfg.Alarms.BudgetExceededThreshold,
	})
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}

	s.Dashboard, err = NewDashboard(st, "Dashboard", &DashboardProps{
		Name:          DashboardName(*st.StackName()),
		Queues:        s.Queues,
		Functions:     s.Functions,
		QueueDecls:    resources.Queues,
		FunctionDecls: resources.Functions,
	})
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}

	// The sequencer sends to the queues a function consumes and reads the
	// ones the functions only send to (the results).
	for _, p := range cfg.SequencerPrincipals {
		var principal awsiam.IPrincipal
		if len(p) == 12 {
			principal = awsiam.NewAccountPrincipal(jsii.String(p))
		} else {
			principal = awsiam.NewArnPrincipal(jsii.String(p))
		}
		for _, q := range resources.Queues {
			if slices.Contains(eventQueues, q.Name) {
				s.Queues.ByName[q.Name].Main.GrantSendMessages(principal)
			} else {
				s.Queues.ByName[q.Name].Main.GrantConsumeMessages(principal)
			}
		}
	}

	output := func(id, description string, value *string) {
		awscdk.NewCfnOutput(st, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	output("ApiUrl", "Base URL of the admin HTTP API", s.API.URL())
	output("OAuthRedirectUrl", "Callback URL to register in the Salesforce connected app", redirectURL)
	for _, q := range resources.Queues {
		role := "the sequencer sends events here"
		if !slices.Contains(eventQueues, q.Name) {
			role = "the sequencer reads outcomes here"
		}
		output(pascal(q.Name)+"QueueUrl", fmt.Sprintf("%s (%s)", q.EnvVar, role), s.Queues.ByName[q.Name].Main.QueueUrl())
	}
	output("ClientSecretArn", "Secret to put the connected app's consumer secret in", s.Credentials.ClientSecret.SecretArn())
	output("AlarmTopicArn", "Topic the alarms notify", topic.TopicArn())
	output("DashboardUrl", "The operator's dashboard of this region (infra/README.md, \"The dashboard\")",
		awscdk.Fn_Sub(jsii.String(DashboardURL), &map[string]*string{"Name": s.Dashboard.Dashboard.DashboardName()}))
	return s, nil
}

// TokenKeyLockedActions are the token key's actions that read a stored token
// or hand that power on, denied in the key's own policy to every principal but
// the roles of the functions that use the key: kms:Decrypt; kms:ReEncrypt*,
// whose ReEncryptFrom half decrypts under this key and re-encrypts under a key
// the caller controls; and kms:CreateGrant, which could give Decrypt to anyone.
// Key administration (kms:PutKeyPolicy, kms:DescribeKey, kms:ScheduleKeyDeletion,
// ...) stays with the account root, as the CDK's default key policy allows, so
// the account is never locked out of the key.
var TokenKeyLockedActions = []string{"kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant"}

// lockTokenKey denies TokenKeyLockedActions in the token key's own policy to
// every principal but the roles of the functions that need the key, so not even
// an administrator's IAM policy can read stored tokens without first changing
// the key policy (which CloudTrail records). The function roles get only what
// their IAM grants allow; the exemption allows nothing by itself.
func lockTokenKey(c *Credentials, f *Functions, access map[string]Access) error {
	var roles []*string
	names := slices.Sorted(maps.Keys(f.ByName))
	for _, name := range names {
		if access[name].TokenKey == TokenKeyNone {
			continue
		}
		role := f.ByName[name].Role()
		if role == nil {
			return fmt.Errorf("function %s: no role to allow on the token key", name)
		}
		roles = append(roles, role.RoleArn())
	}
	if len(roles) == 0 {
		return nil
	}
	c.TokenKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyTheFunctionsDecryptTokens"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(TokenKeyLockedActions...),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": roles}},
	}), jsii.Bool(false))
	return nil
}

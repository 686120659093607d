// Command api is the HTTP API function: the Salesforce connect flow and the
// admin settings API, behind an API Gateway HTTP API with a JWT authorizer.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/contactsync/contacthttp"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/mapping/describe"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/mapping/mappinghttp"
	"github.com/sfsync/sfsync/shared/openapi"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/platform/awsenv"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/platform/logs"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/platform/secret"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/policy/policyhttp"
	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/ratelimit/ratelimitdb"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/shared/readiness/readinessdb"
	"github.com/sfsync/sfsync/shared/readiness/readinesshttp"
	"github.com/sfsync/sfsync/shared/readiness/readinessorg"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/schedule"
)

// settings is the function's configuration, read from its environment.
type settings struct {
	connectionsTable, policiesTable, ledgerTable string
	keyID, clientID, secretARN                   string
	redirectURL, returnURL                       string
	insecureLogin                                bool
	logLevel, apiVersion                         string
	holder                                       string           // names this process in refresh leases
	contactQueueURL                              string           // where the error inbox sends retries
	now                                          func() time.Time // the clock of the limits and the readiness cache; nil: time.Now
}

func readSettings() (settings, error) {
	var env environ.Reader
	s := settings{
		connectionsTable: env.Require(resources.EnvConnectionsTable),
		policiesTable:    env.Require(resources.EnvPoliciesTable),
		ledgerTable:      env.Require(resources.EnvLedgerTable),
		contactQueueURL:  env.Require(resources.EnvContactQueueURL),
		keyID:            env.Require(resources.EnvTokenKeyID),
		clientID:         env.Require(resources.EnvClientID),
		secretARN:        env.Require(resources.EnvClientSecretARN),
		redirectURL:      env.Require(resources.EnvOAuthRedirectURL),
		returnURL:        env.Require(resources.EnvOAuthReturnURL),
		insecureLogin:    env.Optional(resources.EnvAllowInsecureLogin, "false") == "true",
		logLevel:         env.Optional(resources.EnvLogLevel, "info"),
		apiVersion:       env.Optional(resources.EnvAPIVersion, ""),
		holder:           "api-" + rand.Text(),
	}
	return s, env.Err()
}

// requestLimits are each team's request limits: the default over every
// authenticated route, and stricter ones on the routes that reach the
// team's org or its queues in bulk.
var requestLimits = ratelimit.Rules{
	Default: ratelimit.DefaultRule,
	Routes: map[string]ratelimit.Rule{
		contacthttp.RouteRetry:      contacthttp.RetryLimit,
		contacthttp.RouteDedupCheck: contacthttp.DedupLimit,
	},
}

// handler is the function's Lambda handler: the API Gateway's requests go
// to the router, and the schedule's events sweep the consents nobody
// completed, of every team.
func handler(cfg aws.Config, s settings, log *slog.Logger) func(context.Context, json.RawMessage) (any, error) {
	rt, connector := newRouter(cfg, s, log)
	sweep := func(ctx context.Context) error {
		_, err := connector.SweepExpired(ctx)
		return err
	}
	return schedule.Handler(httpapi.LambdaHandler(rt), sweep, log)
}

// newRouter wires the adapters to the domain and registers every route; it
// returns the connector too, for the scheduled sweep.
func newRouter(cfg aws.Config, s settings, log *slog.Logger) (*httpapi.Router, *connection.Connector) {
	db := dynamodb.NewFromConfig(cfg)
	connStore := &connectiondb.Store{DB: db, Table: s.connectionsTable,
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(cfg), KeyID: s.keyID, Keys: sealing.NewKeyCache(0, 0)}}
	clientSecret := &secret.Cached{Client: secretsmanager.NewFromConfig(cfg), ARN: s.secretARN}
	connector := &connection.Connector{Store: connStore, Config: connection.OAuthConfig{
		ClientID: s.clientID, ClientSecret: clientSecret.Get, ForgetClientSecret: clientSecret.Forget, RedirectURL: s.redirectURL, AllowInsecureLoginURLs: s.insecureLogin},
		APIVersion: s.apiVersion, Log: log}

	policies := policydb.New(db, s.policiesTable, s.ledgerTable)
	mappings := mappingdb.New(db, s.policiesTable)
	mappings.CountsTable = s.ledgerTable // written by the sync functions
	describes := &describe.Cache{DB: db, Table: s.policiesTable,
		Source: &describe.Org{Connections: connStore, Connector: connector, Holder: s.holder, APIVersion: s.apiVersion}}

	rt := httpapi.NewRouter()
	limits := &ratelimitdb.Store{DB: db, Table: s.connectionsTable}
	rt.LimitTeams(&ratelimit.Limiter{Windows: limits, Rules: requestLimits, Now: s.now}, log)
	mappinghttp.Register(rt, mappinghttp.Deps{Store: mappings, Describes: describes, Logger: log})
	ledger := ledgerdb.New(db, s.ledgerTable)
	contacthttp.Register(rt, contacthttp.Deps{Ledger: ledger, Logger: log})
	contacthttp.RegisterRetry(rt, contacthttp.RetryDeps{Ledger: ledger, SQS: sqs.NewFromConfig(cfg), QueueURL: s.contactQueueURL, Logger: log,
		Cooldown: &ratelimit.Cooldown{Marks: limits, Period: contacthttp.RetryCooldown, Now: s.now}})
	teamOrgs := &orgs.Orgs{Store: connStore, Connector: connector, Holder: s.holder, Version: s.apiVersion, Budgets: policies}
	contacthttp.RegisterDedupCheck(rt, contacthttp.DedupDeps{Settings: policies, Logger: log, Orgs: teamOrgs.Contacts()})
	rt.Handle("GET /openapi.json", openapi.Handler())
	policyhttp.Register(rt, policyhttp.Deps{Store: policies, Logger: log})
	ready := &readiness.Checker{Source: &readinessorg.Source{Connections: connStore, Orgs: teamOrgs, Describes: describes},
		Store: &readinessdb.Store{DB: db, Table: s.policiesTable}, Mappings: mappings, Now: s.now}
	readinesshttp.Register(rt, readinesshttp.Deps{Reports: ready, Logger: log})
	(&connecthttp.Handlers{Connector: connector, Store: connStore, ReturnURL: s.returnURL, Log: log, Budgets: policies,
		Readiness: ready}).Register(rt)
	return rt, connector
}

func main() {
	s, err := readSettings()
	log := logs.New(os.Stdout, s.logLevel)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := awsenv.Config()
	if err != nil {
		log.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	slog.SetDefault(log)
	lambda.Start(handler(cfg, s, log))
}

// Command api is the HTTP API function: the Salesforce connect flow and the
// admin settings API, behind an API Gateway HTTP API with a JWT authorizer.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/environ"
	"github.com/sfsync/sfsync/shared/httpapi"
	"github.com/sfsync/sfsync/shared/logs"
	"github.com/sfsync/sfsync/shared/openapi"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/policy/policyhttp"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/sealing"
	"github.com/sfsync/sfsync/shared/secret"
)

func main() {
	var env environ.Reader
	connectionsTable := env.Require(resources.EnvConnectionsTable)
	policiesTable := env.Require(resources.EnvPoliciesTable)
	ledgerTable := env.Require(resources.EnvLedgerTable)
	keyID := env.Require(resources.EnvTokenKeyID)
	clientID := env.Require(resources.EnvClientID)
	secretARN := env.Require(resources.EnvClientSecretARN)
	redirectURL := env.Require(resources.EnvOAuthRedirectURL)
	returnURL := env.Require(resources.EnvOAuthReturnURL)
	insecure := env.Optional(resources.EnvAllowInsecureLogin, "false") == "true"
	log := logs.New(os.Stdout, env.Optional(resources.EnvLogLevel, "info"))
	if err := env.Err(); err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	slog.SetDefault(log)

	db := dynamodb.NewFromConfig(cfg)
	connStore := &connectiondb.Store{DB: db, Table: connectionsTable,
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(cfg), KeyID: keyID}}
	clientSecret := &secret.Cached{Client: secretsmanager.NewFromConfig(cfg), ARN: secretARN}
	connector := &connection.Connector{Store: connStore, Config: connection.OAuthConfig{
		ClientID: clientID, ClientSecret: clientSecret.Get, RedirectURL: redirectURL, AllowInsecureLoginURLs: insecure}}

	rt := httpapi.NewRouter()
	rt.Handle("GET /openapi.json", openapi.Handler())
	policyhttp.Register(rt, policyhttp.Deps{Store: policydb.New(db, policiesTable, ledgerTable), Logger: log})
	(&connecthttp.Handlers{Connector: connector, Store: connStore, ReturnURL: returnURL, Log: log}).Register(rt)

	lambda.Start(httpapi.LambdaHandler(rt))
}

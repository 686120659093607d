// Command contactsync is the SQS-triggered function that consumes contact
// events (contact.created, contact.added, contact.replied) and syncs them to
// Salesforce. Malformed events go to the dead-letter queue with the reason;
// events of a team that must reconnect are parked on the queue, never failed.
package main

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/mapping/describe"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/platform/awsenv"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/logs"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/platform/outcomes"
	"github.com/sfsync/sfsync/shared/platform/queue"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/platform/secret"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func main() {
	var env environ.Reader
	connectionsTable := env.Require(resources.EnvConnectionsTable)
	policiesTable := env.Require(resources.EnvPoliciesTable)
	ledgerTable := env.Require(resources.EnvLedgerTable)
	resultsURL := env.Require(resources.EnvResultsQueueURL)
	dlqURL := env.Require(resources.EnvDeadLetterQueueURL)
	queueURL := env.Require(resources.EnvContactQueueURL)
	activityURL := env.Require(resources.EnvActivityQueueURL)
	keyID := env.Require(resources.EnvTokenKeyID)
	clientID := env.Require(resources.EnvClientID)
	secretARN := env.Require(resources.EnvClientSecretARN)
	apiVersion := env.Optional(resources.EnvAPIVersion, salesforce.DefaultVersion)
	// HOLD_DELAY_SECONDS (optional, default 900, SQS's maximum) is how long a
	// held event waits before it is tried again.
	holdDelay, _ := strconv.Atoi(env.Optional("HOLD_DELAY_SECONDS", "900"))
	// AWAIT_ADD_SECONDS (default 2400, 10/3 of the queue's visibility timeout): how long a contact.replied whose
	// contact.added is not synced yet keeps coming back before it is
	// skipped as not_added.
	awaitAdd, _ := strconv.Atoi(env.Optional("AWAIT_ADD_SECONDS", "2400"))
	// Salesforce's side effects on create, chosen on purpose: lead
	// assignment rules run (TRUE, FALSE or an assignment rule id). Whether
	// a create overrides an alert duplicate rule is each team's setting.
	write := salesforce.WriteOptions{AutoAssign: env.Optional("SALESFORCE_AUTO_ASSIGN", "TRUE")}
	log := logs.New(os.Stdout, env.Optional(resources.EnvLogLevel, "info"))
	if err := env.Err(); err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := awsenv.Config()
	if err != nil {
		log.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	slog.SetDefault(log)
	holder := "contactsync-" + rand.Text()

	db := dynamodb.NewFromConfig(cfg)
	sqsClient := sqs.NewFromConfig(cfg)
	connStore := &connectiondb.Store{DB: db, Table: connectionsTable,
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(cfg), KeyID: keyID, Keys: sealing.NewKeyCache(0, 0)}}
	clientSecret := &secret.Cached{Client: secretsmanager.NewFromConfig(cfg), ARN: secretARN}
	connector := &connection.Connector{Store: connStore, Config: connection.OAuthConfig{ClientID: clientID, ClientSecret: clientSecret.Get,
		ForgetClientSecret: clientSecret.Forget}}
	mappings := mappingdb.New(db, policiesTable)
	mappings.CountsTable = ledgerTable
	policies := policydb.New(db, policiesTable, ledgerTable)
	ledger := ledgerdb.New(db, ledgerTable)
	ledger.Owner = holder // the claim owner the engine passes to Claim and Release

	engine := &contactsync.Engine{
		Ledger: ledger,
		Orgs: (&orgs.Orgs{Store: connStore, Connector: connector, Holder: holder, Version: apiVersion,
			Budgets:      policydb.RecentBudgets{Store: policies, MaxAge: min(policydb.BudgetMaxAge, time.Duration(holdDelay)*time.Second)},
			UsageRecheck: time.Duration(holdDelay) * time.Second}).Contacts(),
		Policies:  policies,
		Renderer:  &mappingdb.Renderer{Store: mappings, Describes: &describe.Cache{DB: db, Table: policiesTable}, ReuseFor: 5 * time.Second},
		Publisher: outcomes.New(sqsClient, resultsURL),
		Counts:    mappings,
		Release:   &activitydb.Releaser{Store: &activitydb.Store{DB: db, Table: ledgerTable}, SQS: sqsClient, QueueURL: activityURL},
		Write:     write,
		Owner:     holder,
		ClaimTTL:  6 * resources.FunctionTimeout,
		AwaitAdd:  time.Duration(awaitAdd) * time.Second,
		HoldDelay: time.Duration(holdDelay) * time.Second,
		Log:       log,
	}
	h := &queue.Handler{Queue: event.ContactQueue, DLQ: sqsClient, DLQURL: dlqURL, QueueURL: queueURL, Log: log,
		Metrics:   &metrics.EMF{W: os.Stdout},
		HoldDelay: time.Duration(holdDelay) * time.Second,
		WaitMax:   time.Duration(awaitAdd) * time.Second / 10,
		Processor: engine, Invalid: engine}
	lambda.Start(func(ctx context.Context, in queue.Batch) (events.SQSEventResponse, error) {
		return h.Handle(ctx, in)
	})
}

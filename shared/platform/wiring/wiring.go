// Package wiring builds what the three functions' mains build alike: the
// configuration every function reads, the logger, the AWS configuration,
// the connection store with its KMS sealer, the OAuth connector with its
// cached client secret, the org opener, the policy, mapping and ledger
// stores, and, for the two sync functions, the queue handler they run on
// Lambda.
//
// It is the adapter side's assembly: it imports the AWS SDK, aws-lambda-go
// and the adapters, and no domain package imports it
// (shared/architecture_test.go).
package wiring

import (
	"crypto/rand"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycledb"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/platform/awsenv"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/logs"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/platform/secret"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Base is the configuration every function reads.
type Base struct {
	Function         string // the function's name: the prefix of its Holder
	ConnectionsTable string
	PoliciesTable    string
	LedgerTable      string
	TokenKeyID       string
	ClientID         string
	ClientSecretARN  string
	APIVersion       string // SALESFORCE_API_VERSION, default salesforce.DefaultVersion
	LogLevel         string
	// RedirectURL is the connect flow's, which only the API function
	// reads; empty in the sync functions.
	RedirectURL string
	// AllowInsecureLoginURLs (ALLOW_INSECURE_LOGIN_URLS, "true" only on
	// the local stack) lets every function accept the simulator's http
	// loopback login and instance URLs, at connect and at each refresh.
	AllowInsecureLoginURLs bool
	// LegacyOutcomesUntil (resources.EnvLegacyOutcomesUntil, optional)
	// is ledgerdb.Store.LegacyUntil: set it to 90 days after updating a
	// stack deployed before December 2026.
	LegacyOutcomesUntil time.Time
}

// ReadBase reads Base from env; a missing variable is recorded in env.
func ReadBase(env *environ.Reader, function string) Base {
	return Base{
		Function:         function,
		ConnectionsTable: env.Require(resources.EnvConnectionsTable),
		PoliciesTable:    env.Require(resources.EnvPoliciesTable),
		LedgerTable:      env.Require(resources.EnvLedgerTable),
		TokenKeyID:       env.Require(resources.EnvTokenKeyID),
		ClientID:         env.Require(resources.EnvClientID),
		ClientSecretARN:  env.Require(resources.EnvClientSecretARN),
		APIVersion:       env.Optional(resources.EnvAPIVersion, salesforce.DefaultVersion),
		LogLevel:         env.Optional(resources.EnvLogLevel, "info"),
		// Every function refreshes tokens, and a refresh answer names the
		// instance to call: the simulator's loopback one is allowed only
		// where the stack says so (locally).
		AllowInsecureLoginURLs: env.Bool(resources.EnvAllowInsecureLogin, false),
		LegacyOutcomesUntil:    env.Date(resources.EnvLegacyOutcomesUntil),
	}
}

// Kit is what a function wires its adapters from.
type Kit struct {
	Base   Base
	Log    *slog.Logger
	Holder string // names this process in refresh leases and claims: "<function>-<random>"
	AWS    aws.Config
	DB     *dynamodb.Client
	SQS    *sqs.Client
	// Connections is the connection store, its tokens sealed with the
	// KMS key.
	Connections *connectiondb.Store
	// Connector is the OAuth connector; it reads the client secret from
	// Secrets Manager and keeps it (secret.Cached).
	Connector *connection.Connector
	Policies  *policydb.Store
}

// Start checks the configuration env read, builds the logger and the AWS
// configuration from the environment, makes the logger the default and
// returns the kit. A configuration error (a missing variable, a typo in a
// number) is logged with what is wrong and stops the function: it exits
// with status 1, before any work.
func Start(env *environ.Reader, b Base) *Kit {
	log := logs.New(os.Stdout, b.LogLevel)
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
	return New(b, cfg, log)
}

// New builds the kit on the AWS configuration cfg.
func New(b Base, cfg aws.Config, log *slog.Logger) *Kit {
	db := dynamodb.NewFromConfig(cfg)
	conns := &connectiondb.Store{DB: db, Table: b.ConnectionsTable,
		Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(cfg), KeyID: b.TokenKeyID, Keys: sealing.NewKeyCache(0, 0)}}
	clientSecret := &secret.Cached{Client: secretsmanager.NewFromConfig(cfg), ARN: b.ClientSecretARN}
	connector := &connection.Connector{Store: conns, APIVersion: b.APIVersion, Log: log, Config: connection.OAuthConfig{
		ClientID: b.ClientID, ClientSecret: clientSecret.Get, ForgetClientSecret: clientSecret.Forget,
		RedirectURL: b.RedirectURL, AllowInsecureLoginURLs: b.AllowInsecureLoginURLs}}
	return &Kit{Base: b, Log: log, Holder: b.Function + "-" + rand.Text(), AWS: cfg, DB: db, SQS: sqs.NewFromConfig(cfg),
		Connections: conns, Connector: connector, Policies: policydb.New(db, b.PoliciesTable, b.LedgerTable)}
}

// Ledger is the ledger table's store of memberships, records and outcomes.
func (k *Kit) Ledger() *ledgerdb.Store {
	l := ledgerdb.New(k.DB, k.Base.LedgerTable)
	l.LegacyUntil = k.Base.LegacyOutcomesUntil
	return l
}

// ClaimingLedger is Ledger whose claims and records name this process
// (Holder), as the sync engines claim.
func (k *Kit) ClaimingLedger() *ledgerdb.Store {
	l := k.Ledger()
	l.Owner = k.Holder
	return l
}

// Lifecycle is the store of the bounce and opt-out marks, in the ledger
// table.
func (k *Kit) Lifecycle() *lifecycledb.Store { return lifecycledb.New(k.DB, k.Base.LedgerTable) }

// Mappings is the field mapping store; the sync functions count each
// mapping's use in the ledger table.
func (k *Kit) Mappings() *mappingdb.Store {
	m := mappingdb.New(k.DB, k.Base.PoliciesTable)
	m.CountsTable = k.Base.LedgerTable
	return m
}

// Orgs opens each team's org, its API budget read as saved.
func (k *Kit) Orgs() *orgs.Orgs {
	return &orgs.Orgs{Store: k.Connections, Connector: k.Connector, Holder: k.Holder, Version: k.Base.APIVersion, Budgets: k.Policies}
}

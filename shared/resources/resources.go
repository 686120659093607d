// Package resources declares the AWS resources one regional stack holds:
// the tables, the queues with their dead-letter queues, and the environment
// variables through which the functions learn their names.
//
// The CDK app, the SAM template (through its parity test) and the local runner
// all follow this declaration, so what runs on a laptop is what deploys.
package resources

import (
	"fmt"
	"time"
)

// Environment variables the functions read. Every function reads only the ones
// it needs; main.go fails fast with the variable's name when one is missing.
const (
	EnvConnectionsTable   = "CONNECTIONS_TABLE"            // DynamoDB table: OAuth state, Salesforce connections (tokens encrypted), the API's per-team request limits
	EnvPoliciesTable      = "POLICIES_TABLE"               // DynamoDB table: versioned settings, sequence overrides, field mappings
	EnvLedgerTable        = "LEDGER_TABLE"                 // DynamoDB table: memberships, synced records, per-event outcomes
	EnvResultsQueueURL    = "RESULTS_QUEUE_URL"            // SQS queue the outcomes are sent to
	EnvContactQueueURL    = "CONTACT_QUEUE_URL"            // SQS queue of contact events (used by the API to re-drive retries)
	EnvActivityQueueURL   = "ACTIVITY_QUEUE_URL"           // SQS queue of email events
	EnvTokenKeyID         = "TOKEN_KMS_KEY_ID"             // KMS key for envelope encryption of Salesforce tokens
	EnvClientID           = "SALESFORCE_CLIENT_ID"         // connected app consumer key
	EnvClientSecretARN    = "SALESFORCE_CLIENT_SECRET_ARN" // Secrets Manager secret holding the consumer secret
	EnvOAuthRedirectURL   = "OAUTH_REDIRECT_URL"           // this API's public /oauth/salesforce/callback URL
	EnvOAuthReturnURL     = "OAUTH_RETURN_URL"             // where the admin's browser goes after the callback
	EnvAPIVersion         = "SALESFORCE_API_VERSION"       // REST API version, e.g. v62.0
	EnvAllowInsecureLogin = "ALLOW_INSECURE_LOGIN_URLS"    // "true" only locally: permits http:// login URLs (the simulator)
	EnvLogLevel           = "LOG_LEVEL"                    // debug | info | warn | error
	// EnvLegacyOutcomesUntil (optional, YYYY-MM-DD, empty: none) is the
	// day until which the ledger also reads outcomes where they were
	// written before December 2026 (ledgerdb.Store.LegacyUntil).
	EnvLegacyOutcomesUntil = "LEDGER_LEGACY_OUTCOMES_UNTIL"
	EnvDeadLetterQueueURL  = "DEAD_LETTER_QUEUE_URL" // sync functions: the DLQ of their own queue, for poison messages
)

// Table is one DynamoDB table. Every table uses a string partition key "pk"
// and a string sort key "sk", and expires garbage through the TTL attribute.
type Table struct {
	Name    string // logical name; deployed names are prefixed per stage
	EnvVar  string
	Indexes []Index
}

// Index is a global secondary index with a string partition key and a
// string sort key, projecting every attribute. An item is in it only when
// it has both keys.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
}

// ContactIndex is the ledger's index of what it knows of one contact: the
// outcomes of its events, the records saved for it, its memberships and
// the Tasks logged for it, keyed cpk (the contact) and csk
// (OUTCOME#<at>#<event>, RECORD#<email>, MEMBER#<sequence> or
// ACTIVITY#<key>). DynamoDB keeps it in step with the items, so no copy is
// written and none is moved; an erasure finds the contact's items there.
var ContactIndex = Index{Name: "by_contact", PartitionKey: "cpk", SortKey: "csk"}

// Key attribute names shared by every table.
const (
	PartitionKey = "pk"
	SortKey      = "sk"
	TTLAttribute = "expires_at"
)

// Tables lists the three tables of a stack.
var Tables = []Table{
	{Name: "connections", EnvVar: EnvConnectionsTable},
	{Name: "policies", EnvVar: EnvPoliciesTable},
	{Name: "ledger", EnvVar: EnvLedgerTable, Indexes: []Index{ContactIndex}},
}

// Queue is one SQS queue with its dead-letter queue.
type Queue struct {
	Name              string
	EnvVar            string
	VisibilityTimeout time.Duration // >= 6x the consuming function's timeout
	MaxReceiveCount   int           // receives before a message moves to the DLQ
	Retention         time.Duration
}

// DLQName is the name of the queue's dead-letter queue.
func (q Queue) DLQName() string { return q.Name + "-dlq" }

// FunctionTimeout is the timeout of the sync functions; queue visibility
// timeouts are derived from it as AWS recommends (6x). It bounds a
// Salesforce write in flight when its team's share of the batch ends (see
// delivery.RunParts): two minutes lets a trigger-heavy org's save of a
// full part answer, where 30 s cut it and lost the answer. The cost is
// the visibility timeout: a message whose invocation crashed, or that
// failed, comes back after 12 minutes rather than 3 (one cut for time, one
// held and one waiting are sent back with their own short delays, not
// after it).
const FunctionTimeout = 120 * time.Second

// Queues lists the queues of a stack.
var Queues = []Queue{
	{Name: "contact-events", EnvVar: EnvContactQueueURL, VisibilityTimeout: 6 * FunctionTimeout, MaxReceiveCount: 5, Retention: 14 * 24 * time.Hour},
	{Name: "activity-events", EnvVar: EnvActivityQueueURL, VisibilityTimeout: 6 * FunctionTimeout, MaxReceiveCount: 5, Retention: 14 * 24 * time.Hour},
	// The sequencer reads the results, no function of the stack: their
	// visibility is its consumer's, not derived from FunctionTimeout.
	{Name: "results", EnvVar: EnvResultsQueueURL, VisibilityTimeout: 3 * time.Minute, MaxReceiveCount: 5, Retention: 14 * 24 * time.Hour},
}

// SyncBatchSize is the sync functions' event source batch size: SQS's
// largest for a standard queue, which needs a batching window of at least
// a second (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html);
// Lambda also stops a batch at its 6 MB payload. A batch holds each team's
// events of the window in one part, and a part pays its lookup, its create
// and its reads whatever its size: with 20 teams interleaved, batches of
// 10,000 spent 1.6 Salesforce calls and 8.8 DynamoDB reads per 100
// contacts against 4.0 and 19.2 for batches of 1,000, and answered sooner
// (make bench, README "Batch size decides the mixed load's calls"). A
// batch is run in parts of 1,000 at most, and teams that do not get their
// turn before the function's time runs out wait on the queue (not_run).
const SyncBatchSize = 10000

// EventSource is an SQS event source mapping of a sync function.
type EventSource struct {
	Queue          string // Queue.Name
	BatchSize      int
	BatchingWindow time.Duration
	MaxConcurrency int
}

// Function is one Lambda function of the stack.
type Function struct {
	Name   string // folder under functions/
	Env    []string
	Source *EventSource // nil for the API function
	// WriteTables are the tables (Table.Name) the function may write: its
	// role allows writes to these only (infra), and the local stack refuses
	// any other write as AWS would.
	WriteTables []string
	Timeout     time.Duration
	Memory      int // MB
	// Schedule, when set, has an EventBridge rule invoke the function at
	// this rate (whole minutes) with a scheduled event: the API function
	// then revokes the consents nobody completed in time.
	Schedule time.Duration
}

// ScheduleExpression is the rule's expression for f.Schedule, as
// EventBridge spells it: rate(1 minute), rate(2 minutes).
func (f Function) ScheduleExpression() string {
	n := int(f.Schedule / time.Minute)
	if n == 1 {
		return "rate(1 minute)"
	}
	return fmt.Sprintf("rate(%d minutes)", n)
}

// ConsentSweepRate is how often the API function sweeps the consents
// nobody completed: each is revoked within this long of its deadline.
const ConsentSweepRate = 2 * time.Minute

// Functions lists the functions of a stack.
var Functions = []Function{
	{
		Name: "api",
		Env: []string{EnvConnectionsTable, EnvPoliciesTable, EnvLedgerTable, EnvContactQueueURL,
			EnvTokenKeyID, EnvClientID, EnvClientSecretARN, EnvOAuthRedirectURL, EnvOAuthReturnURL, EnvAPIVersion, EnvLogLevel, EnvLegacyOutcomesUntil},
		WriteTables: []string{"connections", "policies", "ledger"},
		Timeout:     15 * time.Second, Memory: 256, Schedule: ConsentSweepRate,
	},
	{
		Name: "contactsync",
		Env: []string{EnvConnectionsTable, EnvPoliciesTable, EnvLedgerTable, EnvResultsQueueURL, EnvDeadLetterQueueURL,
			EnvContactQueueURL, EnvActivityQueueURL, EnvTokenKeyID, EnvClientID, EnvClientSecretARN, EnvAPIVersion, EnvLogLevel, EnvLegacyOutcomesUntil},
		WriteTables: []string{"connections", "ledger"},
		Source:      &EventSource{Queue: "contact-events", BatchSize: SyncBatchSize, BatchingWindow: 2 * time.Second, MaxConcurrency: 10},
		Timeout:     FunctionTimeout, Memory: 512,
	},
	{
		Name: "activitysync",
		Env: []string{EnvConnectionsTable, EnvPoliciesTable, EnvLedgerTable, EnvResultsQueueURL, EnvDeadLetterQueueURL,
			EnvActivityQueueURL, EnvTokenKeyID, EnvClientID, EnvClientSecretARN, EnvAPIVersion, EnvLogLevel, EnvLegacyOutcomesUntil},
		WriteTables: []string{"connections", "ledger"},
		Source:      &EventSource{Queue: "activity-events", BatchSize: SyncBatchSize, BatchingWindow: 2 * time.Second, MaxConcurrency: 10},
		Timeout:     FunctionTimeout, Memory: 512,
	},
}

// Route is one route of the HTTP API. Public routes carry no JWT authorizer;
// every other route requires a verified bearer JWT, and Admin routes also need
// the role claim "admin".
type Route struct {
	Method string
	Path   string // API Gateway syntax: /v1/sequences/{sequence_id}/salesforce
	Public bool
	Admin  bool
}

// Key is the route key as API Gateway writes it: "GET /v1/salesforce".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Routes lists every route of the API function. The router, the OpenAPI
// document, the CDK stack and the SAM template are each tested against it.
var Routes = []Route{
	{Method: "GET", Path: "/openapi.json", Public: true},
	// The admin console's static files: public, as the page reads its
	// token from the URL fragment, which never reaches the server; /console
	// redirects to /console/.
	{Method: "GET", Path: "/console", Public: true},
	{Method: "GET", Path: "/console/{proxy+}", Public: true},
	{Method: "GET", Path: "/oauth/salesforce/callback", Public: true},
	{Method: "POST", Path: "/v1/salesforce/connect", Admin: true},
	// Any member reaches the handler, which refuses a non-admin itself: the
	// refusal also burns the consent it names.
	{Method: "POST", Path: "/v1/salesforce/connect/complete"},
	{Method: "GET", Path: "/v1/salesforce"},
	{Method: "DELETE", Path: "/v1/salesforce", Admin: true},
	{Method: "GET", Path: "/v1/salesforce/settings"},
	{Method: "PUT", Path: "/v1/salesforce/settings", Admin: true},
	{Method: "GET", Path: "/v1/salesforce/settings/history"},
	{Method: "GET", Path: "/v1/sequences/{sequence_id}/salesforce"},
	{Method: "PUT", Path: "/v1/sequences/{sequence_id}/salesforce", Admin: true},
	{Method: "GET", Path: "/v1/sequences/{sequence_id}/salesforce/history"},
	{Method: "GET", Path: "/v1/salesforce/field-mappings/{object}"},
	{Method: "PUT", Path: "/v1/salesforce/field-mappings/{object}", Admin: true},
	{Method: "POST", Path: "/v1/salesforce/field-mappings/{object}/preview"},
	{Method: "GET", Path: "/v1/salesforce/field-mappings/{object}/fields"},
	{Method: "GET", Path: "/v1/contacts/{contact_id}/salesforce"},
	{Method: "POST", Path: "/v1/salesforce/dedup-check"},
	{Method: "GET", Path: "/v1/salesforce/errors"},
	{Method: "POST", Path: "/v1/salesforce/errors/retry", Admin: true},
	{Method: "GET", Path: "/v1/salesforce/readiness", Admin: true},
	{Method: "GET", Path: "/v1/salesforce/health"},
	{Method: "POST", Path: "/v1/privacy/erasures", Admin: true},
	{Method: "GET", Path: "/v1/privacy/erasures/{id}", Admin: true},
}

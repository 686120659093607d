package wiring

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/attribution/attributiondb"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthdb"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/platform/outcomes"
	"github.com/sfsync/sfsync/shared/platform/queue"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/resources"
)

// The sync functions' number settings.
const (
	// EnvHoldDelay (optional, default 900, SQS's maximum) is how long a
	// held event waits before it is tried again, in seconds.
	EnvHoldDelay = "HOLD_DELAY_SECONDS"
	// EnvAwaitAdd (optional, default 2400, 10/3 of the event queues'
	// visibility timeout) is how long an event whose contact.added is not
	// synced yet keeps coming back before it is skipped as not_added, in
	// seconds.
	EnvAwaitAdd = "AWAIT_ADD_SECONDS"
	// EnvGatherMin and EnvGatherFor (optional, default 0: off) hold a
	// team's part of fewer than EnvGatherMin events back, for up to
	// EnvGatherFor seconds since its oldest was first delivered, to run
	// with the team's next events (delivery.Gather).
	EnvGatherMin = "GATHER_MIN_EVENTS"
	EnvGatherFor = "GATHER_SECONDS"
	// EnvTeamsAtOnce (optional, default 1) is how many teams' parts of a
	// batch run at once (delivery.Runner.Teams).
	EnvTeamsAtOnce = "TEAMS_AT_ONCE"
)

// ClaimTTL is how long a sync engine's claim on a record or an activity
// lasts: six function timeouts, past any invocation that could hold it.
const ClaimTTL = 6 * resources.FunctionTimeout

// Sync is the configuration both sync functions read beside Base.
type Sync struct {
	ResultsQueueURL    string
	DeadLetterQueueURL string
	QueueURL           string // the function's own queue, where held and waiting events go back
	HoldDelay          time.Duration
	AwaitAdd           time.Duration
	Gather             delivery.Gather
	TeamsAtOnce        int
}

// ReadSync reads Sync from env; queueEnv names the variable of the
// function's own queue. A missing variable, or a number setting that is
// not a whole number of seconds, is recorded in env.
func ReadSync(env *environ.Reader, queueEnv string) Sync {
	return Sync{
		ResultsQueueURL:    env.Require(resources.EnvResultsQueueURL),
		DeadLetterQueueURL: env.Require(resources.EnvDeadLetterQueueURL),
		QueueURL:           env.Require(queueEnv),
		HoldDelay:          env.Seconds(EnvHoldDelay, 900*time.Second),
		AwaitAdd:           env.Seconds(EnvAwaitAdd, 2400*time.Second),
		Gather:             delivery.Gather{Min: env.Count(EnvGatherMin, 0), For: env.Seconds(EnvGatherFor, 0)},
		TeamsAtOnce:        env.Count(EnvTeamsAtOnce, 1),
	}
}

// SyncOrgs opens each team's org for a sync function: a saved budget cap
// reaches it within the hold delay (BudgetMaxAge at most), so an event
// held by the cap comes back to the cap saved meanwhile, and each return
// of a held event may ask Salesforce once whether the org's allocation
// grew. The calls each org reports at its Close count in the batch's
// SalesforceCalls (callCounter).
func (k *Kit) SyncOrgs(s Sync) *orgs.Orgs {
	o := k.Orgs()
	o.Store = callCounter{o.Store}
	o.Budgets = policydb.RecentBudgets{Store: k.Policies, MaxAge: min(policydb.BudgetMaxAge, s.HoldDelay)}
	o.UsageRecheck = s.HoldDelay
	return o
}

// Reps keeps what each team's org said of its reps' users: in memory for
// the instance's life, and in the ledger table for every instance
// (attribution.DefaultUserTTL): the sync functions may write only the
// ledger and connections tables (infra's DefaultAccess).
func (k *Kit) Reps() *attribution.Users {
	return &attribution.Users{Store: &attributiondb.Store{DB: k.DB, Table: k.Base.LedgerTable}, Log: k.Log}
}

// Publisher sends outcomes to the results queue, counted for the
// operator's dashboard (CountOutcomes) and for the team's sync health
// (health.Counting: one write per team and day of each batch).
func (k *Kit) Publisher(s Sync) delivery.Publisher {
	p := CountOutcomes(outcomes.New(k.SQS, s.ResultsQueueURL), &metrics.EMF{W: os.Stdout}, k.Log)
	return &health.Counting{Next: p, Counts: &healthdb.Store{DB: k.DB, Table: k.Base.LedgerTable}, Log: k.Log}
}

// ServeQueue runs the sync function on Lambda: each SQS batch of its queue
// (event.ContactQueue or event.ActivityQueue) goes through the queue
// adapter to p, and the invalid messages that name their event and team
// are answered by inv. A waiting event comes back after at most a tenth of
// the await window.
func (k *Kit) ServeQueue(kinds string, s Sync, p queue.Processor, inv queue.InvalidAnswerer) {
	h := k.queueHandler(kinds, s, p, inv, &metrics.EMF{W: os.Stdout})
	lambda.Start(func(ctx context.Context, in queue.Batch) (events.SQSEventResponse, error) {
		return h.Handle(ctx, in)
	})
}

// queueHandler is ServeQueue's handler, writing its metrics to m: the
// held events, and each batch's Salesforce calls (meterCalls).
func (k *Kit) queueHandler(kinds string, s Sync, p queue.Processor, inv queue.InvalidAnswerer, m *metrics.EMF) *queue.Handler {
	return &queue.Handler{Queue: kinds, DLQ: k.SQS, DLQURL: s.DeadLetterQueueURL, QueueURL: s.QueueURL, Log: k.Log,
		Metrics:   m,
		HoldDelay: s.HoldDelay,
		WaitMax:   s.AwaitAdd / 10,
		Processor: meterCalls(p, k.Base.Function, m, k.Log), Invalid: inv}
}

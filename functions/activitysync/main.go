// Command activitysync is the SQS-triggered function that consumes the
// email events (email.sent, replied, opened, clicked, bounced) and logs them
// as completed Tasks in Salesforce (R7). Malformed events go to the
// dead-letter queue with the reason; events of a team that must reconnect,
// or whose API budget is spent, are parked on the queue, never failed.
package main

import (
	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/wiring"
	"github.com/sfsync/sfsync/shared/resources"
)

func main() {
	var env environ.Reader
	base := wiring.ReadBase(&env, "activitysync")
	sync := wiring.ReadSync(&env, resources.EnvActivityQueueURL)
	k := wiring.Start(&env, base)

	engine := &activitysync.Engine{
		Ledger:      k.ClaimingLedger(),
		Activities:  &activitydb.Store{DB: k.DB, Table: base.LedgerTable},
		Orgs:        k.SyncOrgs(sync).Activities(),
		Settings:    k.Policies,
		Publisher:   k.Publisher(sync),
		Lifecycle:   k.Lifecycle(),
		Owner:       k.Holder,
		ClaimTTL:    wiring.ClaimTTL,
		Reps:        k.Reps(),
		AwaitAdd:    sync.AwaitAdd,
		HoldDelay:   sync.HoldDelay,
		Gather:      sync.Gather,
		TeamsAtOnce: sync.TeamsAtOnce,
		Log:         k.Log,
	}
	k.ServeQueue(event.ActivityQueue, sync, engine, engine)
}

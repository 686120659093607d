// Command contactsync is the SQS-triggered function that consumes contact
// events (contact.created, contact.added, contact.replied,
// contact.unsubscribed) and syncs them to Salesforce. Malformed events go
// to the dead-letter queue with the reason; events of a team that must
// reconnect are parked on the queue, never failed.
package main

import (
	"time"

	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping/describe"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/wiring"
	"github.com/sfsync/sfsync/shared/resources"
)

func main() {
	var env environ.Reader
	base := wiring.ReadBase(&env, "contactsync")
	sync := wiring.ReadSync(&env, resources.EnvContactQueueURL)
	activityURL := env.Require(resources.EnvActivityQueueURL) // where released held activity goes back
	k := wiring.Start(&env, base)

	mappings := k.Mappings()
	engine := &contactsync.Engine{
		Ledger:   k.ClaimingLedger(),
		Orgs:     k.SyncOrgs(sync).Contacts(),
		Policies: k.Policies,
		Renderer: &mappingdb.Renderer{Store: mappings, Describes: &describe.Cache{DB: k.DB, Table: base.PoliciesTable},
			ReuseFor: 5 * time.Second, DescribeFor: 5 * time.Minute},
		Publisher:   k.Publisher(sync),
		Counts:      mappings,
		Lifecycle:   k.Lifecycle(),
		Release:     &activitydb.Releaser{Store: &activitydb.Store{DB: k.DB, Table: base.LedgerTable}, SQS: k.SQS, QueueURL: activityURL},
		Reps:        k.Reps(),
		Owner:       k.Holder,
		ClaimTTL:    wiring.ClaimTTL,
		AwaitAdd:    sync.AwaitAdd,
		HoldDelay:   sync.HoldDelay,
		Gather:      sync.Gather,
		TeamsAtOnce: sync.TeamsAtOnce,
		Log:         k.Log,
	}
	k.ServeQueue(event.ContactQueue, sync, engine, engine)
}

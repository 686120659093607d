package resources_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
)

// A team may hold its events up to policy.MaxHeldDays: the event queues
// must keep a message at least that long, or SQS would drop a held event
// before it is answered held_too_long.
func TestEventQueuesKeepHeldEvents(t *testing.T) {
	t.Parallel()
	most := time.Duration(policy.MaxHeldDays) * 24 * time.Hour
	for _, name := range []string{event.ContactQueue, event.ActivityQueue} {
		found := false
		for _, q := range resources.Queues {
			if q.Name != name {
				continue
			}
			found = true
			if q.Retention < most {
				t.Errorf("%s retention: got %v; want at least %v (policy.MaxHeldDays)", name, q.Retention, most)
			}
		}
		if !found {
			t.Errorf("queue %s: got none in resources.Queues; want it", name)
		}
	}
}

package activitysync_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// TestNoBackfillRules: R7's no backfill. Activity that happened before the
// team connected Salesforce is never logged, only skipped
// before_connection, whatever else holds for it; activity from the
// moment of the connection on is logged.
func TestNoBackfillRules(t *testing.T) {
	t.Parallel()
	sentAt := func(at time.Time) []delivery.Delivery { return ds(email("1", event.EmailSent, "c1", at)) }
	runRules(t, []rule{
		{rule: "a day before the connection: skipped before_connection", setup: synced("c1"),
			events: sentAt(connectedAt.Add(-24 * time.Hour)), want: wants("evt_1", skipped(event.ReasonBeforeConnection))},
		{rule: "a millisecond before the connection: skipped before_connection", setup: synced("c1"),
			events: sentAt(connectedAt.Add(-time.Millisecond)), want: wants("evt_1", skipped(event.ReasonBeforeConnection))},
		{rule: "at the connection: logged", setup: synced("c1"), events: sentAt(connectedAt), want: wants("evt_1", created()), tasks: 1},
		{rule: "after the connection: logged", setup: synced("c1"), events: sentAt(connectedAt.Add(time.Second)),
			want: wants("evt_1", created()), tasks: 1},
		{rule: "before the connection, contact pending: skipped, not held",
			setup:  func(r *rig) { r.member("c1", ledger.MemberPending) },
			events: sentAt(connectedAt.Add(-time.Hour)), want: wants("evt_1", skipped(event.ReasonBeforeConnection)),
			check: func(t *testing.T, r *rig) {
				if n := len(r.held("c1")); n != 0 {
					t.Errorf("held: got %d; want none", n)
				}
			}},
		{rule: "before the connection, no membership: skipped, no wait",
			events: sentAt(connectedAt.Add(-time.Hour)), want: wants("evt_1", skipped(event.ReasonBeforeConnection))},
		{rule: "a batch across the connection: only what came after is logged", setup: synced("c1"),
			events: ds(email("1", event.EmailSent, "c1", connectedAt.Add(-time.Minute)), email("2", event.EmailReplied, "c1", connectedAt.Add(time.Minute))),
			want:   wants("evt_1", skipped(event.ReasonBeforeConnection), "evt_2", created()), tasks: 1},
	})
}

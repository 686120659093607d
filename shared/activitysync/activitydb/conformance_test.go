package activitydb_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/activitysync/activitytest"
)

// TestConformance holds the DynamoDB store to the rules the memory store
// keeps (activitytest.Run): one table, a Store per case on the case's
// clock; the cases keep to teams of their own.
func TestConformance(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	activitytest.Run(t, func(_ *testing.T, now func() time.Time) activitysync.Activities {
		return &activitydb.Store{DB: s.DB, Table: s.Table, Now: now}
	})
}

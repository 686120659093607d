package ledgerdb_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/ledger/ledgertest"
)

// TestConformance holds the DynamoDB ledger to the rules the memory ledger
// keeps (ledgertest.Run): one table, a Store per case on the case's clock;
// the cases keep to teams of their own.
func TestConformance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if ledgerdb.OutcomeTTL != ledgertest.OutcomeTTL {
		t.Errorf("outcome TTL: got %s; want the memory ledger's %s", ledgerdb.OutcomeTTL, ledgertest.OutcomeTTL)
	}
	if ledgerdb.RuleFollowed != ledgertest.RuleFollowed {
		t.Errorf("match rule of a followed record: got %q; want the memory ledger's %q", ledgerdb.RuleFollowed, ledgertest.RuleFollowed)
	}
	ledgertest.Run(t, func(_ *testing.T, now func() time.Time) ledgertest.Ledger {
		s := ledgerdb.New(f.db, f.table)
		s.Now, s.Backoff = now, time.Millisecond
		return s
	})
}

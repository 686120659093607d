package lifecycledb_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycletest"
)

// TestConformance holds the DynamoDB marks to the rules the memory marks
// keep (lifecycletest.Run): a fresh table per case, as the cases share
// team ids.
func TestConformance(t *testing.T) {
	t.Parallel()
	lifecycletest.Run(t, func(t *testing.T) lifecycle.Marks {
		f := newFixture(t)
		return f.store
	})
}

package attributiontest_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/attribution/attributiontest"
)

func TestUserStoreConformance(t *testing.T) {
	attributiontest.UserStoreSuite(t, func(*testing.T) attribution.UserStore { return attributiontest.NewUserStore() })
}

// TestZeroUserStore: the zero value is an empty store that keeps.
func TestZeroUserStore(t *testing.T) {
	attributiontest.UserStoreSuite(t, func(*testing.T) attribution.UserStore { return new(attributiontest.UserStore) })
}

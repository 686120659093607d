package privacytest_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/privacy/privacytest"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	privacytest.Run(t, func(*testing.T) (privacy.Store, privacytest.Fixture) {
		m := privacytest.NewMemory()
		return m, m
	})
}

func TestMemoryReceipts(t *testing.T) {
	t.Parallel()
	privacytest.RunReceipts(t, func(*testing.T) privacy.Receipts { return privacytest.NewReceipts() })
}

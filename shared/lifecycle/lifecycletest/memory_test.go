package lifecycletest_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycletest"
)

func TestMemoryConforms(t *testing.T) {
	t.Parallel()
	lifecycletest.Run(t, func(*testing.T) lifecycle.Marks { return lifecycletest.New() })
}

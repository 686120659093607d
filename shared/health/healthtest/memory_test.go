package healthtest_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthtest"
)

func TestMemoryConforms(t *testing.T) {
	t.Parallel()
	healthtest.Run(t, func(*testing.T) health.Store { return new(healthtest.Memory) })
}

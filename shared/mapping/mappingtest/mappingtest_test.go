package mappingtest_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/mapping/mappingtest"
)

func TestConformance(t *testing.T) {
	mappingtest.Run(t, func(*testing.T) mappingtest.Store { return mappingtest.New() })
}

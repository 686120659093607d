package policytest_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/policy/policytest"
)

func TestConformance(t *testing.T) {
	policytest.Run(t, func(*testing.T) policytest.Store { return policytest.New() })
}

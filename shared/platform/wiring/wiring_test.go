package wiring

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sfsync/sfsync/shared/attribution/attributiondb"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthdb"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/resources"
)

// TestReadSync: the sync functions' number settings default to 900 and
// 2400 seconds, are read as whole seconds, and a typo is recorded rather
// than read as a default.
func TestReadSync(t *testing.T) {
	tests := []struct {
		name            string
		hold, await     string
		wantHold, wantA time.Duration
		wantErr         error
	}{
		{"defaults", "", "", 900 * time.Second, 2400 * time.Second, nil},
		{"set", "1", "10", time.Second, 10 * time.Second, nil},
		{"a typo in the hold delay", "9OO", "10", 900 * time.Second, 10 * time.Second, environ.ErrInvalid},
		{"a typo in the await window", "1", "1O", time.Second, 2400 * time.Second, environ.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(resources.EnvResultsQueueURL, "results")
			t.Setenv(resources.EnvDeadLetterQueueURL, "dlq")
			t.Setenv(resources.EnvContactQueueURL, "contacts")
			t.Setenv(EnvHoldDelay, tt.hold)
			t.Setenv(EnvAwaitAdd, tt.await)
			var env environ.Reader
			s := ReadSync(&env, resources.EnvContactQueueURL)
			if s.HoldDelay != tt.wantHold || s.AwaitAdd != tt.wantA || s.QueueURL != "contacts" {
				t.Errorf("got hold %v, await %v, queue %q; want %v, %v, contacts", s.HoldDelay, s.AwaitAdd, s.QueueURL, tt.wantHold, tt.wantA)
			}
			if err := env.Err(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Err: got %v; want %v", err, tt.wantErr)
			}
		})
	}
}

// TestSyncOrgs: a sync function's org opener reads a team's saved budget
// cap no older than the hold delay (policydb.BudgetMaxAge at most), and
// asks Salesforce again about a spent allocation after the hold delay.
func TestSyncOrgs(t *testing.T) {
	tests := []struct {
		hold       time.Duration
		wantMaxAge time.Duration
	}{
		{time.Second, time.Second},
		{900 * time.Second, policydb.BudgetMaxAge},
	}
	k := New(Base{Function: "contactsync", APIVersion: "v62.0"}, aws.Config{Region: "us-east-1"}, slog.New(slog.DiscardHandler))
	for _, tt := range tests {
		o := k.SyncOrgs(Sync{HoldDelay: tt.hold})
		b, ok := o.Budgets.(policydb.RecentBudgets)
		if !ok || b.MaxAge != tt.wantMaxAge || o.UsageRecheck != tt.hold {
			t.Errorf("hold %v: got budgets %#v, recheck %v; want RecentBudgets of max age %v, recheck %v", tt.hold, o.Budgets, o.UsageRecheck, tt.wantMaxAge, tt.hold)
		}
		if o.Holder != k.Holder || o.Version != "v62.0" {
			t.Errorf("got holder %q version %q; want %q v62.0", o.Holder, o.Version, k.Holder)
		}
	}
}

// TestSyncWritesItsTables: what the sync functions write goes to the
// ledger table, the one beside connections their IAM lets them write
// (infra/stack DefaultAccess); a store pointed at the policies table
// passes every local test, as the local stack has no IAM, and is refused
// in AWS.
func TestSyncWritesItsTables(t *testing.T) {
	t.Parallel()
	k := New(Base{ConnectionsTable: "connections", PoliciesTable: "policies", LedgerTable: "ledger"},
		aws.Config{Region: "us-east-1"}, slog.New(slog.DiscardHandler))
	reps, ok := k.Reps().Store.(*attributiondb.Store)
	if !ok {
		t.Fatalf("Reps store: got %T; want *attributiondb.Store", k.Reps().Store)
	}
	hc, ok := k.Publisher(Sync{ResultsQueueURL: "results"}).(*health.Counting)
	if !ok {
		t.Fatalf("Publisher: got %T; want *health.Counting", k.Publisher(Sync{}))
	}
	counts, ok := hc.Counts.(*healthdb.Store)
	if !ok {
		t.Fatalf("health counts: got %T; want *healthdb.Store", hc.Counts)
	}
	for _, c := range []struct{ name, got string }{{"rep cache", reps.Table}, {"health counts", counts.Table}} {
		if c.got != "ledger" {
			t.Errorf("%s table: got %q; want %q", c.name, c.got, "ledger")
		}
	}
}

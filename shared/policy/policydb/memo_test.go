package policydb_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policydb"
)

type countingAPI struct {
	*dynamodb.Client
	reads atomic.Int64
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.reads.Add(1)
	return c.Client.GetItem(ctx, in, o...)
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.reads.Add(1)
	return c.Client.Query(ctx, in, o...)
}

// TestResolveAtReusesTheCurrentVersion: a batch of past events resolves
// with one read per document, and every answer is still the version that
// held at the event's time, also across a save made after the read.
func TestResolveAtReusesTheCurrentVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pol, led := newTables(t)
	api := &countingAPI{Client: db}
	s := policydb.New(api, pol, led)
	var clock atomic.Int64
	set := func(d time.Duration) { clock.Store(int64(d)) }
	s.Now = func() time.Time { return start.Add(time.Duration(clock.Load())) }

	set(0) // v1 of the team settings: contact, on_add
	ts := policy.DefaultTeamSettings()
	ts.SyncAs = policy.SyncAsContact
	if _, err := s.SaveTeamSettings(ctx, "t", "u", ts, 0); err != nil {
		t.Fatal(err)
	}
	set(time.Minute)
	api.reads.Store(0)
	for i := range 50 { // 50 events of the last minute, 5 s old or more
		got, err := s.ResolveAt(ctx, "t", "q", start.Add(time.Duration(i)*time.Second))
		if err != nil || got.TeamVersion != 1 || got.SyncAs != policy.SyncAsContact {
			t.Fatalf("event %d: got v%d %s %v; want v1 contact", i, got.TeamVersion, got.SyncAs, err)
		}
	}
	if n := api.reads.Load(); n != 2 {
		t.Errorf("reads for 50 events: got %d; want 2 (the team's and the sequence's current version)", n)
	}

	set(2 * time.Minute) // v2: lead
	ts.SyncAs = policy.SyncAsLead
	if _, err := s.SaveTeamSettings(ctx, "t", "u", ts, 1); err != nil {
		t.Fatal(err)
	}
	set(3 * time.Minute)
	tests := []struct {
		at      time.Duration
		version int
		as      policy.SyncAs
	}{
		{30 * time.Second, 1, policy.SyncAsContact},         // answered by the read at 1 min: v2 did not exist yet
		{150 * time.Second, 2, policy.SyncAsLead},           // after that read: the current version is read again
		{90 * time.Second, 1, policy.SyncAsContact},         // older than the current version: queried
		{3*time.Minute - time.Second, 2, policy.SyncAsLead}, // too fresh for any read: queried
	}
	for _, tt := range tests {
		got, err := s.ResolveAt(ctx, "t", "q", start.Add(tt.at))
		if err != nil || got.TeamVersion != tt.version || got.SyncAs != tt.as {
			t.Errorf("at +%s: got v%d %s %v; want v%d %s", tt.at, got.TeamVersion, got.SyncAs, err, tt.version, tt.as)
		}
	}
}

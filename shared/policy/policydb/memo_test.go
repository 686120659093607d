package policydb_test

import (
	"context"
	"fmt"
	"sync"
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

// countingStore is a store on fresh tables that counts its reads, with a
// clock at start plus what clock holds.
func countingStore(t *testing.T) (*policydb.Store, *countingAPI, *atomic.Int64) {
	t.Helper()
	pol, led := newTables(t)
	api := &countingAPI{Client: db}
	s := policydb.New(api, pol, led)
	clock := new(atomic.Int64)
	s.Now = func() time.Time { return start.Add(time.Duration(clock.Load())) }
	return s, api, clock
}

// TestResolveAtReusesTheCurrentVersion: a batch of past events resolves
// with one read per document, and every answer is still the version that
// held at the event's time, also across a save made after the read.
func TestResolveAtReusesTheCurrentVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, api, clock := countingStore(t)
	set := func(d time.Duration) { clock.Store(int64(d)) }

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
		now, at time.Duration
		version int
		as      policy.SyncAs
		reads   int64
	}{
		{3 * time.Minute, 30 * time.Second, 1, policy.SyncAsContact, 0},                       // answered by the read at 1 min: v2 did not exist yet
		{3 * time.Minute, 150 * time.Second, 2, policy.SyncAsLead, 2},                         // after that read: the current versions are read again
		{3 * time.Minute, 90 * time.Second, 1, policy.SyncAsContact, 1},                       // older than the current version: queried
		{3 * time.Minute, 3*time.Minute - time.Second, 2, policy.SyncAsLead, 0},               // too fresh for the margin, but the read at 3 min came after it
		{3*time.Minute + time.Second, 3*time.Minute + time.Second/2, 2, policy.SyncAsLead, 2}, // too fresh, after the last read: read again
	}
	for _, tt := range tests {
		set(tt.now)
		api.reads.Store(0)
		got, err := s.ResolveAt(ctx, "t", "q", start.Add(tt.at))
		if err != nil || got.TeamVersion != tt.version || got.SyncAs != tt.as {
			t.Errorf("at +%s: got v%d %s %v; want v%d %s", tt.at, got.TeamVersion, got.SyncAs, err, tt.version, tt.as)
		}
		if got := api.reads.Load(); got != tt.reads {
			t.Errorf("at +%s: reads: got %d; want %d", tt.at, got, tt.reads)
		}
	}
}

// TestResolveAtSideBySide: a batch resolving its events side by side, as
// the engines do, reads each document once, also when the events are too
// fresh for the margin; every answer is the version that held at its
// event's time.
func TestResolveAtSideBySide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, api, clock := countingStore(t)
	ts := policy.DefaultTeamSettings()
	ts.SyncAs = policy.SyncAsLead
	if _, err := s.SaveTeamSettings(ctx, "t", "u", ts, 0); err != nil { // v1 at start
		t.Fatal(err)
	}
	tests := []struct {
		name string
		now  time.Duration // when the batch runs
		ats  time.Duration // its events occurred at now - ats, now - ats + 10 ms, ...
	}{
		{"past events", time.Minute, 30 * time.Second},
		{"fresh events", 2 * time.Minute, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		clock.Store(int64(tt.now))
		api.reads.Store(0)
		var g sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			at := start.Add(tt.now - tt.ats + time.Duration(i)*10*time.Millisecond)
			g.Go(func() {
				got, err := s.ResolveAt(ctx, "t", "q", at)
				if err == nil && (got.TeamVersion != 1 || got.SyncAs != policy.SyncAsLead) {
					err = fmt.Errorf("event at %s: got v%d %s; want v1 lead", at, got.TeamVersion, got.SyncAs)
				}
				errs <- err
			})
		}
		g.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
		if got := api.reads.Load(); got != 2 {
			t.Errorf("%s: reads for 50 events side by side: got %d; want 2 (the team's and the sequence's current version)", tt.name, got)
		}
	}
}

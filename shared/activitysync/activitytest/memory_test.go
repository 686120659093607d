package activitytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitytest"
)

// TestMemory holds the memory store to the Activities port's rules.
func TestMemory(t *testing.T) {
	t.Parallel()
	activitytest.Run(t, func(_ *testing.T, now func() time.Time) activitysync.Activities { return activitytest.New(now) })
}

// TestMemoryShowsWhatItStores: a test can look at an activity's claim and
// Task without going through the port.
func TestMemoryShowsWhatItStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := activitytest.Start
	s := activitytest.New(func() time.Time { return now })
	until := now.Add(time.Minute)
	if _, err := s.ClaimAll(ctx, "t1", []activitysync.ClaimRequest{{Key: "k1", EventID: "evt_1"}, {Key: "k2", EventID: "evt_2"}}, "w1", until); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DoneAll(ctx, "t1", "w1", []activitysync.LoggedTask{{Key: "k2", TaskID: "00T000000000001"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want activitytest.Activity
	}{
		{"k1", activitytest.Activity{EventID: "evt_1", Attempts: 1, Owner: "w1", Until: until}},
		{"k2", activitytest.Activity{EventID: "evt_2", Attempts: 1, TaskID: "00T000000000001"}},
	}
	for _, tt := range tests {
		if got, ok := s.Activity("t1", tt.key); !ok || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.key, got, ok, tt.want)
		}
	}
	if got, ok := s.Activity("t1", "k3"); ok {
		t.Errorf("k3: got %+v; want nothing", got)
	}
}

package runner_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/schedule"
	"github.com/sfsync/sfsync/tools/runner"
)

// invocations records what a schedule sends.
type invocations chan []byte

func (c invocations) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	c <- payload
	return nil, nil
}

func TestScheduleInvokesTheFunctionWithScheduledEvents(t *testing.T) {
	t.Parallel()
	got := make(invocations, 10)
	s := &runner.Schedule{Name: "api", Every: time.Millisecond, Function: got, Region: "eu-west-1"}
	s.Start()
	for range 2 {
		select {
		case payload := <-got:
			var ev schedule.Event
			if err := json.Unmarshal(payload, &ev); err != nil || ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" ||
				len(ev.Resources) != 1 || ev.Region != "eu-west-1" {
				t.Fatalf("invoked with %s (%v); want an EventBridge scheduled event", payload, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the schedule never invoked the function")
		}
	}
	s.Stop()
}

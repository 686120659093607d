package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/schedule"
)

// Schedule stands in for the EventBridge rule of a function that declares
// a schedule: every Every it invokes the function with a scheduled event,
// as the rule does, until stopped.
type Schedule struct {
	Name     string // the function's; names the rule
	Every    time.Duration
	Function Invoker
	Region   string
	Logger   *slog.Logger

	stop chan struct{}
	done sync.WaitGroup
}

// Start starts invoking the function.
func (s *Schedule) Start() {
	s.stop = make(chan struct{})
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(s.Every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case at := <-t.C:
				s.fire(at)
			}
		}
	}()
}

// fire invokes the function once with the event of at; a failure is
// logged, as EventBridge would retry it and move on.
func (s *Schedule) fire(at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), s.Every)
	defer cancel()
	go func() { // Stop cancels an invocation in flight
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	ev, _ := json.Marshal(schedule.NewEvent(at, newRequestID(), "arn:aws:events:"+s.Region+":000000000000:rule/"+s.Name+"-schedule", s.Region))
	if _, err := s.Function.Invoke(ctx, ev); err != nil && s.Logger != nil {
		s.Logger.Warn("scheduled invocation failed", "function", s.Name, "error", err.Error())
	}
}

// Stop stops the schedule and waits for an invocation in flight.
func (s *Schedule) Stop() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	s.done.Wait()
}

// Package schedule runs a function's periodic job: it tells the scheduled
// events an EventBridge rule sends the function from the function's other
// events (API Gateway requests), and builds such an event for the local
// runner, which stands in for the rule.
package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// What EventBridge writes in every scheduled event.
const (
	Source     = "aws.events"
	DetailType = "Scheduled Event"
)

// Event is the scheduled event an EventBridge rule sends.
type Event struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Account    string    `json:"account"`
	Time       time.Time `json:"time"`
	Region     string    `json:"region"`
	Resources  []string  `json:"resources"`
	Detail     struct{}  `json:"detail"`
}

// NewEvent is the event the rule ruleARN sends at t.
func NewEvent(t time.Time, id, ruleARN, region string) Event {
	return Event{Version: "0", ID: id, DetailType: DetailType, Source: Source, Account: "000000000000",
		Time: t.UTC().Truncate(time.Second), Region: region, Resources: []string{ruleARN}}
}

// isScheduled reports whether raw is a scheduled event. An API Gateway
// request has neither key at its top level, and a caller cannot put them
// there: what a caller sends is the request's body, a string within it.
func isScheduled(raw json.RawMessage) bool {
	var ev struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	return json.Unmarshal(raw, &ev) == nil && ev.Source == Source && ev.DetailType == DetailType
}

// Handler is a Lambda handler that runs job for a scheduled event and gives
// every other event, decoded as E, to next. A failed job is logged and
// returned, so the invocation fails and Lambda retries it.
func Handler[E, R any](next func(context.Context, E) (R, error), job func(context.Context) error, log *slog.Logger) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		if isScheduled(raw) {
			if err := job(ctx); err != nil {
				log.Error("scheduled job", "error", err.Error())
				return nil, fmt.Errorf("scheduled job: %w", err)
			}
			return nil, nil
		}
		var ev E
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		return next(ctx, ev)
	}
}

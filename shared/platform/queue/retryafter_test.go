package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// TestHandleHonoursRetryAfter: a message whose team's org refused a call
// for its concurrent long-running requests is sent back, as a waiting one
// (no receive counted), after the wait the refusal asks for, in whole
// seconds rounded up; any other failure returns to the queue.
func TestHandleHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	refused := &salesforce.APIError{StatusCode: 403, Code: salesforce.CodeRequestLimitExceeded,
		Message: "ConcurrentPerOrgLongTxn Limit exceeded.", RetryAfter: 7300 * time.Millisecond}
	out := &sent{}
	p := &byTeam{answer: map[string]error{
		"team_busy":   fmt.Errorf("retry: look emails up: composite of 2: %w", refused),
		"team_broken": fmt.Errorf("retry: look emails up: %w", salesforce.ErrTransient),
	}}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	h := &Handler{Queue: event.ContactQueue, Processor: p, DLQ: out, DLQURL: "dlq", QueueURL: "queue",
		Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "busy", Body: addedOf("team_busy", "evt_busy")},
		{MessageId: "broken", Body: addedOf("team_broken", "evt_broken")},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := h.Handle(ctx, wire(t, batch))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "broken" {
		t.Errorf("returned to the queue: got %v; want only broken", resp.BatchItemFailures)
	}
	if len(out.entries) != 1 {
		t.Fatalf("sent back: got %d messages; want 1", len(out.entries))
	}
	var ev struct{ ID string }
	if err := json.Unmarshal([]byte(out.entries[0].body), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != "evt_busy" || out.entries[0].delay != 8 {
		t.Errorf("sent back: got %s after %ds; want evt_busy after 8s (7.3s rounded up)", ev.ID, out.entries[0].delay)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	ask := func(d time.Duration) error {
		return fmt.Errorf("create records: %w", &salesforce.APIError{StatusCode: 403, Code: salesforce.CodeRequestLimitExceeded, RetryAfter: d})
	}
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"whole seconds", ask(5 * time.Second), 5 * time.Second},
		{"rounded up", ask(19*time.Second + time.Millisecond), 20 * time.Second},
		{"at most SQS's longest delay", ask(time.Hour), DefaultHoldDelay},
		{"no wait asked", fmt.Errorf("x: %w", salesforce.ErrTransient), 0},
		{"an API error without a wait", &salesforce.APIError{StatusCode: 503}, 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.err); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

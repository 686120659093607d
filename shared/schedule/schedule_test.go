package schedule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sfsync/sfsync/shared/schedule"
)

func TestHandlerRunsTheJobForScheduledEventsOnly(t *testing.T) {
	t.Parallel()
	scheduled, _ := json.Marshal(schedule.NewEvent(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC), "e1", "arn:aws:events:eu-west-1:000000000000:rule/sweep", "eu-west-1"))
	// A request whose body claims to be a scheduled event is a request.
	request, _ := json.Marshal(events.APIGatewayV2HTTPRequest{RawPath: "/v1/salesforce", Body: string(scheduled)})
	boom := errors.New("boom")
	tests := []struct {
		name              string
		event             []byte
		jobErr            error
		wantJob, wantNext bool
		wantErr           error
	}{
		{"a scheduled event runs the job", scheduled, nil, true, false, nil},
		{"a failed job fails the invocation", scheduled, boom, true, false, boom},
		{"an API Gateway request goes to the API", request, nil, false, true, nil},
		{"the hand-written scheduled event AWS documents", []byte(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-12-07T03:00:00Z","region":"eu-west-1","resources":["arn"],"detail":{}}`), nil, true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ran, served bool
			var logs bytes.Buffer
			h := schedule.Handler(func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				served = ev.RawPath == "/v1/salesforce"
				return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
			}, func(context.Context) error { ran = true; return tt.jobErr }, slog.New(slog.NewJSONHandler(&logs, nil)))
			_, err := h(context.Background(), tt.event)
			if ran != tt.wantJob || served != tt.wantNext || !errors.Is(err, tt.wantErr) {
				t.Errorf("got job %v, request %v, %v; want job %v, request %v, %v", ran, served, err, tt.wantJob, tt.wantNext, tt.wantErr)
			}
			if tt.wantErr != nil && !strings.Contains(logs.String(), "boom") {
				t.Errorf("logs: got %q; want the job's error", logs.String())
			}
		})
	}
}

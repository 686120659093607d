package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// TestHoldMetric: a held message counts towards the alarm metric of why it
// is held; a needs_admin connection's error, which also matches
// ErrNeedsReauth (so it is held alike), counts as NeedsAdmin; a refresh
// refused for this deployment's connected app, which matches
// ErrNeedsReauth too, as AppRefused (the operator's alarm, not the team's).
func TestHoldMetric(t *testing.T) {
	t.Parallel()
	admin := &connection.AdminError{Problem: connection.Problem{Reason: "inactive_user", Message: "reactivate them"}}
	app := &connection.AppRefusedError{Problem: connection.Problem{Reason: "invalid_client", Message: "check the secret", Deployment: true}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"needs_reauth", fmt.Errorf("%w: %w", delivery.ErrHeld, connection.ErrNeedsReauth), metrics.NeedsReauth},
		{"needs_admin", fmt.Errorf("%w: open org: %w", delivery.ErrHeld, admin), metrics.NeedsAdmin},
		{"connected app refused", fmt.Errorf("%w: look emails up: refresh after POST /composite: %w", delivery.ErrHeld, app), metrics.AppRefused},
		{"budget", fmt.Errorf("%w: %w", delivery.ErrHeld, budget.ErrCapped), metrics.BudgetExceeded},
		{"not held", admin, ""},
		{"held for another cause", fmt.Errorf("%w: %w", delivery.ErrHeld, errors.New("parked add")), ""},
	}
	for _, tt := range tests {
		if got := holdMetric(tt.err); got != tt.want {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
}

// refusing sends every message but those of one message group (team),
// which SQS fails.
type refusing struct {
	sent
	team string
}

func (s *refusing) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	var ok []sqstypes.SendMessageBatchRequestEntry
	for _, e := range in.Entries {
		if aws.ToString(e.MessageGroupId) == s.team {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		ok = append(ok, e)
	}
	in2 := *in
	in2.Entries = ok
	if _, err := s.sent.SendMessageBatch(ctx, &in2, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// TestHandleCountsHeldEventsByReason: each message sent back to wait counts
// once in HeldEvents under why it waits, one EMF line per reason and none
// per team; a message that fails, or that SQS would not take back, is not
// held and not counted.
func TestHandleCountsHeldEventsByReason(t *testing.T) {
	t.Parallel()
	refused := &salesforce.APIError{StatusCode: 403, Code: salesforce.CodeRequestLimitExceeded,
		Message: "ConcurrentPerOrgLongTxn Limit exceeded.", RetryAfter: 2 * time.Second}
	heldFor := func(cause error) error { return fmt.Errorf("%w: %w", delivery.ErrHeld, cause) }
	answers := map[string]error{
		"team_reauth":   heldFor(connection.ErrNeedsReauth),
		"team_admin":    heldFor(&connection.AdminError{Problem: connection.Problem{Reason: "inactive_user"}}),
		"team_app":      heldFor(&connection.AppRefusedError{Problem: connection.Problem{Reason: "invalid_client", Deployment: true}}),
		"team_budget":   heldFor(budget.ErrCapped),
		"team_other":    heldFor(errors.New("the contact's contact.added may still be parked")),
		"team_wait":     fmt.Errorf("%w: the contact's contact.added has not been synced yet", delivery.ErrWait),
		"team_gather":   delivery.ErrGathering,
		"team_notrun":   delivery.ErrNotRun,
		"team_busy":     fmt.Errorf("look emails up: %w", refused),
		"team_late":     fmt.Errorf("look emails up: %w", context.DeadlineExceeded),
		"team_broken":   fmt.Errorf("%w: look emails up: %w", delivery.ErrRetry, salesforce.ErrTransient),
		"team_unsent":   heldFor(connection.ErrNeedsReauth),
		"team_reauth_2": heldFor(connection.ErrNeedsReauth),
	}
	var in events.SQSEvent
	for team := range answers {
		in.Records = append(in.Records, events.SQSMessage{MessageId: team, Body: addedOf(team, "evt_"+team)})
	}
	var emf bytes.Buffer
	h := &Handler{Queue: event.ContactQueue, Processor: &byTeam{answer: answers}, DLQ: &refusing{team: "team_unsent"},
		DLQURL: "dlq", QueueURL: "queue", Log: slog.New(slog.DiscardHandler), Metrics: &metrics.EMF{W: &emf}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := h.Handle(ctx, wire(t, in)); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for line := range strings.Lines(emf.String()) {
		var l struct {
			Reason string `json:"Reason"`
			Held   *int   `json:"HeldEvents"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		if l.Held == nil {
			continue
		}
		if _, twice := got[l.Reason]; twice {
			t.Errorf("reason %s: got two lines; want one per reason", l.Reason)
		}
		got[l.Reason] = *l.Held
	}
	want := map[string]int{
		metrics.HeldNeedsReauth: 2, metrics.HeldNeedsAdmin: 1, metrics.HeldAppRefused: 1, metrics.HeldAPILimit: 1,
		metrics.HeldOther: 1, metrics.HeldAwaitingAdd: 1, metrics.HeldGathering: 1, metrics.HeldNotRun: 1,
		metrics.HeldRetryAfter: 1, metrics.HeldOutOfTime: 1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("HeldEvents by reason: got %v; want %v", got, want)
	}
}

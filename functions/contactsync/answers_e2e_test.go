package main

// End-to-end tests of the answers contact sync gives outside a team's
// run (R9): to an event held past its team's held_event_max_days, and to
// a message that breaks the contract but names its event and team.

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/queue"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

// TestHeldTooLong: a team that must reconnect holds its events; one first
// delivered longer ago than the team's held_event_max_days (a copy that
// has been held and sent again for days carries when: the message
// attribute the queue adapter sets) is answered skipped/held_too_long and
// leaves the queue, while a younger one stays held, unanswered.
func TestHeldTooLong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_heldlong")
	connect(t, team, sim)
	if err := seqr.PutSettings(ctx, team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true,
		"activity_tracking": true, "held_event_max_days": 2}); err != nil {
		t.Fatal(err)
	}
	sim.RevokeAllRefreshTokens()
	sim.ExpireAccessTokens()
	at := time.Now().Add(time.Minute)
	old := contactEvent(team, event.ContactAdded, "seq_held", "c_old", "old@heldlong.example", "H", at)
	young := contactEvent(team, event.ContactAdded, "seq_held", "c_young", "young@heldlong.example", "H", at)
	body, err := event.Encode(old)
	if err != nil {
		t.Fatal(err)
	}
	since := strconv.FormatInt(time.Now().Add(-3*24*time.Hour).UnixMilli(), 10)
	if err := seqr.SendRaw(ctx, stack.Resources.Queues[event.ContactQueue].URL, []sqstypes.SendMessageBatchRequestEntry{{
		Id: aws.String("0"), MessageBody: aws.String(string(body)), MessageGroupId: aws.String(team),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			queue.WaitingSinceAttribute: {DataType: aws.String("Number"), StringValue: aws.String(since)}}}}); err != nil {
		t.Fatal(err)
	}
	msgs := h.SendTracked(t, young)
	got := await(t, []event.Event{old}, true)
	if o := got[old.ID]; o.Status != event.StatusSkipped || o.Reason != event.ReasonHeldTooLong {
		t.Errorf("old event: got %s/%s; want skipped/held_too_long", o.Status, o.Reason)
	}
	stacktest.AwaitStatus(t, seqr, team, "needs_reauth")
	h.AwaitNoOutcome(t, msgs, "young event, while held")
	if n := countEmail(sim, "Lead", "old@heldlong.example"); n != 0 {
		t.Errorf("Leads of the old event: got %d; want 0", n)
	}
	// The admin reconnects: the young event syncs, the old one stays answered.
	connect(t, team, sim)
	if o := await(t, []event.Event{young}, true)[young.ID]; o.Status != event.StatusCreated {
		t.Errorf("young event after reconnect: got %s/%s; want created", o.Status, o.Reason)
	}
	// SQS delivers at least once, so the same answer may arrive twice (the
	// sequencer keeps one per outcome id); a different answer may not.
	for _, o := range seqr.Outcomes(old.ID) {
		if o.ID != "out_"+old.ID || o.Status != event.StatusSkipped || o.Reason != "held_too_long" {
			t.Errorf("old event's answers: got %v; want only skipped/held_too_long", seqr.Outcomes(old.ID))
			break
		}
	}
}

// TestInvalidEventAnswered: a message the contract refuses but whose id
// and team are readable is answered failed/invalid_event on the results
// queue, naming the field, and shows with its contact at GET
// /v1/contacts/{id}/salesforce; one without a readable team is not
// answered.
func TestInvalidEventAnswered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	team := stacktest.NextID("team_invalid")
	id, unanswered := stacktest.NextID("evt_invalid"), stacktest.NextID("evt_noteam")
	bodies := []string{
		`{"id":"` + id + `","type":"contact.added","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"` + team + `",
		 "data":{"sequence":{"id":"seq_inv"},"contact":{"id":"c_inv","email":"not-an-email"}}}`,
		`{"id":"` + unanswered + `","type":"contact.added","version":1,"occurred_at":"2026-11-26T10:00:00Z",
		 "data":{"sequence":{"id":"seq_inv"},"contact":{"id":"c_inv","email":"a@inv.example"}}}`,
	}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, b := range bodies {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
	}
	msgs := h.SendRawTracked(t, stack.Resources.Queues[event.ContactQueue].URL, entries)
	got, err := seqr.Await(ctx, []string{id}, nil, awaitFor)
	if err != nil {
		t.Fatal(err)
	}
	o := got[id]
	if o.Status != event.StatusFailed || o.Reason != event.ReasonInvalidEvent || o.TeamID != team || o.ContactID != "c_inv" ||
		o.Error == nil || o.Error.Code != event.InvalidEventCode || !slices.Equal(o.Error.Fields, []string{"data.contact.email"}) {
		t.Errorf("answer: got %+v (error %+v); want failed/invalid_event for %s, c_inv, naming data.contact.email", o, o.Error, team)
	}
	deadline := time.Now().Add(awaitFor)
	for {
		var view struct {
			Outcomes []event.Outcome `json:"outcomes"`
		}
		if _, err := seqr.Call(ctx, team, "GET", "/v1/contacts/c_inv/salesforce", nil, nil, &view); err != nil {
			t.Fatal(err)
		}
		if len(view.Outcomes) == 1 && view.Outcomes[0].EventID == id && event.IsInvalidEvent(view.Outcomes[0]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("contact view: got %+v; want the invalid_event answer", view.Outcomes)
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.AwaitNoOutcome(t, map[string]string{unanswered: msgs[1]}, "message without a team")
}

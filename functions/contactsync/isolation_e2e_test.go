package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sequencer"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// TestSlowOrgDelaysOnlyItsTeam: a team whose org answers every call after
// longer than its share of the function's time shares a batch with another
// team, and comes first in it. The function runs with its deployed timeout
// (resources.FunctionTimeout); the slow org's first call, a read, is cut
// at the end of its team's share. The other team's
// outcomes come from that same invocation, which ends in time: none of its
// messages goes back to the queue, so they are not delayed beyond one
// function deadline. The slow team's messages are sent back (not failed,
// not counted towards the dead-letter queue) and sync once its org
// answers again.
func TestSlowOrgDelaysOnlyItsTeam(t *testing.T) {
	// Not parallel, on a stack of its own: the deployed timeout rather than
	// the harness's moto-sized one, one poller so both teams share a batch.
	ctx := context.Background()
	fns := slices.Clone(resources.Functions)
	for i := range fns {
		if fns[i].Name == "contactsync" {
			src := *fns[i].Source
			src.MaxConcurrency = 1
			fns[i].Source, fns[i].Timeout = &src, resources.FunctionTimeout
		}
		if fns[i].Name == "activitysync" {
			fns = slices.Delete(fns, i, i+1)
			break
		}
	}
	reports := make(chan runner.BatchReport, 100)
	st, client, err := h.StartObserved(ctx, fns, h.Binaries(fns), 6*resources.FunctionTimeout, func(fn string, r runner.BatchReport) {
		if fn == "contactsync" {
			select {
			case reports <- r:
			default: // the test has read what it needs
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	slowOrg, fastOrg := newOrg(t, org.Config{}, st), newOrg(t, org.Config{}, st)
	slow, fast := "team_slow_org", "team_beside_slow"
	for team, o := range map[string]*org.Org{slow: slowOrg, fast: fastOrg} {
		if err := client.Connect(ctx, team, o.URL()); err != nil {
			t.Fatal(err)
		}
	}
	// Half the function's time is more than the first of two teams' share
	// (half of what is left less the time kept to answer).
	if _, err := slowOrg.AddFault(org.Fault{Latency: resources.FunctionTimeout / 2}); err != nil {
		t.Fatal(err)
	}

	at := time.Now().Add(time.Minute)
	slowEvs := []event.Event{
		contactEvent(slow, event.ContactAdded, "seq_iso", "c1", "one@slow.example", "Slow", at),
		contactEvent(slow, event.ContactAdded, "seq_iso", "c2", "two@slow.example", "Slow", at),
	}
	fastEvs := []event.Event{
		contactEvent(fast, event.ContactAdded, "seq_iso", "c3", "one@fast.example", "Fast", at),
		contactEvent(fast, event.ContactAdded, "seq_iso", "c4", "two@fast.example", "Fast", at),
	}
	msgIDs := sendInOrder(t, client, append(slices.Clone(slowEvs), fastEvs...)) // event id -> SQS message id

	got, err := client.Await(ctx, ids(fastEvs), sequencer.Final, awaitFor)
	if err != nil {
		t.Fatalf("the other team's outcomes: %v", err)
	}
	for _, ev := range fastEvs {
		if o := got[ev.ID]; o.Status != event.StatusCreated {
			t.Errorf("%s: got %s/%s; want created", ev.ID, o.Status, o.Reason)
		}
	}

	// The batch that carried the other team's messages: the slow team's came
	// first in it, it ended in time, and it deleted the other team's.
	first := batchWith(t, reports, msgIDs[fastEvs[0].ID])
	if at := slices.Index(first.MessageIDs, msgIDs[slowEvs[0].ID]); at < 0 || at > slices.Index(first.MessageIDs, msgIDs[fastEvs[0].ID]) {
		t.Fatalf("precondition: the slow team's message is not before the other team's in their batch %v", first.MessageIDs)
	}
	if first.InvokeError != nil || first.ResponseError != nil {
		t.Fatalf("the shared batch failed whole: %v %v; want it to end in time", first.InvokeError, first.ResponseError)
	}
	for _, ev := range fastEvs {
		if id := msgIDs[ev.ID]; !slices.Contains(first.Deleted, id) || first.ReceiveCounts[id] != 1 {
			t.Errorf("the other team's %s: deleted %v at receive %d; want deleted by its first delivery (failed: %v)",
				ev.ID, slices.Contains(first.Deleted, id), first.ReceiveCounts[id], first.Failed)
		}
	}
	// The slow team's messages were sent back, not left to fail: no receive
	// of theirs counts towards the dead-letter queue.
	for _, ev := range slowEvs {
		if id := msgIDs[ev.ID]; slices.Contains(first.Failed, id) {
			t.Errorf("the slow team's %s: returned as a failure; want sent back, its delivered copy deleted", ev.ID)
		}
	}
	if n := st.Functions["contactsync"].Stats().Timeouts; n != 0 {
		t.Errorf("invocations timed out: got %d; want 0", n)
	}

	// Its org answers again: the slow team's contacts sync, once each.
	slowOrg.ClearFaults()
	got, err = client.Await(ctx, ids(slowEvs), sequencer.Final, awaitFor)
	if err != nil {
		t.Fatalf("the slow team's outcomes: %v", err)
	}
	// A create that went out while the org was slow may have been saved
	// after its answer was given up on: the next run links that Lead, found
	// by its lookup or named by the duplicate rule its create meets. Either
	// way there is exactly one Lead.
	for _, ev := range slowEvs {
		if o := got[ev.ID]; o.Status != event.StatusCreated && o.Status != event.StatusLinked {
			t.Errorf("%s: got %s/%s; want created, or linked to the Lead a lost answer saved", ev.ID, o.Status, o.Reason)
		}
	}
	for i, email := range []string{"one@slow.example", "two@slow.example"} {
		leads := recordsWithEmail(slowOrg, "Lead", email)
		if len(leads) != 1 {
			t.Errorf("Leads for %s: got %d; want 1", email, len(leads))
			continue
		}
		if o := got[slowEvs[i].ID]; o.Salesforce == nil || !sameID(o.Salesforce.ID, fmt.Sprint(leads[0]["Id"])) {
			t.Errorf("%s: got record %+v; want the Lead %v", email, o.Salesforce, leads[0]["Id"])
		}
	}
}

// batchWith waits for the report of the first batch that carried the
// message id.
func batchWith(t *testing.T, reports <-chan runner.BatchReport, id string) runner.BatchReport {
	t.Helper()
	timeout := time.After(awaitFor)
	for {
		select {
		case r := <-reports:
			if slices.Contains(r.MessageIDs, id) {
				return r
			}
		case <-timeout:
			t.Fatalf("no batch report carries message %s after %s", id, awaitFor)
		}
	}
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// sendInOrder sends contact events to the contact queue in one call, in
// order, and returns each event's SQS message id.
func sendInOrder(t *testing.T, client *sequencer.Client, evs []event.Event) map[string]string {
	t.Helper()
	if len(evs) > 10 {
		t.Fatalf("sendInOrder: %d events; one call takes 10", len(evs))
	}
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(client.ContactQueue)}
	for i, ev := range evs {
		body, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
	}
	out, err := client.SQS.SendMessageBatch(context.Background(), in)
	if err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %v %+v", err, out)
	}
	byID := map[string]string{}
	for _, s := range out.Successful {
		i, _ := strconv.Atoi(aws.ToString(s.Id))
		byID[evs[i].ID] = aws.ToString(s.MessageId)
	}
	return byID
}

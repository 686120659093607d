package main

// End-to-end tests of contact sync: events go to SQS, the local runner
// delivers them to this function's real binary as Lambda's event source
// mapping would, the function talks to the Salesforce simulator and to
// DynamoDB on moto, and the outcomes come back on the results queue.

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/contactsync/contacthttp"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sequencer"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

var (
	h     *stacktest.Harness
	stack *runner.Stack
	seqr  *sequencer.Client
	sqsc  *sqs.Client
)

const awaitFor = stacktest.AwaitFor

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, stacktest.Options{RepoDir: "../..", Prefix: "cs", ExtraEnv: map[string]string{"HOLD_DELAY_SECONDS": "1", "AWAIT_ADD_SECONDS": "10"}},
		func(x *stacktest.Harness) { h, stack, seqr, sqsc = x, x.Stack, x.Seq, x.SQS }))
}

func newOrg(t *testing.T, cfg org.Config, stacks ...*runner.Stack) *org.Org {
	t.Helper()
	return h.NewOrg(t, cfg, stacks...)
}

func connect(t *testing.T, team string, o *org.Org) {
	t.Helper()
	stacktest.Connect(t, seqr, team, o)
}

var contactEvent = stacktest.ContactEvent

func await(t *testing.T, evs []event.Event, final bool) map[string]event.Outcome {
	t.Helper()
	return stacktest.Await(t, seqr, evs, final)
}

func send(t *testing.T, evs ...event.Event) {
	t.Helper()
	stacktest.Send(t, seqr, evs...)
}

func countEmail(o *org.Org, object, email string) int {
	return len(recordsWithEmail(o, object, email))
}

// recordsWithEmail returns the org's records of object whose Email equals
// email, ignoring case.
func recordsWithEmail(o *org.Org, object, email string) []map[string]any {
	var out []map[string]any
	for _, r := range o.Records(object) {
		if e, _ := r["Email"].(string); strings.EqualFold(e, email) {
			out = append(out, r)
		}
	}
	return out
}

// sameID compares Salesforce ids in their 15- or 18-character forms.
func sameID(a, b string) bool { return len(a) >= 15 && len(b) >= 15 && a[:15] == b[:15] }

// TestScenario covers R4, R5, R6 and R9 one clause at a time.
func TestScenario(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	team := "team_scn"
	at := time.Now().Add(time.Minute) // after the connection
	seeded, err := sim.Seed("Contact", map[string]any{"LastName": "Hopper", "Email": "Grace@Navy.example"})
	if err != nil {
		t.Fatal(err)
	}
	leadAndContact, err := sim.Seed("Lead", map[string]any{"LastName": "Both", "Company": "B", "Email": "both@scn.example"})
	if err != nil {
		t.Fatal(err)
	}
	bothContact, _ := sim.Seed("Contact", map[string]any{"LastName": "Both", "Email": "BOTH@scn.example"})
	conv, _ := sim.Seed("Lead", map[string]any{"LastName": "Conv", "Company": "C", "Email": "converted@scn.example"})
	conversion, err := sim.Convert(conv[0])
	if err != nil {
		t.Fatal(err)
	}
	sim.AddValidationRule(org.ValidationRule{Object: "Lead", Field: "Company", Forbid: "Globex", Message: "No competitors"})
	connect(t, team, sim)
	for s, body := range map[string]map[string]any{
		"seq_disabled": {"sync_mode": "inherit", "sync_as": "inherit", "sync_disabled": true},
		"seq_off":      {"sync_mode": "off", "sync_as": "inherit", "sync_disabled": false},
		"seq_reply":    {"sync_mode": "on_reply", "sync_as": "contact", "sync_disabled": false},
		"seq_contact":  {"sync_mode": "on_add", "sync_as": "contact", "sync_disabled": false},
	} {
		if err := seqr.PutSequence(ctx, team, s, body); err != nil {
			t.Fatal(err)
		}
	}

	type want struct {
		status event.Status
		reason event.Reason
		object event.SalesforceObject
		id     string
		code   string
	}
	first := []struct {
		name string
		ev   event.Event
		want want
	}{
		{"R6 created: exists in another letter case", contactEvent(team, event.ContactCreated, "", "c1", "grace@NAVY.example", "Navy", at), want{status: event.StatusExistsInSalesforce, object: event.ObjectContact, id: seeded[0]}},
		{"R6 created: not in Salesforce", contactEvent(team, event.ContactCreated, "", "c2", "nobody@scn.example", "X", at), want{status: event.StatusNotInSalesforce}},
		{"R5 added: new email created as Lead", contactEvent(team, event.ContactAdded, "seq_main", "c3", "ada@scn.example", "AE", at), want{status: event.StatusCreated, object: event.ObjectLead}},
		{"R5 added: Contact preferred over Lead", contactEvent(team, event.ContactAdded, "seq_main", "c4", "Both@Scn.Example", "B", at), want{status: event.StatusLinked, reason: "matched_contact", object: event.ObjectContact, id: bothContact[0]}},
		{"R5 added: converted Lead resolves to its Contact", contactEvent(team, event.ContactAdded, "seq_main", "c5", "converted@scn.example", "C", at), want{status: event.StatusLinked, object: event.ObjectContact, id: conversion.ContactID}},
		{"R5 apostrophe and mixed case", contactEvent(team, event.ContactAdded, "seq_main", "c6", "O'Brien+Tag@Scn.example", "OB", at), want{status: event.StatusCreated, object: event.ObjectLead}},
		{"R4 disabled sequence", contactEvent(team, event.ContactAdded, "seq_disabled", "c7", "alan@scn.example", "A", at), want{status: event.StatusSkipped, reason: event.ReasonSequenceSyncDisabled}},
		{"R4 mode off", contactEvent(team, event.ContactAdded, "seq_off", "c8", "off@scn.example", "O", at), want{status: event.StatusSkipped, reason: event.ReasonSyncOff}},
		{"R4 on_reply waits", contactEvent(team, event.ContactAdded, "seq_reply", "c9", "kath@scn.example", "N", at), want{status: event.StatusPending, reason: event.ReasonAwaitingReply}},
		{"R4 sync_as contact", contactEvent(team, event.ContactAdded, "seq_contact", "c10", "dorothy@scn.example", "D", at), want{status: event.StatusCreated, object: event.ObjectContact}},
		{"R9 Salesforce rejects the record", contactEvent(team, event.ContactAdded, "seq_main", "c11", "wile@scn.example", "Globex", at), want{status: event.StatusFailed, code: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}},
		{"R4 reply without membership (after the await window)", contactEvent(team, event.ContactReplied, "seq_main", "c12", "stranger@scn.example", "S", time.Now()), want{status: event.StatusSkipped, reason: event.ReasonNotAdded}},
		{"R1 event before the connection", contactEvent(team, event.ContactAdded, "seq_main", "c13", "early@scn.example", "E", time.Now().Add(-time.Hour)), want{status: event.StatusSkipped, reason: event.ReasonNotConnected}},
		{"R1 team not connected", contactEvent("team_never", event.ContactAdded, "seq_main", "c14", "never@scn.example", "N", at), want{status: event.StatusSkipped, reason: event.ReasonNotConnected}},
	}
	var evs []event.Event
	for _, c := range first {
		evs = append(evs, c.ev)
	}
	send(t, evs...)
	got := await(t, evs, false)
	check := func(t *testing.T, o event.Outcome, w want) {
		t.Helper()
		if o.Status != w.status || (w.reason != "" && o.Reason != w.reason) {
			t.Errorf("outcome: got %s/%s; want %s/%s", o.Status, o.Reason, w.status, w.reason)
		}
		if w.object != "" && (o.Salesforce == nil || o.Salesforce.Object != w.object || (w.id != "" && o.Salesforce.ID != w.id)) {
			t.Errorf("record: got %+v; want %s %s", o.Salesforce, w.object, w.id)
		}
		if w.code != "" && (o.Error == nil || o.Error.Code != w.code || len(o.Error.Fields) == 0) {
			t.Errorf("error: got %+v; want %s with fields", o.Error, w.code)
		}
		if err := o.Validate(); err != nil {
			t.Errorf("outcome does not validate: %v", err)
		}
	}
	for _, c := range first {
		t.Run(c.name, func(t *testing.T) { check(t, got[c.ev.ID], c.want) })
	}

	// Records in the org: one each, nothing created for links or skips.
	for _, c := range []struct {
		object, email string
		want          int
	}{
		{"Lead", "ada@scn.example", 1}, {"Lead", "o'brien+tag@scn.example", 1}, {"Contact", "dorothy@scn.example", 1},
		{"Contact", "grace@navy.example", 1}, {"Lead", "alan@scn.example", 0}, {"Lead", "off@scn.example", 0},
		{"Lead", "kath@scn.example", 0}, {"Contact", "kath@scn.example", 0}, {"Lead", "wile@scn.example", 0},
		{"Lead", "both@scn.example", 1}, {"Contact", "both@scn.example", 1}, {"Lead", "early@scn.example", 0},
	} {
		if n := countEmail(sim, c.object, c.email); n != c.want {
			t.Errorf("%s records for %s: got %d; want %d", c.object, c.email, n, c.want)
		}
	}
	_ = leadAndContact

	// R4: changing the sequence after the add keeps the pinned rule; the
	// reply syncs as the pinned Contact. A second sequence with the same
	// email never creates a second record (R5).
	if err := seqr.PutSequence(ctx, team, "seq_reply", map[string]any{"sync_mode": "on_add", "sync_as": "lead", "sync_disabled": false}); err != nil {
		t.Fatal(err)
	}
	reply := contactEvent(team, event.ContactReplied, "seq_reply", "c9", "kath@scn.example", "N", at.Add(time.Minute))
	again := contactEvent(team, event.ContactAdded, "seq_other", "c3", "ADA@scn.example", "AE", at.Add(time.Minute))
	send(t, reply, again)
	got = await(t, []event.Event{reply, again}, true)
	t.Run("R4 reply syncs with the pinned sync_as", func(t *testing.T) {
		check(t, got[reply.ID], want{status: event.StatusCreated, object: event.ObjectContact})
		if n := countEmail(sim, "Contact", "kath@scn.example") + countEmail(sim, "Lead", "kath@scn.example"); n != 1 {
			t.Errorf("records for kath: got %d; want 1", n)
		}
	})
	t.Run("R5 already synced email links", func(t *testing.T) {
		check(t, got[again.ID], want{status: event.StatusLinked, reason: event.ReasonAlreadySynced, object: event.ObjectLead})
		if n := countEmail(sim, "Lead", "ada@scn.example"); n != 1 {
			t.Errorf("Leads for ada: got %d; want 1", n)
		}
	})
	t.Run("R9 outcomes readable through the API", func(t *testing.T) {
		var body struct {
			Outcomes []event.Outcome `json:"outcomes"`
		}
		if _, err := seqr.Call(ctx, team, "GET", "/v1/contacts/c3/salesforce", nil, nil, &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Outcomes) < 2 {
			t.Errorf("outcomes of c3: got %d; want 2", len(body.Outcomes))
		}
		var errs struct {
			Groups []struct {
				Code  string `json:"code"`
				Count int    `json:"count"`
			} `json:"groups"`
		}
		if _, err := seqr.Call(ctx, team, "GET", "/v1/salesforce/errors", nil, nil, &errs); err != nil {
			t.Fatal(err)
		}
		if len(errs.Groups) != 1 || errs.Groups[0].Code != "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
			t.Errorf("error groups: got %+v; want the validation failure", errs.Groups)
		}
	})
	t.Run("R6 dedup check endpoint", func(t *testing.T) {
		var res struct {
			Results []struct {
				Email  string       `json:"email"`
				Status event.Status `json:"status"`
			} `json:"results"`
		}
		if _, err := seqr.Call(ctx, team, "POST", "/v1/salesforce/dedup-check", nil,
			map[string]any{"emails": []string{"GRACE@navy.example", "nobody@scn.example"}}, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 2 || res.Results[0].Status != event.StatusExistsInSalesforce || res.Results[1].Status != event.StatusNotInSalesforce {
			t.Errorf("dedup check: got %+v", res.Results)
		}
	})
}

// TestReplyBeforeItsAddWaits: the queue does not keep order, so a
// contact.replied can be handled before its contact.added. It waits for the
// add (AWAIT_ADD_SECONDS) and then syncs the contact with the pinned rule.
func TestReplyBeforeItsAddWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	team := "team_reorder"
	connect(t, team, sim)
	if err := seqr.PutSequence(ctx, team, "seq_r", map[string]any{"sync_mode": "on_reply", "sync_as": "contact", "sync_disabled": false}); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	add := contactEvent(team, event.ContactAdded, "seq_r", "c_r", "late@reorder.example", "L", at)
	reply := contactEvent(team, event.ContactReplied, "seq_r", "c_r", "late@reorder.example", "L", at.Add(time.Second))
	// The reply is handled first, and finds no membership: it waits,
	// unanswered.
	h.AwaitNoOutcome(t, h.SendTracked(t, reply), "reply before its add")
	if t.Failed() {
		t.FailNow()
	}
	send(t, add)
	got := await(t, []event.Event{add, reply}, false)
	if o := got[reply.ID]; o.Status != event.StatusCreated || o.Salesforce == nil || o.Salesforce.Object != event.ObjectContact {
		t.Errorf("reply: got %s/%s %+v; want created Contact", o.Status, o.Reason, o.Salesforce)
	}
	if n := countEmail(sim, "Contact", "late@reorder.example") + countEmail(sim, "Lead", "late@reorder.example"); n != 1 {
		t.Errorf("records: got %d; want 1", n)
	}
}

func TestDeduplicationOffLooksNothingUp(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := "team_nodedup"
	connect(t, team, sim)
	if err := seqr.PutSettings(context.Background(), team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": false, "activity_tracking": true}); err != nil {
		t.Fatal(err)
	}
	before := sim.Stats().Total
	ev := contactEvent(team, event.ContactCreated, "", "c1", "someone@nodedup.example", "X", time.Now().Add(time.Minute))
	send(t, ev)
	got := await(t, []event.Event{ev}, true)
	if o := got[ev.ID]; o.Status != event.StatusSkipped || o.Reason != event.ReasonDeduplicationOff {
		t.Errorf("outcome: got %s/%s; want skipped/deduplication_off", o.Status, o.Reason)
	}
	if after := sim.Stats().Total; after != before {
		t.Errorf("Salesforce calls: got %d; want none", after-before)
	}
}

// TestMalformedMessageGoesToTheDLQ: an event the schema refuses goes to the
// dead-letter queue with the field named. An email with a backslash is one:
// Salesforce's Email field refuses it (so does the simulator's), so it could
// never be stored or found.
func TestMalformedMessageGoesToTheDLQ(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := stack.Resources.Queues["contact-events"]
	bodies := map[string]string{
		"not an email": `{"id":"evt_bad","type":"contact.added","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"team_bad",
	 "data":{"sequence":{"id":"s"},"contact":{"id":"c","email":"not-an-email"}}}`,
		"backslash": `{"id":"evt_bad_backslash","type":"contact.added","version":1,"occurred_at":"2026-11-26T10:00:00Z","team_id":"team_bad",
	 "data":{"sequence":{"id":"s"},"contact":{"id":"c2","email":"O'Back\\Slash@Quote.example"}}}`,
	}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for name, body := range bodies {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strings.ReplaceAll(name, " ", "_")), MessageBody: aws.String(body)})
	}
	if err := seqr.SendRaw(ctx, q.URL, entries); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(awaitFor)
	for len(seen) < len(bodies) && time.Now().Before(deadline) {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.DLQURL), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			for name, body := range bodies {
				if aws.ToString(m.Body) != body || seen[name] {
					continue
				}
				seen[name] = true
				reason := aws.ToString(m.MessageAttributes["error"].StringValue)
				if !strings.Contains(reason, "data.contact.email: not an email address") {
					t.Errorf("%s: DLQ reason: got %q; want the field named", name, reason)
				}
			}
		}
	}
	for name := range bodies {
		if !seen[name] {
			t.Errorf("%s: the malformed message never reached the DLQ", name)
		}
	}
}

// TestEveryMessageTwiceConcurrently sends each event twice in parallel:
// one record per email, one final outcome per event.
func TestEveryMessageTwiceConcurrently(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := "team_twice"
	connect(t, team, sim)
	at := time.Now().Add(time.Minute)
	var evs []event.Event
	for i := range 30 {
		evs = append(evs, contactEvent(team, event.ContactAdded, "seq_twice", fmt.Sprintf("c%d", i), fmt.Sprintf("p%d@twice.example", i), "T", at))
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); send(t, evs...) }()
	}
	wg.Wait()
	got := await(t, evs, true)
	for i, ev := range evs {
		if o := got[ev.ID]; o.Status != event.StatusCreated && o.Status != event.StatusLinked {
			t.Errorf("%s: got %s; want created or linked", ev.ID, o.Status)
		}
		if n := countEmail(sim, "Lead", fmt.Sprintf("p%d@twice.example", i)); n != 1 {
			t.Errorf("Leads for p%d: got %d; want 1", i, n)
		}
	}
}

// TestLostAnswerAfterCommit: Salesforce saves the record, then the
// connection drops before the answer. The retry finds it: no duplicate, no
// failure.
func TestLostAnswerAfterCommit(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_lost") // unique, so -count=2 starts afresh
	connect(t, team, sim)
	// The connect's readiness report made a composite call of its own.
	composites := sim.Stats().ByEndpoint["POST composite"]
	// One event is one batch: its first composite call is the lookup, its
	// second the create, whose answer is lost after Salesforce saved the Lead.
	if _, err := sim.AddFault(org.Fault{Method: "POST", PathRegexp: `/composite$`, Skip: 1, Times: 1, DropAfterCommit: true}); err != nil {
		t.Fatal(err)
	}
	email := "Lost.Answer@lost.example"
	ev := contactEvent(team, event.ContactAdded, "seq_lost", "c1", email, "L", time.Now().Add(time.Minute))
	msgs := h.SendTracked(t, ev)
	o := await(t, []event.Event{ev}, true)[ev.ID]
	leads := recordsWithEmail(sim, "Lead", email)
	if len(leads) != 1 {
		t.Fatalf("Leads for %s: got %d; want 1", email, len(leads))
	}
	// The create's answer never arrived, so only the retry's lookup can have
	// named the record: linked to the Lead the lost call saved.
	if o.Status != event.StatusLinked || o.Reason != "matched_lead" || o.Salesforce == nil || !sameID(o.Salesforce.ID, fmt.Sprint(leads[0]["Id"])) {
		t.Errorf("outcome: got %s/%s %+v %+v; want linked/matched_lead to %v", o.Status, o.Reason, o.Salesforce, o.Error, leads[0]["Id"])
	}
	if got := sim.Stats().ByEndpoint["POST composite"] - composites; got != 3 {
		t.Errorf("composite calls: got %d; want 3 (lookup, create whose answer was lost, lookup on retry)", got)
	}
	// Once its message has left the queue, nothing more comes of it.
	h.AwaitDeleted(t, msgs[ev.ID])
	h.ReadAllOutcomes(t)
	if got := len(seqr.Outcomes(ev.ID)); got != 1 {
		t.Errorf("outcomes published: got %d; want 1", got)
	}
}

// TestBurstOfAThousand: 1,000 contact.added for one team, half already in
// Salesforce in another letter case, cost at most 15 API calls; then 1,000
// added by 200 reps for 300 companies, synced as Contacts owned by their
// reps under their Accounts (half of which the fallback creates), cost at
// most 10 calls more than that burst (R10: the lookups batched).
func TestBurstOfAThousand(t *testing.T) {
	// Not parallel, and on a stack of its own: moto accepts about a hundred
	// messages a second, so a burst that SQS takes in under a second trickles
	// in here for many seconds. The burst stack's event source waits up to
	// 60 s to fill a batch (MaximumBatchingWindowInSeconds) with two pollers
	// (MaximumConcurrency), deployment knobs for bursty teams, so the
	// function sees the burst in a few batches as it would in AWS.
	ctx := context.Background()
	fns := stacktest.SlowMoto(resources.Functions)
	for i := range fns {
		if fns[i].Name == "contactsync" {
			src := *fns[i].Source
			src.BatchingWindow, src.MaxConcurrency = 60*time.Second, 2
			fns[i].Source = &src
		}
		if fns[i].Name == "activitysync" {
			fns = slices.Delete(fns, i, i+1)
			break
		}
	}
	bins := h.Binaries(fns)
	st, client, err := h.Start(ctx, fns, bins, 6*time.Minute) // more than the window and the timeout, as Lambda requires
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	sim := newOrg(t, org.Config{DailyLimit: 100000}, st)
	team := "team_burst"
	var seedRecs []map[string]any
	for i := 0; i < 1000; i += 2 {
		seedRecs = append(seedRecs, map[string]any{"LastName": "Seed", "Company": "S", "Email": fmt.Sprintf("B%d@Burst.Example", i)})
	}
	if _, err := sim.Seed("Lead", seedRecs...); err != nil {
		t.Fatal(err)
	}
	if err := client.Connect(ctx, team, sim.URL()); err != nil {
		t.Fatal(err)
	}
	before := sim.Stats().Total
	at := time.Now().Add(time.Minute)
	var evs []event.Event
	var ids []string
	for i := range 1000 {
		ev := contactEvent(team, event.ContactAdded, "seq_burst", fmt.Sprintf("c%d", i), fmt.Sprintf("b%d@burst.example", i), "B", at)
		evs, ids = append(evs, ev), append(ids, ev.ID)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for part := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := client.Send(ctx, evs[part*250:(part+1)*250]...); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// A thousand contacts on moto, beside the rest of make test: the wait
	// ends at the last outcome, the margin is for a busy machine.
	got, err := client.Await(ctx, ids, sequencer.Final, 2*awaitFor)
	if err != nil {
		t.Fatal(err)
	}
	calls := sim.Stats().Total - before
	t.Logf("1,000 contact.added (500 already in Salesforce): %d Salesforce API calls; outcomes %s after the first send (moto bound)",
		calls, time.Since(start).Round(time.Second))
	if calls > 15 {
		t.Errorf("API calls: got %d; want at most 15", calls)
	}
	created, linked := 0, 0
	for _, o := range got {
		switch o.Status {
		case event.StatusCreated:
			created++
		case event.StatusLinked:
			linked++
		}
	}
	if created+linked != 1000 || linked < 500 {
		t.Errorf("outcomes: got %d created, %d linked; want 1000 in all, 500 or more linked", created, linked)
	}
	if n := len(sim.Records("Lead")); n != 1000 {
		t.Errorf("Leads: got %d; want 1000", n)
	}
	attributed := attributionBurst(t, client, sim)
	t.Logf("1,000 contact.added by 200 reps for 300 companies: %d Salesforce API calls (the burst: %d)", attributed, calls)
	if attributed > calls+10 {
		t.Errorf("API calls with owners and Accounts: got %d; want at most the burst's %d + 10", attributed, calls)
	}
}

// attributionBurst sends 1,000 contact.added of a team of its own: contact
// i is added by rep i%200 (every tenth rep's user inactive) for company
// (7i)%300, half the companies with an Account already. It checks each
// contact's owner and Account in the org, and returns the API calls spent.
func attributionBurst(t *testing.T, client *sequencer.Client, sim *org.Org) int {
	t.Helper()
	ctx := context.Background()
	team := "team_burst_attr"
	users := map[int]string{}
	for r := range 200 {
		id, err := sim.SeedUser(fmt.Sprintf("Rep%03d@Sales.Burst.Example", r), r%10 != 0, "")
		if err != nil {
			t.Fatal(err)
		}
		users[r] = id
	}
	accounts := map[int]string{}
	for c := 0; c < 300; c += 2 {
		ids, err := sim.Seed("Account", map[string]any{"Name": fmt.Sprintf("Company %03d", c), "Website": fmt.Sprintf("https://www.co%03d.burst.example/", c)})
		if err != nil {
			t.Fatal(err)
		}
		accounts[c] = ids[0]
	}
	if err := client.Connect(ctx, team, sim.URL()); err != nil {
		t.Fatal(err)
	}
	if err := client.PutSettings(ctx, team, map[string]any{"sync_as": "contact", "sync_mode": "on_add", "deduplication": true, "activity_tracking": true}); err != nil {
		t.Fatal(err)
	}
	before := sim.Stats().Total
	at := time.Now().Add(time.Minute)
	var evs []event.Event
	var ids []string
	for i := range 1000 {
		rep, company := i%200, (i*7)%300
		ev := contactEvent(team, event.ContactAdded, "seq_attr", fmt.Sprintf("a%d", i), fmt.Sprintf("p%d@co%03d.burst.example", i, company), fmt.Sprintf("Company %03d", company), at)
		d := ev.Data.(event.ContactData)
		d.User = &event.User{ID: fmt.Sprintf("usr_%d", rep), Email: fmt.Sprintf("rep%03d@sales.burst.example", rep)}
		ev.Data = d
		evs, ids = append(evs, ev), append(ids, ev.ID)
	}
	if err := client.Send(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	got, err := client.Await(ctx, ids, sequencer.Final, 2*awaitFor)
	if err != nil {
		t.Fatal(err)
	}
	calls := sim.Stats().Total - before
	byCompany := map[int]map[string]bool{}
	for i, ev := range evs {
		o := got[ev.ID]
		if o.Status != event.StatusCreated || o.Salesforce == nil || o.Salesforce.Object != event.ObjectContact {
			t.Fatalf("%s: got %s/%s %+v; want a created Contact", ev.ID, o.Status, o.Reason, o.Salesforce)
		}
		rec, _ := sim.Record("Contact", o.Salesforce.ID)
		rep, company := i%200, (i*7)%300
		wantOwner := users[rep]
		if rep%10 == 0 {
			wantOwner = sim.UserID()
		}
		if owner, _ := rec["OwnerId"].(string); !sameID(owner, wantOwner) {
			t.Errorf("%s: OwnerId %s; want %s (rep %d)", ev.ID, owner, wantOwner, rep)
		}
		acct, _ := rec["AccountId"].(string)
		if want, ok := accounts[company]; ok && !sameID(acct, want) {
			t.Errorf("%s: AccountId %s; want the company's %s", ev.ID, acct, want)
		}
		if byCompany[company] == nil {
			byCompany[company] = map[string]bool{}
		}
		byCompany[company][acct] = true
	}
	for c, accts := range byCompany {
		if len(accts) != 1 || accts[""] {
			t.Errorf("company %d: its Contacts are under %v; want one Account", c, accts)
		}
	}
	if n := len(sim.Records("Account")); n != 300 {
		t.Errorf("Accounts: got %d; want 300 (150 made, one per company)", n)
	}
	return calls
}

// TestHeldWhileNeedsReauth: a revoked refresh token holds the team's events
// (not failed, not lost); after the admin reconnects they sync.
func TestHeldWhileNeedsReauth(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := "team_revoked"
	connect(t, team, sim)
	sim.RevokeAllRefreshTokens()
	sim.ExpireAccessTokens()
	at := time.Now().Add(time.Minute)
	ev := contactEvent(team, event.ContactAdded, "seq_rev", "c1", "held@revoked.example", "H", at)
	msgs := h.SendTracked(t, ev)
	stacktest.AwaitStatus(t, seqr, team, "needs_reauth")
	h.AwaitNoOutcome(t, msgs, "while held")
	if t.Failed() {
		t.FailNow()
	}
	connect(t, team, sim) // the admin reconnects
	got := await(t, []event.Event{ev}, true)
	if o := got[ev.ID]; o.Status != event.StatusCreated {
		t.Errorf("after reconnect: got %s %+v; want created", o.Status, o.Error)
	}
	if n := countEmail(sim, "Lead", "held@revoked.example"); n != 1 {
		t.Errorf("Leads: got %d; want 1", n)
	}
}

// TestFieldMappingVersions: contacts synced before and after a mapping change
// carry the old and new values and versions (R8); a field deleted in
// Salesforce after the mapping was saved fails only the contacts that use it.
func TestFieldMappingVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	for _, f := range []org.CustomField{{Name: "Region__c", Type: "text", Length: 20}, {Name: "Temp__c", Type: "text", Length: 40}} {
		if err := sim.AddCustomField("Lead", f); err != nil {
			t.Fatal(err)
		}
	}
	team := stacktest.NextID("team_map") // unique, so -count=2 starts afresh
	connect(t, team, sim)
	var current struct {
		Fields []map[string]any `json:"fields"`
	}
	if _, err := seqr.Call(ctx, team, "GET", "/v1/salesforce/field-mappings/lead", nil, nil, &current); err != nil {
		t.Fatal(err)
	}
	// save saves a new mapping version and returns how many contacts the
	// answer says keep an older one.
	save := func(region string, withTemp bool) int {
		t.Helper()
		rows := append(slices.Clone(current.Fields),
			map[string]any{"salesforce_field": "Region__c", "source": map[string]any{"constant": region}})
		if withTemp {
			rows = append(rows, map[string]any{"salesforce_field": "Temp__c", "source": map[string]any{"field": "custom.temp"}})
		}
		var out struct {
			Keeping *int `json:"contacts_keeping_previous_version"`
		}
		if _, err := seqr.Call(ctx, team, "PUT", "/v1/salesforce/field-mappings/lead", map[string]string{"If-Match": "*"},
			map[string]any{"fields": rows}, &out); err != nil {
			t.Fatalf("save mapping: %v", err)
		}
		if out.Keeping == nil {
			t.Fatalf("save mapping: got no contacts_keeping_previous_version")
		}
		time.Sleep(6 * time.Second) // the functions reuse a mapping for 5 s
		return *out.Keeping
	}
	at := time.Now().Add(time.Minute)
	synced := func(contact, email string, custom map[string]string) event.Outcome {
		t.Helper()
		ev := contactEvent(team, event.ContactAdded, "seq_map", contact, email, "M", at)
		d := ev.Data.(event.ContactData)
		d.Contact.Custom = custom
		ev.Data = d
		send(t, ev)
		return await(t, []event.Event{ev}, true)[ev.ID]
	}
	version := func(contact string) float64 {
		t.Helper()
		var body struct {
			Records []struct {
				MappingVersion float64 `json:"mapping_version"`
			} `json:"records"`
		}
		if _, err := seqr.Call(ctx, team, "GET", "/v1/contacts/"+contact+"/salesforce", nil, nil, &body); err != nil || len(body.Records) == 0 {
			t.Fatalf("contact %s: %v %+v", contact, err, body)
		}
		return body.Records[0].MappingVersion
	}
	region := func(email string) string {
		for _, r := range sim.Records("Lead") {
			if strings.EqualFold(fmt.Sprint(r["Email"]), email) {
				return fmt.Sprint(r["Region__c"])
			}
		}
		return "<none>"
	}

	if n := save("EMEA", true); n != 0 {
		t.Errorf("first save: got %d contacts keeping an older version; want 0", n)
	}
	if o := synced("m1", "before@map.example", nil); o.Status != event.StatusCreated {
		t.Fatalf("before the change: got %s %+v", o.Status, o.Error)
	}
	if n := save("APAC", true); n != 1 {
		t.Errorf("second save: got %d contacts keeping an older version; want 1 (m1)", n)
	}
	if o := synced("m2", "after@map.example", nil); o.Status != event.StatusCreated {
		t.Fatalf("after the change: got %s %+v", o.Status, o.Error)
	}
	if got := region("before@map.example"); got != "EMEA" {
		t.Errorf("contact synced before the change: got region %q; want EMEA (never re-synced)", got)
	}
	if got := region("after@map.example"); got != "APAC" {
		t.Errorf("contact synced after the change: got region %q; want APAC", got)
	}
	if v1, v2 := version("m1"), version("m2"); v1 >= v2 || v1 < 1 {
		t.Errorf("mapping versions: got %v then %v; want the first older", v1, v2)
	}

	// Temp__c is deleted in Salesforce: the contact that fills it fails with
	// the field named; its batch-mate without a value for it syncs. The pair
	// goes out in one SendMessageBatch, but the event source may still split
	// it over two batches; the composite calls tell: one batch costs 3 (one
	// lookup, the collection Salesforce refuses for the field, the batch-mate
	// sent again), two batches cost 4. A split pair is sent again, as a new
	// pair, until one shares a batch.
	if err := sim.DeleteCustomField("Lead", "Temp__c"); err != nil {
		t.Fatal(err)
	}
	created := 2 // m1 and m2
	var failedContacts []string
	together := false
	for attempt := 1; attempt <= 3 && !together; attempt++ {
		uses := contactEvent(team, event.ContactAdded, "seq_map", fmt.Sprintf("m3_%d", attempt), fmt.Sprintf("uses%d@map.example", attempt), "M", at)
		d := uses.Data.(event.ContactData)
		d.Contact.Custom = map[string]string{"temp": "value"}
		uses.Data = d
		other := contactEvent(team, event.ContactAdded, "seq_map", fmt.Sprintf("m4_%d", attempt), fmt.Sprintf("other%d@map.example", attempt), "M", at)
		before := sim.Stats().ByEndpoint["POST composite"]
		send(t, uses, other) // two events: one SendMessageBatch
		got := await(t, []event.Event{uses, other}, true)
		if o := got[uses.ID]; o.Status != event.StatusFailed || o.Error == nil || o.Error.Code != "INVALID_FIELD" || !slices.Contains(o.Error.Fields, "Temp__c") {
			t.Errorf("contact using the deleted field: got %s %+v; want failed INVALID_FIELD naming Temp__c", o.Status, o.Error)
		}
		if o := got[other.ID]; o.Status != event.StatusCreated {
			t.Errorf("its batch-mate: got %s %+v; want created", o.Status, o.Error)
		} else {
			created++
		}
		failedContacts = append(failedContacts, uses.ContactID())
		calls := sim.Stats().ByEndpoint["POST composite"] - before
		together = calls == 3
		if !together {
			t.Logf("attempt %d: %d composite calls, so the pair came in two batches; sending a new pair", attempt, calls)
		}
	}
	if !together {
		t.Errorf("no pair shared a batch in 3 attempts: the batch-mate rule went untested")
	}

	// R9: the failure is visible in the errors view, grouped by its code,
	// with the field.
	type failedContact struct {
		ContactID string   `json:"contact_id"`
		Fields    []string `json:"fields"`
	}
	var errs struct {
		Groups []struct {
			Code     string          `json:"code"`
			Count    int             `json:"count"`
			Contacts []failedContact `json:"contacts"`
		} `json:"groups"`
	}
	if _, err := seqr.Call(ctx, team, "GET", "/v1/salesforce/errors", nil, nil, &errs); err != nil {
		t.Fatal(err)
	}
	if len(errs.Groups) != 1 || errs.Groups[0].Code != "INVALID_FIELD" || errs.Groups[0].Count != len(failedContacts) {
		t.Fatalf("error groups: got %+v; want one INVALID_FIELD group of %d", errs.Groups, len(failedContacts))
	}
	for _, id := range failedContacts {
		i := slices.IndexFunc(errs.Groups[0].Contacts, func(c failedContact) bool { return c.ContactID == id })
		if i < 0 || !slices.Contains(errs.Groups[0].Contacts[i].Fields, "Temp__c") {
			t.Errorf("errors view: got %+v; want contact %s with field Temp__c", errs.Groups[0].Contacts, id)
		}
	}

	// A new version now says how many contacts were really synced under the
	// older ones (the failed ones created nothing).
	if n := save("LATAM", false); n != created {
		t.Errorf("third save: got %d contacts keeping an older version; want %d", n, created)
	}
}

// TestQuotedEmails (R5): an email with an apostrophe and mixed case links to
// the record Salesforce holds in another case, and a new one is created
// once; a backslash, which Salesforce's Email field refuses, never reaches
// a query.
func TestQuotedEmails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_quote") // unique, so -count=2 starts afresh
	if _, err := sim.Seed("Lead", map[string]any{"LastName": "Back", "Company": "B", "Email": `Back\Slash@Quote.example`}); err == nil || !strings.Contains(err.Error(), "INVALID_EMAIL_ADDRESS") {
		t.Errorf("seed a backslash email: got %v; want INVALID_EMAIL_ADDRESS, as Salesforce answers", err)
	}
	seeded, err := sim.Seed("Contact", map[string]any{"LastName": "O'Hara", "Email": "O'Hara.Mixed@Quote.Example"})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, team, sim)
	at := time.Now().Add(time.Minute)
	existing := contactEvent(team, event.ContactAdded, "seq_quote", "q1", "o'hara.mixed@QUOTE.example", "Q", at)
	newOnce := contactEvent(team, event.ContactAdded, "seq_quote", "q2", "D'Arcy.New@Quote.Example", "Q", at)
	sameNew := contactEvent(team, event.ContactAdded, "seq_quote_2", "q3", "d'arcy.new@quote.EXAMPLE", "Q", at)
	send(t, existing, newOnce, sameNew)
	got := await(t, []event.Event{existing, newOnce, sameNew}, true)

	if o := got[existing.ID]; o.Status != event.StatusLinked || o.Reason != "matched_contact" || o.Salesforce == nil || !sameID(o.Salesforce.ID, seeded[0]) {
		t.Errorf("existing apostrophe email: got %s/%s %+v %+v; want linked/matched_contact to %s", o.Status, o.Reason, o.Salesforce, o.Error, seeded[0])
	}
	statuses := []event.Status{got[newOnce.ID].Status, got[sameNew.ID].Status}
	slices.Sort(statuses)
	if want := []event.Status{event.StatusCreated, event.StatusLinked}; !slices.Equal(statuses, want) {
		t.Errorf("new apostrophe email twice: got %v; want one created, one linked", statuses)
	}
	if a, b := got[newOnce.ID].Salesforce, got[sameNew.ID].Salesforce; a == nil || b == nil || a.Object != b.Object || a.ID != b.ID { // the creator also says who owns it
		t.Errorf("new apostrophe email twice: got records %+v and %+v; want the same", a, b)
	}
	for _, c := range []struct {
		object, email string
		want          int
	}{{"Lead", "d'arcy.new@quote.example", 1}, {"Contact", "d'arcy.new@quote.example", 0}, {"Lead", "o'hara.mixed@quote.example", 0}, {"Contact", "o'hara.mixed@quote.example", 1}} {
		if n := countEmail(sim, c.object, c.email); n != c.want {
			t.Errorf("%s records for %s: got %d; want %d", c.object, c.email, n, c.want)
		}
	}

	// The synchronous check refuses the backslash before any Salesforce call.
	before := sim.Stats().Total
	var refused struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	status, _ := seqr.Call(ctx, team, "POST", "/v1/salesforce/dedup-check", nil,
		map[string]any{"emails": []string{"o'hara.mixed@quote.example", `back\slash@quote.example`}}, &refused)
	if status != 400 || refused.Error.Field != "emails[1]" {
		t.Errorf("dedup check with a backslash: got %d naming %q; want 400 naming emails[1]", status, refused.Error.Field)
	}
	if after := sim.Stats().Total; after != before {
		t.Errorf("Salesforce calls for a refused check: got %d; want none", after-before)
	}
}

// TestDuplicateRuleLinks (R5): a rep creates the Lead by hand after the
// lookup missed it and before the create; the org's blocking duplicate rule
// refuses the create (DUPLICATES_DETECTED), and the contact links to that
// Lead with match rule duplicate_rule. Nothing new is created.
func TestDuplicateRuleLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{DuplicateRules: map[string]org.DuplicateRule{"Lead": {Enabled: true}, "Contact": {Enabled: true}}})
	team := stacktest.NextID("team_duprule") // unique, so -count=2 starts afresh
	connect(t, team, sim)
	composites := sim.Stats().ByEndpoint["POST composite"] // the connect's readiness report
	var mu sync.Mutex
	var byHand string
	// One event is one batch: the first composite call is the lookup, the
	// second the create; the Lead appears just before the create.
	if _, err := sim.AddFault(org.Fault{Method: "POST", PathRegexp: `/composite$`, Skip: 1, Times: 1, OnFire: func() {
		// the same person (name and email), as the standard rules match
		ids, err := sim.Seed("Lead", map[string]any{"FirstName": "Test", "LastName": "Person d1", "Company": "R", "Email": "race.winner@duprule.example"})
		if err != nil {
			t.Errorf("seed the rep's Lead: %v", err)
			return
		}
		mu.Lock()
		byHand = ids[0]
		mu.Unlock()
	}}); err != nil {
		t.Fatal(err)
	}
	ev := contactEvent(team, event.ContactAdded, "seq_dup", "d1", "Race.Winner@DupRule.example", "R", time.Now().Add(time.Minute))
	send(t, ev)
	o := await(t, []event.Event{ev}, true)[ev.ID]
	mu.Lock()
	id := byHand
	mu.Unlock()
	if id == "" {
		t.Fatal("the rep's Lead was never created: the fault did not fire on the create")
	}
	if o.Status != event.StatusLinked || o.Reason != "matched_duplicate_rule" || o.Salesforce == nil ||
		o.Salesforce.Object != event.ObjectLead || !sameID(o.Salesforce.ID, id) {
		t.Errorf("outcome: got %s/%s %+v %+v; want linked/matched_duplicate_rule to Lead %s", o.Status, o.Reason, o.Salesforce, o.Error, id)
	}
	// The lookup, the refused create, and a second lookup only if the answer
	// names no record (the simulator's collection answers name none).
	if calls := sim.Stats().ByEndpoint["POST composite"] - composites; calls < 2 || calls > 3 {
		t.Errorf("composite calls: got %d; want 2 or 3", calls)
	}
	if n := countEmail(sim, "Lead", "race.winner@duprule.example") + countEmail(sim, "Contact", "race.winner@duprule.example"); n != 1 {
		t.Errorf("records for the email: got %d; want 1 (the rep's)", n)
	}
	var body struct {
		Records []struct {
			ID        string `json:"id"`
			MatchRule string `json:"match_rule"`
		} `json:"records"`
	}
	if _, err := seqr.Call(ctx, team, "GET", "/v1/contacts/d1/salesforce", nil, nil, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Records) != 1 || body.Records[0].MatchRule != "duplicate_rule" || !sameID(body.Records[0].ID, id) {
		t.Errorf("ledger record: got %+v; want %s by duplicate_rule", body.Records, id)
	}
}

// TestDuplicateRuleNeverLinksAnotherEmail: the org's standard duplicate rule
// (active in a customer's org) matches an existing Lead on the name and the
// phone although its email differs; the contact is not linked to that Lead
// and nothing is created: it fails with DUPLICATES_DETECTED and a hint.
func TestDuplicateRuleNeverLinksAnotherEmail(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_dupphone")
	connect(t, team, sim)
	other, err := sim.Seed("Lead", map[string]any{"FirstName": "Test", "LastName": "Person p1", "Company": "P",
		"Phone": "+1 415 555 0100", "Email": "old.address@dupphone.example"})
	if err != nil {
		t.Fatal(err)
	}
	ev := contactEvent(team, event.ContactAdded, "seq_dupphone", "p1", "new.address@dupphone.example", "P", time.Now().Add(time.Minute))
	c := ev.Data.(event.ContactData)
	c.Contact.Phone = "(415) 555-0100"
	ev.Data = c
	send(t, ev)
	o := await(t, []event.Event{ev}, true)[ev.ID]
	if o.Status != event.StatusFailed || o.Error == nil || o.Error.Code != "DUPLICATES_DETECTED" || o.Salesforce != nil {
		t.Errorf("outcome: got %s/%s %+v %+v; want failed DUPLICATES_DETECTED, linked to nothing", o.Status, o.Reason, o.Error, o.Salesforce)
	}
	if leads := sim.Records("Lead"); len(leads) != 1 || !sameID(leads[0]["Id"].(string), other[0]) {
		t.Errorf("leads: got %d; want only the existing one", len(leads))
	}
}

// TestRecordLockRetriesOnlyThatContact (R9): Salesforce answers one record of
// a collection UNABLE_TO_LOCK_ROW. Only that contact goes back to the queue
// and syncs on redelivery, once; its batch-mates are final at once.
func TestRecordLockRetriesOnlyThatContact(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_lockrow") // unique, so -count=2 starts afresh
	connect(t, team, sim)
	if _, err := sim.AddFault(org.Fault{RecordRegexp: `(?i)"locked@lockrow\.example"`, ErrorCode: "UNABLE_TO_LOCK_ROW", Times: 1}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Minute)
	locked := contactEvent(team, event.ContactAdded, "seq_lock", "k0", "Locked@LockRow.example", "K", at)
	var others []event.Event
	for i := 1; i <= 3; i++ {
		others = append(others, contactEvent(team, event.ContactAdded, "seq_lock", fmt.Sprintf("k%d", i), fmt.Sprintf("free%d@lockrow.example", i), "K", at))
	}
	msgs := h.SendTracked(t, append([]event.Event{locked}, others...)...)
	first := await(t, others, true)
	// Its first delivery hands it back to the queue, answered later, once
	// (the count of its outcomes below).
	if b := h.BatchWith(t, msgs[locked.ID]); !slices.Contains(b.Failed, msgs[locked.ID]) {
		t.Errorf("locked contact's first batch: got deleted %v, failed %v; want it handed back", b.Deleted, b.Failed)
	}
	var latest time.Time
	for i, ev := range others {
		if o := first[ev.ID]; o.Status != event.StatusCreated {
			t.Errorf("batch-mate %s: got %s %+v; want created", ev.ID, o.Status, o.Error)
		} else if o.At.After(latest) {
			latest = o.At
		}
		if n := countEmail(sim, "Lead", fmt.Sprintf("free%d@lockrow.example", i+1)); n != 1 {
			t.Errorf("Leads for free%d: got %d; want 1", i+1, n)
		}
	}
	o := await(t, []event.Event{locked}, true)[locked.ID]
	if o.Status != event.StatusCreated {
		t.Errorf("locked contact after redelivery: got %s/%s %+v; want created", o.Status, o.Reason, o.Error)
	}
	if o.At.Sub(latest) < 5*time.Second {
		t.Errorf("locked contact synced at %s, its batch-mates by %s; want it later, on redelivery after the visibility timeout", o.At, latest)
	}
	if n := countEmail(sim, "Lead", "locked@lockrow.example"); n != 1 {
		t.Errorf("Leads for the locked contact: got %d; want 1", n)
	}
	h.AwaitDeleted(t, slices.Collect(maps.Values(msgs))...)
	h.ReadAllOutcomes(t)
	for _, ev := range append([]event.Event{locked}, others...) {
		if n := len(seqr.Outcomes(ev.ID)); n != 1 {
			t.Errorf("outcomes published for %s: got %d; want 1", ev.ID, n)
		}
	}
}

// TestRequiredFieldDefaults (R8): a contact with no last name and no company
// still gets a record: LastName from the email's local part, a Lead's
// Company from its domain, as the mapping README documents.
func TestRequiredFieldDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_required") // unique, so -count=2 starts afresh
	connect(t, team, sim)
	if err := seqr.PutSequence(ctx, team, "seq_req_contact", map[string]any{"sync_mode": "on_add", "sync_as": "contact", "sync_disabled": false}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Minute)
	cases := []struct {
		name, sequence, email, object string
		want                          map[string]string
	}{
		{"Lead", "seq_req_lead", "Grace.H@Defaults.example", "Lead", map[string]string{"LastName": "Grace.H", "Company": "Defaults.example"}},
		{"Contact", "seq_req_contact", "ada.l@defaults.example", "Contact", map[string]string{"LastName": "ada.l"}},
	}
	var evs []event.Event
	for i, c := range cases {
		ev := contactEvent(team, event.ContactAdded, c.sequence, fmt.Sprintf("r%d", i), c.email, "", at)
		d := ev.Data.(event.ContactData)
		d.Contact.FirstName, d.Contact.LastName, d.Contact.Company = "", "", ""
		ev.Data = d
		evs = append(evs, ev)
	}
	send(t, evs...)
	got := await(t, evs, true)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if o := got[evs[i].ID]; o.Status != event.StatusCreated {
				t.Fatalf("outcome: got %s %+v; want created", o.Status, o.Error)
			}
			recs := recordsWithEmail(sim, c.object, c.email)
			if len(recs) != 1 {
				t.Fatalf("%s records: got %d; want 1", c.object, len(recs))
			}
			for field, want := range c.want {
				if got := fmt.Sprint(recs[0][field]); got != want {
					t.Errorf("%s: got %q; want %q", field, got, want)
				}
			}
		})
	}
}

// TestDedupCheckLimits (R6): the synchronous check refuses more emails than
// it allows with a 400 naming the field, and answers a large list in one or
// two Salesforce calls.
func TestDedupCheckLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	team := stacktest.NextID("team_dedupmax") // unique, so -count=2 starts afresh
	var seed []map[string]any
	for i := 0; i < 150; i += 3 {
		seed = append(seed, map[string]any{"LastName": "Seed", "Company": "S", "Email": fmt.Sprintf("Many%d@DedupMax.example", i)})
	}
	if _, err := sim.Seed("Lead", seed...); err != nil {
		t.Fatal(err)
	}
	connect(t, team, sim)
	emails := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("many%d@dedupmax.example", i)
		}
		return out
	}

	var refused struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	before := sim.Stats().Total
	status, _ := seqr.Call(ctx, team, "POST", "/v1/salesforce/dedup-check", nil, map[string]any{"emails": emails(contacthttp.MaxDedupEmails + 1)}, &refused)
	if status != 400 || refused.Error.Field != "emails" {
		t.Errorf("%d emails: got %d naming %q; want 400 naming emails", contacthttp.MaxDedupEmails+1, status, refused.Error.Field)
	}
	if after := sim.Stats().Total; after != before {
		t.Errorf("Salesforce calls for a refused check: got %d; want none", after-before)
	}

	var res struct {
		Results []struct {
			Email  string       `json:"email"`
			Status event.Status `json:"status"`
		} `json:"results"`
	}
	before = sim.Stats().Total
	if _, err := seqr.Call(ctx, team, "POST", "/v1/salesforce/dedup-check", nil, map[string]any{"emails": emails(150)}, &res); err != nil {
		t.Fatal(err)
	}
	if calls := sim.Stats().Total - before; calls < 1 || calls > 2 {
		t.Errorf("Salesforce calls for 150 emails: got %d; want 1 or 2", calls)
	}
	if len(res.Results) != 150 {
		t.Fatalf("results: got %d; want 150", len(res.Results))
	}
	for i, r := range res.Results {
		want := event.StatusNotInSalesforce
		if i%3 == 0 {
			want = event.StatusExistsInSalesforce
		}
		if r.Email != fmt.Sprintf("many%d@dedupmax.example", i) || r.Status != want {
			t.Errorf("result %d: got %s %s; want many%d@dedupmax.example %s", i, r.Email, r.Status, i, want)
		}
	}
}

package main

// End-to-end tests of activity sync (R7): contact and email events go to
// SQS, the local runner delivers them to the real function binaries as
// Lambda's event source mapping would, the functions talk to the Salesforce
// simulator and to DynamoDB on moto, and the outcomes come back on the
// results queue. The Tasks are checked in the simulated org.

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
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
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
	os.Exit(stacktest.Main(m, stacktest.Options{RepoDir: "../..", Prefix: "as", ExtraEnv: map[string]string{"HOLD_DELAY_SECONDS": "1", "AWAIT_ADD_SECONDS": "10"}},
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

var (
	nextID       = stacktest.NextID
	contactEvent = stacktest.ContactEvent
)

func await(t *testing.T, evs []event.Event, final bool) map[string]event.Outcome {
	t.Helper()
	return stacktest.Await(t, seqr, evs, final)
}

func send(t *testing.T, evs ...event.Event) {
	t.Helper()
	stacktest.Send(t, seqr, evs...)
}

func emailEvent(team string, t event.Type, sequence, contactID, email, msgID, subject, body string, at time.Time) event.Event {
	d := event.EmailData{Sequence: event.Sequence{ID: sequence, Name: sequence}, Contact: event.ContactRef{ID: contactID, Email: email},
		Message: event.Message{ID: msgID, Subject: subject, BodyText: body, Step: 1, SentAt: at.UTC()}}
	switch t {
	case event.EmailClicked:
		d.Message.URL = "https://example.com/pricing"
	case event.EmailBounced:
		d.Message.Reason = "550 mailbox unavailable"
	}
	return event.Event{ID: nextID("evt"), Type: t, Version: event.Version, OccurredAt: at.UTC(), TeamID: team, Data: d}
}

// tasksOf returns the org's Tasks on the record who.
func tasksOf(o *org.Org, who string) []map[string]any {
	var out []map[string]any
	for _, r := range o.Records("Task") {
		if w, _ := r["WhoId"].(string); w == who {
			out = append(out, r)
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// ledgerStore opens the stack's ledger table.
func ledgerTable(st *runner.Stack) string { return st.Resources.Tables["ledger"] }

func dynamo(t *testing.T) *dynamodb.Client {
	t.Helper()
	cfg, err := motoserver.AWSConfig(context.Background(), h.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(cfg)
}

type want struct {
	status  event.Status
	reason  event.Reason
	who     string // the Task's WhoId, for created
	subject string // the Task's subject, for created
}

func checkOutcome(t *testing.T, sim *org.Org, o event.Outcome, w want) {
	t.Helper()
	if o.Status != w.status || (w.reason != "" && o.Reason != w.reason) {
		t.Errorf("outcome: got %s/%s %+v; want %s/%s", o.Status, o.Reason, o.Error, w.status, w.reason)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("outcome does not validate: %v", err)
	}
	if w.status != event.StatusCreated {
		return
	}
	if o.Salesforce == nil || o.Salesforce.Object != event.ObjectTask {
		t.Fatalf("outcome record: got %+v; want a Task", o.Salesforce)
	}
	task, _ := sim.Record("Task", o.Salesforce.ID)
	if task == nil {
		t.Fatalf("Task %s: got none in the org; want it", o.Salesforce.ID)
	}
	if got := str(task["WhoId"]); got != w.who {
		t.Errorf("WhoId: got %s; want %s", got, w.who)
	}
	if got := str(task["Subject"]); w.subject != "" && got != w.subject {
		t.Errorf("Subject: got %q; want %q", got, w.subject)
	}
	// the default org's admin relabeled Completed "Done": the Task takes the API name, and is closed
	if got := str(task["Status"]); got != "Completed" || task["IsClosed"] != true {
		t.Errorf("Status: got %s (IsClosed %v); want the API name of the org's closed status, Completed, closed", got, task["IsClosed"])
	}
	if got := str(task["TaskSubtype"]); got != "Email" {
		t.Errorf("TaskSubtype: got %s; want Email", got)
	}
	if got := str(task["Type"]); got != "Email" {
		t.Errorf("Type: got %q; want Email (the org's picklist has it)", got)
	}
	if n := len(tasksOf(sim, w.who)); n == 0 {
		t.Errorf("Tasks on %s: got none; want at least one", w.who)
	}
}

// TestScenario covers R7 one clause at a time.
func TestScenario(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	sim.AddValidationRule(org.ValidationRule{Object: "Lead", Field: "Company", Forbid: "Globex", Message: "No competitors"})
	team := "team_act"
	connect(t, team, sim)
	connected := time.Now()
	for s, body := range map[string]map[string]any{
		"seq_disabled": {"sync_mode": "inherit", "sync_as": "inherit", "sync_disabled": true},
		"seq_reply":    {"sync_mode": "on_reply", "sync_as": "contact", "sync_disabled": false},
		"seq_contact":  {"sync_mode": "on_add", "sync_as": "contact", "sync_disabled": false},
	} {
		if err := seqr.PutSequence(ctx, team, s, body); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().Add(time.Minute)
	adds := map[string]event.Event{
		"lead":     contactEvent(team, event.ContactAdded, "seq_main", "c_lead", "Lead@Act.example", "L", at),
		"contact":  contactEvent(team, event.ContactAdded, "seq_contact", "c_contact", "contact@act.example", "C", at),
		"reply":    contactEvent(team, event.ContactAdded, "seq_reply", "c_reply", "reply@act.example", "R", at),
		"hook":     contactEvent(team, event.ContactAdded, "seq_reply", "c_hook", "hook@act.example", "H", at),
		"disabled": contactEvent(team, event.ContactAdded, "seq_disabled", "c_disabled", "disabled@act.example", "D", at),
		"failed":   contactEvent(team, event.ContactAdded, "seq_main", "c_failed", "failed@act.example", "Globex", at),
		"conv":     contactEvent(team, event.ContactAdded, "seq_main", "c_conv", "conv@act.example", "V", at),
	}
	var addEvs []event.Event
	for _, ev := range adds {
		addEvs = append(addEvs, ev)
	}
	send(t, addEvs...)
	added := await(t, addEvs, false)
	ref := func(name string) string {
		o := added[adds[name].ID]
		if o.Salesforce == nil {
			t.Fatalf("contact %s: got %s/%s; want synced", name, o.Status, o.Reason)
		}
		return o.Salesforce.ID
	}
	leadID, contactID, convLead := ref("lead"), ref("contact"), ref("conv")
	conversion, err := sim.Convert(convLead) // a user converts the Lead in Salesforce
	if err != nil {
		t.Fatal(err)
	}

	at2 := at.Add(time.Minute)
	long := strings.Repeat("Very long subject ", 30)
	cases := []struct {
		name string
		ev   event.Event
		want want
	}{
		{"sent: Task on the Lead", emailEvent(team, event.EmailSent, "seq_main", "c_lead", "lead@act.example", "m1", "Hello", "Hi there", at2),
			want{status: event.StatusCreated, who: leadID, subject: "[sfsync] Email (seq_main, step 1): Hello"}},
		{"replied: Task on the Contact", emailEvent(team, event.EmailReplied, "seq_contact", "c_contact", "contact@act.example", "m2", "Re: Hello", "Sure", at2),
			want{status: event.StatusCreated, who: contactID, subject: "[sfsync] Email replied (seq_contact, step 1): Re: Hello"}},
		{"bounced: logged by default", emailEvent(team, event.EmailBounced, "seq_main", "c_lead", "lead@act.example", "m3", "Hello", "", at2),
			want{status: event.StatusCreated, who: leadID, subject: "[sfsync] Email bounced (seq_main, step 1): Hello"}},
		{"opened: off by default", emailEvent(team, event.EmailOpened, "seq_main", "c_lead", "lead@act.example", "m1", "Hello", "", at2),
			want{status: event.StatusSkipped, reason: activitysync.ReasonKindOff}},
		{"clicked: off by default", emailEvent(team, event.EmailClicked, "seq_main", "c_lead", "lead@act.example", "m1", "Hello", "", at2),
			want{status: event.StatusSkipped, reason: activitysync.ReasonKindOff}},
		{"contact that never syncs", emailEvent(team, event.EmailSent, "seq_disabled", "c_disabled", "disabled@act.example", "m4", "Hello", "", at2),
			want{status: event.StatusSkipped, reason: event.ReasonContactWillNotSync}},
		{"contact whose sync failed", emailEvent(team, event.EmailSent, "seq_main", "c_failed", "failed@act.example", "m5", "Hello", "", at2),
			want{status: event.StatusSkipped, reason: event.ReasonContactFailed}},
		{"pending contact: held", emailEvent(team, event.EmailSent, "seq_reply", "c_reply", "reply@act.example", "m6", "Step one", "", at2),
			want{status: event.StatusPending, reason: event.ReasonContactPending}},
		{"pending contact: held for the hook", emailEvent(team, event.EmailSent, "seq_reply", "c_hook", "hook@act.example", "m7", "Step one", "", at2),
			want{status: event.StatusPending, reason: event.ReasonContactPending}},
		{"converted Lead: Task on its Contact", emailEvent(team, event.EmailSent, "seq_main", "c_conv", "conv@act.example", "m8", "Hello", "", at2),
			want{status: event.StatusCreated, who: conversion.ContactID, subject: "[sfsync] Email (seq_main, step 1): Hello"}},
		{"before the connection: no backfill", emailEvent(team, event.EmailSent, "seq_main", "c_lead", "lead@act.example", "m9", "Old", "", connected.Add(-time.Hour)),
			want{status: event.StatusSkipped, reason: event.ReasonBeforeConnection}},
		{"team not connected", emailEvent("team_act_never", event.EmailSent, "seq_main", "c_lead", "lead@act.example", "m10", "Hello", "", at2),
			want{status: event.StatusSkipped, reason: event.ReasonNotConnected}},
		{"contact never added", emailEvent(team, event.EmailSent, "seq_main", "c_ghost", "ghost@act.example", "m11", "Hello", "", connected.Add(time.Millisecond)),
			want{status: event.StatusSkipped, reason: event.ReasonNotAdded}},
		{"long subject and body cut", emailEvent(team, event.EmailSent, "seq_main", "c_lead", "lead@act.example", "m12", long, strings.Repeat("x", 40000), at2),
			want{status: event.StatusCreated, who: leadID}},
	}
	var evs []event.Event
	for _, c := range cases {
		evs = append(evs, c.ev)
	}
	send(t, evs...)
	got := await(t, evs, false)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkOutcome(t, sim, got[c.ev.ID], c.want) })
	}
	t.Run("long subject and body within Salesforce's limits", func(t *testing.T) {
		o := got[cases[len(cases)-1].ev.ID]
		if o.Salesforce == nil {
			t.Fatal("no Task")
		}
		task, _ := sim.Record("Task", o.Salesforce.ID)
		if n := utf8.RuneCountInString(str(task["Subject"])); n != activitysync.MaxSubject {
			t.Errorf("subject length: got %d; want %d", n, activitysync.MaxSubject)
		}
		d := str(task["Description"])
		if !strings.Contains(d, activitysync.TruncatedMarker) || utf8.RuneCountInString(d) > activitysync.MaxDescription {
			t.Errorf("description: got %d characters, marker %v; want at most %d with the marker",
				utf8.RuneCountInString(d), strings.Contains(d, activitysync.TruncatedMarker), activitysync.MaxDescription)
		}
		if str(task["ActivityDate"]) != at2.UTC().Format(time.DateOnly) {
			t.Errorf("ActivityDate: got %v; want %s", task["ActivityDate"], at2.UTC().Format(time.DateOnly))
		}
	})
	t.Run("the ledger follows the converted Lead", func(t *testing.T) {
		recs, err := ledgerdb.New(dynamo(t), ledgerTable(stack)).Records(ctx, team, []string{"conv@act.example"})
		if err != nil {
			t.Fatal(err)
		}
		if r := recs["conv@act.example"]; r.ID != conversion.ContactID || r.Object != event.ObjectContact {
			t.Errorf("record: got %s %s; want Contact %s", r.Object, r.ID, conversion.ContactID)
		}
	})

	// The reply syncs the pending contact; the email reply that comes with
	// it logs the held activity first, then itself, on the new Contact.
	reply := contactEvent(team, event.ContactReplied, "seq_reply", "c_reply", "reply@act.example", "R", at2.Add(time.Minute))
	send(t, reply)
	synced := await(t, []event.Event{reply}, true)[reply.ID]
	if synced.Salesforce == nil {
		t.Fatalf("reply: got %s %+v; want the contact synced", synced.Status, synced.Error)
	}
	emailReply := emailEvent(team, event.EmailReplied, "seq_reply", "c_reply", "reply@act.example", "m6", "Re: Step one", "Yes", at2.Add(time.Minute))
	send(t, emailReply)
	heldEv := cases[7].ev
	after := await(t, []event.Event{heldEv, emailReply}, true)
	t.Run("held activity logged once the contact syncs, in order", func(t *testing.T) {
		checkOutcome(t, sim, after[heldEv.ID], want{status: event.StatusCreated, who: synced.Salesforce.ID, subject: "[sfsync] Email (seq_reply, step 1): Step one"})
		checkOutcome(t, sim, after[emailReply.ID], want{status: event.StatusCreated, who: synced.Salesforce.ID, subject: "[sfsync] Email replied (seq_reply, step 1): Re: Step one"})
		tasks := tasksOf(sim, synced.Salesforce.ID)
		if len(tasks) != 2 {
			t.Fatalf("Tasks: got %d; want 2", len(tasks))
		}
		if a, b := str(tasks[0]["Id"]), str(tasks[1]["Id"]); a != after[heldEv.ID].Salesforce.ID || b != after[emailReply.ID].Salesforce.ID {
			t.Errorf("order: got %s, %s; want the held send first", a, b)
		}
	})

	// The hook contact sync calls after a membership syncs: the held
	// activity goes back to the queue and is logged.
	hookReply := contactEvent(team, event.ContactReplied, "seq_reply", "c_hook", "hook@act.example", "H", at2.Add(time.Minute))
	send(t, hookReply)
	hooked := await(t, []event.Event{hookReply}, true)[hookReply.ID]
	releaser := &activitydb.Releaser{Store: &activitydb.Store{DB: dynamo(t), Table: ledgerTable(stack)}, SQS: sqsc, QueueURL: seqr.ActivityQueue}
	if err := releaser.Release(ctx, team, ledger.MemberKey{SequenceID: "seq_reply", ContactID: "c_hook"}); err != nil {
		t.Fatal(err)
	}
	hookEv := cases[8].ev
	t.Run("released by the hook", func(t *testing.T) {
		o := await(t, []event.Event{hookEv}, true)[hookEv.ID]
		checkOutcome(t, sim, o, want{status: event.StatusCreated, who: hooked.Salesforce.ID, subject: "[sfsync] Email (seq_reply, step 1): Step one"})
		if n := len(tasksOf(sim, hooked.Salesforce.ID)); n != 1 {
			t.Errorf("Tasks: got %d; want 1", n)
		}
	})

	t.Run("outcomes readable through the API", func(t *testing.T) {
		var body struct {
			Outcomes []event.Outcome `json:"outcomes"`
		}
		if _, err := seqr.Call(ctx, team, "GET", "/v1/contacts/c_lead/salesforce", nil, nil, &body); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range body.Outcomes {
			if o.Type == event.ActivityOutcome {
				n++
			}
		}
		if n < 6 {
			t.Errorf("activity outcomes of c_lead: got %d; want at least 6", n)
		}
	})

	// Settings as of the activity's time: tracking off, then opens on.
	if err := seqr.PutSettings(ctx, team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true, "activity_tracking": false}); err != nil {
		t.Fatal(err)
	}
	off := emailEvent(team, event.EmailSent, "seq_main", "c_lead", "lead@act.example", "m13", "Off", "", time.Now().Add(time.Minute))
	send(t, off)
	if o := await(t, []event.Event{off}, true)[off.ID]; o.Status != event.StatusSkipped || o.Reason != event.ReasonActivityTrackingOff {
		t.Errorf("tracking off: got %s/%s; want skipped/activity_tracking_off", o.Status, o.Reason)
	}
	if err := seqr.PutSettings(ctx, team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true, "activity_tracking": true,
		"activity_kinds": map[string]bool{string(policy.ActivityOpened): true}}); err != nil {
		t.Fatal(err)
	}
	opened := emailEvent(team, event.EmailOpened, "seq_main", "c_lead", "lead@act.example", "m1", "Hello", "", time.Now().Add(time.Minute))
	send(t, opened)
	checkOutcome(t, sim, await(t, []event.Event{opened}, true)[opened.ID], want{status: event.StatusCreated, who: leadID, subject: "[sfsync] Email opened (seq_main, step 1): Hello"})
}

// syncContacts adds n contacts of a team (on_add, Leads) through contact
// sync and returns their Lead ids by contact id.
func syncContacts(t *testing.T, team, domain string, n int) map[string]string {
	t.Helper()
	at := time.Now().Add(time.Minute)
	var evs []event.Event
	for i := range n {
		evs = append(evs, contactEvent(team, event.ContactAdded, "seq_1", fmt.Sprintf("c%d", i), fmt.Sprintf("p%d@%s", i, domain), "X", at))
	}
	send(t, evs...)
	got := await(t, evs, true)
	out := map[string]string{}
	for _, ev := range evs {
		o := got[ev.ID]
		if o.Salesforce == nil {
			t.Fatalf("contact %s: got %s %+v; want synced", ev.ContactID(), o.Status, o.Error)
		}
		out[ev.ContactID()] = o.Salesforce.ID
	}
	return out
}

// TestEveryActivityTwice: each email event delivered twice at once, and a
// second event about the same message and kind: one Task each.
func TestEveryActivityTwice(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := "team_act_twice"
	connect(t, team, sim)
	leads := syncContacts(t, team, "twice.example", 10)
	at := time.Now().Add(2 * time.Minute)
	var evs, again []event.Event
	for i := range 10 {
		c := fmt.Sprintf("c%d", i)
		evs = append(evs, emailEvent(team, event.EmailSent, "seq_1", c, fmt.Sprintf("p%d@twice.example", i), "msg_"+c, "Hello", "", at))
		// The sequencer posts the same activity again under a new event id.
		again = append(again, emailEvent(team, event.EmailSent, "seq_1", c, fmt.Sprintf("p%d@twice.example", i), "msg_"+c, "Hello", "", at))
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); send(t, evs...) }()
	}
	wg.Wait()
	got := await(t, evs, true)
	send(t, again...)
	dup := await(t, again, true)
	for i, ev := range evs {
		c := fmt.Sprintf("c%d", i)
		if o := got[ev.ID]; o.Status != event.StatusCreated {
			t.Errorf("%s: got %s %+v; want created", c, o.Status, o.Error)
		}
		if o := dup[again[i].ID]; o.Status != event.StatusSkipped || o.Reason != event.ReasonDuplicateEvent ||
			o.Salesforce == nil || got[ev.ID].Salesforce == nil || o.Salesforce.ID != got[ev.ID].Salesforce.ID {
			t.Errorf("%s second event: got %s/%s %+v; want skipped/duplicate_event naming the same Task", c, o.Status, o.Reason, o.Salesforce)
		}
		if n := len(tasksOf(sim, leads[c])); n != 1 {
			t.Errorf("Tasks on %s: got %d; want 1", c, n)
		}
	}
}

// TestLostAnswerAfterCommit: Salesforce saves the Tasks, then the
// connection drops before the answer. The retry finds them by key (through
// the subject and description, or through the org's external-ID field)
// instead of creating them again.
func TestLostAnswerAfterCommit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		keyField bool
	}{{"found by subject and description", false}, {"found by the external-ID field", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sim := newOrg(t, org.Config{})
			team := "team_act_lost"
			if c.keyField {
				team += "_key"
				if err := sim.AddCustomField("Task", org.CustomField{Name: "Sfsync_Key__c", Type: "text", Length: 64, ExternalID: true, Unique: true}); err != nil {
					t.Fatal(err)
				}
			}
			connect(t, team, sim)
			leads := syncContacts(t, team, strings.ReplaceAll(team, "_", "")+".example", 5)
			if _, err := sim.AddFault(org.Fault{Method: "POST", PathRegexp: `/composite$`, Times: 1, DropAfterCommit: true}); err != nil {
				t.Fatal(err)
			}
			at := time.Now().Add(2 * time.Minute)
			var evs []event.Event
			for i := range 5 {
				cid := fmt.Sprintf("c%d", i)
				evs = append(evs, emailEvent(team, event.EmailSent, "seq_1", cid, fmt.Sprintf("p%d@%s.example", i, strings.ReplaceAll(team, "_", "")), "msg_"+cid, "Hello", "", at))
			}
			send(t, evs...)
			got := await(t, evs, true)
			for i, ev := range evs {
				cid := fmt.Sprintf("c%d", i)
				if o := got[ev.ID]; o.Status != event.StatusCreated {
					t.Errorf("%s: got %s %+v; want created", cid, o.Status, o.Error)
				}
				tasks := tasksOf(sim, leads[cid])
				if len(tasks) != 1 {
					t.Errorf("Tasks on %s: got %d; want 1", cid, len(tasks))
					continue
				}
				if k := str(tasks[0]["Sfsync_Key__c"]); c.keyField && k == "" {
					t.Errorf("Sfsync_Key__c: got empty; want the activity key")
				}
			}
		})
	}
}

// TestBurstOfAThousand: 1,000 email.sent for synced contacts of one team
// cost at most 6 Salesforce API calls.
func TestBurstOfAThousand(t *testing.T) {
	// Not parallel, and on a stack of its own whose event source waits up
	// to 60 s to fill a batch, as the contact burst test explains: moto
	// takes the burst in over many seconds.
	ctx := context.Background()
	fns := stacktest.SlowMoto(resources.Functions)
	for i := range fns {
		if fns[i].Name == "activitysync" {
			src := *fns[i].Source
			src.BatchingWindow, src.MaxConcurrency = 60*time.Second, 2
			fns[i].Source = &src
		}
	}
	fns = slices.DeleteFunc(fns, func(f resources.Function) bool { return f.Name == "contactsync" })
	bins := h.Binaries(fns)
	st, client, err := h.Start(ctx, fns, bins, 6*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	sim := newOrg(t, org.Config{DailyLimit: 100000}, st)
	team := "team_act_burst"
	if err := client.Connect(ctx, team, sim.URL()); err != nil {
		t.Fatal(err)
	}
	// 1,000 contacts synced before: their Leads in the org, their
	// memberships and records in the ledger, as contact sync leaves them.
	var seed []map[string]any
	for i := range 1000 {
		seed = append(seed, map[string]any{"LastName": "Seed", "Company": "S", "Email": fmt.Sprintf("b%d@burst.example", i)})
	}
	ids, err := sim.Seed("Lead", seed...)
	if err != nil {
		t.Fatal(err)
	}
	book := ledgerdb.New(dynamo(t), ledgerTable(st))
	pinned := time.Now()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			email, cid := fmt.Sprintf("b%d@burst.example", i), fmt.Sprintf("c%d", i)
			ref := &event.SalesforceRef{Object: event.ObjectLead, ID: ids[i]}
			m := ledger.Membership{TeamID: team, SequenceID: "seq_burst", ContactID: cid, Email: email, PinnedAt: pinned,
				EventID: "evt_add_" + cid, Status: ledger.MemberSynced, Salesforce: ref}
			if _, err := book.PinMembership(ctx, m); err != nil {
				t.Error(err)
				return
			}
			if err := book.SaveRecord(ctx, ledger.Record{TeamID: team, Email: email, Object: event.ObjectLead, ID: ids[i],
				Status: event.StatusLinked, MatchRule: "lead", SyncedAt: pinned, EventID: "evt_add_" + cid, ContactID: cid}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	before := sim.Stats().Total
	at := time.Now().Add(time.Minute)
	var evs []event.Event
	var evIDs []string
	for i := range 1000 {
		cid := fmt.Sprintf("c%d", i)
		ev := emailEvent(team, event.EmailSent, "seq_burst", cid, fmt.Sprintf("b%d@burst.example", i), "msg_"+cid, "Burst", "Hello", at)
		evs, evIDs = append(evs, ev), append(evIDs, ev.ID)
	}
	start := time.Now()
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
	got, err := client.Await(ctx, evIDs, sequencer.Final, awaitFor)
	if err != nil {
		t.Fatal(err)
	}
	calls := sim.Stats().Total - before
	t.Logf("1,000 email.sent: %d Salesforce API calls; outcomes %s after the first send (moto bound)", calls, time.Since(start).Round(time.Second))
	if calls > 6 {
		t.Errorf("API calls: got %d; want at most 6", calls)
	}
	created := 0
	for _, o := range got {
		if o.Status == event.StatusCreated {
			created++
		}
	}
	if created != 1000 {
		t.Errorf("created: got %d; want 1000", created)
	}
	if n := len(sim.Records("Task")); n != 1000 {
		t.Errorf("Tasks: got %d; want 1000", n)
	}
}

// TestParkedEventsComeBackInAnyOrder: while a team must reconnect, its
// contact.added and email events are parked; after it reconnects they come
// back in any order, each long past the await window. An email that comes
// back before its contact.added waits for it (the team's HeldAt), rather
// than being skipped as not_added.
func TestParkedEventsComeBackInAnyOrder(t *testing.T) {
	t.Parallel()
	sim := newOrg(t, org.Config{})
	team := "team_outage"
	connect(t, team, sim)
	sim.RevokeAllRefreshTokens()
	sim.ExpireAccessTokens()
	// The first event finds the refresh token revoked.
	adds := []event.Event{contactEvent(team, event.ContactAdded, "seq_out", "c_first", "first@outage.example", "O", time.Now())}
	msgs := h.SendTracked(t, adds...)
	stacktest.AwaitStatus(t, seqr, team, "needs_reauth")
	// These are parked before anything is read of their contacts, and the
	// outage outlasts the await window (AWAIT_ADD_SECONDS=10).
	at := time.Now()
	const n = 8
	var emails []event.Event
	for i := range n {
		cid, email := fmt.Sprintf("c_out%d", i), fmt.Sprintf("out%d@outage.example", i)
		adds = append(adds, contactEvent(team, event.ContactAdded, "seq_out", cid, email, "O", at))
		emails = append(emails, emailEvent(team, event.EmailSent, "seq_out", cid, email, "msg_"+cid, "Hello", "Hi", at.Add(time.Second)))
	}
	emailMsgs := h.SendTracked(t, emails...)
	// The emails are parked first, so they tend to come back first.
	h.AwaitHandled(t, slices.Collect(maps.Values(emailMsgs))...)
	maps.Copy(msgs, emailMsgs)
	maps.Copy(msgs, h.SendTracked(t, adds[1:]...))
	// The outage outlasts the await window: the scenario, not a wait for
	// something to happen.
	time.Sleep(time.Until(at.Add(12 * time.Second)))
	h.AwaitNoOutcome(t, msgs, "while held")
	if t.Failed() {
		t.FailNow()
	}
	connect(t, team, sim) // the admin reconnects
	got := await(t, append(adds, emails...), true)
	for i := range n {
		a, e := got[adds[i+1].ID], got[emails[i].ID]
		if a.Status != event.StatusCreated || a.Salesforce == nil {
			t.Errorf("%s: got %s/%s; want created", adds[i+1].ContactID(), a.Status, a.Reason)
			continue
		}
		checkOutcome(t, sim, e, want{status: event.StatusCreated, who: a.Salesforce.ID, subject: "[sfsync] Email (seq_out, step 1): Hello"})
	}
}

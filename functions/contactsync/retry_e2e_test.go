package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

// TestRetryFromTheErrorInboxAfterFixingTheMapping: contacts that failed on a
// field the mapping left out sync once the admin maps it and retries them
// from the error inbox; retrying again creates nothing more.
func TestRetryFromTheErrorInboxAfterFixingTheMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newOrg(t, org.Config{})
	if err := sim.AddCustomField("Lead", org.CustomField{Name: "Region__c", Type: "text", Length: 20, Required: true}); err != nil {
		t.Fatal(err)
	}
	team := "team_retry"
	connect(t, team, sim)
	at := time.Now().Add(time.Minute)
	evs := []event.Event{
		contactEvent(team, event.ContactAdded, "seq_r", "r1", "one@retry.example", "R", at),
		contactEvent(team, event.ContactAdded, "seq_r", "r2", "two@retry.example", "R", at),
	}
	send(t, evs...)
	for id, o := range await(t, evs, true) {
		if o.Status != event.StatusFailed || o.Error == nil || o.Error.Code != "REQUIRED_FIELD_MISSING" {
			t.Fatalf("outcome of %s before the fix: got %s %+v; want failed REQUIRED_FIELD_MISSING", id, o.Status, o.Error)
		}
	}
	var inbox struct {
		Groups []struct {
			Code  string `json:"code"`
			Count int    `json:"count"`
		} `json:"groups"`
	}
	if _, err := seqr.Call(ctx, team, "GET", "/v1/salesforce/errors", nil, nil, &inbox); err != nil {
		t.Fatal(err)
	}
	if len(inbox.Groups) != 1 || inbox.Groups[0].Code != "REQUIRED_FIELD_MISSING" || inbox.Groups[0].Count != 2 {
		t.Fatalf("error inbox: got %+v; want REQUIRED_FIELD_MISSING x2", inbox.Groups)
	}

	// The admin maps the field, then retries the failed contacts.
	var current struct {
		Fields []map[string]any `json:"fields"`
	}
	if _, err := seqr.Call(ctx, team, "GET", "/v1/salesforce/field-mappings/lead", nil, nil, &current); err != nil {
		t.Fatal(err)
	}
	rows := append(slices.Clone(current.Fields), map[string]any{"salesforce_field": "Region__c", "source": map[string]any{"constant": "EMEA"}})
	if _, err := seqr.Call(ctx, team, "PUT", "/v1/salesforce/field-mappings/lead", map[string]string{"If-Match": "*"},
		map[string]any{"fields": rows}, nil); err != nil {
		t.Fatalf("save mapping: %v", err)
	}
	time.Sleep(6 * time.Second) // the functions reuse a mapping for 5 s

	retry := func(body map[string]any) (retried int) {
		t.Helper()
		var out struct {
			Retried *int `json:"retried"`
		}
		if _, err := seqr.Call(ctx, team, "POST", "/v1/salesforce/errors/retry", nil, body, &out); err != nil || out.Retried == nil {
			t.Fatalf("retry %v: got %v %v; want an answer", body, err, out.Retried)
		}
		return *out.Retried
	}
	if n := retry(map[string]any{"code": "REQUIRED_FIELD_MISSING"}); n != 2 {
		t.Errorf("retried: got %d; want 2", n)
	}
	ids := []string{evs[0].ID, evs[1].ID}
	got, err := seqr.Await(ctx, ids, func(o event.Outcome) bool { return o.Status == event.StatusCreated }, stacktest.AwaitFor)
	if err != nil {
		t.Fatalf("outcomes after the retry: %v", err)
	}
	for _, ev := range evs {
		if o := got[ev.ID]; o.Salesforce == nil || o.Salesforce.Object != "Lead" {
			t.Errorf("outcome of %s after the retry: got %+v; want created Lead", ev.ID, o)
		}
	}
	if _, err := seqr.Call(ctx, team, "GET", "/v1/salesforce/errors", nil, nil, &inbox); err != nil {
		t.Fatal(err)
	}
	if len(inbox.Groups) != 0 {
		t.Errorf("error inbox after the retry: got %+v; want empty", inbox.Groups)
	}

	// Retrying again, and a bad request, change nothing.
	if n := retry(map[string]any{"all": true}); n != 0 {
		t.Errorf("second retry: got %d; want 0", n)
	}
	if code, _ := seqr.Call(ctx, team, "POST", "/v1/salesforce/errors/retry", nil, map[string]any{"all": true, "code": "X"}, nil); code != 400 {
		t.Errorf("retry with two selectors: got %d; want 400", code)
	}
	// A later event's outcome: the queue has moved past anything the
	// retries could have sent.
	later := contactEvent(team, event.ContactAdded, "seq_r", "r3", "three@retry.example", "R", at)
	send(t, later)
	if o := await(t, []event.Event{later}, true)[later.ID]; o.Status != event.StatusCreated {
		t.Errorf("later event: got %s/%s %+v; want created", o.Status, o.Reason, o.Error)
	}
	h.ReadAllOutcomes(t)
	for i, email := range []string{"one@retry.example", "two@retry.example"} {
		if n := countEmail(sim, "Lead", email); n != 1 {
			t.Errorf("Leads for %s: got %d; want 1", email, n)
		}
		if n := len(seqr.Outcomes(evs[i].ID)); n != 2 {
			t.Errorf("outcomes of %s: got %d; want 2 (failed, then created on the first retry)", evs[i].ID, n)
		}
	}
}

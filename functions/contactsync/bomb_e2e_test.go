package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/sequencer"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

// bombKeys are the custom keys of a bomb contact, one per placeholder.
var bombKeys = strings.Split("a b c d e f g h i j k l m n o p q r s t", " ")

const bombFieldLength = 255

func bombField(i int) string { return fmt.Sprintf("Bomb%03d__c", i) }

// bombMapping is the mapping body of n rows, each a template of
// MaxPlaceholders placeholders into its own text field.
func bombMapping(n int) string {
	var tmpl strings.Builder
	for _, k := range bombKeys[:mapping.MaxPlaceholders] {
		tmpl.WriteString("{{custom." + k + "}}")
	}
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf(`{"salesforce_field":%q,"source":{"template":%q}}`, bombField(i), tmpl.String())
	}
	return `{"fields":[` + strings.Join(rows, ",") + `]}`
}

// sendTracked posts the events to the contact queue, ten to a call so that
// one receive takes several teams' events together, and returns each
// event's SQS message id.
func sendTracked(t *testing.T, client *sequencer.Client, evs []event.Event) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for start := 0; start < len(evs); start += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i, ev := range evs[start:min(start+10, len(evs))] {
			body, err := event.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
		}
		out, err := client.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(client.ContactQueue), Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("send: %v %+v", err, out)
		}
		for _, ok := range out.Successful {
			i, _ := strconv.Atoi(aws.ToString(ok.Id))
			ids[evs[start+i].ID] = aws.ToString(ok.MessageId)
		}
	}
	return ids
}

// TestTemplateBombStallsNoOne: a team saves the largest mapping the API
// accepts (as many rows as a 64 KB body holds, each a template of 20
// placeholders) and sends contacts whose 20 custom values are 4,096
// characters each; nine other teams send ordinary contacts in the same
// batches. The bomb team's records are rendered within each field's length,
// every other team gets its one answer, and no batch is handed back, whole
// or in part (a stalled or failed batch would send them all back).
func TestTemplateBombStallsNoOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A stack of its own whose visibility timeout exceeds the function's
	// timeout, as Lambda requires: the shared stack's short one (for quick
	// retries) would deliver a message again whenever a batch under load
	// outlasts it, which is no redelivery of a stalled batch.
	fns := stacktest.SlowMoto(resources.Functions)
	var timeout time.Duration
	for i := range fns {
		if fns[i].Name == "contactsync" {
			timeout = fns[i].Timeout
		}
	}
	fns = slices.DeleteFunc(fns, func(f resources.Function) bool { return f.Name == "activitysync" })
	st, client, err := h.Start(ctx, fns, h.Binaries(fns), 6*timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	rows := 1
	for len(bombMapping(rows+1)) <= httpapi.MaxBodyBytes {
		rows++
	}
	var fields []org.CustomField
	for i := range rows + 1 {
		fields = append(fields, org.CustomField{Name: bombField(i), Type: "text", Length: bombFieldLength})
	}
	bombOrg := newOrg(t, org.Config{Definition: &org.Definition{CustomFields: map[string][]org.CustomField{"Lead": fields}}}, st)
	bomb := "team_bomb"
	if err := client.Connect(ctx, bomb, bombOrg.URL()); err != nil {
		t.Fatal(err)
	}

	// One row more than the body holds is refused; the largest is saved.
	if code, err := client.Call(ctx, bomb, "PUT", "/v1/salesforce/field-mappings/lead", map[string]string{"If-Match": "*"}, rawJSON(bombMapping(rows+1)), nil); err == nil || code != http.StatusRequestEntityTooLarge {
		t.Fatalf("save %d rows: got %d %v; want 413", rows+1, code, err)
	}
	body := bombMapping(rows)
	if code, err := client.Call(ctx, bomb, "PUT", "/v1/salesforce/field-mappings/lead", map[string]string{"If-Match": "*"}, rawJSON(body), nil); err != nil || code != http.StatusOK {
		t.Fatalf("save the largest mapping (%d rows, %d bytes): got %d %v; want 200", rows, len(body), code, err)
	}

	at := time.Now().Add(time.Minute)
	var evs, others []event.Event
	teamOf := map[string]string{} // event id -> team
	for round := range 2 {
		ev := contactEvent(bomb, event.ContactAdded, "seq_bomb", fmt.Sprintf("bomb%d", round), fmt.Sprintf("bomb%d@bomb.example", round), "Bomb", at)
		c := ev.Data.(event.ContactData)
		c.Contact.Custom = map[string]string{}
		for _, k := range bombKeys {
			c.Contact.Custom[k] = strings.Repeat(k, event.MaxCustomValue)
		}
		ev.Data = c
		evs = append(evs, ev)
		teamOf[ev.ID] = bomb
		for n := range 9 {
			team := fmt.Sprintf("team_calm%d", n)
			ev := contactEvent(team, event.ContactAdded, "seq_calm", fmt.Sprintf("calm%d_%d", n, round), fmt.Sprintf("p%d@calm%d.example", round, n), "Calm", at)
			evs, others = append(evs, ev), append(others, ev)
			teamOf[ev.ID] = team
		}
	}
	calmOrgs := map[string]*org.Org{}
	for n := range 9 {
		team := fmt.Sprintf("team_calm%d", n)
		calmOrgs[team] = newOrg(t, org.Config{}, st)
		if err := client.Connect(ctx, team, calmOrgs[team].URL()); err != nil {
			t.Fatal(err)
		}
	}
	messages := sendTracked(t, client, evs)
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	got, err := client.Await(ctx, ids, sequencer.Final, awaitFor)
	if err != nil {
		t.Fatal(err)
	}

	for _, ev := range evs {
		o := got[ev.ID]
		if o.Status != event.StatusCreated {
			t.Errorf("%s of %s: got %s/%s %+v; want created", ev.ID, teamOf[ev.ID], o.Status, o.Reason, o.Error)
		}
	}
	// Every answer the other teams got is the one answer (a repeat of it is
	// SQS's at-least-once delivery; the batch reports below show none of
	// their messages came back).
	for _, ev := range others {
		for _, o := range client.Outcomes(ev.ID) {
			if o.Status != event.StatusCreated || o.Salesforce == nil || o.Salesforce.ID != got[ev.ID].Salesforce.ID {
				t.Errorf("%s of %s: got answers %+v; want one created record", ev.ID, teamOf[ev.ID], client.Outcomes(ev.ID))
				break
			}
		}
	}
	// The bomb team's records: every mapped field filled to its length.
	for round := range 2 {
		recs := recordsWithEmail(bombOrg, "Lead", fmt.Sprintf("bomb%d@bomb.example", round))
		if len(recs) != 1 {
			t.Fatalf("bomb contact %d: got %d Leads; want 1", round, len(recs))
		}
		for i := range rows {
			if v, _ := recs[0][bombField(i)].(string); utf8.RuneCountInString(v) != bombFieldLength {
				t.Fatalf("bomb contact %d, %s: got %d characters; want the field's %d", round, bombField(i), utf8.RuneCountInString(v), bombFieldLength)
			}
		}
	}

	// No batch that carried an event failed, whole or in part, and every
	// message was deleted: the function handed none of them back. (Receive
	// counts are not asserted: the local queue has been seen to count a
	// receive more under load with no batch failed, which says nothing of
	// the function.) Some batch held the bomb team's events together with
	// other teams'.
	byMessage := map[string]string{} // message id -> event id
	for id, m := range messages {
		byMessage[m] = id
	}
	batches := settledBatches(t, byMessage)
	failed, deleted := map[string]bool{}, map[string]bool{}
	mixed := false
	for _, b := range batches {
		teams := map[string]bool{}
		whole := b.InvokeError != nil || b.ResponseError != nil
		for _, m := range b.MessageIDs {
			if id, ok := byMessage[m]; ok {
				teams[teamOf[id]] = true
				failed[id] = failed[id] || whole
			}
		}
		for _, m := range b.Failed {
			if id, ok := byMessage[m]; ok {
				failed[id] = true
			}
		}
		for _, m := range b.Deleted {
			if id, ok := byMessage[m]; ok {
				deleted[id] = true
			}
		}
		mixed = mixed || (teams[bomb] && len(teams) > 1)
	}
	for _, ev := range evs {
		if failed[ev.ID] || !deleted[ev.ID] {
			t.Errorf("%s of %s: handed back %v, deleted %v; want deleted, never handed back", ev.ID, teamOf[ev.ID], failed[ev.ID], deleted[ev.ID])
		}
	}
	if !mixed {
		t.Errorf("got no batch holding the bomb team's events with another team's; want the teams mixed")
	}
}

// settledBatches waits until every message of byMessage ended in a batch
// that deleted or failed it (the runner reports a batch once the function
// has answered, just after the outcomes went out), then returns the batches.
func settledBatches(t *testing.T, byMessage map[string]string) []stacktest.Batch {
	t.Helper()
	deadline := time.Now().Add(awaitFor)
	for {
		batches := h.Batches()
		ended := map[string]bool{}
		for _, b := range batches {
			for _, m := range append(slices.Clone(b.Deleted), b.Failed...) {
				ended[m] = true
			}
		}
		n := 0
		for m := range byMessage {
			if ended[m] {
				n++
			}
		}
		if n == len(byMessage) || time.Now().After(deadline) {
			return batches
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rawJSON is a request body sent as is.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

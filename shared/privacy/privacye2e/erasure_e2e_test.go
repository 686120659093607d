// Package privacye2e_test is the privacy erasure's end-to-end test: the
// whole local stack (the real function binaries behind the local runner,
// DynamoDB and SQS on moto, a simulated Salesforce org) syncs a person
// through the engines, and the erasure API then deletes them.
package privacye2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/openapi/openapitest"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/privacy/privacydb"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

var h *stacktest.Harness

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, stacktest.Options{RepoDir: "../../..", Prefix: "pv", ExtraEnv: map[string]string{"HOLD_DELAY_SECONDS": "1", "AWAIT_ADD_SECONDS": "10"}},
		func(x *stacktest.Harness) { h = x }))
}

// call makes a request of the stack's API with a token of team and role,
// checks the answer against the OpenAPI document (route: its path
// template) and returns it.
func call(t *testing.T, team, role, method, path, route string, body any) (int, []byte) {
	t.Helper()
	tok, err := h.Seq.Keys.Mint(team, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.Stack.APIURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	openapitest.Validate(t, method, route, resp.StatusCode, out)
	return resp.StatusCode, out
}

type receipt struct {
	ID      string            `json:"id"`
	Counts  privacy.Counts    `json:"counts"`
	Refused []privacy.Refusal `json:"salesforce_refused"`
	Subject privacy.Subject   `json:"subject"`
}

func erase(t *testing.T, team string, body map[string]string) receipt {
	t.Helper()
	code, out := call(t, team, "admin", "POST", "/v1/privacy/erasures", "/v1/privacy/erasures", body)
	if code != http.StatusCreated {
		t.Fatalf("erase as %s: got %d %s; want 201", team, code, out)
	}
	var r receipt
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func emailEvent(team, seq, contact, email, msg, subject string, at time.Time) event.Event {
	return event.Event{ID: stacktest.NextID("evt"), Type: event.EmailSent, Version: event.Version, OccurredAt: at.UTC(), TeamID: team,
		Data: event.EmailData{Sequence: event.Sequence{ID: seq, Name: seq}, Contact: event.ContactRef{ID: contact, Email: email},
			Message: event.Message{ID: msg, Subject: subject, BodyText: "Hello " + contact, Step: 1, SentAt: at.UTC()}}}
}

// await waits for an outcome of each event with the status.
func await(t *testing.T, evs []event.Event, status event.Status) map[string]event.Outcome {
	t.Helper()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	got, err := h.Seq.Await(context.Background(), ids, func(o event.Outcome) bool { return o.Status == status }, stacktest.AwaitFor)
	if err != nil {
		t.Fatalf("await %s: %v", status, err)
	}
	return got
}

func ddb(t *testing.T) *dynamodb.Client {
	t.Helper()
	cfg, err := motoserver.AWSConfig(context.Background(), h.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(cfg)
}

// mentions scans the stack's three tables and returns every item whose
// key or attributes hold one of the needles (case-insensitively).
func mentions(t *testing.T, needles ...string) []string {
	t.Helper()
	db := ddb(t)
	var found []string
	for _, name := range []string{"connections", "policies", "ledger"} {
		in := &dynamodb.ScanInput{TableName: aws.String(h.Stack.Resources.Tables[name]), ConsistentRead: aws.Bool(true)}
		for {
			page, err := db.Scan(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				text := strings.ToLower(flatten(it))
				for _, n := range needles {
					if strings.Contains(text, strings.ToLower(n)) {
						found = append(found, fmt.Sprintf("%s: %.300s", name, text))
					}
				}
			}
			if len(page.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = page.LastEvaluatedKey
		}
	}
	return found
}

// flatten writes an item's attributes as text, nested values included.
func flatten(item map[string]types.AttributeValue) string {
	var b strings.Builder
	var walk func(v types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			b.WriteString(x.Value + " ")
		case *types.AttributeValueMemberN:
			b.WriteString(x.Value + " ")
		case *types.AttributeValueMemberB:
			b.Write(x.Value)
			b.WriteString(" ")
		case *types.AttributeValueMemberSS:
			b.WriteString(strings.Join(x.Value, " ") + " ")
		case *types.AttributeValueMemberL:
			for _, e := range x.Value {
				walk(e)
			}
		case *types.AttributeValueMemberM:
			for k, e := range x.Value {
				b.WriteString(k + "=")
				walk(e)
			}
		}
	}
	for k, v := range item {
		b.WriteString(k + "=")
		walk(v)
	}
	return b.String()
}

// TestErasureEndToEnd syncs a person through the engines (a contact with
// two memberships, a Lead with two Tasks, an email held for the pending
// membership, a Task Salesforce refused in the error inbox), then erases
// them with their Salesforce records, and checks that nothing of them is
// left in any table nor in the org, that the receipt counts every item,
// and that the erasure's edges hold: a second erasure is a no-op, a
// member is refused, another team can neither read the receipt nor erase
// the person.
func TestErasureEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	team, other := stacktest.NextID("team_era"), stacktest.NextID("team_oth")
	contact, email := stacktest.NextID("ct"), "Ada.Erase@Example.com"
	sim := h.NewOrg(t, org.Config{})
	stacktest.Connect(t, h.Seq, team, sim)
	// The reply sequence's contacts wait for a reply: their activity is held.
	if err := h.Seq.PutSequence(ctx, team, "seq_reply", map[string]any{"sync_mode": "on_reply", "sync_as": "inherit", "sync_disabled": false}); err != nil {
		t.Fatal(err)
	}
	forbidden := "Forbidden subject"
	sim.AddValidationRule(org.ValidationRule{Object: "Task", Field: "Subject",
		Forbid: "[sfsync] Email (seq_main, step 1): " + forbidden, Message: "No such Tasks"})

	at := time.Now().Add(time.Minute)
	adds := []event.Event{
		stacktest.ContactEvent(team, event.ContactAdded, "seq_main", contact, email, "Analytical Engines", at),
		stacktest.ContactEvent(team, event.ContactAdded, "seq_reply", contact, email, "Analytical Engines", at),
	}
	stacktest.Send(t, h.Seq, adds...)
	added := stacktest.Await(t, h.Seq, adds, false)
	lead := added[adds[0].ID].Salesforce
	if lead == nil || lead.Object != event.ObjectLead || added[adds[1].ID].Status != event.StatusPending {
		t.Fatalf("contact.added: got %+v and %+v; want a Lead created, then pending", added[adds[0].ID], added[adds[1].ID])
	}
	at2 := at.Add(time.Minute)
	logged := []event.Event{emailEvent(team, "seq_main", contact, email, "m1", "Hello", at2), emailEvent(team, "seq_main", contact, email, "m2", "Again", at2)}
	held := []event.Event{emailEvent(team, "seq_reply", contact, email, "m3", "Waiting", at2)}
	refused := []event.Event{emailEvent(team, "seq_main", contact, email, "m4", forbidden, at2.Add(time.Minute))}
	stacktest.Send(t, h.Seq, slices.Concat(logged, held, refused)...)
	var tasks []string
	for _, o := range await(t, logged, event.StatusCreated) {
		tasks = append(tasks, o.Salesforce.ID)
	}
	await(t, held, event.StatusPending)
	await(t, refused, event.StatusFailed)
	if len(mentions(t, contact)) == 0 {
		t.Fatalf("the tables hold nothing of %s before the erasure; want the synced person", contact)
	}

	// A member may not erase; another team erases nothing of this one's.
	if code, out := call(t, team, "member", "POST", "/v1/privacy/erasures", "/v1/privacy/erasures", map[string]string{"contact_id": contact}); code != http.StatusForbidden {
		t.Errorf("member: got %d %s; want 403", code, out)
	}
	store := &privacydb.Store{DB: ddb(t), Table: h.Stack.Resources.Tables["ledger"]}
	before, err := store.ContactItems(ctx, team, contact)
	if err != nil {
		t.Fatal(err)
	}
	if r := erase(t, other, map[string]string{"email": email, "contact_id": contact, "salesforce": "keep"}); r.Counts != (privacy.Counts{}) {
		t.Errorf("another team's erasure of the person: got %+v; want zero counts", r.Counts)
	}
	if after, err := store.ContactItems(ctx, team, contact); err != nil || len(after) != len(before) {
		t.Errorf("the person's items after another team's erasure: got %d, %v; want %d", len(after), err, len(before))
	}

	r := erase(t, team, map[string]string{"email": email, "contact_id": contact, "salesforce": "delete"})
	want := privacy.Counts{
		Memberships: 2,
		Records:     1,
		// the two contact.added, the two logged emails, the held one, the refused one
		Outcomes:          6,
		Failures:          1,
		HeldEvents:        1,
		Activities:        2,
		SalesforceDeleted: 3, // two Tasks, then the Lead
	}
	if r.Counts != want || len(r.Refused) != 0 {
		t.Errorf("receipt: got %+v, refused %+v; want %+v, none refused", r.Counts, r.Refused, want)
	}
	if r.Subject.EmailSHA256 != privacy.SubjectHash(team, strings.ToLower(email)) || r.Subject.ContactIDSHA256 != privacy.SubjectHash(team, contact) {
		t.Errorf("receipt subject: got %+v; want the hashes of the team and each identifier", r.Subject)
	}
	if found := mentions(t, email, contact); len(found) != 0 {
		t.Errorf("the tables after the erasure: got %d items naming the person; want none:\n%s", len(found), strings.Join(found, "\n"))
	}
	if _, ok := sim.Record("Lead", lead.ID); ok {
		t.Errorf("Lead %s: got it in the org; want it deleted", lead.ID)
	}
	for _, id := range tasks {
		if _, ok := sim.Record("Task", id); ok {
			t.Errorf("Task %s: got it in the org; want it deleted", id)
		}
	}

	// The receipt reads back to its team only.
	code, out := call(t, team, "admin", "GET", "/v1/privacy/erasures/"+r.ID, "/v1/privacy/erasures/{id}", nil)
	var read receipt
	_ = json.Unmarshal(out, &read)
	if code != http.StatusOK || read.ID != r.ID || read.Counts != r.Counts {
		t.Errorf("read the receipt: got %d %s; want 200 and the receipt", code, out)
	}
	if code, out := call(t, other, "admin", "GET", "/v1/privacy/erasures/"+r.ID, "/v1/privacy/erasures/{id}", nil); code != http.StatusNotFound {
		t.Errorf("another team reads the receipt: got %d %s; want 404", code, out)
	}
	if code, out := call(t, team, "member", "GET", "/v1/privacy/erasures/"+r.ID, "/v1/privacy/erasures/{id}", nil); code != http.StatusForbidden {
		t.Errorf("a member reads the receipt: got %d %s; want 403", code, out)
	}

	// The same erasure again deletes nothing, in Salesforce either.
	calls := sim.Stats().Total
	if again := erase(t, team, map[string]string{"email": email, "contact_id": contact, "salesforce": "delete"}); again.Counts != (privacy.Counts{}) || again.ID == r.ID {
		t.Errorf("second erasure: got %+v (id %s); want zero counts under a new id", again.Counts, again.ID)
	}
	if spent := sim.Stats().Total - calls; spent != 0 {
		t.Errorf("second erasure: spent %d API calls; want none", spent)
	}

	// The other team leaves: a purge deletes its items only; this team's
	// receipt stays.
	for i := 0; ; i++ {
		code, out := call(t, other, "admin", "DELETE", "/v1/salesforce?purge=true", "/v1/salesforce", nil)
		var p struct {
			Complete bool `json:"complete"`
		}
		_ = json.Unmarshal(out, &p)
		if code != http.StatusOK || i > 20 {
			t.Fatalf("purge of the other team: got %d %s; want 200", code, out)
		}
		if p.Complete {
			break
		}
	}
	// Its request-limit windows are kept, to expire within minutes.
	var left []string
	for _, f := range mentions(t, other) {
		if !strings.Contains(f, "pk=limit#"+other+"#") {
			left = append(left, f)
		}
	}
	if len(left) != 0 {
		t.Errorf("the tables after the other team's purge: got %d items of it; want none but its request limits:\n%s", len(left), strings.Join(left, "\n"))
	}
	if code, out := call(t, team, "admin", "GET", "/v1/privacy/erasures/"+r.ID, "/v1/privacy/erasures/{id}", nil); code != http.StatusOK {
		t.Errorf("the receipt after another team's purge: got %d %s; want 200", code, out)
	}
}

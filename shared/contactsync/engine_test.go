package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// dupResult is a DUPLICATES_DETECTED save result as Salesforce words it,
// naming the given records ("Lead:00Q…", "Contact:003…"); with none it
// carries no duplicateResult.
func dupResult(t *testing.T, records ...[2]string) salesforce.SaveResult {
	t.Helper()
	item := map[string]any{"statusCode": "DUPLICATES_DETECTED", "message": "Use one of these records?", "fields": []string{}}
	if len(records) > 0 {
		var results []any
		for _, r := range records {
			results = append(results, map[string]any{"entityType": r[0], "matchEngine": "FuzzyMatchEngine", "rule": "Standard_Match_Rule", "size": 1,
				"matchRecords": []any{map[string]any{"matchConfidence": 100, "record": map[string]any{"attributes": map[string]any{"type": r[0]}, "Id": r[1]}}}})
		}
		item["duplicateResut"] = map[string]any{"allowSave": false, "duplicateRule": "Standard_Lead_Duplicate_Rule",
			"duplicateRuleEntityType": "Lead", "matchResults": results}
	}
	b, _ := json.Marshal(map[string]any{"success": false, "errors": []any{item}})
	var res salesforce.SaveResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDuplicateError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		records [][2]string
		want    string // in the message
	}{
		{"no duplicateResult (sObject Collections)", nil, "Salesforce did not say which"},
		{"the matched ids, each once", [][2]string{{"Lead", "00Q000000000001"}, {"Contact", "003000000000002"}, {"Lead", "00Q000000000001"}},
			"existing records 00Q000000000001, 003000000000002 with another email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			oe := duplicateError(dupResult(t, tc.records...))
			if oe.Code != salesforce.CodeDuplicatesDetected || !strings.Contains(oe.Message, tc.want) || !strings.Contains(oe.Message, "allow saving duplicates") {
				t.Errorf("got %+v; want DUPLICATES_DETECTED naming %q and what to do", oe, tc.want)
			}
		})
	}
}

// fakeLedger keeps the records saved and the claims taken and given up;
// the steps use nothing else of it here.
type fakeLedger struct {
	Ledger
	mu        sync.Mutex
	saved     []ledger.Record
	claimed   []string
	unclaimed []string
	busy      map[string]bool
}

func (l *fakeLedger) SaveRecords(_ context.Context, rs []ledger.Record) ([]error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.saved = append(l.saved, rs...)
	return make([]error, len(rs)), nil
}
func (l *fakeLedger) SetMemberships(_ context.Context, ms []ledger.Membership) ([]error, error) {
	return make([]error, len(ms)), nil
}
func (l *fakeLedger) Unclaim(_ context.Context, _, email, _ string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unclaimed = append(l.unclaimed, email)
	return nil
}
func (l *fakeLedger) Records(context.Context, string, []string) (map[string]ledger.Record, error) {
	return map[string]ledger.Record{}, nil
}

// ClaimAll remembers what was claimed; emails in busy are held by another
// worker.
func (l *fakeLedger) ClaimAll(_ context.Context, _ string, emails []string, _ string, _ time.Time) ([]error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.claimed = append(l.claimed, emails...)
	errs := make([]error, len(emails))
	for i, e := range emails {
		if l.busy[e] {
			errs[i] = ledger.ErrClaimed
		}
	}
	return errs, nil
}

// fakeOrg answers lookups from found and remembers what was asked.
type fakeOrg struct {
	Org
	found map[string]ledger.Match
	asked [][]string
}

// Create answers every record with a new id.
func (o *fakeOrg) Create(_ context.Context, recs []salesforce.SObject, _ salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	out := make([]salesforce.SaveResult, len(recs))
	for i := range recs {
		out[i] = salesforce.SaveResult{ID: fmt.Sprintf("00Q00000000%04d", i), Success: true}
	}
	return out, nil
}

// plainRenderer renders a contact as its email alone, with mapping version 1.
type plainRenderer struct{}

func (plainRenderer) Render(_ context.Context, _ string, _ event.SalesforceObject, c event.Contact) (salesforce.SObject, int, error) {
	return salesforce.SObject{"Email": c.Email}, 1, nil
}

func (o *fakeOrg) FindByEmail(_ context.Context, emails []string) (map[string]ledger.Match, error) {
	o.asked = append(o.asked, slices.Clone(emails))
	out := map[string]ledger.Match{}
	for _, e := range emails {
		if m, ok := o.found[e]; ok {
			out[e] = m
		}
	}
	return out, nil
}

// TestLinkDuplicatesNeverLinksAnotherEmail: a DUPLICATES_DETECTED answer
// links only to a record that has the contact's email, looked up again; a
// record the rule matched on the name and phone (named in the answer or not)
// is never linked: the contact fails with the code and the matched id.
func TestLinkDuplicatesNeverLinksAnotherEmail(t *testing.T) {
	t.Parallel()
	fl := &fakeLedger{}
	org := &fakeOrg{found: map[string]ledger.Match{
		"lookup@dup.example": {Object: event.ObjectLead, ID: "00Q0000000000LU", Rule: "lead"},
	}}
	p := part{e: &Engine{Ledger: fl}, team: "team_dup", org: org}
	owner := func(n, email string) item {
		ev := event.Event{ID: "evt_" + n, Type: event.ContactAdded, TeamID: "team_dup",
			Data: event.ContactData{Contact: event.Contact{ID: "c_" + n, Email: email}, Sequence: &event.Sequence{ID: "seq"}}}
		return item{d: delivery.Delivery{ID: "msg_" + n, Event: ev}, m: ledger.Membership{TeamID: "team_dup", Email: email}, object: event.ObjectLead}
	}
	owners := []item{owner("1", "named@dup.example"), owner("2", "lookup@dup.example"), owner("3", "nowhere@dup.example")}
	results := []salesforce.SaveResult{
		dupResult(t, [2]string{"Contact", "0030000000000NM"}),
		dupResult(t),
		dupResult(t),
	}
	ends, err := p.linkDuplicates(context.Background(), []int{0, 1, 2}, results, owners, nil)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := p.record(context.Background(), ends)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"named@dup.example", "lookup@dup.example", "nowhere@dup.example"}}; !slices.EqualFunc(org.asked, want, slices.Equal) {
		t.Errorf("lookups: got %v; want %v", org.asked, want)
	}
	got := map[string]event.Outcome{}
	for _, o := range tl.outcomes {
		got[o.EventID] = o
	}
	want := map[string]struct {
		status event.Status
		reason event.Reason
		ref    *event.SalesforceRef
		code   string
	}{
		// the Contact the rule matched has another email (same name and phone): not this person
		"evt_1": {event.StatusFailed, "", nil, salesforce.CodeDuplicatesDetected},
		"evt_2": {event.StatusLinked, "matched_duplicate_rule", &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q0000000000LU"}, ""},
		"evt_3": {event.StatusFailed, "", nil, salesforce.CodeDuplicatesDetected},
	}
	for id, w := range want {
		o, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s: got no outcome; want %s", id, w.status)
		case o.Status != w.status || o.Reason != w.reason:
			t.Errorf("%s: got %s/%s; want %s/%s", id, o.Status, o.Reason, w.status, w.reason)
		case w.ref != nil && (o.Salesforce == nil || *o.Salesforce != *w.ref):
			t.Errorf("%s: got record %+v; want %+v", id, o.Salesforce, w.ref)
		case w.code != "" && (o.Error == nil || o.Error.Code != w.code):
			t.Errorf("%s: got error %+v; want %s", id, o.Error, w.code)
		}
	}
	if len(fl.saved) != 1 || fl.saved[0].MatchRule != "duplicate_rule" || fl.saved[0].ID != "00Q0000000000LU" {
		t.Errorf("records saved: got %+v; want only the looked-up Lead, by duplicate_rule", fl.saved)
	}
	if o := got["evt_1"]; o.Error == nil || !strings.Contains(o.Error.Message, "0030000000000NM") {
		t.Errorf("evt_1 error: got %+v; want the matched id named", o.Error)
	}
}

// TestClaimsOnlyWhatItCreates: the emails Salesforce has are linked without
// a claim; the others are claimed before they are created, and an email
// another worker holds comes back later.
func TestClaimsOnlyWhatItCreates(t *testing.T) {
	t.Parallel()
	fl := &fakeLedger{busy: map[string]bool{"busy@claim.example": true}}
	org := &fakeOrg{found: map[string]ledger.Match{"found@claim.example": {Object: event.ObjectContact, ID: "0030000000000FD", Rule: "contact"}}}
	p := part{e: &Engine{Ledger: fl, Renderer: plainRenderer{}, Policies: allowSaveFrom{}, Owner: "w1"}, team: "team_claim", org: org}
	it := func(n, email string) item {
		ev := event.Event{ID: "evt_" + n, Type: event.ContactAdded, TeamID: "team_claim",
			Data: event.ContactData{Contact: event.Contact{ID: "c_" + n, Email: email}, Sequence: &event.Sequence{ID: "seq"}}}
		return item{d: delivery.Delivery{ID: "msg_" + n, Event: ev}, m: ledger.Membership{TeamID: "team_claim", Email: email}, object: event.ObjectLead}
	}
	items := []item{it("1", "Found@Claim.example"), it("2", "new@claim.example"), it("3", "busy@claim.example"), it("4", "NEW@claim.example")}
	tl, err := p.syncItems(context.Background(), nil, items)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"new@claim.example", "busy@claim.example"}; !slices.Equal(fl.claimed, want) {
		t.Errorf("claimed: got %v; want %v", fl.claimed, want)
	}
	var saved []string
	for _, r := range fl.saved {
		saved = append(saved, r.Email+"="+string(r.Status))
	}
	slices.Sort(saved)
	if want := []string{"found@claim.example=linked", "new@claim.example=created"}; !slices.Equal(saved, want) {
		t.Errorf("records saved: got %v; want %v", saved, want)
	}
	got := map[string]event.Status{}
	for _, o := range tl.outcomes {
		got[o.EventID] = o.Status
	}
	want := map[string]event.Status{"evt_1": event.StatusLinked, "evt_2": event.StatusCreated, "evt_4": event.StatusLinked}
	if !maps.Equal(got, want) {
		t.Errorf("outcomes: got %v; want %v", got, want)
	}
	if err := tl.retries["msg_3"]; !errors.Is(err, delivery.ErrRetry) || !errors.Is(err, ledger.ErrClaimed) {
		t.Errorf("the held email's event: got %v; want a retry over ledger.ErrClaimed", err)
	}
}

// answerLedger knows outcomes recorded before and keeps what is recorded.
// An event in synced was answered by another copy after any read: a record
// keeps that answer.
type answerLedger struct {
	Ledger
	mu       sync.Mutex
	prior    map[string]event.Outcome
	synced   map[string]event.Outcome
	asked    [][]string
	recorded []event.Outcome
}

func (l *answerLedger) Outcomes(_ context.Context, _ string, ids []string) (map[string]event.Outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, slices.Clone(ids))
	out := map[string]event.Outcome{}
	for _, id := range ids {
		if o, ok := l.prior[id]; ok {
			out[id] = o
		}
	}
	return out, nil
}

func (l *answerLedger) RecordOutcomes(ctx context.Context, outs []event.Outcome) error {
	_, err := l.RecordOutcomesKept(ctx, outs)
	return err
}

func (l *answerLedger) RecordOutcomesKept(_ context.Context, outs []event.Outcome) ([]event.Outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recorded = append(l.recorded, outs...)
	kept := slices.Clone(outs)
	for i, o := range outs {
		if s, ok := l.synced[o.EventID]; ok {
			kept[i] = s
		}
	}
	return kept, nil
}

// notConnectedOrgs is a team with no connection.
type notConnectedOrgs struct{}

func (notConnectedOrgs) Open(context.Context, string) (Org, delivery.Connection, error) {
	return nil, delivery.Connection{}, connection.ErrNotConnected
}
func (notConnectedOrgs) RecordHold(context.Context, string, time.Time) error { return nil }

// keptPublisher keeps what is published, and how many at each call.
type keptPublisher struct {
	outs  []event.Outcome
	calls []int
}

func (p *keptPublisher) Publish(_ context.Context, outs []event.Outcome) error {
	p.outs = append(p.outs, outs...)
	p.calls = append(p.calls, len(outs))
	return nil
}

// TestAnAnsweredAddKeepsItsAnswerWhenDisconnected: an add's outcome is not
// read before its pin (pinFirst), so when the team is not connected any
// more, an add answered while it was must still get its first answer, not
// not_connected.
func TestAnAnsweredAddKeepsItsAnswerWhenDisconnected(t *testing.T) {
	t.Parallel()
	add := func(n string) delivery.Delivery {
		return delivery.Delivery{ID: "msg_" + n, Event: event.Event{ID: "evt_" + n, Type: event.ContactAdded, TeamID: "team_nc",
			OccurredAt: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
			Data:       event.ContactData{Contact: event.Contact{ID: "c_" + n, Email: n + "@nc.example"}, Sequence: &event.Sequence{ID: "seq"}}}}
	}
	answered, fresh, reply := add("1"), add("2"), add("3")
	reply.Event.Type = event.ContactReplied
	created := event.NewOutcome(answered.Event, "out_evt_1", event.StatusCreated, time.Date(2026, 11, 30, 9, 0, 5, 0, time.UTC))
	created.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001"}
	fl := &answerLedger{prior: map[string]event.Outcome{"evt_1": created}}
	pub := &keptPublisher{}
	e := &Engine{Ledger: fl, Orgs: notConnectedOrgs{}, Publisher: pub}
	if failed := e.Process(context.Background(), []delivery.Delivery{answered, fresh, reply}); len(failed) != 0 {
		t.Fatalf("failed: got %v; want none", failed)
	}
	if want := [][]string{{"evt_3"}, {"evt_1", "evt_2"}}; !slices.EqualFunc(fl.asked, want, slices.Equal) {
		t.Errorf("outcomes read: got %v; want the reply's first, the adds' once not connected", fl.asked)
	}
	got := map[string]string{}
	for _, o := range pub.outs {
		got[o.EventID] = string(o.Status) + "/" + string(o.Reason)
	}
	want := map[string]string{"evt_1": "created/", "evt_2": "skipped/not_connected", "evt_3": "skipped/not_connected"}
	if !maps.Equal(got, want) {
		t.Errorf("published: got %v; want %v", got, want)
	}
	var rec []string
	for _, o := range fl.recorded {
		rec = append(rec, o.EventID)
	}
	slices.Sort(rec)
	if want := []string{"evt_2", "evt_3"}; !slices.Equal(rec, want) {
		t.Errorf("recorded: got %v; want %v (evt_1 keeps its outcome)", rec, want)
	}
}

// TestLargeBatchesRunInParts: a team's batch larger than PartSize runs in
// parts, adds before replies; a smaller one runs whole, as it came.
func TestLargeBatchesRunInParts(t *testing.T) {
	t.Parallel()
	deliver := func(i int, typ event.Type) delivery.Delivery {
		n := strconv.Itoa(i)
		return delivery.Delivery{ID: "msg_" + n, Event: event.Event{ID: "evt_" + n, Type: typ, TeamID: "team_parts",
			OccurredAt: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
			Data:       event.ContactData{Contact: event.Contact{ID: "c_" + n, Email: n + "@parts.example"}, Sequence: &event.Sequence{ID: "seq"}}}}
	}
	cases := []struct {
		name      string
		adds      int
		replies   int
		wantCalls []int
	}{
		{"one part", 600, 400, []int{1000}},
		{"adds first, in three parts", 1500, 1000, []int{1000, 1000, 500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ds []delivery.Delivery
			for i := range tc.adds + tc.replies {
				typ := event.ContactAdded
				if i%5 < 2 && i/5*2+i%5 < tc.replies { // replies interleaved with the adds
					typ = event.ContactReplied
				}
				ds = append(ds, deliver(i, typ))
			}
			pub := &keptPublisher{}
			e := &Engine{Ledger: &answerLedger{}, Orgs: notConnectedOrgs{}, Publisher: pub}
			if failed := e.Process(context.Background(), ds); len(failed) != 0 {
				t.Fatalf("failed: got %d; want none", len(failed))
			}
			if !slices.Equal(pub.calls, tc.wantCalls) {
				t.Errorf("outcomes published per run: got %v; want %v", pub.calls, tc.wantCalls)
			}
			byEvent := map[string]event.Type{}
			for _, d := range ds {
				byEvent[d.Event.ID] = d.Event.Type
			}
			sawReply := false
			for _, o := range pub.outs {
				reply := byEvent[o.EventID] == event.ContactReplied
				if len(tc.wantCalls) > 1 && sawReply && !reply {
					t.Fatalf("outcome of add %s after a reply's: got replies before adds; want adds first", o.EventID)
				}
				sawReply = sawReply || reply
			}
			if len(pub.outs) != tc.adds+tc.replies {
				t.Errorf("outcomes: got %d; want %d", len(pub.outs), tc.adds+tc.replies)
			}
		})
	}
}

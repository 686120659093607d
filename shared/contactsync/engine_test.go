package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/sfsync/sfsync/shared/event"
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

func TestDuplicateMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		records [][2]string
		want    Match
		wantOK  bool
	}{
		{"no duplicateResult", nil, Match{}, false},
		{"a Lead", [][2]string{{"Lead", "00Q000000000001"}}, Match{Object: event.ObjectLead, ID: "00Q000000000001", Rule: "duplicate_rule"}, true},
		{"a Contact wins over a Lead", [][2]string{{"Lead", "00Q000000000001"}, {"Contact", "003000000000002"}},
			Match{Object: event.ObjectContact, ID: "003000000000002", Rule: "duplicate_rule"}, true},
		{"the first Lead", [][2]string{{"Lead", "00Q000000000001"}, {"Lead", "00Q000000000003"}},
			Match{Object: event.ObjectLead, ID: "00Q000000000001", Rule: "duplicate_rule"}, true},
		{"another object only", [][2]string{{"Account", "001000000000004"}}, Match{}, false},
		{"a record without an id", [][2]string{{"Lead", ""}}, Match{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := duplicateMatch(dupResult(t, tc.records...))
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("got %+v %v; want %+v %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// fakeLedger keeps the records saved; the batch uses nothing else of it here.
type fakeLedger struct {
	Ledger
	mu    sync.Mutex
	saved []Record
}

func (l *fakeLedger) SaveRecords(_ context.Context, rs []Record) ([]error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.saved = append(l.saved, rs...)
	return make([]error, len(rs)), nil
}
func (l *fakeLedger) SetMemberships(_ context.Context, ms []Membership) ([]error, error) {
	return make([]error, len(ms)), nil
}
func (l *fakeLedger) Release(context.Context, string, string, string) error { return nil }

// fakeOrg answers lookups from found and remembers what was asked.
type fakeOrg struct {
	Org
	found map[string]Match
	asked [][]string
}

func (o *fakeOrg) FindByEmail(_ context.Context, emails []string) (map[string]Match, error) {
	o.asked = append(o.asked, slices.Clone(emails))
	out := map[string]Match{}
	for _, e := range emails {
		if m, ok := o.found[e]; ok {
			out[e] = m
		}
	}
	return out, nil
}

// TestLinkDuplicatesUsesTheNamedRecord: a DUPLICATES_DETECTED answer that
// names the matched record links to it without a lookup; one that names none
// is looked up; one found nowhere fails with the code.
func TestLinkDuplicatesUsesTheNamedRecord(t *testing.T) {
	t.Parallel()
	ledger := &fakeLedger{}
	org := &fakeOrg{found: map[string]Match{
		"named@dup.example":  {Object: event.ObjectLead, ID: "00Q0000000000LK", Rule: "lead"}, // never asked for
		"lookup@dup.example": {Object: event.ObjectLead, ID: "00Q0000000000LU", Rule: "lead"},
	}}
	b := &batch{e: &Engine{Ledger: ledger}, team: "team_dup", failed: map[string]error{}, done: map[string]bool{}, org: org}
	owner := func(n, email string) item {
		ev := event.Event{ID: "evt_" + n, Type: event.ContactAdded, TeamID: "team_dup",
			Data: event.ContactData{Contact: event.Contact{ID: "c_" + n, Email: email}, Sequence: &event.Sequence{ID: "seq"}}}
		return item{d: Delivery{ID: "msg_" + n, Event: ev}, m: Membership{TeamID: "team_dup", Email: email}, object: event.ObjectLead}
	}
	owners := []item{owner("1", "Named@Dup.example"), owner("2", "lookup@dup.example"), owner("3", "nowhere@dup.example")}
	results := []salesforce.SaveResult{
		dupResult(t, [2]string{"Contact", "0030000000000NM"}),
		dupResult(t),
		dupResult(t),
	}
	if err := b.linkDuplicates(context.Background(), []int{0, 1, 2}, results, owners, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"lookup@dup.example", "nowhere@dup.example"}}; !slices.EqualFunc(org.asked, want, slices.Equal) {
		t.Errorf("lookups: got %v; want %v", org.asked, want)
	}
	got := map[string]event.Outcome{}
	for _, o := range b.outcomes {
		got[o.EventID] = o
	}
	want := map[string]struct {
		status event.Status
		reason event.Reason
		ref    *event.SalesforceRef
		code   string
	}{
		"evt_1": {event.StatusLinked, "matched_duplicate_rule", &event.SalesforceRef{Object: event.ObjectContact, ID: "0030000000000NM"}, ""},
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
	if len(ledger.saved) != 2 || ledger.saved[0].MatchRule != "duplicate_rule" || ledger.saved[0].ID != "0030000000000NM" {
		t.Errorf("records saved: got %+v; want the named Contact, then the looked-up Lead, by duplicate_rule", ledger.saved)
	}
}

func TestAwaitAddRetryWrapsWait(t *testing.T) {
	t.Parallel()
	wait := errors.New("queue: waiting")
	tests := []struct {
		name     string
		wait     error
		wantWait bool
	}{
		{"the adapter's wait", wait, true},
		{"no adapter: a plain retry", nil, false},
	}
	for _, tt := range tests {
		err := (&batch{e: &Engine{Wait: tt.wait}}).awaitAdd()
		if !errors.Is(err, ErrRetry) {
			t.Errorf("%s: got %v; want it to wrap ErrRetry", tt.name, err)
		}
		if got := errors.Is(err, wait); got != tt.wantWait {
			t.Errorf("%s: wraps the wait: got %v; want %v", tt.name, got, tt.wantWait)
		}
	}
}

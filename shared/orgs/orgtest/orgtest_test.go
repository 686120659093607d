package orgtest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// memory is the in-memory org as the conformance suite's Subject.
type memory struct{ o *orgtest.Org }

func (m memory) Contacts(*testing.T) contactsync.Org    { return m.o }
func (m memory) Activities(*testing.T) activitysync.Org { return m.o }
func (m memory) Seed(_ *testing.T, object string, fields map[string]any) string {
	return m.o.Seed(object, fields)
}

func (m memory) Convert(t *testing.T, leadID string) string {
	id, ok := m.o.Convert(leadID)
	if !ok {
		t.Fatalf("convert %s: got no Contact; want one", leadID)
	}
	return id
}

func (m memory) Update(t *testing.T, _, id string, fields map[string]any) {
	if !m.o.Update(id, fields) {
		t.Fatalf("update %s: got no such record; want it updated", id)
	}
}

func (m memory) RefuseAsDuplicate(_ *testing.T, email, matchID string) {
	m.o.Refuse(email, orgtest.Duplicate(orgtest.Lead, matchID))
}

func (m memory) AddTaskKeyField(*testing.T) {
	m.o.SetTaskFields(activitysync.TaskFields{TypeEmail: true, ClosedStatus: "Completed", KeyField: orgs.TaskKeyField})
}

func (m memory) SetFieldUpdateable(_ *testing.T, object, field string, on bool) {
	m.o.SetFieldUpdateable(object, field, on)
}

func (m memory) Record(_ *testing.T, object, id string) (map[string]any, bool) {
	r, ok := m.o.Record(id)
	if !ok || r.Object != object {
		return nil, false
	}
	return r.Fields, true
}

func (m memory) Calls(*testing.T) int { return m.o.Calls() }

func TestConformance(t *testing.T) {
	orgtest.Run(t, func(*testing.T) orgtest.Subject { return memory{orgtest.NewOrg()} })
}

// TestOpenAnswersByConnectionStatus: Open answers each connection status
// with the connection package's error, as orgs does, and the connection.
func TestOpenAnswersByConnectionStatus(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  connection.Status // "" : never connected
		wantErr []error
		notErr  []error
	}{
		{"connected", connection.StatusConnected, nil, []error{connection.ErrNotConnected, connection.ErrNeedsReauth}},
		{"needs reauth", connection.StatusNeedsReauth, []error{connection.ErrNeedsReauth}, []error{connection.ErrNeedsAdmin, connection.ErrNotConnected}},
		{"needs admin", connection.StatusNeedsAdmin, []error{connection.ErrNeedsAdmin, connection.ErrNeedsReauth}, []error{connection.ErrNotConnected}},
		{"disconnected", connection.StatusDisconnected, []error{connection.ErrNotConnected}, []error{connection.ErrNeedsReauth}},
		{"never connected", "", []error{connection.ErrNotConnected}, []error{connection.ErrNeedsReauth}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := orgtest.New()
			if tc.status != "" {
				s.Connect("team_a", t0)
				s.SetStatus("team_a", tc.status)
			}
			o, conn, err := s.Contacts().Open(context.Background(), "team_a")
			if (err == nil) != (len(tc.wantErr) == 0) || (err == nil) != (o != nil) {
				t.Fatalf("Open: got org %v, error %v; want an org only when connected", o, err)
			}
			for _, w := range tc.wantErr {
				if !errors.Is(err, w) {
					t.Errorf("Open: got %v; want it to match %v", err, w)
				}
			}
			for _, n := range tc.notErr {
				if errors.Is(err, n) {
					t.Errorf("Open: got %v; want it not to match %v", err, n)
				}
			}
			if tc.status != "" && (conn.Status != string(tc.status) || !conn.ConnectedAt.Equal(t0)) {
				t.Errorf("connection: got %+v; want status %s connected at %v", conn, tc.status, t0)
			}
			if got := s.Opens("team_a"); got != 1 {
				t.Errorf("opens: got %d; want 1", got)
			}
		})
	}
}

// TestRecordHoldKeepsTheLatest: HeldAt is the latest hold noted, whatever
// the order, and shows in what Open reports.
func TestRecordHoldKeepsTheLatest(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	s := orgtest.New()
	s.Connect("team_a", t0)
	for _, at := range []time.Time{t0.Add(2 * time.Minute), t0.Add(time.Minute)} {
		if err := s.RecordHold(context.Background(), "team_a", at); err != nil {
			t.Fatalf("RecordHold: %v", err)
		}
	}
	_, conn, err := s.Activities().Open(context.Background(), "team_a")
	if err != nil || !conn.HeldAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("HeldAt: got %v, %v; want %v", conn.HeldAt, err, t0.Add(2*time.Minute))
	}
}

// TestInjectedFailures: what a test injects is what the engine sees, and
// calls are counted.
func TestInjectedFailures(t *testing.T) {
	ctx := context.Background()
	lead := func(email string) salesforce.SObject {
		r := salesforce.NewSObject(orgtest.Lead)
		r["LastName"], r["Company"], r["Email"] = "L", "C", email
		return r
	}
	o := orgtest.NewOrg()
	o.FailNext(orgtest.CallCreate, orgtest.Transient())
	if _, err := o.Create(ctx, []salesforce.SObject{lead("a@x.example.com")}, salesforce.WriteOptions{}); !errors.Is(err, salesforce.ErrTransient) {
		t.Errorf("Create after FailNext: got %v; want salesforce.ErrTransient", err)
	}
	if n := len(o.Records(orgtest.Lead)); n != 0 {
		t.Errorf("Leads after a failed call: got %d; want 0", n)
	}
	o.LoseNextAnswer()
	if _, err := o.Create(ctx, []salesforce.SObject{lead("a@x.example.com")}, salesforce.WriteOptions{}); !errors.Is(err, salesforce.ErrTransient) {
		t.Errorf("Create with a lost answer: got %v; want salesforce.ErrTransient", err)
	}
	if n := len(o.Records(orgtest.Lead)); n != 1 {
		t.Errorf("Leads after a lost answer: got %d; want 1 (saved)", n)
	}
	o.Refuse("B@x.example.com", orgtest.RequiredFieldMissing("Segment__c"))
	res, err := o.Create(ctx, []salesforce.SObject{lead("b@X.example.com"), lead("c@x.example.com")}, salesforce.WriteOptions{})
	if err != nil || res[0].Success || res[0].Errors[0].Code != "REQUIRED_FIELD_MISSING" || !res[1].Success {
		t.Errorf("Create with a refused email: got %+v, %v; want the first refused, the second created", res, err)
	}
	o.SetBudget(budget.ErrCapped, budget.ErrCapped)
	if _, err := o.FindByEmail(ctx, []string{"c@x.example.com"}); !errors.Is(err, budget.ErrCapped) {
		t.Errorf("FindByEmail over the budget: got %v; want budget.ErrCapped", err)
	}
	if got, want := o.Calls(orgtest.CallCreate), 3; got != want {
		t.Errorf("create calls: got %d; want %d", got, want)
	}
	if got, want := o.Calls(), 4; got != want {
		t.Errorf("calls: got %d; want %d", got, want)
	}
}

// TestDuplicateNamesItsMatch: the injected duplicate answer names the
// match as Salesforce's duplicateResult does, and an alert rule yields to
// allowSave.
func TestDuplicateNamesItsMatch(t *testing.T) {
	e := orgtest.Duplicate(orgtest.Contact, "003000000000042AAA")
	object, id, ok := e.Duplicates.FirstMatch()
	if e.Code != salesforce.CodeDuplicatesDetected || !ok || object != orgtest.Contact || id != "003000000000042AAA" {
		t.Errorf("Duplicate: got %s naming %s %s (%v); want %s naming Contact 003000000000042AAA", e.Code, object, id, ok, salesforce.CodeDuplicatesDetected)
	}
	if !e.Duplicates.AllowSave {
		t.Errorf("Duplicate: got a block rule; want an alert rule (allowSave)")
	}
}

// TestConcurrentUse: the engines look up and create from many goroutines
// at once; every create is kept and found.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	o := orgtest.NewOrg()
	const workers = 8
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			email := fmt.Sprintf("worker%d@example.com", i)
			rec := salesforce.NewSObject(orgtest.Contact)
			rec["LastName"], rec["Email"] = "W", email
			res, err := o.Create(ctx, []salesforce.SObject{rec}, salesforce.WriteOptions{})
			if err != nil || !res[0].Success {
				errs <- fmt.Errorf("create %s: got %+v, %v; want it created", email, res, err)
				return
			}
			if got, err := o.FindByEmail(ctx, []string{email}); err != nil || got[email].ID != res[0].ID {
				errs <- fmt.Errorf("find %s: got %v, %v; want %s", email, got, err, res[0].ID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(o.Records(orgtest.Contact)); got != workers {
		t.Errorf("Contacts: got %d; want %d", got, workers)
	}
}

// TestInjectedFailuresOfWrites: updates and deletes count one call per 200
// records sent, take injected failures as orgs sorts them (a passing one
// fails the write, a lasting one refuses each record of its call), and a
// lost answer does the work: the same delete again answers
// ENTITY_IS_DELETED.
func TestInjectedFailuresOfWrites(t *testing.T) {
	ctx := context.Background()
	o := orgtest.NewOrg()
	optOut := func(id string) salesforce.SObject {
		r := salesforce.NewSObject(orgtest.Lead)
		r["Id"], r["HasOptedOutOfEmail"] = id, true
		return r
	}
	var ids []string
	for i := range 201 {
		ids = append(ids, o.Seed(orgtest.Lead, map[string]any{"LastName": fmt.Sprint("L", i), "Company": "C"}))
	}
	recs := make([]salesforce.SObject, len(ids))
	for i, id := range ids {
		recs[i] = optOut(id)
	}

	o.FailNext(orgtest.CallUpdate, nil, orgtest.Transient())
	if res, err := o.UpdateRecords(ctx, recs); !errors.Is(err, salesforce.ErrTransient) || res != nil {
		t.Errorf("update whose second call fails: got %d results, %v; want none and salesforce.ErrTransient", len(res), err)
	}
	if r, _ := o.Record(ids[0]); r.Fields["HasOptedOutOfEmail"] != true {
		t.Errorf("a record of the first call: got %v; want it updated (the call before the failure stays done)", r.Fields)
	}
	if r, _ := o.Record(ids[200]); r.Fields["HasOptedOutOfEmail"] == true {
		t.Errorf("the record of the failed call: got it updated; want it untouched")
	}
	if got := o.Calls(orgtest.CallUpdate); got != 2 {
		t.Errorf("update calls: got %d; want 2", got)
	}

	invalid := &salesforce.APIError{StatusCode: 400, Code: "INVALID_FIELD", Message: "No such column 'X__c' on sobject of type Lead"}
	o.FailNext(orgtest.CallUpdate, invalid)
	res, err := o.UpdateRecords(ctx, recs)
	if err != nil || len(res) != 201 || res[0].Success || res[0].Errors[0].Code != "INVALID_FIELD" || !res[200].Success {
		t.Errorf("update whose first call is refused: got %v; want its 200 records refused with INVALID_FIELD, the last updated", err)
	}

	o.LoseNextAnswerOf(orgtest.CallDelete)
	if res, err := o.DeleteRecords(ctx, ids[:2]); !errors.Is(err, salesforce.ErrTransient) || res != nil {
		t.Errorf("delete with a lost answer: got %v, %v; want none and salesforce.ErrTransient", res, err)
	}
	res, err = o.DeleteRecords(ctx, ids[:2])
	if err != nil || res[0].Errors[0].Code != salesforce.CodeEntityIsDeleted || res[1].Errors[0].Code != salesforce.CodeEntityIsDeleted {
		t.Errorf("the same delete again: got %+v, %v; want ENTITY_IS_DELETED for each", res, err)
	}

	o.SetBudget(budget.ErrCapped, budget.ErrCapped)
	if _, err := o.DeleteRecords(ctx, ids[2:3]); !errors.Is(err, budget.ErrCapped) {
		t.Errorf("delete over the budget: got %v; want budget.ErrCapped", err)
	}
	o.SetBudget(nil, nil)
	if _, err := o.UpdateRecords(ctx, nil); err != nil || o.Calls(orgtest.CallUpdate) != 4 {
		t.Errorf("an empty update: got %v after %d update calls; want no call (4)", err, o.Calls(orgtest.CallUpdate))
	}
	if got := o.Calls(orgtest.CallDelete); got != 3 {
		t.Errorf("delete calls: got %d; want 3", got)
	}
}

// TestFieldAccessAndOwnersOfWrites: a field made not updateable refuses a
// create and an update that send it; Modify All lets another user's
// record be deleted.
func TestFieldAccessAndOwnersOfWrites(t *testing.T) {
	ctx := context.Background()
	o := orgtest.NewOrg()
	o.SetFieldUpdateable(orgtest.Lead, "hasoptedoutofemail", false)
	rec := salesforce.NewSObject(orgtest.Lead)
	rec["LastName"], rec["Company"], rec["HasOptedOutOfEmail"] = "L", "C", false
	res, err := o.Create(ctx, []salesforce.SObject{rec}, salesforce.WriteOptions{})
	if err != nil || res[0].Success || res[0].Errors[0].Code != "INVALID_FIELD_FOR_INSERT_UPDATE" || res[0].Errors[0].Fields[0] != "HasOptedOutOfEmail" {
		t.Errorf("create sending the field: got %+v, %v; want INVALID_FIELD_FOR_INSERT_UPDATE naming HasOptedOutOfEmail", res, err)
	}
	user := o.Seed(orgtest.User, map[string]any{"LastName": "Other", "IsActive": true})
	theirs := o.Seed(orgtest.Lead, map[string]any{"LastName": "Theirs", "Company": "C", "OwnerId": user})
	res, err = o.DeleteRecords(ctx, []string{theirs, user})
	if err != nil || res[0].Errors[0].Code != "INSUFFICIENT_ACCESS_OR_READONLY" || res[1].Errors[0].Code != "INVALID_TYPE_FOR_OPERATION" {
		t.Errorf("delete of another user's lead and of a user: got %+v, %v; want INSUFFICIENT_ACCESS_OR_READONLY, INVALID_TYPE_FOR_OPERATION", res, err)
	}
	o.SetModifyAll(orgtest.Lead, true)
	res, err = o.DeleteRecords(ctx, []string{theirs[:15]})
	if err != nil || !res[0].Success || res[0].ID != theirs {
		t.Errorf("delete with Modify All, by the 15-character id: got %+v, %v; want %s deleted", res, err, theirs)
	}
}

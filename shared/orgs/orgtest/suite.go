package orgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Subject is an org the conformance suite arranges and checks: the
// in-memory Org, or the orgs package against a Salesforce org.
type Subject interface {
	// Contacts opens the org as contact sync does.
	Contacts(t *testing.T) contactsync.Org
	// Activities opens the org as activity sync does.
	Activities(t *testing.T) activitysync.Org
	// Seed adds a record of object with fields, as a Salesforce user
	// would, and returns its id; it is the org's most recent write.
	Seed(t *testing.T, object string, fields map[string]any) string
	// Convert converts the Lead leadID and returns its new Contact's id.
	Convert(t *testing.T, leadID string) string
	// Update changes a record as a Salesforce user would; it becomes the
	// most recently modified.
	Update(t *testing.T, object, id string, fields map[string]any)
	// RefuseAsDuplicate makes the org's duplicate rule refuse a new Lead
	// with email as a duplicate of the Lead matchID. The suite gives both
	// the same name and phone, which Salesforce's standard rules match.
	RefuseAsDuplicate(t *testing.T, email, matchID string)
	// AddTaskKeyField gives the org's Task the key field orgs.TaskKeyField.
	AddTaskKeyField(t *testing.T)
	// SetFieldUpdateable gives (on) or takes the connected user's Edit of
	// a field, as an admin does with field-level security.
	SetFieldUpdateable(t *testing.T, object, field string, on bool)
	// Record reads a record's fields as the org stores them, and whether
	// it has it (a deleted record it has not).
	Record(t *testing.T, object, id string) (map[string]any, bool)
	// Calls is how many API calls the org has answered so far.
	Calls(t *testing.T) int
}

// Run checks the behaviours both engines rely on of the Subject open
// returns (a fresh, empty org per call): each case of cases, in parallel.
func Run(t *testing.T, open func(t *testing.T) Subject) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, open(t))
		})
	}
}

// cases are the behaviours of an org the engines rely on.
var cases = []struct {
	name  string
	check func(t *testing.T, s Subject)
}{
	{"a lookup is exact and case-insensitive", lookupIsExact},
	{"a Contact wins over a converted Lead over a Lead", lookupRanks},
	{"create answers each record in input order", createInOrder},
	{"a duplicate rule refuses one record and names its match", duplicateRefused},
	{"Tasks are found by subject prefix and description key", tasksBySubject},
	{"Tasks are found by the key field", tasksByKeyField},
	{"a Task on a converted Lead is refused", taskOnConvertedLead},
}

// want is an expected match.
type want struct {
	object event.SalesforceObject
	id     string
	rule   string
}

// sameID compares Salesforce ids by their case-sensitive 15 characters.
func sameID(a, b string) bool { return len(a) >= 15 && len(b) >= 15 && a[:15] == b[:15] }

// checkMatches compares a lookup's answer with the wanted matches.
func checkMatches(t *testing.T, got map[string]ledger.Match, wants map[string]want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("matches: got %d %v; want %d %v", len(got), got, len(wants), wants)
	}
	for k, w := range wants {
		m, ok := got[k]
		if !ok || m.Object != w.object || !sameID(m.ID, w.id) || m.Rule != w.rule {
			t.Errorf("match for %q: got %+v (found %v); want %+v", k, m, ok, w)
		}
	}
}

// lookupIsExact: a lookup finds an email in any case and spacing, keyed by
// its normalized form, and nothing else.
func lookupIsExact(t *testing.T, s Subject) {
	ada := s.Seed(t, Contact, map[string]any{"LastName": "Lovelace", "Email": "Ada.Lovelace@Example.com"})
	near := s.Seed(t, Contact, map[string]any{"LastName": "Near", "Email": "ada.lovelace@example.co"})
	grace := s.Seed(t, Lead, map[string]any{"LastName": "Hopper", "Company": "Navy", "Email": "GRACE@navy.example.mil"})
	tests := []struct {
		name   string
		emails []string
		want   map[string]want
	}{
		{"mixed case and spaces find one contact", []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", " Ada.Lovelace@example.com "},
			map[string]want{"ada.lovelace@example.com": {event.ObjectContact, ada, orgs.RuleContact}}},
		{"a different email is a different record", []string{"ADA.LOVELACE@example.co"},
			map[string]want{"ada.lovelace@example.co": {event.ObjectContact, near, orgs.RuleContact}}},
		{"a lead in another case", []string{"grace@NAVY.example.mil"},
			map[string]want{"grace@navy.example.mil": {event.ObjectLead, grace, orgs.RuleLead}}},
		{"unknown and unsearchable emails are not found", []string{"nobody@example.com", "", "a\x00b@example.com",
			strings.Repeat("a", 80) + "@example.com", "ada.lovelace@example"}, map[string]want{}},
		{"nothing asked", nil, map[string]want{}},
	}
	o := s.Contacts(t)
	for _, tc := range tests {
		got, err := o.FindByEmail(context.Background(), tc.emails)
		if err != nil {
			t.Fatalf("%s: FindByEmail: got error %v; want nil", tc.name, err)
		}
		t.Run(tc.name, func(t *testing.T) { checkMatches(t, got, tc.want) })
	}
}

// lookupRanks: a Contact wins over a converted Lead (its Contact), which
// wins over an unconverted Lead; of one kind, the most recently modified.
func lookupRanks(t *testing.T, s Subject) {
	lead := func(name, email string) map[string]any {
		return map[string]any{"LastName": name, "Company": "C", "Email": email}
	}
	tests := []struct {
		name  string
		setup func(email string) want
	}{
		{"a contact over leads", func(email string) want {
			s.Seed(t, Lead, lead("Early", strings.ToUpper(email)))
			id := s.Seed(t, Contact, map[string]any{"LastName": "C", "Email": email})
			s.Seed(t, Lead, lead("Later", email))
			return want{event.ObjectContact, id, orgs.RuleContact}
		}},
		{"a converted lead over a later lead, as its contact", func(email string) want {
			contact := s.Convert(t, s.Seed(t, Lead, lead("Converted", email)))
			s.Update(t, Contact, contact, map[string]any{"Email": "moved." + email})
			s.Seed(t, Lead, lead("Later", email))
			return want{event.ObjectContact, contact, orgs.RuleConvertedLead}
		}},
		{"a converted lead's contact that kept the email", func(email string) want {
			contact := s.Convert(t, s.Seed(t, Lead, lead("Converted", email)))
			return want{event.ObjectContact, contact, orgs.RuleContact}
		}},
		{"an unconverted lead", func(email string) want {
			return want{event.ObjectLead, s.Seed(t, Lead, lead("Only", email)), orgs.RuleLead}
		}},
		{"the most recently modified contact", func(email string) want {
			first := s.Seed(t, Contact, map[string]any{"LastName": "First", "Email": email})
			s.Seed(t, Contact, map[string]any{"LastName": "Second", "Email": strings.ToUpper(email)})
			s.Update(t, Contact, first, map[string]any{"Title": "Edited last"})
			return want{event.ObjectContact, first, orgs.RuleContact}
		}},
		{"the most recently modified lead", func(email string) want {
			first := s.Seed(t, Lead, lead("First", email))
			s.Seed(t, Lead, lead("Second", email))
			s.Update(t, Lead, first, map[string]any{"Title": "Edited last"})
			return want{event.ObjectLead, first, orgs.RuleLead}
		}},
	}
	for i, tc := range tests {
		email := fmt.Sprintf("case%d@rank.example.com", i)
		w := tc.setup(email)
		got, err := s.Contacts(t).FindByEmail(context.Background(), []string{strings.ToUpper(email)})
		if err != nil {
			t.Fatalf("%s: FindByEmail: got error %v; want nil", tc.name, err)
		}
		t.Run(tc.name, func(t *testing.T) { checkMatches(t, got, map[string]want{email: w}) })
	}
}

// createInOrder: Create answers one result per record, in input order,
// each record failing alone; what it created is then found.
func createInOrder(t *testing.T, s Subject) {
	lead := func(name, email string) salesforce.SObject {
		r := salesforce.NewSObject(Lead)
		r["LastName"], r["Company"], r["Email"] = name, "Co", email
		return r
	}
	contact := salesforce.NewSObject(Contact)
	contact["LastName"], contact["Email"] = "Babbage", "charles@order.example.com"
	noCompany := salesforce.NewSObject(Lead)
	noCompany["LastName"], noCompany["Email"] = "Nocompany", "nocompany@order.example.com"
	records := []salesforce.SObject{lead("First", "first@order.example.com"), contact, noCompany,
		{"LastName": "Untyped", "Email": "untyped@order.example.com"}, lead("Last", "last@order.example.com")}
	o := s.Contacts(t)
	res, err := o.Create(context.Background(), records, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		t.Fatalf("Create: got error %v; want nil", err)
	}
	if len(res) != len(records) {
		t.Fatalf("results: got %d; want %d", len(res), len(records))
	}
	for i, prefix := range map[int]string{0: "00Q", 1: "003", 4: "00Q"} {
		if !res[i].Success || !strings.HasPrefix(res[i].ID, prefix) {
			t.Errorf("result %d: got %+v; want a created record %s...", i, res[i], prefix)
		}
	}
	if e := firstError(res[2]); res[2].Success || e.Code != "REQUIRED_FIELD_MISSING" || !strings.Contains(strings.Join(e.Fields, ","), "Company") {
		t.Errorf("result 2 (no Company): got %+v; want REQUIRED_FIELD_MISSING naming Company", res[2])
	}
	if e := firstError(res[3]); res[3].Success || e.Code != orgs.CodeMissingType {
		t.Errorf("result 3 (no type): got %+v; want %s", res[3], orgs.CodeMissingType)
	}
	got, err := o.FindByEmail(context.Background(), []string{"first@order.example.com", "charles@order.example.com", "nocompany@order.example.com", "last@order.example.com"})
	if err != nil {
		t.Fatalf("FindByEmail: got error %v; want nil", err)
	}
	checkMatches(t, got, map[string]want{"first@order.example.com": {event.ObjectLead, res[0].ID, orgs.RuleLead},
		"charles@order.example.com": {event.ObjectContact, res[1].ID, orgs.RuleContact}, "last@order.example.com": {event.ObjectLead, res[4].ID, orgs.RuleLead}})
}

func firstError(r salesforce.SaveResult) salesforce.ErrorItem {
	if len(r.Errors) == 0 {
		return salesforce.ErrorItem{}
	}
	return r.Errors[0]
}

// duplicateRefused: a record a duplicate rule refuses answers
// DUPLICATES_DETECTED alone, unsaved, while the others of the call are
// saved; an answer that names records names the match; an alert rule lets
// the record be saved when the write options allow it.
func duplicateRefused(t *testing.T, s Subject) {
	twin := func(email string) map[string]any {
		return map[string]any{"FirstName": "Ada", "LastName": "Twin", "Company": "Engines", "Phone": "+1 415 555 0134", "Email": email}
	}
	match := s.Seed(t, Lead, twin("ada.twin@old.example.com"))
	const email = "ada.twin@new.example.com"
	s.RefuseAsDuplicate(t, email, match)
	solo := func(name string) salesforce.SObject {
		r := salesforce.NewSObject(Lead)
		r["LastName"], r["Company"], r["Email"] = name, "Solo Co", strings.ToLower(name)+"@solo.example.com"
		return r
	}
	rec := salesforce.SObject(twin(email))
	rec["attributes"] = salesforce.Attributes{Type: Lead}
	o := s.Contacts(t)
	res, err := o.Create(context.Background(), []salesforce.SObject{solo("Before"), rec, solo("After")}, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil || len(res) != 3 {
		t.Fatalf("Create: got %d results, error %v; want 3, nil", len(res), err)
	}
	if !res[0].Success || !res[2].Success {
		t.Errorf("the other records: got %+v and %+v; want both created", res[0], res[2])
	}
	e := firstError(res[1])
	if res[1].Success || e.Code != salesforce.CodeDuplicatesDetected {
		t.Fatalf("the twin: got %+v; want %s", res[1], salesforce.CodeDuplicatesDetected)
	}
	if _, id, named := e.Duplicates.FirstMatch(); named && !sameID(id, match) {
		t.Errorf("the duplicate answer names %s; want the match %s", id, match)
	}
	if got, err := o.FindByEmail(context.Background(), []string{email}); err != nil || len(got) != 0 {
		t.Errorf("lookup of the refused email: got %v, %v; want nothing found", got, err)
	}
	res, err = o.Create(context.Background(), []salesforce.SObject{rec}, salesforce.WriteOptions{AutoAssign: "FALSE", AllowSaveOnDuplicate: true})
	if err != nil || len(res) != 1 || !res[0].Success {
		t.Errorf("the twin with allowSave: got %+v, %v; want it created over the alert rule", res, err)
	}
}

// task is a Task as activity sync logs it: the subject prefix, the key in
// the description's footer.
func task(whoID, subject, key, status string) salesforce.SObject {
	r := salesforce.NewSObject(Task)
	r["WhoId"], r["Subject"], r["Status"] = whoID, subject, status
	r["Description"] = "Hello there.\n\nsfsync key: " + key
	return r
}

// createTasks creates records through activity sync's org and returns
// their ids.
func createTasks(t *testing.T, o activitysync.Org, records ...salesforce.SObject) []string {
	t.Helper()
	res, err := o.Create(context.Background(), records, salesforce.WriteOptions{})
	if err != nil || len(res) != len(records) {
		t.Fatalf("create tasks: got %d results, error %v; want %d, nil", len(res), err, len(records))
	}
	ids := make([]string, len(res))
	for i, r := range res {
		if !r.Success {
			t.Fatalf("create task %d: got %+v; want it created", i, r)
		}
		ids[i] = r.ID
	}
	return ids
}

// tasksBySubject: without a key field, a Task is found among the asked
// contacts' Tasks whose subject has the prefix, by its description's key.
func tasksBySubject(t *testing.T, s Subject) {
	who := s.Seed(t, Contact, map[string]any{"LastName": "Who", "Email": "who@tasks.example.com"})
	other := s.Seed(t, Contact, map[string]any{"LastName": "Other", "Email": "other@tasks.example.com"})
	o := s.Activities(t)
	tf, err := o.DescribeTask(context.Background())
	if err != nil || !tf.TypeEmail || tf.ClosedStatus == "" || tf.KeyField != "" {
		t.Fatalf("DescribeTask: got %+v, %v; want the Email type, a closed status, no key field", tf, err)
	}
	if desc, _ := task(who, "", "key-1", "")["Description"].(string); activitysync.KeyFromDescription(desc) != "key-1" {
		t.Fatalf("the suite's description footer %q: got key %q; want key-1 (activity sync's footer changed)", desc, activitysync.KeyFromDescription(desc))
	}
	ids := createTasks(t, o,
		task(who, activitysync.SubjectPrefix+"Email sent: Hello", "key-1", tf.ClosedStatus),
		task(who, "Call: not logged by the sync", "key-2", tf.ClosedStatus),
		task(other, activitysync.SubjectPrefix+"Email sent: Hello", "key-3", tf.ClosedStatus))
	got, err := o.FindTasks(context.Background(), "", []string{"key-1", "key-2", "key-3", "key-4"}, []string{who})
	if err != nil {
		t.Fatalf("FindTasks: got error %v; want nil", err)
	}
	if len(got) != 1 || !sameID(got["key-1"], ids[0]) {
		t.Errorf("FindTasks by subject: got %v; want only key-1: %s", got, ids[0])
	}
}

// tasksByKeyField: with the key field, a Task is found by it, exactly.
func tasksByKeyField(t *testing.T, s Subject) {
	s.AddTaskKeyField(t)
	who := s.Seed(t, Contact, map[string]any{"LastName": "Who", "Email": "who@keys.example.com"})
	o := s.Activities(t)
	tf, err := o.DescribeTask(context.Background())
	if err != nil || tf.KeyField != orgs.TaskKeyField {
		t.Fatalf("DescribeTask: got %+v, %v; want key field %s", tf, err, orgs.TaskKeyField)
	}
	a, b := task(who, activitysync.SubjectPrefix+"Email sent: A", "key-a", tf.ClosedStatus), task(who, "Not ours", "key-b", tf.ClosedStatus)
	a[orgs.TaskKeyField], b[orgs.TaskKeyField] = "key-a", "key-b"
	ids := createTasks(t, o, a, b)
	got, err := o.FindTasks(context.Background(), tf.KeyField, []string{"key-a", "key-b", "key-c"}, nil)
	if err != nil {
		t.Fatalf("FindTasks: got error %v; want nil", err)
	}
	if len(got) != 2 || !sameID(got["key-a"], ids[0]) || !sameID(got["key-b"], ids[1]) {
		t.Errorf("FindTasks by %s: got %v; want key-a: %s, key-b: %s", tf.KeyField, got, ids[0], ids[1])
	}
}

// taskOnConvertedLead: a converted Lead is read-only, so a Task whose WhoId
// names it is refused with CANNOT_UPDATE_CONVERTED_LEAD (activity sync
// then follows the Lead to its Contact); the Task on the Contact is saved.
func taskOnConvertedLead(t *testing.T, s Subject) {
	lead := s.Seed(t, Lead, map[string]any{"LastName": "Moved", "Company": "Acme", "Email": "moved@tasks.example.com"})
	contact := s.Convert(t, lead)
	o := s.Activities(t)
	tf, err := o.DescribeTask(context.Background())
	if err != nil {
		t.Fatalf("DescribeTask: got error %v; want nil", err)
	}
	res, err := o.Create(context.Background(), []salesforce.SObject{
		task(lead, activitysync.SubjectPrefix+"Email sent: A", "key-lead", tf.ClosedStatus),
		task(contact, activitysync.SubjectPrefix+"Email sent: A", "key-contact", tf.ClosedStatus)}, salesforce.WriteOptions{})
	if err != nil || len(res) != 2 {
		t.Fatalf("Create: got %v, %v; want two answers", res, err)
	}
	if res[0].Success || len(res[0].Errors) == 0 || res[0].Errors[0].Code != salesforce.CodeCannotUpdateConverted {
		t.Errorf("the Task on the converted Lead: got %+v; want refused with %s", res[0], salesforce.CodeCannotUpdateConverted)
	}
	if !res[1].Success {
		t.Errorf("the Task on its Contact: got %+v; want saved", res[1])
	}
}

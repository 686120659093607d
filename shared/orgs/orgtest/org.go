// Package orgtest is an in-memory Salesforce org for the sync engines' unit
// tests: Org implements contactsync.Org and activitysync.Org, and Orgs both
// engines' Orgs ports, answering as the orgs package does against
// Salesforce (lookup ranking, per-record create results in input order,
// the connection package's errors), with no network and no clock.
//
// A test seeds records, injects failures (a whole call, or the records of
// one email), reads what was created and counts calls. Run is the
// conformance suite that holds this org and the orgs package to the same
// behaviours, so the fake cannot drift from the adapter.
package orgtest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Objects the org keeps.
const (
	Contact = "Contact"
	Lead    = "Lead"
	Task    = "Task"
	User    = "User"
	Account = "Account"
)

// idPrefixes are Salesforce's key prefixes of the objects the org keeps.
var idPrefixes = map[string]string{Contact: "003", Lead: "00Q", Task: "00T", User: "005", Account: "001"}

// Call names a kind of API call of the org, for counting and failing.
type Call string

// The org's calls.
const (
	CallFind     Call = "find"      // FindByEmail
	CallCreate   Call = "create"    // Create
	CallDescribe Call = "describe"  // DescribeTask
	CallTasks    Call = "findtasks" // FindTasks
	CallLook     Call = "look"      // Look
	CallCount    Call = "count"     // ContactCounts
	// CallUpdate is one call of UpdateRecords: one per 200 records sent.
	CallUpdate Call = "update"
	// CallDelete is one call of DeleteRecords: one per 200 ids sent.
	CallDelete Call = "delete"
)

// Record is a record of the org.
type Record struct {
	Object string
	ID     string
	// Fields are the record's fields, without attributes.
	Fields map[string]any
	// ConvertedContactID is the Contact a converted Lead became; "" for
	// any other record.
	ConvertedContactID string

	modified int64 // the org's write counter when it was last written
}

// Email is the record's Email field.
func (r Record) Email() string {
	s, _ := r.Fields["Email"].(string)
	return s
}

// Org is one in-memory Salesforce org. It is safe for concurrent use. Its
// zero value is not usable; use NewOrg.
type Org struct {
	mu      sync.Mutex
	records map[string]*Record // by id
	order   []string           // ids in the order they were added
	writes  int64

	taskFields activitysync.TaskFields
	refused    map[string]salesforce.ErrorItem // by normalized email
	faults     map[Call][]error
	lostOf     map[Call]int // calls whose answer is lost after their work
	high, low  error
	calls      map[Call]int
	closes     int

	deleted   map[string]string            // object by id, of the records deleted
	readOnly  map[string]map[string]string // by object, lower-case name: fields not updateable (SetFieldUpdateable)
	modifyAll map[string]bool              // by object (SetModifyAll)
}

// NewOrg returns an empty org whose Task offers the Email type and the
// standard closed status "Completed", without the key field.
func NewOrg() *Org {
	return &Org{
		records:    map[string]*Record{},
		taskFields: activitysync.TaskFields{TypeEmail: true, ClosedStatus: "Completed"},
		refused:    map[string]salesforce.ErrorItem{},
		faults:     map[Call][]error{},
		lostOf:     map[Call]int{},
		calls:      map[Call]int{},
		deleted:    map[string]string{},
		readOnly:   map[string]map[string]string{},
		modifyAll:  map[string]bool{},
	}
}

var (
	_ contactsync.Org  = (*Org)(nil)
	_ activitysync.Org = (*Org)(nil)
)

// ConnectedUserID is the connected user of every org Orgs connects: an
// active User, the fallback owner of a team that chose none.
const ConnectedUserID = "005000000000000CUS"

// connectedUser adds the connected user, outside the org's write order (so
// the ids of the records a test seeds do not move).
func (o *Org) connectedUser() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.records[ConnectedUserID] = &Record{Object: User, ID: ConnectedUserID,
		Fields: map[string]any{"LastName": "Integration", "Email": "integration@org.example", "IsActive": true}}
}

// Seed adds a record of object (Contact, Lead, Task, User or Account) with fields, as a
// Salesforce user would, and returns its id. Nothing is checked and no
// call is counted.
func (o *Org) Seed(object string, fields map[string]any) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.addLocked(object, fields).ID
}

// addLocked stores a new record and returns it.
func (o *Org) addLocked(object string, fields map[string]any) *Record {
	o.writes++
	prefix, ok := idPrefixes[object]
	if !ok {
		prefix = "001"
	}
	r := &Record{Object: object, ID: fmt.Sprintf("%s%012dAAA", prefix, len(o.order)+1), Fields: copyFields(fields), modified: o.writes}
	o.records[r.ID] = r
	o.order = append(o.order, r.ID)
	return r
}

// Update changes fields of the record id, as a Salesforce user would: it
// becomes the most recently modified. It reports whether the record exists
// (a deleted one does not). Nothing is checked and no call is counted:
// UpdateRecords is the engines' update.
func (o *Org) Update(id string, fields map[string]any) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.records[id]
	if !ok {
		return false
	}
	for k, v := range fields {
		r.Fields[k] = v
	}
	o.writes++
	r.modified = o.writes
	return true
}

// Convert converts the Lead leadID into a new Contact with its name and
// email, as Salesforce's lead conversion does, and returns the Contact's
// id ("" and false when leadID is no unconverted Lead).
func (o *Org) Convert(leadID string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	lead, ok := o.records[leadID]
	if !ok || lead.Object != Lead || lead.ConvertedContactID != "" {
		return "", false
	}
	fields := map[string]any{}
	for _, k := range []string{"FirstName", "LastName", "Email", "Phone", "Title"} {
		if v, ok := lead.Fields[k]; ok {
			fields[k] = v
		}
	}
	c := o.addLocked(Contact, fields)
	lead.ConvertedContactID = c.ID
	lead.Fields["IsConverted"] = true
	o.writes++
	lead.modified = o.writes
	return c.ID, true
}

// Records returns the records of object, in the order they were added
// (seeded or created): a test reads what the engine created with it.
func (o *Org) Records(object string) []Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Record
	for _, id := range o.order {
		if r := o.records[id]; r.Object == object {
			out = append(out, r.copy())
		}
	}
	return out
}

// Record returns the record id, if the org has it.
func (o *Org) Record(id string) (Record, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.records[id]
	if !ok {
		return Record{}, false
	}
	return r.copy(), true
}

func (r *Record) copy() Record {
	c := *r
	c.Fields = copyFields(r.Fields)
	return c
}

func copyFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		if k != "attributes" {
			out[k] = v
		}
	}
	return out
}

// SetTaskFields sets what DescribeTask answers; a KeyField set is the
// field FindTasks may query.
func (o *Org) SetTaskFields(tf activitysync.TaskFields) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taskFields = tf
}

// Calls returns how many calls of kind c the org answered or failed;
// with no kind, all of them.
func (o *Org) Calls(c ...Call) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for k, v := range o.calls {
		if len(c) == 0 || slices.Contains(c, k) {
			n += v
		}
	}
	return n
}

// Closes returns how many times the org was closed.
func (o *Org) Closes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closes
}

// Close implements both engines' Org.Close: it counts.
func (o *Org) Close(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closes++
	return nil
}

// Allow implements activitysync.Org.Allow with the errors SetBudget set.
func (o *Org) Allow(p budget.Priority) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.allowLocked(p)
}

func (o *Org) allowLocked(p budget.Priority) error {
	if p == budget.High {
		return o.high
	}
	return o.low
}

// SetBudget makes Allow answer high for budget.High work and low for any
// other (nil: allowed). Every call of the org asks Allow(budget.High)
// first, as the orgs package does, and fails with high. Use errors
// matching budget.ErrCapped or budget.ErrNearCap.
func (o *Org) SetBudget(high, low error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.high, o.low = high, low
}

// FailNext makes the next len(errs) calls of kind c fail, in turn, with
// errs, doing nothing; Transient gives a passing Salesforce fault. A call
// of UpdateRecords or DeleteRecords failed with a lasting
// *salesforce.APIError answers it for each of its records instead, as orgs
// does.
func (o *Org) FailNext(c Call, errs ...error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults[c] = append(o.faults[c], errs...)
}

// LoseNextAnswer makes the next Create save its records and then fail
// with a transient error, as a create whose answer was lost on its way
// back: the caller must look the emails up before creating again.
func (o *Org) LoseNextAnswer() { o.LoseNextAnswerOf(CallCreate) }

// LoseNextAnswerOf makes the next call of kind c (CallCreate, CallUpdate,
// CallDelete) do its work and then fail with a transient error, as a call
// whose answer was lost on its way back. An update or a delete may simply
// be sent again; a delete sent again answers ENTITY_IS_DELETED for what
// the lost call deleted.
func (o *Org) LoseNextAnswerOf(c Call) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lostOf[c]++
}

// Refuse makes Create refuse every record whose Email is email (in any
// case), unsaved, with e, until Accept: see Duplicate and
// RequiredFieldMissing.
func (o *Org) Refuse(email string, e salesforce.ErrorItem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refused[ledger.NormalizeEmail(email)] = e
}

// Accept ends Refuse of email.
func (o *Org) Accept(email string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.refused, ledger.NormalizeEmail(email))
}

// begin counts a call of kind c and returns the error it fails with: the
// budget's, then an injected one.
func (o *Org) begin(c Call) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls[c]++
	if err := o.allowLocked(budget.High); err != nil {
		return err
	}
	if q := o.faults[c]; len(q) > 0 {
		o.faults[c] = q[1:]
		return q[0]
	}
	return nil
}

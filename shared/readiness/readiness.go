// Package readiness is the domain of the org readiness report: from what was
// read of a team's Salesforce org in a few API calls (a Snapshot), it
// predicts what would make syncs fail, and explains each finding with a fix.
// Every check is a pure function of the snapshot and the team's field
// mappings; where Salesforce offers no API for a check, or the connected user
// may not read what it needs, the check says not_checked and why, rather
// than guessing.
//
// It knows nothing of HTTP, DynamoDB or the REST client: a Source fetches the
// snapshot, a Store keeps the last report per team, and Checker ties them
// together with the cache time.
package readiness

import (
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Status is the outcome of one check.
type Status string

const (
	// OK: nothing found that would make syncs fail.
	OK Status = "ok"
	// Warn: some syncs may fail, or do the wrong thing, until the fix is made.
	Warn Status = "warn"
	// Fail: syncs fail until the fix is made.
	Fail Status = "fail"
	// NotChecked: Salesforce offers no API for the check, or the connected
	// user may not read what it needs; the explanation says which.
	NotChecked Status = "not_checked"
)

// Check ids, in the order the report lists them.
const (
	CheckAPIAccess          = "api_access"
	CheckObjectAccess       = "object_access"
	CheckRecordVisibility   = "record_visibility"
	CheckRequiredFields     = "required_fields"
	CheckMappedFields       = "mapped_fields"
	CheckRestrictedPicklist = "restricted_picklists"
	CheckWritebackFields    = "writeback_fields"
	CheckValidationRules    = "validation_rules"
	CheckDuplicateRules     = "duplicate_rules"
	CheckTaskStatus         = "task_status"
	CheckAPIAllocation      = "api_allocation"
	CheckAPIBudget          = "api_budget"
)

// Item is one check's finding.
type Item struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Status      Status `json:"status"`
	Explanation string `json:"explanation"`
	// Fix says what an admin does about it; empty when there is nothing to do.
	Fix string `json:"fix,omitempty"`
}

// Report is the org readiness report of one team's connection.
type Report struct {
	OrgID        string    `json:"org_id"`
	ConnectionID string    `json:"-"` // the connection it was made on; a reconnect makes it stale
	CheckedAt    time.Time `json:"checked_at"`
	// APICalls is how many Salesforce API calls making the report spent.
	APICalls int    `json:"api_calls"`
	Items    []Item `json:"items"`
}

// Item returns the report's item of a check id.
func (r Report) Item(id string) (Item, bool) {
	for _, it := range r.Items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// Summary is a report in a few numbers: how many checks ended in each status,
// and which need attention (warn or fail).
type Summary struct {
	CheckedAt  time.Time `json:"checked_at"`
	OK         int       `json:"ok"`
	Warn       int       `json:"warn"`
	Fail       int       `json:"fail"`
	NotChecked int       `json:"not_checked"`
	Attention  []string  `json:"attention"`
}

// Summary summarizes the report.
func (r Report) Summary() Summary {
	s := Summary{CheckedAt: r.CheckedAt, Attention: []string{}}
	for _, it := range r.Items {
		switch it.Status {
		case OK:
			s.OK++
		case Warn:
			s.Warn++
			s.Attention = append(s.Attention, it.ID)
		case Fail:
			s.Fail++
			s.Attention = append(s.Attention, it.ID)
		default:
			s.NotChecked++
		}
	}
	return s
}

// Got is one part of what the report reads from the org: the value, or why
// it could not be read (Problem, in words for the admin).
type Got[T any] struct {
	Value   T
	Problem string // empty when Value was read
}

// Read reports whether the part was read.
func (g Got[T]) Read() bool { return g.Problem == "" }

// Have returns a part that was read.
func Have[T any](v T) Got[T] { return Got[T]{Value: v} }

// Missing returns a part that could not be read, and why.
func Missing[T any](why string) Got[T] { return Got[T]{Problem: why} }

// Refusal is why the org answered no API call at all.
type Refusal struct {
	// Code is Salesforce's error code (API_DISABLED_FOR_ORG,
	// API_CURRENTLY_DISABLED, REQUEST_LIMIT_EXCEEDED, ...), or CodeBudget
	// when this service's API budget governor held the calls back.
	Code    string
	Message string
}

// CodeBudget is Refusal.Code when the team's API budget stopped the report
// before it spent a call.
const CodeBudget = "BUDGET"

// Sharing is the org-wide defaults of Lead, Contact and Account, as the
// Organization object gives them (DefaultLeadAccess: None, Read, Edit,
// ReadEditTransfer; DefaultContactAccess: None, Read, Edit,
// ControlledByParent; DefaultAccountAccess: None, Read, Edit).
type Sharing struct {
	Lead, Contact, Account string
}

// Grants is what the connected user's permission sets (its profile's
// included) give it to see records it does not own.
type Grants struct {
	ViewAllData bool
	ViewAll     map[string]bool // by object: View All or Modify All on it
}

// TaskStatus is one value of the org's Task Status picklist (TaskStatus):
// its API name, which a Task's Status holds, and its label.
type TaskStatus = salesforce.TaskStatus

// DuplicateRule is an active duplicate rule (DuplicateRule).
type DuplicateRule struct {
	Name   string // DeveloperName
	Label  string // MasterLabel
	Object string // SobjectType
}

// Usage is the org's API usage Salesforce reported (Sforce-Limit-Info).
type Usage struct {
	Used, Limit int
}

// Snapshot is everything the report reads from the org and about the team,
// fetched by a Source in at most a few API calls.
type Snapshot struct {
	Username string
	// Refused is set when no API call was answered: then nothing else of
	// the org was read.
	Refused *Refusal
	// Createable says, per object (Lead, Contact, Task, Account), whether the
	// connected user may create it (describe global); an object missing from
	// the map is invisible to the user.
	Createable Got[map[string]bool]
	Describes  map[event.SalesforceObject]Got[*salesforce.Describe]
	Sharing    Got[Sharing]
	// Grants is read only when a sharing default is private.
	Grants         Got[Grants]
	TaskStatuses   Got[[]TaskStatus]
	DuplicateRules Got[[]DuplicateRule]
	Usage          Got[Usage]
	// Budget is the API budget governor's figures once the report's calls
	// were made.
	Budget budget.Figures
	// Calls is how many API calls the fetch spent.
	Calls int
}

// Mappings are the team's current field mappings of Lead and Contact.
type Mappings map[event.SalesforceObject]mapping.Mapping

// Assess runs every check on what was fetched, in report order.
func Assess(s Snapshot, m Mappings) []Item {
	return []Item{
		apiAccess(s),
		objectAccess(s),
		recordVisibility(s),
		requiredFields(s, m),
		mappedFields(s, m),
		restrictedPicklists(s, m),
		writebackFields(s),
		validationRules(),
		duplicateRules(s),
		taskStatus(s),
		apiAllocation(s),
		apiBudget(s),
	}
}

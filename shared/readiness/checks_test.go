package readiness

import (
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func text(name string, required bool) salesforce.DescribeField {
	return salesforce.DescribeField{Name: name, Label: name, Type: "string", Length: 80, Createable: true, Nillable: !required}
}

func picklist(name string, restricted bool, values ...string) salesforce.DescribeField {
	f := salesforce.DescribeField{Name: name, Label: name, Type: "picklist", Length: 40, Createable: true, Nillable: true, RestrictedPicklist: restricted}
	for _, v := range values {
		f.PicklistValues = append(f.PicklistValues, struct {
			Value        string `json:"value"`
			Label        string `json:"label"`
			Active       bool   `json:"active"`
			DefaultValue bool   `json:"defaultValue"`
		}{Value: v, Label: v, Active: true})
	}
	return f
}

func email() salesforce.DescribeField {
	return salesforce.DescribeField{Name: "Email", Label: "Email", Type: "email", Length: 80, Createable: true, Nillable: true}
}

func phone() salesforce.DescribeField {
	return salesforce.DescribeField{Name: "Phone", Label: "Phone", Type: "phone", Length: 40, Createable: true, Nillable: true}
}

// writeback are the fields bounce and opt-out write-back sets, editable.
func writeback() []salesforce.DescribeField {
	return []salesforce.DescribeField{
		{Name: "HasOptedOutOfEmail", Label: "Email Opt Out", Type: "boolean", Createable: true, Updateable: true, DefaultedOnCreate: true},
		{Name: "EmailBouncedReason", Label: "Email Bounced Reason", Type: "string", Length: 255, Createable: true, Updateable: true, Nillable: true},
		{Name: "EmailBouncedDate", Label: "Email Bounced Date", Type: "datetime", Createable: true, Updateable: true, Nillable: true},
	}
}

func leadDescribe(extra ...salesforce.DescribeField) *salesforce.Describe {
	return &salesforce.Describe{Name: "Lead", Createable: true, Fields: append(append([]salesforce.DescribeField{
		text("FirstName", false), text("LastName", true), text("Company", true), email(), text("Title", false), phone(),
		{Name: "Website", Type: "url", Length: 255, Createable: true, Nillable: true},
		{Name: "Status", Type: "picklist", Createable: true, DefaultedOnCreate: true, RestrictedPicklist: true},
	}, writeback()...), extra...)}
}

func contactDescribe(extra ...salesforce.DescribeField) *salesforce.Describe {
	return &salesforce.Describe{Name: "Contact", Createable: true, Fields: append(append([]salesforce.DescribeField{
		text("FirstName", false), text("LastName", true), email(), text("Title", false), phone(),
	}, writeback()...), extra...)}
}

// withoutEdit makes a field of the object's describe read-only for the
// user (field-level security), or hides it (hidden).
func withoutEdit(s *Snapshot, o event.SalesforceObject, field string, hidden bool) {
	d := *s.Describes[o].Value
	d.Fields = nil
	for _, f := range s.Describes[o].Value.Fields {
		if f.Name == field {
			if hidden {
				continue
			}
			f.Createable, f.Updateable = false, false
		}
		d.Fields = append(d.Fields, f)
	}
	s.Describes[o] = Have(&d)
}

// healthy is a snapshot of an org where nothing stops a sync.
func healthy() Snapshot {
	return Snapshot{
		Username:   "sync@acme.example",
		Createable: Have(map[string]bool{"Lead": true, "Contact": true, "Task": true, "Account": true}),
		Describes: map[event.SalesforceObject]Got[*salesforce.Describe]{
			event.ObjectLead: Have(leadDescribe()), event.ObjectContact: Have(contactDescribe()),
		},
		Sharing:        Have(Sharing{Lead: "ReadEditTransfer", Contact: "ControlledByParent", Account: "Edit"}),
		TaskStatuses:   Have([]TaskStatus{{APIName: "Not Started", Label: "Not Started", Default: true}, {APIName: "Completed", Label: "Completed", Closed: true}}),
		DuplicateRules: Have([]DuplicateRule{{Name: "Standard_Account_Duplicate_Rule", Label: "Standard Account Duplicate Rule", Object: "Account"}}),
		Usage:          Have(Usage{Used: 100, Limit: 15000}),
		Budget:         budget.Figures{OrgUsed: 100, OrgLimit: 15000, Service: 10, Percent: 50},
		Calls:          1,
	}
}

func defaults() Mappings {
	return Mappings{event.ObjectLead: mapping.Default(event.ObjectLead), event.ObjectContact: mapping.Default(event.ObjectContact)}
}

func str(s string) *string { return &s }

func withRows(o event.SalesforceObject, rows ...mapping.Rule) Mappings {
	m := defaults()
	mp := m[o].Clone()
	mp.Fields = append(mp.Fields, rows...)
	m[o] = mp
	return m
}

func item(t *testing.T, items []Item, id string) Item {
	t.Helper()
	for _, it := range items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("no item %s in %v", id, items)
	return Item{}
}

func TestAHealthyOrgIsReady(t *testing.T) {
	items := Assess(healthy(), defaults())
	want := map[string]Status{CheckValidationRules: NotChecked}
	if len(items) != 12 {
		t.Fatalf("got %d items; want 12", len(items))
	}
	for _, it := range items {
		w, ok := want[it.ID]
		if !ok {
			w = OK
		}
		if it.Status != w {
			t.Errorf("%s: got %s (%s); want %s", it.ID, it.Status, it.Explanation, w)
		}
		if it.Explanation == "" || it.Title == "" {
			t.Errorf("%s: got no title or explanation", it.ID)
		}
		if it.Status != OK && it.Fix == "" {
			t.Errorf("%s: %s without a fix", it.ID, it.Status)
		}
	}
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		snap     func(s *Snapshot)
		mappings Mappings
		want     Status
		mentions []string // in the explanation or the fix
	}{
		// API access
		{"api answered", CheckAPIAccess, nil, nil, OK, []string{"sync@acme.example"}},
		{"edition without API", CheckAPIAccess, func(s *Snapshot) { s.Refused = &Refusal{Code: CodeAPIDisabledForOrg} }, nil, Fail, []string{"Professional"}},
		{"user without API Enabled", CheckAPIAccess, func(s *Snapshot) { s.Refused = &Refusal{Code: CodeAPICurrentlyDisabled} }, nil, Fail, []string{`"API Enabled"`}},
		{"other refusal", CheckAPIAccess, func(s *Snapshot) { s.Refused = &Refusal{Code: "INSUFFICIENT_ACCESS", Message: "no"} }, nil, Fail, []string{"INSUFFICIENT_ACCESS"}},
		{"no call for the budget", CheckAPIAccess, func(s *Snapshot) { s.Refused = &Refusal{Code: CodeBudget} }, nil, NotChecked, []string{CheckAPIBudget}},

		// creating records
		{"all objects createable", CheckObjectAccess, nil, nil, OK, nil},
		{"no create on Task", CheckObjectAccess, func(s *Snapshot) { s.Createable.Value["Task"] = false }, nil, Fail, []string{"Task"}},
		{"Account invisible", CheckObjectAccess, func(s *Snapshot) { delete(s.Createable.Value, "Account") }, nil, Fail, []string{"Account"}},
		{"object list unread", CheckObjectAccess, func(s *Snapshot) { s.Createable = Missing[map[string]bool]("HTTP 500") }, nil, NotChecked, []string{"HTTP 500"}},
		{"objects when refused", CheckObjectAccess, func(s *Snapshot) { s.Refused = &Refusal{Code: CodeAPIDisabledForOrg} }, nil, NotChecked, []string{CheckAPIAccess}},

		// visibility
		{"public defaults", CheckRecordVisibility, nil, nil, OK, []string{"Lead Public Read/Write/Transfer"}},
		{"contact public by its account", CheckRecordVisibility, func(s *Snapshot) {
			s.Sharing.Value = Sharing{Lead: "Read", Contact: "ControlledByParent", Account: "Read"}
		}, nil, OK, nil},
		{"private lead, no grants", CheckRecordVisibility, func(s *Snapshot) {
			s.Sharing.Value.Lead = "None"
			s.Grants = Have(Grants{ViewAll: map[string]bool{}})
		}, nil, Warn, []string{"Lead records are private", `"View All" on Lead`}},
		{"private contact through its account", CheckRecordVisibility, func(s *Snapshot) {
			s.Sharing.Value = Sharing{Lead: "Edit", Contact: "ControlledByParent", Account: "None"}
			s.Grants = Have(Grants{ViewAll: map[string]bool{"Lead": true}})
		}, nil, Warn, []string{"Contact records are private"}},
		{"private with View All", CheckRecordVisibility, func(s *Snapshot) {
			s.Sharing.Value = Sharing{Lead: "None", Contact: "None", Account: "None"}
			s.Grants = Have(Grants{ViewAll: map[string]bool{"Lead": true, "Contact": true}})
		}, nil, OK, []string{"View All on Lead and Contact"}},
		{"private with View All Data", CheckRecordVisibility, func(s *Snapshot) {
			s.Sharing.Value = Sharing{Lead: "None", Contact: "None", Account: "None"}
			s.Grants = Have(Grants{ViewAllData: true})
		}, nil, OK, []string{"View All Data"}},
		{"private, permissions unread", CheckRecordVisibility, func(s *Snapshot) {
			s.Sharing.Value.Lead = "None"
			s.Grants = Missing[Grants]("INVALID_TYPE")
		}, nil, Warn, []string{"INVALID_TYPE", "View All"}},
		{"defaults unread", CheckRecordVisibility, func(s *Snapshot) { s.Sharing = Missing[Sharing]("INSUFFICIENT_ACCESS") }, nil, NotChecked, []string{"INSUFFICIENT_ACCESS", "View All"}},

		// required fields
		{"required fields filled", CheckRequiredFields, nil, nil, OK, nil},
		{"required custom field unmapped", CheckRequiredFields, func(s *Snapshot) {
			s.Describes[event.ObjectLead] = Have(leadDescribe(salesforce.DescribeField{Name: "Score__c", Type: "double", Createable: true, Custom: true}))
		}, nil, Fail, []string{"Lead.Score__c", "REQUIRED_FIELD_MISSING", "field-mappings/lead"}},
		{"required field from a value that may be empty", CheckRequiredFields, func(s *Snapshot) {
			s.Describes[event.ObjectContact] = Have(contactDescribe(text("Region__c", true)))
		}, withRows(event.ObjectContact, mapping.Rule{SalesforceField: "Region__c", Source: mapping.Source{Field: "custom.region"}}), Warn, []string{"Contact.Region__c (row 5)", "field-mappings/contact"}},
		{"required field with on_empty", CheckRequiredFields, func(s *Snapshot) {
			s.Describes[event.ObjectContact] = Have(contactDescribe(text("Region__c", true)))
		}, withRows(event.ObjectContact, mapping.Rule{SalesforceField: "Region__c", Source: mapping.Source{Field: "custom.region"}, OnEmpty: str("EMEA")}), OK, nil},
		{"required field with a default", CheckRequiredFields, func(s *Snapshot) {
			f := text("Region__c", true)
			f.DefaultedOnCreate = true
			s.Describes[event.ObjectContact] = Have(contactDescribe(f))
		}, nil, OK, nil},
		{"describe unread", CheckRequiredFields, func(s *Snapshot) {
			s.Describes[event.ObjectLead] = Missing[*salesforce.Describe]("HTTP 403 INSUFFICIENT_ACCESS")
		}, nil, NotChecked, []string{"Lead (HTTP 403 INSUFFICIENT_ACCESS)"}},

		// fields the mapping writes
		{"mapped fields exist", CheckMappedFields, nil, nil, OK, nil},
		{"mapped field deleted in Salesforce", CheckMappedFields, nil,
			withRows(event.ObjectLead, mapping.Rule{SalesforceField: "Gone__c", Source: mapping.Source{Field: "title"}}), Fail, []string{"Gone__c"}},

		// restricted picklists
		{"no restricted picklist", CheckRestrictedPicklist, nil, nil, OK, []string{"no restricted picklist"}},
		{"restricted picklist with a valid constant", CheckRestrictedPicklist, func(s *Snapshot) {
			s.Describes[event.ObjectLead] = Have(leadDescribe(picklist("Tier__c", true, "A", "B")))
		}, withRows(event.ObjectLead, mapping.Rule{SalesforceField: "Tier__c", Source: mapping.Source{Constant: str("A")}}), OK, []string{"Lead.Tier__c"}},
		{"restricted picklist with a bad constant", CheckRestrictedPicklist, func(s *Snapshot) {
			s.Describes[event.ObjectLead] = Have(leadDescribe(picklist("Tier__c", true, "A", "B")))
		}, withRows(event.ObjectLead, mapping.Rule{SalesforceField: "Tier__c", Source: mapping.Source{Constant: str("Gold")}}), Fail, []string{"Gold", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"}},
		{"restricted picklist fed by a contact value", CheckRestrictedPicklist, func(s *Snapshot) {
			s.Describes[event.ObjectContact] = Have(contactDescribe(picklist("Tier__c", true, "A", "B")))
		}, withRows(event.ObjectContact, mapping.Rule{SalesforceField: "Tier__c", Source: mapping.Source{Field: "custom.tier"}}), Warn, []string{"Contact.Tier__c (from custom.tier)"}},
		{"unrestricted picklist fed by a contact value", CheckRestrictedPicklist, func(s *Snapshot) {
			s.Describes[event.ObjectContact] = Have(contactDescribe(picklist("Tier__c", false, "A", "B")))
		}, withRows(event.ObjectContact, mapping.Rule{SalesforceField: "Tier__c", Source: mapping.Source{Field: "custom.tier"}}), OK, nil},

		// fields bounce and opt-out write-back sets
		{"write-back fields editable", CheckWritebackFields, nil, nil, OK, []string{"EmailBouncedReason, EmailBouncedDate and HasOptedOutOfEmail"}},
		{"opt-out read-only on Contact", CheckWritebackFields, func(s *Snapshot) { withoutEdit(s, event.ObjectContact, "HasOptedOutOfEmail", false) }, nil, Warn,
			[]string{`Contact.HasOptedOutOfEmail ("Email Opt Out", read-only for the user)`, "INVALID_FIELD_FOR_INSERT_UPDATE", "sync@acme.example",
				"open Contact, then Fields & Relationships", "Set Field-Level Security", "Read-Only cleared", "permission set"}},
		{"bounce fields hidden on Lead", CheckWritebackFields, func(s *Snapshot) {
			withoutEdit(s, event.ObjectLead, "EmailBouncedReason", true)
			withoutEdit(s, event.ObjectLead, "EmailBouncedDate", false)
		}, nil, Warn, []string{`Lead.EmailBouncedReason ("Email Bounced Reason", hidden from the user), Lead.EmailBouncedDate`, "open Lead, then"}},
		{"one object lacking, the other unread", CheckWritebackFields, func(s *Snapshot) {
			withoutEdit(s, event.ObjectLead, "HasOptedOutOfEmail", false)
			s.Describes[event.ObjectContact] = Missing[*salesforce.Describe]("HTTP 500")
		}, nil, Warn, []string{"Lead.HasOptedOutOfEmail", "Not checked: Contact (HTTP 500)"}},
		{"write-back describes unread", CheckWritebackFields, func(s *Snapshot) {
			s.Describes[event.ObjectLead] = Missing[*salesforce.Describe]("HTTP 403 INSUFFICIENT_ACCESS")
		}, nil, NotChecked, []string{"Lead (HTTP 403 INSUFFICIENT_ACCESS)", "Email Opt Out"}},
		{"write-back when refused", CheckWritebackFields, func(s *Snapshot) { s.Refused = &Refusal{Code: CodeAPIDisabledForOrg} }, nil, NotChecked, []string{CheckAPIAccess}},

		// validation rules: no API but the Tooling API
		{"validation rules", CheckValidationRules, nil, nil, NotChecked, []string{"Tooling API", "FIELD_CUSTOM_VALIDATION_EXCEPTION"}},

		// duplicate rules
		// an org ships the standard rules: seeing none says nothing of them
		{"no Lead or Contact rule active", CheckDuplicateRules, nil, nil, OK, []string{"No duplicate rule is active on Lead or Contact"}},
		{"no duplicate rule visible", CheckDuplicateRules, func(s *Snapshot) { s.DuplicateRules.Value = []DuplicateRule{} }, nil, NotChecked, []string{"no duplicate rules visible to the connected user", "View Setup and Configuration"}},
		{"standard rules active", CheckDuplicateRules, func(s *Snapshot) {
			s.DuplicateRules.Value = []DuplicateRule{{Name: "Standard_Lead_Duplicate_Rule", Label: "Standard Lead Duplicate Rule", Object: "Lead"},
				{Name: "Standard_Account_Duplicate_Rule", Label: "Standard Account Duplicate Rule", Object: "Account"}}
		}, nil, Warn, []string{"Standard Lead Duplicate Rule (Lead)", "DUPLICATES_DETECTED"}},
		{"only an Account rule", CheckDuplicateRules, func(s *Snapshot) {
			s.DuplicateRules.Value = []DuplicateRule{{Label: "Standard Account Duplicate Rule", Object: "Account"}}
		}, nil, OK, nil},
		{"duplicate rules unread", CheckDuplicateRules, func(s *Snapshot) { s.DuplicateRules = Missing[[]DuplicateRule]("INVALID_TYPE") }, nil, NotChecked, []string{"INVALID_TYPE"}},

		// Task status
		{"standard closed status", CheckTaskStatus, nil, nil, OK, []string{`"Completed"`}},
		// an admin's relabel keeps the API name, which is what a Task's Status holds
		{"relabeled closed status", CheckTaskStatus, func(s *Snapshot) {
			s.TaskStatuses.Value = []TaskStatus{{APIName: "Open", Label: "Open", Default: true}, {APIName: "Completed", Label: "Done", Closed: true}}
		}, nil, OK, []string{`status, "Done" (API name "Completed").`}},
		// the one activity sync picks: Completed first, else the first closed
		{"Completed preferred", CheckTaskStatus, func(s *Snapshot) {
			s.TaskStatuses.Value = []TaskStatus{{APIName: "Open", Label: "Open", Default: true}, {APIName: "Deferred", Label: "Deferred", Closed: true}, {APIName: "Completed", Label: "Completed", Closed: true}}
		}, nil, OK, []string{`status, "Completed".`}},
		{"renamed closed status", CheckTaskStatus, func(s *Snapshot) {
			s.TaskStatuses.Value = []TaskStatus{{APIName: "Open", Label: "Open", Default: true}, {APIName: "Logged_Email", Label: "Logged", Closed: true}}
		}, nil, OK, []string{`status, "Logged" (API name "Logged_Email").`, `API name is "Completed"`}},
		{"no closed status", CheckTaskStatus, func(s *Snapshot) {
			s.TaskStatuses.Value = []TaskStatus{{APIName: "Open", Label: "Open", Default: true}}
		}, nil, Fail, []string{"Closed", activitysync.CodeNoClosedTaskStatus}},
		{"task statuses unread", CheckTaskStatus, func(s *Snapshot) { s.TaskStatuses = Missing[[]TaskStatus]("HTTP 400") }, nil, NotChecked, []string{"HTTP 400"}},

		// the org's allocation
		{"allocation roomy", CheckAPIAllocation, nil, nil, OK, []string{"100 of its 15000"}},
		{"allocation nearly spent", CheckAPIAllocation, func(s *Snapshot) { s.Usage.Value.Used = 13500 }, nil, Warn, []string{"13500 of its 15000"}},
		{"allocation spent", CheckAPIAllocation, func(s *Snapshot) { s.Usage.Value.Used = 15000 }, nil, Fail, nil},
		{"allocation refused", CheckAPIAllocation, func(s *Snapshot) { s.Refused = &Refusal{Code: salesforce.CodeRequestLimitExceeded} }, nil, Fail, []string{"REQUEST_LIMIT_EXCEEDED"}},
		{"allocation unreported", CheckAPIAllocation, func(s *Snapshot) { s.Usage = Missing[Usage]("Salesforce sent no Sforce-Limit-Info") }, nil, NotChecked, []string{"Sforce-Limit-Info"}},

		// the team's budget
		{"budget roomy", CheckAPIBudget, nil, nil, OK, []string{"7500 calls a day", "made 10 today"}},
		{"budget near its cap", CheckAPIBudget, func(s *Snapshot) { s.Budget.Service = 6000 }, nil, Warn, []string{"opens and clicks wait", "api_budget_percent"}},
		{"budget spent", CheckAPIBudget, func(s *Snapshot) { s.Budget.Service = 7500 }, nil, Fail, []string{"budget is spent", "api_budget_percent"}},
		{"org spent under the budget", CheckAPIBudget, func(s *Snapshot) { s.Budget.OrgUsed = 15000 }, nil, Fail, []string{CheckAPIAllocation}},
		{"allocation unknown", CheckAPIBudget, func(s *Snapshot) { s.Budget.OrgLimit = 0 }, nil, NotChecked, []string{"50%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy()
			if tt.snap != nil {
				tt.snap(&s)
			}
			m := tt.mappings
			if m == nil {
				m = defaults()
			}
			it := item(t, Assess(s, m), tt.id)
			if it.Status != tt.want {
				t.Errorf("got %s (%s); want %s", it.Status, it.Explanation, tt.want)
			}
			for _, w := range tt.mentions {
				if !strings.Contains(it.Explanation+" "+it.Fix, w) {
					t.Errorf("got %q / fix %q; want it to mention %q", it.Explanation, it.Fix, w)
				}
			}
			if it.Status != OK && it.Fix == "" {
				t.Errorf("got %s without a fix", it.Status)
			}
		})
	}
}

func TestARefusedOrgChecksNothingElse(t *testing.T) {
	s := Snapshot{Username: "u", Refused: &Refusal{Code: CodeAPIDisabledForOrg}}
	for _, it := range Assess(s, defaults()) {
		switch it.ID {
		case CheckAPIAccess:
			if it.Status != Fail {
				t.Errorf("%s: got %s; want fail", it.ID, it.Status)
			}
		case CheckAPIBudget:
		default:
			if it.Status != NotChecked {
				t.Errorf("%s: got %s (%s); want not_checked", it.ID, it.Status, it.Explanation)
			}
		}
	}
}

func TestSummaryCountsAndNamesWhatNeedsAttention(t *testing.T) {
	r := Report{Items: []Item{{ID: "a", Status: OK}, {ID: "b", Status: Warn}, {ID: "c", Status: Fail}, {ID: "d", Status: NotChecked}, {ID: "e", Status: OK}}}
	got := r.Summary()
	if got.OK != 2 || got.Warn != 1 || got.Fail != 1 || got.NotChecked != 1 || strings.Join(got.Attention, ",") != "b,c" {
		t.Errorf("got %+v; want 2 ok, 1 warn, 1 fail, 1 not_checked, attention b,c", got)
	}
}

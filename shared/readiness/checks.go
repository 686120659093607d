package readiness

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Salesforce error codes the access check explains.
const (
	CodeAPIDisabledForOrg    = "API_DISABLED_FOR_ORG"   // the org's edition has no API
	CodeAPICurrentlyDisabled = "API_CURRENTLY_DISABLED" // the user lacks "API Enabled"
)

// objectsCreated are the objects the sync creates records of.
var objectsCreated = []string{"Lead", "Contact", "Task", "Account"}

// mappedObjects are the objects a team maps fields of, in report order.
var mappedObjects = []event.SalesforceObject{event.ObjectLead, event.ObjectContact}

// refused is the item of a check that could not run because the org
// answered no call; ok is false when the org did answer.
func refused(s Snapshot, id, title string) (Item, bool) {
	if s.Refused == nil {
		return Item{}, false
	}
	why := fmt.Sprintf("Salesforce answered none of the report's calls (%s)", s.Refused.Code)
	fix := "See " + CheckAPIAccess + "."
	switch s.Refused.Code {
	case CodeBudget:
		why = "no call was made: the team's API budget for today is spent"
		fix = "See " + CheckAPIBudget + "."
	case salesforce.CodeRequestLimitExceeded:
		why = "the org is out of API calls"
		fix = "See " + CheckAPIAllocation + "."
	}
	return Item{ID: id, Title: title, Status: NotChecked, Explanation: "Not checked: " + why + ".", Fix: fix}, true
}

func apiAccess(s Snapshot) Item {
	it := Item{ID: CheckAPIAccess, Title: "API access"}
	if s.Refused == nil {
		it.Status, it.Explanation = OK, fmt.Sprintf("Salesforce answers the REST API as the connected user (%s).", s.Username)
		return it
	}
	switch s.Refused.Code {
	case CodeBudget:
		it.Status, it.Explanation, it.Fix = NotChecked, "Not checked: no call was made, because the team's API budget for today is spent.", "See "+CheckAPIBudget+"."
	case salesforce.CodeRequestLimitExceeded:
		it.Status, it.Explanation, it.Fix = NotChecked, "Not checked: the org is out of API calls (REQUEST_LIMIT_EXCEEDED), so no call was answered.", "See "+CheckAPIAllocation+"."
	case CodeAPIDisabledForOrg:
		it.Status = Fail
		it.Explanation = "Salesforce refuses the API for this org (API_DISABLED_FOR_ORG): its edition has no API access, so nothing can sync."
		it.Fix = "The API comes with Enterprise, Unlimited, Performance and Developer editions; Professional Edition needs Salesforce's API add-on."
	case CodeAPICurrentlyDisabled:
		it.Status = Fail
		it.Explanation = fmt.Sprintf("Salesforce refuses the API to the connected user %s (API_CURRENTLY_DISABLED), so nothing can sync.", s.Username)
		it.Fix = `Give the connected user the "API Enabled" permission (its profile or a permission set), or reconnect as a user who has it.`
	default:
		it.Status = Fail
		it.Explanation = fmt.Sprintf("Salesforce refused the report's calls as %s: %s %s.", s.Username, s.Refused.Code, s.Refused.Message)
		it.Fix = `Check that the connected user is active, has "API Enabled" and may read Leads and Contacts; reconnect as such a user if needed.`
	}
	return it
}

func objectAccess(s Snapshot) Item {
	const title = "Create Leads, Contacts, Tasks and Accounts"
	if it, ok := refused(s, CheckObjectAccess, title); ok {
		return it
	}
	it := Item{ID: CheckObjectAccess, Title: title}
	if !s.Createable.Read() {
		it.Status, it.Explanation = NotChecked, "Not checked: the org's object list could not be read ("+s.Createable.Problem+")."
		it.Fix = "Check that the connected user has Read and Create on Lead, Contact, Task and Account."
		return it
	}
	var missing []string
	for _, o := range objectsCreated {
		if !s.Createable.Value[o] {
			missing = append(missing, o)
		}
	}
	if len(missing) == 0 {
		it.Status, it.Explanation = OK, "The connected user may create Leads, Contacts, Tasks and Accounts."
		return it
	}
	it.Status = Fail
	it.Explanation = fmt.Sprintf("The connected user may not create %s: those records fail with an insufficient access error.", words(missing))
	it.Fix = "Give the connected user Read and Create on " + words(missing) + " (its profile or a permission set)."
	return it
}

// Public reports whether the org-wide defaults let every user see every
// record of the object (Lead or Contact).
func (sh Sharing) Public(object string) bool {
	switch object {
	case "Lead":
		return sh.Lead == "Read" || sh.Lead == "Edit" || sh.Lead == "ReadEditTransfer"
	case "Contact":
		if sh.Contact == "ControlledByParent" {
			return sh.Account == "Read" || sh.Account == "Edit"
		}
		return sh.Contact == "Read" || sh.Contact == "Edit"
	}
	return false
}

func recordVisibility(s Snapshot) Item {
	const title = "Visibility of all Leads and Contacts"
	if it, ok := refused(s, CheckRecordVisibility, title); ok {
		return it
	}
	it := Item{ID: CheckRecordVisibility, Title: title}
	grant := `Give the connected user "View All" on Lead and Contact (a permission set: Object Settings, Leads and Contacts, View All), or "View All Data"; or make the org-wide defaults of Lead and Contact Public Read Only or Public Read/Write (Setup, Sharing Settings).`
	if !s.Sharing.Read() {
		it.Status = NotChecked
		it.Explanation = "Not checked: the org-wide sharing defaults could not be read (" + s.Sharing.Problem + ")."
		it.Fix = "Make sure the connected user sees every Lead and Contact: " + grant
		return it
	}
	var private []string
	for _, o := range []string{"Lead", "Contact"} {
		if !s.Sharing.Value.Public(o) {
			private = append(private, o)
		}
	}
	defaults := fmt.Sprintf("Lead %s, Contact %s, Account %s", access(s.Sharing.Value.Lead), access(s.Sharing.Value.Contact), access(s.Sharing.Value.Account))
	if len(private) == 0 {
		it.Status = OK
		it.Explanation = "Leads and Contacts are public by the org-wide defaults (" + defaults + "), so the lookup that finds existing people sees them all. Restriction rules, if the org uses them, are not checked."
		return it
	}
	if !s.Grants.Read() {
		it.Status = Warn
		it.Explanation = fmt.Sprintf("%s records are private by the org-wide defaults (%s), and the connected user's permissions could not be read (%s). Unless it has View All, records owned by others are invisible to the lookup, and the sync creates duplicates of them.",
			words(private), defaults, s.Grants.Problem)
		it.Fix = grant
		return it
	}
	if s.Grants.Value.ViewAllData {
		it.Status = OK
		it.Explanation = "The org-wide defaults are private (" + defaults + "), and the connected user has View All Data, so it sees every Lead and Contact."
		return it
	}
	var hidden []string
	for _, o := range private {
		if !s.Grants.Value.ViewAll[o] {
			hidden = append(hidden, o)
		}
	}
	if len(hidden) == 0 {
		it.Status = OK
		it.Explanation = "The org-wide defaults are private (" + defaults + "), and the connected user has View All on " + words(private) + ", so it sees every Lead and Contact."
		return it
	}
	it.Status = Warn
	it.Explanation = fmt.Sprintf("%s records are private by the org-wide defaults (%s), and the connected user has neither View All on them nor View All Data. Records owned by others and not shared with it are invisible to the lookup that finds existing people, so the sync creates duplicates of them (or a duplicate rule refuses the create).",
		words(hidden), defaults)
	it.Fix = grant
	return it
}

// preflights runs the mapping preflight of each object whose describe was
// read; missing names the objects whose describe was not, with why.
func preflights(s Snapshot, m Mappings) (ps map[event.SalesforceObject]mapping.Problems, missing []string) {
	ps = map[event.SalesforceObject]mapping.Problems{}
	for _, o := range mappedObjects {
		d := s.Describes[o]
		if !d.Read() || d.Value == nil {
			why := d.Problem
			if why == "" {
				why = "not fetched"
			}
			missing = append(missing, fmt.Sprintf("%s (%s)", o, why))
			continue
		}
		mp, ok := m[o]
		if !ok {
			mp = mapping.Default(o)
		}
		ps[o] = mapping.Preflight(o, mp, d.Value)
	}
	return ps, missing
}

// notRead completes an explanation with the describes that were not read.
func notRead(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return " Not checked: " + strings.Join(missing, ", ") + ": the describe could not be read."
}

func requiredFields(s Snapshot, m Mappings) Item {
	const title = "Required fields the mapping leaves empty"
	if it, ok := refused(s, CheckRequiredFields, title); ok {
		return it
	}
	it := Item{ID: CheckRequiredFields, Title: title}
	ps, missing := preflights(s, m)
	var always, sometimes, paths []string
	for _, o := range mappedObjects {
		for _, p := range ps[o] {
			switch p.Code {
			case "required_unmapped":
				always = append(always, string(o)+"."+p.SalesforceField)
			case "required_may_be_empty":
				sometimes = append(sometimes, fmt.Sprintf("%s.%s (row %d)", o, p.SalesforceField, *p.Row))
			default:
				continue
			}
			if path := "PUT /v1/salesforce/field-mappings/" + mapping.PathWord(o); !slices.Contains(paths, path) {
				paths = append(paths, path)
			}
		}
	}
	fix := "Map each field with a constant or an on_empty value (" + strings.Join(paths, ", ") + "), or give it a default value or make it optional in Salesforce."
	switch {
	case len(always) > 0:
		it.Status = Fail
		it.Explanation = "Required on create, with no default, and not in the mapping: " + strings.Join(always, ", ") + ". Every create of that object fails with REQUIRED_FIELD_MISSING."
		if len(sometimes) > 0 {
			it.Explanation += " Also mapped from a value that may be empty: " + strings.Join(sometimes, ", ") + "."
		}
		it.Explanation += notRead(missing)
		it.Fix = fix
	case len(sometimes) > 0:
		it.Status = Warn
		it.Explanation = "Required on create, with no default, and mapped from a contact value that may be empty, with no on_empty: " + strings.Join(sometimes, ", ") + ". Contacts without the value fail with REQUIRED_FIELD_MISSING." + notRead(missing)
		it.Fix = fix
	case len(missing) > 0:
		it.Status = NotChecked
		it.Explanation = "Nothing found in the objects read." + notRead(missing)
		it.Fix = "Check in Setup, Object Manager, that every required field of Lead and Contact has a default or a row in the mapping."
	default:
		it.Status = OK
		it.Explanation = "Every field Lead and Contact require on create has a default, or gets a value from the mapping or from the sync (LastName, and Company on Lead)."
	}
	return it
}

// structural are the preflight problems of fields the mapping writes that
// the org no longer takes as mapped (reported by mappedFields).
var structural = []string{"unknown_field", "not_createable", "unsupported_type", "type_mismatch", "too_long", "reserved_field"}

func mappedFields(s Snapshot, m Mappings) Item {
	const title = "Fields the mapping writes"
	if it, ok := refused(s, CheckMappedFields, title); ok {
		return it
	}
	it := Item{ID: CheckMappedFields, Title: title}
	ps, missing := preflights(s, m)
	var found []string
	for _, o := range mappedObjects {
		for _, p := range ps[o] {
			if slices.Contains(structural, p.Code) {
				found = append(found, fmt.Sprintf("%s %s", o, p.Message))
			}
		}
	}
	switch {
	case len(found) > 0:
		it.Status = Fail
		it.Explanation = "The org no longer takes what the mapping writes: " + strings.Join(found, "; ") + ". Each create carrying such a value fails." + notRead(missing)
		it.Fix = "Correct the mapping (PUT /v1/salesforce/field-mappings/{object} lists every problem), or restore the field in Salesforce."
	case len(missing) > 0:
		it.Status = NotChecked
		it.Explanation = "Nothing found in the objects read." + notRead(missing)
		it.Fix = "Save the mapping again once the org answers: the save checks every field against the org."
	default:
		it.Status = OK
		it.Explanation = "Every field the Lead and Contact mappings write exists, is createable by the connected user and fits its source."
	}
	return it
}

func restrictedPicklists(s Snapshot, m Mappings) Item {
	const title = "Restricted picklists the mapping writes"
	if it, ok := refused(s, CheckRestrictedPicklist, title); ok {
		return it
	}
	it := Item{ID: CheckRestrictedPicklist, Title: title}
	ps, missing := preflights(s, m)
	var bad, fed, fine []string
	for _, o := range mappedObjects {
		for _, p := range ps[o] {
			if p.Code == "not_in_picklist" {
				bad = append(bad, fmt.Sprintf("%s %s", o, p.Message))
			}
		}
		d := s.Describes[o].Value
		if d == nil {
			continue
		}
		mp, ok := m[o]
		if !ok {
			mp = mapping.Default(o)
		}
		for _, r := range mp.Fields {
			f, ok := d.Field(r.SalesforceField)
			if !ok || !f.RestrictedPicklist || (f.Type != "picklist" && f.Type != "multipicklist") {
				continue
			}
			name := string(o) + "." + f.Name
			if r.Source.Constant != nil {
				fine = append(fine, name)
				continue
			}
			fed = append(fed, fmt.Sprintf("%s (from %s)", name, sourceWords(r.Source)))
		}
	}
	switch {
	case len(bad) > 0:
		it.Status = Fail
		it.Explanation = "A constant is not a value of its restricted picklist: " + strings.Join(bad, "; ") + ". Every create fails with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST." + notRead(missing)
		it.Fix = "Change the mapping's constant to one of the picklist's values, or add the value to the picklist in Salesforce."
	case len(fed) > 0:
		it.Status = Warn
		it.Explanation = "Restricted picklists fed by contact values: " + strings.Join(fed, ", ") + ". A contact whose value is not one of the picklist's fails with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST." + notRead(missing)
		it.Fix = "Make sure the sequencer's values match the picklist's values, feed the field a constant, or unrestrict the picklist in Salesforce."
	case len(missing) > 0:
		it.Status = NotChecked
		it.Explanation = "Nothing found in the objects read." + notRead(missing)
		it.Fix = "Save the mapping again once the org answers: the save checks constants against restricted picklists."
	default:
		it.Status = OK
		it.Explanation = "The mapping writes no restricted picklist from contact values."
		if len(fine) > 0 {
			it.Explanation = "The mapping writes restricted picklists only with valid constants (" + strings.Join(fine, ", ") + ")."
		}
	}
	return it
}

// writebackFieldNames are the fields bounce and opt-out write-back sets on
// a Lead or a Contact, with their standard labels (Setup shows labels).
var writebackFieldNames = []struct{ name, label string }{
	{"EmailBouncedReason", "Email Bounced Reason"},
	{"EmailBouncedDate", "Email Bounced Date"},
	{"HasOptedOutOfEmail", "Email Opt Out"},
}

// writebackFields checks, from the Lead and Contact describes the report
// already reads (no call of its own), that the connected user may edit
// what bounce and opt-out write-back sets. A describe answers for the user
// who asks: a field its field-level security makes read-only says
// updateable false, one it hides is left out. Only the write-back needs
// them, so a lack is a warning: contacts and emails still sync.
func writebackFields(s Snapshot) Item {
	const title = "Fields bounce and opt-out write-back sets"
	if it, ok := refused(s, CheckWritebackFields, title); ok {
		return it
	}
	it := Item{ID: CheckWritebackFields, Title: title}
	var missing, lacking, objects []string
	for _, o := range mappedObjects {
		d := s.Describes[o]
		if !d.Read() || d.Value == nil {
			why := d.Problem
			if why == "" {
				why = "not fetched"
			}
			missing = append(missing, fmt.Sprintf("%s (%s)", o, why))
			continue
		}
		var bad []string
		for _, w := range writebackFieldNames {
			f, ok := d.Value.Field(w.name)
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("%s.%s (%q, hidden from the user)", o, w.name, w.label))
			case !f.Updateable:
				bad = append(bad, fmt.Sprintf("%s.%s (%q, read-only for the user)", o, w.name, w.label))
			}
		}
		if len(bad) > 0 {
			lacking = append(lacking, bad...)
			objects = append(objects, string(o))
		}
	}
	fix := func(objs []string) string {
		return fmt.Sprintf("In Setup, Object Manager, open %s, then Fields & Relationships; for each of Email Bounced Reason, Email Bounced Date and Email Opt Out, "+
			"click Set Field-Level Security and tick Visible, with Read-Only cleared, for the connected user's profile. Or give the connected user a permission set "+
			"with Read and Edit on these fields (Setup, Permission Sets, Object Settings, %s, Field Permissions). Then run the report again.", words(objs), words(objs))
	}
	switch {
	case len(lacking) > 0:
		it.Status = Warn
		it.Explanation = fmt.Sprintf("The connected user %s may not edit %s. Salesforce refuses a bounce or an opt-out written back to such a record (INVALID_FIELD_FOR_INSERT_UPDATE; INVALID_FIELD for a field hidden from the user), so the record keeps no trace of it. Creating Leads, Contacts and Tasks is not affected.",
			orNone(s.Username), strings.Join(lacking, ", ")) + notRead(missing)
		it.Fix = fix(objects)
	case len(missing) > 0:
		it.Status = NotChecked
		it.Explanation = "Nothing found in the objects read." + notRead(missing)
		it.Fix = fix([]string{"Lead", "Contact"})
	default:
		it.Status = OK
		it.Explanation = "The connected user may edit EmailBouncedReason, EmailBouncedDate and HasOptedOutOfEmail of Lead and Contact, so bounces and opt-outs can be written back to the records."
	}
	return it
}

func sourceWords(s mapping.Source) string {
	if s.Field != "" {
		return s.Field
	}
	return "a template"
}

func validationRules() Item {
	return Item{ID: CheckValidationRules, Title: "Validation rules", Status: NotChecked,
		Explanation: "Not checked: Salesforce lists validation rules only through its Tooling API (the ValidationRule object), which this service does not call. " +
			"An active rule that refuses the records the sync creates makes those contacts fail with FIELD_CUSTOM_VALIDATION_EXCEPTION and the rule's message.",
		Fix: "Review the active validation rules of Lead, Contact and Task (Setup, Object Manager, Validation Rules); contacts they refuse are listed with the rule's message in GET /v1/salesforce/errors."}
}

func duplicateRules(s Snapshot) Item {
	const title = "Duplicate rules"
	if it, ok := refused(s, CheckDuplicateRules, title); ok {
		return it
	}
	it := Item{ID: CheckDuplicateRules, Title: title}
	if !s.DuplicateRules.Read() {
		it.Status = NotChecked
		it.Explanation = "Not checked: the org's duplicate rules could not be read (" + s.DuplicateRules.Problem + ")."
		it.Fix = "Review the active duplicate rules of Lead and Contact (Setup, Duplicate Management, Duplicate Rules)."
		return it
	}
	// Every org since Spring '16 ships the standard rules (active or not): a
	// user who sees none may lack "View Setup and Configuration".
	if len(s.DuplicateRules.Value) == 0 {
		it.Status = NotChecked
		it.Explanation = "Not checked: no duplicate rules visible to the connected user; they may need View Setup and Configuration."
		it.Fix = "Grant the connected user \"View Setup and Configuration\", or review the active duplicate rules of Lead and Contact (Setup, Duplicate Management, Duplicate Rules)."
		return it
	}
	var active []string
	for _, r := range s.DuplicateRules.Value {
		if r.Object == "Lead" || r.Object == "Contact" {
			active = append(active, fmt.Sprintf("%s (%s)", orNone(r.Label), r.Object))
		}
	}
	if len(active) == 0 {
		it.Status, it.Explanation = OK, "No duplicate rule is active on Lead or Contact."
		return it
	}
	it.Status = Warn
	it.Explanation = "Active duplicate rules: " + strings.Join(active, ", ") + ". When one matches a new Lead or Contact on something other than its email (for example name and phone), " +
		"Salesforce refuses the create with DUPLICATES_DETECTED and the contact is reported failed with the matched records; the sync never links a contact to a person with another email. " +
		"Whether a rule blocks or only alerts is not readable through the API."
	it.Fix = "Expected in most orgs: such contacts appear in GET /v1/salesforce/errors. To let them be created, set the rule's action on create to Allow (Setup, Duplicate Management, Duplicate Rules) and allow saving duplicates in the sync, or deactivate the rule."
	return it
}

// activityNoClosedStatus is activity sync's error code of an email not
// logged for want of a closed Task status (activitysync.CodeNoClosedTaskStatus).
const activityNoClosedStatus = "NO_CLOSED_TASK_STATUS"

// statusName names a Task status for an admin: its label, and its API name
// (which a Task's Status holds) when it differs.
func statusName(ts TaskStatus) string {
	if ts.Label == "" || ts.Label == ts.APIName {
		return fmt.Sprintf("%q", ts.APIName)
	}
	return fmt.Sprintf("%q (API name %q)", ts.Label, ts.APIName)
}

func taskStatus(s Snapshot) Item {
	const title = "Closed Task status"
	if it, ok := refused(s, CheckTaskStatus, title); ok {
		return it
	}
	it := Item{ID: CheckTaskStatus, Title: title}
	if !s.TaskStatuses.Read() {
		it.Status = NotChecked
		it.Explanation = "Not checked: the org's Task statuses could not be read (" + s.TaskStatuses.Problem + ")."
		it.Fix = "Check that the Task Status picklist has a closed value (Setup, Object Manager, Task, Fields, Status)."
		return it
	}
	// the same choice activity sync makes (without Task's describe, which
	// the report does not read)
	chosen, ok := salesforce.ClosedTaskStatus(s.TaskStatuses.Value, nil)
	if !ok {
		it.Status = Fail
		it.Explanation = "The org has no closed Task status, so logged emails cannot be saved as completed Tasks: they are reported failed (" + activityNoClosedStatus + ")."
		it.Fix = "Mark a value of the Task Status picklist as Closed (Setup, Object Manager, Task, Fields, Status)."
		return it
	}
	var closed []string
	for _, ts := range s.TaskStatuses.Value {
		if ts.Closed {
			closed = append(closed, statusName(ts))
		}
	}
	it.Status = OK
	it.Explanation = fmt.Sprintf("Closed Task statuses: %s. Logged emails are saved as closed Tasks with the org's own status, %s.", strings.Join(closed, ", "), statusName(chosen))
	if chosen.APIName != salesforce.PreferredClosedStatus {
		it.Explanation += fmt.Sprintf(" The org has no closed status whose API name is %q; the sync does not assume one.", salesforce.PreferredClosedStatus)
	}
	return it
}

// allocationWarn is the share of the org's daily allocation past which the
// allocation check warns.
const allocationWarn = 0.9

func apiAllocation(s Snapshot) Item {
	it := Item{ID: CheckAPIAllocation, Title: "The org's daily API allocation"}
	if s.Refused != nil && s.Refused.Code == salesforce.CodeRequestLimitExceeded {
		it.Status = Fail
		it.Explanation = "The org has spent its daily API allocation (REQUEST_LIMIT_EXCEEDED): every integration of the org, this one included, waits until calls free up over the rolling 24 hours."
		it.Fix = "Find what spends the org's calls (Setup, System Overview, API Requests, Last 24 Hours), or buy more from Salesforce."
		return it
	}
	if r, ok := refused(s, CheckAPIAllocation, it.Title); ok {
		return r
	}
	if !s.Usage.Read() {
		it.Status, it.Explanation = NotChecked, "Not checked: "+s.Usage.Problem+"."
		it.Fix = "Check the org's API usage in Setup, System Overview."
		return it
	}
	u := s.Usage.Value
	figures := fmt.Sprintf("The org used %d of its %d daily API calls (rolling 24 hours).", u.Used, u.Limit)
	switch {
	case u.Used >= u.Limit:
		it.Status, it.Explanation = Fail, figures+" It is out of calls: syncs wait until calls free up."
		it.Fix = "Find what spends the org's calls (Setup, System Overview, API Requests, Last 24 Hours), or buy more from Salesforce."
	case float64(u.Used) >= allocationWarn*float64(u.Limit):
		it.Status, it.Explanation = Warn, figures+" It is close to running out; then every integration of the org waits."
		it.Fix = "Find what spends the org's calls (Setup, System Overview, API Requests, Last 24 Hours), or buy more from Salesforce."
	default:
		it.Status, it.Explanation = OK, figures
	}
	return it
}

func apiBudget(s Snapshot) Item {
	it := Item{ID: CheckAPIBudget, Title: "The team's API budget"}
	f := s.Budget
	c := f.Cap()
	if c < 0 {
		it.Status = NotChecked
		it.Explanation = fmt.Sprintf("Not checked: Salesforce has not reported the org's daily allocation yet; the team's budget is %d%% of it.", percent(f))
		it.Fix = "It is known after the first answered call; run the report again."
		return it
	}
	figures := fmt.Sprintf("The team may spend %d calls a day (api_budget_percent %d%% of the org's %d); this service made %d today (UTC).", c, percent(f), f.OrgLimit, f.Service)
	raise := "Raise api_budget_percent (PUT /v1/salesforce/settings), or wait for the next day (UTC)."
	switch err := budget.Allow(f, budget.High); {
	case errors.Is(err, budget.ErrCapped) && f.Service >= c:
		it.Status, it.Explanation, it.Fix = Fail, figures+" The budget is spent: the team's syncs wait, held, until it frees up.", raise
		return it
	case errors.Is(err, budget.ErrCapped):
		it.Status, it.Explanation = Fail, figures+" The org itself is out of calls, so the team's syncs wait."
		it.Fix = "See " + CheckAPIAllocation + "."
		return it
	}
	if errors.Is(budget.Allow(f, budget.Low), budget.ErrNearCap) {
		it.Status, it.Explanation, it.Fix = Warn, figures+" It is near the budget: email opens and clicks wait so that records keep their room.", raise
		return it
	}
	it.Status, it.Explanation = OK, figures
	return it
}

func percent(f budget.Figures) int {
	if f.Percent <= 0 || f.Percent > 100 {
		return budget.DefaultPercent
	}
	return f.Percent
}

// words joins names as a sentence does: "A", "A and B", "A, B and C".
func words(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// access names an org-wide default as Setup's Sharing Settings page does.
func access(v string) string {
	switch v {
	case "None":
		return "Private"
	case "Read":
		return "Public Read Only"
	case "Edit":
		return "Public Read/Write"
	case "ReadEditTransfer":
		return "Public Read/Write/Transfer"
	case "ControlledByParent":
		return "Controlled by Parent"
	}
	return orNone(v)
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

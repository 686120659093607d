package org

import (
	"fmt"
	"strings"
	_ "time/tzdata" // TimeZoneSidKey and the identity's utcOffset need the zone database wherever the simulator runs
	"unicode"
	"unicode/utf16"
)

// What a real customer's org does by default, and the simulator's default
// org too unless Config.Lenient asks for the simpler org older tests knew.
// README.md (Known differences) gives the source of each.

// TaskStatus is one value of the org's Task Status picklist, as the
// TaskStatus object serves it (MasterLabel, ApiName, IsClosed, IsDefault).
// APIName is what a Task's Status holds and describe's picklist value;
// Label is what users see. An empty APIName is the Label.
type TaskStatus struct {
	Label   string `json:"label"`
	APIName string `json:"api_name,omitempty"`
	Closed  bool   `json:"closed"`
	Default bool   `json:"default"`
}

// apiName is the status's API name: APIName, or Label when unset.
func (ts TaskStatus) apiName() string {
	if ts.APIName != "" {
		return ts.APIName
	}
	return ts.Label
}

// RealisticTaskStatuses is the default org's Task statuses: an admin
// relabeled the closed one "Done", as editing a picklist value in Setup
// does, so its API name stays "Completed" (a Task's Status and describe's
// value) while TaskStatus.MasterLabel and describe's label say "Done".
var RealisticTaskStatuses = []TaskStatus{
	{Label: "Not Started", Default: true},
	{Label: "In Progress"},
	{Label: "Waiting on someone else"},
	{Label: "Deferred"},
	{Label: "Done", APIName: "Completed", Closed: true},
}

// StandardTaskStatuses is a new org's Task statuses, and the lenient org's.
// The simulator has always treated Deferred as closed too.
var StandardTaskStatuses = []TaskStatus{
	{Label: "Not Started", Default: true},
	{Label: "In Progress"},
	{Label: "Completed", Closed: true},
	{Label: "Waiting on someone else"},
	{Label: "Deferred", Closed: true},
}

// Sharing is an org-wide default of Lead or Contact.
type Sharing string

const (
	// SharingPublic is a new org's default: every user sees every record
	// (Lead: Public Read/Write/Transfer; Contact: controlled by its
	// Account, which is Public Read/Write).
	SharingPublic Sharing = "public"
	// SharingPrivate: a user sees only the records they own, unless they
	// hold "View All" on the object or "View All Data".
	SharingPrivate Sharing = "private"
)

// utf16Len is a text's length as Salesforce counts it: UTF-16 code units
// (a character beyond the Basic Multilingual Plane, such as most emoji,
// counts 2).
func utf16Len(s string) int {
	n := 0
	for _, r := range s { // invalid UTF-8 decodes as U+FFFD, one unit
		n += utf16.RuneLen(r)
	}
	return n
}

// setupObjects are the read-only setup objects the simulator serves to
// queries: the org's Task statuses, its org-wide sharing defaults and the
// API user's permissions.
func setupObjects() map[string]*sobject {
	ro := func(f *Field) *Field { return readOnly(f) }
	str := func(name, label string, n int) *Field { return ro(fStr(name, label, n)) }
	boolean := func(name, label string) *Field { return ro(fBool(name, label)) }
	ref := func(name, label, rel string, to ...string) *Field { return ro(fRef(name, label, rel, to...)) }
	objs := map[string]*sobject{
		"TaskStatus": newObject("TaskStatus", "Task Status Value", "Task Status Values",
			fID(), str("MasterLabel", "Master Label", 255), str("ApiName", "Api Name", 255),
			boolean("IsClosed", "Closed"), boolean("IsDefault", "Default"),
			ro(&Field{Name: "SortOrder", Label: "Sort Order", Type: TypeInt, Nillable: true})),
		"Organization": newObject("Organization", "Organization", "Organizations",
			fID(), str("Name", "Name", 80),
			str("DefaultLeadAccess", "Default Lead Access", 40), str("DefaultContactAccess", "Default Contact Access", 40),
			str("DefaultAccountAccess", "Default Account Access", 40)),
		"PermissionSetAssignment": newObject("PermissionSetAssignment", "Permission Set Assignment", "Permission Set Assignments",
			fID(), ref("AssigneeId", "Assignee ID", "Assignee", "User"),
			ref("PermissionSetId", "Permission Set ID", "PermissionSet", "PermissionSet")),
		"PermissionSet": newObject("PermissionSet", "Permission Set", "Permission Sets",
			fID(), str("Name", "Name", 80), str("Label", "Label", 80), boolean("IsOwnedByProfile", "Is Owned By Profile"),
			boolean("PermissionsViewAllData", "View All Data"), boolean("PermissionsModifyAllData", "Modify All Data"),
			boolean("PermissionsApiEnabled", "API Enabled")),
		"ObjectPermissions": newObject("ObjectPermissions", "Object Permissions", "Object Permissions",
			fID(), ref("ParentId", "Parent ID", "Parent", "PermissionSet"), str("SobjectType", "Sobject Type Name", 40),
			boolean("PermissionsRead", "Read"), boolean("PermissionsCreate", "Create"), boolean("PermissionsEdit", "Edit"),
			boolean("PermissionsDelete", "Delete"), boolean("PermissionsViewAllRecords", "View All"),
			boolean("PermissionsModifyAllRecords", "Modify All")),
		"DuplicateRule": duplicateRuleObject(),
	}
	for _, s := range objs {
		s.setup = true
	}
	return objs
}

// setupRecordsLocked builds the records of a setup object from the org's
// state, keyed by id as o.records is.
func (o *Org) setupRecordsLocked(object string) map[string]map[string]any {
	out := map[string]map[string]any{}
	add := func(id string, rec map[string]any) {
		rec["Id"] = id
		out[id] = rec
	}
	profilePS := makeID(keyPrefixes["PermissionSet"], "5g", 1)
	switch object {
	case "TaskStatus":
		for i, ts := range o.taskStatuses {
			add(makeID(keyPrefixes["TaskStatus"], "5g", uint64(i+1)), map[string]any{
				"MasterLabel": ts.Label, "ApiName": ts.apiName(), "IsClosed": ts.Closed, "IsDefault": ts.Default, "SortOrder": float64(i + 1)})
		}
	case "Organization":
		lead, contact, account := "ReadEditTransfer", "ControlledByParent", "Edit"
		if o.sharing["Lead"] == SharingPrivate {
			lead = "None"
		}
		if o.sharing["Contact"] == SharingPrivate {
			contact, account = "None", "None"
		}
		add(o.orgID, map[string]any{"Name": "Sfsim Org", "DefaultLeadAccess": lead, "DefaultContactAccess": contact, "DefaultAccountAccess": account})
	case "PermissionSetAssignment":
		add(makeID(keyPrefixes["PermissionSetAssignment"], "5g", 1), map[string]any{"AssigneeId": o.userID, "PermissionSetId": profilePS})
	case "PermissionSet":
		add(profilePS, map[string]any{"Name": "X00e5g0000000001", "Label": "Sync Integration User", "IsOwnedByProfile": true,
			"PermissionsViewAllData": o.viewAllData || o.modifyAllAll, "PermissionsModifyAllData": o.modifyAllAll, "PermissionsApiEnabled": true})
	case "DuplicateRule":
		o.duplicateRuleRecordsLocked(add)
	case "ObjectPermissions":
		for i, obj := range []string{"Account", "Contact", "Lead", "Task"} {
			add(makeID(keyPrefixes["ObjectPermissions"], "5g", uint64(i+1)), map[string]any{
				"ParentId": profilePS, "SobjectType": obj, "PermissionsRead": true, "PermissionsCreate": true, "PermissionsEdit": true,
				// Delete: the API user may delete the records it owns (others' need Modify All)
				"PermissionsDelete": true, "PermissionsViewAllRecords": o.viewAll[obj] || o.modifyAll[obj], "PermissionsModifyAllRecords": o.modifyAll[obj]})
		}
	}
	return out
}

// visibleLocked reports whether the API user's queries see rec of object:
// with private sharing, only records the user owns, unless the user holds
// View All on the object or View All Data. A Contact with no Account is
// private whatever the sharing: only its owner and users with View All
// Data see it. Every user sees every User.
func (o *Org) visibleLocked(object string, rec map[string]any) bool {
	owned := rec["OwnerId"] == o.userID
	viewAllData := o.viewAllData || o.modifyAllAll // Modify All Data includes View All Data
	if object == "Contact" && rec["AccountId"] == nil {
		return owned || viewAllData
	}
	if o.sharing[object] != SharingPrivate || viewAllData || o.viewAll[object] || o.modifyAll[object] {
		return true
	}
	return owned
}

// closedStatusLocked reports whether a Task status (an API name) is closed.
func (o *Org) closedStatusLocked(status any) bool {
	for _, ts := range o.taskStatuses {
		if ts.apiName() == status {
			return ts.Closed
		}
	}
	return false
}

// taskStatusField is Task.Status over the org's statuses.
func taskStatusField(statuses []TaskStatus) *Field {
	vals := make([]PicklistValue, len(statuses))
	for i, ts := range statuses {
		vals[i] = PicklistValue{Value: ts.apiName(), Label: ts.Label, Active: true, DefaultValue: ts.Default}
	}
	return fPick("Status", "Status", true, vals)
}

// matchKey is what the approximation of Salesforce's standard matching
// rules compares: the person's name, email, phone numbers, title and company.
type matchKey struct {
	first, last, email, title, company string
	phones                             []string
}

// matchKeyLocked reads a Lead's or Contact's match key (a Contact's company
// is its Account's name).
func (o *Org) matchKeyLocked(object string, rec map[string]any) matchKey {
	k := matchKey{first: fold(strOf(rec["FirstName"])), last: fold(strOf(rec["LastName"])),
		email: strings.ToLower(strings.TrimSpace(strOf(rec["Email"]))), title: fold(strOf(rec["Title"]))}
	for _, f := range []string{"Phone", "MobilePhone"} {
		if d := digits(strOf(rec[f])); len(d) >= 7 {
			k.phones = append(k.phones, d[max(len(d)-10, 0):]) // a country code aside
		}
	}
	switch object {
	case "Lead":
		k.company = fold(strOf(rec["Company"]))
	case "Contact":
		if acc := o.records["Account"][strOf(rec["AccountId"])]; acc != nil {
			k.company = fold(strOf(acc["Name"]))
		}
	}
	return k
}

// storedKeyLocked is matchKeyLocked of a stored record, kept until the
// record changes (its SystemModstamp): a create compares itself with every
// Lead and Contact.
func (o *Org) storedKeyLocked(object, id string, rec map[string]any) matchKey {
	stamp := strOf(rec["SystemModstamp"])
	if k, ok := o.keys[id]; ok && k.stamp == stamp {
		return k.key
	}
	k := o.matchKeyLocked(object, rec)
	if o.keys == nil {
		o.keys = map[string]stampedKey{}
	}
	o.keys[id] = stampedKey{stamp: stamp, key: k}
	return k
}

type stampedKey struct {
	stamp string
	key   matchKey
}

// matches approximates the standard Lead and Contact matching rules: a
// fuzzy first name and the same last name, plus the same email, or the
// same phone, or the same title and company. Email alone never matches.
func (a matchKey) matches(b matchKey) bool {
	if a.last == "" || a.last != b.last || !fuzzyFirst(a.first, b.first) {
		return false
	}
	if a.email != "" && a.email == b.email {
		return true
	}
	for _, p := range a.phones {
		for _, q := range b.phones {
			if p == q {
				return true
			}
		}
	}
	return a.title != "" && a.title == b.title && a.company != "" && a.company == b.company
}

// fuzzyFirst approximates the fuzzy first-name match: equal, an initial of
// the other, or missing on either side.
func fuzzyFirst(a, b string) bool {
	if a == "" || b == "" || a == b {
		return true
	}
	ra, rb := []rune(a), []rune(b)
	return (len(ra) == 1 && ra[0] == rb[0]) || (len(rb) == 1 && rb[0] == ra[0])
}

// fold lower-cases s, drops punctuation and collapses white space.
func fold(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return strings.Join(f, " ")
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// matchFields are the fields whose change runs the duplicate rule on update.
var matchFields = []string{"FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "Company", "AccountId"}

// errSetupWrite answers a write to a setup object.
func errSetupWrite(object, op string) apiErr {
	return errNoFields("INVALID_TYPE_FOR_OPERATION", fmt.Sprintf("entity type %s does not support %s", object, op))
}

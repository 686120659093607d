package org

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
)

// FieldType is a describe field type as Salesforce names it.
type FieldType string

// Field types the simulator models.
const (
	TypeID        FieldType = "id"
	TypeString    FieldType = "string"
	TypeTextArea  FieldType = "textarea"
	TypeEmail     FieldType = "email"
	TypePhone     FieldType = "phone"
	TypeURL       FieldType = "url"
	TypePicklist  FieldType = "picklist"
	TypeCombobox  FieldType = "combobox"
	TypeReference FieldType = "reference"
	TypeBoolean   FieldType = "boolean"
	TypeDate      FieldType = "date"
	TypeDateTime  FieldType = "datetime"
	TypeDouble    FieldType = "double"
	TypeInt       FieldType = "int"
	TypeCurrency  FieldType = "currency"
)

// PicklistValue is one entry of a field's picklistValues.
type PicklistValue struct {
	Value        string `json:"value"`
	Label        string `json:"label"`
	Active       bool   `json:"active"`
	DefaultValue bool   `json:"defaultValue"`
}

// Field describes one field of an sObject, carrying what describe reports and what
// the simulator enforces on writes.
type Field struct {
	Name              string
	Label             string
	Type              FieldType
	Length            int
	Precision, Scale  int
	Nillable          bool
	Createable        bool
	Updateable        bool
	DefaultedOnCreate bool
	Unique            bool
	ExternalID        bool
	Custom            bool
	Picklist          []PicklistValue
	Restricted        bool
	ReferenceTo       []string
	RelationshipName  string
}

// sobject is the metadata of one object.
type sobject struct {
	Name   string
	Label  string
	Plural string
	fields []*Field
	byName map[string]*Field // lower-case name -> field
	setup  bool              // a read-only setup object, its records built from the org's state
	// readOnlyFLS are the fields whose field-level security gives the API
	// user Read but not Edit (SetFieldUpdateable): describe says neither
	// createable nor updateable, and API writes that send them are refused.
	readOnlyFLS map[string]bool
}

func (s *sobject) field(name string) (*Field, bool) {
	f, ok := s.byName[lower(name)]
	return f, ok
}

func (s *sobject) add(f *Field) {
	s.fields = append(s.fields, f)
	s.byName[lower(f.Name)] = f
}

func (s *sobject) remove(name string) {
	delete(s.byName, lower(name))
	for k := range s.readOnlyFLS {
		if lower(k) == lower(name) {
			delete(s.readOnlyFLS, k)
		}
	}
	out := s.fields[:0]
	for _, f := range s.fields {
		if lower(f.Name) != lower(name) {
			out = append(out, f)
		}
	}
	s.fields = out
}

func pick(values ...string) []PicklistValue {
	out := make([]PicklistValue, len(values))
	for i, v := range values {
		out[i] = PicklistValue{Value: v, Label: v, Active: true}
	}
	return out
}

func pickDefault(def string, values ...string) []PicklistValue {
	out := pick(values...)
	for i := range out {
		out[i].DefaultValue = out[i].Value == def
	}
	return out
}

// field constructors
func fID() *Field {
	return &Field{Name: "Id", Label: "Record ID", Type: TypeID, Length: 18, DefaultedOnCreate: true}
}
func fStr(name, label string, length int) *Field {
	return &Field{Name: name, Label: label, Type: TypeString, Length: length, Nillable: true, Createable: true, Updateable: true}
}
func fReq(name, label string, length int) *Field {
	f := fStr(name, label, length)
	f.Nillable = false
	return f
}
func fTyped(t FieldType, name, label string, length int) *Field {
	f := fStr(name, label, length)
	f.Type = t
	return f
}
func fBool(name, label string) *Field {
	return &Field{Name: name, Label: label, Type: TypeBoolean, Createable: true, Updateable: true, DefaultedOnCreate: true}
}
func fPick(name, label string, restricted bool, values []PicklistValue) *Field {
	f := fTyped(TypePicklist, name, label, 255)
	f.Picklist = values
	f.Restricted = restricted
	for _, v := range values {
		if v.DefaultValue {
			f.DefaultedOnCreate = true
			f.Nillable = false
		}
	}
	return f
}
func fRef(name, label, rel string, to ...string) *Field {
	f := fTyped(TypeReference, name, label, 18)
	f.ReferenceTo = to
	f.RelationshipName = rel
	return f
}

// fOwner is OwnerId over the objects it may name: Lead and Task take a
// queue (Group) or a User, Contact and Account only a User.
func fOwner(to ...string) *Field {
	f := fRef("OwnerId", "Owner ID", "Owner", to...)
	f.Nillable = false
	f.DefaultedOnCreate = true
	return f
}
func readOnly(f *Field) *Field {
	f.Createable, f.Updateable = false, false
	return f
}
func fSystem() []*Field {
	return []*Field{
		readOnly(&Field{Name: "IsDeleted", Label: "Deleted", Type: TypeBoolean, DefaultedOnCreate: true}),
		readOnly(&Field{Name: "CreatedDate", Label: "Created Date", Type: TypeDateTime, DefaultedOnCreate: true}),
		readOnly(&Field{Name: "CreatedById", Label: "Created By ID", Type: TypeReference, Length: 18, DefaultedOnCreate: true, ReferenceTo: []string{"User"}, RelationshipName: "CreatedBy"}),
		readOnly(&Field{Name: "LastModifiedDate", Label: "Last Modified Date", Type: TypeDateTime, DefaultedOnCreate: true}),
		readOnly(&Field{Name: "LastModifiedById", Label: "Last Modified By ID", Type: TypeReference, Length: 18, DefaultedOnCreate: true, ReferenceTo: []string{"User"}, RelationshipName: "LastModifiedBy"}),
		readOnly(&Field{Name: "SystemModstamp", Label: "System Modstamp", Type: TypeDateTime, DefaultedOnCreate: true}),
	}
}

var leadSources = []string{"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}
var industries = []string{"Agriculture", "Banking", "Communications", "Education", "Electronics", "Finance", "Healthcare", "Media", "Technology", "Other"}

func newObject(name, label, plural string, fields ...*Field) *sobject {
	s := &sobject{Name: name, Label: label, Plural: plural, byName: map[string]*Field{}, readOnlyFLS: map[string]bool{}}
	for _, f := range fields {
		s.add(f)
	}
	for _, f := range fSystem() {
		s.add(f)
	}
	return s
}

func standardObjects(statuses []TaskStatus) map[string]*sobject {
	nameF := readOnly(fTyped(TypeString, "Name", "Full Name", 121))
	nameF.Nillable = false
	lead := newObject("Lead", "Lead", "Leads",
		fID(),
		fReq("LastName", "Last Name", 80),
		fStr("FirstName", "First Name", 40),
		fPick("Salutation", "Salutation", false, pick("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
		nameF,
		fStr("Title", "Title", 128),
		fReq("Company", "Company", 255),
		fTyped(TypeTextArea, "Street", "Street", 255),
		fStr("City", "City", 40),
		fStr("State", "State/Province", 80),
		fStr("PostalCode", "Zip/Postal Code", 20),
		fStr("Country", "Country", 80),
		fTyped(TypePhone, "Phone", "Phone", 40),
		fTyped(TypePhone, "MobilePhone", "Mobile Phone", 40),
		fTyped(TypeEmail, "Email", "Email", 80),
		fTyped(TypeURL, "Website", "Website", 255),
		fTyped(TypeTextArea, "Description", "Description", 32000),
		fPick("LeadSource", "Lead Source", false, pick(leadSources...)),
		fPick("Status", "Status", true, pickDefault("Open - Not Contacted", "Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")),
		fPick("Industry", "Industry", false, pick(industries...)),
		fPick("Rating", "Rating", false, pick("Hot", "Warm", "Cold")),
		&Field{Name: "AnnualRevenue", Label: "Annual Revenue", Type: TypeCurrency, Precision: 18, Nillable: true, Createable: true, Updateable: true},
		&Field{Name: "NumberOfEmployees", Label: "Employees", Type: TypeInt, Precision: 8, Nillable: true, Createable: true, Updateable: true},
		fOwner("Group", "User"),
		fBool("HasOptedOutOfEmail", "Email Opt Out"),
		readOnly(fBool("IsConverted", "Converted")),
		readOnly(fTyped(TypeDate, "ConvertedDate", "Converted Date", 0)),
		readOnly(fRef("ConvertedAccountId", "Converted Account ID", "ConvertedAccount", "Account")),
		readOnly(fRef("ConvertedContactId", "Converted Contact ID", "ConvertedContact", "Contact")),
		readOnly(fRef("ConvertedOpportunityId", "Converted Opportunity ID", "ConvertedOpportunity", "Opportunity")),
		fBool("IsUnreadByOwner", "Unread By Owner"),
		fStr("EmailBouncedReason", "Email Bounced Reason", 255),
		fTyped(TypeDateTime, "EmailBouncedDate", "Email Bounced Date", 0),
	)

	cname := readOnly(fTyped(TypeString, "Name", "Full Name", 121))
	cname.Nillable = false
	contact := newObject("Contact", "Contact", "Contacts",
		fID(),
		fRef("AccountId", "Account ID", "Account", "Account"),
		fReq("LastName", "Last Name", 80),
		fStr("FirstName", "First Name", 40),
		fPick("Salutation", "Salutation", false, pick("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
		cname,
		fTyped(TypeTextArea, "MailingStreet", "Mailing Street", 255),
		fStr("MailingCity", "Mailing City", 40),
		fStr("MailingState", "Mailing State/Province", 80),
		fStr("MailingPostalCode", "Mailing Zip/Postal Code", 20),
		fStr("MailingCountry", "Mailing Country", 80),
		fTyped(TypePhone, "Phone", "Business Phone", 40),
		fTyped(TypePhone, "MobilePhone", "Mobile Phone", 40),
		fTyped(TypeEmail, "Email", "Email", 80),
		fStr("Title", "Title", 128),
		fStr("Department", "Department", 80),
		fPick("LeadSource", "Lead Source", false, pick(leadSources...)),
		fTyped(TypeDate, "Birthdate", "Birthdate", 0),
		fTyped(TypeTextArea, "Description", "Contact Description", 32000),
		fOwner("User"),
		fBool("HasOptedOutOfEmail", "Email Opt Out"),
		fStr("EmailBouncedReason", "Email Bounced Reason", 255),
		fTyped(TypeDateTime, "EmailBouncedDate", "Email Bounced Date", 0),
	)

	account := newObject("Account", "Account", "Accounts",
		fID(),
		fReq("Name", "Account Name", 255),
		fPick("Type", "Account Type", false, pick("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other")),
		fTyped(TypeTextArea, "BillingStreet", "Billing Street", 255),
		fStr("BillingCity", "Billing City", 40),
		fStr("BillingState", "Billing State/Province", 80),
		fStr("BillingPostalCode", "Billing Zip/Postal Code", 20),
		fStr("BillingCountry", "Billing Country", 80),
		fTyped(TypePhone, "Phone", "Account Phone", 40),
		fTyped(TypeURL, "Website", "Website", 255),
		fPick("Industry", "Industry", false, pick(industries...)),
		&Field{Name: "NumberOfEmployees", Label: "Employees", Type: TypeInt, Precision: 8, Nillable: true, Createable: true, Updateable: true},
		fTyped(TypeTextArea, "Description", "Account Description", 32000),
		fOwner("User"),
	)

	subtype := fPick("TaskSubtype", "Task Subtype", true, pick("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"))
	subtype.Updateable = false
	taskAccount := readOnly(fRef("AccountId", "Account ID", "Account", "Account"))
	task := newObject("Task", "Task", "Tasks",
		fID(),
		fRef("WhoId", "Name ID", "Who", "Contact", "Lead"),
		fRef("WhatId", "Related To ID", "What", "Account"),
		fTyped(TypeCombobox, "Subject", "Subject", 255),
		fTyped(TypeDate, "ActivityDate", "Due Date Only", 0),
		taskStatusField(statuses),
		fPick("Priority", "Priority", true, pickDefault("Normal", "High", "Normal", "Low")),
		fOwner("Group", "User"),
		fTyped(TypeTextArea, "Description", "Description", 32000),
		fPick("Type", "Type", false, pick("Call", "Email", "Meeting", "Other")),
		readOnly(fBool("IsClosed", "Closed")),
		taskAccount,
		subtype,
		readOnly(fTyped(TypeDateTime, "CompletedDateTime", "Completed Date/Time", 0)),
	)
	return map[string]*sobject{"Lead": lead, "Contact": contact, "Account": account, "Task": task, "User": userObject()}
}

// userObject is the User sObject: the fields the sync service reads. Every
// user may read User records; creating or changing one needs "Manage
// Internal Users", which the API user lacks (see refuseUserWrite).
func userObject() *sobject {
	uname := readOnly(fTyped(TypeString, "Name", "Full Name", 121))
	uname.Nillable = false
	active := fBool("IsActive", "Active")
	tz := fPick("TimeZoneSidKey", "Time Zone", true, pick(commonTimeZones...))
	tz.Nillable = false
	tz.DefaultedOnCreate = false
	username := fReq("Username", "Username", 80)
	username.Unique = true
	email := fTyped(TypeEmail, "Email", "Email", 128)
	email.Nillable = false
	// UserType: Standard for a licensed internal user; partner, customer
	// and Chatter-only users have their own (object reference, User).
	utype := fPick("UserType", "User Type", true, pickDefault("Standard", "Standard", "PowerPartner", "PowerCustomerSuccess",
		"CustomerSuccess", "CspLitePortal", "CsnOnly", "Guest"))
	return newObject("User", "User", "Users",
		fID(),
		username,
		fStr("FirstName", "First Name", 40),
		fReq("LastName", "Last Name", 80),
		uname,
		email,
		active,
		tz,
		utype,
	)
}

// commonTimeZones are the TimeZoneSidKey values describe lists. The field
// takes any IANA zone name Go knows (validTimeZone); Salesforce's own list
// is longer than this excerpt and a little different (README, Known
// differences).
var commonTimeZones = []string{
	"Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Phoenix", "America/Denver",
	"America/Chicago", "America/New_York", "America/Sao_Paulo", "GMT", "Europe/London", "Europe/Dublin",
	"Europe/Paris", "Europe/Berlin", "Europe/Amsterdam", "Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata",
	"Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
}

// CustomField declares a custom field (its name must end in __c).
type CustomField struct {
	Name       string   `json:"name"`
	Label      string   `json:"label,omitempty"`
	Type       string   `json:"type"` // text, textarea, email, picklist, number, checkbox, date, datetime, phone, url
	Length     int      `json:"length,omitempty"`
	Precision  int      `json:"precision,omitempty"`
	Scale      int      `json:"scale,omitempty"`
	Values     []string `json:"values,omitempty"`
	Restricted bool     `json:"restricted,omitempty"`
	Required   bool     `json:"required,omitempty"`
	Default    string   `json:"default,omitempty"` // picklist default value
	ExternalID bool     `json:"externalId,omitempty"`
	Unique     bool     `json:"unique,omitempty"`
}

// Definition is an org definition: custom fields per object, loaded from JSON like
// {"customFields":{"Lead":[{"name":"Source_Detail__c","type":"text","length":100}]}}.
type Definition struct {
	CustomFields map[string][]CustomField `json:"customFields"`
}

// LoadDefinition reads an org definition JSON file.
func LoadDefinition(path string) (*Definition, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read org definition: %w", err)
	}
	var d Definition
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse org definition %s: %w", path, err)
	}
	objs := make([]string, 0, len(d.CustomFields))
	for o := range d.CustomFields {
		objs = append(objs, o)
	}
	sort.Strings(objs)
	probe := standardObjects(StandardTaskStatuses)
	for _, o := range objs {
		s, ok := probe[o]
		if !ok {
			return nil, fmt.Errorf("org definition %s: customFields.%s: unknown object", path, o)
		}
		for i, cf := range d.CustomFields[o] {
			f, err := cf.field()
			if err != nil {
				return nil, fmt.Errorf("org definition %s: customFields.%s[%d]: %w", path, o, i, err)
			}
			if _, dup := s.field(f.Name); dup {
				return nil, fmt.Errorf("org definition %s: customFields.%s[%d].name: %s is already defined", path, o, i, f.Name)
			}
			s.add(f)
		}
	}
	return &d, nil
}

var customName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$`)

// field turns a declaration into a Field, validating it.
func (cf CustomField) field() (*Field, error) {
	if !customName.MatchString(cf.Name) {
		return nil, fmt.Errorf("name: %q is not a custom field API name (letters, digits, single underscores, ending in __c)", cf.Name)
	}
	label := cf.Label
	if label == "" {
		label = cf.Name[:len(cf.Name)-3]
	}
	f := &Field{Name: cf.Name, Label: label, Custom: true, Nillable: !cf.Required, Createable: true, Updateable: true, ExternalID: cf.ExternalID, Unique: cf.Unique}
	switch cf.Type {
	case "text", "string":
		f.Type, f.Length = TypeString, cf.Length
		if f.Length == 0 {
			f.Length = 255
		}
		if f.Length < 1 || f.Length > 255 {
			return nil, fmt.Errorf("length: %d is outside 1..255 for a text field", cf.Length)
		}
	case "textarea":
		f.Type, f.Length = TypeTextArea, cf.Length
		if f.Length == 0 {
			f.Length = 32768
		}
	case "email":
		f.Type, f.Length = TypeEmail, 80
	case "phone":
		f.Type, f.Length = TypePhone, 40
	case "url":
		f.Type, f.Length = TypeURL, 255
	case "picklist":
		if len(cf.Values) == 0 {
			return nil, fmt.Errorf("values: a picklist needs at least one value")
		}
		f.Type, f.Length, f.Restricted = TypePicklist, 255, cf.Restricted
		f.Picklist = pickDefault(cf.Default, cf.Values...)
		if cf.Default != "" {
			found := false
			for _, v := range cf.Values {
				found = found || v == cf.Default
			}
			if !found {
				return nil, fmt.Errorf("default: %q is not one of the values", cf.Default)
			}
			f.DefaultedOnCreate = true
		}
	case "number":
		f.Type, f.Precision, f.Scale = TypeDouble, cf.Precision, cf.Scale
		if f.Precision == 0 {
			f.Precision = 18
		}
	case "checkbox":
		f.Type, f.Nillable, f.DefaultedOnCreate = TypeBoolean, false, true
	case "date":
		f.Type = TypeDate
	case "datetime":
		f.Type = TypeDateTime
	default:
		return nil, fmt.Errorf("type: %q is not one of text, textarea, email, phone, url, picklist, number, checkbox, date, datetime", cf.Type)
	}
	return f, nil
}

// describe renders the describe result of an object.
func (s *sobject) describe(version string) map[string]any {
	fields := make([]map[string]any, 0, len(s.fields))
	for _, f := range s.fields {
		d := f.describe()
		if s.readOnlyFLS[f.Name] {
			// field-level security: Read without Edit (describe answers
			// for the user who asks)
			d["createable"], d["updateable"] = false, false
		}
		fields = append(fields, d)
	}
	prefix := keyPrefixes[s.Name]
	path := "/services/data/v" + version + "/sobjects/" + s.Name
	return map[string]any{
		"name": s.Name, "label": s.Label, "labelPlural": s.Plural, "keyPrefix": prefix,
		"createable": true, "updateable": true, "deletable": s.Name != "User", "queryable": true, "retrieveable": true,
		"searchable": true, "custom": false, "customSetting": false, "layoutable": true, "triggerable": true,
		"undeletable": true, "mergeable": s.Name != "Task", "replicateable": true, "feedEnabled": s.Name != "Task",
		"fields":             fields,
		"childRelationships": []any{},
		"recordTypeInfos":    []any{},
		"urls": map[string]string{
			"sobject":     path,
			"describe":    path + "/describe",
			"rowTemplate": path + "/{ID}",
		},
	}
}

func (f *Field) describe() map[string]any {
	pv := make([]map[string]any, 0, len(f.Picklist))
	for _, p := range f.Picklist {
		pv = append(pv, map[string]any{"value": p.Value, "label": p.Label, "active": p.Active, "defaultValue": p.DefaultValue, "validFor": nil})
	}
	ref := f.ReferenceTo
	if ref == nil {
		ref = []string{}
	}
	var rel any
	if f.RelationshipName != "" {
		rel = f.RelationshipName
	}
	soapType := map[FieldType]string{TypeID: "tns:ID", TypeReference: "tns:ID", TypeBoolean: "xsd:boolean", TypeDate: "xsd:date",
		TypeDateTime: "xsd:dateTime", TypeDouble: "xsd:double", TypeCurrency: "xsd:double", TypeInt: "xsd:int"}[f.Type]
	if soapType == "" {
		soapType = "xsd:string"
	}
	byteLength := f.Length * 3
	caseSensitive := false
	return map[string]any{
		"name": f.Name, "label": f.Label, "type": string(f.Type), "soapType": soapType,
		"length": f.Length, "byteLength": byteLength, "precision": f.Precision, "scale": f.Scale, "digits": 0,
		"nillable": f.Nillable, "createable": f.Createable, "updateable": f.Updateable,
		"defaultedOnCreate": f.DefaultedOnCreate, "unique": f.Unique, "externalId": f.ExternalID,
		"idLookup": f.Name == "Id" || f.Type == TypeEmail && !f.Custom || f.ExternalID, "caseSensitive": caseSensitive,
		"custom": f.Custom, "calculated": false, "filterable": f.Type != TypeTextArea || f.Length <= 255,
		"sortable": f.Type != TypeTextArea || f.Length <= 255, "groupable": f.Type != TypeTextArea,
		"picklistValues": pv, "restrictedPicklist": f.Restricted,
		"referenceTo": ref, "relationshipName": rel, "polymorphicForeignKey": len(ref) > 1,
		"defaultValue": nil, "defaultValueFormula": nil, "inlineHelpText": nil,
		"autoNumber": false, "dependentPicklist": false, "htmlFormatted": false, "nameField": f.Name == "Name",
		"permissionable": f.permissionable(), "deprecatedAndHidden": false,
	}
}

// permissionable reports whether an admin may set the field's field-level
// security: a field a user can write that is not required (a checkbox is
// never null but is not required either). Required and system fields are
// always read/write or always read-only.
func (f *Field) permissionable() bool {
	return f.Createable && (f.Nillable || f.Type == TypeBoolean)
}

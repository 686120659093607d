package org

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// undoEntry restores one record when an all-or-none operation rolls back.
type undoEntry struct {
	object, id string
	prev       map[string]any // nil: the record did not exist
	wasDeleted bool
}

func (o *Org) journal(object, id string) {
	if o.undo == nil {
		return
	}
	prev := o.records[object][id]
	var cp map[string]any
	if prev != nil {
		cp = make(map[string]any, len(prev))
		for k, v := range prev {
			cp[k] = v
		}
	}
	_, wasDeleted := o.deleted[id]
	*o.undo = append(*o.undo, undoEntry{object: object, id: id, prev: cp, wasDeleted: wasDeleted})
}

// beginTx starts journaling; the returned function rolls back everything since.
func (o *Org) beginTx() (rollback func(), end func()) {
	log := []undoEntry{}
	outer := o.undo
	o.undo = &log
	rollback = func() {
		for i := len(log) - 1; i >= 0; i-- {
			e := log[i]
			delete(o.keys, e.id)
			if e.prev == nil {
				delete(o.records[e.object], e.id)
			} else {
				o.records[e.object][e.id] = e.prev
			}
			if e.wasDeleted {
				o.deleted[e.id] = e.object
			} else {
				delete(o.deleted, e.id)
			}
		}
		log = log[:0]
	}
	end = func() {
		o.undo = outer
		if outer != nil {
			*outer = append(*outer, log...)
		}
	}
	return rollback, end
}

func (o *Org) putLocked(object, id string, rec map[string]any) {
	o.journal(object, id)
	o.records[object][id] = rec
	delete(o.deleted, id)
	delete(o.keys, id)
}

func (o *Org) deleteLocked(object, id string) {
	o.journal(object, id)
	delete(o.records[object], id)
	delete(o.keys, id)
	o.deleted[id] = object
}

// deleteCascadeLocked deletes a record and what Salesforce deletes with it:
// a Lead's or Contact's Tasks (those whose WhoId names it), whoever owns
// them. Conversion has already moved a converted Lead's Tasks.
func (o *Org) deleteCascadeLocked(object, id string) {
	if object == "Lead" || object == "Contact" {
		for _, tid := range sortedIDs(o.records["Task"]) {
			if o.records["Task"][tid]["WhoId"] == id {
				o.deleteLocked("Task", tid)
			}
		}
	}
	o.deleteLocked(object, id)
}

// canDeleteLocked reports whether the API user may delete rec: it owns it,
// or holds Modify All on the object or Modify All Data. Public Read/Write
// sharing lets a user edit other users' records, never delete them; roles
// (a manager above the owner) are not modelled.
func (o *Org) canDeleteLocked(object string, rec map[string]any) bool {
	return rec["OwnerId"] == o.userID || o.modifyAllAll || o.modifyAll[object]
}

// errCannotDelete answers a delete of a record the API user may not delete.
var errCannotDelete = errFields("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")

// coerce converts a JSON value to the stored form for a field, or returns a
// deserialization error (which fails the whole request, as Salesforce's parser does).
func coerce(s *sobject, f *Field, v any) (any, *apiErr) {
	if v == nil {
		return nil, nil
	}
	bad := func(kind string) (any, *apiErr) {
		tok := "VALUE_STRING"
		switch v := v.(type) {
		case bool:
			tok = "VALUE_TRUE"
			if !v {
				tok = "VALUE_FALSE"
			}
		case json.Number:
			tok = "VALUE_NUMBER_INT"
			if strings.ContainsAny(v.String(), ".eE") {
				tok = "VALUE_NUMBER_FLOAT"
			}
		case map[string]any:
			tok = "START_OBJECT"
		case []any:
			tok = "START_ARRAY"
		}
		e := errNoFields("JSON_PARSER_ERROR", fmt.Sprintf("Cannot deserialize instance of %s from %s value %v or request may be missing a required field", kind, tok, v))
		return nil, &e
	}
	switch f.Type {
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return bad("boolean")
		}
		return b, nil
	case TypeDouble, TypeCurrency, TypeInt:
		n, ok := v.(json.Number)
		if !ok {
			return bad(map[FieldType]string{TypeDouble: "double", TypeCurrency: "currency", TypeInt: "int"}[f.Type])
		}
		x, err := n.Float64()
		if err != nil || math.IsInf(x, 0) {
			return bad("double")
		}
		if f.Type == TypeInt && x != math.Trunc(x) {
			return bad("int")
		}
		return x, nil
	case TypeDate:
		str, ok := v.(string)
		if !ok {
			return bad("date")
		}
		if str == "" {
			return nil, nil
		}
		t, err := time.Parse("2006-01-02", str)
		if err != nil {
			return bad("date")
		}
		return t.Format("2006-01-02"), nil
	case TypeDateTime:
		str, ok := v.(string)
		if !ok {
			return bad("datetime")
		}
		if str == "" {
			return nil, nil
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.000Z0700"} {
			if t, err := time.Parse(layout, str); err == nil {
				return sfTime(t), nil
			}
		}
		return bad("datetime")
	default:
		str, ok := v.(string)
		if !ok {
			return bad(string(f.Type))
		}
		if str == "" {
			return nil, nil // Salesforce stores an empty string as null
		}
		return str, nil
	}
}

var emailRe = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)

// parseFields turns a request body into canonical field values. Unknown fields and
// values of the wrong JSON type fail the request as a whole.
func parseFields(s *sobject, body map[string]any) (map[string]any, []string, *apiErr) {
	vals := map[string]any{}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var order []string
	for _, k := range keys {
		f, ok := s.field(k)
		if !ok {
			e := errNoFields("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, s.Name))
			return nil, nil, &e
		}
		v, perr := coerce(s, f, body[k])
		if perr != nil {
			return nil, nil, perr
		}
		vals[f.Name] = v
		order = append(order, f.Name)
	}
	// report in the object's field order, like Salesforce's per-field checks
	sort.SliceStable(order, func(i, j int) bool { return s.index(order[i]) < s.index(order[j]) })
	return vals, order, nil
}

func (s *sobject) index(name string) int {
	for i, f := range s.fields {
		if f.Name == name {
			return i
		}
	}
	return len(s.fields)
}

// validateLocked checks field values for a create (existing == nil) or an update.
func (o *Org) validateLocked(s *sobject, vals map[string]any, order []string, existing map[string]any) []apiErr {
	creating := existing == nil
	var notWritable []string
	for _, name := range order {
		f, _ := s.field(name)
		if name == "Id" && !creating {
			continue
		}
		if (creating && !f.Createable) || (!creating && !f.Updateable) || (!o.admin && s.readOnlyFLS[f.Name]) {
			notWritable = append(notWritable, f.Name)
		}
	}
	if len(notWritable) > 0 {
		return []apiErr{errFields("INVALID_FIELD_FOR_INSERT_UPDATE",
			fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", strings.Join(notWritable, ", ")),
			notWritable...)}
	}
	var missing []string
	for _, f := range s.fields {
		if f.Nillable || f.DefaultedOnCreate || !f.Createable {
			continue
		}
		v, present := vals[f.Name]
		if (creating && v == nil) || (!creating && present && v == nil) {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return []apiErr{errFields("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+strings.Join(missing, ", ")+"]", missing...)}
	}
	var errs []apiErr
	for _, name := range order {
		f, _ := s.field(name)
		v := vals[name]
		if v == nil {
			if f.Name == "OwnerId" {
				// an explicit null (or "") owner is refused, on create too:
				// only leaving OwnerId out gives the record to the API user
				errs = append(errs, errFields("INVALID_CROSS_REFERENCE_KEY", f.Label+": owner cannot be blank", f.Name))
				continue
			}
			if !f.Nillable && f.Type == TypePicklist && f.Restricted && !creating {
				errs = append(errs, errFields("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f.Label+": bad value for restricted picklist field: ", f.Name))
			}
			if f.Type == TypeBoolean {
				// a checkbox is true or false, never null: an explicit
				// null fails the record, on create and on update
				errs = append(errs, errFields("INVALID_TYPE_ON_FIELD_IN_RECORD", f.Label+": value not of required type: ", f.Name))
			}
			continue
		}
		str, isStr := v.(string)
		if isStr && f.Length > 0 && f.Type != TypeReference && f.Type != TypeID && utf16Len(str) > f.Length {
			errs = append(errs, errFields("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, str, f.Length), f.Name))
			continue
		}
		switch f.Type {
		case TypeEmail:
			if !emailRe.MatchString(str) {
				errs = append(errs, errFields("INVALID_EMAIL_ADDRESS", f.Label+": invalid email address: "+str, f.Name))
			}
		case TypePicklist:
			if s.Name == "User" && f.Name == "TimeZoneSidKey" {
				if !validTimeZone(str) {
					errs = append(errs, errFields("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f.Label+": bad value for restricted picklist field: "+str, f.Name))
				}
				continue
			}
			if f.Restricted && !picklistHas(f, str) {
				errs = append(errs, errFields("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f.Label+": bad value for restricted picklist field: "+str, f.Name))
			}
		case TypeReference:
			if e := o.checkReferenceLocked(s.Name, f, str); e != nil {
				errs = append(errs, *e)
			}
		}
	}
	if len(errs) == 0 {
		errs = o.validationRulesLocked(s.Name, vals)
	}
	return errs
}

// validationRulesLocked runs the org's validation rules on a write, as
// Salesforce does after field checks pass.
func (o *Org) validationRulesLocked(object string, vals map[string]any) []apiErr {
	var errs []apiErr
	for _, r := range o.valRules {
		if !strings.EqualFold(r.Object, object) {
			continue
		}
		if v, ok := vals[r.Field].(string); ok && strings.EqualFold(strings.TrimSpace(v), r.Forbid) {
			errs = append(errs, errFields("FIELD_CUSTOM_VALIDATION_EXCEPTION", r.Message, r.Field))
		}
	}
	return errs
}

func picklistHas(f *Field, v string) bool {
	for _, p := range f.Picklist {
		if p.Active && p.Value == v {
			return true
		}
	}
	return false
}

// checkReferenceLocked validates a lookup value of an object's field the
// way Salesforce does.
func (o *Org) checkReferenceLocked(object string, f *Field, raw string) *apiErr {
	id, ok := canonicalID(raw)
	if !ok {
		e := errFields("MALFORMED_ID", f.Label+": id value of incorrect type: "+raw, f.Name)
		return &e
	}
	obj := objectForID(id)
	allowed := false
	for _, t := range f.ReferenceTo {
		allowed = allowed || t == obj
	}
	if !allowed {
		e := errFields("FIELD_INTEGRITY_EXCEPTION", f.Label+": id value of incorrect type: "+raw, f.Name)
		return &e
	}
	switch obj {
	case "User":
		if u, live := o.records["User"][id]; live {
			if f.Name == "OwnerId" && u["IsActive"] == false && inactiveOwnerRefused[object] {
				e := errFields("INACTIVE_OWNER_OR_USER", fmt.Sprintf("operation performed with inactive user [%s] as owner of %s", id[:15], strings.ToLower(object)))
				return &e
			}
			return nil
		}
	case "Group":
		// the org's one queue takes Leads only
		if id == o.queueID && (object == "Lead" || f.Name != "OwnerId") {
			return nil
		}
	default:
		if rec, live := o.records[obj][id]; live {
			if obj == "Lead" && rec["IsConverted"] == true {
				e := errFields("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", f.Name)
				return &e
			}
			return nil
		}
	}
	e := errFields("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", f.Name)
	return &e
}

// canonicalRefs stores validated lookups as 18-character ids, as
// Salesforce answers them whatever form the write used.
func canonicalRefs(s *sobject, vals map[string]any) {
	for name, v := range vals {
		if f, ok := s.field(name); ok && f.Type == TypeReference {
			if id, ok := canonicalID(strOf(v)); ok {
				vals[name] = id
			}
		}
	}
}

// inactiveOwnerRefused are the objects whose new or changed OwnerId must be
// an active user. Accounts (like Opportunities and custom objects) may be
// owned by inactive users since Spring '15 (README, Owners).
var inactiveOwnerRefused = map[string]bool{"Lead": true, "Contact": true, "Task": true}

// validTimeZone reports whether tz is a time zone a User's TimeZoneSidKey
// takes: an IANA zone name (or GMT), never Go's "Local".
func validTimeZone(tz string) bool {
	if tz == "" || tz == "Local" || strings.TrimSpace(tz) != tz {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}

// createLocked validates and inserts a record. errs are save errors (the record was
// not created); rerr is a request-level error (the body could not be parsed).
func (o *Org) createLocked(s *sobject, body map[string]any, hdr http.Header) (string, []apiErr, *apiErr) {
	vals, order, rerr := parseFields(s, body)
	if rerr != nil {
		return "", nil, rerr
	}
	if _, has := vals["Id"]; has {
		return "", []apiErr{errFields("INVALID_FIELD", "cannot specify Id in an insert call", "Id")}, nil
	}
	if errs := o.validateLocked(s, vals, order, nil); len(errs) > 0 {
		return "", errs, nil
	}
	if s.Name == "User" {
		if e := o.usernameTakenLocked(strOf(vals["Username"]), ""); e != nil {
			return "", []apiErr{*e}, nil
		}
	}
	canonicalRefs(s, vals)
	if e := o.duplicateCheckLocked(s, "", vals, hdr); e != nil {
		return "", []apiErr{*e}, nil
	}
	now := sfTime(o.now())
	rec := map[string]any{}
	for _, f := range s.fields {
		rec[f.Name] = nil
		if f.Type == TypeBoolean {
			rec[f.Name] = false
		}
		for _, p := range f.Picklist {
			if p.DefaultValue {
				rec[f.Name] = p.Value
			}
		}
	}
	for k, v := range vals {
		if v == nil && rec[k] != nil {
			continue // an explicit null on a defaulted field keeps the default
		}
		rec[k] = v
	}
	id := o.nextID(s.Name)
	rec["Id"] = id
	rec["IsDeleted"] = false
	rec["CreatedDate"], rec["LastModifiedDate"], rec["SystemModstamp"] = now, now, now
	rec["CreatedById"], rec["LastModifiedById"] = o.userID, o.userID
	if _, ok := s.field("OwnerId"); ok && rec["OwnerId"] == nil {
		rec["OwnerId"] = o.userID
	}
	if s.Name == "Lead" && o.cfg.LeadQueue != "" && autoAssign(hdr) {
		rec["OwnerId"] = o.cfg.LeadQueue
	}
	o.derive(s, rec)
	o.putLocked(s.Name, id, rec)
	return id, nil, nil
}

// autoAssign reports whether Sforce-Auto-Assign asks for assignment rules (the
// default when the header is absent).
func autoAssign(hdr http.Header) bool {
	v := strings.TrimSpace(hdr.Get("Sforce-Auto-Assign"))
	return !strings.EqualFold(v, "false")
}

// derive recomputes system-derived fields.
func (o *Org) derive(s *sobject, rec map[string]any) {
	switch s.Name {
	case "Lead", "Contact", "User":
		name := strings.TrimSpace(strings.TrimSpace(strOf(rec["FirstName"])) + " " + strOf(rec["LastName"]))
		rec["Name"] = name
	case "Task":
		closed := o.closedStatusLocked(rec["Status"])
		if closed && rec["IsClosed"] != true {
			rec["CompletedDateTime"] = sfTime(o.now())
		}
		if !closed {
			rec["CompletedDateTime"] = nil
		}
		rec["IsClosed"] = closed
		rec["AccountId"] = nil
		if who, ok := rec["WhoId"].(string); ok && objectForID(who) == "Contact" {
			if c := o.records["Contact"][who]; c != nil {
				rec["AccountId"] = c["AccountId"]
			}
		}
		if what, ok := rec["WhatId"].(string); ok && objectForID(what) == "Account" {
			rec["AccountId"] = what
		}
	}
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}

// updateLocked validates and applies an update to an existing record.
func (o *Org) updateLocked(s *sobject, id string, body map[string]any, hdr http.Header) ([]apiErr, *apiErr) {
	vals, order, rerr := parseFields(s, body)
	if rerr != nil {
		return nil, rerr
	}
	existing := o.records[s.Name][id]
	if s.Name == "Lead" && existing["IsConverted"] == true {
		return []apiErr{errFields("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")}, nil
	}
	if v, has := vals["Id"]; has {
		if cid, ok := canonicalID(strOf(v)); !ok || cid != id {
			return []apiErr{errFields("INVALID_ID_FIELD", "Id in the body does not match the record being updated", "Id")}, nil
		}
		delete(vals, "Id")
	}
	if errs := o.validateLocked(s, vals, order, existing); len(errs) > 0 {
		return errs, nil
	}
	canonicalRefs(s, vals)
	rec := make(map[string]any, len(existing))
	for k, v := range existing {
		rec[k] = v
	}
	for k, v := range vals {
		rec[k] = v
	}
	for _, f := range matchFields {
		if _, changes := vals[f]; changes {
			if e := o.duplicateCheckLocked(s, id, rec, hdr); e != nil {
				return []apiErr{*e}, nil
			}
			break
		}
	}
	now := sfTime(o.now())
	rec["LastModifiedDate"], rec["SystemModstamp"], rec["LastModifiedById"] = now, now, o.userID
	if s.Name == "Lead" && o.cfg.LeadQueue != "" && hdr.Get("Sforce-Auto-Assign") != "" && autoAssign(hdr) {
		rec["OwnerId"] = o.cfg.LeadQueue
	}
	o.derive(s, rec)
	o.putLocked(s.Name, id, rec)
	return nil, nil
}

var dupRuleNames = map[string][2]string{
	"Lead":    {"Standard_Lead_Duplicate_Rule", "Standard_Lead_Match_Rule_v1_0"},
	"Contact": {"Standard_Contact_Duplicate_Rule", "Standard_Contact_Match_Rule_v1_1"},
}

// duplicateCheckLocked runs the object's duplicate rule (if on) for a record with
// the given values (on update, the record as it would be saved); self is the
// record's own id on update. The rule sees every record, whoever owns it: the
// standard rules may bypass sharing.
func (o *Org) duplicateCheckLocked(s *sobject, self string, vals map[string]any, hdr http.Header) *apiErr {
	rule, ok := o.dupRules[s.Name]
	if !ok || !rule.Enabled {
		return nil
	}
	if rule.AllowSave && allowSaveHeader(hdr) {
		return nil
	}
	key := o.matchKeyLocked(s.Name, vals)
	var results []any
	for _, obj := range []string{s.Name, other(s.Name)} {
		var matches []any
		for _, id := range sortedIDs(o.records[obj]) {
			rec := o.records[obj][id]
			if id == self || rec["IsConverted"] == true || !key.matches(o.storedKeyLocked(obj, id, rec)) {
				continue
			}
			matches = append(matches, map[string]any{
				"additionalInformation": []any{}, "fieldDiffs": []any{}, "matchConfidence": 100.0,
				"record": project(obj, id, o.apiVersion(), rec, []string{"Id"}),
			})
		}
		if len(matches) == 0 {
			continue
		}
		results = append(results, map[string]any{
			"entityType": obj, "errors": []any{}, "matchEngine": "FuzzyMatchEngine", "matchRecords": matches,
			"rule": dupRuleNames[obj][1], "size": len(matches), "success": true,
		})
	}
	if len(results) == 0 {
		return nil
	}
	msg := "You're creating a duplicate record. We recommend you use an existing record instead."
	if rule.AllowSave {
		msg = "Use one of these records?"
	}
	e := apiErr{Code: "DUPLICATES_DETECTED", Message: msg, Fields: []string{}, Dup: map[string]any{
		"allowSave": rule.AllowSave, "duplicateRule": dupRuleNames[s.Name][0], "duplicateRuleEntityType": s.Name,
		"errorMessage": msg, "matchResults": results,
	}}
	return &e
}

func other(obj string) string {
	if obj == "Lead" {
		return "Contact"
	}
	return "Lead"
}

func allowSaveHeader(hdr http.Header) bool {
	for _, part := range strings.Split(hdr.Get("Sforce-Duplicate-Rule-Header"), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(strings.TrimSpace(k), "allowSave") && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// apiVersion is the version of the call being served (the newest outside one).
func (o *Org) apiVersion() string {
	if o.version != "" {
		return o.version
	}
	return fmt.Sprintf("%d.0", MaxVersion)
}

// usernameTakenLocked refuses a Username another user of the org already
// has (case-insensitively; Salesforce also counts every other org's).
func (o *Org) usernameTakenLocked(username, self string) *apiErr {
	for id, u := range o.records["User"] {
		if id != self && strings.EqualFold(strOf(u["Username"]), username) {
			e := errFields("DUPLICATE_USERNAME", "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address).", "Username")
			return &e
		}
	}
	return nil
}

// refuseUserWrite answers an API create or update of a User: the API user
// lacks "Manage Internal Users", which creating or updating a User needs
// (describe still says createable, as Salesforce's does).
func refuseUserWrite(s *sobject) *apiErr {
	if s.Name != "User" {
		return nil
	}
	e := errFields("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
	return &e
}

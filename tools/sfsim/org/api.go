package org

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Errors the Go API returns; callers branch on them with errors.Is.
var (
	ErrUnknownObject = errors.New("unknown sObject")
	ErrNotFound      = errors.New("record not found")
	ErrConverted     = errors.New("lead already converted")
	ErrInvalid       = errors.New("invalid record")
	ErrUnknownToken  = errors.New("unknown or already revoked token")
)

// SaveError carries the Salesforce errors that rejected a seeded record.
type SaveError struct {
	Object string
	Index  int
	Errors []APIError
}

// APIError is one Salesforce error: statusCode/errorCode, message, fields.
type APIError struct {
	Code    string   `json:"statusCode"`
	Message string   `json:"message"`
	Fields  []string `json:"fields"`
}

func (e *SaveError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		parts[i] = x.Code + ": " + x.Message
	}
	return fmt.Sprintf("seed %s[%d]: %s", e.Object, e.Index, strings.Join(parts, "; "))
}

func (e *SaveError) Unwrap() error { return ErrInvalid }

// Seed inserts records as an admin would, without counting API calls, without
// duplicate rules and without assignment rules; Salesforce's field validation still
// applies (an OwnerId must name an existing, and for a Lead, Contact or Task an
// active, user). It returns the new ids in order; on error nothing is inserted.
// A User takes IsActive true, the org's time zone and its Email as Username
// unless the record names them (see SeedUser).
func (o *Org) Seed(object string, recs ...map[string]any) ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.objectByName(object)
	if !ok || s.setup {
		return nil, fmt.Errorf("seed %s: %w", object, ErrUnknownObject)
	}
	rollback, end := o.beginTx()
	defer end()
	saved := o.dupRules
	o.dupRules = nil
	o.admin = true // an admin's field-level security: every field read/write
	defer func() { o.dupRules, o.admin = saved, false }()
	hdr := http.Header{"Sforce-Auto-Assign": {"FALSE"}}
	ids := make([]string, 0, len(recs))
	for i, rec := range recs {
		body, err := jsonRoundTrip(rec)
		if err != nil {
			rollback()
			return nil, fmt.Errorf("seed %s[%d]: %w", s.Name, i, err)
		}
		delete(body, "attributes")
		if s.Name == "User" {
			o.userDefaults(body)
		}
		id, errs, rerr := o.createLocked(s, body, hdr)
		if rerr != nil {
			errs = []apiErr{*rerr}
		}
		if len(errs) > 0 {
			rollback()
			se := &SaveError{Object: s.Name, Index: i}
			for _, e := range errs {
				se.Errors = append(se.Errors, APIError{Code: e.Code, Message: e.Message, Fields: e.Fields})
			}
			return nil, se
		}
		ids = append(ids, id)
	}
	o.saveAfterChangeLocked()
	return ids, nil
}

// userDefaults fills in what a seeded User leaves out, as the Setup page
// does: IsActive true, the org's default time zone, and the email as the
// username.
func (o *Org) userDefaults(body map[string]any) {
	has := func(name string) bool {
		for k := range body {
			if strings.EqualFold(k, name) {
				return true
			}
		}
		return false
	}
	if !has("IsActive") {
		body["IsActive"] = true
	}
	if !has("TimeZoneSidKey") {
		body["TimeZoneSidKey"] = o.cfg.TimeZone
	}
	if !has("UserType") {
		body["UserType"] = "Standard"
	}
	if !has("Username") {
		for k, v := range body {
			if strings.EqualFold(k, "Email") {
				body["Username"] = v
			}
		}
	}
}

// Records returns copies of an object's live records in creation order.
func (o *Org) Records(object string) []map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.objectByName(object)
	if !ok {
		return nil
	}
	store := o.records[s.Name]
	out := make([]map[string]any, 0, len(store))
	for _, id := range sortedIDs(store) {
		out = append(out, maps.Clone(store[id]))
	}
	return out
}

// Record returns a copy of one live record by its 15- or 18-character id.
func (o *Org) Record(object, id string) (map[string]any, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.objectByName(object)
	cid, okID := canonicalID(id)
	if !ok || !okID {
		return nil, false
	}
	rec, ok := o.records[s.Name][cid]
	return maps.Clone(rec), ok
}

// Stats are the API calls counted against the daily limit.
type Stats struct {
	Total      int            `json:"total"`
	Limit      int            `json:"limit"`
	Remaining  int            `json:"remaining"`
	ByEndpoint map[string]int `json:"byEndpoint"`
}

// Stats reports API usage.
func (o *Org) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Stats{Total: o.used, Limit: o.limit, Remaining: max(o.limit-o.used, 0), ByEndpoint: maps.Clone(o.byKey)}
}

// Reset empties the org: records, tokens, counters, faults, custom fields added
// since start and rule switches return to the configuration.
func (o *Org) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.resetLocked()
	o.saveAfterChangeLocked()
}

// SetDailyLimit changes the daily API allocation.
func (o *Org) SetDailyLimit(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.limit = n
	o.saveAfterChangeLocked()
}

// SetAPIUsage sets the number of calls already used today (e.g. near the limit).
func (o *Org) SetAPIUsage(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.used = n
}

// SetDuplicateRule switches the standard duplicate rule of Lead or Contact.
func (o *Org) SetDuplicateRule(object string, rule DuplicateRule) error {
	if object != "Lead" && object != "Contact" {
		return fmt.Errorf("duplicate rule for %q: only Lead and Contact have one: %w", object, ErrUnknownObject)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dupRules == nil {
		o.dupRules = map[string]DuplicateRule{}
	}
	o.dupRules[object] = rule
	o.saveAfterChangeLocked()
	return nil
}

// AddValidationRule activates a validation rule (RemoveValidationRules
// deactivates them all, as an admin fixing the cause would).
func (o *Org) AddValidationRule(r ValidationRule) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.valRules = append(o.valRules, r)
}

// RemoveValidationRules deactivates every validation rule.
func (o *Org) RemoveValidationRules() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.valRules = nil
}

// AddCustomField adds a custom field to an object.
func (o *Org) AddCustomField(object string, cf CustomField) error {
	f, err := cf.field()
	if err != nil {
		return fmt.Errorf("custom field on %s: %w", object, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.objectByName(object)
	if !ok {
		return fmt.Errorf("custom field on %s: %w", object, ErrUnknownObject)
	}
	if _, dup := s.field(f.Name); dup {
		return fmt.Errorf("custom field on %s: name: %s already exists", s.Name, f.Name)
	}
	s.add(f)
	o.saveAfterChangeLocked()
	return nil
}

// DeleteCustomField removes a custom field and its values; later writes that name it
// get INVALID_FIELD and queries get "No such column".
func (o *Org) DeleteCustomField(object, name string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.objectByName(object)
	if !ok {
		return fmt.Errorf("delete custom field %s.%s: %w", object, name, ErrUnknownObject)
	}
	f, ok := s.field(name)
	if !ok || !f.Custom {
		return fmt.Errorf("delete custom field %s.%s: name: no such custom field", s.Name, name)
	}
	s.remove(f.Name)
	for _, rec := range o.records[s.Name] {
		delete(rec, f.Name)
	}
	o.saveAfterChangeLocked()
	return nil
}

// RevokeRefreshToken revokes a refresh token (and the access tokens issued from it),
// as an admin does in Connected Apps OAuth Usage.
func (o *Org) RevokeRefreshToken(token string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.revokeRefreshLocked(token) {
		return ErrUnknownToken
	}
	o.saveAfterChangeLocked()
	return nil
}

// RevokeAllRefreshTokens revokes every refresh token of the app.
func (o *Org) RevokeAllRefreshTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for tok := range o.refresh {
		o.revokeRefreshLocked(tok)
	}
	o.saveAfterChangeLocked()
}

// SetUserActive activates or deactivates the org's user, as an admin does
// in Setup, Users. Deactivating ends the user's sessions; while the user is
// inactive, the token endpoint answers both grants 400 inactive_user, and
// the refresh tokens work again once the user is reactivated.
//
// It also sets the API user's User record's IsActive, so queries and owner
// checks see the change.
func (o *Org) SetUserActive(active bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.setActiveLocked(o.userID, active)
	o.saveAfterChangeLocked()
}

// SetUserActiveByID activates or deactivates any user of the org by id (15
// or 18 characters), as an admin does in Setup. For the API user it is
// SetUserActive. A record may not be given to an inactive user as its owner
// (INACTIVE_OWNER_OR_USER, except Accounts).
func (o *Org) SetUserActiveByID(id string, active bool) error {
	cid, ok := canonicalID(id)
	o.mu.Lock()
	defer o.mu.Unlock()
	if !ok || o.records["User"][cid] == nil {
		return fmt.Errorf("set user %s active: %w", id, ErrNotFound)
	}
	o.setActiveLocked(cid, active)
	o.saveAfterChangeLocked()
	return nil
}

// setActiveLocked sets a user's IsActive; deactivating the API user ends
// its sessions.
func (o *Org) setActiveLocked(id string, active bool) {
	if u := o.records["User"][id]; u != nil && u["IsActive"] != active {
		rec := maps.Clone(u)
		now := sfTime(o.now())
		rec["IsActive"], rec["LastModifiedDate"], rec["SystemModstamp"] = active, now, now
		o.putLocked("User", id, rec)
	}
	if id == o.userID && !active {
		for _, a := range o.access {
			a.Expired = true
		}
	}
}

// SeedUser adds a user to the org, as an admin does in Setup: its Email is
// also its Username, its LastName the email's local part, and tz its
// TimeZoneSidKey ("" for the org's default, Config.TimeZone). It returns
// the user's id.
func (o *Org) SeedUser(email string, active bool, tz string) (string, error) {
	rec := map[string]any{"Email": email, "IsActive": active}
	if local, _, ok := strings.Cut(email, "@"); ok && local != "" {
		rec["LastName"] = local
	}
	if tz != "" {
		rec["TimeZoneSidKey"] = tz
	}
	ids, err := o.Seed("User", rec)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// ExpireAccessTokens ends every current session; refresh tokens stay valid.
func (o *Org) ExpireAccessTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range o.access {
		a.Expired = true
	}
	o.saveAfterChangeLocked()
}

// Tokens is what a completed web server flow yields.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	InstanceURL  string
}

// IssueTokens mints tokens as if the user had completed the OAuth flow (scope "api
// refresh_token"). The org must be started.
func (o *Org) IssueTokens() Tokens {
	o.mu.Lock()
	defer o.mu.Unlock()
	resp := o.issueLocked(o.url, "api refresh_token", true, "")
	o.saveAfterChangeLocked()
	return Tokens{AccessToken: resp["access_token"], RefreshToken: resp["refresh_token"], InstanceURL: o.url}
}

// Conversion is the result of converting a Lead.
type Conversion struct {
	LeadID    string `json:"leadId"`
	ContactID string `json:"contactId"`
	AccountID string `json:"accountId"`
}

// Convert converts a Lead as a user does in Salesforce: it creates an Account (from
// Company) and a Contact, moves the Lead's open and closed Tasks to the Contact, and
// marks the Lead converted (IsConverted, ConvertedDate, ConvertedContactId,
// ConvertedAccountId, Status "Closed - Converted").
func (o *Org) Convert(leadID string) (Conversion, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	id, ok := canonicalID(leadID)
	lead := o.records["Lead"][id]
	if !ok || lead == nil {
		return Conversion{}, fmt.Errorf("convert lead %s: %w", leadID, ErrNotFound)
	}
	if lead["IsConverted"] == true {
		return Conversion{}, fmt.Errorf("convert lead %s: %w", leadID, ErrConverted)
	}
	rollback, end := o.beginTx()
	defer end()
	hdr := http.Header{"Sforce-Auto-Assign": {"FALSE"}}
	saved := o.dupRules
	o.dupRules = nil
	o.admin = true
	defer func() { o.dupRules, o.admin = saved, false }()
	accID, errs, _ := o.createLocked(o.objects["Account"], map[string]any{"Name": lead["Company"], "OwnerId": ownerUser(lead["OwnerId"], o.userID)}, hdr)
	if len(errs) > 0 {
		rollback()
		return Conversion{}, fmt.Errorf("convert lead %s: account: %s: %w", leadID, errs[0].Message, ErrInvalid)
	}
	contact := map[string]any{"AccountId": accID, "OwnerId": ownerUser(lead["OwnerId"], o.userID)}
	for _, f := range []string{"FirstName", "LastName", "Salutation", "Email", "Phone", "MobilePhone", "Title", "LeadSource", "Description", "HasOptedOutOfEmail"} {
		if v := lead[f]; v != nil {
			contact[f] = v
		}
	}
	conID, errs, _ := o.createLocked(o.objects["Contact"], contact, hdr)
	if len(errs) > 0 {
		rollback()
		return Conversion{}, fmt.Errorf("convert lead %s: contact: %s: %w", leadID, errs[0].Message, ErrInvalid)
	}
	for _, tid := range sortedIDs(o.records["Task"]) {
		t := maps.Clone(o.records["Task"][tid])
		if t["WhoId"] == id {
			t["WhoId"] = conID
			o.derive(o.objects["Task"], t)
			o.putLocked("Task", tid, t)
		}
	}
	l := maps.Clone(lead)
	now := o.now()
	l["IsConverted"] = true
	l["ConvertedDate"] = now.UTC().Format(time.DateOnly)
	l["ConvertedContactId"] = conID
	l["ConvertedAccountId"] = accID
	l["Status"] = "Closed - Converted"
	l["LastModifiedDate"], l["SystemModstamp"] = sfTime(now), sfTime(now)
	o.putLocked("Lead", id, l)
	o.saveAfterChangeLocked()
	return Conversion{LeadID: id, ContactID: conID, AccountID: accID}, nil
}

// ownerUser keeps a user owner; a queue cannot own a Contact or Account.
func ownerUser(v any, fallback string) string {
	if s, ok := v.(string); ok && objectForID(s) == "User" {
		return s
	}
	return fallback
}

// SetSharing sets the org-wide default of Lead or Contact.
func (o *Org) SetSharing(object string, s Sharing) error {
	if object != "Lead" && object != "Contact" {
		return fmt.Errorf("sharing of %q: only Lead and Contact are modelled: %w", object, ErrUnknownObject)
	}
	if s != SharingPublic && s != SharingPrivate {
		return fmt.Errorf("sharing of %s: %q is not %q or %q", object, s, SharingPublic, SharingPrivate)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sharing[object] = s
	return nil
}

// SetViewAll gives or takes the API user's "View All" on Lead or Contact.
func (o *Org) SetViewAll(object string, on bool) error {
	if object != "Lead" && object != "Contact" {
		return fmt.Errorf("view all on %q: only Lead and Contact are modelled: %w", object, ErrUnknownObject)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.viewAll[object] = on
	return nil
}

// SetViewAllData gives or takes the API user's "View All Data".
func (o *Org) SetViewAllData(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.viewAllData = on
}

// SetTaskStatuses replaces the org's Task statuses, as an admin editing the
// Status picklist does: describe and TaskStatus answer the new values.
// Exactly one must be the default and at least one closed; labels and API
// names (the label when unset) are each unique.
func (o *Org) SetTaskStatuses(statuses []TaskStatus) error {
	defaults, closed, seen, seenAPI := 0, 0, map[string]bool{}, map[string]bool{}
	for i, ts := range statuses {
		if strings.TrimSpace(ts.Label) == "" || seen[ts.Label] {
			return fmt.Errorf("task statuses[%d].label: empty or repeated", i)
		}
		if strings.TrimSpace(ts.apiName()) == "" || seenAPI[ts.apiName()] {
			return fmt.Errorf("task statuses[%d].api_name: empty or repeated", i)
		}
		seen[ts.Label], seenAPI[ts.apiName()] = true, true
		if ts.Default {
			defaults++
		}
		if ts.Closed {
			closed++
		}
	}
	if defaults != 1 || closed == 0 {
		return fmt.Errorf("task statuses: need exactly one default (got %d) and at least one closed (got %d)", defaults, closed)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taskStatuses = slices.Clone(statuses)
	task := o.objects["Task"]
	f := taskStatusField(o.taskStatuses)
	for i, old := range task.fields {
		if old.Name == "Status" {
			task.fields[i] = f
		}
	}
	task.byName[lower("Status")] = f
	return nil
}

// SetFieldUpdateable sets the API user's field-level security of one field,
// as an admin does in a profile or permission set: off gives Read without
// Edit, so describe reports the field neither createable nor updateable,
// and an API create or update that sends it fails with
// INVALID_FIELD_FOR_INSERT_UPDATE naming it (Seed and Convert, an admin's
// writes, still set it). On restores Edit. Only a permissionable field (one
// a user can write that is not required, see describe's permissionable)
// takes it: Salesforce keeps required and system fields out of field-level
// security. Reset restores every field.
func (o *Org) SetFieldUpdateable(object, field string, on bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.objectByName(object)
	if !ok || s.setup {
		return fmt.Errorf("field access on %s: %w", object, ErrUnknownObject)
	}
	f, ok := s.field(field)
	if !ok {
		return fmt.Errorf("field access on %s: field: no field %s", s.Name, field)
	}
	if !f.permissionable() {
		return fmt.Errorf("field access on %s: field: %s is not permissionable (required, read-only or system fields have no field-level security)", s.Name, f.Name)
	}
	if on {
		delete(s.readOnlyFLS, f.Name)
	} else {
		s.readOnlyFLS[f.Name] = true
	}
	return nil
}

// modifyAllObjects are the objects SetModifyAll takes.
var modifyAllObjects = map[string]bool{"Lead": true, "Contact": true, "Account": true, "Task": true}

// SetModifyAll gives or takes the API user's "Modify All" on Lead, Contact,
// Account or Task. It lets the user delete records other users own (without
// it, only its own) and includes View All on the object.
func (o *Org) SetModifyAll(object string, on bool) error {
	if !modifyAllObjects[object] {
		return fmt.Errorf("modify all on %q: only Lead, Contact, Account and Task are modelled: %w", object, ErrUnknownObject)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.modifyAll[object] = on
	return nil
}

// SetModifyAllData gives or takes the API user's "Modify All Data", which
// includes Modify All on every object and View All Data.
func (o *Org) SetModifyAllData(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.modifyAllAll = on
}

// Delete deletes records as an admin does in Salesforce (a user in the
// record's page, or the Recycle Bin's opposite): by 15- or 18-character id,
// of any type and owner, without counting an API call. A Lead's or
// Contact's Tasks go with it, as in an API delete. All or none: an id that
// names no live record (never created, or deleted already) fails the call
// with ErrNotFound and deletes nothing.
func (o *Org) Delete(ids ...string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	rollback, end := o.beginTx()
	defer end()
	for _, raw := range ids {
		id, ok := canonicalID(raw)
		obj := objectForID(id)
		if obj == "User" {
			rollback()
			return fmt.Errorf("delete %s: users are deactivated (SetUserActiveByID), never deleted: %w", raw, ErrInvalid)
		}
		if !ok || o.records[obj][id] == nil {
			rollback()
			return fmt.Errorf("delete %s: %w", raw, ErrNotFound)
		}
		o.deleteCascadeLocked(obj, id)
	}
	o.saveAfterChangeLocked()
	return nil
}

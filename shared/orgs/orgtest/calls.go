package orgtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// FindByEmail implements both engines' Org.FindByEmail as orgs does: exact
// and case-insensitive, keyed by normalized email; a Contact is preferred
// over a converted Lead (which resolves to its Contact) over an
// unconverted Lead, and among records of one kind the most recently
// modified wins. Emails Salesforce could not store are not found.
func (o *Org) FindByEmail(_ context.Context, emails []string) (map[string]ledger.Match, error) {
	if err := o.begin(CallFind); err != nil {
		return nil, fmt.Errorf("find %d emails: %w", len(emails), err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	found := map[string]ledger.Match{}
	for _, e := range emails {
		k := ledger.NormalizeEmail(e)
		if !orgs.Searchable(k) {
			continue
		}
		if m, ok := o.matchLocked(k); ok {
			found[k] = m
		}
	}
	return found, nil
}

// matchLocked returns the best match of the normalized email k.
func (o *Org) matchLocked(k string) (ledger.Match, bool) {
	var contact, converted, lead *Record
	newer := func(best, r *Record) bool { return best == nil || r.modified > best.modified }
	for _, r := range o.records {
		if ledger.NormalizeEmail(r.Email()) != k {
			continue
		}
		switch {
		case r.Object == Contact && newer(contact, r):
			contact = r
		case r.Object == Lead && r.ConvertedContactID != "" && newer(converted, r):
			converted = r
		case r.Object == Lead && r.ConvertedContactID == "" && newer(lead, r):
			lead = r
		}
	}
	switch {
	case contact != nil:
		return ledger.Match{Object: event.ObjectContact, ID: contact.ID, Rule: orgs.RuleContact}, true
	case converted != nil:
		return ledger.Match{Object: event.ObjectContact, ID: converted.ConvertedContactID, Rule: orgs.RuleConvertedLead}, true
	case lead != nil:
		return ledger.Match{Object: event.ObjectLead, ID: lead.ID, Rule: orgs.RuleLead}, true
	}
	return ledger.Match{}, false
}

// Create implements both engines' Org.Create: one result per record, in
// the order of records (allOrNone false). A record without
// attributes.type fails with orgs.CodeMissingType, one sending a field the
// test made not updateable (SetFieldUpdateable) with
// INVALID_FIELD_FOR_INSERT_UPDATE, one missing a required field with
// REQUIRED_FIELD_MISSING, one whose email is refused (Refuse)
// with its error, unless it is a duplicate whose rule allows saving and
// opts.AllowSaveOnDuplicate asks to. A failed call (FailNext) saves
// nothing; a lost answer (LoseNextAnswer) saves everything and fails.
func (o *Org) Create(_ context.Context, records []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	if err := o.begin(CallCreate); err != nil {
		return nil, fmt.Errorf("create %d records: %w", len(records), err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	results := make([]salesforce.SaveResult, len(records))
	for i, rec := range records {
		results[i] = o.saveLocked(i, rec, opts)
	}
	if o.lostOf[CallCreate] > 0 {
		o.lostOf[CallCreate]--
		return nil, fmt.Errorf("create %d records: answer lost: %w", len(records), Transient())
	}
	return results, nil
}

// saveLocked saves the i-th record of a Create, or says why not.
func (o *Org) saveLocked(i int, rec salesforce.SObject, opts salesforce.WriteOptions) salesforce.SaveResult {
	object := typeOf(rec)
	if object == "" {
		return refused(salesforce.ErrorItem{Code: orgs.CodeMissingType, Message: fmt.Sprintf("records[%d].attributes.type is missing", i)})
	}
	if e, locked := o.flsRefusalLocked(object, rec); locked {
		return refused(e)
	}
	if missing := missingFields(object, rec); len(missing) > 0 {
		return refused(RequiredFieldMissing(missing...))
	}
	if e, bad := o.badReferenceLocked(object, rec); bad {
		return refused(e)
	}
	if who, _ := rec["WhoId"].(string); who != "" {
		if r, ok := o.records[who]; ok && r.ConvertedContactID != "" {
			// A converted Lead is read-only: nothing may reference it.
			return refused(salesforce.ErrorItem{Code: salesforce.CodeCannotUpdateConverted,
				Message: "cannot reference converted lead", Fields: []string{"WhoId"}})
		}
	}
	email, _ := rec["Email"].(string)
	if e, ok := o.refused[ledger.NormalizeEmail(email)]; ok && email != "" {
		allowed := e.Duplicates != nil && e.Duplicates.AllowSave && opts.AllowSaveOnDuplicate
		if !allowed {
			return refused(e)
		}
	}
	return salesforce.SaveResult{ID: o.addLocked(object, rec).ID, Success: true}
}

func refused(e salesforce.ErrorItem) salesforce.SaveResult {
	return salesforce.SaveResult{Errors: []salesforce.ErrorItem{e}}
}

// typeOf returns a record's attributes.type.
func typeOf(rec salesforce.SObject) string {
	switch a := rec["attributes"].(type) {
	case salesforce.Attributes:
		return a.Type
	case *salesforce.Attributes:
		if a != nil {
			return a.Type
		}
	case map[string]any:
		t, _ := a["type"].(string)
		return t
	}
	return ""
}

// requiredFields are the fields Salesforce requires on create, by object.
var requiredFields = map[string][]string{Lead: {"LastName", "Company"}, Contact: {"LastName"}}

func missingFields(object string, rec salesforce.SObject) []string {
	var missing []string
	for _, f := range requiredFields[object] {
		if s, _ := rec[f].(string); strings.TrimSpace(s) == "" {
			missing = append(missing, f)
		}
	}
	return missing
}

// DescribeTask implements activitysync.Org.DescribeTask with what
// SetTaskFields set.
func (o *Org) DescribeTask(context.Context) (activitysync.TaskFields, error) {
	if err := o.begin(CallDescribe); err != nil {
		return activitysync.TaskFields{}, fmt.Errorf("describe Task: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.taskFields, nil
}

// FindTasks implements activitysync.Org.FindTasks as orgs does: through
// keyField (which must be the Task key field SetTaskFields set, as the
// org's query would otherwise name an unknown field), or else among the
// Tasks of whoIDs whose Subject starts with activitysync.SubjectPrefix,
// reading each key from the Description.
func (o *Org) FindTasks(_ context.Context, keyField string, keys, whoIDs []string) (map[string]string, error) {
	if err := o.begin(CallTasks); err != nil {
		return nil, fmt.Errorf("find tasks: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if keyField != "" && keyField != o.taskFields.KeyField {
		return nil, fmt.Errorf("find tasks by %s: no such field on Task: %w", keyField, orgs.ErrBadInput)
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	found := map[string]string{}
	for _, id := range o.order {
		if k, ok := o.taskKeyLocked(o.records[id], keyField, whoIDs); ok && want[k] {
			found[k] = id
		}
	}
	return found, nil
}

// taskKeyLocked returns the activity key of r as FindTasks reads it, and
// whether r is a Task the lookup sees at all.
func (o *Org) taskKeyLocked(r *Record, keyField string, whoIDs []string) (string, bool) {
	if r.Object != Task {
		return "", false
	}
	if keyField != "" {
		k, ok := r.Fields[keyField].(string)
		return k, ok
	}
	who, _ := r.Fields["WhoId"].(string)
	subject, _ := r.Fields["Subject"].(string)
	if who == "" || !slices.Contains(whoIDs, who) || !strings.HasPrefix(subject, activitysync.SubjectPrefix) {
		return "", false
	}
	desc, _ := r.Fields["Description"].(string)
	return activitysync.KeyFromDescription(desc), true
}

// Transient is a passing Salesforce fault of a whole call (503
// SERVER_UNAVAILABLE): it matches salesforce.ErrTransient.
func Transient() error {
	return &salesforce.APIError{StatusCode: 503, Code: salesforce.CodeServerUnavailable, Message: "Server temporarily unavailable"}
}

// RequiredFieldMissing is Salesforce's refusal of a record without the
// fields.
func RequiredFieldMissing(fields ...string) salesforce.ErrorItem {
	return salesforce.ErrorItem{Code: "REQUIRED_FIELD_MISSING",
		Message: "Required fields are missing: [" + strings.Join(fields, ", ") + "]", Fields: fields}
}

// Duplicate is a duplicate rule's refusal of a record, matching the
// record id of object, with a duplicateResult naming it (Salesforce's
// single-record answer; its sObject Collections leave the block out). The
// rule is an alert rule: Create saves anyway when the write options allow
// saving duplicates. Set Duplicates.AllowSave to false for a block rule.
func Duplicate(object, id string) salesforce.ErrorItem {
	block := map[string]any{
		"allowSave": true, "duplicateRule": "Standard_" + object + "_Duplicate_Rule", "duplicateRuleEntityType": object,
		"errorMessage": "Use one of these records?",
		"matchResults": []any{map[string]any{"entityType": object, "matchEngine": "FuzzyMatchEngine", "size": 1,
			"matchRecords": []any{map[string]any{"matchConfidence": 100.0,
				"record": map[string]any{"attributes": map[string]any{"type": object}, "Id": id}}}}},
	}
	raw, err := json.Marshal(map[string]any{"errorCode": salesforce.CodeDuplicatesDetected, "message": "Use one of these records?", "duplicateResut": block})
	if err != nil {
		panic(err) // a literal of maps and strings always encodes
	}
	var e salesforce.ErrorItem
	if err := json.Unmarshal(raw, &e); err != nil {
		panic(err)
	}
	return e
}

// badReferenceLocked checks a new record's OwnerId and AccountId as
// Salesforce does: the owner an existing active User, the Account an
// existing Account.
func (o *Org) badReferenceLocked(object string, rec salesforce.SObject) (salesforce.ErrorItem, bool) {
	if owner, _ := rec["OwnerId"].(string); owner != "" {
		u, ok := o.records[owner]
		switch {
		case !ok || u.Object != User:
			return salesforce.ErrorItem{Code: "INVALID_CROSS_REFERENCE_KEY", Message: "invalid cross reference id", Fields: []string{"OwnerId"}}, true
		case u.Fields["IsActive"] == false:
			return salesforce.ErrorItem{Code: salesforce.CodeInactiveOwnerOrUser,
				Message: fmt.Sprintf("operation performed with inactive user [%s] as owner of %s", owner, strings.ToLower(object))}, true
		}
	}
	if acct, _ := rec["AccountId"].(string); acct != "" {
		if a, ok := o.records[acct]; !ok || a.Object != Account {
			return salesforce.ErrorItem{Code: "INVALID_CROSS_REFERENCE_KEY", Message: "invalid cross reference id", Fields: []string{"AccountId"}}, true
		}
	}
	return salesforce.ErrorItem{}, false
}

// Look implements attribution.Directory.Look as orgs does: the users
// whose email is one of the reps' (case-insensitively; an active one over
// an inactive one), and the Accounts whose Website contains one of the
// domains or whose Name is one of the names.
func (o *Org) Look(_ context.Context, q attribution.Query) (attribution.Found, error) {
	if err := o.begin(CallLook); err != nil {
		return attribution.Found{}, fmt.Errorf("look up reps and accounts: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	found := attribution.Found{Users: map[string]attribution.User{}}
	for _, id := range o.order {
		r := o.records[id]
		switch r.Object {
		case User:
			if t, ok := r.Fields["UserType"].(string); ok && t != "Standard" {
				continue // partner, customer and Chatter-only users own nothing of a team's
			}
			e := attribution.NormalizeEmail(r.Email())
			active := r.Fields["IsActive"] != false
			if had, ok := found.Users[e]; slices.Contains(q.RepEmails, e) && (!ok || (active && !had.Active)) {
				found.Users[e] = attribution.User{ID: r.ID, Active: active}
			}
		case Account:
			if o.accountWantedLocked(r, q) {
				name, _ := r.Fields["Name"].(string)
				site, _ := r.Fields["Website"].(string)
				found.Accounts = append(found.Accounts, attribution.Account{ID: r.ID, Name: name, Website: site, Created: time.Unix(r.modified, 0).UTC()})
			}
		}
	}
	return found, nil
}

func (o *Org) accountWantedLocked(r *Record, q attribution.Query) bool {
	name, _ := r.Fields["Name"].(string)
	site, _ := r.Fields["Website"].(string)
	for _, d := range q.Domains {
		if strings.Contains(strings.ToLower(site), d) {
			return true
		}
	}
	for _, n := range q.Names {
		if strings.EqualFold(strings.TrimSpace(name), n) {
			return true
		}
	}
	return false
}

// ContactCounts implements attribution.Directory.ContactCounts.
func (o *Org) ContactCounts(_ context.Context, accountIDs, domains []string) (map[string]map[string]int, error) {
	if err := o.begin(CallCount); err != nil {
		return nil, fmt.Errorf("count contacts: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	counts := map[string]map[string]int{}
	for _, r := range o.records {
		acct, _ := r.Fields["AccountId"].(string)
		d := attribution.EmailDomain(r.Email())
		if r.Object != Contact || !slices.Contains(accountIDs, acct) || !slices.Contains(domains, d) {
			continue
		}
		if counts[acct] == nil {
			counts[acct] = map[string]int{}
		}
		counts[acct][d]++
	}
	return counts, nil
}

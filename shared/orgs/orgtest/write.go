package orgtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
)

var _ orgs.RecordWriter = (*Org)(nil)

// UpdateRecords implements the engines' Org.UpdateRecords as orgs does
// against Salesforce (sObject Collections updates), answering each record
// as the Salesforce simulator does, in the order of records:
//
//   - without attributes.type: orgs.CodeMissingType; without an Id:
//     MISSING_ARGUMENT (neither is sent, so neither costs a call);
//   - a User: INSUFFICIENT_ACCESS_OR_READONLY (the API user may not manage
//     users);
//   - an Id that is malformed or of another object: MALFORMED_ID naming Id,
//     without an id;
//   - a deleted record: ENTITY_IS_DELETED; one the org never had:
//     INVALID_CROSS_REFERENCE_KEY; a converted Lead:
//     CANNOT_UPDATE_CONVERTED_LEAD;
//   - a field the test made not updateable (SetFieldUpdateable) or a system
//     field (Name, IsConverted, CreatedDate...): INVALID_FIELD_FOR_INSERT_UPDATE
//     naming them, nothing saved;
//   - a required field (LastName, Company on a Lead) set empty:
//     REQUIRED_FIELD_MISSING; OwnerId set to null: INVALID_CROSS_REFERENCE_KEY;
//     a checkbox set to null: INVALID_TYPE_ON_FIELD_IN_RECORD; an OwnerId or
//     AccountId naming no active user or no Account: as Create answers it.
//
// A record updated becomes the most recently modified; an empty string is
// stored as null, as Salesforce stores it. What the memory org does not
// model, the simulator checks: unknown fields (Salesforce refuses the whole
// call), value types and lengths, emails, picklists, duplicate rules.
//
// One call (CallUpdate) is counted per 200 records sent, grouped by type
// as orgs groups them; each asks the budget (SetBudget) and takes the next
// injected failure (FailNext): a failure that may pass fails the update
// with no results (the calls before it stay done), a lasting refusal of the
// whole call (an *salesforce.APIError such as 400 INVALID_FIELD) is each of
// the call's records' refusal, as orgs sorts them. LoseNextAnswerOf(CallUpdate)
// saves a call's records and then fails it with a transient error.
func (o *Org) UpdateRecords(_ context.Context, records []salesforce.SObject) ([]salesforce.SaveResult, error) {
	results := make([]salesforce.SaveResult, len(records))
	var order []int
	for i, r := range records {
		switch {
		case typeOf(r) == "":
			results[i] = refused(salesforce.ErrorItem{Code: orgs.CodeMissingType, Message: fmt.Sprintf("records[%d].attributes.type is missing", i)})
		case r.ID() == "":
			results[i] = refused(salesforce.ErrorItem{Code: orgs.CodeMissingArgument, Message: "Id not specified in an update call", Fields: []string{}})
		default:
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return typeOf(records[order[a]]) < typeOf(records[order[b]]) })
	err := o.calls200(CallUpdate, order, results, func(i int) salesforce.SaveResult { return o.updateLocked(records[i]) })
	if err != nil {
		return nil, fmt.Errorf("update %d records: %w", len(records), err)
	}
	return results, nil
}

// DeleteRecords implements the engines' Org.DeleteRecords as orgs does
// against Salesforce (sObject Collections deletes), answering each id as
// the Salesforce simulator does, in the order of ids, a refused id without
// an id: MALFORMED_ID for what is no record id (not sent);
// INVALID_TYPE_FOR_OPERATION for a User; ENTITY_IS_DELETED for a record
// deleted already (earlier in the same call too); INVALID_CROSS_REFERENCE_KEY
// for one the org never had; INSUFFICIENT_ACCESS_OR_READONLY for a record
// whose OwnerId names another user than the connected one
// (ConnectedUserID), unless SetModifyAll gave Modify All on its object. A
// record without an OwnerId is the connected user's. Deleting a Lead or a
// Contact deletes the Tasks whose WhoId names it, whoever owns them.
//
// Calls, budget and injected failures are counted and applied as
// UpdateRecords does, per 200 ids (CallDelete).
func (o *Org) DeleteRecords(_ context.Context, ids []string) ([]salesforce.SaveResult, error) {
	results := make([]salesforce.SaveResult, len(ids))
	var order []int
	for i, id := range ids {
		if !salesforce.ValidID(id) {
			results[i] = refused(salesforce.ErrorItem{Code: orgs.CodeMalformedID, Message: "malformed id " + id})
			continue
		}
		order = append(order, i)
	}
	if err := o.calls200(CallDelete, order, results, func(i int) salesforce.SaveResult { return o.deleteLocked(ids[i]) }); err != nil {
		return nil, fmt.Errorf("delete %d records: %w", len(ids), err)
	}
	return results, nil
}

// calls200 runs one call of kind c per 200 positions of order, answering
// each position with do (under the org's lock).
func (o *Org) calls200(c Call, order []int, results []salesforce.SaveResult, do func(i int) salesforce.SaveResult) error {
	for start := 0; start < len(order); start += salesforce.MaxCollection {
		batch := order[start:min(start+salesforce.MaxCollection, len(order))]
		if err := o.begin(c); err != nil {
			var api *salesforce.APIError
			if !errors.As(err, &api) || passing(err) {
				return err
			}
			items := api.All
			if len(items) == 0 {
				items = []salesforce.ErrorItem{{Code: api.Code, Message: api.Message, Fields: api.Fields}}
			}
			for _, i := range batch {
				results[i] = salesforce.SaveResult{Errors: items}
			}
			continue
		}
		o.mu.Lock()
		for _, i := range batch {
			results[i] = do(i)
		}
		lost := o.lostOf[c] > 0
		if lost {
			o.lostOf[c]--
		}
		o.mu.Unlock()
		if lost {
			return fmt.Errorf("answer lost: %w", Transient())
		}
	}
	return nil
}

// passing reports a failure orgs returns as the whole write's error.
func passing(err error) bool {
	return errors.Is(err, salesforce.ErrTransient) || errors.Is(err, salesforce.ErrRequestLimit) ||
		errors.Is(err, salesforce.ErrConcurrentLimit) || errors.Is(err, salesforce.ErrSessionExpired)
}

// findLocked returns the live record of a 15- or 18-character id, and
// whether the id names a deleted one (with its 18-character id).
func (o *Org) findLocked(id string) (r *Record, deleted string) {
	if r, ok := o.records[id]; ok {
		return r, ""
	}
	for full := range o.records {
		if sameID(full, id) {
			return o.records[full], ""
		}
	}
	for full := range o.deleted {
		if sameID(full, id) {
			return nil, full
		}
	}
	return nil, ""
}

var noFields = []string{}

// updateLocked updates one record of UpdateRecords, or says why not.
func (o *Org) updateLocked(rec salesforce.SObject) salesforce.SaveResult {
	object, raw := typeOf(rec), rec.ID()
	fail := func(id string, e salesforce.ErrorItem) salesforce.SaveResult {
		return salesforce.SaveResult{ID: id, Errors: []salesforce.ErrorItem{e}}
	}
	if object == User {
		return fail(raw, salesforce.ErrorItem{Code: "INSUFFICIENT_ACCESS_OR_READONLY", Message: "insufficient access rights on object id", Fields: noFields})
	}
	prefix, ok := idPrefixes[object]
	if !ok {
		prefix = "001"
	}
	if !salesforce.ValidID(raw) || !strings.HasPrefix(raw, prefix) {
		return fail("", salesforce.ErrorItem{Code: "MALFORMED_ID", Message: object + " ID: id value of incorrect type: " + raw, Fields: []string{"Id"}})
	}
	r, deleted := o.findLocked(raw)
	switch {
	case deleted != "":
		return fail(deleted, salesforce.ErrorItem{Code: salesforce.CodeEntityIsDeleted, Message: "entity is deleted", Fields: noFields})
	case r == nil:
		return fail(raw, salesforce.ErrorItem{Code: salesforce.CodeInvalidCrossReference, Message: "invalid cross reference id", Fields: noFields})
	case r.ConvertedContactID != "":
		return fail(r.ID, salesforce.ErrorItem{Code: salesforce.CodeCannotUpdateConverted, Message: "cannot reference converted lead", Fields: noFields})
	}
	vals := map[string]any{}
	for k, v := range rec {
		if k == "attributes" || strings.EqualFold(k, "Id") {
			continue
		}
		if s, ok := v.(string); ok && s == "" {
			v = nil // Salesforce stores an empty string as null
		}
		vals[k] = v
	}
	names := fieldsInOrder(object, vals)
	var locked []string
	for _, k := range names {
		if o.notUpdateableLocked(object, k) {
			locked = append(locked, k)
		}
	}
	if len(locked) > 0 {
		return fail(r.ID, notWritable(locked))
	}
	var missing []string
	for _, k := range requiredFields[object] {
		if v, present := lookup(vals, k); present && v == nil {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fail(r.ID, RequiredFieldMissing(missing...))
	}
	var errs []salesforce.ErrorItem
	for _, k := range names {
		v := vals[k]
		switch label, checkbox := checkboxes[object][canonical(object, k)]; {
		case v == nil && strings.EqualFold(k, "OwnerId"):
			errs = append(errs, salesforce.ErrorItem{Code: salesforce.CodeInvalidCrossReference, Message: "Owner ID: owner cannot be blank", Fields: []string{"OwnerId"}})
		case v == nil && checkbox:
			errs = append(errs, salesforce.ErrorItem{Code: "INVALID_TYPE_ON_FIELD_IN_RECORD", Message: label + ": value not of required type: ", Fields: []string{canonical(object, k)}})
		case v != nil && (strings.EqualFold(k, "OwnerId") || strings.EqualFold(k, "AccountId")):
			if e, bad := o.badReferenceLocked(object, salesforce.SObject{canonical(object, k): v}); bad {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return salesforce.SaveResult{ID: r.ID, Errors: errs}
	}
	for k, v := range vals {
		for have := range r.Fields {
			if strings.EqualFold(have, k) {
				delete(r.Fields, have)
			}
		}
		r.Fields[canonical(object, k)] = v
	}
	o.writes++
	r.modified = o.writes
	return salesforce.SaveResult{ID: r.ID, Success: true, Errors: []salesforce.ErrorItem{}}
}

// deleteLocked deletes one record of DeleteRecords, or says why not.
func (o *Org) deleteLocked(raw string) salesforce.SaveResult {
	fail := func(code, message string) salesforce.SaveResult {
		return salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: code, Message: message, Fields: noFields}}}
	}
	if strings.HasPrefix(raw, idPrefixes[User]) {
		return fail("INVALID_TYPE_FOR_OPERATION", "entity type User does not support delete")
	}
	r, deleted := o.findLocked(raw)
	switch {
	case deleted != "":
		return fail(salesforce.CodeEntityIsDeleted, "entity is deleted")
	case r == nil:
		return fail(salesforce.CodeInvalidCrossReference, "invalid cross reference id")
	}
	if owner, _ := r.Fields["OwnerId"].(string); owner != "" && !sameID(owner, ConnectedUserID) && !o.modifyAll[r.Object] {
		return fail("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
	}
	if r.Object == Lead || r.Object == Contact {
		for _, id := range slices.Clone(o.order) {
			t := o.records[id]
			if who, _ := t.Fields["WhoId"].(string); t.Object == Task && sameID(who, r.ID) {
				o.removeLocked(t)
			}
		}
	}
	o.removeLocked(r)
	return salesforce.SaveResult{ID: r.ID, Success: true, Errors: []salesforce.ErrorItem{}}
}

// removeLocked deletes r: gone from the org, remembered as deleted.
func (o *Org) removeLocked(r *Record) {
	delete(o.records, r.ID)
	o.order = slices.DeleteFunc(o.order, func(id string) bool { return id == r.ID })
	o.deleted[r.ID] = r.Object
}

// SetFieldUpdateable sets the connected user's field-level security of one
// field of object, as the simulator's switch does (an admin's profile or
// permission set): off gives Read without Edit, so an UpdateRecords or a
// Create that sends the field fails with INVALID_FIELD_FOR_INSERT_UPDATE
// naming it, and nothing of that record is saved; on restores Edit. Seed
// and Update, an admin's writes, still set it. The field is matched
// case-insensitively. Unlike the simulator, nothing refuses a required or
// system field here: give it a field a user can edit.
func (o *Org) SetFieldUpdateable(object, field string, on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.readOnly[object] == nil {
		o.readOnly[object] = map[string]string{}
	}
	if on {
		delete(o.readOnly[object], strings.ToLower(field))
		return
	}
	o.readOnly[object][strings.ToLower(field)] = canonical(object, field)
}

// SetModifyAll gives or takes the connected user's "Modify All" on object,
// which lets DeleteRecords delete records other users own.
func (o *Org) SetModifyAll(object string, on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.modifyAll[object] = on
}

// flsRefusalLocked is Create's refusal of a record that sends fields the
// test made not updateable, if it does.
func (o *Org) flsRefusalLocked(object string, rec salesforce.SObject) (salesforce.ErrorItem, bool) {
	var locked []string
	for _, k := range fieldsInOrder(object, rec) {
		if _, ok := o.readOnly[object][strings.ToLower(k)]; ok {
			locked = append(locked, canonical(object, k))
		}
	}
	if len(locked) == 0 {
		return salesforce.ErrorItem{}, false
	}
	return notWritable(locked), true
}

// notUpdateableLocked reports whether an update may not set field k of
// object: the test switched it off, or it is a system field.
func (o *Org) notUpdateableLocked(object, k string) bool {
	if _, ok := o.readOnly[object][strings.ToLower(k)]; ok {
		return true
	}
	return slices.ContainsFunc(append(systemFields[object], systemFields[""]...), func(s string) bool { return strings.EqualFold(s, k) })
}

func notWritable(fields []string) salesforce.ErrorItem {
	return salesforce.ErrorItem{Code: "INVALID_FIELD_FOR_INSERT_UPDATE",
		Message: fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", strings.Join(fields, ", ")),
		Fields:  fields}
}

func lookup(vals map[string]any, name string) (any, bool) {
	for k, v := range vals {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// The simulator's schema, as far as the memory org models it.
var (
	// fieldOrder is the field order of Lead and Contact: Salesforce names
	// the fields of one refusal in it.
	fieldOrder = map[string][]string{
		Lead: {"Id", "LastName", "FirstName", "Salutation", "Name", "Title", "Company", "Street", "City", "State", "PostalCode", "Country",
			"Phone", "MobilePhone", "Email", "Website", "Description", "LeadSource", "Status", "Industry", "Rating", "AnnualRevenue",
			"NumberOfEmployees", "OwnerId", "HasOptedOutOfEmail", "IsConverted", "ConvertedDate", "ConvertedAccountId", "ConvertedContactId",
			"ConvertedOpportunityId", "IsUnreadByOwner", "EmailBouncedReason", "EmailBouncedDate"},
		Contact: {"Id", "AccountId", "LastName", "FirstName", "Salutation", "Name", "MailingStreet", "MailingCity", "MailingState",
			"MailingPostalCode", "MailingCountry", "Phone", "MobilePhone", "Email", "Title", "Department", "LeadSource", "Birthdate",
			"Description", "OwnerId", "HasOptedOutOfEmail", "EmailBouncedReason", "EmailBouncedDate"},
	}
	// checkboxes are the checkbox fields a user may write, with their
	// labels: never null.
	checkboxes = map[string]map[string]string{
		Lead:    {"HasOptedOutOfEmail": "Email Opt Out", "IsUnreadByOwner": "Unread By Owner"},
		Contact: {"HasOptedOutOfEmail": "Email Opt Out"},
	}
	// systemFields are the fields no update sets, by object ("": every
	// object's).
	systemFields = map[string][]string{
		"":      {"IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp"},
		Lead:    {"Name", "IsConverted", "ConvertedDate", "ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId"},
		Contact: {"Name"},
		Task:    {"IsClosed", "AccountId", "TaskSubtype", "CompletedDateTime"},
	}
)

// canonical spells a field of object as the schema does, if the memory org
// knows it.
func canonical(object, k string) string {
	for _, f := range fieldOrder[object] {
		if strings.EqualFold(f, k) {
			return f
		}
	}
	return k
}

// fieldsInOrder returns the keys of vals in the object's field order, the
// fields it does not know after, by name.
func fieldsInOrder[V any](object string, vals map[string]V) []string {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	at := func(k string) int {
		for i, f := range fieldOrder[object] {
			if strings.EqualFold(f, k) {
				return i
			}
		}
		return len(fieldOrder[object])
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := at(keys[i]), at(keys[j]); a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}

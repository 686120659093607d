package org

// The DuplicateRule setup object: the org's standard Lead and Contact
// duplicate rules, queryable as Salesforce serves them (DeveloperName,
// MasterLabel, SobjectType, IsActive), IsActive following the rule switches
// (Config.DuplicateRules, SetDuplicateRule).

// standardDuplicateRules are the rules a new org ships, by object.
var standardDuplicateRules = []struct{ object, name, label string }{
	{"Lead", "Standard_Lead_Duplicate_Rule", "Standard Lead Duplicate Rule"},
	{"Contact", "Standard_Contact_Duplicate_Rule", "Standard Contact Duplicate Rule"},
}

// duplicateRuleObject is DuplicateRule's schema.
func duplicateRuleObject() *sobject {
	str := func(name, label string, n int) *Field { return readOnly(fStr(name, label, n)) }
	return newObject("DuplicateRule", "Duplicate Rule", "Duplicate Rules",
		fID(), str("DeveloperName", "Rule Name", 80), str("MasterLabel", "Master Label", 80),
		str("SobjectType", "Object", 40), readOnly(fBool("IsActive", "Active")))
}

// duplicateRuleRecordsLocked builds DuplicateRule's records from the org's
// rule switches.
func (o *Org) duplicateRuleRecordsLocked(add func(id string, rec map[string]any)) {
	for i, r := range standardDuplicateRules {
		add(makeID(keyPrefixes["DuplicateRule"], "5g", uint64(i+1)), map[string]any{
			"DeveloperName": r.name, "MasterLabel": r.label, "SobjectType": r.object, "IsActive": o.dupRules[r.object].Enabled})
	}
}

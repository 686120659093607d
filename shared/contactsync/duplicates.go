package contactsync

import (
	"context"
	"slices"
	"strings"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// linkDuplicates follows a DUPLICATES_DETECTED answer to the record with
// the contact's email, looked up again (one racing create may have made it
// since the first lookup). A record the rule matched on something else (a
// new org's standard rules match the name plus the email, the phone, or the
// title and company) is another person as far as the sync knows: it is
// never linked, and the contact fails with DUPLICATES_DETECTED, the
// matched ids when Salesforce names them (sObject Collections do not) and
// what to do. It returns the final states of the owners in dupes (indexes
// of owners and results) and of their followers.
func (p part) linkDuplicates(ctx context.Context, dupes []int, results []salesforce.SaveResult, owners []item, followers map[string][]item) ([]ending, error) {
	emails := make([]string, 0, len(dupes))
	for _, i := range dupes {
		emails = append(emails, ledger.NormalizeEmail(owners[i].m.Email))
	}
	found, err := p.org.FindByEmail(ctx, emails)
	if err != nil {
		return nil, salesforceErr("look duplicates up", err)
	}
	var ends []ending
	for _, i := range dupes {
		it := owners[i]
		email := ledger.NormalizeEmail(it.m.Email)
		m, ok := found[email]
		if !ok {
			ends = append(ends, failedEnd(it, duplicateError(results[i])))
			p.unclaim(ctx, email)
			continue
		}
		r := p.recordOf(it, m.Object, m.ID, event.StatusLinked, "duplicate_rule", 0)
		ends = append(ends, syncedEnd(it, r, event.StatusLinked, "matched_duplicate_rule"))
		ends = append(ends, follow(followers[email], r)...)
	}
	return ends, nil
}

// duplicateError is the outcome error of a contact a duplicate rule
// refused over a record with another email: the matched records' ids when
// the answer's duplicateResult names them, and what to do.
func duplicateError(r salesforce.SaveResult) *event.OutcomeError {
	var ids []string
	for _, e := range r.Errors {
		if e.Code != salesforce.CodeDuplicatesDetected || e.Duplicates == nil {
			continue
		}
		for _, mr := range e.Duplicates.MatchResults {
			for _, rec := range mr.MatchRecords {
				if rec.Record.ID != "" && !slices.Contains(ids, rec.Record.ID) {
					ids = append(ids, rec.Record.ID)
				}
			}
		}
	}
	matched := "an existing record (Salesforce did not say which)"
	if len(ids) > 0 {
		matched = "existing records " + strings.Join(ids, ", ")
	}
	return &event.OutcomeError{Code: salesforce.CodeDuplicatesDetected, Message: "Salesforce's duplicate rule matched " + matched +
		" with another email than the contact's (a rule matches e.g. the same name and phone, or title and company), " +
		"so the contact was neither linked to it nor created. Merge the records or give the existing one this email in Salesforce, " +
		"or allow saving duplicates over alert rules (the team setting allow_save_on_duplicate_alert), then retry."}
}

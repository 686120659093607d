package contactsync

import (
	"context"
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// settingsAt is the moment whose team settings decide how the item's
// record is created: when its event occurred, like every other setting
// (R4), except for an event the error inbox sent again: the admin retries
// after fixing the cause, and turning allow_save_on_duplicate_alert on is
// one of the fixes a DUPLICATES_DETECTED failure names, so a retry is
// created under the settings in effect now.
func settingsAt(d delivery.Delivery, now time.Time) time.Time {
	if d.Retry && now.After(d.Event.OccurredAt) {
		return now
	}
	return d.Event.OccurredAt
}

// allowSave resolves, per owner, whether its team lets its record be saved
// over an "alert" duplicate rule (allow_save_on_duplicate_alert as of
// settingsAt).
func (p part) allowSave(ctx context.Context, owners []item) ([]bool, error) {
	allow := make([]bool, len(owners))
	err := each(len(owners), func(i int) error {
		tv, err := p.e.Policies.TeamSettingsAt(ctx, p.team, settingsAt(owners[i].d, p.e.now()))
		if err != nil {
			return fmt.Errorf("resolve team settings: %w", err)
		}
		allow[i] = tv.Document.AllowSaveOnDuplicateAlert
		return nil
	})
	return allow, err
}

// createAll creates recs, each with the duplicate-rule header its team's
// setting asks for (allow[i]): at most one collection call per header, the
// answers put back in recs' order. Records a deleted field refused are
// sent again within their own group (resendInnocent). A failed call is
// the batch's answer (salesforceErr); a group created before it is found
// by the lookup when the events come back.
func (p part) createAll(ctx context.Context, recs []salesforce.SObject, allow []bool) ([]salesforce.SaveResult, error) {
	results := make([]salesforce.SaveResult, len(recs))
	for _, save := range []bool{false, true} {
		var at []int
		var group []salesforce.SObject
		for i, a := range allow {
			if a == save {
				at = append(at, i)
				group = append(group, recs[i])
			}
		}
		if len(group) == 0 {
			continue
		}
		opts := p.e.Write
		opts.AllowSaveOnDuplicate = save
		got, err := p.org.Create(ctx, group, opts)
		if err != nil {
			return nil, salesforceErr("create records", err)
		}
		if got, err = p.resendInnocent(ctx, group, got, opts); err != nil {
			return nil, salesforceErr("create records again", err)
		}
		for j, i := range at {
			results[i] = got[j]
		}
	}
	return results, nil
}

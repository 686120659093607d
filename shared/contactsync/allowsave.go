package contactsync

import (
	"context"
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
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

// createAll creates the plan's records, each with the headers its team's
// duplicate-rule setting (allow[i]) and its owner decision (an owner set
// on purpose is not overwritten by assignment rules) ask for: at most one
// collection call per set of headers, the answers put back in the plan's
// order. Records a deleted field refused, and those refused because the
// rep's user is inactive, are sent again within their own group
// (resendInnocent, resendInactive). A failed call is the batch's answer
// (salesforceErr); a group created before it is found by the lookup when
// the events come back.
func (p part) createAll(ctx context.Context, pl plan, allow []bool) ([]salesforce.SaveResult, error) {
	type headers struct {
		save   bool
		assign string
	}
	groups := map[headers][]int{}
	var order []headers
	for i, a := range allow {
		h := headers{a, pl.decisions[i].Owner.AutoAssign()}
		if groups[h] == nil {
			order = append(order, h)
		}
		groups[h] = append(groups[h], i)
	}
	results := make([]salesforce.SaveResult, len(pl.recs))
	for _, h := range order {
		at := groups[h]
		group := make([]salesforce.SObject, len(at))
		ds := make([]attribution.Decision, len(at))
		for j, i := range at {
			group[j], ds[j] = pl.recs[i], pl.decisions[i]
		}
		opts := p.e.Write
		opts.AllowSaveOnDuplicate, opts.AutoAssign = h.save, h.assign
		got, err := p.org.Create(ctx, group, opts)
		if err != nil {
			return nil, salesforceErr("create records", err)
		}
		if got, err = p.resendInnocent(ctx, group, got, opts); err != nil {
			return nil, salesforceErr("create records again", err)
		}
		if got, err = p.resendInactive(ctx, group, ds, pl.att.owners, got, opts); err != nil {
			return nil, salesforceErr("create records for the fallback owner", err)
		}
		for j, i := range at {
			results[i], pl.decisions[i] = got[j], ds[j]
		}
	}
	return results, nil
}

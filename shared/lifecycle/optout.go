package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// OptOutResult is what became of one email's opt-out given to
// OptOutWriter.Write.
type OptOutResult struct {
	// Written: the record is opted out (now, or before: a redelivery).
	Written bool
	// Refused is Salesforce's refusal of the update.
	Refused *event.OutcomeError
	// Err is set when the opt-out must be written again later (a passing
	// refusal).
	Err error
}

// OptOutWriter opts records out of email, once per record: the email's
// opt-out (Marks) notes the records it was written to.
type OptOutWriter struct {
	Marks Marks
}

// Write opts out the record of each email in records whose opt-out (in
// kept) is not written to it yet, in one update call for all (Updater
// batches 200 a call), and notes the records written. It never sets
// HasOptedOutOfEmail to false. An error return means nothing is known of
// the writes: the caller's events come back.
func (w OptOutWriter) Write(ctx context.Context, teamID string, org Updater, records map[string]event.SalesforceRef, kept map[string]OptOut) (map[string]OptOutResult, error) {
	out := make(map[string]OptOutResult, len(records))
	var emails []string
	var recs []salesforce.SObject
	for _, email := range slices.Sorted(maps.Keys(records)) {
		o, ok := kept[email]
		if !ok {
			continue
		}
		ref := records[email]
		if o.WrittenTo(ref.ID) {
			out[email] = OptOutResult{Written: true}
			continue
		}
		emails = append(emails, email)
		recs = append(recs, OptOutRecord(ref))
	}
	if len(recs) == 0 {
		return out, nil
	}
	results, err := org.UpdateRecords(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("opt records out: %w", err)
	}
	written := map[string]string{}
	for i, r := range results {
		email := emails[i]
		switch {
		case r.Success:
			written[email] = records[email].ID
			out[email] = OptOutResult{Written: true}
		case Transient(r):
			out[email] = OptOutResult{Err: fmt.Errorf("opt %s out: %s", records[email].ID, r.Errors[0].Message)}
		default:
			out[email] = OptOutResult{Refused: Refusal(r)}
		}
	}
	if len(written) > 0 {
		if err := w.Marks.WroteOptOuts(ctx, teamID, written); err != nil {
			return nil, fmt.Errorf("note opt-outs written: %w", err)
		}
	}
	return out, nil
}

// OptOutRecord is the update that opts the record ref out of email.
func OptOutRecord(ref event.SalesforceRef) salesforce.SObject {
	rec := salesforce.NewSObject(string(ref.Object))
	rec["Id"] = ref.ID
	rec[FieldOptedOut] = true
	return rec
}

// OptOutOnCreate sets a record to create opted out of email, whatever the
// field mapping rendered for the field.
func OptOutOnCreate(rec salesforce.SObject) { rec[FieldOptedOut] = true }

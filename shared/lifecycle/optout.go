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
	// Record is the record opted out: the email's, or the Contact a
	// converted Lead became.
	Record event.SalesforceRef
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
	// Follow, when set, finds where records refused as converted Leads
	// went; their opt-outs are sent there, once.
	Follow Follow
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
			out[email] = OptOutResult{Written: true, Record: ref}
			continue
		}
		emails = append(emails, email)
		recs = append(recs, OptOutRecord(ref))
	}
	if len(recs) == 0 {
		return out, nil
	}
	written, moved, err := w.send(ctx, org, emails, recs, records, out)
	if err != nil {
		return nil, err
	}
	if len(moved) > 0 && w.Follow != nil {
		to, err := w.Follow(ctx, moved)
		if err != nil {
			return nil, err
		}
		emails, recs = emails[:0], recs[:0]
		for _, email := range slices.Sorted(maps.Keys(to)) {
			emails, recs = append(emails, email), append(recs, OptOutRecord(to[email]))
		}
		if len(recs) > 0 {
			more, _, err := w.send(ctx, org, emails, recs, to, out)
			if err != nil {
				return nil, err
			}
			maps.Copy(written, more)
		}
	}
	if len(written) > 0 {
		if err := w.Marks.WroteOptOuts(ctx, teamID, written); err != nil {
			return nil, fmt.Errorf("note opt-outs written: %w", err)
		}
	}
	return out, nil
}

// send sends the updates recs of emails (to the records refs) and answers
// them in out; it returns the records written, by email, and the emails
// whose record is a converted Lead.
func (w OptOutWriter) send(ctx context.Context, org Updater, emails []string, recs []salesforce.SObject, refs map[string]event.SalesforceRef,
	out map[string]OptOutResult) (written map[string]string, moved map[string]event.SalesforceRef, err error) {
	results, err := org.UpdateRecords(ctx, recs)
	if err != nil {
		return nil, nil, fmt.Errorf("opt records out: %w", err)
	}
	written, moved = map[string]string{}, map[string]event.SalesforceRef{}
	for i, r := range results {
		email := emails[i]
		switch {
		case r.Success:
			written[email] = refs[email].ID
			out[email] = OptOutResult{Written: true, Record: refs[email]}
		case Transient(r):
			out[email] = OptOutResult{Err: fmt.Errorf("opt %s out: %s", refs[email].ID, r.Errors[0].Message)}
		default:
			out[email] = OptOutResult{Refused: Refusal(r)}
			if converted(r) {
				moved[email] = refs[email]
			}
		}
	}
	return written, moved, nil
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

package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// ErrRaced means another worker kept writing a newer bounce of the same
// email while this one wrote: the event comes back and tries again.
var ErrRaced = errors.New("lifecycle: a newer bounce of the email was being written at the same time")

// BounceResult is what became of one bounce given to WriteBounces.
type BounceResult struct {
	// Written: the bounce is on its record (written now, or before:
	// a redelivery); false when a newer bounce of the email holds the
	// record (claimed before or while this one was written), or the
	// bounce was refused.
	Written bool
	// Refused is Salesforce's refusal of the update (a field not
	// updateable, a validation rule): the event fails with it.
	Refused *event.OutcomeError
	// Err is set when the bounce must come back later (a passing
	// refusal, or a race with a newer bounce).
	Err error
}

// BounceWriter writes bounces back to records, the newest only, once per
// bounce: the email's mark (Marks) says which bounce the record carries.
type BounceWriter struct {
	Marks Marks
	// Follow, when set, finds where records refused as converted Leads
	// went; their bounces are sent there, once.
	Follow Follow
}

// maxRounds bounds how often WriteBounces writes an email's newest bounce
// again after finding that a newer one was written under it.
const maxRounds = 3

// Write writes each bounce whose email has no newer one, in one update call
// for the batch (Updater batches 200 a call). Per email, only the newest
// bounce of bs is written; the others are superseded (Written false, no
// error). A bounce already written (a redelivery) costs no call. An error
// return means the whole batch comes back.
//
// Two workers writing bounces of the same email at once may update the
// record in either order, so after writing, the writer reads the mark again
// (WroteBounces); where a newer bounce was claimed meanwhile, written yet
// or not, it writes that one again, so the record ends with the newest.
func (w BounceWriter) Write(ctx context.Context, teamID string, org Updater, bs []Bounce) ([]BounceResult, error) {
	out := make([]BounceResult, len(bs))
	newest := newestPerEmail(bs)
	var claim []Bounce
	for _, i := range newest {
		claim = append(claim, bs[i])
	}
	if len(claim) == 0 {
		return out, nil
	}
	marks, err := w.Marks.ClaimBounces(ctx, teamID, claim)
	if err != nil {
		return nil, fmt.Errorf("claim bounces: %w", err)
	}
	var send []Bounce
	at := map[string]int{} // by email: the index in bs of the bounce sent
	for j, m := range marks {
		b := claim[j]
		switch {
		case m.EventID != b.EventID: // a newer bounce holds the record
		case m.Written:
			out[newest[b.Email]].Written = true
		default:
			send = append(send, b)
			at[b.Email] = newest[b.Email]
		}
	}
	for round := 0; len(send) > 0; round++ {
		if round == maxRounds {
			for _, b := range send {
				out[at[b.Email]].Err = ErrRaced
			}
			break
		}
		again, err := w.send(ctx, teamID, org, send, at, out, round == 0)
		if err != nil {
			return nil, err
		}
		send = again
	}
	return out, nil
}

// send updates the records of bs and marks them written. It returns the
// newer bounces found written meanwhile, to write again. first says the
// bounces are the batch's own: their answers go to out.
func (w BounceWriter) send(ctx context.Context, teamID string, org Updater, bs []Bounce, at map[string]int, out []BounceResult, first bool) ([]Bounce, error) {
	recs := make([]salesforce.SObject, len(bs))
	for i, b := range bs {
		recs[i] = bounceRecord(b)
	}
	results, err := org.UpdateRecords(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("update bounced records: %w", err)
	}
	var wrote []Bounce
	moved := map[string]event.SalesforceRef{}
	for i, r := range results {
		b := bs[i]
		switch {
		case r.Success:
			wrote = append(wrote, b)
		case first && Transient(r):
			out[at[b.Email]].Err = fmt.Errorf("update %s: %s", b.Record.ID, r.Errors[0].Message)
		case first:
			out[at[b.Email]].Refused = Refusal(r)
			if converted(r) && w.Follow != nil {
				moved[b.Email] = b.Record
			}
		default: // the newer bounce's own event answers for its refusal
		}
	}
	followed, err := w.followed(ctx, bs, moved)
	if err != nil {
		return nil, err
	}
	if len(followed) > 0 {
		more, err := w.sendFollowed(ctx, teamID, org, followed, at, out)
		if err != nil {
			return nil, err
		}
		wrote = append(wrote, more...)
	}
	if len(wrote) == 0 {
		return nil, nil
	}
	marks, err := w.Marks.WroteBounces(ctx, teamID, wrote)
	if err != nil {
		return nil, fmt.Errorf("mark bounces written: %w", err)
	}
	var again []Bounce
	for j, m := range marks {
		b := wrote[j]
		if first {
			out[at[b.Email]].Written = m.EventID == b.EventID
		}
		// A newer bounce claimed meanwhile may have reached the record
		// before this one did, whether or not its writer has marked it
		// written yet: write it again (the same values twice change
		// nothing).
		if m.EventID != b.EventID {
			again = append(again, m.Bounce)
		}
	}
	return again, nil
}

// followed is the bounces of bs whose records were converted Leads (moved),
// pointed at the Contacts they became; those with no other record are
// left refused.
func (w BounceWriter) followed(ctx context.Context, bs []Bounce, moved map[string]event.SalesforceRef) ([]Bounce, error) {
	if len(moved) == 0 {
		return nil, nil
	}
	to, err := w.Follow(ctx, moved)
	if err != nil {
		return nil, err
	}
	var out []Bounce
	for _, b := range bs {
		if ref, ok := to[b.Email]; ok && moved[b.Email] == b.Record {
			b.Record = ref
			out = append(out, b)
		}
	}
	return out, nil
}

// sendFollowed sends the bounces of followed records, answering them
// afresh in out, and returns those written.
func (w BounceWriter) sendFollowed(ctx context.Context, teamID string, org Updater, bs []Bounce, at map[string]int, out []BounceResult) ([]Bounce, error) {
	recs := make([]salesforce.SObject, len(bs))
	for i, b := range bs {
		recs[i] = bounceRecord(b)
	}
	results, err := org.UpdateRecords(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("update followed records: %w", err)
	}
	var wrote []Bounce
	for i, r := range results {
		b := bs[i]
		out[at[b.Email]] = BounceResult{}
		switch {
		case r.Success:
			wrote = append(wrote, b)
		case Transient(r):
			out[at[b.Email]].Err = fmt.Errorf("update %s: %s", b.Record.ID, r.Errors[0].Message)
		default:
			out[at[b.Email]].Refused = Refusal(r)
		}
	}
	return wrote, nil
}

// newestPerEmail is, by email, the index in bs of its newest bounce.
func newestPerEmail(bs []Bounce) map[string]int {
	newest := map[string]int{}
	for i, b := range bs {
		if j, ok := newest[b.Email]; !ok || Newer(b, bs[j]) {
			newest[b.Email] = i
		}
	}
	return newest
}

// bounceRecord is the update that puts b on its record.
func bounceRecord(b Bounce) salesforce.SObject {
	rec := salesforce.NewSObject(string(b.Record.Object))
	rec["Id"] = b.Record.ID
	rec[FieldBouncedReason] = CutReason(b.Reason)
	rec[FieldBouncedDate] = b.At.UTC().Format(time.RFC3339)
	return rec
}

// CutReason cuts a bounce reason to MaxBounceReason characters, as
// Salesforce counts them.
func CutReason(s string) string {
	if salesforce.TextLength(s) <= MaxBounceReason {
		return s
	}
	return s[:salesforce.TextPrefix(s, MaxBounceReason)]
}

package contactsync

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// plan is what the create step makes of the items it may go on with.
type plan struct {
	ends      []ending             // linked to what Salesforce has, or failed to render
	recs      []salesforce.SObject // the records to create
	owners    []item               // owners[i] is the item recs[i] is made for
	followers map[string][]item    // by email: the later items of an owner's email
	versions  map[string]int       // by email: the mapping version its record was made with (R8)
}

// create is the create step: it links what Salesforce has and creates the
// rest, one record per email: the first item of an email owns it, later
// ones in the part follow it. It returns the final states to record, and
// the items that come back. When a call fails, the final states decided
// before it are still returned.
func (p part) create(ctx context.Context, mine []item, found map[string]ledger.Match) ([]ending, tally, error) {
	pl := p.plan(ctx, mine, found)
	if len(pl.recs) == 0 {
		return pl.ends, tally{}, nil
	}
	allow, err := p.allowSave(ctx, pl.owners)
	if err != nil {
		return pl.ends, tally{}, err
	}
	// The write, and what its answer ends, are not cut when the share
	// does (see WriteContext); the duplicates' lookup after it is a read.
	wctx := delivery.WriteContext(ctx)
	results, err := p.createAll(wctx, pl.recs, allow)
	if err != nil {
		return pl.ends, tally{}, err
	}
	answers, _ := eachOf(len(results), func(i int) (createAnswer, error) {
		it := pl.owners[i]
		email := ledger.NormalizeEmail(it.m.Email)
		return p.answerCreate(wctx, it, pl.followers[email], results[i], pl.versions[email]), nil
	})
	ends := pl.ends
	var t tally
	var dupes []int
	for i, a := range answers {
		ends = append(ends, a.ends...)
		t.merge(a.t)
		if a.dupe {
			dupes = append(dupes, i)
		}
	}
	p.count(wctx, results, pl.owners, pl.versions)
	if len(dupes) == 0 {
		return ends, t, nil
	}
	linked, err := p.linkDuplicates(ctx, dupes, results, pl.owners, pl.followers)
	return append(ends, linked...), t, err
}

// plan renders a record for each email Salesforce does not have, and ends
// the items of the emails it has (linked) or whose record cannot be
// rendered (MAPPING_ERROR, the claim given up).
func (p part) plan(ctx context.Context, mine []item, found map[string]ledger.Match) plan {
	pl := plan{followers: map[string][]item{}, versions: map[string]int{}}
	first := map[string]bool{}
	var linked []item
	var unrendered []string // emails, in order
	oes := map[string]*event.OutcomeError{}
	for _, it := range mine {
		email := ledger.NormalizeEmail(it.m.Email)
		if first[email] {
			pl.followers[email] = append(pl.followers[email], it)
			continue
		}
		first[email] = true
		if _, ok := found[email]; ok {
			linked = append(linked, it)
			continue
		}
		rec, version, err := p.e.Renderer.Render(ctx, p.team, it.object, it.m.Contact)
		if err != nil {
			oes[email] = &event.OutcomeError{Code: "MAPPING_ERROR", Message: err.Error()}
			pl.ends = append(pl.ends, failedEnd(it, oes[email]))
			unrendered = append(unrendered, email)
			p.unclaim(ctx, email)
			continue
		}
		pl.versions[email] = version
		pl.recs = append(pl.recs, rec)
		pl.owners = append(pl.owners, it)
	}
	for _, it := range linked {
		email := ledger.NormalizeEmail(it.m.Email)
		m := found[email]
		r := p.recordOf(it, m.Object, m.ID, event.StatusLinked, m.Rule, 0)
		pl.ends = append(pl.ends, syncedEnd(it, r, event.StatusLinked, event.Reason("matched_"+m.Rule)))
		pl.ends = append(pl.ends, follow(pl.followers[email], r)...)
	}
	for _, email := range unrendered {
		for _, f := range pl.followers[email] {
			pl.ends = append(pl.ends, failedEnd(f, oes[email]))
		}
	}
	return pl
}

// createAnswer is what one create answer decided for its owner and the
// owner's followers.
type createAnswer struct {
	ends []ending
	t    tally
	dupe bool // DUPLICATES_DETECTED: see linkDuplicates
}

// answerCreate decides what Salesforce's answer res to the owner's create
// means for it and its followers: synced, created with the mapping version
// used; come back, on a passing fault; failed with Salesforce's error; or,
// refused by a duplicate rule, looked up again (dupe). The claim is given
// up when nothing was created.
func (p part) answerCreate(ctx context.Context, it item, fs []item, res salesforce.SaveResult, version int) createAnswer {
	var a createAnswer
	email := ledger.NormalizeEmail(it.m.Email)
	switch {
	case res.Success:
		r := p.recordOf(it, it.object, res.ID, event.StatusCreated, "created", version)
		a.ends = append([]ending{syncedEnd(it, r, event.StatusCreated, "")}, follow(fs, r)...)
	case hasCode(res, salesforce.CodeDuplicatesDetected):
		a.dupe = true
	case transient(res):
		for _, x := range append([]item{it}, fs...) {
			a.t.retry(x.d, fmt.Errorf("%w: %s", delivery.ErrRetry, firstError(res).Message))
		}
		p.unclaim(ctx, email)
	default:
		fe := firstError(res)
		oe := &event.OutcomeError{Code: fe.Code, Message: fe.Message, Fields: fe.Fields}
		for _, x := range append([]item{it}, fs...) {
			a.ends = append(a.ends, failedEnd(x, oe))
		}
		p.unclaim(ctx, email)
	}
	return a
}

// resendInnocent handles Salesforce refusing a whole collection over a field
// some records carry (a field deleted since the mapping was saved answers
// INVALID_FIELD for the collection): the records without that field are sent
// again, once, so one contact's problem never fails its batch-mates.
func (p part) resendInnocent(ctx context.Context, recs []salesforce.SObject, results []salesforce.SaveResult, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	var again []int
	for i, res := range results {
		if !res.Success && innocent(recs[i], firstError(res)) {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return results, nil
	}
	sub := make([]salesforce.SObject, len(again))
	for j, i := range again {
		sub[j] = recs[i]
	}
	second, err := p.org.Create(ctx, sub, opts)
	if err != nil {
		return nil, err
	}
	results = slices.Clone(results)
	for j, i := range again {
		results[i] = second[j]
	}
	return results, nil
}

// innocent reports whether a record refused with fe was refused over a
// field it does not carry: fe is an INVALID_FIELD naming the field
// (firstError names it from the message when Salesforce leaves fields
// empty), and the record has none of the fields named.
func innocent(rec salesforce.SObject, fe salesforce.ErrorItem) bool {
	if fe.Code != salesforce.CodeInvalidField || len(fe.Fields) == 0 {
		return false
	}
	for _, f := range fe.Fields {
		for k := range rec {
			if strings.EqualFold(k, f) {
				return false
			}
		}
	}
	return true
}

// count records how many contacts each mapping version created; a figure
// for people, so a failure is logged, not retried.
func (p part) count(ctx context.Context, results []salesforce.SaveResult, owners []item, versions map[string]int) {
	if p.e.Counts == nil {
		return
	}
	type key struct {
		object  event.SalesforceObject
		version int
	}
	n := map[key]int{}
	for i, res := range results {
		if res.Success {
			n[key{owners[i].object, versions[ledger.NormalizeEmail(owners[i].m.Email)]}]++
		}
	}
	for k, c := range n {
		if err := p.e.Counts.CountSynced(ctx, p.team, k.object, k.version, c); err != nil {
			p.e.log().Warn("count synced contacts", "team_id", p.team, "error", err.Error())
		}
	}
}

// salesforceErr turns a whole-call failure into the part's answer: held
// when the team must reconnect or its allowance is spent, else a retry.
func salesforceErr(what string, err error) error {
	switch {
	case errors.Is(err, connection.ErrNeedsReauth), errors.Is(err, salesforce.ErrRequestLimit), errors.Is(err, budget.ErrCapped):
		return held(fmt.Errorf("%s: %w", what, err))
	default:
		return fmt.Errorf("%w: %s: %w", delivery.ErrRetry, what, err)
	}
}

func hasCode(r salesforce.SaveResult, code string) bool {
	for _, e := range r.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

func transient(r salesforce.SaveResult) bool {
	return hasCode(r, salesforce.CodeUnableToLockRow) || hasCode(r, salesforce.CodeServerUnavailable)
}

// noSuchColumn finds the field in Salesforce's INVALID_FIELD message.
var noSuchColumn = regexp.MustCompile(`No such column '([A-Za-z0-9_]+)'`)

// firstError returns the record's real error (not the all-or-none echo), with
// the field named even when Salesforce only names it in the message.
func firstError(r salesforce.SaveResult) salesforce.ErrorItem {
	for _, e := range r.Errors {
		if e.Code != salesforce.CodeAllOrNoneRolledBack {
			if len(e.Fields) == 0 {
				if m := noSuchColumn.FindStringSubmatch(e.Message); m != nil {
					e.Fields = []string{m[1]}
				}
			}
			return e
		}
	}
	if len(r.Errors) > 0 {
		return r.Errors[0]
	}
	return salesforce.ErrorItem{Code: "UNKNOWN_ERROR", Message: "Salesforce reported a failure without an error"}
}

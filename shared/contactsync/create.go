package contactsync

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// plan is what the create step makes of the items it may go on with.
type plan struct {
	ends      []ending                    // linked to what Salesforce has, or failed to render
	recs      []salesforce.SObject        // the records to create
	owners    []item                      // owners[i] is the item recs[i] is made for
	decisions []attribution.Decision      // decisions[i] is recs[i]'s owner and Account
	att       attributed                  // the rules the decisions were made by
	t         tally                       // the items that come back: their new Account is another worker's to create
	followers map[string][]item           // by email: the later items of an owner's email
	versions  map[string]int              // by email: the mapping version its record was made with (R8)
	optOuts   map[string]lifecycle.OptOut // by email: the opt-outs its record is created with
}

// create is the create step: it links what Salesforce has and creates the
// rest, one record per email: the first item of an email owns it, later
// ones in the part follow it. It returns the final states to record, and
// the items that come back. When a call fails, the final states decided
// before it are still returned.
func (p part) create(ctx context.Context, mine []item, found map[string]ledger.Match) ([]ending, tally, error) {
	pl, err := p.plan(ctx, mine, found)
	if err != nil || len(pl.recs) == 0 {
		return pl.ends, pl.t, err
	}
	allow, err := p.allowSave(ctx, pl.owners)
	if err != nil {
		return pl.ends, pl.t, err
	}
	// The write, and what its answer ends, are not cut when the share
	// does (see WriteContext); the duplicates' lookup after it is a read.
	wctx := delivery.WriteContext(ctx)
	results, err := p.createAll(wctx, pl, allow)
	if err != nil {
		return pl.ends, pl.t, err
	}
	answers, _ := eachOf(len(results), func(i int) (createAnswer, error) {
		it := pl.owners[i]
		email := ledger.NormalizeEmail(it.m.Email)
		return p.answerCreate(wctx, it, pl.followers[email], results[i], pl.versions[email], creditOf(pl.decisions[i])), nil
	})
	ends := pl.ends
	t := pl.t
	var dupes []int
	for i, a := range answers {
		ends = append(ends, a.ends...)
		t.merge(a.t)
		if a.dupe {
			dupes = append(dupes, i)
		}
	}
	p.count(wctx, results, pl.owners, pl.versions)
	p.createdOptedOut(wctx, pl, results)
	if len(dupes) == 0 {
		return ends, t, nil
	}
	linked, err := p.linkDuplicates(ctx, dupes, results, pl.owners, pl.followers)
	return append(ends, linked...), t, err
}

// plan ends the items of the emails Salesforce has (linked), decides the
// owner and Account of each record to create (attribute; a Contact no
// Account matched may become a Lead), and renders them.
func (p part) plan(ctx context.Context, mine []item, found map[string]ledger.Match) (plan, error) {
	pl := plan{followers: map[string][]item{}, versions: map[string]int{}}
	first := map[string]bool{}
	var firsts []item
	var linked []ending
	for _, it := range mine {
		email := ledger.NormalizeEmail(it.m.Email)
		if first[email] {
			pl.followers[email] = append(pl.followers[email], it)
			continue
		}
		first[email] = true
		if m, ok := found[email]; ok {
			r := p.recordOf(it, m.Object, m.ID, event.StatusLinked, m.Rule, 0)
			linked = append(linked, syncedEnd(it, r, event.StatusLinked, event.Reason("matched_"+m.Rule)))
			continue
		}
		firsts = append(firsts, it)
	}
	for _, w := range linked {
		pl.ends = append(pl.ends, w)
		pl.ends = append(pl.ends, follow(pl.followers[w.rec.Email], w.rec)...)
	}
	att, err := p.attribute(ctx, firsts)
	if err != nil {
		return pl, err
	}
	pl.att = att
	if pl.optOuts, err = p.optedOut(ctx, emailsOf(firsts)); err != nil {
		return pl, err
	}
	pl.ends = append(pl.ends, p.render(ctx, &pl, firsts)...)
	return pl, nil
}

// render renders the record of each first item with its decision applied,
// and returns the endings of those that cannot be rendered, with their
// followers' (MAPPING_ERROR, the claim given up).
func (p part) render(ctx context.Context, pl *plan, firsts []item) []ending {
	var ends []ending
	for _, it := range firsts {
		email := ledger.NormalizeEmail(it.m.Email)
		d := pl.att.by[email]
		if pl.att.busy[email] {
			for _, x := range append([]item{it}, pl.followers[email]...) {
				pl.t.retry(x.d, fmt.Errorf("%w: its new Account: %w", delivery.ErrRetry, ledger.ErrClaimed))
			}
			p.unclaim(ctx, email)
			continue
		}
		if d.Account != nil && d.Account.AsLead {
			it.object = event.ObjectLead
		}
		rec, version, err := p.e.Renderer.Render(ctx, p.team, it.object, it.m.Contact)
		if err != nil {
			oe := &event.OutcomeError{Code: "MAPPING_ERROR", Message: err.Error()}
			ends = append(ends, failedEnd(it, oe))
			for _, f := range pl.followers[email] {
				ends = append(ends, failedEnd(f, oe))
			}
			p.unclaim(ctx, email)
			continue
		}
		applyTo(rec, d)
		if _, ok := pl.optOuts[email]; ok {
			lifecycle.OptOutOnCreate(rec)
		}
		pl.versions[email] = version
		pl.recs = append(pl.recs, rec)
		pl.owners = append(pl.owners, it)
		pl.decisions = append(pl.decisions, d)
	}
	return ends
}

// createdOptedOut notes the opt-outs the records just created carry, so
// no update is sent for them; a failure is logged (the next sync of the
// email then sends the update, which changes nothing).
func (p part) createdOptedOut(ctx context.Context, pl plan, results []salesforce.SaveResult) {
	written := map[string]string{}
	for i, res := range results {
		email := ledger.NormalizeEmail(pl.owners[i].m.Email)
		if _, ok := pl.optOuts[email]; ok && res.Success {
			written[email] = res.ID
		}
	}
	if len(written) == 0 {
		return
	}
	if err := p.e.Lifecycle.WroteOptOuts(ctx, p.team, written); err != nil {
		p.e.log().Warn("note opt-outs written", "team_id", p.team, "error", err.Error())
	}
}

// emailsOf is the normalized emails of items.
func emailsOf(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = ledger.NormalizeEmail(it.m.Email)
	}
	return out
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
func (p part) answerCreate(ctx context.Context, it item, fs []item, res salesforce.SaveResult, version int, c *ledger.Credit) createAnswer {
	var a createAnswer
	email := ledger.NormalizeEmail(it.m.Email)
	switch {
	case res.Success:
		r := p.recordOf(it, it.object, res.ID, event.StatusCreated, "created", version)
		r.Credit = c
		a.ends = append([]ending{syncedEnd(it, r, event.StatusCreated, c.Reason)}, follow(fs, r)...)
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

func transient(r salesforce.SaveResult) bool { return lifecycle.Transient(r) }

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

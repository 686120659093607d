package contactsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Engine syncs contact events. It is safe for one batch at a time; run one
// Engine per concurrent batch.
type Engine struct {
	Ledger    Ledger
	Orgs      Orgs
	Policies  Policies
	Renderer  Renderer
	Publisher delivery.Publisher
	Counts    Counter  // optional
	Release   Releaser // optional
	// Write decides Salesforce's side effects on create (lead assignment
	// rules), on purpose rather than by default. Whether a create may be
	// saved over an alert duplicate rule is the team's setting
	// (allow_save_on_duplicate_alert), not this: its AllowSaveOnDuplicate
	// is set per record.
	Write salesforce.WriteOptions
	// Owner names this worker in claims; ClaimTTL must exceed the function's
	// timeout so a live worker never loses its claim.
	Owner    string
	ClaimTTL time.Duration
	// AwaitAdd is how long a contact.replied whose contact.added has not
	// been seen yet keeps coming back before it is skipped as not_added
	// (see AwaitAdd); HoldDelay is how long a parked event waits.
	AwaitAdd  time.Duration
	HoldDelay time.Duration
	// Reruns and RerunWait: a team's batch that meets a passing Salesforce
	// fault is run again at once (see Rerun); zero values are the defaults.
	Reruns    int
	RerunWait time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// Process handles one batch of deliveries and returns the ids of those that
// must come back, with why. Every other delivery has its final (or pending)
// outcome recorded and published.
func (e *Engine) Process(ctx context.Context, ds []delivery.Delivery) map[string]error {
	failed := map[string]error{}
	delivery.RunParts(ctx, ds, failed, delivery.Runner{
		Reruns: e.Reruns, Wait: e.RerunWait, Log: e.log(),
		Run: func(ctx context.Context, team string, part []delivery.Delivery) error {
			b := &batch{e: e, team: team, failed: failed}
			return b.run(ctx, part)
		},
		OnHeld: func(team string) {
			// The events of the team come back in any order now: the
			// activity waiting for its contact.added waits for this.
			if herr := e.Orgs.RecordHold(ctx, team, e.now()); herr != nil {
				e.log().Warn("record hold", "team_id", team, "error", herr.Error())
			}
		},
	})
	e.answers().EndHeld(ctx, ds, failed)
	return failed
}

// answers gives the engine's answers outside a team's run.
func (e *Engine) answers() delivery.Answers {
	return delivery.Answers{Ledger: e.Ledger, Settings: e.Policies, Publisher: e.Publisher, Now: e.now, Log: e.log()}
}

// AnswerInvalid answers messages that failed validation (see
// Answers.AnswerInvalid).
func (e *Engine) AnswerInvalid(ctx context.Context, outs []event.Outcome) error {
	return e.answers().AnswerInvalid(ctx, outs)
}

// answered reports whether o, recorded for d's event before, is d's
// answer: an invalid_event answer is not (a valid event of its id is
// processed), and a failure is not for a retry from the error inbox.
func answered(d delivery.Delivery, o event.Outcome) bool {
	return !event.IsInvalidEvent(o) && !(d.Retry && o.Status == event.StatusFailed)
}

// batch is the work of one team within one delivery batch.
type batch struct {
	e        *Engine
	team     string
	failed   map[string]error
	outcomes []event.Outcome
	answered []event.Outcome // outcomes recorded before, found after the pin (see pinFirst)
	done     map[string]bool // event ids with an outcome in this batch
	org      Org
	conn     delivery.Connection
	releases []ledger.MemberKey // memberships that reached a final state: their held activity goes
	writes   []ending           // final states not yet written to the ledger (flush)
	claimed  []string           // emails this batch claimed, unclaimed if it fails
	// settle is the context what the part did is recorded under: the
	// WriteContext of its share as the part began, so that what a write
	// past the share's end did is recorded too.
	settle context.Context
	mu     sync.Mutex // guards outcomes, done, failed, releases and writes: per-event work runs concurrently
}

// ending is a delivery's final state, written to the ledger with the
// batch's others in flush: synced to rec (saved first when save is set), or
// failed with oe.
type ending struct {
	it     item
	rec    ledger.Record
	save   bool
	st     event.Status
	reason event.Reason
	oe     *event.OutcomeError
}

// item is a delivery that needs a Salesforce record.
type item struct {
	d      delivery.Delivery
	m      ledger.Membership
	object event.SalesforceObject
}

func (b *batch) finish(d delivery.Delivery, o event.Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outcomes = append(b.outcomes, o)
	b.done[d.Event.ID] = true
}

// reanswer publishes again an outcome recorded before: its answer may not
// have reached the queue.
func (b *batch) reanswer(o event.Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answered = append(b.answered, o)
}

func (b *batch) outcome(d delivery.Delivery, st event.Status, reason event.Reason) event.Outcome {
	o := event.NewOutcome(d.Event, "out_"+d.Event.ID, st, b.e.now())
	o.Reason = reason
	return o
}

func (b *batch) retry(d delivery.Delivery, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failed[d.ID] = err
	b.done[d.Event.ID] = true // handled: not to be failed again by the caller
}

func (b *batch) run(ctx context.Context, ds []delivery.Delivery) error {
	b.done = map[string]bool{}
	b.settle = delivery.WriteContext(ctx)
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		if !pinFirst(d) {
			ids = append(ids, d.Event.ID)
		}
	}
	prior, err := b.outcomesOf(ctx, ids)
	if err != nil {
		return err
	}
	var todo []delivery.Delivery
	var republish []event.Outcome
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Event.ID] {
			continue // the same event twice in one batch: one answer
		}
		seen[d.Event.ID] = true
		if o, ok := prior[d.Event.ID]; ok && answered(d, o) {
			republish = append(republish, o) // processed before; its answer may not have reached the queue
			continue
		}
		todo = append(todo, d)
	}
	if len(todo) > 0 {
		if err := b.sync(ctx, todo); err != nil {
			return err
		}
	}
	if len(b.outcomes) > 0 {
		if err := b.e.Ledger.RecordOutcomes(b.settled(ctx), b.outcomes); err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
	}
	if all := slices.Concat(republish, b.answered, b.outcomes); len(all) > 0 {
		if err := b.e.Publisher.Publish(b.settled(ctx), all); err != nil {
			return fmt.Errorf("publish outcomes: %w", err)
		}
	}
	return nil
}

// settled is the context what the part did is recorded under (see
// batch.settle); ctx when the part did not begin through run.
func (b *batch) settled(ctx context.Context) context.Context {
	if b.settle != nil {
		return b.settle
	}
	return ctx
}

// pinFirst reports whether the delivery's earlier outcome, if any, is
// looked for only once it is known to be needed. A contact.added that pins
// its membership was never handled before: every answer an add gets comes
// after its pin, but not_connected (see notConnected, which looks its adds
// up). So only the adds that find their membership pinned are looked up,
// and a burst of new contacts costs no read of outcomes. A retry from the
// error inbox is looked up first, as every other event is.
func pinFirst(d delivery.Delivery) bool { return d.Event.Type == event.ContactAdded && !d.Retry }

// outcomesOf reads the outcomes recorded for the events.
func (b *batch) outcomesOf(ctx context.Context, ids []string) (map[string]event.Outcome, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	prior, err := b.e.Ledger.Outcomes(ctx, b.team, ids)
	if err != nil {
		return nil, fmt.Errorf("read outcomes: %w", err)
	}
	return prior, nil
}

// awaitAdd is the wait of an event whose contact.added has not been synced yet.
func (b *batch) awaitAdd() error {
	return fmt.Errorf("%w: the contact's contact.added has not been synced yet", delivery.ErrWait)
}

func (b *batch) hold(reason error) error {
	return fmt.Errorf("%w: %w", delivery.ErrHeld, reason)
}

func (b *batch) sync(ctx context.Context, ds []delivery.Delivery) error {
	org, conn, err := b.e.Orgs.Open(ctx, b.team)
	switch {
	case errors.Is(err, connection.ErrNotConnected):
		return b.notConnected(ctx, ds)
	case errors.Is(err, connection.ErrNeedsReauth):
		return b.hold(err) // held until an admin reconnects, then synced
	case err != nil:
		return fmt.Errorf("open org: %w", err)
	}
	b.org, b.conn = org, conn
	defer b.flushReleases(context.WithoutCancel(ctx))
	defer func() {
		if err := org.Close(context.WithoutCancel(ctx)); err != nil {
			b.e.log().Warn("close org", "team_id", b.team, "error", err.Error())
		}
	}()

	// Each event's own reads run concurrently; the adds' memberships are
	// pinned in one ledger call, and replies come after it, so a reply sees
	// a membership pinned in the same batch.
	type result struct {
		it      item
		sync    bool
		created bool
	}
	results := make([]result, len(ds))
	pins := make([]*ledger.Membership, len(ds)) // contact.added: the membership to pin
	early := make([]bool, len(ds))              // occurred before the connection
	phase := func(replies bool) error {
		return each(len(ds), func(i int) error {
			d := ds[i]
			ev := d.Event
			if (ev.Type == event.ContactReplied) != replies {
				return nil
			}
			if ev.OccurredAt.Before(conn.ConnectedAt) {
				early[i] = true
				return nil
			}
			switch ev.Type {
			case event.ContactCreated:
				tv, err := b.e.Policies.TeamSettingsAt(ctx, b.team, ev.OccurredAt)
				if err != nil {
					return fmt.Errorf("resolve team settings: %w", err)
				}
				if !tv.Document.Deduplication {
					b.finish(d, b.outcome(d, event.StatusSkipped, event.ReasonDeduplicationOff))
					return nil
				}
				results[i].created = true
			case event.ContactAdded:
				m, err := b.added(ctx, d)
				if err != nil {
					return err
				}
				pins[i] = &m
			case event.ContactReplied:
				it, ok, err := b.replied(ctx, d)
				if err != nil {
					return err
				}
				results[i] = result{it: it, sync: ok}
			default:
				return fmt.Errorf("event %s: type %s is not a contact event", ev.ID, ev.Type)
			}
			return nil
		})
	}
	if err := phase(false); err != nil {
		return err
	}
	var ms []ledger.Membership
	var at []int // at[j]: the delivery of ms[j]
	for i, m := range pins {
		if m != nil {
			ms = append(ms, *m)
			at = append(at, i)
		}
	}
	if len(ms) > 0 {
		pinned, err := b.e.Ledger.PinMemberships(ctx, ms) // a membership pinned before keeps its first rule
		if err != nil {
			return fmt.Errorf("pin memberships: %w", err)
		}
		// The adds that found their membership pinned may have been
		// answered before (see pinFirst).
		var ids []string
		for j, p := range pinned {
			if d := ds[at[j]]; p.Err == nil && !p.New && pinFirst(d) {
				ids = append(ids, d.Event.ID)
			}
		}
		prior, err := b.outcomesOf(ctx, ids)
		if err != nil {
			return err
		}
		for j, p := range pinned {
			d := ds[at[j]]
			if p.Err != nil {
				b.retry(d, fmt.Errorf("%w: pin membership: %w", delivery.ErrRetry, p.Err))
				continue
			}
			if o, ok := prior[d.Event.ID]; ok && answered(d, o) {
				b.reanswer(o)
				continue
			}
			it, ok, _ := b.afterPin(d, p.Membership) // never fails
			results[at[j]] = result{it: it, sync: ok}
		}
	}
	if err := phase(true); err != nil {
		return err
	}
	var before []delivery.Delivery
	for i, e := range early {
		if e {
			before = append(before, ds[i])
		}
	}
	if err := b.notConnected(ctx, before); err != nil {
		return err
	}
	var created []delivery.Delivery // contact.created with deduplication on
	var toSync []item
	for i, r := range results {
		switch {
		case r.created:
			created = append(created, ds[i])
		case r.sync:
			toSync = append(toSync, r.it)
		}
	}
	return b.resolve(ctx, created, toSync)
}

// notConnected answers deliveries the team's connection does not cover
// (none, or one made after they occurred): skipped, not_connected. An add
// not looked up yet (pinFirst) may have been answered while connected: it
// keeps that answer.
func (b *batch) notConnected(ctx context.Context, ds []delivery.Delivery) error {
	var ids []string
	for _, d := range ds {
		if pinFirst(d) {
			ids = append(ids, d.Event.ID)
		}
	}
	prior, err := b.outcomesOf(ctx, ids)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if o, ok := prior[d.Event.ID]; ok && pinFirst(d) && answered(d, o) {
			b.reanswer(o)
			continue
		}
		b.finish(d, b.outcome(d, event.StatusSkipped, event.ReasonNotConnected))
	}
	return nil
}

func objectOf(as policy.SyncAs) event.SalesforceObject {
	if as == policy.SyncAsContact {
		return event.ObjectContact
	}
	return event.ObjectLead
}

func contactOf(ev event.Event) event.Contact {
	if cd, ok := ev.Data.(event.ContactData); ok {
		return cd.Contact
	}
	return event.Contact{}
}

// added decides the membership to pin for a contact.added (R4): the policy
// as of the event. The batch pins its adds' memberships at once.
func (b *batch) added(ctx context.Context, d delivery.Delivery) (ledger.Membership, error) {
	ev := d.Event
	eff, err := b.e.Policies.ResolveAt(ctx, b.team, ev.SequenceID(), ev.OccurredAt)
	if err != nil {
		return ledger.Membership{}, fmt.Errorf("resolve policy: %w", err)
	}
	m := ledger.Membership{TeamID: b.team, SequenceID: ev.SequenceID(), ContactID: ev.ContactID(), Email: ev.Email(),
		Contact: contactOf(ev), Policy: eff, PinnedAt: ev.OccurredAt, EventID: ev.ID}
	switch {
	case !eff.Syncs():
		m.Status, m.Reason = ledger.MemberSkipped, event.Reason(eff.Reason)
	case eff.Mode == policy.ModeOnReply:
		m.Status, m.Reason = ledger.MemberPending, event.ReasonAwaitingReply
	default:
		m.Status = ledger.MemberSyncing
	}
	return m, nil
}

// replied syncs a pending membership with its pinned rule.
func (b *batch) replied(ctx context.Context, d delivery.Delivery) (item, bool, error) {
	ev := d.Event
	key := ledger.MemberKey{SequenceID: ev.SequenceID(), ContactID: ev.ContactID()}
	ms, err := b.e.Ledger.Memberships(ctx, b.team, []ledger.MemberKey{key})
	if err != nil {
		return item{}, false, fmt.Errorf("read membership: %w", err)
	}
	m, ok := ms[key]
	if !ok {
		switch delivery.AwaitAdd(b.e.now(), d.AwaitFrom(), b.conn, orDefault(b.e.HoldDelay, delivery.DefaultHoldDelay), orDefault(b.e.AwaitAdd, delivery.DefaultAwaitAdd)) {
		case delivery.AwaitRetry:
			b.retry(d, b.awaitAdd())
		case delivery.AwaitHold:
			b.retry(d, b.hold(errors.New("the contact's contact.added may still be parked")))
		default:
			b.finish(d, b.outcome(d, event.StatusSkipped, event.ReasonNotAdded))
		}
		return item{}, false, nil
	}
	if m.Status == ledger.MemberPending || m.Status == ledger.MemberFailed {
		m.Status = ledger.MemberSyncing
		if c := contactOf(ev); c.Email != "" {
			m.Contact = c // the newest data the sequencer has
		}
	}
	return b.afterPin(d, m)
}

func (b *batch) afterPin(d delivery.Delivery, m ledger.Membership) (item, bool, error) {
	switch m.Status {
	case ledger.MemberSkipped:
		b.finish(d, b.outcome(d, event.StatusSkipped, m.Reason))
		return item{}, false, nil
	case ledger.MemberPending:
		b.finish(d, b.outcome(d, event.StatusPending, event.ReasonAwaitingReply))
		return item{}, false, nil
	}
	// Syncing, failed, or already synced: resolve finds the record the
	// email has in the ledger. A synced membership is linked to it, with
	// the outcome the record's own event had when that event is this one
	// (a duplicate delivery racing the first: both answer alike), else
	// linked/already_synced.
	return item{d: d, m: m, object: objectOf(m.Policy.SyncAs)}, true, nil
}

// resolve looks every email up once and creates what is missing (R5, R6),
// then writes the final states to the ledger in one step (flush). When it
// fails, the claims it took are given up.
func (b *batch) resolve(ctx context.Context, created []delivery.Delivery, toSync []item) error {
	if len(created) == 0 && len(toSync) == 0 {
		return nil
	}
	err := b.lookUp(ctx, created, toSync)
	// What was decided is written even when the rest failed: a record
	// created in Salesforce is in the ledger when the event comes back.
	if ferr := b.flush(b.settled(ctx)); err == nil {
		err = ferr
	}
	if err != nil {
		for _, email := range b.claimed {
			b.unclaim(context.WithoutCancel(ctx), email)
		}
	}
	return err
}

// lookUp links the emails already synced, looks the others up in
// Salesforce, and creates what is missing.
func (b *batch) lookUp(ctx context.Context, created []delivery.Delivery, toSync []item) error {
	// Emails already synced for the team are never created again.
	emails := map[string]bool{}
	for _, it := range toSync {
		emails[ledger.NormalizeEmail(it.m.Email)] = true
	}
	records, err := b.e.Ledger.Records(ctx, b.team, keys(emails))
	if err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	var pending []item
	lookup := map[string]bool{}
	for _, it := range toSync {
		r, ok := records[ledger.NormalizeEmail(it.m.Email)]
		if !ok {
			pending = append(pending, it)
			lookup[ledger.NormalizeEmail(it.m.Email)] = true
			continue
		}
		status, reason := event.StatusLinked, event.ReasonAlreadySynced
		if r.EventID == it.d.Event.ID { // our own earlier attempt saved it
			status, reason = r.Status, ""
			if r.Status == event.StatusLinked {
				reason = event.Reason("matched_" + r.MatchRule)
			}
		}
		b.end(ending{it: it, rec: r, st: status, reason: reason}) // saved already
	}
	for _, d := range created {
		lookup[ledger.NormalizeEmail(d.Event.Email())] = true
	}
	if len(lookup) == 0 {
		return nil
	}
	found, err := b.org.FindByEmail(ctx, keys(lookup))
	if err != nil {
		return b.salesforceErr("look emails up", err)
	}
	for _, d := range created {
		if m, ok := found[ledger.NormalizeEmail(d.Event.Email())]; ok {
			o := b.outcome(d, event.StatusExistsInSalesforce, event.Reason("matched_"+m.Rule))
			o.Salesforce = &event.SalesforceRef{Object: m.Object, ID: m.ID}
			b.finish(d, o)
		} else {
			b.finish(d, b.outcome(d, event.StatusNotInSalesforce, ""))
		}
	}
	mine, err := b.claim(ctx, pending, found)
	if err != nil {
		return err
	}
	return b.create(ctx, mine, found)
}

// claim takes the right to create a record for each email Salesforce does
// not have, so no other worker creates it meanwhile, and returns the items
// this batch may go on with: those of emails found (linking needs no claim:
// saving the link is refused if another worker holds the email's claim or
// saved another record for it) and those of emails it claimed. The items
// of an email another worker holds come back later.
func (b *batch) claim(ctx context.Context, pending []item, found map[string]ledger.Match) ([]item, error) {
	var order []string
	wanted := map[string]bool{}
	for _, it := range pending {
		e := ledger.NormalizeEmail(it.m.Email)
		if _, ok := found[e]; !ok && !wanted[e] {
			wanted[e] = true
			order = append(order, e)
		}
	}
	if len(order) == 0 {
		return pending, nil
	}
	// A claim outlives this invocation: its deadline (a write may run past
	// the share's, see WriteContext) plus a margin, so a live worker never
	// loses its claim to another.
	until := b.e.now().Add(b.claimTTL())
	if dl, ok := delivery.WriteContext(ctx).Deadline(); ok && dl.Add(time.Minute).After(until) {
		until = dl.Add(time.Minute)
	}
	errs, err := b.e.Ledger.ClaimAll(ctx, b.team, order, b.e.Owner, until)
	if err != nil {
		b.claimed = order // some may be taken: unclaiming a claim not held is a no-op
		return nil, fmt.Errorf("claim: %w", err)
	}
	busy := map[string]error{}
	for i, email := range order {
		if errs[i] != nil {
			busy[email] = errs[i]
			continue
		}
		b.claimed = append(b.claimed, email)
	}
	var mine []item
	for _, it := range pending {
		if cerr, ok := busy[ledger.NormalizeEmail(it.m.Email)]; ok {
			if !errors.Is(cerr, ledger.ErrClaimed) {
				cerr = fmt.Errorf("claim: %w", cerr)
			}
			b.retry(it.d, fmt.Errorf("%w: %w", delivery.ErrRetry, cerr))
			continue
		}
		mine = append(mine, it)
	}
	return mine, nil
}

func (b *batch) claimTTL() time.Duration {
	if b.e.ClaimTTL > 0 {
		return b.e.ClaimTTL
	}
	return 5 * time.Minute
}

// salesforceErr turns a whole-call failure into the batch's answer.
func (b *batch) salesforceErr(what string, err error) error {
	switch {
	case errors.Is(err, connection.ErrNeedsReauth), errors.Is(err, salesforce.ErrRequestLimit), errors.Is(err, budget.ErrCapped):
		return b.hold(fmt.Errorf("%s: %w", what, err))
	default:
		return fmt.Errorf("%w: %s: %w", delivery.ErrRetry, what, err)
	}
}

// create links what was found and creates the rest, one record per email:
// the first item of an email owns it, later ones in the batch follow it.
func (b *batch) create(ctx context.Context, mine []item, found map[string]ledger.Match) error {
	var newRecs []salesforce.SObject
	var owners []item                // owners[i] made newRecs[i]
	followers := map[string][]item{} // same email, later in the batch
	first := map[string]bool{}
	mappingVersion := map[string]int{} // by email
	mapFailed := map[string]*event.OutcomeError{}
	var linked []item
	for _, it := range mine {
		email := ledger.NormalizeEmail(it.m.Email)
		if first[email] {
			followers[email] = append(followers[email], it)
			continue
		}
		first[email] = true
		if _, ok := found[email]; ok {
			linked = append(linked, it)
			continue
		}
		rec, version, err := b.e.Renderer.Render(ctx, b.team, it.object, it.m.Contact)
		if err != nil {
			oe := &event.OutcomeError{Code: "MAPPING_ERROR", Message: err.Error()}
			b.fail(ctx, it, oe)
			mapFailed[email] = oe
			b.unclaim(ctx, email)
			continue
		}
		mappingVersion[email] = version
		newRecs = append(newRecs, rec)
		owners = append(owners, it)
	}
	for _, it := range linked {
		email := ledger.NormalizeEmail(it.m.Email)
		m := found[email]
		r := b.record(it, m.Object, m.ID, event.StatusLinked, m.Rule, 0)
		b.synced(ctx, it, r, event.StatusLinked, event.Reason("matched_"+m.Rule))
		b.follow(ctx, followers[email], r)
	}
	for email, oe := range mapFailed {
		for _, f := range followers[email] {
			b.fail(ctx, f, oe)
		}
	}
	if len(newRecs) == 0 {
		return nil
	}
	allow, err := b.allowSave(ctx, owners)
	if err != nil {
		return err
	}
	// The write, and what its answer ends, are not cut when the share
	// does (see WriteContext); the duplicates' lookup after it is a read.
	wctx := delivery.WriteContext(ctx)
	results, err := b.createAll(wctx, newRecs, allow)
	if err != nil {
		return err
	}
	var dupes []int
	var dmu sync.Mutex
	if err := each(len(results), func(i int) error {
		res, it := results[i], owners[i]
		email := ledger.NormalizeEmail(it.m.Email)
		switch {
		case res.Success:
			r := b.record(it, it.object, res.ID, event.StatusCreated, "created", mappingVersion[email])
			b.synced(wctx, it, r, event.StatusCreated, "")
			b.follow(wctx, followers[email], r)
		case hasCode(res, salesforce.CodeDuplicatesDetected):
			dmu.Lock()
			dupes = append(dupes, i)
			dmu.Unlock()
		case transient(res):
			b.retry(it.d, fmt.Errorf("%w: %s", delivery.ErrRetry, firstError(res).Message))
			for _, f := range followers[email] {
				b.retry(f.d, fmt.Errorf("%w: %s", delivery.ErrRetry, firstError(res).Message))
			}
			b.unclaim(wctx, email)
		default:
			fe := firstError(res)
			oe := &event.OutcomeError{Code: fe.Code, Message: fe.Message, Fields: fe.Fields}
			b.fail(wctx, it, oe)
			for _, f := range followers[email] {
				b.fail(wctx, f, oe)
			}
			b.unclaim(wctx, email)
		}
		return nil
	}); err != nil {
		return err
	}
	slices.Sort(dupes)
	b.count(wctx, results, owners, mappingVersion)
	if len(dupes) > 0 {
		return b.linkDuplicates(ctx, dupes, results, owners, followers)
	}
	return nil
}

// resendInnocent handles Salesforce refusing a whole collection over a field
// some records carry (a field deleted since the mapping was saved answers
// INVALID_FIELD for the collection): the records without that field are sent
// again, once, so one contact's problem never fails its batch-mates.
func (b *batch) resendInnocent(ctx context.Context, recs []salesforce.SObject, results []salesforce.SaveResult, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	var again []int
	for i, res := range results {
		if res.Success {
			continue
		}
		fe := firstError(res)
		if fe.Code != salesforce.CodeInvalidField || len(fe.Fields) == 0 {
			continue // firstError names the field from the message when Salesforce leaves fields empty
		}
		carries := false
		for _, f := range fe.Fields {
			for k := range recs[i] {
				if strings.EqualFold(k, f) {
					carries = true
				}
			}
		}
		if !carries {
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
	second, err := b.org.Create(ctx, sub, opts)
	if err != nil {
		return nil, err
	}
	results = slices.Clone(results)
	for j, i := range again {
		results[i] = second[j]
	}
	return results, nil
}

// count records how many contacts each mapping version created; a figure
// for people, so a failure is logged, not retried.
func (b *batch) count(ctx context.Context, results []salesforce.SaveResult, owners []item, versions map[string]int) {
	if b.e.Counts == nil {
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
		if err := b.e.Counts.CountSynced(ctx, b.team, k.object, k.version, c); err != nil {
			b.e.log().Warn("count synced contacts", "team_id", b.team, "error", err.Error())
		}
	}
}

// linkDuplicates follows a DUPLICATES_DETECTED answer to the record with
// the contact's email, looked up again (one racing create may have made it
// since the first lookup). A record the rule matched on something else (a
// new org's standard rules match the name plus the email, the phone, or the
// title and company) is another person as far as the sync knows: it is
// never linked, and the contact fails with DUPLICATES_DETECTED, the
// matched ids when Salesforce names them (sObject Collections do not) and
// what to do.
func (b *batch) linkDuplicates(ctx context.Context, dupes []int, results []salesforce.SaveResult, owners []item, followers map[string][]item) error {
	emails := make([]string, 0, len(dupes))
	for _, i := range dupes {
		emails = append(emails, ledger.NormalizeEmail(owners[i].m.Email))
	}
	found, err := b.org.FindByEmail(ctx, emails)
	if err != nil {
		return b.salesforceErr("look duplicates up", err)
	}
	for _, i := range dupes {
		it := owners[i]
		email := ledger.NormalizeEmail(it.m.Email)
		m, ok := found[email]
		if !ok {
			b.fail(ctx, it, duplicateError(results[i]))
			b.unclaim(ctx, email)
			continue
		}
		r := b.record(it, m.Object, m.ID, event.StatusLinked, "duplicate_rule", 0)
		b.synced(ctx, it, r, event.StatusLinked, "matched_duplicate_rule")
		b.follow(ctx, followers[email], r)
	}
	return nil
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

func (b *batch) follow(ctx context.Context, fs []item, r ledger.Record) {
	for _, f := range fs {
		b.synced(ctx, f, r, event.StatusLinked, event.ReasonAlreadySynced)
	}
}

func (b *batch) record(it item, obj event.SalesforceObject, id string, st event.Status, rule string, mappingVersion int) ledger.Record {
	return ledger.Record{TeamID: b.team, Email: ledger.NormalizeEmail(it.m.Email), Object: obj, ID: id, Status: st, MatchRule: rule,
		PolicyVersion: it.m.Policy.TeamVersion, MappingVersion: mappingVersion, SyncedAt: b.e.now().UTC(),
		EventID: it.d.Event.ID, ContactID: it.d.Event.ContactID()}
}

// synced notes that the item is synced to r: flush saves the record (once
// per email: a record new to the ledger), marks the membership synced and
// gives the event its outcome.
func (b *batch) synced(_ context.Context, it item, r ledger.Record, st event.Status, reason event.Reason) {
	b.end(ending{it: it, rec: r, save: reason != event.ReasonAlreadySynced, st: st, reason: reason})
}

// end notes a final state for flush.
func (b *batch) end(w ending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes = append(b.writes, w)
}

// fail notes that the item failed with oe: flush marks the membership
// failed and gives the event its outcome.
func (b *batch) fail(_ context.Context, it item, oe *event.OutcomeError) {
	if len(oe.Message) > 1000 {
		oe.Message = oe.Message[:1000]
	}
	b.end(ending{it: it, oe: oe})
}

// flush writes the batch's final states: the new records in one ledger
// call, then the memberships in another, and gives each event its outcome.
// An item whose own write was refused comes back later (ErrRetry), with the
// items that depend on its record; only a failed call fails the batch.
func (b *batch) flush(ctx context.Context) error {
	b.mu.Lock()
	ws := b.writes
	b.writes = nil
	b.mu.Unlock()
	if len(ws) == 0 {
		return nil
	}
	var recs []ledger.Record
	for _, w := range ws {
		if w.oe == nil && w.save {
			recs = append(recs, w.rec)
		}
	}
	unsaved := map[string]error{} // by email
	if len(recs) > 0 {
		errs, err := b.e.Ledger.SaveRecords(ctx, recs)
		if err != nil {
			return fmt.Errorf("save records: %w", err)
		}
		for i, e := range errs {
			if e != nil {
				unsaved[recs[i].Email] = e
				b.unclaim(ctx, recs[i].Email)
			}
		}
	}
	var ms []ledger.Membership
	var of []ending // of[j] ended as ms[j]
	for _, w := range ws {
		m := w.it.m
		if w.oe != nil {
			m.Status, m.Reason = ledger.MemberFailed, ""
		} else {
			if e, ok := unsaved[w.rec.Email]; ok {
				b.retry(w.it.d, fmt.Errorf("%w: save record: %w", delivery.ErrRetry, e))
				continue
			}
			m.Status, m.Reason, m.Salesforce = ledger.MemberSynced, "", &event.SalesforceRef{Object: w.rec.Object, ID: w.rec.ID}
		}
		ms = append(ms, m)
		of = append(of, w)
	}
	if len(ms) == 0 {
		return nil
	}
	errs, err := b.e.Ledger.SetMemberships(ctx, ms)
	if err != nil {
		return fmt.Errorf("set memberships: %w", err)
	}
	for j, w := range of {
		if errs[j] != nil {
			b.retry(w.it.d, fmt.Errorf("%w: set membership: %w", delivery.ErrRetry, errs[j]))
			continue
		}
		b.release(ctx, ms[j])
		if w.oe != nil {
			o := b.outcome(w.it.d, event.StatusFailed, "")
			o.Error = w.oe
			b.finish(w.it.d, o)
			continue
		}
		o := b.outcome(w.it.d, w.st, w.reason)
		o.Salesforce = ms[j].Salesforce
		b.finish(w.it.d, o)
	}
	return nil
}

// release notes that the activity held for the membership may go; the
// batch lets it go in one step when its sync ends (flushReleases).
func (b *batch) release(_ context.Context, m ledger.Membership) {
	if b.e.Release == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releases = append(b.releases, ledger.MemberKey{SequenceID: m.SequenceID, ContactID: m.ContactID})
}

// flushReleases lets the held activity of the batch's final memberships go:
// in one call when the releaser takes many (one read of what is held for
// the team instead of one per membership). On failure the held copies stay
// and the contact's next activity picks them up.
func (b *batch) flushReleases(ctx context.Context) {
	b.mu.Lock()
	keys := b.releases
	b.releases = nil
	b.mu.Unlock()
	if len(keys) == 0 || b.e.Release == nil {
		return
	}
	if all, ok := b.e.Release.(BatchReleaser); ok {
		if err := all.ReleaseAll(ctx, b.team, keys); err != nil {
			b.e.log().Warn("release held activities", "team_id", b.team, "error", err.Error())
		}
		return
	}
	for _, k := range keys {
		if err := b.e.Release.Release(ctx, b.team, k); err != nil {
			b.e.log().Warn("release held activities", "team_id", b.team, "error", err.Error())
		}
	}
}

func (b *batch) unclaim(ctx context.Context, email string) {
	if err := b.e.Ledger.Unclaim(ctx, b.team, email, b.e.Owner); err != nil {
		b.e.log().Warn("unclaim", "team_id", b.team, "error", err.Error())
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

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// parallelism bounds the concurrent ledger calls of one batch.
const parallelism = 32

// each runs f(0..n-1) with bounded concurrency and returns the first error.
func each(n int, f func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(parallelism)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

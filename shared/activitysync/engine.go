package activitysync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Reasons activity sync adds to the event contract's.
const (
	ReasonKindOff event.Reason = "activity_kind_off" // the team does not log this kind of activity
)

// CodeNoClosedTaskStatus is the error code of an activity failed because
// the org offers no active closed Task status: a logged email is a
// completed Task, never an open one.
const CodeNoClosedTaskStatus = "NO_CLOSED_TASK_STATUS"

// noClosedStatus is the answer of a Task not sent for want of a closed status.
var noClosedStatus = salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: CodeNoClosedTaskStatus, Fields: []string{"Status"},
	Message: "the org has no active closed Task status, so the email cannot be logged as a completed Task: " +
		"mark a value of the Task Status picklist Closed (Setup, Object Manager, Task, Fields, Status)"}}}

// Defaults of the engine's knobs.
const (
	DefaultAwaitAdd      = delivery.DefaultAwaitAdd
	DefaultTaskFieldsTTL = 24 * time.Hour
	DefaultClaimTTL      = 5 * time.Minute
)

// Engine syncs email events. It handles one batch at a time.
type Engine struct {
	Ledger     Ledger
	Activities Activities
	Orgs       Orgs
	Settings   Settings
	Publisher  delivery.Publisher
	// Owner names this worker in claims; ClaimTTL must exceed the
	// function's timeout.
	Owner    string
	ClaimTTL time.Duration
	// TaskOwner is the OwnerId of new Tasks; empty leaves it to
	// Salesforce (the connected user).
	TaskOwner string
	// AwaitAdd is how long an activity whose contact.added has not been
	// seen yet keeps coming back before it is skipped as not_added (from
	// when it occurred, or from when the team's parked events have all come
	// back: see delivery.AwaitAdd).
	AwaitAdd time.Duration
	// HoldDelay is how long a parked event waits (the queue's hold delay).
	HoldDelay time.Duration
	// Reruns and RerunWait: a team's batch that meets a passing Salesforce
	// fault is run again at once (see delivery.Rerun); zero values are
	// the defaults.
	Reruns    int
	RerunWait time.Duration
	// TaskFieldsTTL is how long the Task describe is trusted.
	TaskFieldsTTL time.Duration
	Now           func() time.Time
	Log           *slog.Logger
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

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Process handles one batch of deliveries and returns the ids of those that
// must come back, with why. Every other delivery has its final (or pending)
// outcome recorded and published.
func (e *Engine) Process(ctx context.Context, ds []delivery.Delivery) map[string]error {
	failed := map[string]error{}
	// A batch larger than the deployed one runs in parts, so what a run
	// keeps in memory is that of 1,000 (see delivery.Parts).
	delivery.RunParts(ctx, ds, failed, delivery.Runner{
		Reruns: e.Reruns, Wait: e.RerunWait, Log: e.log(),
		Run: func(ctx context.Context, team string, part []delivery.Delivery) error {
			b := &batch{e: e, team: team, failed: failed, done: map[string]bool{}}
			return b.run(ctx, part)
		},
	})
	e.answers().EndHeld(ctx, ds, failed)
	return failed
}

// answers gives the engine's answers outside a team's run.
func (e *Engine) answers() delivery.Answers {
	return delivery.Answers{Ledger: e.Ledger, Settings: e.Settings, Publisher: e.Publisher, Now: e.now, Log: e.log()}
}

// AnswerInvalid answers messages that failed validation (see
// delivery.Answers.AnswerInvalid).
func (e *Engine) AnswerInvalid(ctx context.Context, outs []event.Outcome) error {
	return e.answers().AnswerInvalid(ctx, outs)
}

// batch is the work of one team within one delivery batch.
type batch struct {
	e        *Engine
	team     string
	failed   map[string]error
	outcomes []event.Outcome
	done     map[string]bool // event ids with a final answer in this batch
	org      Org
	conn     delivery.Connection
	drained  map[ledger.MemberKey]*drain
	// described: this batch read the Task describe itself, rather than
	// trusting the cache.
	described bool
	mu        sync.Mutex
}

// drain is a membership whose held activities this batch handles.
type drain struct {
	mark int64
	ids  []string
}

// item is an activity to log.
type item struct {
	d    delivery.Delivery
	m    ledger.Membership
	key  string // activity key
	who  event.SalesforceRef
	held bool // came from the held store, not the queue
}

func (b *batch) finish(d delivery.Delivery, o event.Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outcomes = append(b.outcomes, o)
	b.done[d.Event.ID] = true
}

func (b *batch) outcome(d delivery.Delivery, st event.Status, reason event.Reason) event.Outcome {
	o := event.NewOutcome(d.Event, "out_"+d.Event.ID, st, b.e.now())
	o.Reason = reason
	return o
}

func (b *batch) skip(d delivery.Delivery, reason event.Reason) {
	b.finish(d, b.outcome(d, event.StatusSkipped, reason))
}

// retry brings a queued delivery back; a held one simply stays held.
func (b *batch) retry(d delivery.Delivery, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d.ID != "" {
		b.failed[d.ID] = err
	}
}

// awaitAdd is the wait of an event whose contact.added has not been synced yet.
func (b *batch) awaitAdd() error {
	return fmt.Errorf("%w: the contact's contact.added has not been synced yet", delivery.ErrWait)
}

func (b *batch) hold(reason error) error {
	return fmt.Errorf("%w: %w", delivery.ErrHeld, reason)
}

func (b *batch) salesforceErr(what string, err error) error {
	switch {
	case errors.Is(err, connection.ErrNeedsReauth), errors.Is(err, salesforce.ErrRequestLimit), errors.Is(err, budget.ErrCapped):
		return b.hold(fmt.Errorf("%s: %w", what, err))
	default:
		return fmt.Errorf("%w: %s: %w", delivery.ErrRetry, what, err)
	}
}

func memberKey(ev event.Event) ledger.MemberKey {
	return ledger.MemberKey{SequenceID: ev.SequenceID(), ContactID: ev.ContactID()}
}

func (b *batch) run(ctx context.Context, ds []delivery.Delivery) error {
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.Event.ID)
	}
	settle := delivery.WriteContext(ctx) // what the part did is recorded even past its share's end
	prior, err := b.e.Ledger.Outcomes(ctx, b.team, ids)
	if err != nil {
		return fmt.Errorf("read outcomes: %w", err)
	}
	var todo []delivery.Delivery
	var republish []event.Outcome
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Event.ID] {
			continue
		}
		seen[d.Event.ID] = true
		if !d.Event.Type.IsEmail() {
			b.retry(d, fmt.Errorf("event %s: type %s is not an email event", d.Event.ID, d.Event.Type))
			continue
		}
		if o, ok := prior[d.Event.ID]; ok && o.Status != event.StatusPending && o.Status != event.StatusFailed {
			republish = append(republish, o) // final before; its answer may not have reached the queue
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
		if err := b.e.Ledger.RecordOutcomes(settle, b.outcomes); err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
	}
	// Held activities leave the store once their final outcome is recorded.
	for k, dr := range b.drained {
		var gone []string
		for _, id := range dr.ids {
			if b.done[id] {
				gone = append(gone, id)
			}
		}
		if len(gone) < len(dr.ids) {
			dr.mark = -1 // some stay held: keep the membership listed
		}
		if err := b.e.Activities.Unhold(settle, b.team, k, gone, dr.mark); err != nil {
			b.e.log().Warn("unhold activities", "team_id", b.team, "error", err.Error())
		}
	}
	if all := append(republish, b.outcomes...); len(all) > 0 {
		if err := b.e.Publisher.Publish(settle, all); err != nil {
			return fmt.Errorf("publish outcomes: %w", err)
		}
	}
	return nil
}

func (b *batch) sync(ctx context.Context, ds []delivery.Delivery) error {
	org, conn, err := b.e.Orgs.Open(ctx, b.team)
	switch {
	case errors.Is(err, connection.ErrNotConnected):
		for _, d := range ds {
			b.skip(d, event.ReasonNotConnected)
		}
		return nil
	case errors.Is(err, connection.ErrNeedsReauth):
		return b.hold(err)
	case err != nil:
		return fmt.Errorf("open org: %w", err)
	}
	b.org, b.conn = org, conn
	defer func() {
		if err := org.Close(context.WithoutCancel(ctx)); err != nil {
			b.e.log().Warn("close org", "team_id", b.team, "error", err.Error())
		}
	}()

	// No backfill: activity before the connection is never logged.
	var live []delivery.Delivery
	for _, d := range ds {
		if d.Event.OccurredAt.Before(conn.ConnectedAt) {
			b.skip(d, event.ReasonBeforeConnection)
			continue
		}
		live = append(live, d)
	}
	live, err = b.bySettings(ctx, live)
	if err != nil {
		return err
	}
	if len(live) == 0 {
		return nil
	}

	// Where each contact's sync stands.
	keySet := map[ledger.MemberKey]bool{}
	for _, d := range live {
		keySet[memberKey(d.Event)] = true
	}
	ms, err := b.e.Ledger.Memberships(ctx, b.team, mapKeys(keySet))
	if err != nil {
		return fmt.Errorf("read memberships: %w", err)
	}
	heldKeys, err := b.e.Activities.HeldKeys(ctx, b.team)
	if err != nil {
		return fmt.Errorf("read held activities: %w", err)
	}
	var toLog []item
	var toHold []delivery.Delivery
	for _, d := range live {
		m, ok := ms[memberKey(d.Event)]
		if !ok {
			switch delivery.AwaitAdd(b.e.now(), d.AwaitFrom(), b.conn,
				orDefault(b.e.HoldDelay, delivery.DefaultHoldDelay), orDefault(b.e.AwaitAdd, DefaultAwaitAdd)) {
			case delivery.AwaitRetry:
				b.retry(d, b.awaitAdd())
			case delivery.AwaitHold:
				b.retry(d, b.hold(errors.New("the contact's contact.added may still be parked")))
			default:
				b.skip(d, event.ReasonNotAdded)
			}
			continue
		}
		switch m.Status {
		case ledger.MemberPending, ledger.MemberSyncing:
			toHold = append(toHold, d)
		default:
			if it, ok := b.classify(d, m, false); ok {
				toLog = append(toLog, it)
			}
		}
	}

	// Hold what waits for its contact, then look again: a contact that
	// synced meanwhile may have released before the hold was stored.
	if err := each(len(toHold), func(i int) error {
		d := toHold[i]
		if err := b.e.Activities.Hold(ctx, b.team, memberKey(d.Event), d.Event); err != nil {
			return fmt.Errorf("hold activity: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	recheck := map[ledger.MemberKey]bool{}
	for _, d := range toHold {
		recheck[memberKey(d.Event)] = true
	}
	if len(recheck) > 0 {
		now, err := b.e.Ledger.Memberships(ctx, b.team, mapKeys(recheck))
		if err != nil {
			return fmt.Errorf("read memberships again: %w", err)
		}
		for k := range recheck {
			if m, ok := now[k]; ok && m.Status != ledger.MemberPending && m.Status != ledger.MemberSyncing {
				ms[k] = m
				heldKeys[k] = -1 // drain it now, and keep it listed in case of a later hold
			}
		}
		for _, d := range toHold {
			if m := ms[memberKey(d.Event)]; m.Status == ledger.MemberPending || m.Status == ledger.MemberSyncing {
				o := b.outcome(d, event.StatusPending, event.ReasonContactPending)
				b.finish(d, o)
			}
		}
	}

	// Memberships of this batch in a final state: their held activities
	// come out, in order, with the batch's own.
	inBatch := map[string]bool{}
	for _, d := range ds {
		inBatch[d.Event.ID] = true
	}
	b.drained = map[ledger.MemberKey]*drain{}
	for k := range keySet {
		mark, isHeld := heldKeys[k]
		m, ok := ms[k]
		if !isHeld || !ok || m.Status == ledger.MemberPending || m.Status == ledger.MemberSyncing {
			continue
		}
		evs, err := b.e.Activities.Held(ctx, b.team, k)
		if err != nil {
			return fmt.Errorf("read held activities: %w", err)
		}
		dr := &drain{mark: mark}
		b.drained[k] = dr
		var heldIDs []string
		for _, ev := range evs {
			heldIDs = append(heldIDs, ev.ID)
		}
		prior, err := b.e.Ledger.Outcomes(ctx, b.team, heldIDs)
		if err != nil {
			return fmt.Errorf("read outcomes of held activities: %w", err)
		}
		for _, ev := range evs {
			dr.ids = append(dr.ids, ev.ID)
			if o, ok := prior[ev.ID]; ok && o.Status != event.StatusPending && o.Status != event.StatusFailed {
				b.mu.Lock()
				b.done[ev.ID] = true // logged before; only the store forgot to let go
				b.mu.Unlock()
				continue
			}
			if inBatch[ev.ID] {
				continue // redelivered to the queue too: handled as a delivery
			}
			d := delivery.Delivery{Event: ev}
			if it, ok := b.classify(d, m, true); ok {
				toLog = append(toLog, it)
			}
		}
	}
	// Deliveries just held whose contact synced meanwhile.
	for _, d := range toHold {
		if m := ms[memberKey(d.Event)]; m.Status != ledger.MemberPending && m.Status != ledger.MemberSyncing {
			if it, ok := b.classify(d, m, false); ok {
				toLog = append(toLog, it)
			}
		}
	}
	slices.SortStableFunc(toLog, func(a, c item) int {
		return cmp.Or(a.d.Event.OccurredAt.Compare(c.d.Event.OccurredAt), cmp.Compare(a.d.Event.ID, c.d.Event.ID))
	})
	return b.log(ctx, toLog)
}

// governLowValue holds the opens and clicks delivered by the queue while the
// team is near its API budget, so that record creation and sent and replied
// emails keep the room (the API budget governor). Activities released from
// the held store go on: their contact just synced.
func (b *batch) governLowValue(items []item) []item {
	err := b.org.Allow(budget.Low)
	if err == nil {
		return items
	}
	kept := items[:0]
	for _, it := range items {
		if t := it.d.Event.Type; !it.held && (t == event.EmailOpened || t == event.EmailClicked) {
			b.retry(it.d, b.hold(err))
			continue
		}
		kept = append(kept, it)
	}
	return kept
}

// classify answers an activity of a membership in a final state: skipped
// when the contact will never sync, else an item to log.
func (b *batch) classify(d delivery.Delivery, m ledger.Membership, held bool) (item, bool) {
	switch m.Status {
	case ledger.MemberSkipped:
		b.skip(d, event.ReasonContactWillNotSync)
		return item{}, false
	case ledger.MemberFailed:
		b.skip(d, event.ReasonContactFailed)
		return item{}, false
	}
	ev := d.Event
	msg := ev.Data.(event.EmailData).Message
	return item{d: d, m: m, key: Key(b.team, msg.ID, KindOf(ev.Type)), held: held}, true
}

// bySettings skips the activities the team's settings at their time do
// not log, and returns the rest.
func (b *batch) bySettings(ctx context.Context, ds []delivery.Delivery) ([]delivery.Delivery, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	first, last := ds[0].Event.OccurredAt, ds[0].Event.OccurredAt
	for _, d := range ds {
		first, last = minTime(first, d.Event.OccurredAt), maxTime(last, d.Event.OccurredAt)
	}
	// One read when no change took effect within the batch's time span.
	tv, err := b.e.Settings.TeamSettingsAt(ctx, b.team, last)
	if err != nil {
		return nil, fmt.Errorf("resolve team settings: %w", err)
	}
	settings := make([]policy.TeamSettings, len(ds))
	if tv.Number == 0 || !tv.EffectiveAt.After(first) {
		for i := range settings {
			settings[i] = tv.Document
		}
	} else if err := each(len(ds), func(i int) error {
		v, err := b.e.Settings.TeamSettingsAt(ctx, b.team, ds[i].Event.OccurredAt)
		if err != nil {
			return fmt.Errorf("resolve team settings: %w", err)
		}
		settings[i] = v.Document
		return nil
	}); err != nil {
		return nil, err
	}
	var out []delivery.Delivery
	for i, d := range ds {
		s := settings[i]
		switch {
		case !s.ActivityTracking:
			b.skip(d, event.ReasonActivityTrackingOff)
		case !s.ActivityKinds.Clone()[KindOf(d.Event.Type)]:
			b.skip(d, ReasonKindOff)
		default:
			out = append(out, d)
		}
	}
	return out, nil
}

// log creates one Task per activity key, exactly once.
func (b *batch) log(ctx context.Context, items []item) error {
	items = b.governLowValue(items)
	if len(items) == 0 {
		return nil
	}
	// The record each contact resolved to.
	emails := map[string]bool{}
	for _, it := range items {
		emails[ledger.NormalizeEmail(it.d.Event.Email())] = true
	}
	records, err := b.e.Ledger.Records(ctx, b.team, mapKeys(emails))
	if err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	// One owner per activity key; later deliveries of the key follow it.
	var owners []item
	followers := map[string][]item{}
	for _, it := range items {
		if r, ok := records[ledger.NormalizeEmail(it.d.Event.Email())]; ok {
			it.who = event.SalesforceRef{Object: r.Object, ID: r.ID}
		} else if it.m.Salesforce != nil {
			it.who = *it.m.Salesforce
		} else {
			b.retry(it.d, fmt.Errorf("%w: contact synced but its record is not saved yet", delivery.ErrRetry))
			continue
		}
		if _, ok := followers[it.key]; ok {
			followers[it.key] = append(followers[it.key], it)
			continue
		}
		followers[it.key] = []item{}
		owners = append(owners, it)
	}

	until := b.e.now().Add(orDefault(b.e.ClaimTTL, DefaultClaimTTL))
	if dl, ok := delivery.WriteContext(ctx).Deadline(); ok && dl.Add(time.Minute).After(until) { // a write may outlive the share
		until = dl.Add(time.Minute)
	}
	reqs := make([]ClaimRequest, len(owners))
	for i, it := range owners {
		reqs[i] = ClaimRequest{Key: it.key, EventID: it.d.Event.ID}
	}
	claims, err := b.e.Activities.ClaimAll(ctx, b.team, reqs, b.e.Owner, until)
	if err != nil {
		return fmt.Errorf("claim activities: %w", err)
	}
	var fresh, uncertain []item
	for i, it := range owners {
		switch c := claims[i]; {
		case errors.Is(c.Err, ErrClaimed):
			b.retryAll(it, fmt.Errorf("%w: %w", delivery.ErrRetry, c.Err))
		case c.Err != nil:
			b.retryAll(it, fmt.Errorf("claim activity: %w", c.Err))
		case c.TaskID != "":
			b.logged(it, c.TaskID, c.EventID)
		case c.Attempted:
			uncertain = append(uncertain, it)
		default:
			fresh = append(fresh, it)
		}
	}
	mine := append(slices.Clone(fresh), uncertain...)
	abandon := func() { b.abandon(context.WithoutCancel(ctx), mine) }
	if len(mine) == 0 {
		return b.followAll(owners, followers)
	}
	tf, err := b.taskFields(ctx)
	if err != nil {
		abandon()
		return err
	}
	// A create of an earlier attempt may have reached Salesforce: find it.
	if len(uncertain) > 0 {
		var keys, whos []string
		for _, it := range uncertain {
			keys = append(keys, it.key)
			whos = append(whos, it.who.ID)
		}
		found, err := b.org.FindTasks(ctx, tf.KeyField, keys, slices.Compact(slices.Sorted(slices.Values(whos))))
		if err != nil {
			abandon()
			return b.salesforceErr("look saved tasks up", err)
		}
		var saved []item
		var savedIDs []string
		for _, it := range uncertain {
			if id, ok := found[it.key]; ok {
				saved, savedIDs = append(saved, it), append(savedIDs, id)
				continue
			}
			fresh = append(fresh, it)
		}
		if err := b.recordTasks(ctx, saved, savedIDs); err != nil {
			abandon()
			return err
		}
	}
	if err := b.create(ctx, fresh, tf, true); err != nil {
		abandon()
		return err
	}
	return b.followAll(owners, followers)
}

// create sends the Tasks; a Lead converted since it synced is followed to
// its Contact and its Tasks sent again (once).
func (b *batch) create(ctx context.Context, items []item, tf TaskFields, follow bool) error {
	if len(items) == 0 {
		return nil
	}
	if tf.ClosedStatus == "" {
		for _, it := range items {
			b.failOne(ctx, it, noClosedStatus)
		}
		return nil
	}
	tasks := make([]salesforce.SObject, len(items))
	for i, it := range items {
		tasks[i] = NewTask(it.d.Event, it.who.ID, it.key, tf, b.e.TaskOwner)
	}
	// The write, and what its answer ends, are not cut when the share
	// does (see delivery.WriteContext); following a moved Lead is a read.
	wctx := delivery.WriteContext(ctx)
	results, err := b.org.Create(wctx, tasks, salesforce.WriteOptions{})
	if err != nil {
		return b.salesforceErr("create tasks", err)
	}
	var created []item
	var ids []string
	for i, res := range results {
		if res.Success {
			created, ids = append(created, items[i]), append(ids, res.ID)
		}
	}
	if err := b.recordTasks(wctx, created, ids); err != nil {
		return err
	}
	var moved, busy []item
	stale := false
	for i, res := range results {
		it := items[i]
		switch {
		case res.Success:
		case follow && gone(res):
			moved = append(moved, it)
		case hasCode(res, salesforce.CodeUnableToLockRow) || hasCode(res, salesforce.CodeServerUnavailable):
			busy = append(busy, it)
			b.retryAll(it, fmt.Errorf("%w: %s", delivery.ErrRetry, firstError(res).Message))
		case statusRefused(res):
			stale = true
			if b.described { // the org's own answer of this batch: no use asking again
				b.failOne(wctx, it, res)
				continue
			}
			busy = append(busy, it)
			b.retryAll(it, fmt.Errorf("%w: the cached closed Task status was refused: %s", delivery.ErrRetry, firstError(res).Message))
		default:
			b.failOne(wctx, it, res)
		}
	}
	b.abandon(wctx, busy)
	if stale {
		b.forgetTaskFields(wctx)
	}
	if len(moved) == 0 {
		return nil
	}
	return b.followMoved(ctx, moved, tf)
}

// statusRefused reports a Task Salesforce refused for its Status: an admin
// changed the org's Task statuses since they were read.
func statusRefused(r salesforce.SaveResult) bool {
	for _, e := range r.Errors {
		if e.Code != codeRestrictedPicklist && e.Code != codeBadValue {
			continue
		}
		if slices.Contains(e.Fields, "Status") || strings.HasPrefix(e.Message, "Status:") {
			return true
		}
	}
	return false
}

// Salesforce's codes of a value a picklist does not offer.
const (
	codeRestrictedPicklist = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
	codeBadValue           = "BAD_VALUE"
)

// forgetTaskFields drops the team's cached TaskFields (an empty closed
// status is never trusted), so that the next batch reads the org's again.
func (b *batch) forgetTaskFields(ctx context.Context) {
	if err := b.e.Activities.SaveTaskFields(ctx, b.team, TaskFields{}, time.Time{}); err != nil {
		b.e.log().Warn("forget task fields", "team_id", b.team, "error", err.Error())
	}
}

// followMoved looks the emails of Tasks refused on their WhoId up again:
// a converted Lead resolves to its Contact, whom the ledger then follows.
func (b *batch) followMoved(ctx context.Context, moved []item, tf TaskFields) error {
	var emails []string
	for _, it := range moved {
		emails = append(emails, it.d.Event.Email())
	}
	found, err := b.org.FindByEmail(ctx, emails)
	if err != nil {
		return b.salesforceErr("look converted records up", err)
	}
	var again []item
	for _, it := range moved {
		email := ledger.NormalizeEmail(it.d.Event.Email())
		m, ok := found[email]
		if !ok || m.ID == it.who.ID {
			b.failOne(ctx, it, salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: salesforce.CodeCannotUpdateConverted,
				Message: "the contact's Salesforce record no longer takes activities and no other record has its email", Fields: []string{"WhoId"}}}})
			continue
		}
		to := event.SalesforceRef{Object: m.Object, ID: m.ID}
		if _, err := b.e.Ledger.FollowRecord(ctx, b.team, email, it.who.ID, to); err != nil {
			b.e.log().Warn("follow converted record", "team_id", b.team, "error", err.Error())
		}
		it.who = to
		again = append(again, it)
	}
	return b.create(ctx, again, tf, false)
}

// gone reports a Task refused because its WhoId no longer takes one.
func gone(r salesforce.SaveResult) bool {
	return hasCode(r, salesforce.CodeCannotUpdateConverted) || hasCode(r, salesforce.CodeEntityIsDeleted) ||
		hasCode(r, "INVALID_CROSS_REFERENCE_KEY")
}

func (b *batch) taskFields(ctx context.Context) (TaskFields, error) {
	tf, at, ok, err := b.e.Activities.TaskFields(ctx, b.team)
	if err != nil {
		return TaskFields{}, fmt.Errorf("read task fields: %w", err)
	}
	// An empty closed status is never trusted: a cache written before the
	// org's closed status was read, one dropped after Salesforce refused
	// the status, or an org without one, whose admin may have fixed it
	// since (its Tasks fail until then, each batch asking again).
	if ok && tf.ClosedStatus != "" && b.e.now().Sub(at) < orDefault(b.e.TaskFieldsTTL, DefaultTaskFieldsTTL) {
		return tf, nil
	}
	tf, err = b.org.DescribeTask(ctx)
	if err != nil {
		return TaskFields{}, b.salesforceErr("describe Task", err)
	}
	b.described = true
	if err := b.e.Activities.SaveTaskFields(ctx, b.team, tf, b.e.now()); err != nil {
		b.e.log().Warn("cache task fields", "team_id", b.team, "error", err.Error())
	}
	return tf, nil
}

// logged gives an activity whose Task exists its outcome: created for the
// event that made it, skipped as a duplicate for any other event.
func (b *batch) logged(it item, taskID, ownerEvent string) {
	ref := &event.SalesforceRef{Object: event.ObjectTask, ID: taskID}
	o := b.outcome(it.d, event.StatusCreated, "")
	if ownerEvent != "" && ownerEvent != it.d.Event.ID {
		o = b.outcome(it.d, event.StatusSkipped, event.ReasonDuplicateEvent)
	}
	o.Salesforce = ref
	b.finish(it.d, o)
}

// followAll answers the later deliveries of each key like its owner.
func (b *batch) followAll(owners []item, followers map[string][]item) error {
	b.mu.Lock()
	answers := map[string]event.Outcome{}
	for _, o := range b.outcomes {
		answers[o.EventID] = o
	}
	failed := map[string]error{}
	for _, it := range owners {
		if err, ok := b.failed[it.d.ID]; ok && it.d.ID != "" {
			failed[it.key] = err
		}
	}
	b.mu.Unlock()
	for _, own := range owners {
		for _, f := range followers[own.key] {
			if o, ok := answers[own.d.Event.ID]; ok && o.Salesforce != nil {
				b.logged(f, o.Salesforce.ID, own.d.Event.ID)
			} else if o, ok := answers[own.d.Event.ID]; ok && o.Status == event.StatusFailed {
				fo := b.outcome(f.d, event.StatusFailed, "")
				fo.Error = o.Error
				b.finish(f.d, fo)
			} else {
				err := failed[own.key]
				if err == nil {
					err = fmt.Errorf("%w: the activity's first delivery is not logged yet", delivery.ErrRetry)
				}
				b.retry(f.d, err)
			}
		}
	}
	return nil
}

func (b *batch) retryAll(it item, err error) { b.retry(it.d, err) }

// abandon ends the batch's claims of items, keeping the attempt mark: a
// create may have reached Salesforce.
func (b *batch) abandon(ctx context.Context, items []item) {
	if len(items) == 0 {
		return
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.key
	}
	if err := b.e.Activities.AbandonAll(ctx, b.team, b.e.Owner, keys); err != nil {
		b.e.log().Warn("abandon claims", "team_id", b.team, "claims", len(keys), "error", err.Error())
	}
}

// recordTasks records the Tasks created for items (ids[i] for items[i]) in one
// call and gives them their outcome. An item whose activity has another
// Task recorded (or that the store refused) keeps its attempt mark and
// goes back to the queue: the next claim answers with the recorded Task.
func (b *batch) recordTasks(ctx context.Context, items []item, ids []string) error {
	if len(items) == 0 {
		return nil
	}
	tasks := make([]LoggedTask, len(items))
	for i, it := range items {
		tasks[i] = LoggedTask{Key: it.key, TaskID: ids[i]}
	}
	errs, err := b.e.Activities.DoneAll(ctx, b.team, b.e.Owner, tasks)
	if err != nil {
		return fmt.Errorf("record tasks: %w", err)
	}
	var refused []item
	for i, it := range items {
		if errs[i] != nil {
			b.e.log().Warn("record task", "team_id", b.team, "event_id", it.d.Event.ID, "task_id", ids[i], "error", errs[i].Error())
			refused = append(refused, it)
			b.retryAll(it, fmt.Errorf("%w: %w", delivery.ErrRetry, errs[i]))
			continue
		}
		b.logged(it, ids[i], it.d.Event.ID)
	}
	b.abandon(ctx, refused)
	return nil
}

func (b *batch) failOne(ctx context.Context, it item, res salesforce.SaveResult) {
	if err := b.e.Activities.Unclaim(ctx, b.team, it.key, b.e.Owner); err != nil {
		b.e.log().Warn("unclaim", "team_id", b.team, "error", err.Error())
	}
	fe := firstError(res)
	msg := fe.Message
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	o := b.outcome(it.d, event.StatusFailed, "")
	o.Error = &event.OutcomeError{Code: fe.Code, Message: msg, Fields: fe.Fields}
	b.finish(it.d, o)
}

func hasCode(r salesforce.SaveResult, code string) bool {
	for _, e := range r.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

func firstError(r salesforce.SaveResult) salesforce.ErrorItem {
	for _, e := range r.Errors {
		if e.Code != salesforce.CodeAllOrNoneRolledBack {
			return e
		}
	}
	if len(r.Errors) > 0 {
		return r.Errors[0]
	}
	return salesforce.ErrorItem{Code: "UNKNOWN_ERROR", Message: "Salesforce reported a failure without an error"}
}

func mapKeys[K comparable](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func minTime(a, c time.Time) time.Time {
	if c.Before(a) {
		return c
	}
	return a
}

func maxTime(a, c time.Time) time.Time {
	if c.After(a) {
		return c
	}
	return a
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

package contactsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/lifecycle"
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
	Counts    Counter // optional
	// Lifecycle keeps the contacts' opt-outs (and which records carry
	// them).
	Lifecycle lifecycle.Marks
	Release   Releaser // optional
	// Reps keeps what the orgs said of the reps' users, per team (see
	// attribution.Users); nil keeps nothing between batches.
	Reps *attribution.Users
	// AccountWait is how long a part whose new Account another worker is
	// creating waits before it looks it up again; 0 is
	// DefaultAccountWait.
	AccountWait time.Duration
	// Write holds the headers every create sends. Whether a create may be
	// saved over an alert duplicate rule is the team's setting
	// (allow_save_on_duplicate_alert), and whether assignment rules run
	// its owner decision (attribution): both are set per record.
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
	// Gather holds a team's small part back to run with its next events
	// (delivery.Gather); the zero value holds nothing back.
	Gather delivery.Gather
	// TeamsAtOnce is how many teams' parts of a batch run at once
	// (delivery.Runner.Teams; 0 or 1: one after the other).
	TeamsAtOnce int
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

// DefaultAccountWait is Engine.AccountWait's default: about what creating
// a batch's Accounts takes the worker that claimed them (a ledger write and
// one Salesforce call).
const DefaultAccountWait = 2 * time.Second

func (e *Engine) accountWait() time.Duration { return orDefault(e.AccountWait, DefaultAccountWait) }

func (e *Engine) claimTTL() time.Duration {
	if e.ClaimTTL > 0 {
		return e.ClaimTTL
	}
	return 5 * time.Minute
}

// Process handles one batch of deliveries and returns the ids of those that
// must come back, with why. Every other delivery has its final (or pending)
// outcome recorded and published.
func (e *Engine) Process(ctx context.Context, ds []delivery.Delivery) map[string]error {
	failed := map[string]error{}
	delivery.RunParts(ctx, ds, failed, delivery.Runner{
		Reruns: e.Reruns, Wait: e.RerunWait, Log: e.log(), Gather: e.Gather, Teams: e.TeamsAtOnce,
		Run: e.runPart,
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

// part is the read-only context of the steps of one team's part of a
// batch: the engine, the team, and once the org is open, the org and its
// connection. A step takes its input and returns what it decided (a tally,
// and what the next step needs); runPart and sync merge the tallies.
type part struct {
	e    *Engine
	team string
	org  Org
	conn delivery.Connection
	// settle is the context what the part did is recorded under: the
	// WriteContext of its share as the part began, so that what a write
	// past the share's end did is recorded too.
	settle context.Context
	// current is the team's settings as of the part's start, read once:
	// what the steps that act as of now decide by (owners and Accounts,
	// opt-outs written at create, the retention of what the part writes).
	current policy.TeamSettings
	// retain is how long the memberships and records the part writes are
	// kept after it (current's retention_days).
	retain time.Duration
}

// runPart is the pipeline of one team's part of a batch:
//
//	fresh   each event once; those answered before are answered again
//	sync    the org opened, then the steps of a connected team (steps)
//	answer  the outcomes recorded and published (R9)
//	release the held activity of the memberships that reached a final
//	        state is handed back to activity sync (R7), once their adds'
//	        outcomes are recorded (they are the memberships' state), and
//	        also when a step failed
//
// It returns the deliveries that must come back, with why, and the error
// that brings the whole part back.
func (e *Engine) runPart(ctx context.Context, team string, ds []delivery.Delivery) (map[string]error, error) {
	p := part{e: e, team: team, settle: delivery.WriteContext(ctx)}
	todo, t, err := p.fresh(ctx, ds)
	if err != nil {
		return nil, err
	}
	if len(todo) > 0 {
		synced, err := p.sync(ctx, todo)
		t.merge(synced)
		if err != nil {
			p.release(context.WithoutCancel(ctx), t.final)
			return t.retries, err
		}
	}
	err = p.answer(p.settle, t)
	// After the answers: an add's outcome is its membership's state, so
	// activity sync must find it recorded.
	p.release(context.WithoutCancel(ctx), t.final)
	return t.retries, err
}

// sync opens the team's org and runs the steps of a connected team. A team
// not connected has its deliveries skipped (notConnected); one that must
// reconnect is held.
func (p part) sync(ctx context.Context, ds []delivery.Delivery) (tally, error) {
	org, conn, err := p.e.Orgs.Open(ctx, p.team)
	switch {
	case errors.Is(err, connection.ErrNotConnected):
		if err := p.keepUnconnected(ctx, ds); err != nil {
			return tally{}, err
		}
		t, err := p.notConnected(ctx, ds)
		// An add answered not_connected may have pinned its membership
		// while connected: its answer is kept as long as the team keeps it.
		t.keep = ledger.DefaultRetention
		if tv, serr := p.e.Policies.TeamSettingsAt(ctx, p.team, p.e.now()); serr == nil {
			t.keep = ledger.RetainOr(tv.Document.Retention())
		}
		return t, err
	case errors.Is(err, connection.ErrNeedsReauth):
		return tally{}, held(err) // held until an admin reconnects, then synced
	case err != nil:
		return tally{}, fmt.Errorf("open org: %w", err)
	}
	defer func() {
		if err := org.Close(context.WithoutCancel(ctx)); err != nil {
			p.e.log().Warn("close org", "team_id", p.team, "error", err.Error())
		}
	}()
	p.org, p.conn = org, conn
	tv, err := p.e.Policies.TeamSettingsAt(ctx, p.team, p.e.now())
	if err != nil {
		return tally{}, fmt.Errorf("resolve team settings: %w", err)
	}
	p.current, p.retain = tv.Document, tv.Document.Retention()
	t, err := p.steps(ctx, ds)
	// The part's outcomes are kept as long as the memberships it pins.
	t.keep = max(t.keep, ledger.RetainOr(p.retain))
	return t, err
}

// steps runs a connected team's deliveries through the steps:
//
//	sortOut  by type; events before the connection are not_connected
//	intake   contact.added: the membership under the policy as of the
//	         event (R4); contact.created: deduplication on or off (R6)
//	pin      the adds' memberships pinned in one ledger call
//	replied  contact.replied: the pinned membership (after the pins, so a
//	         reply sees an add of the same batch)
//	resolve  which memberships sync now, which wait (pending), which are
//	         skipped
//	syncItems  look up, claim, create, record (R5, R6), opt-outs honoured
//	unsubscribe  contact.unsubscribed: the opt-out kept, and written to
//	         the email's record (after the part's syncs, so a contact
//	         added and unsubscribed in one batch is created, then updated)
//
// Each step returns its tally; steps merges them in order.
func (p part) steps(ctx context.Context, ds []delivery.Delivery) (tally, error) {
	s, err := p.sortOut(ds)
	if err != nil {
		return tally{}, err
	}
	var t tally
	pins, check, it, err := p.intake(ctx, s.firsts)
	t.merge(it)
	if err != nil {
		return t, err
	}
	pinned, pt, err := p.pin(ctx, pins)
	t.merge(pt)
	if err != nil {
		return t, err
	}
	items, rt := p.resolve(pinned)
	t.merge(rt)
	replied, qt, err := p.replied(ctx, s.replies)
	t.merge(qt)
	if err != nil {
		return t, err
	}
	more, rt := p.resolve(replied)
	t.merge(rt)
	nt, err := p.notConnected(ctx, s.early)
	t.merge(nt)
	if err != nil {
		return t, err
	}
	st, err := p.syncItems(ctx, check, inArrival(ds, append(items, more...)))
	t.merge(st)
	if err != nil {
		return t, err
	}
	ut, err := p.unsubscribe(ctx, s.unsubs)
	t.merge(ut)
	return t, err
}

// inArrival sorts items in the order their deliveries came in ds: the
// first item of an email owns its record (see create), whether it is an
// add or a reply.
func inArrival(ds []delivery.Delivery, items []item) []item {
	at := make(map[string]int, len(ds))
	for i, d := range ds {
		at[d.Event.ID] = i
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(at[a.d.Event.ID], at[b.d.Event.ID]) })
	return items
}

// held is the error that parks a team's deliveries until it can sync.
func held(reason error) error {
	return fmt.Errorf("%w: %w", delivery.ErrHeld, reason)
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

// eachOf runs f(0..n-1) as each does and returns f(i)'s result at i.
func eachOf[T any](n int, f func(i int) (T, error)) ([]T, error) {
	out := make([]T, n)
	err := each(n, func(i int) error {
		var err error
		out[i], err = f(i)
		return err
	})
	return out, err
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

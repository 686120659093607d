package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// runResult is what one run (the faultless baseline or the chaos run) saw.
type runResult struct {
	Label         string
	Chaos         bool
	Started       time.Time // first send
	LastSend      time.Time
	Finished      time.Time // drained, or gave up
	DrainTimedOut bool
	Messages      int
	SentAt        []time.Time // per event, its first copy
	Outcomes      map[string][]got
	OutcomeMsgs   int
	BadMsgs       int
	DeadLetters   []string
	QueueLeft     int
	Orgs          []orgSnapshot
	Batches       map[string]batchFigures
	Requests      map[string]int64         // the stack's AWS requests, by X-Amz-Target
	Spent         map[string]time.Duration // the time moto took to answer them
	Revoked       *outage
	Limited       *outage
	WindowStalls  int // times the sender waited 2 minutes for the window and went on
}

// outage is the revoked or limited team's time without Salesforce.
type outage struct {
	Team     int
	Start    time.Time // refresh token revoked / limit reached
	Detected time.Time // GET /v1/salesforce said needs_reauth (revoked team only)
	End      time.Time // reconnected / limit raised
	Attempts int       // connect attempts it took (revoked team only)
}

// orgSnapshot is a team's simulated org after the run.
type orgSnapshot struct {
	Leads, Contacts, Tasks []map[string]any
	Calls                  int
	Faults                 map[string]int // "503", "500", "drop": times fired
}

// run drives one run of the workload through a fresh stack and collects
// what happened. chaos switches the Salesforce faults, token expiry, the
// revocation and the API limit on.
func (r *driver) run(ctx context.Context, label string, chaos bool) (*runResult, error) {
	c, w := r.cfg, r.w
	res := &runResult{Label: label, Chaos: chaos, SentAt: make([]time.Time, len(w.events))}
	r.progress("%s: starting the stack", label)
	e, err := startEnv(ctx, c, "chaos"+label[:1], r.state, r.proxy.URL)
	if err != nil {
		return nil, err
	}
	defer e.stop()

	// One org per team, connected through the OAuth flow, then the settings.
	orgs := make([]*org.Org, len(w.teams))
	defer func() {
		for _, o := range orgs {
			if o != nil {
				_ = o.Close()
			}
		}
	}()
	for i, team := range w.teams {
		cfg := org.Config{ClientID: "sfsync-local", ClientSecret: "sfsync-local-secret", AutoApprove: true,
			RedirectURIs: []string{e.st.OAuthRedirectURL()}, DailyLimit: 1_000_000, Seed: c.Seed*1000 + int64(i) + 1}
		if chaos {
			cfg.TokenCalls = c.TokenCalls
		}
		orgs[i] = org.New(cfg)
		if _, err := orgs[i].Start(); err != nil {
			return nil, err
		}
		for obj, seeds := range w.seeded[i] {
			var recs []map[string]any
			for _, s := range seeds {
				rec := map[string]any{"LastName": "Seeded", "Email": s.email}
				if obj == "Lead" {
					rec["Company"] = "Seeded Co"
				}
				recs = append(recs, rec)
			}
			if _, err := orgs[i].Seed(obj, recs...); err != nil {
				return nil, err
			}
		}
		if _, err := connect(ctx, e, team, orgs[i]); err != nil {
			return nil, err
		}
		if err := e.seq.PutSettings(ctx, team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true,
			"activity_tracking": true, "activity_kinds": map[string]bool{"sent": true, "replied": true, "opened": true, "clicked": true, "bounced": true}}); err != nil {
			return nil, fmt.Errorf("settings of %s: %w", team, err)
		}
		for seq, body := range map[string]map[string]any{
			seqContact: {"sync_mode": "on_add", "sync_as": "contact", "sync_disabled": false},
			seqReply:   {"sync_mode": "on_reply", "sync_as": "contact", "sync_disabled": false},
		} {
			if err := e.seq.PutSequence(ctx, team, seq, body); err != nil {
				return nil, fmt.Errorf("sequence %s of %s: %w", seq, team, err)
			}
		}
		if chaos {
			if err := addFaults(orgs[i], c.FaultFraction, c.DropFraction); err != nil {
				return nil, err
			}
		}
	}

	// The window: first copies of normal teams' events in flight.
	index := make(map[string]int, len(w.events))
	for i, ev := range w.events {
		index[ev.ev.ID] = i
	}
	window := make(chan struct{}, c.Window)
	counted := make([]bool, len(w.events)) // holds a window slot
	var cmu sync.Mutex
	col := &collector{sqs: e.sqs, queue: e.seq.ResultsQueue, by: map[string][]got{}}
	col.onFirst = func(id string) {
		i, ok := index[id]
		if !ok {
			return
		}
		cmu.Lock()
		release := counted[i]
		counted[i] = false
		cmu.Unlock()
		if release {
			<-window
		}
	}
	cctx, stopCollector := context.WithCancel(ctx)
	defer stopCollector()
	col.start(cctx, 4)
	reqsBefore, spentBefore := r.proxy.Requests(), r.proxy.Spent()

	revoked, limited := w.teamsWith(roleRevoked)[0], w.teamsWith(roleLimited)[0]
	if chaos {
		res.Revoked, res.Limited = &outage{Team: revoked}, &outage{Team: limited}
	}
	var pollDone chan struct{}
	reconnected := make(chan struct{})

	// Send: ten messages a call, stamping each event when its first copy
	// goes. A second copy never goes before its first. A contact.replied
	// may go right after its contact.added, and be handled first: it waits
	// for it (AWAIT_ADD_SECONDS).
	bodies := make([]string, len(w.events))
	sentAtMsg := map[string]time.Time{} // email message id -> its email.sent time
	n := len(w.stream)
	at := func(f float64) int { return int(f * float64(n)) }
	ready := func(m message) bool {
		return m.copy == 0 || !res.SentAt[m.ev].IsZero()
	}
	fire := func(k int) error {
		if !chaos {
			return nil
		}
		if res.Revoked.Start.IsZero() && k >= at(c.RevokeAt) {
			orgs[revoked].RevokeAllRefreshTokens()
			res.Revoked.Start = time.Now()
			pollDone = make(chan struct{})
			go pollStatus(cctx, e, w.teams[revoked], res.Revoked, reconnected, pollDone)
			r.progress("%s: revoked %s's refresh token", label, w.teams[revoked])
		}
		if res.Limited.Start.IsZero() && k >= at(c.LimitAt) {
			// A few calls left: the org runs out as a real one does, its last
			// answers reporting the allocation used up.
			orgs[limited].SetDailyLimit(orgs[limited].Stats().Total + limitLeft)
			res.Limited.Start = time.Now()
			r.progress("%s: %s's org has %d API calls left today", label, w.teams[limited], limitLeft)
		}
		if res.Revoked.End.IsZero() && k >= at(c.ReconnectAt) {
			attempts, err := connect(ctx, e, w.teams[revoked], orgs[revoked])
			if err != nil {
				return fmt.Errorf("reconnect %s: %w", w.teams[revoked], err)
			}
			res.Revoked.End, res.Revoked.Attempts = time.Now(), attempts
			close(reconnected)
			r.progress("%s: %s reconnected (%d attempts)", label, w.teams[revoked], attempts)
		}
		if res.Limited.End.IsZero() && k >= at(c.RaiseAt) {
			orgs[limited].SetDailyLimit(1_000_000)
			res.Limited.End = time.Now()
			r.progress("%s: %s's daily API limit raised", label, w.teams[limited])
		}
		return nil
	}
	r.progress("%s: sending %d messages (%d events, each twice) for %d teams", label, n, len(w.events), len(w.teams))
	res.Started = time.Now()
	lastProgress := time.Time{}
	var deferred []message
	for k := 0; k < n || len(deferred) > 0; {
		if err := fire(k); err != nil {
			return nil, err
		}
		var chunk []message
		keep := deferred[:0]
		for _, m := range deferred {
			if len(chunk) < 10 && ready(m) {
				chunk = append(chunk, m)
			} else {
				keep = append(keep, m)
			}
		}
		deferred = keep
		for len(chunk) < 10 && k < n {
			m := w.stream[k]
			k++
			if ready(m) {
				chunk = append(chunk, m)
			} else {
				deferred = append(deferred, m)
			}
		}
		if len(chunk) == 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		byQueue := map[string][]string{}
		for _, m := range chunk {
			we := &w.events[m.ev]
			if m.copy == 0 {
				if w.roles[we.team] == roleNormal {
					select {
					case window <- struct{}{}:
						cmu.Lock()
						counted[m.ev] = true
						cmu.Unlock()
					case <-time.After(2 * time.Minute):
						res.WindowStalls++ // events in flight that never answer: go on without a slot
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				now := time.Now().UTC()
				ev := we.ev
				ev.OccurredAt = now
				if d, ok := ev.Data.(event.EmailData); ok {
					if ev.Type == event.EmailSent {
						sentAtMsg[we.msgID] = now
					}
					d.Message.SentAt = now
					if t, ok := sentAtMsg[we.msgID]; ok {
						d.Message.SentAt = t
					}
					ev.Data = d
				}
				b, err := event.Encode(ev)
				if err != nil {
					return nil, fmt.Errorf("encode %s: %w", ev.ID, err)
				}
				bodies[m.ev] = string(b)
				res.SentAt[m.ev] = now
			}
			q := e.seq.ContactQueue
			if we.ev.Type.IsEmail() {
				q = e.seq.ActivityQueue
			}
			byQueue[q] = append(byQueue[q], bodies[m.ev])
		}
		for q, bs := range byQueue {
			if err := e.send(ctx, q, bs); err != nil {
				return nil, err
			}
		}
		res.Messages += len(chunk)
		if time.Since(lastProgress) > 5*time.Second {
			lastProgress = time.Now()
			total, _ := col.counts()
			r.progress("%s: sent %d of %d messages (%d second copies waiting for their first); %d outcomes", label, res.Messages, n, len(deferred), total)
		}
	}
	if err := fire(n); err != nil {
		return nil, err
	}
	res.LastSend = time.Now()
	if pollDone != nil {
		<-pollDone
	}

	// Drain: until every event has its answer and the queues are empty, or
	// nothing has moved for the drain timeout.
	deadline := time.Now().Add(c.Drain)
	quiet := 0
	for {
		outs := col.outcomes()
		done := 0
		for _, we := range w.events {
			if _, ok := finalOf(we, outs[we.ev.ID]); ok {
				done++
			}
		}
		depth, err := e.queueDepth(ctx)
		if err != nil {
			return nil, err
		}
		total, _ := col.counts()
		r.progress("%s: draining: %d of %d events answered, %d messages still queued, %d outcomes", label, done, len(w.events), depth, total)
		if depth == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if quiet >= 3 && done == len(w.events) {
			break
		}
		if quiet >= 15 {
			break // the queues are empty and nothing more will come
		}
		if time.Now().After(deadline) {
			res.DrainTimedOut = true
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	res.Finished = time.Now()
	res.Requests = r.proxy.Requests()
	for op, n := range reqsBefore {
		res.Requests[op] -= n
	}
	res.Spent = r.proxy.Spent()
	for op, d := range spentBefore {
		res.Spent[op] -= d
	}
	time.Sleep(2 * time.Second) // the last outcomes in flight
	stopCollector()
	col.wg.Wait()
	res.Outcomes = col.outcomes()
	res.OutcomeMsgs, res.BadMsgs = col.counts()
	if res.QueueLeft, err = e.queueDepth(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	if res.DeadLetters, err = e.deadLetters(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	res.Batches = e.batchFigures()
	for _, o := range orgs {
		s := orgSnapshot{Leads: o.Records("Lead"), Contacts: o.Records("Contact"), Tasks: o.Records("Task"),
			Calls: o.Stats().Total, Faults: map[string]int{}}
		for _, f := range o.FaultCounts() {
			switch {
			case f.Fault.DropAfterCommit:
				s.Faults["drop"] += f.Fired
			default:
				s.Faults[fmt.Sprint(f.Fault.Status)] += f.Fired
			}
		}
		res.Orgs = append(res.Orgs, s)
	}
	return res, nil
}

// limitLeft is how many calls the limited team's org has left when its
// limit is cut.
const limitLeft = 3

// addFaults installs the chaos run's Salesforce faults: fraction of all
// requests answer 5xx (half 503 SERVER_UNAVAILABLE, half 500), and drop of
// them are processed and then lose their answer. The rules draw in turn, so
// the later ones' fractions are scaled to give those overall rates.
func addFaults(o *org.Org, fraction, drop float64) error {
	half := fraction / 2
	for _, f := range []org.Fault{
		{Fraction: half, Status: 503, ErrorCode: "SERVER_UNAVAILABLE"},
		{Fraction: half / (1 - half), Status: 500},
		{Fraction: drop / (1 - fraction), DropAfterCommit: true},
	} {
		if f.Fraction <= 0 {
			continue
		}
		if _, err := o.AddFault(f); err != nil {
			return fmt.Errorf("fault %+v: %w", f, err)
		}
	}
	return nil
}

// connect runs the admin's OAuth connect flow, again when a fault cut it
// short, and returns the attempts it took.
func connect(ctx context.Context, e *env, team string, o *org.Org) (int, error) {
	var err error
	for attempt := 1; attempt <= 20; attempt++ {
		if err = e.seq.Connect(ctx, team, o.URL()); err == nil {
			return attempt, nil
		}
		if errors.Is(err, context.Canceled) {
			return attempt, err
		}
		select {
		case <-ctx.Done():
			return attempt, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return 20, fmt.Errorf("connect %s: %w", team, err)
}

// pollStatus notes when the API first reports the revoked team as
// needs_reauth; it stops once it has, or when the context ends.
func pollStatus(ctx context.Context, e *env, team string, o *outage, reconnected <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for ctx.Err() == nil {
		var st struct {
			Status string `json:"status"`
		}
		if _, err := e.seq.Call(ctx, team, "GET", "/v1/salesforce", nil, nil, &st); err == nil && strings.EqualFold(st.Status, "needs_reauth") {
			o.Detected = time.Now()
			return
		}
		select {
		case <-ctx.Done():
		case <-reconnected:
			return // reconnected before the API said so
		case <-time.After(time.Second):
		}
	}
}

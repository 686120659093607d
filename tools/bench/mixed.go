package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// Mixed is the mixed load's figures: per kind (contacts, emails) and in all.
type Mixed struct {
	Teams               int            `json:"teams"`
	Window              int            `json:"inflight_window_per_kind,omitempty"`
	Contacts            *Run           `json:"contacts"`
	Emails              *Run           `json:"emails"`
	EmailTypes          map[string]int `json:"email_events_by_type,omitempty"`
	AlreadyInSalesforce int            `json:"contacts_already_in_salesforce,omitempty"`
	Events              int            `json:"events"`
	Seconds             float64        `json:"seconds"`
	PerSecond           float64        `json:"per_second"`
	// SFCalls is every org's count together; SFByOwner splits it by the
	// process that called (contactsync's are the contacts', activitysync's
	// the emails'), and SFUnattributed is what could not be split.
	SFCalls        int            `json:"salesforce_calls"`
	SFByOwner      map[string]int `json:"salesforce_calls_by_process,omitempty"`
	SFUnattributed int            `json:"salesforce_calls_unattributed,omitempty"`
	SFByEndpoint   map[string]int `json:"salesforce_calls_by_endpoint,omitempty"`
	// DynamoDB is every DynamoDB request of the phase, split by process in
	// DynamoDBByOwner.
	DynamoDB        int64            `json:"dynamodb_requests,omitempty"`
	DynamoDBByOwner map[string]int64 `json:"dynamodb_requests_by_process,omitempty"`
	// EmailWaitP50Ms and EmailWaitP99Ms are how long email events were held
	// back by the sender until their contact's final outcome had arrived.
	EmailWaitP50Ms float64 `json:"email_wait_for_contact_p50_ms,omitempty"`
	EmailWaitP99Ms float64 `json:"email_wait_for_contact_p99_ms,omitempty"`
	// Problems are outcomes or org contents that are wrong (a product bug).
	Problems []string `json:"problems,omitempty"`
}

const (
	kindContacts = "contactsync" // the function that handles contact events
	kindEmails   = "activitysync"
)

// mixedOrgConfig is a team's simulated org, seeded by seed.
// latency delays each of its data calls, as a real org's.
func mixedOrgConfig(redirect string, seed int64, latency time.Duration) org.Config {
	cfg := org.Config{ClientID: "sfsync-local", ClientSecret: "sfsync-local-secret", DailyLimit: 1_000_000, Seed: seed, Latency: latency}
	if redirect != "" {
		cfg.RedirectURIs, cfg.AutoApprove = []string{redirect}, true
	}
	return cfg
}

func seedOrg(o *org.Org, seeds map[string][]map[string]any) error {
	for _, obj := range []string{"Lead", "Contact"} {
		if len(seeds[obj]) > 0 {
			if _, err := o.Seed(obj, seeds[obj]...); err != nil {
				return err
			}
		}
	}
	return nil
}

// mixedLoad runs the mixed workload through the stack, then through the
// naive baseline.
func (b *bench) mixedLoad(ctx context.Context) error {
	w := newMixedWorkload(b.cfg.mixedTeams, b.cfg.mixedContacts, b.cfg.mixedEmails)
	if len(w.Stream) == 0 {
		return nil
	}
	progress("mixed: seeding and connecting %d teams, each with its own org", len(w.Teams))
	orgs := make([]*simServer, len(w.Teams))
	defer func() {
		for _, s := range orgs {
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	kinds := map[string]bool{}
	for _, k := range []string{"sent", "replied", "opened", "clicked", "bounced"} {
		kinds[k] = true
	}
	for t, team := range w.Teams {
		o := org.New(mixedOrgConfig(b.st.OAuthRedirectURL(), int64(t)+1, b.cfg.orgLatency))
		if err := seedOrg(o, w.seeds(t)); err != nil {
			return err
		}
		s, err := startSimServer(o, b.proxy.owners)
		if err != nil {
			return err
		}
		orgs[t] = s
		if err := b.seqr.Connect(ctx, team, s.URL); err != nil {
			return fmt.Errorf("connect %s: %w", team, err)
		}
		// Every kind logged, so each email event is one Task, as in the
		// baseline.
		if err := b.seqr.PutSettings(ctx, team, map[string]any{"sync_as": "lead", "sync_mode": "on_add", "deduplication": true,
			"activity_tracking": true, "activity_kinds": kinds}); err != nil {
			return fmt.Errorf("settings of %s: %w", team, err)
		}
	}
	m, err := b.runMixed(ctx, w, orgs)
	if err != nil {
		return err
	}
	b.results.Mixed = m
	bm, err := b.mixedBaseline(ctx, w)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	b.results.BaselineMixed = bm
	return nil
}

// dispatcher sends the stream in its order, ten events a call on four
// senders, except that an email event waits until its contact's
// contact.added has a final outcome (in life an email goes out after the
// contact was added; sent earlier, the activity would go back to the queue
// for a visibility timeout). Events are stamped when they go.
//
// With a window, at most that many events of each kind are out without a
// final outcome: the sequencer's backlog stays bounded, as moto's SQS
// slows down with the depth of a queue (every receive and delete walks all
// its messages), which a real queue does not.
type dispatcher struct {
	w      mixedWorkload
	window int            // per kind; 0: no limit
	index  map[string]int // event id -> stream position

	mu       sync.Mutex
	pos      int           // next stream position
	answered map[int]bool  // contacts whose contact.added has a final outcome
	waiting  map[int][]int // contact -> held stream positions
	held     int
	ready    []int  // released positions, sent before the stream goes on
	inflight [2]int // contact, email events out without a final outcome
	reached  []time.Time
	sentAt   []time.Time
	wake     chan struct{}
}

func newDispatcher(w mixedWorkload, window int) *dispatcher {
	d := &dispatcher{w: w, window: window, index: make(map[string]int, len(w.Stream)), answered: map[int]bool{}, waiting: map[int][]int{},
		reached: make([]time.Time, len(w.Stream)), sentAt: make([]time.Time, len(w.Stream)), wake: make(chan struct{}, 1)}
	for i, it := range w.Stream {
		d.index[it.ID] = i
	}
	return d
}

// final is the collector's onFinal: an answer frees a place in the window,
// and a contact's releases its emails.
func (d *dispatcher) final(id string) {
	i, ok := d.index[id]
	if !ok {
		return
	}
	it := d.w.Stream[i]
	d.mu.Lock()
	if it.Email() {
		d.inflight[1]--
	} else {
		d.inflight[0]--
		c := it.Contact
		d.answered[c] = true
		d.ready = append(d.ready, d.waiting[c]...)
		d.held -= len(d.waiting[c])
		delete(d.waiting, c)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// next is the next position to send, or -1 when none can go now; done is
// true when nothing is left to send at all. The stream's order holds:
// when its next event has no place in the window, nothing behind it goes.
func (d *dispatcher) next() (i int, done bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	room := func(k int) bool { return d.window <= 0 || d.inflight[k] < d.window }
	for {
		if len(d.ready) > 0 && room(1) {
			i, d.ready = d.ready[0], d.ready[1:]
			d.inflight[1]++
			return i, false
		}
		if d.pos == len(d.w.Stream) {
			return -1, d.held == 0 && len(d.ready) == 0
		}
		i = d.pos
		it := d.w.Stream[i]
		if d.reached[i].IsZero() {
			d.reached[i] = time.Now()
		}
		k := 0
		if it.Email() {
			if !d.answered[it.Contact] {
				d.waiting[it.Contact] = append(d.waiting[it.Contact], i)
				d.held++
				d.pos++
				continue
			}
			k = 1
		}
		if !room(k) {
			return -1, false
		}
		d.pos++
		d.inflight[k]++
		return i, false
	}
}

func (d *dispatcher) counts() (sent, held, inflight int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.sentAt {
		if !t.IsZero() {
			sent++
		}
	}
	return sent, d.held, d.inflight[0] + d.inflight[1]
}

type sendBatch struct {
	pos []int
	evs []event.Event
}

// run sends the whole stream; it returns when every event went, or on the
// first failed send.
func (d *dispatcher) run(ctx context.Context, send func(context.Context, ...event.Event) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan sendBatch, 8)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range batches {
				now := time.Now()
				d.mu.Lock()
				for _, i := range bt.pos {
					d.sentAt[i] = now
				}
				d.mu.Unlock()
				if err := send(ctx, bt.evs...); err != nil {
					errs <- err
					cancel()
					for range batches {
					}
					return
				}
			}
		}()
	}
	msgSent := map[string]time.Time{}
	var bufs [2]sendBatch // contact events, email events: one queue each
	flush := func(k int) {
		if len(bufs[k].pos) > 0 {
			select {
			case batches <- bufs[k]:
			case <-ctx.Done():
			}
			bufs[k] = sendBatch{}
		}
	}
	var err error
	for ctx.Err() == nil {
		i, done := d.next()
		if i < 0 {
			flush(0)
			flush(1)
			if done {
				break
			}
			select {
			case <-d.wake:
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		it := d.w.Stream[i]
		now := time.Now().UTC()
		sentAt := now
		k := 0
		if it.Email() {
			k = 1
			msg := d.w.messageID(it)
			if it.Type == event.EmailSent {
				msgSent[msg] = now
			} else if t, ok := msgSent[msg]; ok {
				sentAt = t
			}
		}
		bufs[k].pos = append(bufs[k].pos, i)
		bufs[k].evs = append(bufs[k].evs, d.w.event(it, now, sentAt))
		if len(bufs[k].pos) == 10 {
			flush(k)
		}
	}
	close(batches)
	wg.Wait()
	close(errs)
	if e := <-errs; e != nil {
		err = e
	} else if ctx.Err() != nil {
		err = ctx.Err()
	}
	return err
}

// runMixed drives the workload through the stack and measures it.
func (b *bench) runMixed(ctx context.Context, w mixedWorkload, orgs []*simServer) (*Mixed, error) {
	sfBefore := make([]org.Stats, len(orgs))
	callsBefore := make([]map[string]int, len(orgs))
	for t, s := range orgs {
		sfBefore[t], callsBefore[t] = s.Org.Stats(), s.Calls()
	}
	sfSoFar := func() int {
		n := 0
		for t, s := range orgs {
			n += s.Org.Stats().Total - sfBefore[t].Total
		}
		return n
	}
	awsBefore, seqBefore, lambdaBefore := b.proxy.Counts(), b.seqProxy.Counts(), b.lambdaSnapshot()

	d := newDispatcher(w, b.cfg.mixedInflight)
	c := newCollector(b.seqr.SQS, b.seqr.ResultsQueue)
	c.onFinal = d.final
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	c.start(cctx, 4)
	sendErr := make(chan error, 1)
	go func() { sendErr <- d.run(cctx, b.seqr.Send) }()

	var contactIDs, emailIDs []string
	for _, it := range w.Stream {
		if it.Email() {
			emailIDs = append(emailIDs, it.ID)
		} else {
			contactIDs = append(contactIDs, it.ID)
		}
	}
	stall := newStallWatch()
	sendDone := false
	for {
		nc, ne := c.done(contactIDs), c.done(emailIDs)
		sent, held, inflight := d.counts()
		progress("mixed: %d teams, outcomes for %d/%d contacts and %d/%d emails; %d sent, %d awaiting outcomes, %d emails waiting for their contact; %d Salesforce calls",
			len(w.Teams), nc, len(contactIDs), ne, len(emailIDs), sent, inflight, held, sfSoFar())
		if !sendDone {
			select {
			case err := <-sendErr:
				if err != nil {
					return nil, fmt.Errorf("send: %w", err)
				}
				sendDone = true
			default:
			}
		}
		if sendDone && nc == len(contactIDs) && ne == len(emailIDs) {
			break
		}
		if err := stall.check(nc + ne + sent); err != nil {
			return nil, fmt.Errorf("%d of %d contact and %d of %d email events have no final outcome: %w",
				len(contactIDs)-nc, len(contactIDs), len(emailIDs)-ne, len(emailIDs), err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	stop()
	b.settle(ctx)
	aws, seq, lambda := b.proxy.Counts().sub(awsBefore), b.seqProxy.Counts().sub(seqBefore), b.lambdaSnapshot().since(lambdaBefore)

	m := &Mixed{Teams: len(w.Teams), Events: len(w.Stream), Window: d.window, EmailTypes: map[string]int{}, SFByOwner: map[string]int{},
		SFByEndpoint: map[string]int{}, DynamoDB: aws.DynamoDB, DynamoDBByOwner: map[string]int64{}}
	for t, s := range orgs {
		st := s.Org.Stats()
		m.SFCalls += st.Total - sfBefore[t].Total
		for k, v := range st.ByEndpoint {
			if n := v - sfBefore[t].ByEndpoint[k]; n > 0 {
				m.SFByEndpoint[k] += n
			}
		}
		for owner, v := range s.Calls() {
			if n := v - callsBefore[t][owner]; n > 0 {
				m.SFByOwner[owner] += n
			}
		}
	}
	attributed := 0
	for _, n := range m.SFByOwner {
		attributed += n
	}
	m.SFUnattributed = m.SFCalls - m.SFByOwner[kindContacts] - m.SFByOwner[kindEmails]
	if attributed != m.SFCalls {
		m.Problems = append(m.Problems, fmt.Sprintf("bench: the orgs counted %d calls, the counting servers %d", m.SFCalls, attributed))
	}
	for owner, oc := range aws.ByOwner {
		if oc.DynamoDB > 0 {
			m.DynamoDBByOwner[owner] = oc.DynamoDB
		}
	}
	for _, ct := range w.Contacts {
		if ct.Seed != "" {
			m.AlreadyInSalesforce++
		}
	}

	var start time.Time
	for _, t := range d.sentAt {
		if start.IsZero() || t.Before(start) {
			start = t
		}
	}
	runs := map[bool]*Run{}
	lats := map[bool][]time.Duration{}
	lastAt := map[bool]time.Time{}
	var waits []time.Duration
	for i, it := range w.Stream {
		email := it.Email()
		r := runs[email]
		if r == nil {
			r = &Run{Outcomes: map[string]int{}}
			runs[email] = r
		}
		r.Events++
		if email {
			m.EmailTypes[string(it.Type)]++
			waits = append(waits, d.sentAt[i].Sub(d.reached[i]))
		}
		o, at := c.get(it.ID)
		r.Outcomes[string(o.Status)]++
		r.Pending += c.pendings(it.ID)
		lats[email] = append(lats[email], at.Sub(d.sentAt[i]))
		if at.After(lastAt[email]) {
			lastAt[email] = at
		}
	}
	for email, r := range runs {
		owner := kindContacts
		if email {
			owner = kindEmails
		}
		r.Seconds = lastAt[email].Sub(start).Seconds()
		r.PerSecond = float64(r.Events) / r.Seconds
		r.P50Ms, r.P99Ms = ms(percentile(lats[email], 50)), ms(percentile(lats[email], 99))
		r.SFCalls = m.SFByOwner[owner]
		oc := aws.ByOwner[owner]
		r.DynamoDB, r.SQS, r.OtherAWS, r.DynamoDBByOp = oc.DynamoDB, oc.SQS, oc.Other, oc.DynamoDBByOp
		b.billKind(r, owner, aws, seq, lambda, len(w.Stream))
	}
	m.Contacts, m.Emails = runs[false], runs[true]
	last := later(lastAt[false], lastAt[true])
	m.Seconds = last.Sub(start).Seconds()
	m.PerSecond = float64(m.Events) / m.Seconds
	m.EmailWaitP50Ms, m.EmailWaitP99Ms = ms(percentile(waits, 50)), ms(percentile(waits, 99))
	m.Problems = append(m.Problems, checkMixed(w, c, orgs)...)
	return m, nil
}

// billKind sets what r, the events of one kind (owner the function that
// handles them), would be billed for: the function's own requests and
// compute; the runner's polls of the kind's queue (the event source
// mapping's, made by the bench process); the sequencer's sends to that
// queue, and its reads of the results queue in proportion to the kind's
// share of the events (outcomes of both kinds share it).
func (b *bench) billKind(r *Run, owner string, aws, seq Counts, lambda map[string]FunctionUse, events int) {
	oc := aws.ByOwner[owner]
	queue := "contact-events"
	if owner == kindEmails {
		queue = "activity-events"
	}
	qi := b.st.Resources.Queues[queue]
	results := b.st.Resources.Queues["results"].Name
	polls := aws.ByOwner[ownerBench].SQSBilledByQueue[qi.Name] + aws.ByOwner[ownerBench].SQSBilledByQueue[qi.DLQName]
	capacity := oc.Capacity
	r.Capacity, r.CapacityByKind, r.KMS, r.SecretsManager = &capacity, oc.CapacityByKind.list(), oc.KMS, oc.SecretsManager
	r.SQSBilled = oc.SQSBilled + polls
	share := float64(r.Events) / float64(max(events, 1))
	r.SequencerSQSBilled = seq.SQSBilledByQueue[qi.Name] + int64(math.Round(float64(seq.SQSBilledByQueue[results])*share))
	r.SequencerSQS = int64(math.Round(float64(seq.SQS) * share)) // requests are not split by queue: by share
	if u, ok := lambda[owner]; ok {
		r.Lambda = map[string]FunctionUse{owner: u}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// checkMixed compares the outcomes and the orgs with what the workload
// must have produced: each contact linked to its seeded record or created
// as one new Lead, each email one Task on its contact's record, and nothing
// else in the orgs.
func checkMixed(w mixedWorkload, c *collector, orgs []*simServer) []string {
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	record := make([]string, len(w.Contacts)) // the contact's record id
	created := make([]int, len(w.Teams))
	tasks := make([]int, len(w.Teams))
	for _, it := range w.Stream {
		ct := w.Contacts[it.Contact]
		o, _ := c.get(it.ID)
		sim := orgs[ct.Team].Org
		if !it.Email() {
			switch {
			case o.Salesforce == nil || (o.Status != event.StatusLinked && o.Status != event.StatusCreated):
				add("%s (%s): outcome %s %s, want linked or created", it.ID, ct.Email, o.Status, o.Reason)
				continue
			case ct.Seed != "" && (o.Status != event.StatusLinked || string(o.Salesforce.Object) != ct.Seed):
				add("%s (%s, a %s in Salesforce): outcome %s %s", it.ID, ct.Email, ct.Seed, o.Status, o.Salesforce.Object)
			case ct.Seed == "" && (o.Status != event.StatusCreated || o.Salesforce.Object != event.ObjectLead):
				add("%s (%s, not in Salesforce): outcome %s %s, want a created Lead", it.ID, ct.Email, o.Status, o.Salesforce.Object)
			}
			rec, ok := sim.Record(string(o.Salesforce.Object), o.Salesforce.ID)
			if !ok {
				add("%s: %s %s is not in the org", it.ID, o.Salesforce.Object, o.Salesforce.ID)
				continue
			}
			if e, _ := rec["Email"].(string); !strings.EqualFold(e, ct.Email) {
				add("%s: %s %s has email %q, want %q", it.ID, o.Salesforce.Object, o.Salesforce.ID, e, ct.Email)
			}
			record[it.Contact] = o.Salesforce.ID
			if o.Status == event.StatusCreated {
				created[ct.Team]++
			}
			continue
		}
		if o.Status != event.StatusCreated || o.Salesforce == nil || o.Salesforce.Object != event.ObjectTask {
			add("%s: outcome %s %s, want a created Task", it.ID, o.Status, o.Reason)
			continue
		}
		tasks[ct.Team]++
		rec, ok := sim.Record("Task", o.Salesforce.ID)
		if !ok {
			add("%s: Task %s is not in the org", it.ID, o.Salesforce.ID)
			continue
		}
		if who, _ := rec["WhoId"].(string); record[it.Contact] == "" || !sameID(who, record[it.Contact]) {
			add("%s: Task %s is on %q, want its contact's record %q", it.ID, o.Salesforce.ID, who, record[it.Contact])
		}
	}
	for t := range w.Teams {
		seeds := w.seeds(t)
		sim := orgs[t].Org
		if got, want := len(sim.Records("Lead")), len(seeds["Lead"])+created[t]; got != want {
			add("%s: the org holds %d Leads; want %d (%d seeded, %d created)", w.Teams[t], got, want, len(seeds["Lead"]), created[t])
		}
		if got, want := len(sim.Records("Contact")), len(seeds["Contact"]); got != want {
			add("%s: the org holds %d Contacts; want %d", w.Teams[t], got, want)
		}
		if got := len(sim.Records("Task")); got != tasks[t] {
			add("%s: the org holds %d Tasks; %d email events were created", w.Teams[t], got, tasks[t])
		}
	}
	return problems
}

// sameID compares 15- and 18-character record ids.
func sameID(a, b string) bool { return len(a) >= 15 && len(b) >= 15 && a[:15] == b[:15] }

// mixedBaseline runs the same stream, in the same order, through the naive
// integration against fresh orgs seeded the same way: a contact is looked
// up as a Lead and as a Contact and created when neither exists, an email
// is one Task on its contact's record.
func (b *bench) mixedBaseline(ctx context.Context, w mixedWorkload) (*Mixed, error) {
	sims := make([]*org.Org, len(w.Teams))
	defer func() {
		for _, s := range sims {
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	naives := make([]*naive, len(w.Teams))
	for t := range w.Teams {
		sims[t] = org.New(mixedOrgConfig("", int64(t)+1, 0)) // the baseline is measured in calls, not time
		if _, err := sims[t].Start(); err != nil {
			return nil, err
		}
		if err := seedOrg(sims[t], w.seeds(t)); err != nil {
			return nil, err
		}
		naives[t] = newNaive(sims[t])
	}
	m := &Mixed{Teams: len(w.Teams), Events: len(w.Stream), Contacts: &Run{}, Emails: &Run{}}
	who := make([]string, len(w.Contacts))
	lats := map[bool][]time.Duration{}
	lastAt := map[bool]time.Time{}
	start := time.Now()
	for i, it := range w.Stream {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ct := w.Contacts[it.Contact]
		n, sim := naives[ct.Team], sims[ct.Team]
		r := m.Contacts
		if it.Email() {
			r = m.Emails
		}
		before := sim.Stats().Total
		t0 := time.Now()
		if !it.Email() {
			id, err := n.contact(ctx, ct.Email, "Mixed", ct.Last, fmt.Sprintf("Team %02d Prospect", ct.Team))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.ID, err)
			}
			who[it.Contact] = id
		} else {
			kind := strings.TrimPrefix(string(it.Type), "email.")
			if err := n.task(ctx, who[it.Contact], fmt.Sprintf("Email %s: Step %d: a short note", kind, it.Step), "Hello, a short note about benchmarks."); err != nil {
				return nil, fmt.Errorf("%s: %w", it.ID, err)
			}
		}
		now := time.Now()
		lats[it.Email()] = append(lats[it.Email()], now.Sub(t0))
		lastAt[it.Email()] = now
		r.Events++
		r.SFCalls += sim.Stats().Total - before
		if i%100 == 0 {
			progress("mixed baseline: %d of %d events, %d Salesforce calls", i, len(w.Stream), m.Contacts.SFCalls+m.Emails.SFCalls)
		}
	}
	for email, r := range map[bool]*Run{false: m.Contacts, true: m.Emails} {
		if r.Events == 0 {
			continue
		}
		r.Seconds = lastAt[email].Sub(start).Seconds()
		r.PerSecond = float64(r.Events) / r.Seconds
		r.P50Ms, r.P99Ms = ms(percentile(lats[email], 50)), ms(percentile(lats[email], 99))
	}
	if m.Emails.Events == 0 {
		m.Emails = nil
	}
	m.SFCalls = m.Contacts.SFCalls
	if m.Emails != nil {
		m.SFCalls += m.Emails.SFCalls
	}
	m.Seconds = time.Since(start).Seconds()
	m.PerSecond = float64(m.Events) / m.Seconds
	return m, nil
}

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sfsync/sfsync/tools/motoserver"
)

// Config is one chaos run. The zero value of a field takes its default
// (see defaults); the seed decides the workload, the faults each org
// injects and which teams lose Salesforce.
type Config struct {
	Seed   int64
	Events int // events in all (each sent twice)
	Teams  int // at least 3: one revoked, one limited, the rest normal

	Window int // first copies of the normal teams' events in flight at most
	Spread int // an event's second copy goes 1..Spread first copies after it

	FaultFraction float64       // share of Salesforce requests answered 503 SERVER_UNAVAILABLE or 500
	DropFraction  float64       // share processed and then cut off before the answer
	TokenCalls    int           // access tokens expire after this many API calls
	RevokeAt      float64       // share of the messages sent when the revoked team's refresh token is revoked
	ReconnectAt   float64       // ... when its admin reconnects
	LimitAt       float64       // ... when the limited team's org runs out of API calls
	RaiseAt       float64       // ... when its daily limit is raised
	Visibility    time.Duration // the event queues' visibility timeout: how soon a failed message returns
	// HoldDelay is HOLD_DELAY_SECONDS, how long a held message waits;
	// default the visibility timeout. Deployed, it is 900 s (against a
	// visibility timeout of 720 s) and an outage lasts hours, so a held
	// message comes back a handful of times; with the run's outages of a
	// minute or two, this keeps it near that count without slowing recovery
	// much.
	HoldDelay time.Duration
	// TeamsAtOnce is TEAMS_AT_ONCE: how many teams' parts of a batch the
	// sync functions run at once (1: one after the other, as deployed).
	TeamsAtOnce int
	// AwaitAdd is AWAIT_ADD_SECONDS: how long an email event whose
	// contact.added is not pinned yet keeps coming back before it is
	// skipped not_added. Every email of the workload has its contact.added,
	// so none may be skipped: the wait has to outlast the slowest pin, and on
	// moto that is the stack's own latency (a busy machine's p95 from send to
	// outcome passed 50 s), not a multiple of the visibility timeout.
	// Default: the drain, and at least 10/3 of Visibility (the deployed
	// ratio, 2400 s against 720 s).
	AwaitAdd time.Duration
	Drain    time.Duration // how long to wait for the last answers after the last send
	// Concurrency overrides the sync functions' MaximumConcurrency (0: as
	// deployed). moto is the bottleneck here; fewer pollers spend less of it.
	Concurrency int

	// Baseline runs the same workload without faults first and compares the
	// normal teams' time from send to outcome: under faults, their median
	// may be at most LatencyFactor times the faultless run's, and their 95th
	// percentile LatencyFactor times it plus one Visibility (checked only
	// when AssertIsolation).
	Baseline        bool
	AssertIsolation bool
	LatencyFactor   float64

	RepoDir  string // the module root; default: found from the working directory
	Endpoint string // moto_server; required
	// DynamoEndpoint is a second moto_server to serve DynamoDB (default:
	// Endpoint): one process uses one core at most.
	DynamoEndpoint string
	Progress       io.Writer // progress lines; nil: none
	Verbose        bool      // the functions' logs on stderr
}

func (c *Config) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p <= 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Events, 10000)
	def(&c.Teams, 20)
	def(&c.Window, 400)
	def(&c.Spread, 300)
	def(&c.TokenCalls, 200)
	deff(&c.FaultFraction, 0.05)
	deff(&c.DropFraction, 0.01)
	deff(&c.RevokeAt, 0.2)
	deff(&c.ReconnectAt, 0.5)
	deff(&c.LimitAt, 0.3)
	deff(&c.RaiseAt, 0.65)
	deff(&c.LatencyFactor, DefaultLatencyFactor)
	defd(&c.Visibility, 20*time.Second)
	defd(&c.HoldDelay, c.Visibility)
	c.TeamsAtOnce = max(c.TeamsAtOnce, 1)
	defd(&c.Drain, 10*time.Minute)
	defd(&c.AwaitAdd, max(c.Visibility*10/3, c.Drain))
	if c.RepoDir == "" {
		c.RepoDir = repoRoot()
	}
}

func (c *Config) validate() error {
	switch {
	case c.Teams < 3:
		return errors.New("teams: at least 3 (one revoked, one limited, one or more normal)")
	case c.Events < 10*c.Teams:
		return fmt.Errorf("events: at least 10 per team (%d)", 10*c.Teams)
	case c.Endpoint == "":
		return errors.New("endpoint: a moto_server URL is required (AWS_ENDPOINT_URL)")
	case !(c.RevokeAt < c.ReconnectAt && c.ReconnectAt < 1 && c.LimitAt < c.RaiseAt && c.RaiseAt < 1):
		return errors.New("timeline: want revoke < reconnect < 1 and limit < raise < 1")
	case c.FaultFraction+c.DropFraction >= 1:
		return errors.New("faults: the fractions must add up to less than 1")
	}
	return nil
}

// DefaultLatencyFactor is how much slower than in the faultless run the
// normal teams' events may be answered under faults: the faults' own work
// (held and waiting messages coming back, reruns, token refreshes) and
// the run-to-run spread of moto, which sets the pace here, fit in it; a
// neighbour stalling their batches does not (see README.md).
const DefaultLatencyFactor = 1.5

// Check is one assertion of the checker.
type Check struct {
	Name string
	Got  string
	OK   bool
}

// Report is a finished chaos run.
type Report struct {
	Config   Config
	Baseline *Figures
	Chaos    *Figures
	Ratio    float64 // chaos / baseline throughput of the normal teams (0 without a baseline), reported only
	Checks   []Check
	Wall     time.Duration

	w                 *workload
	baseRes, chaosRes *runResult
}

// Dump writes both runs' events and outcomes as JSON lines.
func (r *Report) Dump(w io.Writer) error {
	for _, res := range []*runResult{r.baseRes, r.chaosRes} {
		if res == nil {
			continue
		}
		if err := dump(w, r.w, res); err != nil {
			return err
		}
	}
	return nil
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return true
		}
	}
	return false
}

// driver runs one workload, baseline and chaos.
type driver struct {
	cfg   Config
	w     *workload
	state string
	proxy *motoserver.AtomicProxy
	mu    sync.Mutex
	t0    time.Time
}

func (r *driver) progress(format string, args ...any) {
	if r.cfg.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.cfg.Progress, "[%4ds] %s\n", int(time.Since(r.t0).Seconds()), fmt.Sprintf(format, args...))
}

// Run builds the workload from the seed, runs it without faults (when
// Baseline) and with them, and checks both.
func Run(ctx context.Context, c Config) (*Report, error) {
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	state, err := os.MkdirTemp("", "sfsync-chaos-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(state)
	proxy, err := motoserver.StartSplitProxy(c.Endpoint, cmp.Or(c.DynamoEndpoint, c.Endpoint))
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	d := &driver{cfg: c, w: buildWorkload(c.Seed, c.Events, c.Teams, c.Spread), state: state, proxy: proxy, t0: start}
	rep := &Report{Config: c, w: d.w}
	if c.Baseline {
		res, err := d.run(ctx, "baseline", false)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		rep.Baseline, rep.baseRes = check(d.w, res), res
	}
	res, err := d.run(ctx, "chaos", true)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	rep.Chaos, rep.chaosRes = check(d.w, res), res
	if rep.Baseline != nil && rep.Baseline.NormalPerSec > 0 {
		rep.Ratio = rep.Chaos.NormalPerSec / rep.Baseline.NormalPerSec
	}
	rep.Checks = checks(rep)
	rep.Wall = time.Since(start)
	return rep, nil
}

func checks(r *Report) []Check {
	f := r.Chaos
	var out []Check
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, Check{Name: name, OK: ok, Got: fmt.Sprintf(format, args...)})
	}
	add("every event has exactly one terminal outcome", f.NoTerminal == 0 && f.Conflicting == 0,
		"%d without, %d with conflicting ones", f.NoTerminal, f.Conflicting)
	add("no event lost", f.Lost == 0 && f.DeadLettered == 0 && f.MissingRecords == 0 && f.MissingTasks == 0,
		"%d lost (%d unexpected outcomes, %d dead-lettered), %d records and %d Tasks missing", f.Lost, f.Unexpected, f.DeadLettered, f.MissingRecords, f.MissingTasks)
	add("no duplicate record (Lead/Contact by email)", f.DupRecords == 0, "%d duplicates in %d records", f.DupRecords, f.Records)
	add("no duplicate Task (message id + kind)", f.DupTasks == 0 && f.MisplacedTasks == 0 && f.StrayTasks == 0,
		"%d duplicates, %d misplaced, %d stray in %d Tasks", f.DupTasks, f.MisplacedTasks, f.StrayTasks, f.Tasks)
	for _, rc := range []struct {
		what string
		r    *Recovery
	}{{"revoked", f.Revoked}, {"limited", f.Limited}} {
		if rc.r == nil {
			continue
		}
		add(fmt.Sprintf("held events of the %s team synced after recovery", rc.what), rc.r.Held > 0 && rc.r.SyncedAfter == rc.r.Held,
			"%d of %d (%s)", rc.r.SyncedAfter, rc.r.Held, rc.r.Team)
	}
	if b := r.Baseline; b != nil {
		add("baseline: every event answered as expected, nothing duplicated", b.Lost == 0 && b.NoTerminal == 0 && b.Conflicting == 0 &&
			b.DupRecords == 0 && b.DupTasks == 0 && b.MissingRecords == 0 && b.MissingTasks == 0,
			"%d lost, %d duplicate records, %d duplicate Tasks", b.Lost, b.DupRecords, b.DupTasks)
		k, vis := r.Config.LatencyFactor, r.Config.Visibility
		p50Max, p95Max := k*b.NormalP50, k*b.NormalP95+vis.Seconds()
		name := fmt.Sprintf("normal teams' time from send to outcome: p50 <= %g x the faultless run's, p95 <= %g x its + one visibility timeout (%s)", k, k, vis)
		ok := f.NormalP50 > 0 && b.NormalP50 > 0
		if r.Config.AssertIsolation {
			ok = ok && f.NormalP50 <= p50Max && f.NormalP95 <= p95Max
		} else {
			name = fmt.Sprintf("normal teams' time from send to outcome, reported only (the full run asks p50 <= %g x the faultless run's, p95 <= %g x its + %s)", k, k, vis)
		}
		add(name, ok, "p50 %.1f s (at most %.1f), p95 %.1f s (at most %.1f); faultless p50 %.1f s, p95 %.1f s",
			f.NormalP50, p50Max, f.NormalP95, p95Max, b.NormalP50, b.NormalP95)
	}
	return out
}

// Print writes the figures and the checks.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "\nChaos run, seed %d: %d events (each sent twice) over %d teams; %.0f%% Salesforce 5xx, %.0f%% drop-after-commit, tokens expire every %d calls\n",
		c.Seed, c.Events, c.Teams, 100*c.FaultFraction, 100*c.DropFraction, c.TokenCalls)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	cols := []*Figures{r.Chaos}
	head := "FIGURE\tCHAOS"
	if r.Baseline != nil {
		cols = []*Figures{r.Baseline, r.Chaos}
		head = "FIGURE\tBASELINE\tCHAOS"
	}
	fmt.Fprintln(tw, head)
	row := func(name string, v func(f *Figures) any) {
		fmt.Fprint(tw, name)
		for _, f := range cols {
			fmt.Fprintf(tw, "\t%v", v(f))
		}
		fmt.Fprintln(tw)
	}
	row("events / messages sent", func(f *Figures) any { return fmt.Sprintf("%d / %d", f.Events, f.Messages) })
	row("outcome messages received", func(f *Figures) any { return f.OutcomeMsgs })
	row("events without a terminal outcome", func(f *Figures) any { return f.NoTerminal })
	row("events with conflicting terminal outcomes", func(f *Figures) any { return f.Conflicting })
	row("  ... same status and record, other reason", func(f *Figures) any { return f.ReasonsDiffer })
	row("events with an unexpected outcome", func(f *Figures) any { return f.Unexpected })
	row("events dead-lettered", func(f *Figures) any { return f.DeadLettered })
	row("events lost", func(f *Figures) any { return f.Lost })
	row("messages left in the queues", func(f *Figures) any { return f.QueueLeft })
	row("Leads + Contacts / duplicates / missing", func(f *Figures) any {
		return fmt.Sprintf("%d / %d / %d", f.Records, f.DupRecords, f.MissingRecords)
	})
	row("Tasks / duplicates / missing / misplaced / stray", func(f *Figures) any {
		return fmt.Sprintf("%d / %d / %d / %d / %d", f.Tasks, f.DupTasks, f.MissingTasks, f.MisplacedTasks, f.StrayTasks)
	})
	row("revoked team: held / synced after reconnect", func(f *Figures) any { return recoveryCell(f.Revoked) })
	row("limited team: held / synced after raise", func(f *Figures) any { return recoveryCell(f.Limited) })
	row("normal teams: events / seconds / events per second", func(f *Figures) any {
		return fmt.Sprintf("%d / %.1f / %.2f", f.NormalEvents, f.NormalSeconds, f.NormalPerSec)
	})
	row("normal teams: send to outcome, p50 / p95 (s)", func(f *Figures) any {
		return fmt.Sprintf("%.1f / %.1f", f.NormalP50, f.NormalP95)
	})
	row("Salesforce API calls", func(f *Figures) any { return f.SalesforceCalls })
	row("faults fired: 503 / 500 / dropped", func(f *Figures) any {
		return fmt.Sprintf("%d / %d / %d", f.Faults["503"], f.Faults["500"], f.Faults["drop"])
	})
	row("batches: contactsync / activitysync", func(f *Figures) any {
		return fmt.Sprintf("%d / %d", f.Batches["contactsync"].Batches, f.Batches["activitysync"].Batches)
	})
	row("messages returned to the queue", func(f *Figures) any {
		return f.Batches["contactsync"].ItemFailures + f.Batches["activitysync"].ItemFailures
	})
	row("AWS requests: DynamoDB / SQS / KMS", func(f *Figures) any {
		by := map[string]int64{}
		for op, n := range f.Requests {
			svc, _, _ := strings.Cut(op, ".")
			by[svc] += n
		}
		return fmt.Sprintf("%d / %d / %d", by["DynamoDB_20120810"], by["AmazonSQS"], by["TrentService"])
	})
	row("drain timed out", func(f *Figures) any { return f.DrainTimedOut })
	tw.Flush()
	if r.Baseline != nil {
		fmt.Fprintf(w, "Throughput ratio (normal teams, chaos / baseline, to their last answer; reported, not checked): %.3f\n", r.Ratio)
		if b := r.Baseline; b.NormalP50 > 0 && b.NormalP95 > 0 {
			fmt.Fprintf(w, "Time from send to outcome (normal teams, chaos / baseline): p50 %.2f, p95 %.2f\n",
				r.Chaos.NormalP50/b.NormalP50, r.Chaos.NormalP95/b.NormalP95)
		}
	}
	if r.Baseline != nil && len(r.Chaos.Requests) > 0 {
		fmt.Fprintf(w, "AWS requests that grew most, baseline -> chaos: %s\n", requestGrowth(r.Baseline.Requests, r.Chaos.Requests, 6))
	}
	for _, f := range []*Figures{r.Baseline, r.Chaos} {
		if f != nil && len(f.MeanMillis) > 0 {
			fmt.Fprintf(w, "Slowest AWS requests, mean, %s: %s\n", map[bool]string{true: "baseline", false: "chaos"}[f == r.Baseline], slowest(f.MeanMillis, f.Requests, 8))
		}
	}
	if rv := r.Chaos.Revoked; rv != nil {
		fmt.Fprintf(w, "Revoked team %s: %.0f s without a connection, needs_reauth shown after %.1f s; %d terminal answers during the outage\n",
			rv.Team, rv.Seconds, rv.DetectedIn, rv.AnsweredIn)
	}
	if lm := r.Chaos.Limited; lm != nil {
		fmt.Fprintf(w, "Limited team %s: %.0f s over its daily API limit; %d terminal answers during the outage\n", lm.Team, lm.Seconds, lm.AnsweredIn)
	}
	if len(r.Chaos.UnexpectedBy) > 0 {
		fmt.Fprintln(w, "\nUnexpected outcomes (chaos run):")
		for _, k := range sortedKeys(r.Chaos.UnexpectedBy) {
			fmt.Fprintf(w, "  %5d  %s\n", r.Chaos.UnexpectedBy[k], k)
		}
	}
	for _, f := range cols {
		if len(f.Examples) == 0 {
			continue
		}
		label := "chaos run"
		if f == r.Baseline {
			label = "baseline"
		}
		fmt.Fprintf(w, "\nExamples (%s):\n", label)
		for _, e := range f.Examples {
			fmt.Fprintln(w, "  "+e)
		}
	}
	fmt.Fprintln(w, "\nChecks:")
	for _, ch := range r.Checks {
		mark := "PASS"
		if !ch.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", mark, ch.Name, ch.Got)
	}
	fmt.Fprintf(w, "\nSeed %d; %s in all. Replay: %s\n", c.Seed, r.Wall.Round(time.Second), c.Replay())
}

// Replay is the command that runs this configuration again.
func (c Config) Replay() string {
	cmd := fmt.Sprintf("./tools/with-moto.sh go run ./tools/chaos -seed %d -events %d -teams %d -window %d -spread %d -faults %g -drops %g -token-calls %d -visibility %s -hold-delay %s -drain %s -await-add %s -concurrency %d -teams-at-once %d -latency-factor %g",
		c.Seed, c.Events, c.Teams, c.Window, c.Spread, c.FaultFraction, c.DropFraction, c.TokenCalls, c.Visibility, c.HoldDelay, c.Drain, c.AwaitAdd, c.Concurrency, c.TeamsAtOnce, c.LatencyFactor)
	if !c.Baseline {
		cmd += " -baseline=false"
	}
	return cmd
}

func recoveryCell(r *Recovery) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%d / %d", r.Held, r.SyncedAfter)
}

// repoRoot finds the module root (where functions/ lives) from the working directory.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "functions")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d
			}
		}
	}
	return dir
}

// requestGrowth names the n operations whose request count grew most from
// base to run, as "op a->b".
func requestGrowth(base, run map[string]int64, n int) string {
	ops := slices.Collect(maps.Keys(run))
	slices.SortFunc(ops, func(a, b string) int {
		return cmp.Or(cmp.Compare(run[b]-base[b], run[a]-base[a]), strings.Compare(a, b))
	})
	var parts []string
	for _, op := range ops[:min(n, len(ops))] {
		_, name, _ := strings.Cut(op, ".")
		parts = append(parts, fmt.Sprintf("%s %d->%d", cmp.Or(name, op), base[op], run[op]))
	}
	return strings.Join(parts, ", ")
}

// slowest names the n operations that took longest on average, as "op
// 12.3 ms (n)".
func slowest(mean map[string]float64, count map[string]int64, n int) string {
	ops := slices.Collect(maps.Keys(mean))
	slices.SortFunc(ops, func(a, b string) int { return cmp.Or(cmp.Compare(mean[b], mean[a]), strings.Compare(a, b)) })
	var parts []string
	for _, op := range ops[:min(n, len(ops))] {
		_, name, _ := strings.Cut(op, ".")
		parts = append(parts, fmt.Sprintf("%s %.1f ms (%d)", cmp.Or(name, op), mean[op], count[op]))
	}
	return strings.Join(parts, ", ")
}

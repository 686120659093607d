// Command bench measures what the service costs and how fast it goes on the
// local stack (moto, the Salesforce simulator, the real function binaries
// behind the runner), side by side with a naive per-record baseline run in
// the same process against the same simulator. It prints a progress line
// while it runs, a table at the end, and writes the figures as JSON.
//
// Each workload is also priced: the DynamoDB request units its requests
// would consume (capacity.go, by DynamoDB's documented rules from the
// requests and answers the counting proxy sees), the SQS requests as billed,
// the KMS and Secrets Manager requests, and the functions' CPU time and
// invocations (lambda.go), at the dated list prices of prices.json (cost.go);
// its Salesforce calls are set against an example org's daily allocation.
//
//	go run ./tools/bench        (or: make bench)
//
// It is a command, never a test: wall-clock figures on a shared laptop are
// noisy, so nothing here asserts them; the table says which targets were met
// on this run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sequencer"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// config is what the flags set.
type config struct {
	n           int
	window      time.Duration
	concurrency int
	out         string
	verbose     bool
	coldRuns    int
	rssBatch    int
	phases      string
	prices      string

	mixedTeams, mixedContacts, mixedEmails, mixedInflight int

	gatherMin int
	gatherFor time.Duration
	batchSize int

	teamsAtOnce int           // the sync functions' TEAMS_AT_ONCE
	orgLatency  time.Duration // every mixed-load org's delay per data call
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1000, "contacts in the burst, and emails in the activity run")
	flag.DurationVar(&c.window, "window", 20*time.Second, "the sync functions' batching window (MaximumBatchingWindowInSeconds) on the bench stack")
	flag.IntVar(&c.concurrency, "concurrency", 1, "the sync functions' event source MaximumConcurrency on the bench stack")
	flag.StringVar(&c.out, "out", ".local/bench-results.json", "where the figures are written as JSON")
	flag.BoolVar(&c.verbose, "v", false, "show the functions' logs")
	flag.IntVar(&c.coldRuns, "cold-runs", 5, "process starts per function for the start-to-first-poll figure (median reported)")
	flag.IntVar(&c.rssBatch, "rss-batch", 10000, "messages in the SQS batch whose peak RSS is measured")
	flag.StringVar(&c.phases, "phases", "burst,attribution,activity,baseline,mixed,functions", "the phases to run, comma-separated")
	flag.StringVar(&c.prices, "prices", "", "the price table the figures are priced with (default: the one built in, tools/bench/prices.json)")
	flag.IntVar(&c.mixedTeams, "mixed-teams", 20, "teams (each with its own org) in the mixed load; 0 skips the mixed phase")
	flag.IntVar(&c.mixedContacts, "mixed-contacts", 5000, "contact.added events in the mixed load; 0 skips the mixed phase")
	flag.IntVar(&c.mixedEmails, "mixed-emails", 5000, "email events in the mixed load, interleaved with the contact events")
	flag.IntVar(&c.mixedInflight, "mixed-inflight", 1000, "mixed load: events of each kind sent and not yet answered, at most (0: no limit; moto's SQS slows down as its queues grow)")
	flag.IntVar(&c.batchSize, "batch-size", 0, "the sync functions' event source BatchSize on the bench stack (0: as deployed)")
	flag.IntVar(&c.gatherMin, "gather-min", 0, "the sync functions' GATHER_MIN_EVENTS (0: no gathering)")
	flag.DurationVar(&c.gatherFor, "gather-for", 0, "the sync functions' GATHER_SECONDS, whole seconds")
	flag.IntVar(&c.teamsAtOnce, "teams-at-once", 1, "the sync functions' TEAMS_AT_ONCE: teams' parts of a batch run at once")
	flag.DurationVar(&c.orgLatency, "org-latency", 0, "mixed load: delay every data call of each team's simulated org by this much, as a real org's latency (0: none)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "\nbench:", err)
		os.Exit(1)
	}
}

// bench is one run's shared state.
type bench struct {
	cfg   config
	repo  string
	state string
	bins  map[string]string
	proxy *countingProxy
	// seqProxy counts the sequencer's SQS requests (its sends of the
	// events, its reads of the outcomes): the queues are the stack's, so
	// their requests are billed to it.
	seqProxy *countingProxy
	moto     string
	st       *runner.Stack
	sim      *org.Org
	seqr     *sequencer.Client
	results  *Results
}

func run(ctx context.Context, c config) error {
	b := &bench{cfg: c, repo: repoRoot(), results: &Results{Started: time.Now().UTC(), Host: hostInfo(),
		Settings: Settings{Contacts: c.n, Emails: c.n, BatchingWindow: c.window.String(), MaxConcurrency: c.concurrency,
			MixedTeams: c.mixedTeams, MixedContacts: c.mixedContacts, MixedEmails: c.mixedEmails, MixedInflight: c.mixedInflight,
			GatherMin: c.gatherMin, GatherFor: c.gatherFor.String(), BatchSize: c.batchSize,
			TeamsAtOnce: c.teamsAtOnce, OrgLatency: c.orgLatency.String()}}}
	var err error
	if b.results.Prices, err = loadPrices(c.prices); err != nil {
		return err
	}
	if b.state, err = os.MkdirTemp("", "sfsync-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.state)

	progress("building the functions for this machine")
	if b.bins, err = buildHost(ctx, b.repo, filepath.Join(b.state, "bin")); err != nil {
		return err
	}
	progress("starting moto_server")
	moto, err := motoserver.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer moto.Stop()
	// DynamoDB gets a moto_server of its own: one process uses one core at most.
	dynamo, err := motoserver.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer dynamo.Stop()
	b.moto = moto.Endpoint
	// The stack talks to moto through the counting proxy, then the atomic
	// one (moto's conditional writes and transactions are not atomic, and
	// its transactions are slow: see motoserver.AtomicProxy); the counts
	// are of the requests the stack sends.
	atomicProxy, err := motoserver.StartSplitProxy(moto.Endpoint, dynamo.Endpoint)
	if err != nil {
		return err
	}
	defer atomicProxy.Close()
	b.moto = atomicProxy.URL // the uncounted requests too
	if b.proxy, err = startProxy(atomicProxy.URL, true); err != nil {
		return err
	}
	defer b.proxy.Close()
	if b.seqProxy, err = startProxy(atomicProxy.URL, false); err != nil {
		return err
	}
	defer b.seqProxy.Close()

	progress("starting the stack (runner, functions, simulator)")
	if err := b.startStack(ctx); err != nil {
		return err
	}
	defer b.st.Stop()

	// The figures so far are written after every phase, so a run cut
	// short still leaves what it measured.
	out := c.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(b.repo, out)
	}
	want := map[string]bool{}
	for _, p := range strings.Split(c.phases, ",") {
		want[strings.TrimSpace(p)] = true
	}
	for _, phase := range []struct {
		flag, name string
		run        func(context.Context) error
	}{{"burst", "contact burst", b.contactBurst}, {"attribution", "attribution burst", b.attributionBurst},
		{"activity", "activity burst", b.activityBurst}, {"baseline", "baseline", b.baseline},
		{"mixed", "mixed load", b.mixedLoad}, {"functions", "functions", b.functions}} {
		if !want[phase.flag] {
			continue
		}
		if err := phase.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", phase.name, err)
		}
		b.results.price()
		b.results.Table = b.results.table()
		if err := writeJSON(out, b.results); err != nil {
			return err
		}
	}
	b.results.Finished = time.Now().UTC()
	progressDone()

	b.results.price()
	b.results.Table = b.results.table()
	printTable(os.Stdout, b.results.Table)
	printPrices(os.Stdout, b.results.Prices)
	fmt.Println()
	printOps(os.Stdout, "Burst:", b.results.Burst)
	printOps(os.Stdout, "Activity:", b.results.Activity)
	if m := b.results.Mixed; m != nil {
		printOps(os.Stdout, "Mixed contacts:", m.Contacts)
		printOps(os.Stdout, "Mixed emails:", m.Emails)
	}
	printKinds(os.Stdout, "Burst (contacts):", b.results.Burst)
	printKinds(os.Stdout, "Activity (emails):", b.results.Activity)
	if err := writeJSON(out, b.results); err != nil {
		return err
	}
	fmt.Printf("\nFigures written to %s (%s in all).\n", c.out, b.results.Finished.Sub(b.results.Started).Round(time.Second))
	if m := b.results.Mixed; m != nil && len(m.Problems) > 0 {
		fmt.Println("\nThe mixed load went wrong:")
		for _, p := range m.Problems {
			fmt.Println("  " + p)
		}
		return fmt.Errorf("the mixed load has %d problems (listed above, and in %s)", len(m.Problems), c.out)
	}
	return nil
}

// startStack runs the stack on the counting proxy, with the burst knobs on
// the sync functions' event sources.
func (b *bench) startStack(ctx context.Context) error {
	fns := make([]resources.Function, len(resources.Functions))
	copy(fns, resources.Functions)
	for i := range fns {
		if fns[i].Source != nil {
			fns[i].Timeout = 5 * time.Minute // moto is far slower than AWS
			src := *fns[i].Source
			src.BatchingWindow, src.MaxConcurrency = b.cfg.window, b.cfg.concurrency
			if b.cfg.batchSize > 0 {
				src.BatchSize = b.cfg.batchSize
			}
			fns[i].Source = &src
		}
	}
	port, err := motoserver.FreePort("127.0.0.1")
	if err != nil {
		return err
	}
	out := io.Discard
	if b.cfg.verbose {
		out = os.Stderr
	}
	b.st = &runner.Stack{}
	opts := runner.StackOptions{
		Endpoint: b.proxy.URL, Prefix: "sfsync-bench", StateDir: b.state, RepoDir: b.repo,
		Functions: fns, Binaries: b.bins,
		APIAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Output: out,
		Logger: slog.New(slog.DiscardHandler), PollWait: time.Second,
		VisibilityTimeout: 6 * time.Minute, MaxReceiveCount: 5,
		ExtraEnv: map[string]string{"GATHER_MIN_EVENTS": strconv.Itoa(b.cfg.gatherMin), "GATHER_SECONDS": strconv.Itoa(int(b.cfg.gatherFor / time.Second)),
			"TEAMS_AT_ONCE": strconv.Itoa(b.cfg.teamsAtOnce)},
		StartSalesforce: func(context.Context) (string, func(), error) {
			b.sim = org.New(org.Config{ClientID: "sfsync-local", ClientSecret: "sfsync-local-secret",
				RedirectURIs: []string{b.st.OAuthRedirectURL()}, AutoApprove: true, DailyLimit: 1_000_000})
			u, err := b.sim.Start()
			if err != nil {
				return "", nil, err
			}
			return u, func() { _ = b.sim.Close() }, nil
		},
	}
	if err := b.st.Start(ctx, opts); err != nil {
		return fmt.Errorf("start the stack: %w", err)
	}
	b.proxy.setTables(b.st.Resources.Tables)
	keys, err := jwtlocal.Load(b.state)
	if err != nil {
		return err
	}
	// The sequencer talks to moto past the stack's counting proxy, through
	// one of its own: its sends and polls are not the functions' requests
	// and stay out of their counts, but they are requests to the stack's
	// queues, counted apart.
	cfg, err := motoserver.AWSConfig(ctx, b.seqProxy.URL)
	if err != nil {
		return err
	}
	b.seqr = &sequencer.Client{SQS: sqs.NewFromConfig(cfg), APIURL: b.st.APIURL, Keys: keys,
		ContactQueue:  b.st.Resources.Queues["contact-events"].URL,
		ActivityQueue: b.st.Resources.Queues["activity-events"].URL,
		ResultsQueue:  b.st.Resources.Queues["results"].URL}
	return nil
}

// buildHost builds every function for this machine with the release flags
// (the Makefile's build is linux/arm64, for Lambda).
func buildHost(ctx context.Context, repo, dir string) (map[string]string, error) {
	bins := map[string]string{}
	for _, f := range resources.Functions {
		out := filepath.Join(dir, f.Name)
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, "./functions/"+f.Name)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", f.Name, err, msg)
		}
		bins[f.Name] = out
	}
	return bins, nil
}

func hostInfo() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
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

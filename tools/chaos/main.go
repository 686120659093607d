// Command chaos runs a seeded chaos test of the whole service on the local
// stack (moto, the real function binaries behind the runner, one simulated
// Salesforce org per team): thousands of contact and email events over many
// teams, every message delivered twice, Salesforce answering 5xx or dropping
// the connection after committing, access tokens expiring, one team's
// refresh token revoked and reconnected, one team over its daily API limit
// and raised. After draining, a checker asserts that every event has exactly
// one terminal outcome, nothing was lost or duplicated, the held events of
// the two teams synced after recovery and the other teams' events were
// answered about as fast as in the same workload run without faults (run
// first, in the same process, from the same seed): their median time from
// send to outcome at most 1.5 times the faultless run's, their 95th
// percentile at most 1.5 times its plus one visibility timeout. It prints
// the figures and the seed, and exits 1 when a check fails.
//
//	./tools/with-moto.sh go run ./tools/chaos [-seed N] [-events N] [-teams N]   (or: make chaos)
//
// The same seed gives the same workload, fault draws and timeline (by share
// of messages sent); wall-clock interleaving still differs from run to run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/sfsync/sfsync/tools/motoserver"
)

func main() {
	var c Config
	flag.Int64Var(&c.Seed, "seed", 0, "the run's seed (0: one from the clock, printed)")
	flag.IntVar(&c.Events, "events", 10000, "events in all; each is sent twice")
	flag.IntVar(&c.Teams, "teams", 20, "teams (one revoked, one limited, the rest normal); at least 3")
	flag.IntVar(&c.Window, "window", 400, "first copies of the normal teams' events in flight at most")
	flag.IntVar(&c.Spread, "spread", 300, "an event's second copy goes 1..spread first copies after it")
	flag.Float64Var(&c.FaultFraction, "faults", 0.05, "share of Salesforce requests answered 503 SERVER_UNAVAILABLE or 500")
	flag.Float64Var(&c.DropFraction, "drops", 0.01, "share of Salesforce requests processed, then cut off before the answer")
	flag.IntVar(&c.TokenCalls, "token-calls", 200, "access tokens expire after this many API calls")
	flag.DurationVar(&c.Visibility, "visibility", 20*time.Second, "the event queues' visibility timeout (how soon a failed message returns)")
	flag.DurationVar(&c.HoldDelay, "hold-delay", 0, "HOLD_DELAY_SECONDS of the sync functions (how long a held message waits; 0: the visibility timeout)")
	flag.DurationVar(&c.AwaitAdd, "await-add", 0, "AWAIT_ADD_SECONDS of the sync functions (how long an email waits for its contact.added; 0: the drain, at least 10/3 of the visibility timeout)")
	flag.DurationVar(&c.Drain, "drain", 10*time.Minute, "how long to wait for the last answers after the last send")
	flag.IntVar(&c.Concurrency, "concurrency", 3, "the sync functions' MaximumConcurrency (0: as deployed, 10); moto-bound, fewer pollers go faster here")
	flag.IntVar(&c.TeamsAtOnce, "teams-at-once", 1, "the sync functions' TEAMS_AT_ONCE: teams' parts of a batch run at once")
	flag.BoolVar(&c.Baseline, "baseline", true, "run the same workload without faults first and compare the normal teams' time from send to outcome")
	flag.Float64Var(&c.LatencyFactor, "latency-factor", DefaultLatencyFactor, "how much slower than the baseline the normal teams' p50 (and, less one visibility timeout, p95) time from send to outcome may be")
	flag.BoolVar(&c.Verbose, "v", false, "show the functions' logs")
	split := flag.Bool("split-moto", true, "serve DynamoDB from a second moto_server, so SQS and DynamoDB each get a core")
	dumpTo := flag.String("dump", "", "write every event with its outcomes to this file (JSON lines)")
	flag.Parse()
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano() % 1_000_000
	}
	c.AssertIsolation = true
	c.Progress = os.Stderr
	fmt.Printf("chaos: seed %d (replay with -seed %d)\n", c.Seed, c.Seed)

	os.Exit(run(c, *split, *dumpTo))
}

// run starts moto and the run, prints the report, and returns the exit
// code: 0 when every check passed, 1 when one failed, 2 when the run could
// not be made.
func run(c Config, split bool, dumpTo string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ep, err := motoserver.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	defer motoserver.StopShared()
	c.Endpoint = ep
	if split {
		dyn, err := motoserver.Start(ctx, "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos: start a moto_server for DynamoDB:", err)
			return 2
		}
		defer dyn.Stop()
		c.DynamoEndpoint = dyn.Endpoint
	}
	rep, err := Run(ctx, c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos (seed %d): %v\n", c.Seed, err)
		return 2
	}
	rep.Print(os.Stdout)
	if dumpTo != "" {
		if err := writeDump(dumpTo, rep); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
		} else {
			fmt.Printf("Events and outcomes written to %s\n", dumpTo)
		}
	}
	if rep.Failed() {
		fmt.Printf("\nchaos: FAILED (seed %d)\n", c.Seed)
		return 1
	}
	fmt.Printf("\nchaos: all checks passed (seed %d)\n", c.Seed)
	return 0
}

func writeDump(path string, rep *Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.Dump(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/motoserver"
)

func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(aws.Config) {}))
}

// TestShortChaosRun is the short seeded chaos run of make test: 300 events
// over 4 teams with every fault kind of the full run, a faultless baseline
// first. The normal teams' time from send to outcome and the throughput
// ratio are computed and reported, never asserted (wall-clock figures on a
// shared machine). CHAOS_DUMP=<file> writes every
// event with its outcomes there.
func TestShortChaosRun(t *testing.T) {
	ep, err := motoserver.Shared()
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	c := Config{Seed: 20261130, Events: 300, Teams: 4, Window: 60, Spread: 60,
		Visibility: 10 * time.Second, HoldDelay: 3 * time.Second, Concurrency: 3,
		// The drain ends once every event is answered; the margin is for a machine
		// busy with the rest of make test.
		Drain:    90 * time.Second,
		Baseline: true, Endpoint: ep, RepoDir: "../..", Progress: &progress}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, c)
	if err != nil {
		t.Log(progress.String())
		t.Fatalf("seed %d: %v", c.Seed, err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log(out.String())
	if path := os.Getenv("CHAOS_DUMP"); path != "" {
		if err := writeDump(path, rep); err != nil {
			t.Error(err)
		}
	}

	for _, f := range []*Figures{rep.Baseline, rep.Chaos} {
		if f.Events != 300 || f.Messages != 600 {
			t.Errorf("events/messages: got %d/%d; want 300/600", f.Events, f.Messages)
		}
		if f.NormalPerSec <= 0 {
			t.Errorf("normal teams' throughput not computed: %+v", f)
		}
		if f.NormalP50 <= 0 || f.NormalP95 < f.NormalP50 {
			t.Errorf("normal teams' time from send to outcome: got p50 %v, p95 %v; want 0 < p50 <= p95", f.NormalP50, f.NormalP95)
		}
	}
	if rep.Ratio <= 0 {
		t.Errorf("throughput ratio not computed: %v", rep.Ratio)
	}
	if n := rep.Chaos.Faults["503"] + rep.Chaos.Faults["500"] + rep.Chaos.Faults["drop"]; n == 0 {
		t.Errorf("no Salesforce fault fired in the chaos run")
	}
	if rep.Chaos.Revoked == nil || rep.Chaos.Limited == nil || rep.Chaos.Revoked.Seconds <= 0 || rep.Chaos.Limited.Seconds <= 0 {
		t.Errorf("the revoked and limited teams' outages did not happen: %+v %+v", rep.Chaos.Revoked, rep.Chaos.Limited)
	}
	for _, ch := range rep.Checks { // the isolation check only asks for the figures here (AssertIsolation off)
		if !ch.OK {
			t.Errorf("seed %d: %s: %s (replay: %s)", c.Seed, ch.Name, ch.Got, rep.Config.Replay())
		}
	}
}

// TestWorkload: the same seed gives the same workload; every event goes out
// twice, the second copy after the first; a contact's add comes before its
// other events; one team is revoked and one limited.
func TestWorkload(t *testing.T) {
	a, b := buildWorkload(42, 1000, 5, 100), buildWorkload(42, 1000, 5, 100)
	if fmt.Sprint(a.stream) != fmt.Sprint(b.stream) || fmt.Sprint(a.roles) != fmt.Sprint(b.roles) {
		t.Fatal("the same seed gave two workloads")
	}
	if c := buildWorkload(43, 1000, 5, 100); fmt.Sprint(c.stream) == fmt.Sprint(a.stream) {
		t.Error("another seed gave the same stream")
	}
	if len(a.events) != 1000 || len(a.stream) != 2000 {
		t.Fatalf("events/messages: got %d/%d; want 1000/2000", len(a.events), len(a.stream))
	}
	if len(a.teamsWith(roleRevoked)) != 1 || len(a.teamsWith(roleLimited)) != 1 {
		t.Errorf("roles: %v", a.roles)
	}
	first := map[int]int{}
	for pos, m := range a.stream {
		switch m.copy {
		case 0:
			if _, dup := first[m.ev]; dup {
				t.Fatalf("event %d sent first twice", m.ev)
			}
			first[m.ev] = pos
		case 1:
			if p, ok := first[m.ev]; !ok || p > pos {
				t.Fatalf("event %d: second copy at %d before its first", m.ev, pos)
			}
		}
	}
	added := map[int]bool{}
	ids, msgKinds, members := map[string]bool{}, map[string]bool{}, map[string]bool{}
	replies := 0
	for _, e := range a.events {
		if ids[e.ev.ID] {
			t.Fatalf("event id %s twice", e.ev.ID)
		}
		ids[e.ev.ID] = true
		switch e.ev.Type {
		case event.ContactAdded:
			c := a.contacts[e.contact]
			k := c.id + "/" + c.seq
			if members[k] {
				t.Errorf("membership %s added twice", k)
			}
			members[k] = true
			added[e.contact] = true
		case event.ContactReplied:
			replies++
			if !added[e.contact] || a.events[a.addOf[e.idx]].contact != e.contact {
				t.Errorf("%s: reply before its add", e.ev.ID)
			}
		default:
			if !added[e.contact] {
				t.Errorf("%s: email before its add", e.ev.ID)
			}
			k := e.msgID + "/" + e.kind
			if msgKinds[k] {
				t.Errorf("message %s twice", k)
			}
			msgKinds[k] = true
		}
	}
	for ci, c := range a.contacts {
		if c.seq == seqReply && added[ci] {
			found := false
			for _, e := range a.events {
				found = found || e.contact == ci && e.ev.Type == event.ContactReplied
			}
			if !found {
				t.Errorf("on_reply contact %s never replies", c.id)
			}
		}
	}
	if replies == 0 || len(msgKinds) == 0 {
		t.Errorf("replies %d, email events %d; want some of each", replies, len(msgKinds))
	}
}

func TestRequestGrowth(t *testing.T) {
	t.Parallel()
	base := map[string]int64{"DynamoDB_20120810.GetItem": 100, "AmazonSQS.ReceiveMessage": 50, "AmazonSQS.SendMessageBatch": 10}
	run := map[string]int64{"DynamoDB_20120810.GetItem": 130, "AmazonSQS.ReceiveMessage": 52, "AmazonSQS.SendMessageBatch": 40, "other": 1}
	tests := []struct {
		n    int
		want string
	}{
		{2, "SendMessageBatch 10->40, GetItem 100->130"}, // a tie goes by name, SQS first
		{9, "SendMessageBatch 10->40, GetItem 100->130, ReceiveMessage 50->52, other 0->1"},
	}
	for _, tt := range tests {
		if got := requestGrowth(base, run, tt.n); got != tt.want {
			t.Errorf("n=%d: got %q; want %q", tt.n, got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{9, 1, 8, 2, 7, 3, 6, 4, 5, 10} // 1..10, shuffled
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{[]float64{4}, 95, 4},
		{xs, 50, 5},
		{xs, 95, 10},
		{xs, 10, 1},
	}
	for _, tt := range tests {
		if got := percentile(slices.Clone(tt.xs), tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v): got %v; want %v", tt.xs, tt.p, got, tt.want)
		}
	}
}

// TestIsolationCheck: under faults the normal teams' median time from send
// to outcome may be LatencyFactor times the faultless run's, their 95th
// percentile that plus one visibility timeout; the short run only reports.
func TestIsolationCheck(t *testing.T) {
	t.Parallel()
	base := &Figures{NormalP50: 10, NormalP95: 30}
	tests := []struct {
		name     string
		p50, p95 float64
		assert   bool
		want     bool
	}{
		{"as fast as the faultless run", 10, 30, true, true},
		{"at the bounds", 15, 65, true, true},
		{"median too slow", 15.5, 40, true, false},
		{"tail slower than one visibility timeout allows", 12, 65.5, true, false},
		{"reported only", 40, 200, false, true},
	}
	for _, tt := range tests {
		r := &Report{Config: Config{LatencyFactor: 1.5, Visibility: 20 * time.Second, AssertIsolation: tt.assert},
			Baseline: base, Chaos: &Figures{NormalP50: tt.p50, NormalP95: tt.p95}}
		var got *Check
		for _, ch := range checks(r) {
			if strings.HasPrefix(ch.Name, "normal teams' time from send to outcome") {
				got = &ch
			}
		}
		if got == nil {
			t.Fatalf("%s: no isolation check in %+v", tt.name, checks(r))
		}
		if got.OK != tt.want {
			t.Errorf("%s: p50 %v, p95 %v: got ok %v (%s); want %v", tt.name, tt.p50, tt.p95, got.OK, got.Got, tt.want)
		}
	}
}

// TestAwaitAddDefault: an email waits for its contact.added as long as the
// run drains, at least 10/3 of the visibility timeout, unless told.
func TestAwaitAddDefault(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		vis, drain, await, want time.Duration
	}{
		{"the drain", 10 * time.Second, 90 * time.Second, 0, 90 * time.Second},
		{"10/3 of a long visibility", 60 * time.Second, 90 * time.Second, 0, 200 * time.Second},
		{"as told", 10 * time.Second, 90 * time.Second, 5 * time.Second, 5 * time.Second},
	} {
		c := Config{Visibility: tt.vis, Drain: tt.drain, AwaitAdd: tt.await}
		c.defaults()
		if c.AwaitAdd != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, c.AwaitAdd, tt.want)
		}
		if !strings.Contains(c.Replay(), "-await-add "+tt.want.String()) {
			t.Errorf("%s: the replay line does not carry the wait: %s", tt.name, c.Replay())
		}
	}
}

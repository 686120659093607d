package main

import (
	"math"
	"os"
	"testing"

	"github.com/sfsync/sfsync/shared/resources"
)

func TestParseProcStat(t *testing.T) {
	// A command name with a space and parentheses; utime 250, stime 31 ticks.
	stat := "4242 (boot (x) y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 31 0 0 20 0 9 0 123 1000 200 18446744073709551615"
	got, err := parseProcStat(stat)
	if err != nil || got != 2.81 {
		t.Errorf("%v, %v; want 2.81 s", got, err)
	}
	if _, err := parseProcStat("4242 (x) S 1"); err == nil {
		t.Error("a short line was read")
	}
	if sec, err := procCPUSeconds(os.Getpid()); err != nil || sec < 0 {
		t.Errorf("this process: %v, %v", sec, err)
	}
}

func TestLambdaSince(t *testing.T) {
	before := lambdaSnap{"contactsync": {cpu: map[int]float64{10: 1.5, 11: 2}}}
	now := lambdaSnap{"contactsync": {cpu: map[int]float64{10: 2.5, 12: 0.5}}} // 11 gone, 12 new
	got := now.since(before)["contactsync"]
	mem := 0
	for _, f := range resources.Functions {
		if f.Name == "contactsync" {
			mem = f.Memory
		}
	}
	// 10 ran 1 s, 12 started and ran 0.5 s; 11's time is lost.
	if got.MemoryMB != mem || got.CPUSeconds != 1.5 || math.Abs(got.GBSeconds-1.5*float64(mem)/1024) > 1e-12 {
		t.Errorf("%+v (declared memory %d MB)", got, mem)
	}
}

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/runner"
)

// Lambda compute. The runner runs each function's real bootstrap as local
// processes (Function.PIDs), one invocation at a time each. The bench reads
// the CPU time of those processes from /proc/<pid>/stat (utime + stime, all
// threads, in clock ticks of 1/100 s: Linux's USER_HZ) before and after a
// workload, and turns it into GB-seconds at the memory shared/resources
// declares for the function.
//
// CPU seconds on this machine stand in for Lambda's billed duration, which
// is the wall time of each invocation: it includes the time a function
// waits on DynamoDB, SQS and Salesforce, which CPU time does not. The
// figure is a lower bound of the billed duration (and of its cost), not an
// estimate of it: on moto the invocations' wall time is dominated by moto
// itself and would overstate it as much. The processes idle between
// invocations (Lambda would freeze them) and use next to no CPU then.

// FunctionUse is one function's compute over a workload.
type FunctionUse struct {
	MemoryMB    int     `json:"memory_mb"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	GBSeconds   float64 `json:"gb_seconds_from_cpu"`
	Invocations int64   `json:"invocations"`
	// Restarted counts processes that exited or were killed during the
	// workload: the CPU time of a process gone is not in CPUSeconds.
	Restarted int64 `json:"processes_restarted,omitempty"`
}

// userHZ is the unit of the times in /proc/<pid>/stat.
const userHZ = 100

// procCPUSeconds reads a process's user and system CPU time.
func procCPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(data))
}

// parseProcStat reads utime and stime (fields 14 and 15) from a
// /proc/<pid>/stat line; the command name in field 2 may hold spaces and
// parentheses, so fields are counted after its closing parenthesis.
func parseProcStat(stat string) (float64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("proc stat: no command name in %q", truncate(stat, 80))
	}
	f := strings.Fields(stat[end+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: utime %q, stime %q", f[11], f[12])
	}
	return float64(utime+stime) / userHZ, nil
}

// lambdaSnap is the functions' processes' CPU time and the runner's
// counters at one moment.
type lambdaSnap map[string]fnSnap

type fnSnap struct {
	cpu   map[int]float64 // pid -> CPU seconds
	stats runner.Stats
}

// lambdaSnapshot reads every function of the stack.
func (b *bench) lambdaSnapshot() lambdaSnap {
	snap := lambdaSnap{}
	if b.st == nil {
		return snap
	}
	for name, fn := range b.st.Functions {
		s := fnSnap{cpu: map[int]float64{}, stats: fn.Stats()}
		for _, pid := range fn.PIDs() {
			if sec, err := procCPUSeconds(pid); err == nil {
				s.cpu[pid] = sec
			}
		}
		snap[name] = s
	}
	return snap
}

// since is the compute of each function between before and s. A process
// that started in between counts from zero; one that is gone is lost (and
// counted in Restarted).
func (s lambdaSnap) since(before lambdaSnap) map[string]FunctionUse {
	memory := map[string]int{}
	for _, f := range resources.Functions {
		memory[f.Name] = f.Memory
	}
	out := map[string]FunctionUse{}
	for name, now := range s {
		was := before[name]
		u := FunctionUse{MemoryMB: memory[name],
			Invocations: now.stats.Invocations - was.stats.Invocations,
			Restarted:   (now.stats.Crashes - was.stats.Crashes) + (now.stats.Timeouts - was.stats.Timeouts)}
		for pid, sec := range now.cpu {
			u.CPUSeconds += sec - was.cpu[pid]
		}
		u.GBSeconds = u.CPUSeconds * float64(u.MemoryMB) / 1024
		out[name] = u
	}
	return out
}

// cpuTotal is the CPU seconds of every function process in the snapshot.
func (s lambdaSnap) cpuTotal() float64 {
	t := 0.0
	for _, f := range s {
		for _, sec := range f.cpu {
			t += sec
		}
	}
	return t
}

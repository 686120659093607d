package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
)

// FunctionFigures are one function's size, start and memory.
type FunctionFigures struct {
	Name            string    `json:"name"`
	BootstrapBytes  int64     `json:"bootstrap_bytes"`
	FirstPollMs     float64   `json:"start_to_first_poll_ms_median"`
	FirstPollRuns   []float64 `json:"start_to_first_poll_ms_runs"`
	PeakRSSBytes    int64     `json:"peak_rss_bytes,omitempty"`
	RSSBatch        int       `json:"peak_rss_batch_messages,omitempty"`
	RSSBatchSeconds float64   `json:"peak_rss_batch_seconds,omitempty"`
	RSSBatchFailed  int       `json:"peak_rss_batch_item_failures,omitempty"`
	// RSSBatchDone is false when the function ran out of its deadline
	// (moto's pace) and handed the rest of the batch back for a retry.
	RSSBatchDone bool `json:"peak_rss_batch_completed"`
}

// fakeRuntime is a Lambda Runtime API that records the first poll and hands
// out at most one invocation.
type fakeRuntime struct {
	addr      string
	srv       *http.Server
	payload   []byte // nil: the poll hangs until the process is stopped
	firstPoll chan time.Time
	response  chan []byte
	once      sync.Once
	served    sync.Once
}

func startRuntime(payload []byte) (*fakeRuntime, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rt := &fakeRuntime{addr: l.Addr().String(), payload: payload, firstPoll: make(chan time.Time, 1), response: make(chan []byte, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		rt.once.Do(func() { rt.firstPoll <- time.Now() })
		give := false
		if rt.payload != nil {
			rt.served.Do(func() { give = true })
		}
		if !give {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "bench-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(5*time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:"+motoserver.Region+":123456789012:function:bench")
		w.Write(rt.payload)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		rt.response <- buf.Bytes()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		rt.response <- append([]byte("error: "), buf.Bytes()...)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		rt.response <- append([]byte("init error: "), buf.Bytes()...)
		w.WriteHeader(http.StatusAccepted)
	})
	rt.srv = &http.Server{Handler: mux}
	go func() { _ = rt.srv.Serve(l) }()
	return rt, nil
}

func (rt *fakeRuntime) Close() { _ = rt.srv.Close() }

// functionEnv is the environment the runner gives fd on the bench stack,
// pointed at moto directly (these runs are not part of the counted work).
func (b *bench) functionEnv(fd resources.Function, runtimeAddr string) []string {
	local := map[string]string{
		resources.EnvClientID:           "sfsync-local",
		resources.EnvOAuthRedirectURL:   b.st.OAuthRedirectURL(),
		resources.EnvOAuthReturnURL:     strings.TrimRight(b.st.SalesforceURL, "/") + "/",
		resources.EnvAPIVersion:         "v62.0",
		resources.EnvLogLevel:           "warn",
		resources.EnvAllowInsecureLogin: "true",
	}
	if fd.Source != nil {
		local[resources.EnvDeadLetterQueueURL] = b.st.Resources.Queues[fd.Source.Queue].DLQURL
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_RUNTIME_API=" + runtimeAddr,
		"AWS_LAMBDA_FUNCTION_NAME=" + fd.Name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(fd.Memory), "_HANDLER=bootstrap"}
	for _, name := range fd.Env {
		v, ok := b.st.Resources.Env[name]
		if !ok {
			v = local[name]
		}
		env = append(env, name+"="+v)
	}
	if v := os.Getenv("GODEBUG"); v != "" {
		env = append(env, "GODEBUG="+v) // gctrace=1, say, to see the heap over the batch
	}
	return append(env, motoserver.Env(b.moto)...)
}

// functions measures every function: the release bootstrap's size, the
// median time from process start to the first Runtime API poll, and each
// sync function's peak RSS over one large batch.
func (b *bench) functions(ctx context.Context) error {
	for _, fd := range resources.Functions {
		f := FunctionFigures{Name: fd.Name}
		path := filepath.Join(b.repo, "build", fd.Name, "bootstrap")
		if fi, err := os.Stat(path); err == nil {
			f.BootstrapBytes = fi.Size()
		} else {
			return fmt.Errorf("%s: %w (make bench runs make build first)", path, err)
		}
		for i := range b.cfg.coldRuns {
			progress("functions: %s start to first poll, run %d of %d", fd.Name, i+1, b.cfg.coldRuns)
			d, err := b.firstPoll(ctx, fd)
			if err != nil {
				return err
			}
			f.FirstPollRuns = append(f.FirstPollRuns, ms(d))
		}
		sorted := slices.Clone(f.FirstPollRuns)
		slices.Sort(sorted)
		f.FirstPollMs = sorted[len(sorted)/2]
		if fd.Source != nil {
			if err := b.peakRSS(ctx, fd, &f); err != nil {
				return err
			}
		}
		b.results.Functions = append(b.results.Functions, f)
	}
	return nil
}

func (b *bench) firstPoll(ctx context.Context, fd resources.Function) (time.Duration, error) {
	rt, err := startRuntime(nil)
	if err != nil {
		return 0, err
	}
	defer rt.Close()
	cmd := exec.CommandContext(ctx, b.bins[fd.Name])
	cmd.Env = b.functionEnv(fd, rt.addr)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case at := <-rt.firstPoll:
		return at.Sub(start), nil
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("%s never polled the Runtime API in 30s: %s", fd.Name, stderr.String())
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// peakRSS feeds one SQS batch of rssBatch messages to the function through
// the Runtime API and reads the process's high-water RSS once it answered.
// The events (contact.created for the contact function, email.sent for
// the activity one) are for a team that is not connected (each is skipped
// with not_connected after one connection lookup), one in ten of them
// malformed, so the batch runs at moto's speed without a live org.
func (b *bench) peakRSS(ctx context.Context, fd resources.Function, f *FunctionFigures) error {
	n := b.cfg.rssBatch
	var ev events.SQSEvent
	arn := "arn:aws:sqs:" + motoserver.Region + ":123456789012:bench-" + fd.Source.Queue
	at := time.Now().UTC().Format(time.RFC3339)
	for i := range n {
		body := fmt.Sprintf(`{"id":"evt_rss_%d","type":"contact.created","version":1,"occurred_at":"%s","team_id":"team_not_connected","data":{"contact":{"id":"ct_%d","email":"rss%d@bench.example","first_name":"R","last_name":"Person %d","company":"Bench Co"}}}`,
			i, at, i, i, i)
		if fd.Source.Queue == "activity-events" {
			body = fmt.Sprintf(`{"id":"evt_rss_%d","type":"email.sent","version":1,"occurred_at":"%s","team_id":"team_not_connected","data":{"sequence":{"id":"seq_rss","name":"Bench"},"contact":{"id":"ct_%d","email":"rss%d@bench.example"},"message":{"id":"msg_%d","subject":"Hello","step":1,"sent_at":"%s","body_text":"Hi,\n\nA short note from the bench.\n"}}}`,
				i, at, i, i, i, at)
		}
		if i%10 == 9 {
			body = `{"id":"evt_rss_bad_` + strconv.Itoa(i) + `","type":"contact.created","version":1,"team_id":` // malformed JSON
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m-%d", i), ReceiptHandle: fmt.Sprintf("rh-%d", i), Body: body,
			Attributes:  map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10)},
			EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: motoserver.Region})
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	rt, err := startRuntime(payload)
	if err != nil {
		return err
	}
	defer rt.Close()
	cmd := exec.CommandContext(ctx, b.bins[fd.Name])
	cmd.Env = b.functionEnv(fd, rt.addr)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if b.cfg.verbose { // the function's logs (and GODEBUG's output) over the batch
		name := filepath.Join(b.repo, ".local", "bench-rss-"+fd.Name+".log")
		out, err := os.Create(name)
		if err != nil {
			return err
		}
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
		progress("functions: %s's output goes to %s", fd.Name, name)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	progress("functions: %s handling a %d-message batch (moto-bound)", fd.Name, n)
	var resp []byte
	select {
	case resp = <-rt.response:
	case <-time.After(8 * time.Minute):
		return fmt.Errorf("%s did not answer a %d-message batch in 8m", fd.Name, n)
	case <-ctx.Done():
		return ctx.Err()
	}
	took := time.Since(start)
	hwm, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return err
	}
	var answer events.SQSEventResponse
	if err := json.Unmarshal(resp, &answer); err != nil {
		return fmt.Errorf("%s answered the batch with %q", fd.Name, truncate(string(resp), 200))
	}
	f.PeakRSSBytes, f.RSSBatch, f.RSSBatchSeconds, f.RSSBatchFailed = hwm, n, took.Seconds(), len(answer.BatchItemFailures)
	f.RSSBatchDone = len(answer.BatchItemFailures) == 0
	return nil
}

// vmHWM reads a process's peak resident set size from /proc.
func vmHWM(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	return parseVmHWM(string(data))
}

func parseVmHWM(status string) (int64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) != 2 || fields[1] != "kB" {
				return 0, fmt.Errorf("peak RSS: unexpected VmHWM line %q", line)
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", fields[0], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM line in /proc status")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Lambda's fixed values for the local account.
const (
	AccountID = "123456789012"
	// MaxPayload is Lambda's limit on a synchronous invocation's request
	// and response payloads.
	MaxPayload = 6 * 1024 * 1024
)

// FunctionSpec describes one function process pool.
type FunctionSpec struct {
	Name        string            // function name (AWS_LAMBDA_FUNCTION_NAME)
	Binary      string            // path of the compiled bootstrap program
	Env         map[string]string // the function's environment (resources.Env* and AWS_*)
	Timeout     time.Duration     // invocation timeout
	MemoryMB    int
	Concurrency int       // processes; invocations beyond wait for a free one
	Output      io.Writer // the processes' stdout and stderr, each line prefixed with the instance
	Region      string
}

// ErrFunctionStopped is returned by Invoke once the function is stopped.
var ErrFunctionStopped = errors.New("function stopped")

// InvokeError is an invocation that did not return a response: the function
// returned an error, crashed, or ran past its timeout. Type follows Lambda:
// the function's own errorType, "Runtime.ExitError", or "Sandbox.Timedout".
type InvokeError struct {
	Function  string
	RequestID string
	Type      string
	Message   string
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("%s invocation %s: %s: %s", e.Function, e.RequestID, e.Type, e.Message)
}

// Error types the runner itself reports.
const (
	ErrorTypeExit    = "Runtime.ExitError"
	ErrorTypeTimeout = "Sandbox.Timedout"
)

// Function is a running pool of processes of one function, each with its own
// Runtime API endpoint, each handling one invocation at a time.
type Function struct {
	spec      FunctionSpec
	arn       string
	idle      chan *instance
	instances []*instance
	stopping  chan struct{}
	stopOnce  sync.Once

	invocations, crashes, timeouts atomic.Int64
}

// StartFunction starts spec.Concurrency processes of the function. It returns
// once every Runtime API endpoint listens; the processes initialise on their
// own and pick up invocations when ready.
func StartFunction(spec FunctionSpec) (*Function, error) {
	if spec.Name == "" {
		return nil, errors.New("function: name is empty")
	}
	if spec.Binary == "" {
		return nil, fmt.Errorf("function %s: binary is empty", spec.Name)
	}
	if spec.Timeout <= 0 {
		return nil, fmt.Errorf("function %s: timeout %s must be positive", spec.Name, spec.Timeout)
	}
	if spec.Concurrency <= 0 {
		spec.Concurrency = 1
	}
	if spec.MemoryMB <= 0 {
		spec.MemoryMB = 128
	}
	if spec.Output == nil {
		spec.Output = io.Discard
	}
	if spec.Region == "" {
		spec.Region = "us-east-1"
	}
	f := &Function{
		spec:     spec,
		arn:      fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", spec.Region, AccountID, spec.Name),
		idle:     make(chan *instance, spec.Concurrency),
		stopping: make(chan struct{}),
	}
	out := &lockedWriter{w: spec.Output}
	for i := range spec.Concurrency {
		in, err := f.startInstance(i+1, out)
		if err != nil {
			f.Stop()
			return nil, err
		}
		f.instances = append(f.instances, in)
		f.idle <- in
	}
	return f, nil
}

// Name is the function's name.
func (f *Function) Name() string { return f.spec.Name }

// ARN is the function's ARN as Lambda passes it to the function.
func (f *Function) ARN() string { return f.arn }

// Stats counts what happened to the function's processes.
type Stats struct {
	Invocations int64 // invocations started
	Crashes     int64 // processes that exited on their own (each restarted)
	Timeouts    int64 // invocations that ran past the timeout (process killed and restarted)
}

// Stats returns the counters.
func (f *Function) Stats() Stats {
	return Stats{Invocations: f.invocations.Load(), Crashes: f.crashes.Load(), Timeouts: f.timeouts.Load()}
}

// PIDs returns the process ids of the running processes (tests use it to
// check nothing is left behind).
func (f *Function) PIDs() []int {
	var pids []int
	for _, in := range f.instances {
		in.mu.Lock()
		if in.proc != nil && in.proc.cmd.Process != nil {
			pids = append(pids, in.proc.cmd.Process.Pid)
		}
		in.mu.Unlock()
	}
	return pids
}

// Invoke runs one invocation with payload on a free process and returns the
// function's response. Invocations wait for a free process. A function
// error, crash or timeout is an *InvokeError.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%s: request payload of %d bytes exceeds %d", f.spec.Name, len(payload), MaxPayload)
	}
	var in *instance
	select {
	case in = <-f.idle:
	case <-f.stopping:
		return nil, ErrFunctionStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { f.idle <- in }()
	f.invocations.Add(1)
	return in.invoke(ctx, payload)
}

// Stop kills every process of the function (their process groups) and
// waits until they are gone.
func (f *Function) Stop() {
	f.stopOnce.Do(func() { close(f.stopping) })
	for _, in := range f.instances {
		in.stop()
	}
}

// instance is one process slot: a Runtime API endpoint and the process (one
// after another, as crashed ones are replaced) that polls it.
type instance struct {
	f      *Function
	n      int
	addr   string
	ln     net.Listener
	srv    *http.Server
	out    io.Writer
	queued chan *invocation // the invocation waiting for GET next (cap 1)
	done   chan struct{}    // closed when the supervisor has returned

	mu      sync.Mutex
	proc    *process
	ready   chan struct{} // closed when proc is set to a live process
	current *invocation   // the invocation the process picked up
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	killed atomic.Bool // the runner killed it (timeout, stop): not a crash
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	result   chan invokeResult // cap 1
	once     sync.Once
}

type invokeResult struct {
	body []byte
	err  *InvokeError
}

func (inv *invocation) finish(r invokeResult) bool {
	sent := false
	inv.once.Do(func() { inv.result <- r; sent = true })
	return sent
}

func (f *Function) startInstance(n int, out io.Writer) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("function %s: listen for the Runtime API: %w", f.spec.Name, err)
	}
	in := &instance{
		f: f, n: n, addr: ln.Addr().String(), ln: ln, queued: make(chan *invocation, 1),
		done: make(chan struct{}), ready: make(chan struct{}),
		out: &prefixWriter{prefix: fmt.Sprintf("%s[%d] ", f.spec.Name, n), w: out},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", in.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", in.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", in.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", in.handleInitError)
	in.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = in.srv.Serve(ln) }()
	go in.supervise()
	return in, nil
}

// supervise runs the process and replaces it whenever it exits, until the
// function stops. A process that keeps dying at start is restarted with a
// growing pause (up to 5s) so a broken build does not spin.
func (in *instance) supervise() {
	defer close(in.done)
	backoff := 100 * time.Millisecond
	for {
		started := time.Now()
		p, err := in.spawn()
		if err != nil {
			fmt.Fprintf(in.out, "cannot start process: %v\n", err)
		} else {
			select {
			case <-p.exited:
			case <-in.f.stopping:
				killGroup(p)
				<-p.exited
				return
			}
			in.mu.Lock()
			in.proc, in.ready = nil, make(chan struct{})
			in.mu.Unlock()
			if !p.killed.Load() {
				in.f.crashes.Add(1)
				fmt.Fprintf(in.out, "process exited (%s); restarting\n", p.cmd.ProcessState)
			}
		}
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-in.f.stopping:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (in *instance) spawn() (*process, error) {
	s := in.f.spec
	cmd := exec.Command(s.Binary)
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + in.addr,
		"AWS_LAMBDA_FUNCTION_NAME=" + s.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(s.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + s.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}
	for k, v := range s.Env {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = in.out, in.out
	// Own process group, so a timeout kills whatever the function started;
	// killed with us if the runner dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Binary, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	in.mu.Lock()
	in.proc = p
	close(in.ready)
	in.mu.Unlock()
	return p, nil
}

func killGroup(p *process) {
	p.killed.Store(true)
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// live waits for a running process.
func (in *instance) live(ctx context.Context) (*process, error) {
	for {
		in.mu.Lock()
		p, ready := in.proc, in.ready
		in.mu.Unlock()
		if p != nil {
			select {
			case <-p.exited:
			default:
				return p, nil
			}
		}
		select {
		case <-ready:
		case <-in.f.stopping:
			return nil, ErrFunctionStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (in *instance) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	p, err := in.live(ctx)
	if err != nil {
		return nil, err
	}
	inv := &invocation{
		id: newRequestID(), payload: payload, deadline: time.Now().Add(in.f.spec.Timeout),
		result: make(chan invokeResult, 1),
	}
	in.queued <- inv
	timer := time.NewTimer(in.f.spec.Timeout)
	defer timer.Stop()
	fail := func(typ, msg string) *InvokeError {
		return &InvokeError{Function: in.f.spec.Name, RequestID: inv.id, Type: typ, Message: msg}
	}
	var res invokeResult
	select {
	case res = <-inv.result:
	case <-p.exited:
		res = invokeResult{err: fail(ErrorTypeExit, "the process exited during the invocation")}
	case <-timer.C:
		in.f.timeouts.Add(1)
		fmt.Fprintf(in.out, "%s Task timed out after %.2f seconds\n", inv.id, in.f.spec.Timeout.Seconds())
		killGroup(p)
		<-p.exited
		res = invokeResult{err: fail(ErrorTypeTimeout, fmt.Sprintf("Task timed out after %.2f seconds", in.f.spec.Timeout.Seconds()))}
	case <-in.f.stopping:
		res = invokeResult{err: fail(ErrorTypeExit, "the function was stopped")}
	case <-ctx.Done():
		// Lambda would let the invocation run; the caller is gone, so end it.
		killGroup(p)
		<-p.exited
		res = invokeResult{err: fail(ErrorTypeExit, "the caller gave up: "+ctx.Err().Error())}
	}
	// Whatever happened, the invocation is over: a late answer is refused,
	// and an invocation the process never picked up is withdrawn.
	inv.finish(res)
	select {
	case <-in.queued:
	default:
	}
	in.mu.Lock()
	if in.current == inv {
		in.current = nil
	}
	in.mu.Unlock()
	if res.err != nil {
		return nil, res.err
	}
	return res.body, nil
}

func (in *instance) stop() {
	<-in.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = in.srv.Shutdown(ctx)
	_ = in.srv.Close()
}

func (in *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	select {
	case inv = <-in.queued:
	case <-r.Context().Done():
		return
	case <-in.f.stopping:
		// Lambda freezes an idle runtime rather than answering it: hold the
		// request until the process is killed.
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	}
	in.mu.Lock()
	in.current = inv
	in.mu.Unlock()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", in.f.arn)
	h.Set("Lambda-Runtime-Trace-Id", newTraceID())
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// take returns the in-flight invocation with id and clears it, or writes the
// Runtime API's error answer.
func (in *instance) take(w http.ResponseWriter, id string) *invocation {
	in.mu.Lock()
	inv := in.current
	if inv != nil && inv.id == id {
		in.current = nil
	} else {
		inv = nil
	}
	in.mu.Unlock()
	if inv == nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight with id "+id)
	}
	return inv
}

func (in *instance) handleResponse(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	inv := in.take(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	res := invokeResult{body: body}
	if len(body) > MaxPayload {
		res = invokeResult{err: &InvokeError{Function: in.f.spec.Name, RequestID: inv.id, Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("response payload exceeds %d bytes", MaxPayload)}}
	} else if t := r.Trailer.Get("Lambda-Runtime-Function-Error-Type"); t != "" {
		res = invokeResult{err: &InvokeError{Function: in.f.spec.Name, RequestID: inv.id, Type: t, Message: "error while streaming the response"}}
	}
	inv.finish(res)
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func (in *instance) handleError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	inv := in.take(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	var e struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal(body, &e) != nil || e.Type == "" {
		e.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
		if e.Type == "" {
			e.Type = "Unhandled"
		}
		if e.Message == "" {
			e.Message = string(body)
		}
	}
	inv.finish(invokeResult{err: &InvokeError{Function: in.f.spec.Name, RequestID: inv.id, Type: e.Type, Message: e.Message}})
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func (in *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fmt.Fprintf(in.out, "init error: %s\n", bytes.TrimSpace(body))
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRequestID() string {
	h := randomHex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(24), randomHex(16))
}

// lockedWriter serialises writes of several processes to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each starting with prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := p.prefix + string(p.buf[:i+1])
		p.buf = p.buf[i+1:]
		if _, err := io.WriteString(p.w, line); err != nil {
			return len(b), err
		}
	}
	if len(p.buf) > 64*1024 { // a very long line without newline: flush it
		_, _ = io.WriteString(p.w, p.prefix+string(p.buf)+"\n")
		p.buf = p.buf[:0]
	}
	return len(b), nil
}

package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/motoserver"
)

// StackOptions configure a local stack. Only Endpoint is required.
type StackOptions struct {
	Endpoint string // moto_server URL
	Prefix   string // resource name prefix; default "sfsync-local"
	RepoDir  string // module root, where ./functions/<name> are built; default "."
	StateDir string // local state (signing key, binaries); default RepoDir/.local
	// Functions to run; default resources.Functions.
	Functions []resources.Function
	// Binaries maps a function name to a compiled program; functions not in
	// it are built from RepoDir/functions/<name>.
	Binaries map[string]string
	// APIAddr is where the HTTP API listens; default 127.0.0.1:8080.
	APIAddr string
	// Output receives the functions' stdout and stderr; default os.Stderr.
	Output io.Writer
	Logger *slog.Logger
	// Verifier checks the API's bearer tokens; default the jwtlocal keys in
	// StateDir.
	Verifier TokenVerifier

	ClientID     string // connected app consumer key; default "sfsync-local"
	ClientSecret string // connected app consumer secret; default "sfsync-local-secret"
	APIVersion   string // default v62.0
	LogLevel     string // default info
	// OAuthReturnURL is where the consenting browser lands after the
	// callback; default the admin console (ConsoleURL), which completes the
	// connect in the tab where its admin started it.
	OAuthReturnURL string

	// StartSalesforce starts the Salesforce the functions talk to and returns
	// its base URL. Start calls it once the HTTP API listens, so Stack.APIURL
	// (and the OAuth redirect URL, APIURL+"/oauth/salesforce/callback") is
	// set. Nil leaves SalesforceURL as given.
	StartSalesforce func(ctx context.Context) (url string, stop func(), err error)
	SalesforceURL   string

	// ExtraEnv is added to every function's environment.
	ExtraEnv map[string]string

	// Test knobs: queue settings and the event source's long-poll wait.
	VisibilityTimeout time.Duration
	MaxReceiveCount   int
	PollWait          time.Duration
	// APIConcurrency is the number of API function processes; default 4.
	APIConcurrency int
	// ScheduleEvery, when set, replaces the rate of every function's
	// schedule (resources.Function.Schedule); negative runs none.
	ScheduleEvery time.Duration
	// OnBatch is told what became of every SQS batch.
	OnBatch func(function string, r BatchReport)
}

// ErrPortInUse is returned when the HTTP API's address is taken.
var ErrPortInUse = errors.New("address already in use")

// Stack is the whole system running locally: resources on moto, the
// functions behind the Runtime API, their event sources and the HTTP API.
type Stack struct {
	Resources     *Provisioned
	Endpoint      string
	APIURL        string
	SalesforceURL string
	Functions     map[string]*Function

	opts      StackOptions
	log       *slog.Logger
	sources   []*EventSource
	schedules []*Schedule
	gates     map[string]*TableGate // by function
	server    *http.Server
	served    chan struct{}
	stopSF    func()
	stopOnce  sync.Once
}

func (o *StackOptions) defaults() {
	if o.Prefix == "" {
		o.Prefix = "sfsync-local"
	}
	if o.RepoDir == "" {
		o.RepoDir = "."
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(o.RepoDir, jwtlocal.DefaultDir)
	}
	if o.Functions == nil {
		o.Functions = resources.Functions
	}
	if o.APIAddr == "" {
		o.APIAddr = "127.0.0.1:8080"
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ClientID == "" {
		o.ClientID = "sfsync-local"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "sfsync-local-secret"
	}
	if o.APIVersion == "" {
		o.APIVersion = "v62.0"
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.APIConcurrency <= 0 {
		o.APIConcurrency = 4
	}
}

// Start brings the stack up. On error everything started so far is stopped.
func (s *Stack) Start(ctx context.Context, opts StackOptions) (err error) {
	opts.defaults()
	if opts.Endpoint == "" {
		return errors.New("stack: the AWS endpoint (moto_server URL) is required")
	}
	s.opts, s.log, s.Endpoint = opts, opts.Logger, opts.Endpoint
	s.Functions = map[string]*Function{}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	ln, err := net.Listen("tcp", opts.APIAddr)
	if err != nil {
		if isAddrInUse(err) {
			return fmt.Errorf("HTTP API on %s: %w", opts.APIAddr, ErrPortInUse)
		}
		return fmt.Errorf("HTTP API on %s: %w", opts.APIAddr, err)
	}
	s.APIURL = localURL(ln.Addr().(*net.TCPAddr))
	s.server = &http.Server{ReadHeaderTimeout: 10 * time.Second}

	s.SalesforceURL = opts.SalesforceURL
	if opts.StartSalesforce != nil {
		url, stop, err := opts.StartSalesforce(ctx)
		if err != nil {
			ln.Close()
			return fmt.Errorf("start Salesforce: %w", err)
		}
		s.SalesforceURL, s.stopSF = url, stop
	}

	cfg, err := motoserver.AWSConfig(ctx, opts.Endpoint)
	if err != nil {
		ln.Close()
		return err
	}
	s.Resources, err = Provision(ctx, cfg, opts.Prefix, ProvisionOptions{
		ClientSecret: opts.ClientSecret, VisibilityTimeout: opts.VisibilityTimeout, MaxReceiveCount: opts.MaxReceiveCount,
	})
	if err != nil {
		ln.Close()
		return err
	}

	bins, err := s.binaries(ctx)
	if err != nil {
		ln.Close()
		return err
	}

	verifier := opts.Verifier
	if verifier == nil {
		keys, err := jwtlocal.Load(opts.StateDir)
		if err != nil {
			ln.Close()
			return err
		}
		verifier = keys
	}

	client := sqs.NewFromConfig(cfg)
	for _, fd := range opts.Functions {
		gate, err := StartTableGate(s.Endpoint, fd.Name, s.tableNames(fd.WriteTables))
		if err != nil {
			ln.Close()
			return err
		}
		if s.gates == nil {
			s.gates = map[string]*TableGate{}
		}
		s.gates[fd.Name] = gate
		env, err := s.functionEnv(fd, gate.URL)
		if err != nil {
			ln.Close()
			return err
		}
		conc := opts.APIConcurrency
		if fd.Source != nil {
			conc = fd.Source.MaxConcurrency
		}
		fn, err := StartFunction(FunctionSpec{
			Name: fd.Name, Binary: bins[fd.Name], Env: env, Timeout: fd.Timeout, MemoryMB: fd.Memory,
			Concurrency: conc, Output: opts.Output, Region: motoserver.Region,
		})
		if err != nil {
			ln.Close()
			return err
		}
		s.Functions[fd.Name] = fn
		if every := cmp.Or(opts.ScheduleEvery, fd.Schedule); fd.Schedule > 0 && every > 0 {
			// The stand-in for the function's EventBridge rule.
			sch := &Schedule{Name: fd.Name, Every: every, Function: fn, Region: motoserver.Region, Logger: s.log}
			sch.Start()
			s.schedules = append(s.schedules, sch)
		}
		if fd.Source == nil {
			continue
		}
		q, ok := s.Resources.Queues[fd.Source.Queue]
		if !ok {
			ln.Close()
			return fmt.Errorf("function %s: event source queue %q is not declared", fd.Name, fd.Source.Queue)
		}
		var onBatch func(BatchReport)
		if opts.OnBatch != nil {
			name := fd.Name
			onBatch = func(r BatchReport) { opts.OnBatch(name, r) }
		}
		es, err := StartEventSource(client, fn, EventSourceSpec{
			QueueURL: q.URL, QueueARN: q.ARN, BatchSize: fd.Source.BatchSize, BatchingWindow: fd.Source.BatchingWindow,
			MaxConcurrency: fd.Source.MaxConcurrency, ReportBatchItemFailures: true, PollWait: opts.PollWait,
			Region: motoserver.Region, Logger: s.log, OnBatch: onBatch,
		})
		if err != nil {
			ln.Close()
			return err
		}
		s.sources = append(s.sources, es)
	}

	var gateway http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		gatewayError(w, http.StatusNotFound, "Not Found")
	})
	if api, ok := s.Functions["api"]; ok {
		gateway = NewAPIGateway(api, verifier, s.log)
	}
	s.server.Handler = gateway
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP API stopped", "error", err.Error())
		}
	}()
	return nil
}

// binaries returns the program of every function, building those not given.
func (s *Stack) binaries(ctx context.Context) (map[string]string, error) {
	bins := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, fd := range s.opts.Functions {
		if b, ok := s.opts.Binaries[fd.Name]; ok {
			bins[fd.Name] = b
			continue
		}
		out, err := filepath.Abs(filepath.Join(s.opts.StateDir, "bin", fd.Name))
		if err != nil {
			return nil, err
		}
		bins[fd.Name] = out
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Build(ctx, s.opts.RepoDir, "./functions/"+fd.Name, out); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return bins, errors.Join(errs...)
}

// tableNames are the provisioned names of the tables named (resources.Table.Name).
func (s *Stack) tableNames(names []string) []string {
	var out []string
	for _, t := range resources.Tables {
		if slices.Contains(names, t.Name) {
			out = append(out, s.Resources.Env[t.EnvVar])
		}
	}
	return out
}

// functionEnv is the environment of fd: the variables it declares, then the
// AWS endpoint (endpoint: the function's table gate) and dummy credentials,
// then ExtraEnv.
func (s *Stack) functionEnv(fd resources.Function, endpoint string) (map[string]string, error) {
	returnURL := s.opts.OAuthReturnURL
	if returnURL == "" {
		returnURL = s.ConsoleURL()
	}
	local := map[string]string{
		resources.EnvClientID:           s.opts.ClientID,
		resources.EnvOAuthRedirectURL:   s.OAuthRedirectURL(),
		resources.EnvOAuthReturnURL:     returnURL,
		resources.EnvAPIVersion:         s.opts.APIVersion,
		resources.EnvLogLevel:           s.opts.LogLevel,
		resources.EnvAllowInsecureLogin: "true",
		// A local stack has no outcome written before December 2026.
		resources.EnvLegacyOutcomesUntil: "",
	}
	if fd.Source != nil {
		// A sync function sends poison messages to its own queue's DLQ.
		local[resources.EnvDeadLetterQueueURL] = s.Resources.Queues[fd.Source.Queue].DLQURL
	}
	env := map[string]string{resources.EnvAllowInsecureLogin: "true"}
	for _, name := range fd.Env {
		v, ok := s.Resources.Env[name]
		if !ok {
			v, ok = local[name]
		}
		if !ok {
			return nil, fmt.Errorf("function %s: no local value for environment variable %s", fd.Name, name)
		}
		env[name] = v
	}
	for _, kv := range motoserver.Env(endpoint) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range s.opts.ExtraEnv {
		env[k] = v
	}
	return env, nil
}

// EnvFile returns shell export lines that point the AWS CLI or an SDK at the
// stack, as the sequencer would see it.
func (s *Stack) EnvFile() string {
	vars := map[string]string{
		"API_URL":        s.APIURL,
		"SALESFORCE_URL": s.SalesforceURL,
	}
	for _, kv := range motoserver.Env(s.Endpoint) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	vars["AWS_DEFAULT_REGION"] = vars["AWS_REGION"]
	if s.Resources != nil {
		for k, v := range s.Resources.Env {
			vars[k] = v
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# sfsync local stack: source this file to act as the sequencer.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(vars[k]))
	}
	return b.String()
}

// WriteEnvFile writes EnvFile to path atomically.
func (s *Stack) WriteEnvFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s.EnvFile()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// stopGrace is how long Stop lets batches in flight finish before it kills
// the function processes.
const stopGrace = 5 * time.Second

// Stop stops everything Start started: the HTTP API, the event sources
// (batches in flight get a few seconds), the function processes (their whole
// process groups) and the Salesforce it started. Safe to call twice.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		if s.server != nil && s.served != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.server.Shutdown(ctx)
			cancel()
			_ = s.server.Close()
			<-s.served
		}
		for _, sch := range s.schedules {
			sch.Stop()
		}
		sourcesDone := make(chan struct{})
		go func() {
			var wg sync.WaitGroup
			for _, es := range s.sources {
				wg.Add(1)
				go func() { defer wg.Done(); es.Stop() }()
			}
			wg.Wait()
			close(sourcesDone)
		}()
		select {
		case <-sourcesDone:
		case <-time.After(stopGrace):
		}
		var wg sync.WaitGroup
		for _, fn := range s.Functions {
			wg.Add(1)
			go func() { defer wg.Done(); fn.Stop() }()
		}
		wg.Wait()
		<-sourcesDone
		for _, g := range s.gates {
			_ = g.Close()
		}
		if s.stopSF != nil {
			s.stopSF()
		}
	})
}

// localURL is the URL of a local listener; an unspecified address (":8080")
// is reached through the loopback.
func localURL(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// OAuthRedirectURL is the callback URL the API function registers.
func (s *Stack) OAuthRedirectURL() string { return s.APIURL + "/oauth/salesforce/callback" }

// ConsoleURL is the admin console the API function serves: the page where
// an admin starts a connect, and the OAuth return URL that completes it in
// the browser tab where they started it.
func (s *Stack) ConsoleURL() string { return s.APIURL + console.Path }

// ConsoleURLWith is the address that opens the console with token, as a
// host app opens it: the token in the fragment, which never reaches a
// server.
func (s *Stack) ConsoleURLWith(token string) string { return s.ConsoleURL() + "#token=" + token }

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// Package motoserver starts and reaches a local moto_server, the AWS emulator
// the tests and the local stack run against (DynamoDB, SQS, KMS, Secrets
// Manager on one port).
//
// `make test` starts one moto_server for the whole run and exports its address
// as AWS_ENDPOINT_URL; every test package then shares it (with unique table and
// queue names per test). A package run alone with `go test` starts its own.
package motoserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ErrNotInstalled is returned when no moto_server binary is on the PATH.
var ErrNotInstalled = errors.New("moto_server not found on PATH: install the pinned moto with make check-moto")

// Region is the region every local resource lives in.
const Region = "us-east-1"

// Server is a moto_server process this program started.
type Server struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// Start runs moto_server on addr ("127.0.0.1:0" picks a free port) and waits
// until it answers.
func Start(ctx context.Context, addr string) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("moto address %q: %w", addr, err)
	}
	if port == "0" {
		p, err := FreePort(host)
		if err != nil {
			return nil, err
		}
		port = strconv.Itoa(p)
	} else if InUse(net.JoinHostPort(host, port)) {
		return nil, fmt.Errorf("port %s on %s is already in use", port, host)
	}
	cmd := exec.Command(bin, "-H", host, "-p", port)
	if py, script, ok := launcher(); ok {
		cmd = exec.Command(py, script, "-H", host, "-p", port)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Stdout, cmd.Stderr = nil, &launcherNotes{w: os.Stderr}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{Endpoint: "http://" + net.JoinHostPort(host, port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := WaitReady(ctx, s.Endpoint, 60*time.Second, s.done); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// launcherScript runs moto_server with fast paths for long local runs:
// DynamoDB's Query reads one partition, SQS finds messages without walking
// the queue (see the script and README.md). python3 runs it when it can
// import moto; on a moto other than the one the script was written for, it
// runs plain moto and says so.
//
//go:embed launcher.py
var launcherScript []byte

var (
	launcherOnce   sync.Once
	launcherPython string
	launcherPath   string
)

// launcher returns the Python and the path of the launcher written out, or
// false when python3 cannot import moto (moto_server then runs as
// installed).
func launcher() (python, script string, ok bool) {
	launcherOnce.Do(func() {
		py, err := exec.LookPath("python3")
		if err != nil || exec.Command(py, "-c", launcherImports).Run() != nil {
			return
		}
		// One file per version of the script, shared by every run.
		sum := sha256.Sum256(launcherScript)
		path := filepath.Join(os.TempDir(), fmt.Sprintf("sfsync-moto-launcher-%x.py", sum[:6]))
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, launcherScript) {
			f, err := os.CreateTemp(os.TempDir(), "sfsync-moto-launcher-*.tmp")
			if err != nil {
				return
			}
			_, werr := f.Write(launcherScript)
			if cerr := f.Close(); werr != nil || cerr != nil || os.Rename(f.Name(), path) != nil {
				os.Remove(f.Name())
				return
			}
		}
		launcherPython, launcherPath = py, path
	})
	return launcherPython, launcherPath, launcherPath != ""
}

// launcherImports is what the launcher needs to start: moto's server. It
// imports the modules it changes only on the moto it was written for.
// with-moto.sh checks the same import.
const launcherImports = "import moto.server"

// launcherNotePrefix starts each line the launcher prints of itself
// (launcher.py's NOTE).
const launcherNotePrefix = "launcher: "

// launcherNotes passes on to w the lines of moto_server's output that the
// launcher printed of itself (that it runs plain moto), and drops the rest:
// moto's log of every request.
type launcherNotes struct {
	w    io.Writer
	line []byte // the unfinished last line written
}

func (n *launcherNotes) Write(p []byte) (int, error) {
	n.line = append(n.line, p...)
	for {
		i := bytes.IndexByte(n.line, '\n')
		if i < 0 {
			break
		}
		if bytes.HasPrefix(n.line, []byte(launcherNotePrefix)) {
			_, _ = n.w.Write(n.line[:i+1])
		}
		n.line = n.line[i+1:]
	}
	if len(n.line) > 64<<10 {
		n.line = nil // no note is that long
	}
	return len(p), nil
}

// Stop ends moto_server and every process it started.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// WaitReady polls endpoint until moto answers, the timeout passes, or exited
// is closed (the process died).
func WaitReady(ctx context.Context, endpoint string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto_server at %s did not answer within %s", endpoint, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("moto_server exited before answering at %s", endpoint)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Answers reports whether something answers HTTP at endpoint.
func Answers(endpoint string) bool {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get(endpoint + "/moto-api/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// FreePort returns a TCP port nothing listens on.
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// InUse reports whether something listens on addr.
func InUse(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// AWSConfig returns an SDK configuration pointed at endpoint with dummy
// credentials, as the functions see it locally.
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(endpoint),
	}
	if testing.Testing() {
		opts = append(opts, config.WithRetryer(func() aws.Retryer { return loggedRetries{retry.NewStandard()} }))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config for %s: %w", endpoint, err)
	}
	return cfg, nil
}

// loggedRetries is the SDK's standard retryer, printing each error it
// retries: a test's own request sent twice after a lost answer is then
// named in the output of the test that fails on it.
type loggedRetries struct{ aws.Retryer }

func (r loggedRetries) IsErrorRetryable(err error) bool {
	ok := r.Retryer.IsErrorRetryable(err)
	if ok {
		fmt.Fprintf(os.Stderr, "%s aws sdk: retrying after: %v\n", time.Now().Format(time.StampMilli), err)
	}
	return ok
}

var (
	sharedOnce     sync.Once
	sharedEndpoint string
	sharedServer   *Server
	sharedErr      error
)

// Shared returns the endpoint of the moto_server a test run shares: the one
// in AWS_ENDPOINT_URL when `make test` started it, otherwise one this process
// starts (stopped by StopShared, which TestMain calls).
func Shared() (string, error) {
	sharedOnce.Do(func() {
		if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
			sharedEndpoint = ep
			return
		}
		sharedServer, sharedErr = Start(context.Background(), "127.0.0.1:0")
		if sharedErr == nil {
			sharedEndpoint = sharedServer.Endpoint
		}
	})
	return sharedEndpoint, sharedErr
}

// StopShared stops the moto_server Shared started, if it started one.
func StopShared() { sharedServer.Stop() }

// Env returns the environment variables that point an AWS SDK at endpoint.
func Env(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
	}
}

// RunTests is the body of a test package's TestMain for tests against the
// shared moto_server: it reaches the server, hands ready the SDK
// configuration pointed at it, runs the tests and stops the server if this
// process started it. It returns the exit code for os.Exit.
//
//	func TestMain(m *testing.M) {
//		os.Exit(motoserver.RunTests(m, func(cfg aws.Config) { db = dynamodb.NewFromConfig(cfg) }))
//	}
func RunTests(m interface{ Run() int }, ready func(aws.Config)) int {
	defer StopShared()
	ep, err := Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, "moto:", err)
		return 1
	}
	cfg, err := AWSConfig(context.Background(), ep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ready(cfg)
	return m.Run()
}

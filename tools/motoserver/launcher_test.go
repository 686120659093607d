package motoserver_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/tools/motoserver"
)

// TestQueueAnswersAsSQS: the launcher's SQS fast paths (launcher.py) keep
// SQS's answers: delayed and in-flight messages are not received, the
// approximate counts add up, a visibility change makes a message visible
// again under a new receipt handle, a delete removes it and succeeds again,
// an unknown handle is refused, and a waiting long poll gets a message sent
// while it waits.
func TestQueueAnswersAsSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := sqs.NewFromConfig(sharedConfig(t))
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("launcher-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	url := created.QueueUrl
	send := func(body string, delay int32) {
		t.Helper()
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(body), DelaySeconds: delay}); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(wait int32) []sqstypes.Message {
		t.Helper()
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: wait,
			VisibilityTimeout: 300, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	counts := func() string {
		t.Helper()
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
		if err != nil {
			t.Fatal(err)
		}
		a := out.Attributes
		return fmt.Sprintf("visible %s, in flight %s, delayed %s", a["ApproximateNumberOfMessages"],
			a["ApproximateNumberOfMessagesNotVisible"], a["ApproximateNumberOfMessagesDelayed"])
	}
	bodies := func(ms []sqstypes.Message) string {
		var s []string
		for _, m := range ms {
			s = append(s, aws.ToString(m.Body)+"#"+m.Attributes["ApproximateReceiveCount"])
		}
		return fmt.Sprint(s)
	}

	send("a", 0)
	send("b", 0)
	send("later", 600)
	if got, want := counts(), "visible 2, in flight 0, delayed 1"; got != want {
		t.Errorf("after sending: got %v; want %v", got, want)
	}
	first := receive(0)
	if got, want := bodies(first), "[a#1 b#1]"; got != want {
		t.Fatalf("first receive: got %v; want %v", got, want)
	}
	if got, want := counts(), "visible 0, in flight 2, delayed 1"; got != want {
		t.Errorf("after receiving: got %v; want %v", got, want)
	}
	if got := receive(0); len(got) != 0 {
		t.Errorf("receive with all in flight: got %v; want none", bodies(got))
	}

	// a becomes visible again and comes back under a new handle.
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	again := receive(0)
	if got, want := bodies(again), "[a#2]"; got != want {
		t.Fatalf("receive after visibility change: got %v; want %v", got, want)
	}
	if aws.ToString(again[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Errorf("receipt handle: got the first one again; want a new one")
	}

	del := func(handle *string) error {
		out, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url,
			Entries: []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("0"), ReceiptHandle: handle}}})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return errors.New(aws.ToString(out.Failed[0].Code))
		}
		return nil
	}
	tests := []struct {
		name   string
		handle *string
		want   string
	}{
		{"current handle", again[0].ReceiptHandle, "<nil>"},
		{"deleted again", again[0].ReceiptHandle, "<nil>"},
		{"other message", first[1].ReceiptHandle, "<nil>"},
		{"unknown handle", aws.String("not-a-handle"), "ReceiptHandleIsInvalid"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(del(tt.handle)); got != tt.want {
			t.Errorf("delete, %s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	if got, want := counts(), "visible 0, in flight 0, delayed 1"; got != want {
		t.Errorf("after deleting: got %v; want %v", got, want)
	}
	var invalid *sqstypes.ReceiptHandleIsInvalid
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: aws.String("not-a-handle"), VisibilityTimeout: 0}); !errors.As(err, &invalid) {
		t.Errorf("visibility change, unknown handle: got %v; want ReceiptHandleIsInvalid", err)
	}

	// A long poll that starts on an empty queue gets the message sent while
	// it waits (it would answer empty at the end of its wait otherwise).
	got := make(chan []sqstypes.Message, 1)
	go func() { got <- receive(10) }()
	time.Sleep(500 * time.Millisecond)
	send("c", 0)
	if got, want := bodies(<-got), "[c#1]"; got != want {
		t.Errorf("long poll: got %v; want %v", got, want)
	}
}

// sharedConfig is the AWS configuration of the run's shared moto_server.
func sharedConfig(t *testing.T) aws.Config {
	t.Helper()
	ep, err := motoserver.Shared()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := motoserver.AWSConfig(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestLauncherRunsPlainMotoOnAnotherVersion: the launcher's fast paths
// replace internals of the moto it was written for (its MOTO_VERSION); on any
// other version it says so and runs moto as installed, and the proxy, seeing
// plain moto, carries transactions out itself. Another version is simulated
// by changing the launcher's MOTO_VERSION.
func TestLauncherRunsPlainMotoOnAnotherVersion(t *testing.T) {
	t.Parallel()
	installed := installedMoto(t)
	tests := []struct {
		name       string
		writtenFor string
	}{
		{"as written", launcherVersion(t, motoserver.LauncherScript)},
		{"written for another moto", "0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			script := motoVersionLine.ReplaceAll(motoserver.LauncherScript, []byte(fmt.Sprintf("MOTO_VERSION = %q", tt.writtenFor)))
			if got := launcherVersion(t, script); got != tt.writtenFor {
				t.Fatalf("launcher's MOTO_VERSION: got %v; want %v", got, tt.writtenFor)
			}
			endpoint, stop := startLauncher(t, script)
			p, err := motoserver.StartAtomicProxy(endpoint)
			if err != nil {
				t.Fatal(err)
			}
			fast := p.Native()
			p.Close()
			notes := stop()

			plain := installed != tt.writtenFor
			if fast == plain {
				t.Errorf("fast paths on moto %s, launcher written for %s: got %v; want %v", installed, tt.writtenFor, fast, !plain)
			}
			want := ""
			if plain {
				want = fmt.Sprintf("launcher: moto %s is installed; the fast paths are written for moto %s (tools/motoserver/requirements.txt): running plain moto_server\n", installed, tt.writtenFor)
			}
			if notes != want {
				t.Errorf("launcher's notes: got %q; want %q", notes, want)
			}
		})
	}
}

// TestRequirementsPinLauncherMoto: requirements.txt pins every package at an
// exact version, and moto at the version the launcher is written for.
func TestRequirementsPinLauncherMoto(t *testing.T) {
	t.Parallel()
	f, err := os.Open("requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exact := regexp.MustCompile(`^[A-Za-z0-9._-]+(\[[a-z,]+\])?==[0-9][A-Za-z0-9.+!-]*$`)
	pinned := ""
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !exact.MatchString(line) {
			t.Errorf("requirement %q: got no exact version; want name==version", line)
		}
		if v, ok := strings.CutPrefix(line, "moto[server]=="); ok {
			pinned = v
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := pinned, launcherVersion(t, motoserver.LauncherScript); got != want {
		t.Errorf("moto[server] pinned in requirements.txt: got %q; want %q (launcher.py's MOTO_VERSION)", got, want)
	}
}

// TestLauncherNotes: of moto_server's output, Start passes on the lines the
// launcher prints of itself, however the output is cut, and nothing else.
func TestLauncherNotes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"request log only", []string{"127.0.0.1 - - \"GET /moto-api/ HTTP/1.1\" 200 -\n"}, ""},
		{"a note", []string{"launcher: moto 9 is installed\n", "127.0.0.1 - - \"POST / HTTP/1.1\" 200 -\n"}, "launcher: moto 9 is installed\n"},
		{"a note cut in three", []string{"a request\nlaun", "cher: moto", " 9 is installed\nanother request\n"}, "launcher: moto 9 is installed\n"},
		{"a note not yet ended", []string{"launcher: moto 9"}, ""},
		{"the word inside a line", []string{"GET /launcher: 404\n"}, ""},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		w := motoserver.NewLauncherNotes(&out)
		for _, s := range tt.writes {
			if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
				t.Fatalf("%s: write %q: got %d, %v; want %d, <nil>", tt.name, s, n, err, len(s))
			}
		}
		if got := out.String(); got != tt.want {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
}

// motoVersionLine is the line of launcher.py that names the moto it is
// written for.
var motoVersionLine = regexp.MustCompile(`(?m)^MOTO_VERSION = "[^"]*"$`)

// launcherVersion returns the MOTO_VERSION of a launcher script.
func launcherVersion(t *testing.T, script []byte) string {
	t.Helper()
	lines := motoVersionLine.FindAll(script, -1)
	if len(lines) != 1 {
		t.Fatalf("MOTO_VERSION lines in the launcher: got %d; want 1", len(lines))
	}
	v, err := strconv.Unquote(strings.TrimPrefix(string(lines[0]), "MOTO_VERSION = "))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// installedMoto returns the version of the moto python3 imports.
func installedMoto(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", `from importlib.metadata import version; print(version("moto"))`).Output()
	if err != nil {
		t.Fatalf("moto's version: %v (install it: make check-moto)", err)
	}
	return strings.TrimSpace(string(out))
}

// startLauncher runs script as the launcher on a free port. stop ends it and
// returns what it passed on of its output, through Start's filter.
func startLauncher(t *testing.T, script []byte) (endpoint string, stop func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "launcher.py")
	if err := os.WriteFile(path, script, 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := motoserver.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var notes lockedBuffer
	cmd := exec.Command("python3", path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Stderr = motoserver.NewLauncherNotes(&notes)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() string {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return notes.String()
	}
	t.Cleanup(func() { stop() })
	endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := motoserver.WaitReady(context.Background(), endpoint, 60*time.Second, done); err != nil {
		t.Fatalf("%v; it said: %s", err, stop())
	}
	return endpoint, stop
}

// lockedBuffer is a bytes.Buffer written and read from different goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

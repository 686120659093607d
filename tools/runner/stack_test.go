package runner

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/jwtlocal"
)

// TestStackRunsTheDeclaredFunctions starts the stack as `make run` does,
// with the test program standing in for each declared function.
func TestStackRunsTheDeclaredFunctions(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	bins := map[string]string{}
	for _, f := range resources.Functions {
		bins[f.Name] = testBin
	}
	batches := make(chan string, 10)
	sfStopped := false
	s := &Stack{}
	err := s.Start(context.Background(), StackOptions{
		Endpoint: endpoint, Prefix: uniquePrefix(t), StateDir: state, Binaries: bins, APIAddr: "127.0.0.1:0",
		Output: &syncBuffer{}, Logger: slog.New(slog.DiscardHandler), PollWait: time.Second,
		StartSalesforce: func(context.Context) (string, func(), error) {
			if s.APIURL == "" {
				return "", nil, errors.New("APIURL not set before StartSalesforce")
			}
			return "http://127.0.0.1:9", func() { sfStopped = true }, nil
		},
		OnBatch: func(fn string, r BatchReport) {
			if len(r.Deleted) > 0 {
				batches <- fn
			}
		},
	})
	if err != nil {
		t.Fatalf("Stack.Start: got %v; want nil", err)
	}
	defer s.Stop()

	for _, f := range resources.Functions {
		env, err := s.functionEnv(f, "http://127.0.0.1:1")
		if err != nil {
			t.Fatalf("env of %s: got %v; want nil", f.Name, err)
		}
		for _, name := range f.Env {
			if _, ok := env[name]; name == resources.EnvLegacyOutcomesUntil && ok {
				continue // optional: empty is none
			}
			if env[name] == "" {
				t.Errorf("env of %s: %s is empty", f.Name, name)
			}
		}
		if env["AWS_ENDPOINT_URL"] != "http://127.0.0.1:1" {
			t.Errorf("env of %s: AWS_ENDPOINT_URL got %q; want its table gate's", f.Name, env["AWS_ENDPOINT_URL"])
		}
		if f.Source != nil && env[resources.EnvDeadLetterQueueURL] != s.Resources.Queues[f.Source.Queue].DLQURL {
			t.Errorf("env of %s: DLQ got %q; want its queue's DLQ", f.Name, env[resources.EnvDeadLetterQueueURL])
		}
	}
	if len(s.Functions) != 3 || s.Functions["api"] == nil {
		t.Fatalf("functions: got %d (api %v); want 3 with api", len(s.Functions), s.Functions["api"] != nil)
	}
	// The API function's EventBridge rule has its stand-in.
	if len(s.schedules) != 1 || s.schedules[0].Name != "api" || s.schedules[0].Every != resources.ConsentSweepRate ||
		s.schedules[0].Function != s.Functions["api"] {
		t.Errorf("schedules: got %d; want the api function's, every %v", len(s.schedules), resources.ConsentSweepRate)
	}

	resp, _ := do(t, "GET", s.APIURL+"/openapi.json", "", nil, nil)
	if resp.StatusCode != 200 {
		t.Errorf("GET /openapi.json: got %d; want 200", resp.StatusCode)
	}
	resp, _ = do(t, "GET", s.APIURL+"/v1/salesforce", "", nil, nil)
	if resp.StatusCode != 401 {
		t.Errorf("GET /v1/salesforce without token: got %d; want 401", resp.StatusCode)
	}

	client := sqs.NewFromConfig(awsConfig(t))
	for _, q := range []string{"contact-events", "activity-events"} {
		if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl: aws.String(s.Resources.Queues[q].URL), MessageBody: aws.String(action("ok"))}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case fn := <-batches:
			seen[fn] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("batches handled: got %v; want contactsync and activitysync", seen)
		}
	}

	envPath := filepath.Join(state, "stack.env")
	if err := s.WriteEnvFile(envPath); err != nil {
		t.Fatalf("WriteEnvFile: got %v; want nil", err)
	}
	vars := []string{"AWS_ENDPOINT_URL", "AWS_REGION", "API_URL", "SALESFORCE_URL", "CONTACT_QUEUE_URL",
		"ACTIVITY_QUEUE_URL", "RESULTS_QUEUE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
	script := "set -eu; . " + envPath
	for _, v := range vars {
		script += "; echo \"$" + v + "\""
	}
	out, err := exec.Command("bash", "-c", script).Output()
	if err != nil {
		t.Fatalf("source stack.env: got %v; want nil", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{endpoint, "us-east-1", s.APIURL, "http://127.0.0.1:9", s.Resources.Queues["contact-events"].URL,
		s.Resources.Queues["activity-events"].URL, s.Resources.Queues["results"].URL, "test", "test"}
	for i, v := range vars {
		if i >= len(lines) || lines[i] != want[i] {
			t.Errorf("stack.env %s: got %q; want %q", v, at(lines, i), want[i])
		}
	}

	// A second stack on the same address fails cleanly.
	second := &Stack{}
	err = second.Start(context.Background(), StackOptions{
		Endpoint: endpoint, Prefix: uniquePrefix(t), StateDir: state, Binaries: bins,
		APIAddr: strings.TrimPrefix(s.APIURL, "http://"), Output: &syncBuffer{},
	})
	if !errors.Is(err, ErrPortInUse) {
		t.Errorf("second stack on %s: got %v; want ErrPortInUse", s.APIURL, err)
	}

	var pids []int
	for _, fn := range s.Functions {
		pids = append(pids, fn.PIDs()...)
	}
	if want := 4 + 10 + 10; len(pids) != want {
		t.Errorf("processes: got %d; want %d", len(pids), want)
	}
	s.Stop()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d after Stop: got %v; want ESRCH (gone)", pid, err)
		}
	}
	if !sfStopped {
		t.Errorf("Salesforce stop: got not called; want called by Stop")
	}
	if _, err := jwtlocal.Load(state); err != nil {
		t.Errorf("signing key in state dir: got %v; want loadable", err)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

package runner

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// idleFunction starts a function whose process never polls, so the test
// can speak the Runtime API itself on the instance's address.
func idleFunction(t *testing.T, timeout time.Duration) (*Function, string) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := StartFunction(FunctionSpec{Name: "idle", Binary: script, Timeout: timeout})
	if err != nil {
		t.Fatalf("StartFunction: got %v; want nil", err)
	}
	t.Cleanup(f.Stop)
	return f, "http://" + f.instances[0].addr + "/2018-06-01/runtime"
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRuntimeAPIProtocol(t *testing.T) {
	t.Parallel()
	f, api := idleFunction(t, 5*time.Second)
	type result struct {
		body []byte
		err  error
	}
	results := make(chan result, 1)
	go func() {
		b, err := f.Invoke(context.Background(), []byte(`{"hello":"world"}`))
		results <- result{b, err}
	}()

	resp, err := http.Get(api + "/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(payload) != `{"hello":"world"}` {
		t.Errorf("next payload: got %s; want the invocation's", payload)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	deadline, _ := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if id == "" || deadline <= time.Now().UnixMilli() {
		t.Errorf("next headers: got id %q, deadline %d; want an id and a future deadline", id, deadline)
	}
	if got := resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"); got != f.ARN() {
		t.Errorf("function ARN header: got %q; want %q", got, f.ARN())
	}
	if got := resp.Header.Get("Lambda-Runtime-Trace-Id"); !strings.HasPrefix(got, "Root=1-") {
		t.Errorf("trace header: got %q; want Root=1-...", got)
	}
	if got := post(t, api+"/invocation/not-this-one/response", `{}`); got != http.StatusBadRequest {
		t.Errorf("response for an unknown id: got %d; want 400", got)
	}
	if got := post(t, api+"/invocation/"+id+"/response", `{"ok":true}`); got != http.StatusAccepted {
		t.Errorf("response: got %d; want 202", got)
	}
	r := <-results
	if r.err != nil || string(r.body) != `{"ok":true}` {
		t.Fatalf("Invoke: got %s, %v; want the posted response", r.body, r.err)
	}
	if got := post(t, api+"/invocation/"+id+"/response", `{}`); got != http.StatusBadRequest {
		t.Errorf("second response for the same id: got %d; want 400", got)
	}

	// An error report becomes an InvokeError with the function's type.
	go func() {
		b, err := f.Invoke(context.Background(), []byte(`{}`))
		results <- result{b, err}
	}()
	resp, err = http.Get(api + "/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id = resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if got := post(t, api+"/invocation/"+id+"/error", `{"errorMessage":"boom","errorType":"MyError"}`); got != http.StatusAccepted {
		t.Errorf("error: got %d; want 202", got)
	}
	r = <-results
	var ie *InvokeError
	if !errors.As(r.err, &ie) || ie.Type != "MyError" || ie.Message != "boom" {
		t.Errorf("Invoke after error: got %v; want InvokeError MyError boom", r.err)
	}
	if got := post(t, api+"/init/error", `{"errorMessage":"bad config","errorType":"Runtime.InitError"}`); got != http.StatusAccepted {
		t.Errorf("init error: got %d; want 202", got)
	}
}

func TestInvokeTimesOutWhenNobodyAnswers(t *testing.T) {
	t.Parallel()
	f, _ := idleFunction(t, 300*time.Millisecond)
	if _, err := f.instances[0].live(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := f.PIDs()
	_, err := f.Invoke(context.Background(), []byte(`{}`))
	var ie *InvokeError
	if !errors.As(err, &ie) || ie.Type != ErrorTypeTimeout {
		t.Fatalf("Invoke: got %v; want a %s InvokeError", err, ErrorTypeTimeout)
	}
	if got := f.Stats(); got.Timeouts != 1 || got.Crashes != 0 {
		t.Errorf("stats: got %+v; want 1 timeout, 0 crashes", got)
	}
	// The timed-out process is replaced.
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := f.PIDs()
		if len(after) == 1 && len(before) == 1 && after[0] != before[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process after timeout: got %v (before %v); want a new one", after, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInvokeRejectsOversizedPayloadAndStoppedFunction(t *testing.T) {
	t.Parallel()
	f, _ := idleFunction(t, time.Second)
	if _, err := f.Invoke(context.Background(), make([]byte, MaxPayload+1)); err == nil {
		t.Errorf("oversized payload: got nil; want an error")
	}
	f.Stop()
	if _, err := f.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, ErrFunctionStopped) {
		t.Errorf("Invoke after Stop: got %v; want ErrFunctionStopped", err)
	}
}

func TestStartFunctionRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec FunctionSpec
	}{
		{"no name", FunctionSpec{Binary: "/bin/true", Timeout: time.Second}},
		{"no binary", FunctionSpec{Name: "x", Timeout: time.Second}},
		{"no timeout", FunctionSpec{Name: "x", Binary: "/bin/true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if f, err := StartFunction(tc.spec); err == nil {
				f.Stop()
				t.Fatalf("StartFunction: got nil; want an error")
			}
		})
	}
}

package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/tools/runner"
)

// serveOwners answers each request with the owner of its connection.
func serveOwners(t *testing.T) string {
	t.Helper()
	ow := newOwners()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ConnContext: connContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, ow.of(r))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

func TestOwnerOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("owners are found through /proc")
	}
	u := serveOwners(t)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != ownerBench {
		t.Errorf("owner %q; want %q", body, ownerBench)
	}
}

func TestOwnerOfAFunctionProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("owners are found through /proc")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl to play another process")
	}
	u := serveOwners(t)
	cmd := exec.Command(curl, "-s", u)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_NAME=contactsync")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "contactsync" {
		t.Errorf("owner %q; want contactsync", got)
	}
}

// TestOwnerThroughATableGate: a function's requests reach the meter from
// its table gate, in this process; they are still the function's.
func TestOwnerThroughATableGate(t *testing.T) {
	u := serveOwners(t)
	gate, err := runner.StartTableGate(u, "activitysync", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	resp, err := http.Get(gate.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "activitysync" {
		t.Errorf("owner %q; want activitysync", body)
	}
}

func TestHexPort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"0100007F:1F90": 8080, "00000000000000000000000001000000:C350": 50000, "junk": 0} {
		if got := hexPort(in); got != want {
			t.Errorf("hexPort(%q) = %d; want %d", in, got, want)
		}
	}
}

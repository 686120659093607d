package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/runner"
)

func TestDialable(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{":8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{"[::]:8080", "127.0.0.1:8080"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"localhost:1", "localhost:1"},
	}
	for _, tc := range tests {
		if got := dialable(tc.in); got != tc.want {
			t.Errorf("dialable(%q): got %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestEnsureMotoExplainsWhatIsWrong(t *testing.T) {
	t.Parallel()
	// Something that is not moto listens here.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tests := []struct{ endpoint, want string }{
		{"not a url", "is not a URL"},
		{"http://" + ln.Addr().String(), "not moto_server"},
	}
	for _, tc := range tests {
		_, err := ensureMoto(context.Background(), tc.endpoint)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ensureMoto(%q): got %v; want one line containing %q", tc.endpoint, err, tc.want)
		}
	}
}

// TestAdminConsoleURL: the address printed at the start opens the console
// with an admin token of the team in the fragment, never in the query, and
// the local API's key verifies it.
func TestAdminConsoleURL(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	st := &runner.Stack{APIURL: "http://127.0.0.1:8080"}
	got, err := adminConsoleURL(st, state, "team_acme")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "http://127.0.0.1:8080/console/#token="
	if !strings.HasPrefix(got, prefix) || strings.Contains(got, "?") {
		t.Fatalf("got %s; want %s<token>", got, prefix)
	}
	keys, err := jwtlocal.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := keys.Verify(strings.TrimPrefix(got, prefix))
	if err != nil || claims["team_id"] != "team_acme" || claims["role"] != "admin" {
		t.Errorf("token: got %v, %v; want an admin of team_acme", claims, err)
	}
}

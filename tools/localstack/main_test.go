package main

import (
	"context"
	"net"
	"strings"
	"testing"
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

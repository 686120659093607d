package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sfsync/sfsync/tools/motoserver"
)

var (
	endpoint string
	testBin  string // the testdata/testfn program, built once
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer motoserver.StopShared()
	ep, err := motoserver.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, "moto_server:", err)
		return 1
	}
	endpoint = ep
	dir, err := os.MkdirTemp("", "runner-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testBin = filepath.Join(dir, "testfn")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Build(ctx, ".", "./testdata/testfn", testBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := motoserver.AWSConfig(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// uniquePrefix returns a resource prefix no other test uses.
func uniquePrefix(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 20 {
		name = name[:20]
	}
	return "t" + randomHex(8) + "-" + strings.Trim(name, "-")
}

// syncBuffer is a goroutine-safe log sink for function output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

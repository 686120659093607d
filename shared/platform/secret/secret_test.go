package secret_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/sfsync/sfsync/shared/platform/secret"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var sm *secretsmanager.Client

func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) {
		sm = secretsmanager.NewFromConfig(cfg)
	}))
}

// counting counts the GetSecretValue calls that reach Secrets Manager.
type counting struct {
	*secretsmanager.Client
	calls atomic.Int64
}

func (c *counting) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.Client.GetSecretValue(ctx, in, opts...)
}

func uniqueName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test/" + hex.EncodeToString(b)
}

// createSecret creates a secret holding value (a string, or []byte for a
// binary secret) and returns its ARN.
func createSecret(t *testing.T, value any) string {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(uniqueName(t))}
	switch v := value.(type) {
	case string:
		in.SecretString = aws.String(v)
	case []byte:
		in.SecretBinary = v
	}
	out, err := sm.CreateSecret(context.Background(), in)
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	arn := aws.ToString(out.ARN)
	t.Cleanup(func() {
		_, _ = sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	return arn
}

func rotate(t *testing.T, arn, value string) {
	t.Helper()
	if _, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(value)}); err != nil {
		t.Fatalf("put secret value: %v", err)
	}
}

func TestGetReadsOncePerTTLAndPicksUpARotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ttl       time.Duration
		wantAfter string // value after a rotation
		wantCalls int64  // GetSecretValue calls for three Gets, a rotation, then one more Get
	}{
		{"default TTL keeps the value", 0, "v1", 1},
		{"long TTL keeps the value", time.Hour, "v1", 1},
		{"lapsed TTL reads the rotated value", time.Nanosecond, "v2", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			arn := createSecret(t, "v1")
			client := &counting{Client: sm}
			c := &secret.Cached{Client: client, ARN: arn, TTL: tt.ttl}
			ctx := context.Background()
			for range 3 {
				if got, err := c.Get(ctx); err != nil || got != "v1" {
					t.Fatalf("Get: got %q, %v; want v1", got, err)
				}
			}
			rotate(t, arn, "v2")
			if got, err := c.Get(ctx); err != nil || got != tt.wantAfter {
				t.Errorf("Get after rotation: got %q, %v; want %s", got, err, tt.wantAfter)
			}
			if got := client.calls.Load(); got != tt.wantCalls {
				t.Errorf("GetSecretValue calls: got %d; want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestGetByNameOrARN(t *testing.T) {
	t.Parallel()
	arn := createSecret(t, "by-either")
	d, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{arn, aws.ToString(d.Name)} {
		c := &secret.Cached{Client: sm, ARN: id}
		if got, err := c.Get(context.Background()); err != nil || got != "by-either" {
			t.Errorf("Get(%s): got %q, %v; want by-either", id, got, err)
		}
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		arn     func(t *testing.T) string
		wantErr func(error) bool
		want    string
	}{
		{"binary secret has no string value", func(t *testing.T) string { return createSecret(t, []byte{1, 2, 3}) },
			func(err error) bool { return errors.Is(err, secret.ErrEmpty) }, "ErrEmpty"},
		{"unknown secret", func(t *testing.T) string {
			return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + uniqueName(t) + "-AbCdEf"
		}, isNotFound, "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			arn := tt.arn(t)
			client := &counting{Client: sm}
			c := &secret.Cached{Client: client, ARN: arn}
			for i := range 2 {
				_, err := c.Get(context.Background())
				if !tt.wantErr(err) {
					t.Fatalf("Get #%d: got %v; want %s", i+1, err, tt.want)
				}
			}
			if got := client.calls.Load(); got != 2 {
				t.Errorf("GetSecretValue calls: got %d; want 2 (a failure is not cached)", got)
			}
		})
	}
}

func isNotFound(err error) bool {
	var nf *smtypes.ResourceNotFoundException
	return errors.As(err, &nf)
}

func TestAFailureIsNotCachedOnceTheValueIsSet(t *testing.T) {
	t.Parallel()
	arn := createSecret(t, []byte{0}) // binary: no string value yet
	c := &secret.Cached{Client: sm, ARN: arn}
	if _, err := c.Get(context.Background()); !errors.Is(err, secret.ErrEmpty) {
		t.Fatalf("before the value is set: got %v; want ErrEmpty", err)
	}
	rotate(t, arn, "now-set")
	if got, err := c.Get(context.Background()); err != nil || got != "now-set" {
		t.Errorf("after the value is set: got %q, %v; want now-set", got, err)
	}
}

func TestConcurrentGetsReadOnce(t *testing.T) {
	t.Parallel()
	arn := createSecret(t, "shared")
	client := &counting{Client: sm}
	c := &secret.Cached{Client: client, ARN: arn}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			got, err := c.Get(context.Background())
			if err == nil && got != "shared" {
				err = fmt.Errorf("value %q", got)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Get: got %v; want shared", err)
		}
	}
	if got := client.calls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls: got %d; want 1", got)
	}
}

package sealing

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/sfsync/sfsync/tools/motoserver"
)

var endpoint string

func TestMain(m *testing.M) {
	ep, err := motoserver.Shared()
	if err != nil {
		println(err.Error())
		os.Exit(1)
	}
	endpoint = ep
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

func newSealer(t *testing.T) *Sealer {
	t.Helper()
	ctx := context.Background()
	cfg, err := motoserver.AWSConfig(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	client := kms.NewFromConfig(cfg)
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("sealing test")})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return &Sealer{KMS: client, KeyID: *key.KeyMetadata.KeyId}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	s := newSealer(t)
	ctx := context.Background()
	teamA := map[string]string{"team_id": "team_a", "connection_id": "c1"}
	sealed, err := s.Seal(ctx, []byte("00D000000000001!secret-token"), teamA)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	tampered := sealed
	tampered.Ciphertext = append([]byte{}, sealed.Ciphertext...)
	tampered.Ciphertext[0] ^= 1

	tests := []struct {
		name    string
		v       Sealed
		ectx    map[string]string
		wantErr error
	}{
		{"same context opens", sealed, teamA, nil},
		{"other team", sealed, map[string]string{"team_id": "team_b", "connection_id": "c1"}, ErrCannotOpen},
		{"other connection", sealed, map[string]string{"team_id": "team_a", "connection_id": "c2"}, ErrCannotOpen},
		{"no context", sealed, nil, ErrCannotOpen},
		{"tampered ciphertext", tampered, teamA, ErrCannotOpen},
		{"empty", Sealed{}, teamA, ErrCannotOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := s.Open(ctx, tt.v, tt.ectx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("open: got %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && string(pt) != "00D000000000001!secret-token" {
				t.Errorf("plaintext: got %q; want the sealed token", pt)
			}
		})
	}
}

// countingKMS counts the Decrypt calls that reach KMS.
type countingKMS struct {
	KMS
	mu       sync.Mutex
	decrypts int
}

func (k *countingKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	k.mu.Lock()
	k.decrypts++
	k.mu.Unlock()
	return k.KMS.Decrypt(ctx, in, opts...)
}

func TestKeyCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := newSealer(t)
	teamA := map[string]string{"team_id": "team_a", "connection_id": "c1"}
	teamB := map[string]string{"team_id": "team_b", "connection_id": "c1"}
	a, err := base.Seal(ctx, []byte("token-a"), teamA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base.Seal(ctx, []byte("token-b"), teamB)
	if err != nil {
		t.Fatal(err)
	}
	type open struct {
		v       Sealed
		ectx    map[string]string
		advance time.Duration // the clock moves before the open
	}
	tests := []struct {
		name         string
		cache        func() *KeyCache
		opens        []open
		wantDecrypts int
	}{
		{"no cache: KMS every time", func() *KeyCache { return nil }, []open{{a, teamA, 0}, {a, teamA, 0}}, 2},
		{"cached: KMS once", func() *KeyCache { return NewKeyCache(time.Minute, 10) }, []open{{a, teamA, 0}, {a, teamA, 0}, {a, teamA, 0}}, 1},
		{"stale: KMS again", func() *KeyCache { return NewKeyCache(time.Minute, 10) }, []open{{a, teamA, 0}, {a, teamA, time.Minute}}, 2},
		{"full: the oldest goes", func() *KeyCache { return NewKeyCache(time.Minute, 1) }, []open{{a, teamA, 0}, {b, teamB, time.Second}, {a, teamA, 0}}, 3},
	}
	for _, tt := range tests {
		k := &countingKMS{KMS: base.KMS}
		clock := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		cache := tt.cache()
		if cache != nil {
			cache.now = func() time.Time { return clock }
		}
		s := &Sealer{KMS: k, KeyID: base.KeyID, Keys: cache}
		for i, o := range tt.opens {
			clock = clock.Add(o.advance)
			pt, err := s.Open(ctx, o.v, o.ectx)
			if err != nil {
				t.Fatalf("%s: open %d: %v", tt.name, i, err)
			}
			if want := map[bool]string{true: "token-a", false: "token-b"}[o.ectx["team_id"] == "team_a"]; string(pt) != want {
				t.Errorf("%s: open %d: got %q; want %q", tt.name, i, pt, want)
			}
		}
		if k.decrypts != tt.wantDecrypts {
			t.Errorf("%s: KMS decrypts: got %d; want %d", tt.name, k.decrypts, tt.wantDecrypts)
		}
	}
}

// TestKeyCacheKeepsContexts: a data key cached under one encryption context
// is never used for another; the value still opens only where it was sealed.
func TestKeyCacheKeepsContexts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSealer(t)
	s.Keys = NewKeyCache(0, 0)
	teamA := map[string]string{"team_id": "team_a", "connection_id": "c1"}
	a, err := s.Seal(ctx, []byte("token-a"), teamA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, a, teamA); err != nil {
		t.Fatal(err)
	}
	moved := map[string]string{"team_id": "team_b", "connection_id": "c1"}
	if _, err := s.Open(ctx, a, moved); !errors.Is(err, ErrCannotOpen) {
		t.Errorf("open under another context: got %v; want ErrCannotOpen", err)
	}
	if got := s.Keys.Len(); got != 1 {
		t.Errorf("cached keys: got %d; want 1 (the refused one is not kept)", got)
	}
}

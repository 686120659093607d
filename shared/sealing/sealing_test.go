package sealing

import (
	"context"
	"errors"
	"os"
	"testing"

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

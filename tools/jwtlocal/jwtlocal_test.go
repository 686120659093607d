package jwtlocal

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestLoadCreatesOnceAndReuses(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	var wg sync.WaitGroup
	kids := make([]string, 8)
	errs := make([]error, 8)
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := Load(dir)
			errs[i] = err
			if err == nil {
				kids[i] = k.KeyID()
			}
		}()
	}
	wg.Wait()
	for i := range kids {
		if errs[i] != nil {
			t.Fatalf("Load #%d: got %v; want nil", i, errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("Load #%d kid: got %s; want %s", i, kids[i], kids[0])
		}
	}
	info, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatalf("stat key: got %v; want nil", err)
	}
	if got := info.Mode().Perm(); got&0o077 != 0 {
		t.Fatalf("key file mode: got %v; want no group/other access", got)
	}
	again, err := Load(dir)
	if err != nil || again.KeyID() != kids[0] {
		t.Fatalf("reload: got %v, %v; want kid %s", again, err, kids[0])
	}
}

func TestLoadRejectsCorruptKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Fatalf("Load corrupt key: got nil; want error")
	}
}

func TestMintVerify(t *testing.T) {
	t.Parallel()
	k, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.Mint("team_acme", "admin", time.Hour)
	if err != nil {
		t.Fatalf("Mint: got %v; want nil", err)
	}
	claims, err := k.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: got %v; want nil", err)
	}
	for name, want := range map[string]any{"team_id": "team_acme", "role": "admin", "iss": Issuer} {
		if got := claims[name]; got != want {
			t.Errorf("claim %s: got %v; want %v", name, got, want)
		}
	}
}

func TestMintRejectsBadInput(t *testing.T) {
	t.Parallel()
	k, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, team, role string
		ttl              time.Duration
		field            string
	}{
		{"empty team", "", "admin", time.Hour, "team_id"},
		{"team with space", "team acme", "admin", time.Hour, "team_id"},
		{"empty role", "t1", "", time.Hour, "role"},
		{"upper role", "t1", "ADMIN", time.Hour, "role"},
		{"zero ttl", "t1", "admin", 0, "ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := k.Mint(tc.team, tc.role, tc.ttl)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Fatalf("Mint error: got %v; want InputError on %s", err, tc.field)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	k, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": Issuer, "aud": Audience, "team_id": "t1", "role": "admin",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(key string, v any) jwt.MapClaims {
		c := base()
		if v == nil {
			delete(c, key)
		} else {
			c[key] = v
		}
		return c
	}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"expired", sign(jwt.SigningMethodRS256, k.key, with("exp", now.Add(-time.Minute).Unix())), jwt.ErrTokenExpired},
		{"no exp", sign(jwt.SigningMethodRS256, k.key, with("exp", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"wrong audience", sign(jwt.SigningMethodRS256, k.key, with("aud", "someone-else")), jwt.ErrTokenInvalidAudience},
		{"wrong issuer", sign(jwt.SigningMethodRS256, k.key, with("iss", "https://evil.example")), jwt.ErrTokenInvalidIssuer},
		{"not yet valid", sign(jwt.SigningMethodRS256, k.key, with("nbf", now.Add(time.Hour).Unix())), jwt.ErrTokenNotValidYet},
		{"other key", sign(jwt.SigningMethodRS256, other, base()), jwt.ErrTokenSignatureInvalid},
		{"hmac with public key bytes", sign(jwt.SigningMethodHS256, []byte("secret"), base()), jwt.ErrTokenSignatureInvalid},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base()), jwt.ErrTokenSignatureInvalid},
		{"garbage", "not.a.jwt", jwt.ErrTokenMalformed},
		{"empty", "", jwt.ErrTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := k.Verify(tc.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify: got %v; want ErrInvalidToken", err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify reason: got %v; want %v", err, tc.want)
			}
		})
	}
}

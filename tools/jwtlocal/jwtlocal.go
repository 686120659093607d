// Package jwtlocal is the local stand-in for the identity provider whose JWTs
// the HTTP API's authorizer accepts: an RS256 key pair kept on disk (created on
// first use), token minting for `make token`, and verification with the same
// checks API Gateway's JWT authorizer applies (signature, issuer, audience,
// expiry).
package jwtlocal

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and Audience of every local token. The HTTP API's authorizer is
// configured with the same values.
const (
	Issuer   = "http://localhost/sfsync-local"
	Audience = "sfsync-api"
)

// KeyFile is the name of the PEM-encoded PKCS#8 private key inside the
// state directory.
const KeyFile = "jwt-signing-key.pem"

// DefaultDir is the state directory, relative to the repository root.
const DefaultDir = ".local"

// ErrInvalidToken is returned (wrapped, with the reason) by Verify for every
// token the authorizer must reject.
var ErrInvalidToken = errors.New("invalid token")

// InputError is bad input to Mint, naming the field.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

// Claims are the claims of a local token: the registered ones plus the team
// and role the API reads.
type Claims struct {
	TeamID string `json:"team_id"`
	Role   string `json:"role"`
	jwt.RegisteredClaims
}

// Keys signs and verifies local tokens.
type Keys struct {
	key *rsa.PrivateKey
	kid string
	now func() time.Time
}

// Load reads the signing key from dir, creating dir and a new 2048-bit key
// the first time. Concurrent first uses agree on one key.
func Load(dir string) (*Keys, error) {
	path := filepath.Join(dir, KeyFile)
	if k, err := readKey(path); err == nil {
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory %s: %w", dir, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, KeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write signing key %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write signing key %s: %w", tmp.Name(), err)
	}
	// Link fails when another process created the key first; then use theirs.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("store signing key %s: %w", path, err)
	}
	return readKey(path)
}

func readKey(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM PRIVATE KEY block (delete it to create a new one)", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an RSA key", path)
	}
	return newKeys(key), nil
}

func newKeys(key *rsa.PrivateKey) *Keys {
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(pub)
	return &Keys{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12]), now: time.Now}
}

// KeyID is the kid header of the tokens these keys sign.
func (k *Keys) KeyID() string { return k.kid }

// PublicKey is the key that verifies the tokens.
func (k *Keys) PublicKey() *rsa.PublicKey { return &k.key.PublicKey }

var (
	teamPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	rolePattern = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)
)

// Mint returns a signed token for teamID with role, valid for ttl.
func (k *Keys) Mint(teamID, role string, ttl time.Duration) (string, error) {
	if !teamPattern.MatchString(teamID) {
		return "", &InputError{Field: "team_id", Reason: fmt.Sprintf("%q must be 1-128 letters, digits or _.:-", teamID)}
	}
	if !rolePattern.MatchString(role) {
		return "", &InputError{Field: "role", Reason: fmt.Sprintf("%q must be a lowercase word such as admin or member", role)}
	}
	if ttl <= 0 {
		return "", &InputError{Field: "ttl", Reason: fmt.Sprintf("%s must be positive", ttl)}
	}
	now := k.now().Truncate(time.Second)
	claims := Claims{
		TeamID: teamID,
		Role:   role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   "local-user@" + teamID,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = k.kid
	signed, err := tok.SignedString(k.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// Verify checks the token's algorithm, signature, issuer, audience and
// time claims (exp is required) and returns all of its claims. Every failure
// wraps ErrInvalidToken and the jwt library's reason (jwt.ErrTokenExpired,
// jwt.ErrTokenSignatureInvalid, jwt.ErrTokenInvalidAudience, ...).
func (k *Keys) Verify(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return &k.key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(k.now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return claims, nil
}

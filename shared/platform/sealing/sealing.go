// Package sealing protects secrets at rest with envelope encryption: a fresh
// AES-256 data key from KMS per sealed value, AES-GCM for the value, and an
// encryption context (for example the team and connection) bound to both the
// KMS data key and the GCM tag, so a ciphertext copied to another team's item
// cannot be opened.
package sealing

import (
	"bytes"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// ErrCannotOpen means the sealed value does not open under this context:
// tampered, moved to another item, or sealed under another key.
var ErrCannotOpen = errors.New("sealing: value cannot be opened with this context")

// KMS is the part of the KMS API sealing needs; *kms.Client satisfies it.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Sealed is a value sealed under one data key. All three parts are stored.
type Sealed struct {
	EncryptedKey []byte `dynamodbav:"k"`
	Nonce        []byte `dynamodbav:"n"`
	Ciphertext   []byte `dynamodbav:"c"`
}

// Sealer seals and opens values with one KMS key.
type Sealer struct {
	KMS   KMS
	KeyID string
	// Keys, when set, keeps the data keys KMS decrypted for a while, so a
	// warm function opens the same sealed value (a team's tokens, read on
	// every batch) without asking KMS again.
	Keys *KeyCache
}

// Seal encrypts plaintext bound to ectx.
func (s *Sealer) Seal(ctx context.Context, plaintext []byte, ectx map[string]string) (Sealed, error) {
	out, err := s.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(s.KeyID),
		KeySpec:           kmstypes.DataKeySpecAes256,
		EncryptionContext: ectx,
	})
	if err != nil {
		return Sealed{}, fmt.Errorf("generate data key: %w", err)
	}
	defer clear(out.Plaintext)
	gcm, err := newGCM(out.Plaintext)
	if err != nil {
		return Sealed{}, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("nonce: %w", err)
	}
	return Sealed{
		EncryptedKey: out.CiphertextBlob,
		Nonce:        nonce,
		Ciphertext:   gcm.Seal(nil, nonce, plaintext, aad(ectx)),
	}, nil
}

// Open decrypts v, which must have been sealed with the same ectx.
func (s *Sealer) Open(ctx context.Context, v Sealed, ectx map[string]string) ([]byte, error) {
	if len(v.EncryptedKey) == 0 || len(v.Ciphertext) == 0 {
		return nil, fmt.Errorf("%w: empty sealed value", ErrCannotOpen)
	}
	ad := aad(ectx)
	key, err := s.dataKey(ctx, v.EncryptedKey, ectx, ad)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(v.Nonce) != gcm.NonceSize() {
		return nil, fmt.Errorf("%w: bad nonce", ErrCannotOpen)
	}
	pt, err := gcm.Open(nil, v.Nonce, v.Ciphertext, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrCannotOpen)
	}
	return pt, nil
}

// dataKey returns a copy of the plaintext data key of encKey under ectx
// (ad is its canonical encoding): from the cache, or from KMS.
func (s *Sealer) dataKey(ctx context.Context, encKey []byte, ectx map[string]string, ad []byte) ([]byte, error) {
	if key, ok := s.Keys.get(encKey, ad); ok {
		return key, nil
	}
	out, err := s.KMS.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    encKey,
		EncryptionContext: ectx,
		KeyId:             aws.String(s.KeyID),
	})
	if err != nil {
		var bad *kmstypes.InvalidCiphertextException
		if errors.As(err, &bad) {
			return nil, fmt.Errorf("%w: data key rejected by KMS", ErrCannotOpen)
		}
		return nil, fmt.Errorf("decrypt data key: %w", err)
	}
	s.Keys.put(encKey, ad, out.Plaintext)
	return out.Plaintext, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return gcm, nil
}

// aad is a canonical encoding of the encryption context.
func aad(ectx map[string]string) []byte {
	keys := make([]string, 0, len(ectx))
	for k := range ectx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d:%s=%d:%s;", len(k), k, len(ectx[k]), ectx[k])
	}
	return []byte(b.String())
}

// KeyCache keeps decrypted data keys in memory for at most MaxAge, and at
// most MaxEntries of them (the oldest go first), keyed by the encrypted
// key and its encryption context: a key is only ever handed back for the
// context KMS checked it under. This is the AWS Encryption SDK's caching
// of data keys, with its trade: a KMS key disabled or a grant revoked is
// noticed within MaxAge, not at once. A nil *KeyCache caches nothing.
type KeyCache struct {
	MaxAge     time.Duration
	MaxEntries int
	now        func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedKey
}

type cachedKey struct {
	key []byte
	at  time.Time
}

// Defaults of NewKeyCache. A team's connection holds two sealed tokens,
// each under a data key of its own, and one instance serves many teams:
// 20,000 entries (a few MB) keep the keys of 10,000 teams, so a
// deployment of thousands of teams does not decrypt at KMS on nearly every
// team's batch (docs/capacity.md).
const (
	DefaultKeyMaxAge  = 5 * time.Minute
	DefaultKeyEntries = 20000
)

// NewKeyCache returns a cache of data keys; zero values take the defaults.
func NewKeyCache(maxAge time.Duration, maxEntries int) *KeyCache {
	return &KeyCache{MaxAge: cmp.Or(maxAge, DefaultKeyMaxAge), MaxEntries: cmp.Or(maxEntries, DefaultKeyEntries),
		entries: map[[sha256.Size]byte]cachedKey{}}
}

func cacheKey(encKey, ad []byte) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d:", len(encKey))
	h.Write(encKey)
	h.Write(ad)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *KeyCache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// get returns a copy of the cached key, if one is fresh.
func (c *KeyCache) get(encKey, ad []byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	k := cacheKey(encKey, ad)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	if c.clock().Sub(e.at) >= c.MaxAge {
		clear(e.key)
		delete(c.entries, k)
		return nil, false
	}
	return bytes.Clone(e.key), true
}

// put keeps a copy of key, making room by dropping the stale entries and
// then the oldest.
func (c *KeyCache) put(encKey, ad, key []byte) {
	if c == nil || c.MaxEntries <= 0 {
		return
	}
	k := cacheKey(encKey, ad)
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.MaxEntries {
		var oldest [sha256.Size]byte
		var oldestAt time.Time
		for ek, e := range c.entries {
			if now.Sub(e.at) >= c.MaxAge {
				clear(e.key)
				delete(c.entries, ek)
				continue
			}
			if oldestAt.IsZero() || e.at.Before(oldestAt) {
				oldest, oldestAt = ek, e.at
			}
		}
		if len(c.entries) >= c.MaxEntries {
			clear(c.entries[oldest].key)
			delete(c.entries, oldest)
		}
	}
	c.entries[k] = cachedKey{key: bytes.Clone(key), at: now}
}

// Len is how many keys the cache holds.
func (c *KeyCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Package sealing protects secrets at rest with envelope encryption: a fresh
// AES-256 data key from KMS per sealed value, AES-GCM for the value, and an
// encryption context (for example the team and connection) bound to both the
// KMS data key and the GCM tag, so a ciphertext copied to another team's item
// cannot be opened.
package sealing

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"

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
	out, err := s.KMS.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    v.EncryptedKey,
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
	defer clear(out.Plaintext)
	gcm, err := newGCM(out.Plaintext)
	if err != nil {
		return nil, err
	}
	if len(v.Nonce) != gcm.NonceSize() {
		return nil, fmt.Errorf("%w: bad nonce", ErrCannotOpen)
	}
	pt, err := gcm.Open(nil, v.Nonce, v.Ciphertext, aad(ectx))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrCannotOpen)
	}
	return pt, nil
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

// Package secret reads a string secret from AWS Secrets Manager and keeps it
// for a while, so a rotated secret is picked up without a redeploy.
package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsManager is the part of the Secrets Manager API used here.
type SecretsManager interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ErrEmpty means the secret exists but holds no value yet.
var ErrEmpty = errors.New("secret: no value set")

// Cached returns the secret's current value, read at most once per TTL.
type Cached struct {
	Client SecretsManager
	ARN    string
	TTL    time.Duration // default 15 minutes

	mu      sync.Mutex
	value   string
	fetched time.Time
}

// Get returns the secret's value.
func (c *Cached) Get(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ttl := c.TTL
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	if c.value != "" && time.Since(c.fetched) < ttl {
		return c.value, nil
	}
	out, err := c.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &c.ARN})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", c.ARN, err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return "", fmt.Errorf("secret %s: %w", c.ARN, ErrEmpty)
	}
	c.value, c.fetched = *out.SecretString, time.Now()
	return c.value, nil
}

// Forget drops the kept value: the next Get reads the secret again. Call
// it when the value was refused (a wrong secret fixed since is picked up
// at once, not after the TTL).
func (c *Cached) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.value, c.fetched = "", time.Time{}
}

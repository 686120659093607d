package connection

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/sfsync/sfsync/shared/salesforce"
)

// LeaseTTL bounds how long one refresh may hold the team's lease. A holder
// that outlives it cannot overwrite newer tokens: token writes are fenced by
// the connection's version.
const LeaseTTL = 20 * time.Second

// Tokens is the token source of one team's connection, shared by every
// Salesforce call of an invocation. It implements salesforce.Session.
type Tokens struct {
	TeamID    string
	Store     Store
	Connector *Connector // for the refresh grant
	Holder    string     // unique per process, names the lease holder
	HTTP      *http.Client

	mu   sync.Mutex
	conn *Connection
}

var _ salesforce.Session = (*Tokens)(nil)

// Connection returns the team's connection as last read.
func (t *Tokens) Connection(ctx context.Context) (Connection, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		c, err := t.Store.Get(ctx, t.TeamID)
		if err != nil {
			return Connection{}, err
		}
		t.conn = &c
	}
	return *t.conn, nil
}

// Current returns the stored access token of a live connection.
func (t *Tokens) Current(ctx context.Context) (salesforce.Token, error) {
	c, err := t.Connection(ctx)
	if err != nil {
		return salesforce.Token{}, err
	}
	switch c.Status {
	case StatusConnected:
		return c.Token(), nil
	case StatusNeedsReauth:
		return salesforce.Token{}, ErrNeedsReauth
	default:
		return salesforce.Token{}, ErrNotConnected
	}
}

// Refresh returns a token newer than stale. If another worker already
// refreshed, it returns that token without calling Salesforce; otherwise it
// takes the team's lease, re-reads, and refreshes exactly once.
func (t *Tokens) Refresh(ctx context.Context, stale salesforce.Token) (salesforce.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	backoff := 20 * time.Millisecond
	for {
		c, err := t.Store.Get(ctx, t.TeamID)
		if err != nil {
			return salesforce.Token{}, err
		}
		t.conn = &c
		if c.Status == StatusNeedsReauth {
			return salesforce.Token{}, ErrNeedsReauth
		}
		if c.Status != StatusConnected {
			return salesforce.Token{}, ErrNotConnected
		}
		if c.AccessToken != stale.AccessToken {
			return c.Token(), nil // someone else refreshed
		}
		ok, err := t.Store.AcquireLease(ctx, t.TeamID, t.Holder, time.Now().Add(LeaseTTL))
		if err != nil {
			return salesforce.Token{}, fmt.Errorf("refresh lease: %w", err)
		}
		if ok {
			tok, err := t.refreshUnderLease(ctx, stale)
			if rerr := t.Store.ReleaseLease(context.WithoutCancel(ctx), t.TeamID, t.Holder); rerr != nil && err == nil {
				err = fmt.Errorf("release refresh lease: %w", rerr)
			}
			return tok, err
		}
		select {
		case <-ctx.Done():
			return salesforce.Token{}, ctx.Err()
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
		}
		if backoff < 400*time.Millisecond {
			backoff *= 2
		}
	}
}

func (t *Tokens) refreshUnderLease(ctx context.Context, stale salesforce.Token) (salesforce.Token, error) {
	c, err := t.Store.Get(ctx, t.TeamID) // re-read under the lease
	if err != nil {
		return salesforce.Token{}, err
	}
	t.conn = &c
	if c.AccessToken != stale.AccessToken || c.Status != StatusConnected {
		if c.Status == StatusNeedsReauth {
			return salesforce.Token{}, ErrNeedsReauth
		}
		return c.Token(), nil
	}
	cfg, err := t.Connector.oauth(ctx, c.LoginURL)
	if err != nil {
		return salesforce.Token{}, err
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, t.Connector.httpClient())
	fresh, err := cfg.TokenSource(hctx, &oauth2.Token{RefreshToken: c.RefreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return salesforce.Token{}, t.markNeedsReauth(ctx, c)
		}
		return salesforce.Token{}, fmt.Errorf("refresh token grant: %w", salesforce.ErrTransient)
	}
	refresh := ""
	if fresh.RefreshToken != "" && fresh.RefreshToken != c.RefreshToken {
		refresh = fresh.RefreshToken // rotation: the newest is the only valid one
	}
	v, err := t.Store.SaveTokens(ctx, t.TeamID, c.ID, c.Version, fresh.AccessToken, refresh)
	if err != nil {
		return salesforce.Token{}, fmt.Errorf("save refreshed tokens: %w", err)
	}
	c.AccessToken, c.Version = fresh.AccessToken, v
	if refresh != "" {
		c.RefreshToken = refresh
	}
	if inst, _ := fresh.Extra("instance_url").(string); inst != "" {
		c.InstanceURL = inst
	}
	t.conn = &c
	return c.Token(), nil
}

// markNeedsReauth records that Salesforce refused the refresh token, unless
// the connection changed meanwhile (a lost race or a reconnect is not a
// revocation).
func (t *Tokens) markNeedsReauth(ctx context.Context, read Connection) error {
	err := t.Store.SetStatus(ctx, t.TeamID, read.ID, read.Version, StatusNeedsReauth)
	if errors.Is(err, ErrVersionConflict) {
		return fmt.Errorf("refresh token refused after the connection changed: %w", salesforce.ErrTransient)
	}
	if err != nil {
		return fmt.Errorf("mark needs_reauth: %w", err)
	}
	return ErrNeedsReauth
}

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
	// appRefused is the refusal of this deployment's connected app met by
	// a refresh of refusedToken: the calls of the same batch that find
	// that token stale get it without asking Salesforce again.
	appRefused   error
	refusedToken string
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
	return c.current()
}

// Refresh returns a token newer than stale. If another worker already
// refreshed, it returns that token without calling Salesforce; otherwise it
// takes the team's lease, re-reads, and refreshes exactly once.
func (t *Tokens) Refresh(ctx context.Context, stale salesforce.Token) (salesforce.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.appRefused != nil && t.refusedToken == stale.AccessToken {
		return salesforce.Token{}, t.appRefused
	}
	backoff := 20 * time.Millisecond
	for {
		c, err := t.Store.Get(ctx, t.TeamID)
		if err != nil {
			return salesforce.Token{}, err
		}
		t.conn = &c
		if err := c.Err(); err != nil {
			return salesforce.Token{}, err
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

// refusal is what a token endpoint's refusal makes of the connection: a
// revoked or expired refresh token (invalid_grant) needs a new consent; a
// user or org deactivated needs an admin to fix that first (AdminProblem);
// a connected app Salesforce refuses (a Problem with Deployment set) is
// the operator's to fix, and the caller leaves the status alone. Anything
// else, and any server fault, is transient.
func refusal(err error) (Status, Problem, bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode >= 500 {
		return "", Problem{}, false
	}
	if re.ErrorCode == "invalid_grant" {
		return StatusNeedsReauth, Problem{}, true
	}
	if p, ok := AdminProblem(re.ErrorCode); ok {
		return StatusNeedsAdmin, p, true
	}
	return "", Problem{}, false
}

func (t *Tokens) refreshUnderLease(ctx context.Context, stale salesforce.Token) (salesforce.Token, error) {
	c, err := t.Store.Get(ctx, t.TeamID) // re-read under the lease
	if err != nil {
		return salesforce.Token{}, err
	}
	t.conn = &c
	if c.AccessToken != stale.AccessToken || c.Status != StatusConnected {
		if held(c.Status) {
			return salesforce.Token{}, c.Err()
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
		// Only a definite refusal (Salesforce answers 400) stops the team's
		// syncs until an admin acts; a server fault is retried.
		if st, p, ok := refusal(err); ok {
			if p.Deployment {
				return salesforce.Token{}, t.refusedApp(stale, p)
			}
			return t.markRefused(ctx, c, st, p)
		}
		return salesforce.Token{}, fmt.Errorf("refresh token grant: %w", salesforce.ErrTransient)
	}
	refresh := ""
	if fresh.RefreshToken != "" && fresh.RefreshToken != c.RefreshToken {
		refresh = fresh.RefreshToken // rotation: the newest is the only valid one
	}
	instance, err := t.instance(c, fresh)
	if err != nil {
		// Nothing goes to a host that is not Salesforce's: the grant just
		// made is revoked (with rotation, the connection then needs an
		// admin to reconnect).
		t.Connector.revoke(context.WithoutCancel(ctx), c.LoginURL, refresh, fresh.AccessToken)
		return salesforce.Token{}, fmt.Errorf("refresh token grant: %w", err)
	}
	v, err := t.Store.SaveTokens(ctx, t.TeamID, c.ID, c.Version, fresh.AccessToken, refresh, instance)
	if errors.Is(err, ErrVersionConflict) {
		return t.afterLostSave(ctx, c, fresh, refresh, instance)
	}
	if err != nil {
		return salesforce.Token{}, fmt.Errorf("save refreshed tokens: %w", err)
	}
	return t.saved(c, fresh, refresh, instance, v), nil
}

// instance returns the instance URL a refresh answer names when it differs
// from c's ("" when it names none or the same), checked as at connect.
func (t *Tokens) instance(c Connection, fresh *oauth2.Token) (string, error) {
	raw, _ := fresh.Extra("instance_url").(string)
	if raw == "" {
		return "", nil
	}
	inst, err := InstanceURL(raw, t.Connector.Config.AllowInsecureLoginURLs)
	if err != nil || inst == c.InstanceURL {
		return "", err
	}
	return inst, nil
}

// saved records in memory the tokens (and instance URL, when it changed)
// just stored at version v over c.
func (t *Tokens) saved(c Connection, fresh *oauth2.Token, refresh, instance string, v int64) salesforce.Token {
	c.AccessToken, c.Version, c.Status = fresh.AccessToken, v, StatusConnected
	if refresh != "" {
		c.RefreshToken = refresh
	}
	if instance != "" {
		c.InstanceURL = instance
	}
	t.conn = &c
	return c.Token()
}

// afterLostSave handles a refresh whose save lost to another write of the
// connection since read: a worker that took over after this holder's lease
// lapsed, a reconnect, a disconnect, or a needs_reauth mark.
//
// Without rotation the refresh token is still valid, so what is stored now
// wins. With rotation this refresh revoked the stored refresh token at
// Salesforce, and the rotated one in hand is the only valid one: while the
// stored connection is still the same grant with the token this refresh
// consumed, nobody else can have refreshed since (they would have been
// refused), so the rotated tokens are saved over whatever moved the version.
// Typically that is a worker whose refresh with the consumed token was
// refused and which marked the connection needs_reauth; dropping the rotated
// token there would lose the org's only valid grant. A rotated token that no
// stored connection holds (reconnected or disconnected meanwhile) is revoked
// rather than left live at Salesforce.
func (t *Tokens) afterLostSave(ctx context.Context, read Connection, fresh *oauth2.Token, rotated, instance string) (salesforce.Token, error) {
	for range 3 {
		cur, err := t.Store.Get(ctx, t.TeamID)
		if err != nil && !errors.Is(err, ErrNotConnected) {
			return salesforce.Token{}, fmt.Errorf("re-read after a lost token save: %w", err)
		}
		sameGrant := err == nil && cur.ID == read.ID && cur.RefreshToken == read.RefreshToken
		retry := sameGrant && (rotated != "" || (cur.Status == StatusConnected && cur.AccessToken == read.AccessToken))
		if !retry {
			if rotated != "" {
				t.Connector.revoke(context.WithoutCancel(ctx), read.LoginURL, rotated)
			}
			if err != nil {
				t.conn = nil
				return salesforce.Token{}, err
			}
			t.conn = &cur
			return cur.current()
		}
		v, err := t.Store.SaveTokens(ctx, t.TeamID, cur.ID, cur.Version, fresh.AccessToken, rotated, instance)
		if errors.Is(err, ErrVersionConflict) {
			continue
		}
		if err != nil {
			return salesforce.Token{}, fmt.Errorf("save refreshed tokens: %w", err)
		}
		return t.saved(cur, fresh, rotated, instance, v), nil
	}
	return salesforce.Token{}, fmt.Errorf("save refreshed tokens: the connection keeps changing: %w", salesforce.ErrTransient)
}

// refusedApp is the error of a refresh of stale that Salesforce refused
// because of this deployment's connected app. The connection is not
// marked: the team did nothing wrong, and the next batch tries again. A
// kept client secret is dropped, so that one the operator fixed is read
// at the next try; the refusal is remembered for this batch's other calls.
func (t *Tokens) refusedApp(stale salesforce.Token, p Problem) error {
	if f := t.Connector.Config.ForgetClientSecret; f != nil {
		f()
	}
	t.appRefused, t.refusedToken = &AppRefusedError{Problem: p}, stale.AccessToken
	return t.appRefused
}

// current is the connection's token by its status.
func (c Connection) current() (salesforce.Token, error) {
	if err := c.Err(); err != nil {
		return salesforce.Token{}, err
	}
	return c.Token(), nil
}

// markRefused records that Salesforce refused the refresh token (status
// needs_reauth, or needs_admin with its problem), unless the connection
// changed meanwhile: a lost race (another worker refreshed, which with
// rotation revokes the token this one used) or a reconnect is not a
// revocation, and the caller gets what is stored now.
func (t *Tokens) markRefused(ctx context.Context, read Connection, st Status, p Problem) (salesforce.Token, error) {
	err := t.Store.SetStatus(ctx, t.TeamID, read.ID, read.Version, st, p)
	if errors.Is(err, ErrVersionConflict) {
		cur, gerr := t.Store.Get(ctx, t.TeamID)
		if gerr != nil {
			if errors.Is(gerr, ErrNotConnected) {
				t.conn = nil
				return salesforce.Token{}, gerr
			}
			return salesforce.Token{}, fmt.Errorf("refresh token refused after the connection changed: %w", salesforce.ErrTransient)
		}
		t.conn = &cur
		return cur.current()
	}
	if err != nil {
		return salesforce.Token{}, fmt.Errorf("mark %s: %w", st, err)
	}
	read.Status, read.Problem, read.Version = st, p, read.Version+1
	t.conn = &read
	return salesforce.Token{}, read.Err()
}

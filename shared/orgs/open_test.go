package orgs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	ctx := context.Background()
	// A second team whose refresh token Salesforce refused.
	c, err := e.store.Get(ctx, testTeam)
	if err != nil {
		t.Fatalf("get connection: %v", err)
	}
	c.TeamID, c.Status = "team_reauth", connection.StatusNeedsReauth
	if _, err := e.store.Replace(ctx, c); err != nil {
		t.Fatalf("store connection: %v", err)
	}
	c.TeamID, c.Status = "team_gone", connection.StatusDisconnected
	if _, err := e.store.Replace(ctx, c); err != nil {
		t.Fatalf("store connection: %v", err)
	}

	tests := []struct {
		team       string
		wantErr    error
		wantStatus string
	}{
		{testTeam, nil, "connected"},
		{"team_reauth", connection.ErrNeedsReauth, "needs_reauth"},
		{"team_gone", connection.ErrNotConnected, "disconnected"},
		{"team_never_connected", connection.ErrNotConnected, ""},
		{"", orgs.ErrBadInput, ""},
		{"   ", orgs.ErrBadInput, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("team %q", tc.team), func(t *testing.T) {
			t.Parallel()
			o, info, err := e.orgs.Open(ctx, tc.team)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Open: got error %v; want %v", err, tc.wantErr)
			}
			if info.Status != tc.wantStatus {
				t.Errorf("status: got %q; want %q", info.Status, tc.wantStatus)
			}
			if tc.wantErr == nil && (o == nil || info.ConnectedAt.IsZero()) {
				t.Errorf("Open: got org %v connected at %v; want an org and a time", o, info.ConnectedAt)
			}
			if tc.wantErr != nil && o != nil {
				t.Errorf("Open: got org %v; want none", o)
			}
			if err != nil && tc.team == "" && !strings.Contains(err.Error(), "team_id") {
				t.Errorf("error: got %q; want it to name team_id", err)
			}
		})
	}
}

func TestCloseRecordsUsageOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{DailyLimit: 5000})
	ctx := context.Background()
	o := e.open()
	if err := o.Close(ctx); err != nil {
		t.Fatalf("Close before any call: %v", err)
	}
	if n := e.db.updates.Load(); n != 0 {
		t.Errorf("writes after closing an unused org: got %d; want 0", n)
	}
	for i := range 3 {
		if _, err := o.FindByEmail(ctx, []string{fmt.Sprintf("usage%d@example.com", i)}); err != nil {
			t.Fatalf("FindByEmail: %v", err)
		}
	}
	if _, err := o.Create(ctx, []salesforce.SObject{lead("usage@example.com")}, salesforce.WriteOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if n := e.db.updates.Load(); n != 0 {
		t.Errorf("writes before Close: got %d; want 0", n)
	}
	for range 2 {
		if err := o.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if n := e.db.updates.Load(); n != 1 {
		t.Errorf("writes after closing twice: got %d; want 1", n)
	}
	c, err := e.store.Get(ctx, testTeam)
	if err != nil {
		t.Fatalf("get connection: %v", err)
	}
	if c.Usage == nil || c.Usage.Used != e.calls() || c.Usage.Limit != 5000 || c.Usage.At.IsZero() {
		t.Errorf("stored usage: got %+v; want %d/5000 with a time", c.Usage, e.calls())
	}
}

func TestFindByEmailFailures(t *testing.T) {
	t.Parallel()
	composite := "/services/data/v62.0/composite"
	// A lookup is a read: the client sends it again after a transient
	// failure, so it fails only when every attempt does.
	reads := 1 + salesforce.DefaultReadRetries
	tests := []struct {
		name  string
		setup func(e *env)
		want  error
	}{
		{"503 on the composite call", func(e *env) {
			_, _ = e.sim.AddFault(org.Fault{PathPrefix: composite, ErrorCode: "SERVER_UNAVAILABLE", Times: reads})
		}, salesforce.ErrTransient},
		{"500 without a code", func(e *env) { _, _ = e.sim.AddFault(org.Fault{PathPrefix: composite, Status: 500, Times: reads}) }, salesforce.ErrTransient},
		{"502 with an HTML body", func(e *env) { _, _ = e.sim.AddFault(org.Fault{PathPrefix: composite, Status: 502, Times: reads}) }, salesforce.ErrTransient},
		{"UNABLE_TO_LOCK_ROW", func(e *env) {
			_, _ = e.sim.AddFault(org.Fault{PathPrefix: composite, ErrorCode: "UNABLE_TO_LOCK_ROW", Times: reads})
		}, salesforce.ErrTransient},
		{"connection lost", func(e *env) {
			_, _ = e.sim.AddFault(org.Fault{PathPrefix: composite, DropAfterCommit: true, Times: reads})
		}, salesforce.ErrTransient},
		{"one 503: sent again, found", func(e *env) {
			_, _ = e.sim.AddFault(org.Fault{PathPrefix: composite, ErrorCode: "SERVER_UNAVAILABLE", Times: 1})
		}, nil},
		{"REQUEST_LIMIT_EXCEEDED fault", func(e *env) {
			_, _ = e.sim.AddFault(org.Fault{PathPrefix: composite, ErrorCode: "REQUEST_LIMIT_EXCEEDED", Times: 1})
		}, salesforce.ErrRequestLimit},
		{"daily allocation used up", func(e *env) { e.sim.SetAPIUsage(15000) }, salesforce.ErrRequestLimit},
		{"refresh token revoked", func(e *env) { e.sim.ExpireAccessTokens(); e.sim.RevokeAllRefreshTokens() }, connection.ErrNeedsReauth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, org.Config{})
			e.seed("Contact", map[string]any{"LastName": "F", "Email": "fault@example.com"})
			tc.setup(e)
			got, err := e.open().FindByEmail(context.Background(), []string{"fault@example.com"})
			if tc.want == nil {
				if err != nil || len(got) != 1 {
					t.Fatalf("FindByEmail: got %v, %v; want the Contact", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("FindByEmail: got error %v; want one wrapping %v", err, tc.want)
			}
			if got != nil {
				t.Errorf("matches: got %v; want none", got)
			}
		})
	}
}

// TestSessionExpiresMidway expires the session between the two composite
// calls of a large lookup: the org refreshes the token once, retries the
// call once, and finds every email.
func TestSessionExpiresMidway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Config{})
	ctx := context.Background()
	var emails []string
	var recs []map[string]any
	for i := range 1000 {
		email := fmt.Sprintf("midway.%04d@customer.example.com", i)
		emails = append(emails, email)
		if i%2 == 0 {
			recs = append(recs, map[string]any{"LastName": "M", "Email": email})
		}
	}
	e.seed("Contact", recs...)
	before, err := e.store.Get(ctx, testTeam)
	if err != nil {
		t.Fatalf("get connection: %v", err)
	}

	var composites atomic.Int64
	hook := func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/composite") && composites.Add(1) == 2 {
			e.sim.ExpireAccessTokens()
		}
	}
	e.dataHook.Store(&hook)
	o := e.open()
	found, err := o.FindByEmail(ctx, emails)
	if err != nil {
		t.Fatalf("FindByEmail: %v", err)
	}
	if len(found) != 500 {
		t.Errorf("found: got %d; want 500", len(found))
	}
	if n := e.refreshes.Load(); n != 1 {
		t.Errorf("refresh grants: got %d; want 1", n)
	}
	// two calls, the second sent twice
	if n := composites.Load(); n != 3 {
		t.Errorf("composite requests sent: got %d; want 3", n)
	}
	after, err := e.store.Get(ctx, testTeam)
	if err != nil {
		t.Fatalf("get connection: %v", err)
	}
	if after.AccessToken == before.AccessToken || after.Version <= before.Version {
		t.Errorf("stored token: got version %d (changed: %v); want a newer token than version %d",
			after.Version, after.AccessToken != before.AccessToken, before.Version)
	}
	// A later open uses the stored fresh token without refreshing again.
	if _, err := e.open().FindByEmail(ctx, emails[:1]); err != nil {
		t.Fatalf("FindByEmail with the refreshed token: %v", err)
	}
	if n := e.refreshes.Load(); n != 1 {
		t.Errorf("refresh grants after a second open: got %d; want 1", n)
	}
}

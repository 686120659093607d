package connecthttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/privacy"
)

// purger is a Purger that notes the teams it purged and answers a
// complete purge on the second call of a team.
type purger struct {
	mu    sync.Mutex
	teams []string
	fail  error
}

func (p *purger) Purge(_ context.Context, team string) (privacy.Purged, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return privacy.Purged{}, p.fail
	}
	p.teams = append(p.teams, team)
	n := 0
	for _, t := range p.teams {
		if t == team {
			n++
		}
	}
	return privacy.Purged{Deleted: map[string]int{"connections": 3, "policies": 2, "ledger": 10 / n}, Complete: n > 1}, nil
}

// TestDisconnectWithPurge: purge=true disconnects (the refresh token
// revoked, the connection deleted), then purges the caller's team and
// answers its counts; calling again goes on, also once disconnected.
func TestDisconnectWithPurge(t *testing.T) {
	t.Parallel()
	p := &purger{}
	e := newEnv(t, simOptions{autoApprove: true, purger: p})
	conn := e.connect()
	type answer struct {
		Disconnected bool           `json:"disconnected"`
		Purged       map[string]int `json:"purged"`
		Complete     bool           `json:"complete"`
	}
	for i, want := range []answer{
		{Disconnected: true, Purged: map[string]int{"connections": 3, "policies": 2, "ledger": 10}},
		{Disconnected: true, Purged: map[string]int{"connections": 3, "policies": 2, "ledger": 5}, Complete: true},
	} {
		resp, body := e.do("DELETE", "/v1/salesforce?purge=true", "")
		var got answer
		_ = json.Unmarshal([]byte(body), &got)
		if resp.StatusCode != http.StatusOK || got.Disconnected != want.Disconnected || got.Complete != want.Complete ||
			got.Purged["ledger"] != want.Purged["ledger"] || len(got.Purged) != 3 {
			t.Errorf("purge call %d: got %d %s; want 200 %+v", i+1, resp.StatusCode, body, want)
		}
	}
	if _, err := e.store.Get(context.Background(), "team_a"); !errors.Is(err, connection.ErrNotConnected) {
		t.Errorf("after the purge: got %v; want ErrNotConnected", err)
	}
	if err := e.sim.RevokeRefreshToken(conn.RefreshToken); err == nil {
		t.Errorf("refresh token still valid at Salesforce after the purge")
	}
	if !slices.Equal(p.teams, []string{"team_a", "team_a"}) {
		t.Errorf("purged teams: got %v; want team_a twice", p.teams)
	}
}

func TestDisconnectPurgeRefusals(t *testing.T) {
	t.Parallel()
	p := &purger{}
	e := newEnv(t, simOptions{autoApprove: true, purger: p})
	e.connect()
	for _, tt := range []struct {
		name   string
		claims httpapi.Claims
		query  string
		status int
		code   string
	}{
		{"purge not a boolean", httpapi.Claims{}, "?purge=yes", 400, "invalid_request"},
		{"purge twice", httpapi.Claims{}, "?purge=true&purge=true", 400, "invalid_request"},
		{"a member", httpapi.Claims{TeamID: "team_a", Role: "member", Subject: "m"}, "?purge=true", 403, "forbidden"},
	} {
		resp, body := e.doAs(tt.claims, "DELETE", "/v1/salesforce"+tt.query, "")
		var got struct{ Error httpapi.ErrorDetail }
		_ = json.Unmarshal([]byte(body), &got)
		if resp.StatusCode != tt.status || got.Error.Code != tt.code {
			t.Errorf("%s: got %d %s; want %d %s", tt.name, resp.StatusCode, body, tt.status, tt.code)
		}
	}
	if _, err := e.store.Get(context.Background(), "team_a"); err != nil {
		t.Errorf("connection after refused purges: got %v; want it kept", err)
	}
	if len(p.teams) != 0 {
		t.Errorf("purged: got %v; want nothing", p.teams)
	}
	// purge=false is a plain disconnect.
	if resp, body := e.do("DELETE", "/v1/salesforce?purge=false", ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("purge=false: got %d %s; want 204", resp.StatusCode, body)
	}
	p.fail = errors.New("table gone")
	if resp, body := e.do("DELETE", "/v1/salesforce?purge=true", ""); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("a purge that fails: got %d %s; want 500", resp.StatusCode, body)
	}
}

var _ connecthttp.Purger = (*purger)(nil)

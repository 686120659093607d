package connecthttp_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
)

// TestWriteRefused: the routes that need the team's org (field mappings,
// dedup check, readiness) say why Salesforce refuses it: a needs_admin
// team gets needs_admin with what to do, not needs_reauth; a refused
// connected app is the operator's (502 app_refused, nothing for the team
// to do); a revoked refresh token needs_reauth; anything else is left to
// the caller.
func TestWriteRefused(t *testing.T) {
	t.Parallel()
	admin := &connection.AdminError{Problem: connection.Problem{Reason: "inactive_user", Message: "reactivate them in Salesforce"}}
	app := &connection.AppRefusedError{Problem: connection.Problem{Reason: "invalid_client", Message: "the operator must check the secret", Deployment: true}}
	tests := []struct {
		name     string
		err      error
		wantCode int // 0: not written
		want     string
	}{
		{"needs_admin", fmt.Errorf("describe Lead: %w", admin), 409, `"code":"needs_admin","message":"reactivate them in Salesforce"`},
		{"connected app refused", fmt.Errorf("describe Lead: refresh: %w", app), 502, `"code":"app_refused","message":"the operator must check the secret"`},
		{"needs_reauth", fmt.Errorf("open: %w", connection.ErrNeedsReauth), 409, `"code":"needs_reauth"`},
		{"anything else", errors.New("boom"), 0, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		written := connecthttp.WriteRefused(rec, tt.err)
		if written != (tt.wantCode != 0) || (written && (rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.want))) {
			t.Errorf("%s: got %v, %d %s; want %d with %s", tt.name, written, rec.Code, rec.Body.String(), tt.wantCode, tt.want)
		}
	}
}

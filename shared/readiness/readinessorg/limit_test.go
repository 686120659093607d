package readinessorg

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sfsync/sfsync/shared/salesforce"
)

type fixedSession struct{ tok salesforce.Token }

func (s fixedSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s fixedSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return s.tok, nil
}

// TestReportCallsAreLimited: the report's reads are sent once, however
// Salesforce answers, and a call past MaxCalls is never sent; the budget
// governor is still asked for each call sent.
func TestReportCallsAreLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		reads     int
		wantSent  int64
		wantLimit bool
	}{
		{"a 503 is not sent again", http.StatusServiceUnavailable, 1, 1, false},
		{"no more than MaxCalls", http.StatusOK, MaxCalls + 1, MaxCalls, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sent atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sent.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				if tc.status != http.StatusOK {
					_, _ = w.Write([]byte(`[{"errorCode":"SERVER_UNAVAILABLE","message":"down"}]`))
					return
				}
				_, _ = w.Write([]byte(`{"compositeResponse":[]}`))
			}))
			defer srv.Close()
			asked := 0
			c := &salesforce.Client{Session: fixedSession{salesforce.Token{AccessToken: "t", InstanceURL: srv.URL}},
				BeforeCall: func() error { asked++; return nil }}
			limitCalls(c, MaxCalls)
			var last error
			for range tc.reads {
				_, last = c.Composite(context.Background(), false, []salesforce.CompositeSubrequest{c.QuerySubrequest("q", "SELECT Id FROM Organization")}, nil)
			}
			if got := sent.Load(); got != tc.wantSent || int64(asked) != tc.wantSent {
				t.Errorf("calls sent: got %d (governor asked %d); want %d", got, asked, tc.wantSent)
			}
			if errors.Is(last, ErrCallLimit) != tc.wantLimit {
				t.Errorf("last error: got %v; want ErrCallLimit %v", last, tc.wantLimit)
			}
		})
	}
}

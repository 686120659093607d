package org

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// flights tracks the data API requests in flight, for Salesforce's limit on
// concurrent long-running requests, and the org's latency switch.
type flights struct {
	mu      sync.Mutex
	started map[*time.Time]struct{}
	latency time.Duration
	set     bool // latency was set since start (else Config.Latency)
	refused int
}

// concurrentLimitMessage is the message of the REQUEST_LIMIT_EXCEEDED that
// the concurrency limit answers (the exact text is unconfirmed).
const concurrentLimitMessage = "ConcurrentPerOrgLongTxn Limit exceeded."

// limitConcurrency refuses a data API request while ConcurrentLimit
// requests have been running for LongRequest or more, as Salesforce
// refuses the 26th concurrent long-running request with 403
// REQUEST_LIMIT_EXCEEDED; the refusal is not counted. It then delays the
// request by the org's latency.
func (o *Org) limitConcurrency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/services/data/v") {
			next.ServeHTTP(w, r)
			return
		}
		start, latency, ok := o.flights.begin(time.Now(), o.cfg.LongRequest, o.cfg.ConcurrentLimit, o.cfg.Latency)
		if !ok {
			b, _ := json.Marshal([]map[string]any{errNoFields("REQUEST_LIMIT_EXCEEDED", concurrentLimitMessage).rest()})
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(b)
			return
		}
		defer o.flights.end(start)
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// begin registers a request unless limit requests have run for long or
// more; it returns the request's mark and the latency to add.
func (f *flights) begin(now time.Time, long time.Duration, limit int, latency time.Duration) (*time.Time, time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for t := range f.started {
		if now.Sub(*t) >= long {
			n++
		}
	}
	if n >= limit {
		f.refused++
		return nil, 0, false
	}
	if f.started == nil {
		f.started = map[*time.Time]struct{}{}
	}
	mark := &now
	f.started[mark] = struct{}{}
	if f.set {
		latency = f.latency
	}
	return mark, latency, true
}

func (f *flights) end(mark *time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.started, mark)
}

// SetLatency delays every later data API call by d (0: none): a slow,
// trigger-heavy org. It overrides Config.Latency.
func (o *Org) SetLatency(d time.Duration) {
	o.flights.mu.Lock()
	defer o.flights.mu.Unlock()
	o.flights.latency, o.flights.set = max(d, 0), true
}

// InFlight is how many data API requests the org is serving now.
func (o *Org) InFlight() int {
	o.flights.mu.Lock()
	defer o.flights.mu.Unlock()
	return len(o.flights.started)
}

// ConcurrencyRefusals is how many requests the concurrency limit refused.
func (o *Org) ConcurrencyRefusals() int {
	o.flights.mu.Lock()
	defer o.flights.mu.Unlock()
	return o.flights.refused
}

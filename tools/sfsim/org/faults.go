package org

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Fault is an injected failure. A rule matches requests by method (empty: any) and
// by path prefix or regular expression (both empty: any path outside /_sim), and
// fires for the next Times matching requests (0: unlimited) or, with Fraction in
// (0,1], for that share of them, drawn from the org's seeded RNG.
type Fault struct {
	Method     string  `json:"method,omitempty"`
	PathPrefix string  `json:"path,omitempty"`
	PathRegexp string  `json:"path_regexp,omitempty"`
	Times      int     `json:"times,omitempty"`
	Fraction   float64 `json:"fraction,omitempty"`

	// What happens. Latency is added first; then either Status answers instead of the
	// org, or DropAfterCommit lets the org process the request fully and then closes
	// the connection without answering.
	Latency         time.Duration `json:"-"`
	LatencyMS       int           `json:"latency_ms,omitempty"`
	Status          int           `json:"status,omitempty"`
	ErrorCode       string        `json:"error_code,omitempty"` // SERVER_UNAVAILABLE, UNABLE_TO_LOCK_ROW, INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED
	DropAfterCommit bool          `json:"drop_after_commit,omitempty"`
}

type faultState struct {
	id    int
	f     Fault
	re    *regexp.Regexp
	fired int
}

// validate checks a rule and names the bad field.
func (f *Fault) validate() (*regexp.Regexp, error) {
	var re *regexp.Regexp
	if f.PathRegexp != "" {
		var err error
		if re, err = regexp.Compile(f.PathRegexp); err != nil {
			return nil, fmt.Errorf("path_regexp: %v", err)
		}
	}
	if f.Times < 0 {
		return nil, fmt.Errorf("times: must not be negative")
	}
	if f.Fraction < 0 || f.Fraction > 1 {
		return nil, fmt.Errorf("fraction: must be within 0..1")
	}
	if f.LatencyMS < 0 || f.Latency < 0 {
		return nil, fmt.Errorf("latency_ms: must not be negative")
	}
	if f.LatencyMS > 0 {
		f.Latency = time.Duration(f.LatencyMS) * time.Millisecond
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return nil, fmt.Errorf("status: %d is not an HTTP error status", f.Status)
	}
	switch f.ErrorCode {
	case "", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "INVALID_SESSION_ID", "REQUEST_LIMIT_EXCEEDED":
	default:
		return nil, fmt.Errorf("error_code: %q is not one of SERVER_UNAVAILABLE, UNABLE_TO_LOCK_ROW, INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED", f.ErrorCode)
	}
	if f.ErrorCode != "" && f.Status == 0 {
		f.Status = map[string]int{"SERVER_UNAVAILABLE": 503, "UNABLE_TO_LOCK_ROW": 400, "INVALID_SESSION_ID": 401, "REQUEST_LIMIT_EXCEEDED": 403}[f.ErrorCode]
	}
	if f.Status != 0 && f.DropAfterCommit {
		return nil, fmt.Errorf("drop_after_commit: cannot be combined with status")
	}
	if f.Status == 0 && !f.DropAfterCommit && f.Latency == 0 {
		return nil, fmt.Errorf("status: a fault needs a status, drop_after_commit or latency_ms")
	}
	if f.Method != "" {
		f.Method = strings.ToUpper(f.Method)
	}
	return re, nil
}

// AddFault installs a fault rule and returns its id.
func (o *Org) AddFault(f Fault) (int, error) {
	re, err := f.validate()
	if err != nil {
		return 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faultSeq++
	o.faults = append(o.faults, &faultState{id: o.faultSeq, f: f, re: re})
	return o.faultSeq, nil
}

// ClearFaults removes every fault rule.
func (o *Org) ClearFaults() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults = nil
}

// pickFault returns the first rule that fires for r, consuming one use of it.
func (o *Org) pickFault(r *http.Request) *Fault {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, fs := range o.faults {
		f := fs.f
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		if fs.re != nil && !fs.re.MatchString(r.URL.Path) {
			continue
		}
		if f.Fraction > 0 && o.rng.Float64() >= f.Fraction {
			continue
		}
		fs.fired++
		if f.Times > 0 && fs.fired >= f.Times {
			o.faults = append(o.faults[:i:i], o.faults[i+1:]...)
		}
		return &f
	}
	return nil
}

const html502 = `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The server encountered a temporary error and could not complete your request. Please try again later.</p></body></html>`

func (o *Org) faultMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/" {
			next.ServeHTTP(w, r)
			return
		}
		f := o.pickFault(r)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case f.DropAfterCommit:
			buf := &bufferedWriter{header: http.Header{}}
			next.ServeHTTP(buf, r)
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic(http.ErrAbortHandler)
			}
			conn, _, err := hj.Hijack()
			if err != nil {
				panic(http.ErrAbortHandler)
			}
			_ = conn.Close()
		case f.Status == 502 && f.ErrorCode == "":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(html502))
		case f.Status != 0:
			code, msg := f.ErrorCode, ""
			switch code {
			case "", "SERVER_UNAVAILABLE":
				if f.Status != 503 && code == "" {
					code, msg = "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)"
				} else {
					code, msg = "SERVER_UNAVAILABLE", "Server Unavailable"
				}
			case "UNABLE_TO_LOCK_ROW":
				msg = "unable to obtain exclusive access to this record or 1 records: " + o.lockedID()
			case "INVALID_SESSION_ID":
				msg = "Session expired or invalid"
			case "REQUEST_LIMIT_EXCEEDED":
				msg = "TotalRequests Limit exceeded."
			}
			e := errNoFields(code, msg)
			if code == "UNABLE_TO_LOCK_ROW" {
				e = errFields(code, msg)
			}
			b, _ := json.Marshal([]map[string]any{e.rest()})
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.WriteHeader(f.Status)
			_, _ = w.Write(b)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// lockedID names some record for UNABLE_TO_LOCK_ROW messages.
func (o *Org) lockedID() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, obj := range []string{"Lead", "Contact", "Account", "Task"} {
		for _, id := range sortedIDs(o.records[obj]) {
			return id
		}
	}
	return o.userID
}

// bufferedWriter collects a response that will never be sent.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(s int)           { b.status = s }

package org

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Fault is an injected failure. A rule matches requests by method (empty: any) and
// by path prefix or regular expression (both empty: any path outside /_sim), lets
// the first Skip matching requests through untouched, and then fires for the next
// Times matching requests (0: unlimited) or, with Fraction in (0,1], for that share
// of them, drawn from the org's seeded RNG.
type Fault struct {
	Method     string  `json:"method,omitempty"`
	PathPrefix string  `json:"path,omitempty"`
	PathRegexp string  `json:"path_regexp,omitempty"`
	Skip       int     `json:"skip,omitempty"`
	Times      int     `json:"times,omitempty"`
	Fraction   float64 `json:"fraction,omitempty"`

	// RecordRegexp makes the rule fail single records rather than the request: it
	// matches only sObject Collections creates (POST composite/sobjects, alone or as
	// a composite subrequest) that carry a record whose JSON matches it. Each such
	// record is taken out before the org sees the request and is answered with
	// ErrorCode (UNABLE_TO_LOCK_ROW) in its place, unsaved; the collection's other
	// records are saved as usual. With allOrNone the whole collection fails instead:
	// its other records answer ALL_OR_NONE_OPERATION_ROLLED_BACK.
	RecordRegexp string `json:"record_regexp,omitempty"`

	// What happens. Latency is added first; then either Status answers instead of the
	// org, or DropAfterCommit lets the org process the request fully and then closes
	// the connection without answering.
	Latency         time.Duration `json:"-"`
	LatencyMS       int           `json:"latency_ms,omitempty"`
	Status          int           `json:"status,omitempty"`
	ErrorCode       string        `json:"error_code,omitempty"` // SERVER_UNAVAILABLE, UNABLE_TO_LOCK_ROW, INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED
	DropAfterCommit bool          `json:"drop_after_commit,omitempty"`
	// OnFire (Go API only) runs each time the rule fires, before anything else the
	// rule does, outside the org's lock: a test changes the org between two calls
	// with it, e.g. a record that appears after a lookup and before the create.
	OnFire func() `json:"-"`
}

type faultState struct {
	id      int
	f       Fault
	re      *regexp.Regexp
	records *regexp.Regexp
	skipped int
	fired   int
}

// validate checks a rule, compiles its path and record expressions and names the
// bad field.
func (f *Fault) validate() (re, records *regexp.Regexp, err error) {
	if f.PathRegexp != "" {
		if re, err = regexp.Compile(f.PathRegexp); err != nil {
			return nil, nil, fmt.Errorf("path_regexp: %v", err)
		}
	}
	if f.RecordRegexp != "" {
		if records, err = regexp.Compile(f.RecordRegexp); err != nil {
			return nil, nil, fmt.Errorf("record_regexp: %v", err)
		}
	}
	if f.Method != "" {
		f.Method = strings.ToUpper(f.Method)
	}
	if f.Skip < 0 {
		return nil, nil, fmt.Errorf("skip: must not be negative")
	}
	if f.Times < 0 {
		return nil, nil, fmt.Errorf("times: must not be negative")
	}
	if f.Fraction < 0 || f.Fraction > 1 {
		return nil, nil, fmt.Errorf("fraction: must be within 0..1")
	}
	if f.LatencyMS < 0 || f.Latency < 0 {
		return nil, nil, fmt.Errorf("latency_ms: must not be negative")
	}
	if f.LatencyMS > 0 {
		f.Latency = time.Duration(f.LatencyMS) * time.Millisecond
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return nil, nil, fmt.Errorf("status: %d is not an HTTP error status", f.Status)
	}
	switch f.ErrorCode {
	case "", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "INVALID_SESSION_ID", "REQUEST_LIMIT_EXCEEDED":
	default:
		return nil, nil, fmt.Errorf("error_code: %q is not one of SERVER_UNAVAILABLE, UNABLE_TO_LOCK_ROW, INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED", f.ErrorCode)
	}
	if f.RecordRegexp != "" {
		switch {
		case f.ErrorCode != "UNABLE_TO_LOCK_ROW":
			return nil, nil, fmt.Errorf("error_code: record_regexp fails records with UNABLE_TO_LOCK_ROW, not %q", f.ErrorCode)
		case f.Status != 0:
			return nil, nil, fmt.Errorf("status: cannot be combined with record_regexp (the request itself succeeds)")
		case f.DropAfterCommit:
			return nil, nil, fmt.Errorf("drop_after_commit: cannot be combined with record_regexp")
		}
		return re, records, nil
	}
	if f.ErrorCode != "" && f.Status == 0 {
		f.Status = map[string]int{"SERVER_UNAVAILABLE": 503, "UNABLE_TO_LOCK_ROW": 400, "INVALID_SESSION_ID": 401, "REQUEST_LIMIT_EXCEEDED": 403}[f.ErrorCode]
	}
	if f.Status != 0 && f.DropAfterCommit {
		return nil, nil, fmt.Errorf("drop_after_commit: cannot be combined with status")
	}
	if f.Status == 0 && !f.DropAfterCommit && f.Latency == 0 && f.OnFire == nil {
		return nil, nil, fmt.Errorf("status: a fault needs a status, drop_after_commit, latency_ms or record_regexp")
	}
	return re, nil, nil
}

// AddFault installs a fault rule and returns its id.
func (o *Org) AddFault(f Fault) (int, error) {
	re, records, err := f.validate()
	if err != nil {
		return 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faultSeq++
	o.faults = append(o.faults, &faultState{id: o.faultSeq, f: f, re: re, records: records})
	return o.faultSeq, nil
}

// ClearFaults removes every fault rule.
func (o *Org) ClearFaults() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults = nil
}

// pickFault returns the first rule that fires for r (whose body, when a record
// rule may need it, is body), consuming one use of it. For a record rule it also
// returns the request's failing records.
func (o *Org) pickFault(r *http.Request, body []byte) (*Fault, *recordPlan) {
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
		var plan *recordPlan
		if fs.records != nil {
			if plan = planRecords(r, body, fs.records); plan == nil {
				continue
			}
		}
		if fs.skipped < f.Skip {
			fs.skipped++
			continue
		}
		if f.Fraction > 0 && o.rng.Float64() >= f.Fraction {
			continue
		}
		fs.fired++
		if f.Times > 0 && fs.fired >= f.Times {
			o.faults = append(o.faults[:i:i], o.faults[i+1:]...)
		}
		return &f, plan
	}
	return nil, nil
}

// hasRecordFaults reports whether some rule needs the request body to match.
func (o *Org) hasRecordFaults() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, fs := range o.faults {
		if fs.records != nil {
			return true
		}
	}
	return false
}

const html502 = `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The server encountered a temporary error and could not complete your request. Please try again later.</p></body></html>`

func (o *Org) faultMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/" {
			next.ServeHTTP(w, r)
			return
		}
		var body []byte
		if r.Method == http.MethodPost && r.Body != nil && o.hasRecordFaults() {
			var err error
			if body, err = io.ReadAll(io.LimitReader(r.Body, 50<<20)); err != nil {
				panic(http.ErrAbortHandler)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		f, plan := o.pickFault(r, body)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		if f.OnFire != nil {
			f.OnFire()
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
		case plan != nil:
			o.serveRecordFault(w, r, next, plan)
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

// recordPlan is what a record rule does to one request: which records of the
// collections it carries fail in place of being saved.
type recordPlan struct {
	coll *collPlan                  // a POST composite/sobjects
	top  map[string]json.RawMessage // a POST composite: its body, and
	subs []subPlan                  // its subrequests in order
}

// subPlan is one composite subrequest; coll is set for a create collection with
// failing records.
type subPlan struct {
	raw  map[string]json.RawMessage
	coll *collPlan
}

// collPlan is one sObject Collections create body and its failing records.
type collPlan struct {
	body    map[string]json.RawMessage
	records []json.RawMessage
	failing []bool
}

// planRecords returns the plan of a record rule for r, or nil when r carries no
// create collection with a record matching re.
func planRecords(r *http.Request, body []byte, re *regexp.Regexp) *recordPlan {
	if r.Method != http.MethodPost || body == nil {
		return nil
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/composite/sobjects"):
		if c := planCollection(body, re); c != nil {
			return &recordPlan{coll: c}
		}
	case strings.HasSuffix(r.URL.Path, "/composite"):
		var top map[string]json.RawMessage
		var subs []map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil || json.Unmarshal(top["compositeRequest"], &subs) != nil {
			return nil
		}
		p := &recordPlan{top: top}
		found := false
		for _, sub := range subs {
			sp := subPlan{raw: sub}
			var method, rawURL string
			_ = json.Unmarshal(sub["method"], &method)
			_ = json.Unmarshal(sub["url"], &rawURL)
			path, _, _ := strings.Cut(rawURL, "?")
			if strings.EqualFold(method, http.MethodPost) && strings.HasSuffix(path, "/composite/sobjects") {
				if sp.coll = planCollection(sub["body"], re); sp.coll != nil {
					found = true
				}
			}
			p.subs = append(p.subs, sp)
		}
		if found {
			return p
		}
	}
	return nil
}

func planCollection(body []byte, re *regexp.Regexp) *collPlan {
	c := &collPlan{}
	if json.Unmarshal(body, &c.body) != nil || json.Unmarshal(c.body["records"], &c.records) != nil {
		return nil
	}
	c.failing = make([]bool, len(c.records))
	found := false
	for i, rec := range c.records {
		if re.Match(rec) {
			c.failing[i], found = true, true
		}
	}
	if !found {
		return nil
	}
	return c
}

// forward returns the records the org still sees: none with allOrNone, since a
// failing record rolls the whole collection back.
func (c *collPlan) forward() []json.RawMessage {
	var allOrNone bool
	_ = json.Unmarshal(c.body["allOrNone"], &allOrNone)
	if allOrNone {
		return nil
	}
	var kept []json.RawMessage
	for i, rec := range c.records {
		if !c.failing[i] {
			kept = append(kept, rec)
		}
	}
	return kept
}

// forwardBody is the collection body without the records the rule fails.
func (c *collPlan) forwardBody() json.RawMessage {
	b := make(map[string]json.RawMessage, len(c.body))
	for k, v := range c.body {
		b[k] = v
	}
	b["records"], _ = json.Marshal(c.forward())
	out, _ := json.Marshal(b)
	return out
}

// merge puts the org's results of the forwarded records (saved, in order) back
// among the failing records' answers; without saved results every other record
// was rolled back.
func (c *collPlan) merge(saved []json.RawMessage, lockMsg string) []any {
	out := make([]any, len(c.records))
	k := 0
	for i := range c.records {
		switch {
		case c.failing[i]:
			out[i] = map[string]any{"success": false, "errors": []any{errFields("UNABLE_TO_LOCK_ROW", lockMsg).collection()}}
		case k < len(saved):
			out[i] = saved[k]
			k++
		default:
			out[i] = map[string]any{"success": false, "errors": []any{rolledBack.collection()}}
		}
	}
	return out
}

// serveRecordFault sends the org r without the failing records and answers with
// the org's results and the failing records' errors in their places. A request
// left with nothing to save never reaches the org (and is not counted).
func (o *Org) serveRecordFault(w http.ResponseWriter, r *http.Request, next http.Handler, p *recordPlan) {
	lockMsg := "unable to obtain exclusive access to this record or 1 records: " + o.lockedID()
	var fwd []byte
	var sent []int // composite: the subrequests forwarded, by position
	if p.coll != nil {
		if len(p.coll.forward()) > 0 {
			fwd = p.coll.forwardBody()
		}
	} else {
		var subs []map[string]json.RawMessage
		for i, sp := range p.subs {
			if sp.coll == nil {
				subs, sent = append(subs, sp.raw), append(sent, i)
				continue
			}
			if len(sp.coll.forward()) == 0 {
				continue
			}
			sub := make(map[string]json.RawMessage, len(sp.raw))
			for k, v := range sp.raw {
				sub[k] = v
			}
			sub["body"] = sp.coll.forwardBody()
			subs, sent = append(subs, sub), append(sent, i)
		}
		if len(subs) > 0 {
			top := make(map[string]json.RawMessage, len(p.top))
			for k, v := range p.top {
				top[k] = v
			}
			top["compositeRequest"], _ = json.Marshal(subs)
			fwd, _ = json.Marshal(top)
		}
	}

	buf := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
	if fwd != nil {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(fwd)), int64(len(fwd))
		next.ServeHTTP(buf, r)
		if buf.status != http.StatusOK {
			writeBuffered(w, buf, buf.body.Bytes())
			return
		}
	} else {
		buf.header.Set("Content-Type", "application/json;charset=UTF-8")
	}

	var answer any
	if p.coll != nil {
		var saved []json.RawMessage
		if fwd != nil && json.Unmarshal(buf.body.Bytes(), &saved) != nil {
			writeBuffered(w, buf, buf.body.Bytes())
			return
		}
		answer = p.coll.merge(saved, lockMsg)
	} else {
		var got struct {
			Responses []map[string]json.RawMessage `json:"compositeResponse"`
		}
		if fwd != nil && (json.Unmarshal(buf.body.Bytes(), &got) != nil || len(got.Responses) != len(sent)) {
			writeBuffered(w, buf, buf.body.Bytes())
			return
		}
		// the org may answer out of order: referenceId says whose answer is whose
		byRef := map[string]map[string]json.RawMessage{}
		for _, resp := range got.Responses {
			var ref string
			_ = json.Unmarshal(resp["referenceId"], &ref)
			byRef[ref] = resp
		}
		byPos := map[int]map[string]json.RawMessage{}
		for _, i := range sent {
			var ref string
			_ = json.Unmarshal(p.subs[i].raw["referenceId"], &ref)
			if resp, ok := byRef[ref]; ok {
				byPos[i] = resp
			}
		}
		out := make([]any, len(p.subs))
		for i, sp := range p.subs {
			resp, ok := byPos[i]
			switch {
			case !ok: // every record of the collection failed: answered here
				out[i] = map[string]any{"body": sp.coll.merge(nil, lockMsg), "httpHeaders": map[string]string{},
					"httpStatusCode": http.StatusOK, "referenceId": sp.raw["referenceId"]}
			case sp.coll != nil:
				var status int
				var saved []json.RawMessage
				_ = json.Unmarshal(resp["httpStatusCode"], &status)
				if status == http.StatusOK && json.Unmarshal(resp["body"], &saved) == nil {
					resp["body"], _ = json.Marshal(sp.coll.merge(saved, lockMsg))
				}
				out[i] = resp
			default:
				out[i] = resp
			}
		}
		if !o.cfg.Lenient {
			slices.Reverse(out) // as the org answers: out of request order
		}
		answer = map[string]any{"compositeResponse": out}
	}
	b, err := json.Marshal(answer)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	writeBuffered(w, buf, b)
}

// writeBuffered sends a buffered answer's status and headers with body.
func writeBuffered(w http.ResponseWriter, buf *bufferedWriter, body []byte) {
	for k, vs := range buf.header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(buf.status)
	_, _ = w.Write(body)
}

package motoserver

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AtomicProxy sits between the stack and moto_server and makes DynamoDB's
// conditional writes atomic: one at a time, and never beside another write
// (other writes still run side by side). moto serves requests on threads and checks a
// ConditionExpression and writes the item without a lock, so two racing
// conditional writes can both succeed, which DynamoDB never allows (measured
// with moto 5.2: two winners in about one of 40 rounds of 8 racing
// conditional updates from Python, one in 100 rounds of 16 from Go). The
// service's claims rely on that guarantee; without the proxy a chaos run
// would report moto's races as duplicates, and the end-to-end tests would
// be flaky where the product is right. An UpdateItem is serialized too,
// conditional or not: moto reads the item, applies the expression and
// writes it back without a lock, so two racing `ADD`s to one counter can
// lose one (seen: 10 of 12 concurrent adds counted), which DynamoDB's
// atomic updates never do.
//
// TransactWriteItems goes to moto whole, under the same lock, when moto runs
// through the launcher (launcher.py), which backs up a transaction's items.
// Plain moto deep-copies the whole table once per item of a transaction, so
// a transaction of 100 writes on a table of a few thousand items takes
// seconds, and one racing another write fails with a 500: against plain
// moto the proxy carries a transaction out itself, as the item writes it is
// made of (see transact).
type AtomicProxy struct {
	URL string
	// native: the DynamoDB moto_server answers with launcherHeader, so it
	// carries out transactions itself.
	native bool
	srv    *http.Server
	mu     sync.RWMutex // conditional writes hold it, other writes share it
	client http.Client
	keysMu sync.Mutex
	keys   map[string][]string // table -> key attribute names

	countMu sync.Mutex
	counts  map[string]int64         // requests by X-Amz-Target
	spent   map[string]time.Duration // time to answer them, by X-Amz-Target
}

// Requests returns how many requests the proxy has served, by operation
// (the X-Amz-Target header: "DynamoDB_20120810.GetItem",
// "AmazonSQS.ReceiveMessage"; "other" without one).
func (p *AtomicProxy) Requests() map[string]int64 {
	p.countMu.Lock()
	defer p.countMu.Unlock()
	return maps.Clone(p.counts)
}

// Spent returns the time the proxy took to answer requests, by operation
// as in Requests, waits for its lock included.
func (p *AtomicProxy) Spent() map[string]time.Duration {
	p.countMu.Lock()
	defer p.countMu.Unlock()
	return maps.Clone(p.spent)
}

func (p *AtomicProxy) count(target string, took time.Duration) {
	if target == "" {
		target = "other"
	}
	p.countMu.Lock()
	p.counts[target]++
	p.spent[target] += took
	p.countMu.Unlock()
}

// dynamoWrites are the DynamoDB operations serialized.
var dynamoWrites = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true,
	"BatchWriteItem": true, "TransactWriteItems": true}

// StartAtomicProxy starts a proxy to the moto_server at target; point the
// stack at its URL.
func StartAtomicProxy(target string) (*AtomicProxy, error) {
	return StartSplitProxy(target, target)
}

// StartSplitProxy is StartAtomicProxy with DynamoDB served by the
// moto_server at dynamoTarget and every other service by the one at target.
// moto serves each request under Python's global lock, so one process uses
// one core at most: two share the load of a long run.
func StartSplitProxy(target, dynamoTarget string) (*AtomicProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("moto endpoint %q: %w", target, err)
	}
	du, err := url.Parse(dynamoTarget)
	if err != nil {
		return nil, fmt.Errorf("moto endpoint %q: %w", dynamoTarget, err)
	}
	native, err := launched(dynamoTarget)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &AtomicProxy{URL: "http://" + l.Addr().String(), native: native, counts: map[string]int64{}, spent: map[string]time.Duration{}}
	quiet := log.New(io.Discard, "", 0) // requests cut off when the stack stops
	rp, drp := httputil.NewSingleHostReverseProxy(u), httputil.NewSingleHostReverseProxy(du)
	rp.ErrorLog, drp.ErrorLog = quiet, quiet
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() { p.count(r.Header.Get("X-Amz-Target"), time.Since(start)) }()
		op, dynamo := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		if !dynamo {
			rp.ServeHTTP(w, r)
			return
		}
		if dynamoWrites[op] {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if op == "TransactWriteItems" || op == "UpdateItem" || bytes.Contains(body, []byte(`"ConditionExpression"`)) || bytes.Contains(body, []byte(`"Expected"`)) {
				p.mu.Lock()
				defer p.mu.Unlock()
				if op == "TransactWriteItems" && !p.native && p.transact(w, r, du, body) {
					return
				}
			} else {
				p.mu.RLock()
				defer p.mu.RUnlock()
			}
		}
		drp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// launcherHeader marks the answers of a moto_server started through the
// launcher (launcher.py: TRANSACT_HEADER).
const launcherHeader = "X-Sfsync-Moto"

// launched reports whether the moto_server at endpoint runs through the
// launcher, whose transactions back up their items rather than their tables.
func launched(endpoint string) (bool, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(endpoint + "/moto-api/")
	if err != nil {
		return false, fmt.Errorf("moto endpoint %s: %w", endpoint, err)
	}
	resp.Body.Close()
	return resp.Header.Get(launcherHeader) == "item-backups", nil
}

// Close stops the proxy.
func (p *AtomicProxy) Close() error { return p.srv.Close() }

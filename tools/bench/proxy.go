package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
)

// countingProxy sits between the stack and moto_server and counts the AWS
// requests by service (moto keeps no count of its own). It reads each
// request's and answer's body: the DynamoDB capacity each request would
// consume (capacity.go), the SQS requests as billed (each 64 KB of payload
// one request), and the requests to KMS and Secrets Manager.
type countingProxy struct {
	URL    string
	dynamo atomic.Int64
	sqs    atomic.Int64
	other  atomic.Int64
	srv    *http.Server
	meter  *capacityMeter
	// dynamoInFlight is DynamoDB requests sent and not yet answered.
	dynamoInFlight atomic.Int64

	mu      sync.Mutex
	byOp    map[string]int64   // DynamoDB operation -> requests
	owners  *owners            // nil: requests are not split by process
	totals  Counts             // the billing figures (capacity, chunks, KMS) of all owners
	byOwner map[string]*Counts // the requests of each process (see owner.go)
}

// Counts are the requests seen so far; ByOwner splits them by the process
// that made them (its own ByOwner is nil). Other is every request that is
// neither DynamoDB nor SQS; KMS and SecretsManager are part of it.
type Counts struct {
	DynamoDB, SQS, Other int64
	DynamoDBByOp         map[string]int64
	ByOwner              map[string]Counts

	// Capacity is the DynamoDB request units the requests would consume;
	// CapacityByKind the same by item kind, operation and transaction
	// (kinds.go).
	Capacity       Capacity
	CapacityByKind kindUsage
	// SQSBilled is the SQS requests as billed (each 64 KB chunk of a
	// payload one request), SQSBilledByQueue the same by queue name.
	SQSBilled        int64
	SQSBilledByQueue map[string]int64
	KMS              int64
	SecretsManager   int64
}

func (c Counts) sub(o Counts) Counts {
	d := Counts{DynamoDB: c.DynamoDB - o.DynamoDB, SQS: c.SQS - o.SQS, Other: c.Other - o.Other, DynamoDBByOp: map[string]int64{},
		Capacity: c.Capacity.sub(o.Capacity), CapacityByKind: c.CapacityByKind.since(o.CapacityByKind), SQSBilled: c.SQSBilled - o.SQSBilled, SQSBilledByQueue: map[string]int64{},
		KMS: c.KMS - o.KMS, SecretsManager: c.SecretsManager - o.SecretsManager}
	for op, n := range c.DynamoDBByOp {
		if n -= o.DynamoDBByOp[op]; n > 0 {
			d.DynamoDBByOp[op] = n
		}
	}
	for q, n := range c.SQSBilledByQueue {
		if n -= o.SQSBilledByQueue[q]; n > 0 {
			d.SQSBilledByQueue[q] = n
		}
	}
	if c.ByOwner != nil {
		d.ByOwner = map[string]Counts{}
		for name, oc := range c.ByOwner {
			d.ByOwner[name] = oc.sub(o.ByOwner[name])
		}
	}
	return d
}

func (c Counts) clone() Counts {
	c.DynamoDBByOp = maps.Clone(c.DynamoDBByOp)
	c.SQSBilledByQueue = maps.Clone(c.SQSBilledByQueue)
	c.CapacityByKind = c.CapacityByKind.clone()
	c.ByOwner = nil
	return c
}

func (p *countingProxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := Counts{DynamoDB: p.dynamo.Load(), SQS: p.sqs.Load(), Other: p.other.Load(), DynamoDBByOp: maps.Clone(p.byOp), ByOwner: map[string]Counts{},
		Capacity: p.totals.Capacity, CapacityByKind: p.totals.CapacityByKind.clone(), SQSBilled: p.totals.SQSBilled, SQSBilledByQueue: maps.Clone(p.totals.SQSBilledByQueue),
		KMS: p.totals.KMS, SecretsManager: p.totals.SecretsManager}
	for name, oc := range p.byOwner {
		c.ByOwner[name] = oc.clone()
	}
	return c
}

// startProxy starts a counting proxy to target; with byProcess, each
// request is also counted for the process that made it.
func startProxy(target string, byProcess bool) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("moto endpoint %q: %w", target, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{URL: "http://" + l.Addr().String(), byOp: map[string]int64{}, byOwner: map[string]*Counts{}, meter: newCapacityMeter(),
		totals: Counts{SQSBilledByQueue: map[string]int64{}, CapacityByKind: kindUsage{}}}
	if byProcess {
		p.owners = newOwners()
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	// Requests cut off when the stack stops are not worth a line each.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = p.answered
	p.srv = &http.Server{ConnContext: connContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := p.count(r)
		if ex.dynamo {
			p.dynamoInFlight.Add(1)
			defer p.dynamoInFlight.Add(-1)
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// exchange is what the proxy keeps of a request until its answer.
type exchange struct {
	owner  string
	dynamo bool
	sqs    bool
	op     string // DynamoDB or SQS operation
	queue  string // SQS queue name
	body   []byte
}

type exchangeKey struct{}

// ownerCounts is owner's counts (p.mu held).
func (p *countingProxy) ownerCounts(owner string) *Counts {
	oc := p.byOwner[owner]
	if oc == nil {
		oc = &Counts{DynamoDBByOp: map[string]int64{}, SQSBilledByQueue: map[string]int64{}, CapacityByKind: kindUsage{}}
		p.byOwner[owner] = oc
	}
	return oc
}

// count classifies a request by its X-Amz-Target (the JSON protocols of
// DynamoDB, SQS, KMS and Secrets Manager) or, for query-protocol SQS, its
// Action, counts it, and keeps its body for the answer.
func (p *countingProxy) count(r *http.Request) *exchange {
	ex := &exchange{owner: ownerUnknown}
	if p.owners != nil {
		ex.owner = p.owners.of(r)
	}
	target := r.Header.Get("X-Amz-Target")
	if r.Body != nil {
		ex.body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(ex.body))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	oc := p.ownerCounts(ex.owner)
	switch {
	case strings.HasPrefix(target, "DynamoDB_"):
		p.dynamo.Add(1)
		_, ex.op, _ = strings.Cut(target, ".")
		ex.dynamo = true
		p.byOp[ex.op]++
		oc.DynamoDB++
		oc.DynamoDBByOp[ex.op]++
	case strings.HasPrefix(target, "AmazonSQS."), target == "" && r.URL.Query().Get("Action") != "" && strings.Contains(r.Header.Get("Authorization"), "/sqs/"):
		p.sqs.Add(1)
		oc.SQS++
		ex.sqs = true
		ex.op = strings.TrimPrefix(target, "AmazonSQS.")
		var q struct{ QueueUrl string }
		_ = json.Unmarshal(ex.body, &q)
		if q.QueueUrl != "" {
			ex.queue = path.Base(q.QueueUrl)
		}
	default:
		p.other.Add(1)
		oc.Other++
		switch {
		case strings.HasPrefix(target, "TrentService."):
			p.totals.KMS++
			oc.KMS++
		case strings.HasPrefix(target, "secretsmanager."):
			p.totals.SecretsManager++
			oc.SecretsManager++
		}
	}
	return ex
}

// answered is the reverse proxy's ModifyResponse: it reads the answer to
// a DynamoDB or SQS request for what the request costs.
func (p *countingProxy) answered(resp *http.Response) error {
	ex, _ := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil || !(ex.dynamo || ex.sqs) {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				body = plain
			}
		}
	}
	if ex.dynamo {
		c, kinds := p.meter.observeKinds(ex.op, ex.body, body, resp.StatusCode)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.totals.Capacity = p.totals.Capacity.add(c)
		p.totals.CapacityByKind.addAll(kinds)
		oc := p.ownerCounts(ex.owner)
		oc.Capacity = oc.Capacity.add(c)
		oc.CapacityByKind.addAll(kinds)
		return nil
	}
	n := sqsBilled(ex.op, ex.body, body)
	p.mu.Lock()
	defer p.mu.Unlock()
	oc := p.ownerCounts(ex.owner)
	p.totals.SQSBilled += n
	p.totals.SQSBilledByQueue[ex.queue] += n
	oc.SQSBilled += n
	oc.SQSBilledByQueue[ex.queue] += n
	return nil
}

// settled reports whether no DynamoDB request is waiting for its answer.
func (p *countingProxy) settled() bool { return p.dynamoInFlight.Load() == 0 }

// setTables tells the capacity meter the stack's table names.
func (p *countingProxy) setTables(names map[string]string) { p.meter.setTables(names) }

func (p *countingProxy) Close() error { return p.srv.Close() }

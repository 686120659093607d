package main

import (
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
	"sync/atomic"
)

// countingProxy sits between the stack and moto_server and counts the AWS
// requests by service (moto keeps no count of its own).
type countingProxy struct {
	URL    string
	dynamo atomic.Int64
	sqs    atomic.Int64
	other  atomic.Int64
	srv    *http.Server

	mu      sync.Mutex
	byOp    map[string]int64 // DynamoDB operation -> requests
	owners  *owners
	byOwner map[string]*Counts // the requests of each process (see owner.go)
}

// Counts are the requests seen so far; ByOwner splits them by the process
// that made them (its own ByOwner is nil).
type Counts struct {
	DynamoDB, SQS, Other int64
	DynamoDBByOp         map[string]int64
	ByOwner              map[string]Counts
}

func (c Counts) sub(o Counts) Counts {
	d := Counts{DynamoDB: c.DynamoDB - o.DynamoDB, SQS: c.SQS - o.SQS, Other: c.Other - o.Other, DynamoDBByOp: map[string]int64{}}
	for op, n := range c.DynamoDBByOp {
		if n -= o.DynamoDBByOp[op]; n > 0 {
			d.DynamoDBByOp[op] = n
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
	c.ByOwner = nil
	return c
}

func (p *countingProxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := Counts{DynamoDB: p.dynamo.Load(), SQS: p.sqs.Load(), Other: p.other.Load(), DynamoDBByOp: maps.Clone(p.byOp), ByOwner: map[string]Counts{}}
	for name, oc := range p.byOwner {
		c.ByOwner[name] = oc.clone()
	}
	return c
}

func startProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("moto endpoint %q: %w", target, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{URL: "http://" + l.Addr().String(), byOp: map[string]int64{}, owners: newOwners(), byOwner: map[string]*Counts{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	// Requests cut off when the stack stops are not worth a line each.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = &http.Server{ConnContext: connContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// count classifies a request by its X-Amz-Target (the JSON protocols of
// DynamoDB and SQS) or, for query-protocol SQS, its Action.
func (p *countingProxy) count(r *http.Request) {
	owner := p.owners.of(r)
	target := r.Header.Get("X-Amz-Target")
	p.mu.Lock()
	defer p.mu.Unlock()
	oc := p.byOwner[owner]
	if oc == nil {
		oc = &Counts{DynamoDBByOp: map[string]int64{}}
		p.byOwner[owner] = oc
	}
	switch {
	case strings.HasPrefix(target, "DynamoDB_"):
		p.dynamo.Add(1)
		_, op, _ := strings.Cut(target, ".")
		p.byOp[op]++
		oc.DynamoDB++
		oc.DynamoDBByOp[op]++
	case strings.HasPrefix(target, "AmazonSQS."), target == "" && r.URL.Query().Get("Action") != "" && strings.Contains(r.Header.Get("Authorization"), "/sqs/"):
		p.sqs.Add(1)
		oc.SQS++
	default:
		p.other.Add(1)
		oc.Other++
	}
}

func (p *countingProxy) Close() error { return p.srv.Close() }

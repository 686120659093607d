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

	mu   sync.Mutex
	byOp map[string]int64 // DynamoDB operation -> requests
}

// Counts are the requests seen so far.
type Counts struct {
	DynamoDB, SQS, Other int64
	DynamoDBByOp         map[string]int64
}

func (c Counts) sub(o Counts) Counts {
	d := Counts{DynamoDB: c.DynamoDB - o.DynamoDB, SQS: c.SQS - o.SQS, Other: c.Other - o.Other, DynamoDBByOp: map[string]int64{}}
	for op, n := range c.DynamoDBByOp {
		if n -= o.DynamoDBByOp[op]; n > 0 {
			d.DynamoDBByOp[op] = n
		}
	}
	return d
}

func (p *countingProxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Counts{DynamoDB: p.dynamo.Load(), SQS: p.sqs.Load(), Other: p.other.Load(), DynamoDBByOp: maps.Clone(p.byOp)}
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
	p := &countingProxy{URL: "http://" + l.Addr().String(), byOp: map[string]int64{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	// Requests cut off when the stack stops are not worth a line each.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// count classifies a request by its X-Amz-Target (the JSON protocols of
// DynamoDB and SQS) or, for query-protocol SQS, its Action.
func (p *countingProxy) count(r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "DynamoDB_"):
		p.dynamo.Add(1)
		_, op, _ := strings.Cut(target, ".")
		p.mu.Lock()
		p.byOp[op]++
		p.mu.Unlock()
	case strings.HasPrefix(target, "AmazonSQS."), target == "" && r.URL.Query().Get("Action") != "" && strings.Contains(r.Header.Get("Authorization"), "/sqs/"):
		p.sqs.Add(1)
	default:
		p.other.Add(1)
	}
}

func (p *countingProxy) Close() error { return p.srv.Close() }

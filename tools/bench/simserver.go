package main

import (
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// simServer serves one simulated org on its own listener and counts the
// API calls the org counts (those answered with Sforce-Limit-Info) by the
// process that made them. The org is never Started: it builds its login and
// instance URLs from each request's Host, so every call of a connected team
// comes through here.
type simServer struct {
	Org *org.Org
	URL string
	srv *http.Server

	mu      sync.Mutex
	byOwner map[string]int
}

func startSimServer(o *org.Org, ow *owners) (*simServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &simServer{Org: o, URL: "http://" + l.Addr().String(), byOwner: map[string]int{}}
	h := o.Handler()
	s.srv = &http.Server{ConnContext: connContext, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		// The org counts a data API call exactly when it answers with its
		// usage header and has not refused it for the limit.
		if strings.HasPrefix(r.URL.Path, "/services/data") && w.Header().Get("Sforce-Limit-Info") != "" {
			owner := ow.of(r)
			s.mu.Lock()
			s.byOwner[owner]++
			s.mu.Unlock()
		}
	})}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Calls are the counted calls so far by owner.
func (s *simServer) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.byOwner)
}

func (s *simServer) Close() error {
	err := s.srv.Close()
	_ = s.Org.Close()
	return err
}

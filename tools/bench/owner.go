package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sfsync/sfsync/tools/runner"
)

// Who made a request: the mixed phase splits the AWS and Salesforce requests
// by the process that made them. Contact events are handled by contactsync
// and email events by activitysync, so a function's requests are its kind's.
// The function processes are plain local processes, so the owner of a
// connection is found on Linux from /proc: the client socket's inode in
// /proc/net/tcp, then the process holding it, then that process's
// AWS_LAMBDA_FUNCTION_NAME. Elsewhere (or when the lookup fails) the owner is
// ownerUnknown and the figures say how much went unattributed.
const (
	ownerBench   = "bench" // this process: the runner's pollers and the sequencer
	ownerOther   = "other" // a process that is no function
	ownerUnknown = "unknown"
)

// owners resolves and caches connection owners.
type owners struct {
	mu    sync.Mutex
	names map[int]string // pid -> owner
	seen  []int          // pids that owned a connection, checked first
}

func newOwners() *owners { return &owners{names: map[int]string{}} }

// connKey carries a connection's lazily resolved owner in its context.
type connKey struct{}

type connOwner struct {
	once   sync.Once
	name   string
	local  string // the server side of the connection
	remote string // the client side
}

// connContext is an http.Server's ConnContext: it notes the connection so
// the first request on it can resolve its owner.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connOwner{local: c.LocalAddr().String(), remote: c.RemoteAddr().String()})
}

// of returns the owner of r: the function a table gate passed it on for
// (every function reaches AWS through its gate, which runs in this
// process), else the owner of the connection it came on.
func (o *owners) of(r *http.Request) string {
	if f := r.Header.Get(runner.FunctionHeader); f != "" {
		return f
	}
	co, ok := r.Context().Value(connKey{}).(*connOwner)
	if !ok || o == nil {
		return ownerUnknown
	}
	co.once.Do(func() { co.name = o.resolve(co.remote, co.local) })
	return co.name
}

// resolve finds the process whose socket connects client to server.
func (o *owners) resolve(client, server string) string {
	cport, sport := port(client), port(server)
	if cport == 0 || sport == 0 {
		return ownerUnknown
	}
	inode := socketInode(cport, sport)
	if inode == "" {
		return ownerUnknown
	}
	link := "socket:[" + inode + "]"
	o.mu.Lock()
	seen := append([]int(nil), o.seen...)
	o.mu.Unlock()
	for _, pid := range seen {
		if holds(pid, link) {
			return o.name(pid)
		}
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return ownerUnknown
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || containsInt(seen, pid) {
			continue
		}
		if holds(pid, link) {
			o.mu.Lock()
			o.seen = append(o.seen, pid)
			o.mu.Unlock()
			return o.name(pid)
		}
	}
	return ownerUnknown
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// name is the owner name of pid: bench for this process, the Lambda
// function name of a function process, other for anything else.
func (o *owners) name(pid int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n, ok := o.names[pid]; ok {
		return n
	}
	n := ownerOther
	if pid == os.Getpid() {
		n = ownerBench
	} else if env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ")); err == nil {
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("AWS_LAMBDA_FUNCTION_NAME=")); ok && len(v) > 0 {
				n = string(v)
				break
			}
		}
	}
	o.names[pid] = n
	return n
}

// holds reports whether pid has a file descriptor on link ("socket:[n]").
func holds(pid int, link string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == link {
			return true
		}
	}
	return false
}

// socketInode finds, in /proc/net/tcp and tcp6, the socket whose local port
// is cport and remote port sport (the client's end), and returns its inode.
func socketInode(cport, sport int) string {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if ino := findInode(f, cport, sport); ino != "" {
			return ino
		}
	}
	return ""
}

func findInode(path string, cport, sport int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		if hexPort(fields[1]) == cport && hexPort(fields[2]) == sport && fields[9] != "0" {
			return fields[9]
		}
	}
	return ""
}

// hexPort reads the port of a /proc/net/tcp address ("0100007F:1F90").
func hexPort(addr string) int {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return 0
	}
	n, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return 0
	}
	return int(n)
}

func port(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

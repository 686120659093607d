package attribution_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/attribution/attributiontest"
)

// t0 is the tests' start time.
var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// clock is a test's clock: it moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// store is the in-memory UserStore, counting its calls, and failing them
// with readErr / keepErr when set.
type store struct {
	*attributiontest.UserStore
	mu      sync.Mutex
	reads   [][]string
	keeps   []map[string]attribution.Known
	readErr error
	keepErr error
}

func newStore() *store { return &store{UserStore: attributiontest.NewUserStore()} }

func (s *store) KnownUsers(ctx context.Context, team string, emails []string) (map[string]attribution.Known, error) {
	s.mu.Lock()
	s.reads = append(s.reads, slices.Clone(emails))
	err := s.readErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.UserStore.KnownUsers(ctx, team, emails)
}

func (s *store) KeepUsers(ctx context.Context, team string, known map[string]attribution.Known) error {
	s.mu.Lock()
	s.keeps = append(s.keeps, known)
	err := s.keepErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.UserStore.KeepUsers(ctx, team, known)
}

func (s *store) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reads)
}

// countCall is one ContactCounts call.
type countCall struct{ ids, domains []string }

// directory is a fake org: Look answers the users of the asked emails,
// and, as a SOQL LIKE '%domain%' would, every Account whose website
// contains an asked domain, and those named (case-insensitively) an asked
// name. It records its calls.
type directory struct {
	users    map[string]attribution.User
	accounts []attribution.Account
	counts   map[string]map[string]int
	lookErr  error
	countErr error

	looks      []attribution.Query
	countCalls []countCall
}

func (d *directory) Look(_ context.Context, q attribution.Query) (attribution.Found, error) {
	d.looks = append(d.looks, attribution.Query{RepEmails: slices.Clone(q.RepEmails), Domains: slices.Clone(q.Domains), Names: slices.Clone(q.Names)})
	if d.lookErr != nil {
		return attribution.Found{}, d.lookErr
	}
	f := attribution.Found{Users: map[string]attribution.User{}}
	for _, e := range q.RepEmails {
		if u, ok := d.users[e]; ok {
			f.Users[e] = u
		}
	}
	for _, a := range d.accounts {
		hit := false
		for _, dom := range q.Domains {
			hit = hit || strings.Contains(strings.ToLower(a.Website), dom)
		}
		for _, n := range q.Names {
			hit = hit || strings.EqualFold(a.Name, n)
		}
		if hit {
			f.Accounts = append(f.Accounts, a)
		}
	}
	return f, nil
}

func (d *directory) ContactCounts(_ context.Context, ids, domains []string) (map[string]map[string]int, error) {
	d.countCalls = append(d.countCalls, countCall{slices.Clone(ids), slices.Clone(domains)})
	if d.countErr != nil {
		return nil, d.countErr
	}
	out := map[string]map[string]int{}
	for _, id := range ids {
		for _, dom := range domains {
			if n := d.counts[id][dom]; n > 0 {
				if out[id] == nil {
					out[id] = map[string]int{}
				}
				out[id][dom] = n
			}
		}
	}
	return out, nil
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

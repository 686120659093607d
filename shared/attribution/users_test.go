package attribution_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/sfsync/sfsync/shared/event"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
)

var quiet = slog.New(slog.DiscardHandler)

var (
	ann = attribution.User{ID: "005ANN", Active: true}
	bob = attribution.User{ID: "005BOB", Active: true}
)

// unknown calls u.Unknown and checks its answer.
func unknown(t *testing.T, u *attribution.Users, team string, emails []string, wantMissing []string, wantUsers map[string]attribution.User) {
	t.Helper()
	missing, users := u.Unknown(context.Background(), team, emails)
	if !reflect.DeepEqual(sorted(missing), sorted(wantMissing)) {
		t.Errorf("missing: got %q; want %q", missing, wantMissing)
	}
	if wantUsers == nil {
		wantUsers = map[string]attribution.User{}
	}
	if !reflect.DeepEqual(users, wantUsers) {
		t.Errorf("users: got %v; want %v", users, wantUsers)
	}
}

// TestUsersMemoryTTL: what was learned is answered from memory for the
// TTL, without reading the store; at the TTL it is asked again.
func TestUsersMemoryTTL(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{0, time.Hour} { // 0: DefaultUserTTL
		clk, st := newClock(), newStore()
		u := &attribution.Users{Store: st, TTL: ttl, Now: clk.Now, Log: quiet}
		want := ttl
		if want == 0 {
			want = attribution.DefaultUserTTL
		}
		emails := []string{"ann@acme.com", "bob@acme.com"}
		u.Learned(context.Background(), "team_a", emails, map[string]attribution.User{"ann@acme.com": ann})

		clk.Advance(want - time.Nanosecond)
		unknown(t, u, "team_a", emails, nil, map[string]attribution.User{"ann@acme.com": ann})
		if n := st.readCount(); n != 0 {
			t.Errorf("TTL %v, within it: got %d store reads; want 0", ttl, n)
		}

		clk.Advance(time.Nanosecond)
		unknown(t, u, "team_a", emails, emails, nil) // the store's copies are as old
		if n := st.readCount(); n != 1 {
			t.Errorf("TTL %v, at it: got %d store reads; want 1", ttl, n)
		}
	}
}

// TestUsersNoStore: with no store, memory alone answers.
func TestUsersNoStore(t *testing.T) {
	t.Parallel()
	clk := newClock()
	u := &attribution.Users{TTL: time.Hour, Now: clk.Now, Log: quiet}
	unknown(t, u, "team_a", []string{"ann@acme.com"}, []string{"ann@acme.com"}, nil)
	u.Learned(context.Background(), "team_a", []string{"ann@acme.com"}, map[string]attribution.User{"ann@acme.com": ann})
	unknown(t, u, "team_a", []string{"ann@acme.com"}, nil, map[string]attribution.User{"ann@acme.com": ann})
}

// TestUsersAskedOnce: an email asked twice, and an empty one, are asked
// once and not at all.
func TestUsersAskedOnce(t *testing.T) {
	t.Parallel()
	u := &attribution.Users{Now: newClock().Now, Log: quiet}
	unknown(t, u, "team_a", []string{"ann@acme.com", "", "ann@acme.com", "bob@acme.com"}, []string{"ann@acme.com", "bob@acme.com"}, nil)
}

// TestUsersStoreFillsMemory: what another instance kept is used while
// fresh, and then answered from memory without reading the store again;
// what it kept too long ago is asked.
func TestUsersStoreFillsMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk, st := newClock(), newStore()
	err := st.UserStore.KeepUsers(ctx, "team_a", map[string]attribution.Known{
		"ann@acme.com":    {User: ann, Found: true, At: t0.Add(-time.Hour)},
		"nouser@acme.com": {Found: false, At: t0.Add(-time.Hour)},
		"old@acme.com":    {User: bob, Found: true, At: t0.Add(-7 * time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := &attribution.Users{Store: st, TTL: 6 * time.Hour, Now: clk.Now, Log: quiet}
	emails := []string{"ann@acme.com", "nouser@acme.com", "old@acme.com", "new@acme.com"}
	unknown(t, u, "team_a", emails, []string{"old@acme.com", "new@acme.com"}, map[string]attribution.User{"ann@acme.com": ann})
	if n := st.readCount(); n != 1 {
		t.Fatalf("got %d store reads; want 1", n)
	}
	if got := st.reads[0]; !reflect.DeepEqual(sorted(got), sorted(emails)) {
		t.Errorf("store read: got %q; want %q", got, emails)
	}
	unknown(t, u, "team_a", []string{"ann@acme.com", "nouser@acme.com"}, nil, map[string]attribution.User{"ann@acme.com": ann})
	if n := st.readCount(); n != 1 {
		t.Errorf("after the store filled memory: got %d store reads; want still 1", n)
	}
	// The store's entry is used for the TTL after it was learned, not after
	// it was read.
	clk.Advance(5 * time.Hour)
	unknown(t, u, "team_a", []string{"ann@acme.com"}, []string{"ann@acme.com"}, nil)
}

// TestUsersStoreErrors: a store that cannot be read is as if empty (the
// org is asked), and one that cannot keep still leaves memory knowing;
// both are logged, neither returned.
func TestUsersStoreErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer
	clk, st := newClock(), newStore()
	u := &attribution.Users{Store: st, TTL: time.Hour, Now: clk.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	u.Learned(ctx, "team_a", []string{"ann@acme.com"}, map[string]attribution.User{"ann@acme.com": ann})

	st.readErr = errors.New("throttled reading")
	unknown(t, u, "team_a", []string{"ann@acme.com", "bob@acme.com"}, []string{"bob@acme.com"}, map[string]attribution.User{"ann@acme.com": ann})
	if !strings.Contains(logs.String(), "read known reps") || !strings.Contains(logs.String(), "throttled reading") || !strings.Contains(logs.String(), "team_a") {
		t.Errorf("log: got %q; want the read error, with the team", logs.String())
	}

	st.keepErr = errors.New("throttled writing")
	u.Learned(ctx, "team_a", []string{"bob@acme.com"}, map[string]attribution.User{"bob@acme.com": bob})
	if !strings.Contains(logs.String(), "keep known reps") || !strings.Contains(logs.String(), "throttled writing") {
		t.Errorf("log: got %q; want the keep error", logs.String())
	}
	unknown(t, u, "team_a", []string{"bob@acme.com"}, nil, map[string]attribution.User{"bob@acme.com": bob})
}

// TestUsersLearned: the org's answer is kept in memory and the store,
// users and emails with no user alike, stamped now; an email with no user
// is not asked again within the TTL.
func TestUsersLearned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk, st := newClock(), newStore()
	u := &attribution.Users{Store: st, TTL: time.Hour, Now: clk.Now, Log: quiet}
	clk.Advance(time.Minute)
	u.Learned(ctx, "team_a", []string{"ann@acme.com", "nouser@acme.com"}, map[string]attribution.User{"ann@acme.com": ann})
	u.Learned(ctx, "team_a", nil, nil) // nothing asked: nothing kept

	if len(st.keeps) != 1 {
		t.Fatalf("got %d keeps; want 1", len(st.keeps))
	}
	at := t0.Add(time.Minute)
	want := map[string]attribution.Known{
		"ann@acme.com":    {User: ann, Found: true, At: at},
		"nouser@acme.com": {Found: false, At: at},
	}
	if !reflect.DeepEqual(st.keeps[0], want) {
		t.Errorf("kept: got %+v; want %+v", st.keeps[0], want)
	}
	clk.Advance(59 * time.Minute)
	unknown(t, u, "team_a", []string{"nouser@acme.com"}, nil, nil)
	if n := st.readCount(); n != 0 {
		t.Errorf("got %d store reads; want 0 (known in memory to have no user)", n)
	}
	// Another instance, sharing only the store, knows it too.
	other := &attribution.Users{Store: st, TTL: time.Hour, Now: clk.Now, Log: quiet}
	unknown(t, other, "team_a", []string{"nouser@acme.com", "ann@acme.com"}, nil, map[string]attribution.User{"ann@acme.com": ann})
}

// TestUsersTeamsApart: one team's reps are never another's.
func TestUsersTeamsApart(t *testing.T) {
	t.Parallel()
	clk, st := newClock(), newStore()
	u := &attribution.Users{Store: st, TTL: time.Hour, Now: clk.Now, Log: quiet}
	u.Learned(context.Background(), "team_a", []string{"ann@acme.com"}, map[string]attribution.User{"ann@acme.com": ann})
	unknown(t, u, "team_b", []string{"ann@acme.com"}, []string{"ann@acme.com"}, nil)
}

// TestUsersInactive: a user Salesforce refused as inactive is known
// inactive, for every email that has it, from now, in memory and the
// store: the next decisions go to the fallback without asking the org.
func TestUsersInactive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk, st := newClock(), newStore()
	u := &attribution.Users{Store: st, TTL: 6 * time.Hour, Now: clk.Now, Log: quiet}
	emails := []string{"ann@acme.com", "ann.alias@acme.com", "bob@acme.com"}
	u.Learned(ctx, "team_a", emails, map[string]attribution.User{"ann@acme.com": ann, "ann.alias@acme.com": ann, "bob@acme.com": bob})
	u.Learned(ctx, "team_b", []string{"ann@acme.com"}, map[string]attribution.User{"ann@acme.com": ann})

	clk.Advance(5 * time.Hour)
	u.Inactive(ctx, "team_a", "005ANN")
	// The other team's rep with the same id is another org's user.
	unknown(t, u, "team_b", []string{"ann@acme.com"}, nil, map[string]attribution.User{"ann@acme.com": ann})
	clk.Advance(2 * time.Hour) // past the TTL of the learning, within that of the refusal

	gone := attribution.User{ID: "005ANN", Active: false}
	missing, users := u.Unknown(ctx, "team_a", emails)
	if !reflect.DeepEqual(missing, []string{"bob@acme.com"}) {
		t.Errorf("missing: got %q; want only bob@acme.com (learned 7 hours ago)", missing)
	}
	want := map[string]attribution.User{"ann@acme.com": gone, "ann.alias@acme.com": gone}
	if !reflect.DeepEqual(users, want) {
		t.Errorf("users: got %v; want %v", users, want)
	}
	rules := attribution.OwnerRules{TeamFallback: "005FB"}
	if o := rules.Decide(false, "ann@acme.com", users); o.ID != "005FB" || o.By != event.OwnerFallback {
		t.Errorf("owner: got %q by %s; want 005FB by fallback", o.ID, o.By)
	}
	kept, err := st.UserStore.KnownUsers(ctx, "team_a", []string{"ann@acme.com", "ann.alias@acme.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"ann@acme.com", "ann.alias@acme.com"} {
		if k := kept[e]; k.User != gone || !k.Found || !k.At.Equal(t0.Add(5*time.Hour)) {
			t.Errorf("store: %s: got %+v; want %+v found at %v", e, k, gone, t0.Add(5*time.Hour))
		}
	}
	// An id no rep has changes nothing and keeps nothing.
	keeps := len(st.keeps)
	u.Inactive(ctx, "team_a", "005NOBODY")
	if len(st.keeps) != keeps {
		t.Errorf("Inactive of an unknown id: got %d keeps; want none", len(st.keeps)-keeps)
	}
}

// TestUsersConcurrent: Unknown, Learned and Inactive side by side (run
// with -race), for several teams, leave every rep known.
func TestUsersConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk, st := newClock(), newStore()
	u := &attribution.Users{Store: st, TTL: time.Hour, Now: clk.Now, Log: quiet}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			team := fmt.Sprintf("team_%d", w%4)
			for i := range 20 {
				e := fmt.Sprintf("rep%d.%d@acme.com", w, i)
				missing, _ := u.Unknown(ctx, team, []string{e, "shared@acme.com"})
				u.Learned(ctx, team, missing, map[string]attribution.User{e: {ID: fmt.Sprintf("005%d", i), Active: true}})
				if i%5 == 0 {
					u.Inactive(ctx, team, "0050") // each team's rep?.0: marked inactive, concurrently
				}
				clk.Advance(time.Millisecond)
			}
		})
	}
	wg.Wait()
	for w := range 16 {
		team := fmt.Sprintf("team_%d", w%4)
		for i := range 20 {
			e := fmt.Sprintf("rep%d.%d@acme.com", w, i)
			missing, users := u.Unknown(ctx, team, []string{e})
			if len(missing) != 0 || users[e].ID != fmt.Sprintf("005%d", i) {
				t.Errorf("%s %s: got missing %q, users %v; want known as 005%d", team, e, missing, users, i)
			}
		}
	}
}

// TestUsersBoundedPerTeam: a team sending more distinct reps than
// MaxKnownPerTeam never holds more than that in memory: stale entries go
// first, then the team's whole map; another team's entries stay.
func TestUsersBoundedPerTeam(t *testing.T) {
	t.Parallel()
	c := newClock()
	u := &attribution.Users{Now: c.Now}
	ctx := context.Background()
	u.Learned(ctx, "team_b", []string{"kept@seller.io"}, nil)
	batch := func(from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("rep%d@seller.io", from+i)
		}
		return out
	}
	u.Learned(ctx, "team_a", batch(0, attribution.MaxKnownPerTeam), nil)
	if missing, _ := u.Unknown(ctx, "team_a", batch(0, 10)); len(missing) != 0 {
		t.Fatalf("within the bound: got %d unknown; want 0", len(missing))
	}
	u.Learned(ctx, "team_a", batch(attribution.MaxKnownPerTeam, 1), nil) // one over: the team's map starts again
	if missing, _ := u.Unknown(ctx, "team_a", batch(0, 10)); len(missing) != 10 {
		t.Errorf("past the bound: got %d of the first reps still known; want none", 10-len(missing))
	}
	if missing, _ := u.Unknown(ctx, "team_b", []string{"kept@seller.io"}); len(missing) != 0 {
		t.Errorf("another team: got its rep forgotten; want it kept")
	}
}

// TestNilUsersKeepNothing: an engine without a cache asks the org each
// time and never panics when Salesforce refuses an inactive user.
func TestNilUsersKeepNothing(t *testing.T) {
	t.Parallel()
	var u *attribution.Users
	ctx := context.Background()
	u.Learned(ctx, "team_a", []string{"a@seller.io"}, nil)
	u.Inactive(ctx, "team_a", "005U1")
	if missing, known := u.Unknown(ctx, "team_a", []string{"a@seller.io", "a@seller.io"}); len(missing) != 1 || len(known) != 0 {
		t.Errorf("got %v unknown, %v known; want the one email unknown", missing, known)
	}
}

// TestUsersOfAnEarlierConnection: what was learned before the team's
// connection (of the org it was connected to before) is unknown again.
func TestUsersOfAnEarlierConnection(t *testing.T) {
	t.Parallel()
	c := newClock()
	u := &attribution.Users{Now: c.Now}
	ctx := context.Background()
	u.Learned(ctx, "team_a", []string{"rep@seller.io"}, map[string]attribution.User{"rep@seller.io": {ID: "005OLD", Active: true}})
	c.Advance(time.Minute)
	reconnected := c.Now()
	if missing, _ := u.UnknownSince(ctx, "team_a", reconnected, []string{"rep@seller.io"}); len(missing) != 1 {
		t.Errorf("after a reconnect: got %v unknown; want the rep asked again", missing)
	}
	if missing, known := u.UnknownSince(ctx, "team_a", reconnected.Add(-time.Hour), []string{"rep@seller.io"}); len(missing) != 0 || known["rep@seller.io"].ID != "005OLD" {
		t.Errorf("same connection: got %v unknown, %v known; want it known", missing, known)
	}
}

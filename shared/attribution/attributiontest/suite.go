package attributiontest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/policy"
)

// t0 has nanoseconds and a zone other than UTC: a store must keep the
// instant, to the nanosecond.
var t0 = time.Date(2026, 3, 4, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

// UserStoreSuite checks the store newStore returns (a fresh, empty one per
// call): each case, in parallel, on a store of its own.
func UserStoreSuite(t *testing.T, newStore func(t *testing.T) attribution.UserStore) {
	for _, c := range userStoreCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, newStore(t))
		})
	}
}

var userStoreCases = []struct {
	name  string
	check func(t *testing.T, s attribution.UserStore)
}{
	{"emails never kept are absent", neverKept},
	{"found and not-found entries come back with their time", roundTrip},
	{"teams are apart", teamsApart},
	{"a later keep replaces the entry, and only its own", laterKeepReplaces},
	{"many emails in one call", manyEmails},
	{"invalid teams and emails are refused", invalidRefused},
	{"concurrent keeps and reads", concurrent},
}

// same reports whether two entries say the same: user, found, and the
// same instant.
func same(a, b attribution.Known) bool {
	return a.User == b.User && a.Found == b.Found && a.At.Equal(b.At)
}

// expect checks that got holds exactly want.
func expect(t *testing.T, what string, got, want map[string]attribution.Known) {
	t.Helper()
	for e, w := range want {
		g, ok := got[e]
		switch {
		case !ok:
			t.Errorf("%s: %s: got nothing; want %+v", what, e, w)
		case !same(g, w):
			t.Errorf("%s: %s: got %+v; want %+v", what, e, g, w)
		}
	}
	for e, g := range got {
		if _, ok := want[e]; !ok {
			t.Errorf("%s: %s: got %+v; want nothing (never kept)", what, e, g)
		}
	}
}

func read(t *testing.T, s attribution.UserStore, team string, emails ...string) map[string]attribution.Known {
	t.Helper()
	got, err := s.KnownUsers(context.Background(), team, emails)
	if err != nil {
		t.Fatalf("KnownUsers(%s, %d emails): got error %v; want none", team, len(emails), err)
	}
	return got
}

func keep(t *testing.T, s attribution.UserStore, team string, known map[string]attribution.Known) {
	t.Helper()
	if err := s.KeepUsers(context.Background(), team, known); err != nil {
		t.Fatalf("KeepUsers(%s, %d entries): got error %v; want none", team, len(known), err)
	}
}

// neverKept: an empty store answers every email absent, and no emails
// with nothing.
func neverKept(t *testing.T, s attribution.UserStore) {
	expect(t, "empty store", read(t, s, "team_a", "ann@acme.com", "bob@acme.com"), nil)
	expect(t, "no emails", read(t, s, "team_a"), nil)
	keep(t, s, "team_a", nil) // nothing to keep: no error
}

// roundTrip: a found active user, a found inactive one and an email with
// no user come back as kept, with their times; an email never kept stays
// absent beside them.
func roundTrip(t *testing.T, s attribution.UserStore) {
	kept := map[string]attribution.Known{
		"ann@acme.com": {User: attribution.User{ID: "005A", Active: true}, Found: true, At: t0},
		"bob@acme.com": {User: attribution.User{ID: "005B"}, Found: true, At: t0.Add(time.Nanosecond)},
		"cy@acme.com":  {Found: false, At: t0.Add(-time.Hour)},
	}
	keep(t, s, "team_a", kept)
	expect(t, "after one keep", read(t, s, "team_a", "ann@acme.com", "bob@acme.com", "cy@acme.com", "dee@acme.com"), kept)
	// Asking for one email twice answers it once.
	expect(t, "asked twice", read(t, s, "team_a", "ann@acme.com", "ann@acme.com"),
		map[string]attribution.Known{"ann@acme.com": kept["ann@acme.com"]})
}

// teamsApart: team B never sees team A's reps, and one email kept by both
// teams answers each with its own.
func teamsApart(t *testing.T, s attribution.UserStore) {
	a := attribution.Known{User: attribution.User{ID: "005A", Active: true}, Found: true, At: t0}
	b := attribution.Known{Found: false, At: t0.Add(time.Minute)}
	keep(t, s, "team_a", map[string]attribution.Known{"ann@acme.com": a, "only@acme.com": a})
	expect(t, "team B before its keep", read(t, s, "team_b", "ann@acme.com", "only@acme.com"), nil)
	keep(t, s, "team_b", map[string]attribution.Known{"ann@acme.com": b})
	expect(t, "team A", read(t, s, "team_a", "ann@acme.com", "only@acme.com"),
		map[string]attribution.Known{"ann@acme.com": a, "only@acme.com": a})
	expect(t, "team B", read(t, s, "team_b", "ann@acme.com", "only@acme.com"),
		map[string]attribution.Known{"ann@acme.com": b})
}

// laterKeepReplaces: keeping an email again replaces what was kept of it
// (found becomes not found and back, the newest time wins); the team's
// other emails are left as they were.
func laterKeepReplaces(t *testing.T, s attribution.UserStore) {
	first := attribution.Known{User: attribution.User{ID: "005A", Active: true}, Found: true, At: t0}
	other := attribution.Known{User: attribution.User{ID: "005O", Active: true}, Found: true, At: t0}
	keep(t, s, "team_a", map[string]attribution.Known{"ann@acme.com": first, "other@acme.com": other})

	gone := attribution.Known{Found: false, At: t0.Add(time.Hour)}
	keep(t, s, "team_a", map[string]attribution.Known{"ann@acme.com": gone})
	expect(t, "after not found", read(t, s, "team_a", "ann@acme.com", "other@acme.com"),
		map[string]attribution.Known{"ann@acme.com": gone, "other@acme.com": other})

	inactive := attribution.Known{User: attribution.User{ID: "005B"}, Found: true, At: t0.Add(2 * time.Hour)}
	keep(t, s, "team_a", map[string]attribution.Known{"ann@acme.com": inactive})
	expect(t, "after found again", read(t, s, "team_a", "ann@acme.com", "other@acme.com"),
		map[string]attribution.Known{"ann@acme.com": inactive, "other@acme.com": other})
}

// manyEmails: more emails than one BatchWriteItem (25) or BatchGetItem
// (100) takes are kept and read in one call each.
func manyEmails(t *testing.T, s attribution.UserStore) {
	const n = 253
	kept := make(map[string]attribution.Known, n)
	var asked []string
	for i := range n {
		e := fmt.Sprintf("rep%03d@acme.com", i)
		k := attribution.Known{User: attribution.User{ID: fmt.Sprintf("005%03d", i), Active: i%3 != 0}, Found: i%5 != 0, At: t0.Add(time.Duration(i) * time.Second)}
		if !k.Found {
			k.User = attribution.User{}
		}
		kept[e] = k
		asked = append(asked, e)
	}
	keep(t, s, "team_a", kept)
	for i := range 20 { // never kept, among the kept
		asked = append(asked, fmt.Sprintf("absent%02d@acme.com", i))
	}
	sort.Strings(asked)
	got := read(t, s, "team_a", asked...)
	if len(got) != n {
		t.Errorf("got %d entries; want %d", len(got), n)
	}
	expect(t, "many", got, kept)
}

// invalidRefused: an invalid team id, or an email empty or not
// normalized, is refused with policy.ErrInvalid, and nothing is kept.
func invalidRefused(t *testing.T, s attribution.UserStore) {
	ctx := context.Background()
	k := attribution.Known{Found: true, User: attribution.User{ID: "005A", Active: true}, At: t0}
	for _, team := range []string{"", "team#a", "team a"} {
		if _, err := s.KnownUsers(ctx, team, []string{"ann@acme.com"}); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("KnownUsers with team %q: got %v; want policy.ErrInvalid", team, err)
		}
		if err := s.KeepUsers(ctx, team, map[string]attribution.Known{"ann@acme.com": k}); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("KeepUsers with team %q: got %v; want policy.ErrInvalid", team, err)
		}
	}
	for _, email := range []string{"", "Ann@Acme.com", " ann@acme.com", "ann@acme.com\n"} {
		if _, err := s.KnownUsers(ctx, "team_a", []string{"bob@acme.com", email}); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("KnownUsers with email %q: got %v; want policy.ErrInvalid", email, err)
		}
		err := s.KeepUsers(ctx, "team_a", map[string]attribution.Known{"bob@acme.com": k, email: k})
		if !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("KeepUsers with email %q: got %v; want policy.ErrInvalid", email, err)
		}
	}
	expect(t, "after refused keeps", read(t, s, "team_a", "ann@acme.com", "bob@acme.com"), nil)
}

// concurrent: keeps and reads side by side, each of its own emails, all
// land.
func concurrent(t *testing.T, s attribution.UserStore) {
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				e := fmt.Sprintf("w%d.r%d@acme.com", w, i)
				k := attribution.Known{User: attribution.User{ID: fmt.Sprintf("005%d%d", w, i), Active: true}, Found: true, At: t0}
				if err := s.KeepUsers(ctx, "team_a", map[string]attribution.Known{e: k}); err != nil {
					errs <- err
				}
				if _, err := s.KnownUsers(ctx, "team_a", []string{e, "nobody@acme.com"}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call: got %v; want no error", err)
	}
	var asked []string
	want := map[string]attribution.Known{}
	for w := range workers {
		for i := range each {
			e := fmt.Sprintf("w%d.r%d@acme.com", w, i)
			asked = append(asked, e)
			want[e] = attribution.Known{User: attribution.User{ID: fmt.Sprintf("005%d%d", w, i), Active: true}, Found: true, At: t0}
		}
	}
	expect(t, "after concurrent keeps", read(t, s, "team_a", asked...), want)
}

package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
)

func TestMixedWorkload(t *testing.T) {
	t.Parallel()
	tests := []struct{ teams, contacts, emails int }{
		{20, 5000, 5000}, {3, 150, 150}, {3, 10, 100}, {1, 1, 7}, {7, 100, 0}, {4, 3, 20},
	}
	for _, tt := range tests {
		w := newMixedWorkload(tt.teams, tt.contacts, tt.emails)
		nc, ne := w.counts()
		if nc != tt.contacts || ne != tt.emails || len(w.Contacts) != tt.contacts || len(w.Teams) != tt.teams {
			t.Fatalf("%v: %d contacts, %d emails, %d contacts listed, %d teams", tt, nc, ne, len(w.Contacts), len(w.Teams))
		}
		ids := map[string]bool{}
		msgKinds := map[string]bool{}
		added := map[int]bool{}
		sentMsg := map[string]bool{}
		perTeam := make([]int, tt.teams)
		for _, it := range w.Stream {
			if ids[it.ID] {
				t.Fatalf("%v: event id %s twice", tt, it.ID)
			}
			ids[it.ID] = true
			c := w.Contacts[it.Contact]
			perTeam[c.Team]++
			if !it.Email() {
				if added[it.Contact] {
					t.Fatalf("%v: contact %d added twice", tt, it.Contact)
				}
				added[it.Contact] = true
				continue
			}
			if !added[it.Contact] {
				t.Fatalf("%v: %s comes before its contact's contact.added", tt, it.ID)
			}
			msg := w.messageID(it)
			if k := msg + " " + string(it.Type); msgKinds[k] {
				t.Fatalf("%v: message %s has two %s events", tt, msg, it.Type)
			} else {
				msgKinds[k] = true
			}
			if it.Type == event.EmailSent {
				sentMsg[msg] = true
			} else if !sentMsg[msg] {
				t.Fatalf("%v: %s comes before its message's email.sent", tt, it.ID)
			}
			// The event it builds passes the sequencer contract.
			ev := w.event(it, time.Now().UTC(), time.Now().UTC())
			if _, err := event.Encode(ev); err != nil {
				t.Fatal(err)
			}
		}
		for team, n := range perTeam {
			want := share(tt.contacts, tt.teams, team)
			if team < tt.contacts {
				want += share(tt.emails, min(tt.teams, tt.contacts), team)
			}
			if n != want {
				t.Errorf("%v: team %d has %d events; want %d", tt, team, n, want)
			}
		}
		if !reflect.DeepEqual(w, newMixedWorkload(tt.teams, tt.contacts, tt.emails)) {
			t.Errorf("%v: two builds differ", tt)
		}
	}
}

func TestMixedWorkloadShape(t *testing.T) {
	t.Parallel()
	w := newMixedWorkload(20, 5000, 5000)
	// Teams take turns: the first 20 events are one of each team.
	for i := range 20 {
		if got := w.Contacts[w.Stream[i].Contact].Team; got != i {
			t.Fatalf("event %d is team %d's", i, got)
		}
	}
	kinds := map[event.Type]int{}
	for _, it := range w.Stream {
		kinds[it.Type]++
	}
	for _, typ := range []event.Type{event.ContactAdded, event.EmailSent, event.EmailOpened, event.EmailClicked, event.EmailReplied, event.EmailBounced} {
		if kinds[typ] == 0 {
			t.Errorf("no %s in the stream: %v", typ, kinds)
		}
	}
	// Emails follow contacts through the stream, not all at its end.
	if half := w.Stream[:len(w.Stream)/2]; countEmails(half) < 1000 {
		t.Errorf("only %d emails in the first half of the stream", countEmails(half))
	}
	seeded, mixedCase := 0, 0
	for _, c := range w.Contacts {
		if c.Seed != "" {
			seeded++
			if c.seedEmail() == c.Email || !strings.EqualFold(c.seedEmail(), c.Email) {
				t.Fatalf("seed email %q of %q", c.seedEmail(), c.Email)
			}
		}
		if c.Email != strings.ToLower(c.Email) {
			mixedCase++
		}
	}
	if seeded != 2000 || mixedCase < 1000 {
		t.Errorf("%d seeded, %d in mixed case", seeded, mixedCase)
	}
	var leads, contacts int
	for team := range w.Teams {
		s := w.seeds(team)
		leads += len(s["Lead"])
		contacts += len(s["Contact"])
	}
	if leads != 1000 || contacts != 1000 {
		t.Errorf("seeds: %d Leads, %d Contacts", leads, contacts)
	}
}

func countEmails(items []mixedItem) int {
	n := 0
	for _, it := range items {
		if it.Email() {
			n++
		}
	}
	return n
}

func TestMixedWorkloadEmpty(t *testing.T) {
	t.Parallel()
	for _, w := range []mixedWorkload{newMixedWorkload(0, 10, 10), newMixedWorkload(3, 0, 10)} {
		if len(w.Stream) != 0 {
			t.Errorf("%d events; want none", len(w.Stream))
		}
	}
}

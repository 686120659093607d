package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/sfsync/sfsync/shared/event"
)

// The sequences every team has: seqAdd syncs on add as a Lead (the team
// default), seqContact on add as a Contact, seqReply on the first reply as a
// Contact.
const (
	seqAdd     = "seq_add"
	seqContact = "seq_contact"
	seqReply   = "seq_reply"
)

// Team roles in the chaos run.
const (
	roleNormal  = "normal"
	roleRevoked = "revoked" // refresh token revoked mid-run, reconnected later
	roleLimited = "limited" // over its org's daily API limit mid-run, raised later
)

// expect is what an event must end with.
type expect int

const (
	expectSynced  expect = iota // contact events: created or linked
	expectPending               // contact.added of an on_reply sequence: pending/awaiting_reply (or synced)
	expectTask                  // email events: created (a Task)
)

func (e expect) String() string {
	return [...]string{"created|linked", "pending awaiting_reply|created|linked", "created (Task)"}[e]
}

// wev is one event of the workload, before its occurred_at is known (the
// sender stamps it when it first sends it).
type wev struct {
	idx     int
	team    int
	contact int // index in workload.contacts
	ev      event.Event
	expect  expect
	kind    string // email events: sent, replied, opened, clicked, bounced
	msgID   string // email events
}

// wcontact is one sequence membership of a contact.
type wcontact struct {
	team  int
	id    string // the sequencer's contact id
	email string // as the sequencer sends it
	seq   string
}

// message is one copy of an event to send: its index and which copy.
type message struct {
	ev   int
	copy int // 0 first, 1 the duplicate
}

// workload is what one run sends; the same seed gives the same workload.
type workload struct {
	teams    []string
	roles    []string
	events   []wev
	contacts []wcontact
	stream   []message           // 2 copies of every event, in send order
	addOf    map[int]int         // a contact.replied's event index -> its membership's contact.added
	seeded   []map[string][]seed // by team: object -> records already in the org
}

// seed is a record the org holds before the run.
type seed struct {
	email string
}

// buildWorkload makes n events over t teams from seed s. Per contact the
// events keep their order (add, then emails and replies); contacts are
// interleaved, and every event's second copy goes out a random distance
// (1..spread first copies) after the first.
func buildWorkload(s int64, n, t, spread int) *workload {
	rng := rand.New(rand.NewPCG(uint64(s), 0x5f5f_c4a0_5eed))
	w := &workload{}
	for i := range t {
		w.teams = append(w.teams, fmt.Sprintf("team_chaos_%02d", i))
		w.roles = append(w.roles, roleNormal)
		w.seeded = append(w.seeded, map[string][]seed{})
	}
	// One revoked and one limited team, chosen by the seed.
	perm := rng.Perm(t)
	w.roles[perm[0]] = roleRevoked
	w.roles[perm[1]] = roleLimited

	// Per-contact event lists.
	var lists [][]wev
	total := 0
	emailsByTeam := make([][]int, t) // contact indexes with a fresh email, per team
	members := map[string]bool{}     // contact id/sequence: one membership each
	for total < n {
		team := rng.IntN(t)
		ci := len(w.contacts)
		c := wcontact{team: team}
		r := rng.Float64()
		switch {
		case r < 0.60:
			c.seq = seqAdd
		case r < 0.75:
			c.seq = seqContact
		default:
			c.seq = seqReply
		}
		prior := emailsByTeam[team]
		left := n - total
		if left < 3 {
			c.seq = seqAdd // room for the add; an on_reply membership would need its reply too
		}
		r = rng.Float64()
		if r < 0.08 && len(prior) > 0 && left >= 3 {
			// The same contact put in another sequence it is not in yet.
			p := w.contacts[prior[rng.IntN(len(prior))]]
			for _, s := range []string{c.seq, seqAdd, seqContact, seqReply} {
				if !members[p.id+"/"+s] {
					c.id, c.email, c.seq = p.id, p.email, s
					break
				}
			}
		}
		switch {
		case c.id != "":
		case r < 0.12 && len(prior) > 0:
			// Another contact with the same email in another letter case.
			p := w.contacts[prior[rng.IntN(len(prior))]]
			c.id, c.email = fmt.Sprintf("ct_%d", ci), flipCase(p.email, rng)
		default:
			c.id = fmt.Sprintf("ct_%d", ci)
			c.email = fmt.Sprintf("person%d@team%02d.chaos.example", ci, team)
			if rng.IntN(4) == 0 {
				c.email = strings.ToUpper(c.email[:1]) + c.email[1:]
			}
			emailsByTeam[team] = append(emailsByTeam[team], ci)
			if rng.Float64() < 0.10 { // already in Salesforce, in another case
				obj := "Lead"
				if rng.IntN(2) == 0 {
					obj = "Contact"
				}
				w.seeded[team][obj] = append(w.seeded[team][obj], seed{email: strings.ToUpper(c.email)})
			}
		}
		members[c.id+"/"+c.seq] = true
		w.contacts = append(w.contacts, c)
		list := w.contactEvents(ci, rng)
		if len(list) > left {
			list = list[:left] // the add stays first; an on_reply contact keeps its reply (left >= 3)
			if c.seq == seqReply && !hasType(list, event.ContactReplied) {
				list[len(list)-1] = w.replied(ci)
			}
		}
		lists = append(lists, list)
		total += len(list)
	}

	// Interleave: a pool of active contacts, one event at a time from a
	// random one, so events of a contact keep their order and lie apart.
	const pool = 48
	next := 0
	var active []int
	pos := make([]int, len(lists))
	for len(w.events) < total {
		for len(active) < pool && next < len(lists) {
			active = append(active, next)
			next++
		}
		k := rng.IntN(len(active))
		li := active[k]
		e := lists[li][pos[li]]
		pos[li]++
		e.idx = len(w.events)
		e.ev.ID = fmt.Sprintf("evt_chaos_%06d", e.idx)
		w.events = append(w.events, e)
		if pos[li] == len(lists[li]) {
			active = append(active[:k], active[k+1:]...)
		}
	}

	w.addOf = map[int]int{}
	adds := map[int]int{} // contact index -> its add
	for i, e := range w.events {
		switch e.ev.Type {
		case event.ContactAdded:
			adds[e.contact] = i
		case event.ContactReplied:
			w.addOf[i] = adds[e.contact]
		}
	}

	// The stream: first copies in order, each duplicate 1..spread first
	// copies later.
	type slot struct {
		key float64
		m   message
	}
	slots := make([]slot, 0, 2*len(w.events))
	for i := range w.events {
		slots = append(slots, slot{float64(i), message{i, 0}})
		slots = append(slots, slot{float64(i+1+rng.IntN(max(spread, 1))) + 0.5, message{i, 1}})
	}
	slices.SortStableFunc(slots, func(a, b slot) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return a.m.ev - b.m.ev
	})
	for _, s := range slots {
		w.stream = append(w.stream, s.m)
	}
	return w
}

func hasType(list []wev, t event.Type) bool {
	for _, e := range list {
		if e.ev.Type == t {
			return true
		}
	}
	return false
}

// contactEvents is one membership's events in the order the sequencer emits
// them: the add, then per message the send and what followed it; the reply
// (always for on_reply, sometimes otherwise) after the first send.
func (w *workload) contactEvents(ci int, rng *rand.Rand) []wev {
	c := w.contacts[ci]
	out := []wev{w.added(ci)}
	reply := c.seq == seqReply || rng.Float64() < 0.2
	msgs := 1 + rng.IntN(3)
	for m := range msgs {
		msgID := fmt.Sprintf("msg_%s_%s_%d", c.id, c.seq, m)
		out = append(out, w.email(ci, event.EmailSent, msgID, m))
		if rng.Float64() < 0.05 {
			out = append(out, w.email(ci, event.EmailBounced, msgID, m))
			continue
		}
		if rng.Float64() < 0.4 {
			out = append(out, w.email(ci, event.EmailOpened, msgID, m))
			if rng.Float64() < 0.5 {
				out = append(out, w.email(ci, event.EmailClicked, msgID, m))
			}
		}
		if reply {
			out = append(out, w.replied(ci), w.email(ci, event.EmailReplied, msgID, m))
			reply = false
		}
	}
	if reply {
		out = append(out, w.replied(ci))
	}
	return out
}

func (w *workload) added(ci int) wev {
	c := w.contacts[ci]
	ex := expectSynced
	if c.seq == seqReply {
		ex = expectPending
	}
	return wev{team: c.team, contact: ci, expect: ex, ev: event.Event{Type: event.ContactAdded, Version: event.Version, TeamID: w.teams[c.team],
		Data: event.ContactData{Sequence: &event.Sequence{ID: c.seq, Name: c.seq},
			Contact: event.Contact{ID: c.id, Email: c.email, FirstName: "Chaos", LastName: "Person " + c.id, Company: "Chaos Co"}}}}
}

func (w *workload) replied(ci int) wev {
	e := w.added(ci)
	e.ev.Type, e.expect = event.ContactReplied, expectSynced
	return e
}

func (w *workload) email(ci int, t event.Type, msgID string, step int) wev {
	c := w.contacts[ci]
	kind := strings.TrimPrefix(string(t), "email.")
	m := event.Message{ID: msgID, Subject: "Note " + msgID, BodyText: "A short note in a chaos run.", Step: step + 1}
	switch t {
	case event.EmailClicked:
		m.URL = "https://example.com/chaos"
	case event.EmailBounced:
		m.Reason = "550 mailbox unavailable"
	}
	return wev{team: c.team, contact: ci, expect: expectTask, kind: kind, msgID: msgID,
		ev: event.Event{Type: t, Version: event.Version, TeamID: w.teams[c.team],
			Data: event.EmailData{Sequence: event.Sequence{ID: c.seq, Name: c.seq}, Contact: event.ContactRef{ID: c.id, Email: c.email}, Message: m}}}
}

// flipCase changes the letter case of some letters of an email.
func flipCase(s string, rng *rand.Rand) string {
	b := []byte(s)
	flipped := false
	for i, ch := range b {
		if ch >= 'a' && ch <= 'z' && rng.IntN(3) == 0 {
			b[i], flipped = ch-32, true
		} else if ch >= 'A' && ch <= 'Z' && rng.IntN(3) == 0 {
			b[i], flipped = ch+32, true
		}
	}
	if !flipped {
		return strings.ToUpper(s)
	}
	return string(b)
}

// teamsWith lists the indexes of the teams with a role.
func (w *workload) teamsWith(role string) []int {
	var out []int
	for i, r := range w.roles {
		if r == role {
			out = append(out, i)
		}
	}
	return out
}

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/event"
)

// The mixed workload: teams, each with its own org, whose contact.added and
// email events are interleaved into one stream. It is a pure function of its
// three sizes, so every run (and the naive baseline) sees the same events in
// the same order.

// mixedContact is one contact of the mixed workload.
type mixedContact struct {
	Team  int
	K     int // the contact's number within its team
	ID    string
	Email string // as the sequencer sends it
	Last  string
	Seq   string
	Seed  string // "Lead" or "Contact" when a record with this email is already in the org (in another letter case), "" otherwise
	Event string // the id of its contact.added
}

// mixedItem is one event of the stream: a contact's contact.added, or one
// of its email events.
type mixedItem struct {
	Contact int        // index into mixedWorkload.Contacts
	Type    event.Type // event.ContactAdded or an email.* type
	Step    int        // the sequence step of an email event's message
	ID      string     // the event id
}

// Email reports whether the item is an email event.
func (it mixedItem) Email() bool { return it.Type.IsEmail() }

type mixedWorkload struct {
	Teams    []string
	Contacts []mixedContact
	Stream   []mixedItem
}

func mixedTeam(t int) string { return fmt.Sprintf("team_mixed_%02d", t) }

// emailScripts are the email events a contact gets per sequence step, by
// contact number mod 4: opened and clicked on some, a reply, a bounce.
var emailScripts = [4][]event.Type{
	{event.EmailSent, event.EmailOpened, event.EmailClicked, event.EmailReplied},
	{event.EmailSent, event.EmailOpened},
	{event.EmailSent},
	{event.EmailSent, event.EmailBounced},
}

// share is team t's part of n spread over teams.
func share(n, teams, t int) int {
	s := n / teams
	if t < n%teams {
		s++
	}
	return s
}

// newMixedWorkload builds the workload: contacts and emails spread evenly
// over the teams (emails over those with contacts); contact k of a team is already in Salesforce as a Lead
// when k%5 == 0 and as a Contact when k%5 == 2, with its email in another
// letter case, and every third contact's email is sent in mixed case.
//
// A team's email events go to its contacts in rounds (one sequence step a
// round) following emailScripts; a contact that bounced gets no further
// step. Each team's events are one list where contacts and emails are
// merged in proportion and an email never comes before its contact's
// contact.added. The stream takes one event of each team in turn.
func newMixedWorkload(teams, contacts, emails int) mixedWorkload {
	var w mixedWorkload
	if teams <= 0 || contacts <= 0 {
		return w
	}
	lists := make([][]mixedItem, teams)
	for t := range teams {
		w.Teams = append(w.Teams, mixedTeam(t))
		nc, ne := share(contacts, teams, t), 0
		if t < contacts { // only teams with contacts get emails
			ne = share(emails, min(teams, contacts), t)
		}
		first := len(w.Contacts)
		for k := range nc {
			c := mixedContact{Team: t, K: k, ID: fmt.Sprintf("ct_%d", k), Last: fmt.Sprintf("Mixed %d", k),
				Email: fmt.Sprintf("person%d@team%02d.example", k, t), Seq: "seq_mixed_a",
				Event: fmt.Sprintf("evt_mixed_t%02d_add_%d", t, k)}
			if k%3 == 0 {
				c.Email = fmt.Sprintf("Person%d@Team%02d.Example", k, t)
			}
			if k%2 == 1 {
				c.Seq = "seq_mixed_b"
			}
			switch k % 5 {
			case 0:
				c.Seed = "Lead"
			case 2:
				c.Seed = "Contact"
			}
			w.Contacts = append(w.Contacts, c)
		}
		if nc == 0 {
			continue
		}
		// The team's email events, round by round.
		var mails []mixedItem
		for step := 1; len(mails) < ne; step++ {
			for k := 0; k < nc && len(mails) < ne; k++ {
				if step > 1 && k%4 == 3 {
					continue // bounced
				}
				for _, typ := range emailScripts[k%4] {
					if len(mails) == ne {
						break
					}
					kind := strings.TrimPrefix(string(typ), "email.")
					mails = append(mails, mixedItem{Contact: first + k, Type: typ, Step: step,
						ID: fmt.Sprintf("evt_mixed_t%02d_%s_%d_s%d", t, kind, k, step)})
				}
			}
		}
		// Merge: an email goes when its contact has gone and the emails
		// are not ahead of the contacts in proportion.
		list := make([]mixedItem, 0, nc+ne)
		i, j := 0, 0
		for i < nc || j < ne {
			if j < ne && mails[j].Contact-first < i && (i == nc || j*nc < i*ne) {
				list = append(list, mails[j])
				j++
				continue
			}
			c := w.Contacts[first+i]
			list = append(list, mixedItem{Contact: first + i, Type: event.ContactAdded, ID: c.Event})
			i++
		}
		lists[t] = list
	}
	for p := 0; ; p++ {
		more := false
		for _, list := range lists {
			if p < len(list) {
				w.Stream = append(w.Stream, list[p])
				more = true
			}
		}
		if !more {
			break
		}
	}
	return w
}

// seedEmail is the email of the record already in Salesforce: the local
// part in capitals and the domain in another case than the sequencer's.
func (c mixedContact) seedEmail() string {
	local, domain, _ := strings.Cut(c.Email, "@")
	return strings.ToUpper(local) + "@" + strings.ToLower(domain)
}

// seeds are team t's records already in Salesforce, by object.
func (w mixedWorkload) seeds(t int) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, c := range w.Contacts {
		if c.Team != t || c.Seed == "" {
			continue
		}
		rec := map[string]any{"FirstName": "Seed", "LastName": c.Last, "Email": c.seedEmail()}
		if c.Seed == "Lead" {
			rec["Company"] = "Seeded"
		}
		out[c.Seed] = append(out[c.Seed], rec)
	}
	return out
}

// counts are the stream's contact and email events.
func (w mixedWorkload) counts() (contacts, emails int) {
	for _, it := range w.Stream {
		if it.Email() {
			emails++
		} else {
			contacts++
		}
	}
	return contacts, emails
}

// messageID is the id of the message an email item is about.
func (w mixedWorkload) messageID(it mixedItem) string {
	c := w.Contacts[it.Contact]
	return fmt.Sprintf("msg_t%02d_%d_s%d", c.Team, c.K, it.Step)
}

// event builds item it as sent at now; sentAt is when its message was sent
// (the email.sent's time; ignored for contact events).
func (w mixedWorkload) event(it mixedItem, now, sentAt time.Time) event.Event {
	c := w.Contacts[it.Contact]
	team := w.Teams[c.Team]
	seqName := "Mixed " + strings.ToUpper(c.Seq[len(c.Seq)-1:])
	if !it.Email() {
		return event.Event{ID: it.ID, Type: event.ContactAdded, Version: event.Version, OccurredAt: now, TeamID: team,
			Data: event.ContactData{Sequence: &event.Sequence{ID: c.Seq, Name: seqName},
				Contact: event.Contact{ID: c.ID, Email: c.Email, FirstName: "Mixed", LastName: c.Last, Company: fmt.Sprintf("Team %02d Prospect", c.Team)}}}
	}
	msg := event.Message{ID: w.messageID(it), Subject: fmt.Sprintf("Step %d: a short note", it.Step),
		BodyText: "Hello, a short note about benchmarks.", Step: it.Step, SentAt: sentAt}
	switch it.Type {
	case event.EmailClicked:
		msg.URL = "https://example.com/pricing"
	case event.EmailBounced:
		msg.Reason = "550 5.1.1 mailbox unavailable"
	}
	return event.Event{ID: it.ID, Type: it.Type, Version: event.Version, OccurredAt: now, TeamID: team,
		Data: event.EmailData{Sequence: event.Sequence{ID: c.Seq, Name: seqName}, Contact: event.ContactRef{ID: c.ID, Email: c.Email}, Message: msg}}
}

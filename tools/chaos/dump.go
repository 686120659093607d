package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/sfsync/sfsync/shared/event"
)

// dumpEvent is one event of a run as the dump shows it.
type dumpEvent struct {
	ID       string        `json:"id"`
	Type     event.Type    `json:"type"`
	Team     string        `json:"team"`
	Role     string        `json:"role"`
	Contact  string        `json:"contact"`
	Email    string        `json:"email"`
	Sequence string        `json:"sequence"`
	Message  string        `json:"message,omitempty"`
	Expect   string        `json:"expect"`
	SentAt   time.Time     `json:"sent_at"` // first copy; the second follows later
	Outcomes []dumpOutcome `json:"outcomes"`
	Dead     bool          `json:"dead_lettered,omitempty"`
}

type dumpOutcome struct {
	At      time.Time     `json:"at"`
	Outcome event.Outcome `json:"outcome"`
}

// dump writes a run's timeline and every event with its outcomes as JSON
// lines, for replaying a failure by hand.
func dump(w io.Writer, wl *workload, res *runResult) error {
	enc := json.NewEncoder(w)
	head := map[string]any{"run": res.Label, "started": res.Started, "last_send": res.LastSend, "finished": res.Finished,
		"revoked": res.Revoked, "limited": res.Limited, "dead_letters": res.DeadLetters}
	if err := enc.Encode(head); err != nil {
		return err
	}
	dead := map[string]bool{}
	for _, id := range res.DeadLetters {
		dead[id] = true
	}
	for _, we := range wl.events {
		c := wl.contacts[we.contact]
		d := dumpEvent{ID: we.ev.ID, Type: we.ev.Type, Team: wl.teams[we.team], Role: wl.roles[we.team], Contact: c.id, Email: c.email,
			Sequence: c.seq, Message: we.msgID, Expect: we.expect.String(), SentAt: res.SentAt[we.idx], Dead: dead[we.ev.ID]}
		for _, g := range res.Outcomes[we.ev.ID] {
			d.Outcomes = append(d.Outcomes, dumpOutcome{At: g.at, Outcome: g.o})
		}
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return nil
}

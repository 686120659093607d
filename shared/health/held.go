package health

import (
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// The reasons something is held, in the outcomes' words (event.Reason).
// The first three hold every event of the team, parked on its queue; the
// last holds a contact's email activity in the ledger until the contact's
// own sync is final (R7).
const (
	HeldNeedsReauth    = event.ReasonNeedsReauth
	HeldNeedsAdmin     = event.ReasonNeedsAdmin
	HeldAPILimit       = event.ReasonAPILimit
	HeldContactPending = event.ReasonContactPending
)

// Held is one reason things wait, how many and since when, and what it
// means in plain words.
type Held struct {
	Reason event.Reason
	// Events and Contacts count what is held for the reason; both are 0
	// for a reason that holds every event of the team: those wait on the
	// queue, where nothing counts them.
	Events, Contacts int
	// Since is when the oldest of them was held; zero when unknown.
	Since       time.Time
	Explanation string
}

// Explanations are the plain words shown with each reason. needs_admin's
// is followed by Salesforce's problem, api_limit's by the figures.
var Explanations = map[event.Reason]string{
	HeldNeedsReauth: "Salesforce no longer accepts the connection's refresh token (it was revoked or expired). " +
		"Every event of the team waits, held on its queue, until an admin reconnects Salesforce; " +
		"events held longer than the team's held_event_max_days end skipped (held_too_long).",
	HeldNeedsAdmin: "Salesforce refuses the connection until an admin acts in the org (an inactive user or org, or the connected app refused). " +
		"Every event of the team waits, held on its queue; once the cause is fixed an admin reconnects Salesforce. " +
		"Events held longer than the team's held_event_max_days end skipped (held_too_long).",
	HeldAPILimit: "The team's Salesforce API budget for today is spent, or the org itself is out of API calls. " +
		"Every event of the team waits, held on its queue, until calls free up: the next UTC day, a higher api_budget_percent, or a larger org allocation. " +
		"Events held longer than the team's held_event_max_days end skipped (held_too_long).",
	HeldContactPending: "Email activity waits for its contact's own sync: it is logged on the contact's Salesforce record once the contact is synced, " +
		"and skipped if the contact's sync fails or never happens (a contact of an on_reply sequence syncs on its first reply). " +
		"Activity still held after the team's retention_days is let go (skipped, hold_expired).",
}

// teamHolds are the reasons every event of the team waits: its connection
// needs a reconnect or an admin, or its API budget is spent (b capped).
func teamHolds(c *connection.Connection, b *Budget) []Held {
	if c == nil {
		return nil
	}
	var out []Held
	switch c.Status {
	case connection.StatusNeedsReauth:
		out = append(out, Held{Reason: HeldNeedsReauth, Explanation: Explanations[HeldNeedsReauth]})
	case connection.StatusNeedsAdmin:
		ex := Explanations[HeldNeedsAdmin]
		if p := c.Problem; p.Reason != "" {
			ex += fmt.Sprintf(" Salesforce says %s", p.Reason)
			if p.Message != "" {
				ex += ": " + p.Message
			}
			ex += "."
		}
		out = append(out, Held{Reason: HeldNeedsAdmin, Explanation: ex})
	}
	if b != nil && b.State == budget.StateCapped {
		out = append(out, Held{Reason: HeldAPILimit, Explanation: Explanations[HeldAPILimit] + capFigures(*b)})
	}
	return out
}

// capFigures says which limit is reached.
func capFigures(b Budget) string {
	f := b.Figures
	if b.Cap != nil && f.Service >= *b.Cap {
		return fmt.Sprintf(" Today: %d of the team's %d calls (%d%% of the org's %d).", f.Service, *b.Cap, b.Percent, f.OrgLimit)
	}
	return fmt.Sprintf(" The org used %d of its %d calls in the last 24 hours.", f.OrgUsed, f.OrgLimit)
}

// activityHold sums activity sync's held list: the activities held (each
// membership's hold count), the distinct contacts, and the oldest hold.
func activityHold(marks map[ledger.MemberKey]activitysync.HeldMark) []Held {
	if len(marks) == 0 {
		return nil
	}
	h := Held{Reason: HeldContactPending, Explanation: Explanations[HeldContactPending]}
	contacts := map[string]bool{}
	for k, m := range marks {
		h.Events += int(m.N)
		contacts[k.ContactID] = true
		if !m.Since.IsZero() && (h.Since.IsZero() || m.Since.Before(h.Since)) {
			h.Since = m.Since
		}
	}
	h.Contacts = len(contacts)
	return []Held{h}
}

// Reasons lists the held reasons in the order a report gives them.
var Reasons = []event.Reason{HeldNeedsReauth, HeldNeedsAdmin, HeldAPILimit, HeldContactPending}

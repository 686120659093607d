package activitytest

import (
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// heldCases are the rules of held activities: kept under their membership
// until it reaches a final state (R7), listed for the team, and let go
// only when nothing was held since they were read.
func heldCases() []testCase {
	return []testCase{
		{"Held returns a membership's activities in order of occurrence", heldInOrder},
		{"HeldKeys lists the team's memberships with their hold counts", heldKeysCount},
		{"Unhold with the current mark forgets the activities and the listing", unholdAtMark},
		{"A hold since the mark keeps the membership listed with its activity", unholdAfterHold},
		{"Unhold with a negative mark keeps the listing", unholdNegativeMark},
		{"Held activities are per membership and team", heldPerMember},
		{"HeldKeys says since when a membership holds activity: its first hold, until let go", heldSince},
	}
}

// fieldCases are the rules of the Task field cache.
func fieldCases() []testCase {
	return []testCase{
		{"TaskFields: none cached, then what was saved and when, to the millisecond", fieldsCached},
		{"SaveTaskFields replaces the team's cache and no other", fieldsReplaced},
	}
}

var member = ledger.MemberKey{SequenceID: "s1", ContactID: "c1"}

// heldEvent is an email.sent of member's contact, in team.
func heldEvent(team, id string, at time.Time) event.Event {
	return event.Event{ID: id, Type: event.EmailSent, Version: 1, TeamID: team, OccurredAt: at.UTC(),
		Data: event.EmailData{Sequence: event.Sequence{ID: member.SequenceID}, Contact: event.ContactRef{ID: member.ContactID, Email: "a@b.example"},
			Message: event.Message{ID: "m_" + id, Subject: "Hi", Step: 1, SentAt: at.UTC()}}}
}

func (h *harness) hold(team string, k ledger.MemberKey, evs ...event.Event) {
	h.t.Helper()
	for _, ev := range evs {
		h.must("hold "+ev.ID, h.s.Hold(h.ctx, team, k, ev, 0))
	}
}

// heldIDs is the ids of the membership's held events, in order.
func (h *harness) heldIDs(team string, k ledger.MemberKey) []string {
	h.t.Helper()
	evs, err := h.s.Held(h.ctx, team, k)
	h.must("held", err)
	ids := []string{}
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

func (h *harness) heldKeys(team string) map[ledger.MemberKey]int64 {
	h.t.Helper()
	out := map[ledger.MemberKey]int64{}
	for k, m := range h.heldMarks(team) {
		out[k] = m.N
	}
	return out
}

func (h *harness) heldMarks(team string) map[ledger.MemberKey]activitysync.HeldMark {
	h.t.Helper()
	marks, err := h.s.HeldKeys(h.ctx, team)
	h.must("held keys", err)
	return marks
}

func heldSince(h *harness) {
	first := h.clock.Now()
	h.hold(h.a, member, heldEvent(h.a, "e1", Start))
	h.clock.Advance(time.Hour)
	h.hold(h.a, member, heldEvent(h.a, "e2", Start.Add(time.Minute)))
	m := h.heldMarks(h.a)[member]
	wantEqual(h, "since after a second hold", m.Since.Truncate(time.Millisecond), first.Truncate(time.Millisecond))
	h.must("unhold", h.s.Unhold(h.ctx, h.a, member, []string{"e1", "e2"}, m.N))
	h.clock.Advance(time.Hour)
	again := h.clock.Now()
	h.hold(h.a, member, heldEvent(h.a, "e3", Start.Add(2*time.Minute)))
	wantEqual(h, "since once let go and held again", h.heldMarks(h.a)[member].Since.Truncate(time.Millisecond), again.Truncate(time.Millisecond))
}

func heldInOrder(h *harness) {
	e2 := heldEvent(h.a, "e2", Start.Add(time.Minute))
	h.hold(h.a, member, e2, heldEvent(h.a, "e1", Start), heldEvent(h.a, "e3", Start.Add(2*time.Minute)))
	wantEqual(h, "held", h.heldIDs(h.a, member), []string{"e1", "e2", "e3"})
	evs, err := h.s.Held(h.ctx, h.a, member)
	h.must("held", err)
	wantEqual(h, "e2 as held", evs[1], e2)
}

func heldKeysCount(h *harness) {
	other := ledger.MemberKey{SequenceID: "s2", ContactID: "c1"}
	h.hold(h.a, member, heldEvent(h.a, "e1", Start), heldEvent(h.a, "e2", Start.Add(time.Minute)))
	h.hold(h.a, other, heldEvent(h.a, "e3", Start))
	wantEqual(h, "held keys", h.heldKeys(h.a), map[ledger.MemberKey]int64{member: 2, other: 1})
}

func unholdAtMark(h *harness) {
	h.hold(h.a, member, heldEvent(h.a, "e1", Start), heldEvent(h.a, "e2", Start.Add(time.Minute)))
	mark := h.heldKeys(h.a)[member]
	h.must("unhold", h.s.Unhold(h.ctx, h.a, member, []string{"e1", "e2"}, mark))
	wantEqual(h, "held", h.heldIDs(h.a, member), []string{})
	wantEqual(h, "held keys", h.heldKeys(h.a), map[ledger.MemberKey]int64{})
}

func unholdAfterHold(h *harness) {
	h.hold(h.a, member, heldEvent(h.a, "e1", Start), heldEvent(h.a, "e2", Start.Add(time.Minute)))
	mark := h.heldKeys(h.a)[member]
	h.hold(h.a, member, heldEvent(h.a, "e3", Start.Add(2*time.Minute)))
	h.must("unhold", h.s.Unhold(h.ctx, h.a, member, []string{"e1", "e2"}, mark))
	wantEqual(h, "held", h.heldIDs(h.a, member), []string{"e3"})
	wantEqual(h, "held keys", h.heldKeys(h.a), map[ledger.MemberKey]int64{member: 3})
	h.must("unhold the last", h.s.Unhold(h.ctx, h.a, member, []string{"e3"}, 3))
	wantEqual(h, "held keys at the end", h.heldKeys(h.a), map[ledger.MemberKey]int64{})
}

func unholdNegativeMark(h *harness) {
	h.hold(h.a, member, heldEvent(h.a, "e1", Start), heldEvent(h.a, "e2", Start.Add(time.Minute)))
	h.must("unhold", h.s.Unhold(h.ctx, h.a, member, []string{"e1"}, -1))
	wantEqual(h, "held", h.heldIDs(h.a, member), []string{"e2"})
	wantEqual(h, "held keys", h.heldKeys(h.a), map[ledger.MemberKey]int64{member: 2})
}

func heldPerMember(h *harness) {
	other := ledger.MemberKey{SequenceID: "s1", ContactID: "c2"}
	h.hold(h.a, member, heldEvent(h.a, "e1", Start))
	h.hold(h.b, member, heldEvent(h.b, "e2", Start), heldEvent(h.b, "e3", Start.Add(time.Minute)))
	h.hold(h.b, other, heldEvent(h.b, "e4", Start))
	wantEqual(h, "team a's", h.heldIDs(h.a, member), []string{"e1"})
	wantEqual(h, "team b's", h.heldIDs(h.b, member), []string{"e2", "e3"})
	wantEqual(h, "another member's", h.heldIDs(h.a, other), []string{})
	h.must("unhold team b's", h.s.Unhold(h.ctx, h.b, member, []string{"e1", "e2", "e3"}, 2))
	wantEqual(h, "team a's after team b's unhold", h.heldIDs(h.a, member), []string{"e1"})
	wantEqual(h, "team a's keys", h.heldKeys(h.a), map[ledger.MemberKey]int64{member: 1})
}

func fieldsCached(h *harness) {
	if _, _, ok, err := h.s.TaskFields(h.ctx, h.a); ok || err != nil {
		h.t.Fatalf("empty cache: got ok %v, %v; want nothing", ok, err)
	}
	want := activitysync.TaskFields{TypeEmail: true, KeyField: "Sfsync_Key__c", ClosedStatus: "Completed"}
	at := Start.Add(1234567 * time.Microsecond)
	h.must("save", h.s.SaveTaskFields(h.ctx, h.a, want, at))
	got, gotAt, ok, err := h.s.TaskFields(h.ctx, h.a)
	if err != nil || !ok || got != want || !gotAt.Equal(at.Truncate(time.Millisecond)) {
		h.t.Errorf("cached: got %+v at %s (ok %v, %v); want %+v at %s", got, gotAt, ok, err, want, at.Truncate(time.Millisecond))
	}
}

func fieldsReplaced(h *harness) {
	first := activitysync.TaskFields{TypeEmail: true, KeyField: "Sfsync_Key__c", ClosedStatus: "Completed"}
	second := activitysync.TaskFields{ClosedStatus: "Done"}
	h.must("save first", h.s.SaveTaskFields(h.ctx, h.a, first, Start))
	h.must("save second", h.s.SaveTaskFields(h.ctx, h.a, second, Start.Add(time.Hour)))
	got, at, ok, err := h.s.TaskFields(h.ctx, h.a)
	if err != nil || !ok || got != second || !at.Equal(Start.Add(time.Hour)) {
		h.t.Errorf("after the second save: got %+v at %s (ok %v, %v); want %+v", got, at, ok, err, second)
	}
	if _, _, ok, err := h.s.TaskFields(h.ctx, h.b); ok || err != nil {
		h.t.Errorf("team b's cache: got ok %v, %v; want nothing", ok, err)
	}
}

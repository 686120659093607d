package ledgertest

import (
	"context"
	"fmt"

	"github.com/sfsync/sfsync/shared/ledger"
)

func checkStatus(s ledger.MembershipStatus) error {
	switch s {
	case ledger.MemberSyncing, ledger.MemberPending, ledger.MemberSkipped, ledger.MemberSynced, ledger.MemberFailed:
		return nil
	}
	return fmt.Errorf("%w: status %q is not syncing, pending, skipped, synced or failed", ErrInvalid, s)
}

func checkMembership(m ledger.Membership) error {
	if err := checkIDs("team_id", m.TeamID, "sequence_id", m.SequenceID, "contact_id", m.ContactID, "event_id", m.EventID); err != nil {
		return err
	}
	if _, err := checkEmail("email", m.Email); err != nil {
		return err
	}
	if m.PinnedAt.IsZero() {
		return fmt.Errorf("%w: pinned_at missing", ErrInvalid)
	}
	return checkStatus(m.Status)
}

func idOf(m ledger.Membership) memberID {
	return memberID{m.TeamID, ledger.MemberKey{SequenceID: m.SequenceID, ContactID: m.ContactID}}
}

// settled is the stored m as its add's outcome leaves it
// (ledger.Membership.SettledBy). l.mu is held.
func (l *Memory) settled(m ledger.Membership) ledger.Membership {
	if s, ok := l.outcomes[eventID{m.TeamID, m.ContactID, m.EventID}]; ok && s.expires > l.now().Unix() {
		return m.SettledBy(s.outcome)
	}
	return m
}

// PinMemberships stores each membership unless it exists, and returns the
// stored one, as its add's outcome leaves it; New is set where this call
// stored it. Of two pins of one membership, the first is stored and both
// get it. An invalid membership gets an error wrapping ErrInvalid of its
// own.
func (l *Memory) PinMemberships(_ context.Context, ms []ledger.Membership) ([]ledger.PinResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ledger.PinResult, len(ms))
	for i, m := range ms {
		if err := checkMembership(m); err != nil {
			out[i].Err = err
			continue
		}
		if stored, ok := l.members[idOf(m)]; ok {
			out[i].Membership = clone(l.settled(stored))
			continue
		}
		m = clone(m)
		m.PinnedAt = m.PinnedAt.UTC()
		l.members[idOf(m)] = m
		out[i] = ledger.PinResult{Membership: clone(m), New: true}
	}
	return out, nil
}

// Memberships returns the memberships that exist among keys, each as its
// add's outcome leaves it. An invalid team or key fails the call.
func (l *Memory) Memberships(_ context.Context, teamID string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	for i, k := range keys {
		if err := checkIDs(fmt.Sprintf("keys[%d].sequence_id", i), k.SequenceID, fmt.Sprintf("keys[%d].contact_id", i), k.ContactID); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[ledger.MemberKey]ledger.Membership{}
	for _, k := range keys {
		if m, ok := l.members[memberID{teamID, k}]; ok {
			out[k] = clone(l.settled(m))
		}
	}
	return out, nil
}

// SetMemberships updates existing memberships' status, reason and record;
// the pin (policy, contact, time, event) is never rewritten. errs[i] wraps
// ErrNoMembership when ms[i] was never pinned, or ErrInvalid. Of two
// updates of one membership, the later is applied last.
func (l *Memory) SetMemberships(_ context.Context, ms []ledger.Membership) ([]error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := make([]error, len(ms))
	for i, m := range ms {
		err := checkIDs("team_id", m.TeamID, "sequence_id", m.SequenceID, "contact_id", m.ContactID)
		if err == nil {
			err = checkStatus(m.Status)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		stored, ok := l.members[idOf(m)]
		if !ok {
			errs[i] = fmt.Errorf("set membership %s/%s/%s: %w", m.TeamID, m.SequenceID, m.ContactID, ErrNoMembership)
			continue
		}
		stored.Status, stored.Reason, stored.Salesforce = m.Status, m.Reason, nil
		if m.Salesforce != nil {
			ref := *m.Salesforce
			stored.Salesforce = &ref
		}
		l.members[idOf(m)] = stored
	}
	return errs, nil
}

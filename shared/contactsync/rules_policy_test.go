package contactsync_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
)

// ada is the contact most rules are told with.
var ada = person("c_ada", "ada@example.com")

// mode and syncAs change a team's settings.
func mode(m policy.SyncMode) func(*policy.TeamSettings) {
	return func(s *policy.TeamSettings) { s.SyncMode = m }
}

func modeAs(m policy.SyncMode, as policy.SyncAs) func(*policy.TeamSettings) {
	return func(s *policy.TeamSettings) { s.SyncMode, s.SyncAs = m, as }
}

// TestPolicyPinnedWhenAdded (R4): the policy is resolved as of the
// contact.added's occurred_at, not when it is processed, and pinned on the
// membership. Disabled or off never syncs, even after the setting changes
// and a reply comes; on_add syncs now as the pinned sync_as; on_reply waits
// and the first reply syncs it as the pinned sync_as; a redelivered add,
// or another add of the membership, keeps the first pin.
func TestPolicyPinnedWhenAdded(t *testing.T) {
	t.Parallel()
	runStories(t, []story{
		{
			name: "turned off after the add occurred: the add still syncs",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(2), mode(policy.ModeOff))
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "created Lead"},
			leads: 1,
		},
		{
			name: "turned on after the add occurred: the add is still skipped",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), mode(policy.ModeOff))
				r.settings(t, at(2), mode(policy.ModeOnAdd))
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "skipped/sync_off"},
		},
		{
			name: "sync_as changed after the add occurred: synced as it was",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(2), modeAs(policy.ModeOnAdd, policy.SyncAsContact))
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "created Lead"},
			leads: 1,
		},
		{
			name: "a disabled sequence never syncs, even enabled again and replied to",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.override(t, "seq_1", at(0), policy.SequenceOverride{SyncMode: policy.Inherit, SyncAs: policy.Inherit, SyncDisabled: true})
				r.override(t, "seq_1", at(2), policy.DefaultSequenceOverride())
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1))), batch(replied("evt_reply", "seq_1", ada, at(3)))},
			want:  map[string]string{"evt_add": "skipped/sequence_sync_disabled", "evt_reply": "skipped/sequence_sync_disabled"},
			check: noOrgCalls,
		},
		{
			name: "mode off never syncs, even turned on and replied to",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), mode(policy.ModeOff))
				r.settings(t, at(2), mode(policy.ModeOnAdd))
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1))), batch(replied("evt_reply", "seq_1", ada, at(3)))},
			want:  map[string]string{"evt_add": "skipped/sync_off", "evt_reply": "skipped/sync_off"},
			check: noOrgCalls,
		},
		{
			name: "the sequence's mode off never syncs",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.override(t, "seq_1", at(0), policy.SequenceOverride{SyncMode: string(policy.ModeOff), SyncAs: policy.Inherit})
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1)), added("evt_other", "seq_2", ada, at(1)))},
			want:  map[string]string{"evt_add": "skipped/sync_off", "evt_other": "created Lead"},
			leads: 1,
		},
		{
			name: "on_add syncs now, as the pinned sync_as",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), modeAs(policy.ModeOnAdd, policy.SyncAsContact))
				return nil
			},
			steps:    []step{batch(added("evt_add", "seq_1", ada, at(1)))},
			want:     map[string]string{"evt_add": "created Contact"},
			contacts: 1,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				m, _ := r.membership("seq_1", "c_ada")
				rec, _ := r.ledger.Record(team, ada.Email)
				if m.Policy.TeamVersion != 1 || rec.PolicyVersion != 1 {
					t.Errorf("settings version: got %d pinned, %d on the record; want 1 on both", m.Policy.TeamVersion, rec.PolicyVersion)
				}
			},
		},
		{
			name: "on_reply waits; the first reply syncs as the pinned sync_as though the team's changed since",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), modeAs(policy.ModeOnReply, policy.SyncAsContact))
				r.settings(t, at(2), modeAs(policy.ModeOnAdd, policy.SyncAsLead))
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1))), batch(replied("evt_reply", "seq_1", ada, at(3))),
				batch(replied("evt_reply2", "seq_1", ada, at(4)))},
			want: map[string]string{"evt_add": "pending/awaiting_reply", "evt_reply": "created Contact",
				"evt_reply2": "linked/already_synced Contact"},
			same:     [][]string{{"evt_reply", "evt_reply2"}},
			contacts: 1,
		},
		{
			name: "on_reply: the reply syncs the contact as the sequencer last sent it",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), mode(policy.ModeOnReply))
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1))),
				batch(replied("evt_reply", "seq_1", event.Contact{ID: "c_ada", Email: ada.Email, LastName: "King", Company: "Analytical"}, at(2)))},
			want:  map[string]string{"evt_add": "pending/awaiting_reply", "evt_reply": "created Lead"},
			leads: 1,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				if got := r.org.Records(orgtest.Lead)[0].Fields; got["LastName"] != "King" || got["Company"] != "Analytical" {
					t.Errorf("Lead: got %v; want the reply's LastName King and Company Analytical", got)
				}
			},
		},
		{
			name: "on_reply: a reply in the add's own batch syncs it",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), mode(policy.ModeOnReply))
				return nil
			},
			steps: []step{batch(replied("evt_reply", "seq_1", ada, at(2)), added("evt_add", "seq_1", ada, at(1)))},
			want:  map[string]string{"evt_add": "pending/awaiting_reply", "evt_reply": "created Lead"},
			leads: 1,
		},
		{
			name: "a redelivered add, and another add of the membership, keep the first pin",
			setup: func(t *testing.T, r *rig) map[string]string {
				r.settings(t, at(0), modeAs(policy.ModeOnReply, policy.SyncAsContact))
				r.settings(t, at(2), modeAs(policy.ModeOnAdd, policy.SyncAsLead))
				return nil
			},
			steps: []step{batch(added("evt_add", "seq_1", ada, at(1))), batch(added("evt_add", "seq_1", ada, at(1))),
				batch(added("evt_readd", "seq_1", ada, at(3))), batch(replied("evt_reply", "seq_1", ada, at(4)))},
			want: map[string]string{"evt_add": "pending/awaiting_reply", "evt_readd": "pending/awaiting_reply",
				"evt_reply": "created Contact"},
			contacts: 1,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				m, ok := r.membership("seq_1", "c_ada")
				if !ok || m.EventID != "evt_add" || m.Policy.Mode != policy.ModeOnReply || !m.PinnedAt.Equal(at(1)) {
					t.Errorf("membership: got %+v, %v; want the first add's pin (on_reply, at %v)", m, ok, at(1))
				}
			},
		},
	})
}

// noOrgCalls checks that the org was asked nothing.
func noOrgCalls(t *testing.T, r *rig, _ []map[string]error) {
	t.Helper()
	if n := r.org.Calls(); n != 0 {
		t.Errorf("org calls: got %d; want 0", n)
	}
}

package policy

import "time"

// Reasons an effective policy does not sync. They are the reason words of the
// outcome contract.
const (
	ReasonSequenceSyncDisabled = "sequence_sync_disabled" // the sequence's Disable Sync was on
	ReasonSyncOff              = "sync_off"               // the effective sync mode was off
)

// Effective is the policy that applies to a membership, resolved as of a
// moment (R4): the sync functions pin it when the contact is added.
type Effective struct {
	SyncAs           SyncAs        `json:"sync_as"`
	Mode             SyncMode      `json:"sync_mode"`
	Disabled         bool          `json:"sync_disabled"`
	Deduplication    bool          `json:"deduplication"`
	ActivityTracking bool          `json:"activity_tracking"`
	ActivityKinds    ActivityKinds `json:"activity_kinds"`
	// TeamVersion and SequenceVersion are the versions the policy came from;
	// 0 means none was saved by then and the defaults applied.
	TeamVersion     int `json:"team_version"`
	SequenceVersion int `json:"sequence_version"`
	// Reason is empty when the membership syncs (now or on reply), otherwise
	// ReasonSequenceSyncDisabled or ReasonSyncOff.
	Reason string `json:"reason,omitempty"`
}

// Syncs reports whether a membership under p is ever synced.
func (p Effective) Syncs() bool { return p.Reason == "" }

// LogsActivity reports whether activity of kind is logged under p.
func (p Effective) LogsActivity(kind ActivityKind) bool {
	return p.ActivityTracking && p.ActivityKinds[kind]
}

// Resolve returns the policy in effect at the moment at, given a team's
// settings history and a sequence's override history (each in any order).
//
// Versions that took effect after at are ignored; of the others the one with
// the latest effective time (then the highest number) applies. When no team
// version is that old, the team defaults apply (DefaultTeamSettings): a team
// that never saved settings syncs by the defaults, which is also what the
// settings API shows it. Likewise a sequence without an override by then
// inherits everything. A disabled sequence never syncs whatever the mode.
func Resolve(team []TeamVersion, seq []SequenceVersion, at time.Time) Effective {
	ts, tv := DefaultTeamSettings(), 0
	if v, ok := latest(team, at); ok {
		ts, tv = v.Document, v.Number
	}
	so, sv := DefaultSequenceOverride(), 0
	if v, ok := latest(seq, at); ok {
		so, sv = v.Document, v.Number
	}
	p := Effective{
		SyncAs:           ts.SyncAs,
		Mode:             ts.SyncMode,
		Disabled:         so.SyncDisabled,
		Deduplication:    ts.Deduplication,
		ActivityTracking: ts.ActivityTracking,
		ActivityKinds:    ts.ActivityKinds.Clone(),
		TeamVersion:      tv,
		SequenceVersion:  sv,
	}
	if so.SyncAs != Inherit && so.SyncAs != "" {
		p.SyncAs = SyncAs(so.SyncAs)
	}
	if so.SyncMode != Inherit && so.SyncMode != "" {
		p.Mode = SyncMode(so.SyncMode)
	}
	switch {
	case p.Disabled:
		p.Reason = ReasonSequenceSyncDisabled
	case p.Mode == ModeOff:
		p.Reason = ReasonSyncOff
	}
	return p
}

func latest[T any](versions []Version[T], at time.Time) (Version[T], bool) {
	var best Version[T]
	found := false
	for _, v := range versions {
		if v.EffectiveAt.After(at) {
			continue
		}
		if !found || v.EffectiveAt.After(best.EffectiveAt) || (v.EffectiveAt.Equal(best.EffectiveAt) && v.Number > best.Number) {
			best, found = v, true
		}
	}
	return best, found
}

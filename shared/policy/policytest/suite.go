package policytest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/policy"
)

// Store is what the suite checks: the engines' port, and saves stamped
// with a given time (a store stamps them with its server's clock; the
// suite saves in time order, as that clock would).
type Store interface {
	contactsync.Policies
	SaveTeamSettings(ctx context.Context, team string, at time.Time, doc policy.TeamSettings) (policy.TeamVersion, error)
	SaveSequenceOverride(ctx context.Context, team, seq string, at time.Time, doc policy.SequenceOverride) (policy.SequenceVersion, error)
}

// t0 is long before any test runs: a store answering as of its own
// processing time, not as of the time asked, answers with the latest.
var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// Run checks the store newStore returns (a fresh, empty one per call):
// each case of cases, in parallel.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, newStore(t))
		})
	}
}

// cases are the answers every store gives.
var cases = []struct {
	name  string
	check func(t *testing.T, s Store)
}{
	{"the defaults before anything is saved", defaultsFirst},
	{"answers as of the time asked, not as of now", asOfTheTimeAsked},
	{"teams and sequences answer apart", apart},
	{"a saved version comes back whole", whole},
	{"a version without the attribution settings reads as their defaults", withoutAttribution},
	{"a version without the lifecycle settings reads as their defaults", withoutLifecycle},
}

// defaultsFirst: a team that saved nothing has the defaults, version 0.
func defaultsFirst(t *testing.T, s Store) {
	ctx := context.Background()
	got, err := s.ResolveAt(ctx, "team_a", "seq_q", t0)
	if want := policy.Resolve(nil, nil, t0); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ResolveAt: got %+v, %v; want %+v", got, err, want)
	}
	tv, err := s.TeamSettingsAt(ctx, "team_a", t0)
	if err != nil || tv.Number != 0 || !reflect.DeepEqual(tv.Document, policy.DefaultTeamSettings()) {
		t.Errorf("TeamSettingsAt: got %+v, %v; want version 0 with the defaults", tv, err)
	}
}

// asOfTheTimeAsked: ResolveAt and TeamSettingsAt answer by the versions in
// effect at the time asked (an event's occurred_at), whatever was saved
// since (R4).
func asOfTheTimeAsked(t *testing.T, s Store) {
	ctx := context.Background()
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	ts := policy.DefaultTeamSettings()
	ts.SyncAs, ts.SyncMode = policy.SyncAsContact, policy.ModeOnReply
	mustSave(t, "team v1", saveTeam(ctx, s, at(10), ts))
	mustSave(t, "sequence v1", saveSeq(ctx, s, at(20), policy.SequenceOverride{SyncMode: "on_add", SyncAs: policy.Inherit}))
	ts.SyncMode = policy.ModeOff
	mustSave(t, "team v2", saveTeam(ctx, s, at(30), ts))
	mustSave(t, "sequence v2", saveSeq(ctx, s, at(40), policy.SequenceOverride{SyncMode: "on_add", SyncAs: policy.Inherit, SyncDisabled: true}))
	tests := []struct {
		at          time.Time
		as          policy.SyncAs
		mode        policy.SyncMode
		reason      string
		team, seqV  int
		teamSetting policy.SyncMode
	}{
		{at(5), policy.SyncAsLead, policy.ModeOnAdd, "", 0, 0, policy.ModeOnAdd},
		{at(10), policy.SyncAsContact, policy.ModeOnReply, "", 1, 0, policy.ModeOnReply},
		{at(15), policy.SyncAsContact, policy.ModeOnReply, "", 1, 0, policy.ModeOnReply},
		{at(25), policy.SyncAsContact, policy.ModeOnAdd, "", 1, 1, policy.ModeOnReply},
		{at(35), policy.SyncAsContact, policy.ModeOnAdd, "", 2, 1, policy.ModeOff},
		{at(40), policy.SyncAsContact, policy.ModeOnAdd, policy.ReasonSequenceSyncDisabled, 2, 2, policy.ModeOff},
		{at(600), policy.SyncAsContact, policy.ModeOnAdd, policy.ReasonSequenceSyncDisabled, 2, 2, policy.ModeOff},
	}
	for _, tc := range tests {
		got, err := s.ResolveAt(ctx, "team_a", "seq_q", tc.at)
		if err != nil || got.SyncAs != tc.as || got.Mode != tc.mode || got.Reason != tc.reason || got.TeamVersion != tc.team || got.SequenceVersion != tc.seqV {
			t.Errorf("ResolveAt %s: got %s/%s/%q v%d/v%d, %v; want %s/%s/%q v%d/v%d", tc.at.Format(time.TimeOnly),
				got.SyncAs, got.Mode, got.Reason, got.TeamVersion, got.SequenceVersion, err, tc.as, tc.mode, tc.reason, tc.team, tc.seqV)
		}
		tv, err := s.TeamSettingsAt(ctx, "team_a", tc.at)
		if err != nil || tv.Number != tc.team || tv.Document.SyncMode != tc.teamSetting {
			t.Errorf("TeamSettingsAt %s: got v%d %s, %v; want v%d %s", tc.at.Format(time.TimeOnly), tv.Number, tv.Document.SyncMode, err, tc.team, tc.teamSetting)
		}
	}
}

// apart: one team's settings and one sequence's override answer for them
// alone.
func apart(t *testing.T, s Store) {
	ctx := context.Background()
	ts := policy.DefaultTeamSettings()
	ts.SyncAs = policy.SyncAsContact
	mustSave(t, "team a v1", saveTeam(ctx, s, t0.Add(time.Minute), ts))
	mustSave(t, "team a sequence q v1", saveSeq(ctx, s, t0.Add(2*time.Minute), policy.SequenceOverride{SyncMode: "off", SyncAs: policy.Inherit}))
	later := t0.Add(time.Hour)
	tests := []struct {
		team, seq string
		as        policy.SyncAs
		reason    string
		teamV     int
	}{
		{"team_a", "seq_q", policy.SyncAsContact, policy.ReasonSyncOff, 1},
		{"team_a", "seq_r", policy.SyncAsContact, "", 1},
		{"team_b", "seq_q", policy.SyncAsLead, "", 0},
	}
	for _, tc := range tests {
		got, err := s.ResolveAt(ctx, tc.team, tc.seq, later)
		if err != nil || got.SyncAs != tc.as || got.Reason != tc.reason || got.TeamVersion != tc.teamV {
			t.Errorf("ResolveAt %s/%s: got %s %q v%d, %v; want %s %q v%d", tc.team, tc.seq, got.SyncAs, got.Reason, got.TeamVersion, err, tc.as, tc.reason, tc.teamV)
		}
	}
	if tv, err := s.TeamSettingsAt(ctx, "team_b", later); err != nil || tv.Number != 0 {
		t.Errorf("TeamSettingsAt team_b: got v%d, %v; want v0", tv.Number, err)
	}
}

// whole: every setting of a saved version comes back as saved.
func whole(t *testing.T, s Store) {
	ctx := context.Background()
	ts := policy.TeamSettings{SyncAs: policy.SyncAsContact, SyncMode: policy.ModeOnReply, Deduplication: false, ActivityTracking: true,
		ActivityKinds: policy.ActivityKinds{policy.ActivitySent: false, policy.ActivityReplied: true, policy.ActivityOpened: true,
			policy.ActivityClicked: true, policy.ActivityBounced: false},
		APIBudgetPercent: 30, HeldEventMaxDays: 3, AllowSaveOnDuplicateAlert: true,
		Owner: policy.OwnerFallbackOnly, OwnerFallbackUserID: "0055g00000Ab1CdAAJ", AccountMatching: policy.AccountMatchName,
		AccountFallback: policy.AccountFallbackPrivate, FreeMailDomains: []string{"proton.me", "gmx.net"}, TimeZone: "Europe/Paris",
		RetentionDays: 90}
	ts.SetBounceWriteback(false)
	ts.SetOptOutWriteback(false)
	mustSave(t, "team v1", saveTeam(ctx, s, t0.Add(time.Minute), ts))
	tv, err := s.TeamSettingsAt(ctx, "team_a", t0.Add(time.Hour))
	if err != nil || tv.Number != 1 || !reflect.DeepEqual(tv.Document, ts) {
		t.Errorf("TeamSettingsAt: got %+v, %v; want version 1 with %+v", tv, err, ts)
	}
	got, err := s.ResolveAt(ctx, "team_a", "seq_q", t0.Add(time.Hour))
	if err != nil || got.Deduplication || !reflect.DeepEqual(got.ActivityKinds, ts.ActivityKinds) || got.Mode != policy.ModeOnReply {
		t.Errorf("ResolveAt: got %+v, %v; want deduplication off, on_reply and the saved kinds", got, err)
	}
}

// withoutAttribution: a version whose owner, Account and time zone
// settings are unset (as saved before they existed) comes back unset, and
// reads as the defaults.
func withoutAttribution(t *testing.T, s Store) {
	ctx := context.Background()
	ts := policy.DefaultTeamSettings()
	ts.Owner, ts.AccountMatching, ts.AccountFallback = "", "", ""
	mustSave(t, "team v1", saveTeam(ctx, s, t0.Add(time.Minute), ts))
	tv, err := s.TeamSettingsAt(ctx, "team_a", t0.Add(time.Hour))
	if err != nil || tv.Number != 1 || !reflect.DeepEqual(tv.Document, ts) {
		t.Fatalf("TeamSettingsAt: got %+v, %v; want version 1 with %+v", tv, err, ts)
	}
	d := tv.Document
	if d.OwnerRule() != policy.OwnerRep || d.AccountMatchingRule() != policy.AccountMatchDomain || d.AccountFallbackRule() != policy.AccountFallbackCreate ||
		d.OwnerFallbackUserID != "" || d.FreeMailDomains != nil || d.Location("").String() != "UTC" {
		t.Errorf("read back: got %+v; want rep, domain, create, the connected user, no domains, UTC", d)
	}
}

// withoutLifecycle: a version whose write-back and retention settings are
// unset (as saved before they existed) comes back unset, and reads as
// write-backs on and 400 days.
func withoutLifecycle(t *testing.T, s Store) {
	ctx := context.Background()
	ts := policy.DefaultTeamSettings()
	ts.BounceWritebackSetting, ts.OptOutWritebackSetting, ts.RetentionDays = nil, nil, 0
	mustSave(t, "team v1", saveTeam(ctx, s, t0.Add(time.Minute), ts))
	tv, err := s.TeamSettingsAt(ctx, "team_a", t0.Add(time.Hour))
	if err != nil || tv.Number != 1 || !reflect.DeepEqual(tv.Document, ts) {
		t.Fatalf("TeamSettingsAt: got %+v, %v; want version 1 with %+v", tv, err, ts)
	}
	d := tv.Document
	if got, want := [3]any{d.BounceWriteback(), d.OptOutWriteback(), d.Retention()}, [3]any{true, true, 400 * 24 * time.Hour}; got != want {
		t.Errorf("read back BounceWriteback, OptOutWriteback, Retention: got %v; want %v", got, want)
	}
	if tv, err = s.TeamSettingsAt(ctx, "team_b", t0.Add(time.Hour)); err != nil || !tv.Document.BounceWriteback() || !tv.Document.OptOutWriteback() || tv.Document.Retention() != 400*24*time.Hour {
		t.Errorf("a team that saved nothing: got %+v, %v; want write-backs on and 400 days", tv.Document, err)
	}
}

func saveTeam(ctx context.Context, s Store, at time.Time, ts policy.TeamSettings) error {
	_, err := s.SaveTeamSettings(ctx, "team_a", at, ts)
	return err
}

func saveSeq(ctx context.Context, s Store, at time.Time, so policy.SequenceOverride) error {
	_, err := s.SaveSequenceOverride(ctx, "team_a", "seq_q", at, so)
	return err
}

func mustSave(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("save %s: %v", what, err)
	}
}

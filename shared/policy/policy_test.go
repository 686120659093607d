package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
	t2 = t0.Add(2 * time.Hour)
)

func team(n int, at time.Time, mut func(*TeamSettings)) TeamVersion {
	s := DefaultTeamSettings()
	if mut != nil {
		mut(&s)
	}
	return TeamVersion{Number: n, EffectiveAt: at, Author: "u1", Document: s}
}

func seq(n int, at time.Time, mode, as string, disabled bool) SequenceVersion {
	return SequenceVersion{Number: n, EffectiveAt: at, Author: "u1", Document: SequenceOverride{SyncMode: mode, SyncAs: as, SyncDisabled: disabled}}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	contactReply := func(s *TeamSettings) { s.SyncAs, s.SyncMode = SyncAsContact, ModeOnReply }
	teamOff := func(s *TeamSettings) { s.SyncMode = ModeOff }
	tests := []struct {
		name   string
		team   []TeamVersion
		seq    []SequenceVersion
		at     time.Time
		as     SyncAs
		mode   SyncMode
		reason string
		tv, sv int
	}{
		{name: "nothing saved: team defaults", at: t1, as: SyncAsLead, mode: ModeOnAdd},
		{name: "team settings only", team: []TeamVersion{team(1, t0, contactReply)}, at: t1, as: SyncAsContact, mode: ModeOnReply, tv: 1},
		{name: "team off", team: []TeamVersion{team(1, t0, teamOff)}, at: t1, as: SyncAsLead, mode: ModeOff, reason: ReasonSyncOff, tv: 1},
		{name: "inherit everything", team: []TeamVersion{team(1, t0, contactReply)}, seq: []SequenceVersion{seq(1, t0, Inherit, Inherit, false)}, at: t1, as: SyncAsContact, mode: ModeOnReply, tv: 1, sv: 1},
		{name: "override sync_as", team: []TeamVersion{team(1, t0, nil)}, seq: []SequenceVersion{seq(1, t0, Inherit, "contact", false)}, at: t1, as: SyncAsContact, mode: ModeOnAdd, tv: 1, sv: 1},
		{name: "override mode on_reply", seq: []SequenceVersion{seq(1, t0, "on_reply", Inherit, false)}, at: t1, as: SyncAsLead, mode: ModeOnReply, sv: 1},
		{name: "override mode on_add over team off", team: []TeamVersion{team(1, t0, teamOff)}, seq: []SequenceVersion{seq(1, t0, "on_add", Inherit, false)}, at: t1, as: SyncAsLead, mode: ModeOnAdd, tv: 1, sv: 1},
		{name: "override mode off", seq: []SequenceVersion{seq(1, t0, "off", "lead", false)}, at: t1, as: SyncAsLead, mode: ModeOff, reason: ReasonSyncOff, sv: 1},
		{name: "disabled wins over on_add", seq: []SequenceVersion{seq(1, t0, "on_add", Inherit, true)}, at: t1, as: SyncAsLead, mode: ModeOnAdd, reason: ReasonSequenceSyncDisabled, sv: 1},
		{name: "disabled wins over on_reply", seq: []SequenceVersion{seq(1, t0, "on_reply", "contact", true)}, at: t1, as: SyncAsContact, mode: ModeOnReply, reason: ReasonSequenceSyncDisabled, sv: 1},
		{name: "disabled wins over off", seq: []SequenceVersion{seq(1, t0, "off", Inherit, true)}, at: t1, as: SyncAsLead, mode: ModeOff, reason: ReasonSequenceSyncDisabled, sv: 1},
		{name: "disabled wins over inherited team mode", team: []TeamVersion{team(1, t0, contactReply)}, seq: []SequenceVersion{seq(1, t0, Inherit, Inherit, true)}, at: t1, as: SyncAsContact, mode: ModeOnReply, reason: ReasonSequenceSyncDisabled, tv: 1, sv: 1},
		{name: "team change after the add time does not apply", team: []TeamVersion{team(1, t0, nil), team(2, t2, contactReply)}, at: t1, as: SyncAsLead, mode: ModeOnAdd, tv: 1},
		{name: "team change before the add time applies", team: []TeamVersion{team(2, t1, contactReply), team(1, t0, nil)}, at: t2, as: SyncAsContact, mode: ModeOnReply, tv: 2},
		{name: "sequence change after the add time does not apply", seq: []SequenceVersion{seq(1, t0, "on_add", Inherit, false), seq(2, t2, Inherit, Inherit, true)}, at: t1, as: SyncAsLead, mode: ModeOnAdd, sv: 1},
		{name: "sequence change before the add time applies", seq: []SequenceVersion{seq(1, t0, "on_add", Inherit, false), seq(2, t1, Inherit, Inherit, true)}, at: t2, as: SyncAsLead, mode: ModeOnAdd, reason: ReasonSequenceSyncDisabled, sv: 2},
		{name: "only versions after the add time: defaults", team: []TeamVersion{team(1, t2, teamOff)}, seq: []SequenceVersion{seq(1, t2, "off", Inherit, true)}, at: t1, as: SyncAsLead, mode: ModeOnAdd},
		{name: "a version at exactly the add time applies", team: []TeamVersion{team(1, t1, teamOff)}, at: t1, as: SyncAsLead, mode: ModeOff, reason: ReasonSyncOff, tv: 1},
		{name: "same effective time: higher number wins", team: []TeamVersion{team(2, t0, teamOff), team(1, t0, nil)}, at: t1, as: SyncAsLead, mode: ModeOff, reason: ReasonSyncOff, tv: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Resolve(tt.team, tt.seq, tt.at)
			if got.SyncAs != tt.as || got.Mode != tt.mode || got.Reason != tt.reason {
				t.Errorf("got sync_as=%s mode=%s reason=%q; want sync_as=%s mode=%s reason=%q", got.SyncAs, got.Mode, got.Reason, tt.as, tt.mode, tt.reason)
			}
			if got.TeamVersion != tt.tv || got.SequenceVersion != tt.sv {
				t.Errorf("got versions team=%d sequence=%d; want team=%d sequence=%d", got.TeamVersion, got.SequenceVersion, tt.tv, tt.sv)
			}
			if got.Syncs() != (tt.reason == "") {
				t.Errorf("got Syncs()=%v; want %v", got.Syncs(), tt.reason == "")
			}
		})
	}
}

func TestResolveTeamFlags(t *testing.T) {
	t.Parallel()
	noTracking := func(s *TeamSettings) {
		s.Deduplication, s.ActivityTracking = false, false
		s.ActivityKinds = ActivityKinds{ActivityOpened: true}
	}
	tests := []struct {
		name        string
		team        []TeamVersion
		dedup       bool
		logsSent    bool
		logsOpened  bool
		logsClicked bool
	}{
		{name: "defaults", dedup: true, logsSent: true},
		{name: "tracking off logs nothing", team: []TeamVersion{team(1, t0, noTracking)}},
		{name: "opened switched on", team: []TeamVersion{team(1, t0, func(s *TeamSettings) { s.ActivityKinds[ActivityOpened] = true })}, dedup: true, logsSent: true, logsOpened: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Resolve(tt.team, nil, t1)
			if got.Deduplication != tt.dedup {
				t.Errorf("got deduplication %v; want %v", got.Deduplication, tt.dedup)
			}
			for kind, want := range map[ActivityKind]bool{ActivitySent: tt.logsSent, ActivityOpened: tt.logsOpened, ActivityClicked: tt.logsClicked} {
				if g := got.LogsActivity(kind); g != want {
					t.Errorf("got LogsActivity(%s) %v; want %v", kind, g, want)
				}
			}
		})
	}
}

func TestResolveDoesNotShareKinds(t *testing.T) {
	t.Parallel()
	v := team(1, t0, nil)
	got := Resolve([]TeamVersion{v}, nil, t1)
	got.ActivityKinds[ActivityOpened] = true
	if v.Document.ActivityKinds[ActivityOpened] {
		t.Errorf("got stored opened=%v after changing the result; want false", v.Document.ActivityKinds[ActivityOpened])
	}
}

func TestParseTeamSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		field   string // "" for valid
		problem string // substring of the problem
		want    TeamSettings
	}{
		{name: "full document", body: `{"sync_as":"contact","sync_mode":"on_reply","deduplication":false,"activity_tracking":true,"activity_kinds":{"sent":true,"replied":true,"opened":true,"clicked":false,"bounced":false}}`,
			want: TeamSettings{SyncAs: SyncAsContact, SyncMode: ModeOnReply, ActivityTracking: true, ActivityKinds: ActivityKinds{"sent": true, "replied": true, "opened": true, "clicked": false, "bounced": false}, APIBudgetPercent: 50, HeldEventMaxDays: 14, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "budget set", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"api_budget_percent":20}`,
			want: TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOnAdd, Deduplication: true, ActivityTracking: true, ActivityKinds: DefaultActivityKinds(), APIBudgetPercent: 20, HeldEventMaxDays: 14, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "budget zero", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"api_budget_percent":0}`, field: "api_budget_percent", problem: "from 1 to 100"},
		{name: "budget over 100", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"api_budget_percent":101}`, field: "api_budget_percent", problem: "from 1 to 100"},
		{name: "budget fraction", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"api_budget_percent":20.5}`, field: "api_budget_percent", problem: "from 1 to 100"},
		{name: "budget string", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"api_budget_percent":"20"}`, field: "api_budget_percent", problem: "from 1 to 100"},
		{name: "budget null", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"api_budget_percent":null}`, field: "api_budget_percent", problem: "from 1 to 100"},
		{name: "held days set", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"held_event_max_days":3}`,
			want: TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOnAdd, Deduplication: true, ActivityTracking: true, ActivityKinds: DefaultActivityKinds(), APIBudgetPercent: 50, HeldEventMaxDays: 3, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "held days at the queues' retention", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"held_event_max_days":14}`,
			want: TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOnAdd, Deduplication: true, ActivityTracking: true, ActivityKinds: DefaultActivityKinds(), APIBudgetPercent: 50, HeldEventMaxDays: 14, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "held days beyond the queues' retention", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"held_event_max_days":15}`, field: "held_event_max_days", problem: "from 1 to 14"},
		{name: "held days zero", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"held_event_max_days":0}`, field: "held_event_max_days", problem: "from 1 to 14"},
		{name: "held days fraction", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"held_event_max_days":1.5}`, field: "held_event_max_days", problem: "from 1 to 14"},
		{name: "held days huge", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"held_event_max_days":4294967297}`, field: "held_event_max_days", problem: "from 1 to 14"},
		{name: "held days null", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"held_event_max_days":null}`, field: "held_event_max_days", problem: "from 1 to 14"},
		{name: "allow save on duplicate alert set", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"allow_save_on_duplicate_alert":true}`,
			want: TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOnAdd, Deduplication: true, ActivityTracking: true, ActivityKinds: DefaultActivityKinds(), APIBudgetPercent: 50, HeldEventMaxDays: 14, AllowSaveOnDuplicateAlert: true, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "allow save on duplicate alert off", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"allow_save_on_duplicate_alert":false}`,
			want: TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOnAdd, Deduplication: true, ActivityTracking: true, ActivityKinds: DefaultActivityKinds(), APIBudgetPercent: 50, HeldEventMaxDays: 14, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "allow save on duplicate alert string", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"allow_save_on_duplicate_alert":"true"}`, field: "allow_save_on_duplicate_alert", problem: "true or false"},
		{name: "allow save on duplicate alert null", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"allow_save_on_duplicate_alert":null}`, field: "allow_save_on_duplicate_alert", problem: "true or false"},
		{name: "kinds omitted take defaults", body: `{"sync_as":"lead","sync_mode":"off","deduplication":true,"activity_tracking":false}`,
			want: TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOff, Deduplication: true, ActivityKinds: DefaultActivityKinds(), APIBudgetPercent: 50, HeldEventMaxDays: 14, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "some kinds", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"clicked":true}}`,
			want: TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOnAdd, Deduplication: true, ActivityTracking: true, ActivityKinds: ActivityKinds{"sent": true, "replied": true, "opened": false, "clicked": true, "bounced": true}, APIBudgetPercent: 50, HeldEventMaxDays: 14, Owner: OwnerRep, AccountMatching: AccountMatchDomain, AccountFallback: AccountFallbackCreate}},
		{name: "bad sync_as", body: `{"sync_as":"account","sync_mode":"on_add","deduplication":true,"activity_tracking":true}`, field: "sync_as", problem: "must be one of lead, contact"},
		{name: "sync_as wrong type", body: `{"sync_as":1,"sync_mode":"on_add","deduplication":true,"activity_tracking":true}`, field: "sync_as", problem: "must be one of lead, contact"},
		{name: "sync_as null", body: `{"sync_as":null,"sync_mode":"on_add","deduplication":true,"activity_tracking":true}`, field: "sync_as", problem: "must be one of lead, contact"},
		{name: "bad sync_mode", body: `{"sync_as":"lead","sync_mode":"always","deduplication":true,"activity_tracking":true}`, field: "sync_mode", problem: "must be one of off, on_add, on_reply"},
		{name: "inherit is not a team mode", body: `{"sync_as":"lead","sync_mode":"inherit","deduplication":true,"activity_tracking":true}`, field: "sync_mode", problem: "must be one of off, on_add, on_reply"},
		{name: "missing sync_mode", body: `{"sync_as":"lead","deduplication":true,"activity_tracking":true}`, field: "sync_mode", problem: "is required"},
		{name: "deduplication string", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":"yes","activity_tracking":true}`, field: "deduplication", problem: "must be true or false"},
		{name: "missing activity_tracking", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true}`, field: "activity_tracking", problem: "is required"},
		{name: "unknown field", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"team_id":"b"}`, field: "team_id", problem: "unknown field"},
		{name: "unknown kind", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"forwarded":true}}`, field: "activity_kinds.forwarded", problem: "sent, replied, opened, clicked, bounced"},
		{name: "kind not boolean", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":{"sent":1}}`, field: "activity_kinds.sent", problem: "must be true or false"},
		{name: "kinds not an object", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"activity_kinds":["sent"]}`, field: "activity_kinds", problem: "must be an object"},
		{name: "duplicate key", body: `{"sync_as":"lead","sync_as":"contact","sync_mode":"on_add","deduplication":true,"activity_tracking":true}`, field: "sync_as", problem: "more than once"},
		{name: "array body", body: `[]`, field: "body", problem: "must be a JSON object"},
		{name: "broken JSON", body: `{"sync_as":`, field: "body", problem: "not valid JSON"},
		{name: "trailing value", body: `{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true} {}`, field: "body", problem: "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTeamSettings([]byte(tt.body))
			checkParse(t, err, tt.field, tt.problem)
			if want := withLifecycleDefaults(tt.want); tt.field == "" && !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v; want %+v", got, want)
			}
		})
	}
}

func TestHeldMax(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		days int
		want time.Duration
	}{{0, 14 * 24 * time.Hour}, {1, 24 * time.Hour}, {14, 14 * 24 * time.Hour}} {
		if got := (TeamSettings{HeldEventMaxDays: tt.days}).HeldMax(); got != tt.want {
			t.Errorf("HeldMax with %d days: got %v; want %v", tt.days, got, tt.want)
		}
	}
	if err := (TeamSettings{SyncAs: SyncAsLead, SyncMode: ModeOnAdd, HeldEventMaxDays: MaxHeldDays + 1}).Validate(); err == nil {
		t.Errorf("Validate with %d days: got nil; want an error", MaxHeldDays+1)
	}
}

func TestParseSequenceOverride(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		field   string
		problem string
		want    SequenceOverride
	}{
		{name: "inherit", body: `{"sync_mode":"inherit","sync_as":"inherit","sync_disabled":false}`, want: DefaultSequenceOverride()},
		{name: "explicit", body: `{"sync_mode":"on_reply","sync_as":"contact","sync_disabled":true}`, want: SequenceOverride{SyncMode: "on_reply", SyncAs: "contact", SyncDisabled: true}},
		{name: "bad mode", body: `{"sync_mode":"sometimes","sync_as":"inherit","sync_disabled":false}`, field: "sync_mode", problem: "must be one of inherit, off, on_add, on_reply"},
		{name: "bad sync_as", body: `{"sync_mode":"off","sync_as":"Lead","sync_disabled":false}`, field: "sync_as", problem: "must be one of inherit, lead, contact"},
		{name: "disabled not boolean", body: `{"sync_mode":"off","sync_as":"lead","sync_disabled":"true"}`, field: "sync_disabled", problem: "must be true or false"},
		{name: "missing disabled", body: `{"sync_mode":"off","sync_as":"lead"}`, field: "sync_disabled", problem: "is required"},
		{name: "unknown field", body: `{"sync_mode":"off","sync_as":"lead","sync_disabled":false,"sequence_id":"x"}`, field: "sequence_id", problem: "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSequenceOverride([]byte(tt.body))
			checkParse(t, err, tt.field, tt.problem)
			if tt.field == "" && got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func checkParse(t *testing.T, err error, field, problem string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("got error %v; want none", err)
		}
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got error %v; want a *ValidationError wrapping ErrInvalid", err)
	}
	if ve.Field != field || !strings.Contains(ve.Problem, problem) {
		t.Errorf("got %s: %s; want %s: ...%s...", ve.Field, ve.Problem, field, problem)
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id string
		ok bool
	}{
		{"seq_1", true},
		{"a.b:c-d", true},
		{"", false},
		{"-lead", false},
		{"seq#1", false},
		{"seq/1", false},
		{"séq", false},
		{strings.Repeat("a", MaxIDLength), true},
		{strings.Repeat("a", MaxIDLength+1), false},
	}
	for _, tt := range tests {
		err := ValidateID("sequence_id", tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateID(%q): got %v; want ok=%v", tt.id, err, tt.ok)
		}
		var ve *ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Field != "sequence_id") {
			t.Errorf("ValidateID(%q): got %v; want a ValidationError naming sequence_id", tt.id, err)
		}
	}
}

package contactsync

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

func TestSettingsAt(t *testing.T) {
	t.Parallel()
	occurred := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	now := occurred.Add(48 * time.Hour)
	tests := []struct {
		name  string
		retry bool
		now   time.Time
		want  time.Time
	}{
		{"a first delivery: as of the event", false, now, occurred},
		{"the error inbox's retry: as of now, after the admin's fix", true, now, now},
		{"a retry whose event is dated ahead of the clock: never before it occurred", true, occurred.Add(-time.Minute), occurred},
	}
	for _, tt := range tests {
		d := delivery.Delivery{Retry: tt.retry, Event: event.Event{ID: "evt", OccurredAt: occurred}}
		if got := settingsAt(d, tt.now); !got.Equal(tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

// allowSaveFrom is a team whose allow_save_on_duplicate_alert is on from
// the moment on (never when it is zero).
type allowSaveFrom struct {
	Policies
	on time.Time
}

func (p allowSaveFrom) TeamSettingsAt(_ context.Context, _ string, at time.Time) (policy.TeamVersion, error) {
	s := policy.DefaultTeamSettings()
	s.AllowSaveOnDuplicateAlert = !p.on.IsZero() && !at.Before(p.on)
	return policy.TeamVersion{Document: s}, nil
}

// alertOrg is an org whose alert duplicate rule matches every record: a
// create is saved only when the call sends allowSave=true. It keeps each
// call's records and header.
type alertOrg struct {
	fakeOrg
	t     *testing.T
	mu    sync.Mutex
	calls []string // "<allowSave header>:<emails>"
}

func (o *alertOrg) Create(_ context.Context, recs []salesforce.SObject, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var emails []string
	out := make([]salesforce.SaveResult, len(recs))
	for i, r := range recs {
		emails = append(emails, fmt.Sprint(r["Email"]))
		if opts.AllowSaveOnDuplicate {
			out[i] = salesforce.SaveResult{ID: fmt.Sprintf("00Q0000000%05d", len(o.calls)*100+i), Success: true}
		} else {
			out[i] = dupResult(o.t, [2]string{"Lead", "00Q00000000SAME"})
		}
	}
	o.calls = append(o.calls, opts.Header().Get("Sforce-Duplicate-Rule-Header")+":"+fmt.Sprint(emails))
	return out, nil
}

// TestCreateSavesOverAnAlertOnlyWhereTheTeamAllows: each record is created
// with the duplicate-rule header of its team's setting as of its event (or,
// for an admin's retry, as of now): saved over an alert rule's match where
// the setting is on, failed DUPLICATES_DETECTED where it is off; one call
// per header, each answer matched to its own contact.
func TestCreateSavesOverAnAlertOnlyWhereTheTeamAllows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	on := now.Add(-24 * time.Hour) // the team turned the setting on a day ago
	org := &alertOrg{t: t}
	fl := &fakeLedger{}
	p := part{e: &Engine{Ledger: fl, Renderer: plainRenderer{}, Policies: allowSaveFrom{on: on}, Owner: "w1", Now: func() time.Time { return now }},
		team: "team_alert", org: org}
	it := func(n string, occurred time.Time, retry bool) item {
		email := n + "@alert.example"
		ev := event.Event{ID: "evt_" + n, Type: event.ContactAdded, TeamID: "team_alert", OccurredAt: occurred,
			Data: event.ContactData{Contact: event.Contact{ID: "c_" + n, Email: email}, Sequence: &event.Sequence{ID: "seq"}}}
		return item{d: delivery.Delivery{ID: "msg_" + n, Event: ev, Retry: retry}, m: ledger.Membership{TeamID: "team_alert", Email: email, Contact: event.Contact{Email: email}}, object: event.ObjectLead}
	}
	items := []item{
		it("before", on.Add(-time.Hour), false),    // occurred while the setting was off
		it("after", on.Add(time.Hour), false),      // occurred after it was turned on
		it("retried", on.Add(-time.Hour), true),    // failed while off, retried by the admin since
		it("before2", on.Add(-2*time.Hour), false), // off, in the same call as the first
	}
	tl, err := p.syncItems(context.Background(), nil, items)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"allowSave=false:[before@alert.example before2@alert.example]", "allowSave=true:[after@alert.example retried@alert.example]"}
	if !slices.Equal(org.calls, want) {
		t.Errorf("create calls: got %v; want %v", org.calls, want)
	}
	got := map[string]string{}
	for _, o := range tl.outcomes {
		code := ""
		if o.Error != nil {
			code = o.Error.Code
		}
		got[o.EventID] = string(o.Status) + "/" + code
	}
	wantOut := map[string]string{"evt_before": "failed/DUPLICATES_DETECTED", "evt_before2": "failed/DUPLICATES_DETECTED",
		"evt_after": "created/", "evt_retried": "created/"}
	for id, w := range wantOut {
		if got[id] != w {
			t.Errorf("%s: got %q; want %q", id, got[id], w)
		}
	}
	created := map[string]string{}
	for _, r := range fl.saved {
		created[r.Email] = r.ID
	}
	if created["after@alert.example"] == created["retried@alert.example"] || len(created) != 2 {
		t.Errorf("records saved: got %v; want the two allowed contacts, each with its own id", created)
	}
}

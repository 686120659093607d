package activitysync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
)

// bounced is an email.bounced of contact c1 at at, for reason.
func bounced(id string, at time.Time, reason string) delivery.Delivery {
	d := email(id, event.EmailBounced, "c1", at)
	ed := d.Event.Data.(event.EmailData)
	ed.Message.Reason = reason
	d.Event.Data = ed
	return d
}

// TestBounceWritebackRules: a bounce of a synced contact, besides its
// Task, writes its reason (cut to 255) and date to the contact's record
// when the team's bounce_writeback is on: the newest bounce only, once per
// bounce (a redelivery or an older bounce costs no call), and a refusal
// fails the event with Salesforce's code, its Task kept.
func TestBounceWritebackRules(t *testing.T) {
	t.Parallel()
	t1, t2 := start.Add(-2*time.Hour), start.Add(-time.Hour)
	long := strings.Repeat("é", 300)
	tests := []struct {
		name    string
		setup   func(r *rig)
		batches [][]delivery.Delivery
		want    map[string]string // event id -> status[/reason or code]
		reason  string            // the record's EmailBouncedReason at the end ("" none)
		date    time.Time         // and EmailBouncedDate
		updates int
		tasks   int
	}{
		{name: "a bounce: its Task, and the record carries it",
			batches: [][]delivery.Delivery{{bounced("1", t1, "mailbox full")}},
			want:    map[string]string{"evt_1": "created"}, reason: "mailbox full", date: t1, updates: 1, tasks: 1},
		{name: "then an older bounce: the record keeps the newer, no call",
			batches: [][]delivery.Delivery{{bounced("2", t2, "no such user")}, {bounced("1", t1, "mailbox full")}},
			want:    map[string]string{"evt_1": "created", "evt_2": "created"}, reason: "no such user", date: t2, updates: 1, tasks: 2},
		{name: "then a newer bounce: updated again",
			batches: [][]delivery.Delivery{{bounced("1", t1, "mailbox full")}, {bounced("2", t2, "no such user")}},
			want:    map[string]string{"evt_1": "created", "evt_2": "created"}, reason: "no such user", date: t2, updates: 2, tasks: 2},
		{name: "delivered twice: one update's worth",
			batches: [][]delivery.Delivery{{bounced("1", t1, "mailbox full")}, {again(bounced("1", t1, "mailbox full"))}},
			want:    map[string]string{"evt_1": "created"}, reason: "mailbox full", date: t1, updates: 1, tasks: 1},
		{name: "two bounces in one batch: one call, the newer",
			batches: [][]delivery.Delivery{{bounced("2", t2, "no such user"), bounced("1", t1, "mailbox full")}},
			want:    map[string]string{"evt_1": "created", "evt_2": "created"}, reason: "no such user", date: t2, updates: 1, tasks: 2},
		{name: "a reason longer than the field: cut to 255",
			batches: [][]delivery.Delivery{{bounced("1", t1, long)}},
			want:    map[string]string{"evt_1": "created"}, reason: long[:2*255], date: t1, updates: 1, tasks: 1},
		{name: "bounce_writeback off: the Task only",
			setup:   func(r *rig) { r.settings(connectedAt, func(s *policy.TeamSettings) { s.SetBounceWriteback(false) }) },
			batches: [][]delivery.Delivery{{bounced("1", t1, "mailbox full")}},
			want:    map[string]string{"evt_1": "created"}, updates: 0, tasks: 1},
		{name: "the fields not updateable: failed with the code, the Task kept",
			setup:   func(r *rig) { r.org.SetFieldUpdateable("Lead", "EmailBouncedReason", false) },
			batches: [][]delivery.Delivery{{bounced("1", t1, "mailbox full")}},
			want:    map[string]string{"evt_1": "failed/INVALID_FIELD_FOR_INSERT_UPDATE"}, updates: 1, tasks: 1},
		{name: "refused, then retried once the admin opened the field: the Task found, the bounce written",
			setup:   func(r *rig) { r.org.SetFieldUpdateable("Lead", "EmailBouncedReason", false) },
			batches: [][]delivery.Delivery{{bounced("1", t1, "mailbox full")}, nil, {again(bounced("1", t1, "mailbox full"))}},
			want:    map[string]string{"evt_1": "created"}, reason: "mailbox full", date: t1, updates: 2, tasks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			lead := r.member("c1", "synced")
			if tt.setup != nil {
				tt.setup(r)
			}
			for i, b := range tt.batches {
				if b == nil { // the admin opens the field
					r.org.SetFieldUpdateable("Lead", "EmailBouncedReason", true)
					continue
				}
				r.process(b...)
				if len(r.back) != 0 {
					t.Fatalf("batch %d: got %v back; want every event answered", i, r.back)
				}
			}
			last := r.pub.last()
			for id, want := range tt.want {
				o := last[id]
				got := string(o.Status)
				if o.Error != nil {
					got += "/" + o.Error.Code
				} else if o.Reason != "" {
					got += "/" + string(o.Reason)
				}
				if got != want {
					t.Errorf("answer of %s: got %q; want %q", id, got, want)
				}
			}
			rec, _ := r.org.Record(lead)
			gotReason, _ := rec.Fields["EmailBouncedReason"].(string)
			if gotReason != tt.reason {
				t.Errorf("EmailBouncedReason: got %q; want %q", gotReason, tt.reason)
			}
			if !tt.date.IsZero() {
				gotDate, _ := rec.Fields["EmailBouncedDate"].(string)
				if d, err := time.Parse(time.RFC3339, gotDate); err != nil || !d.Equal(tt.date) {
					t.Errorf("EmailBouncedDate: got %q; want %s", gotDate, tt.date.Format(time.RFC3339))
				}
			}
			if got := r.org.Calls(orgtest.CallUpdate); got != tt.updates {
				t.Errorf("update calls: got %d; want %d", got, tt.updates)
			}
			if got := len(r.tasks()); got != tt.tasks {
				t.Errorf("Tasks: got %d; want %d", got, tt.tasks)
			}
		})
	}
}

// TestBounceFollowsAConvertedLead: the contact's Lead was converted since
// it synced; its Task goes to the Contact (as before), and so does the
// bounce.
func TestBounceFollowsAConvertedLead(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	lead := r.member("c1", "synced")
	contact, ok := r.org.Convert(lead)
	if !ok {
		t.Fatal("convert the Lead")
	}
	r.process(bounced("1", start.Add(-time.Hour), "no such user"))
	if len(r.back) != 0 {
		t.Fatalf("got %v back; want an answer", r.back)
	}
	if o := r.pub.last()["evt_1"]; o.Status != event.StatusCreated {
		t.Fatalf("answer: got %s %+v; want created", o.Status, o.Error)
	}
	rec, _ := r.org.Record(contact)
	if got, _ := rec.Fields["EmailBouncedReason"].(string); got != "no such user" {
		t.Errorf("the Contact's EmailBouncedReason: got %q; want the bounce's", got)
	}
}

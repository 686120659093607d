package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// spyLedger is a ledger that keeps the emails claimed and the event ids
// whose outcomes were read, call by call.
type spyLedger struct {
	contactsync.Ledger
	mu      sync.Mutex
	claimed []string
	reads   [][]string
}

func (l *spyLedger) ClaimAll(ctx context.Context, teamID string, emails []string, owner string, until time.Time) ([]error, error) {
	l.mu.Lock()
	l.claimed = append(l.claimed, emails...)
	l.mu.Unlock()
	return l.Ledger.ClaimAll(ctx, teamID, emails, owner, until)
}

func (l *spyLedger) Outcomes(ctx context.Context, teamID string, refs []ledger.EventRef) (map[string]event.Outcome, error) {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.EventID
	}
	l.mu.Lock()
	l.reads = append(l.reads, ids)
	l.mu.Unlock()
	return l.Ledger.Outcomes(ctx, teamID, refs)
}

// spy puts a spyLedger in front of the rig's engine's ledger.
func (r *rig) spy() *spyLedger {
	l := &spyLedger{Ledger: r.e.Ledger}
	r.e.Ledger = l
	return l
}

// TestLinkDuplicatesNeverLinksAnotherEmail: a DUPLICATES_DETECTED answer
// links only to a record that has the contact's email, looked up again
// (here another worker's create made it since the first lookup); a record
// the rule matched on the name and phone (named in the answer or not) is
// never linked: the contact fails with the code and the matched id.
func TestLinkDuplicatesNeverLinksAnotherEmail(t *testing.T) {
	t.Parallel()
	r := newRig()
	other := seed(r, orgtest.Contact, "lovelace@elsewhere.example") // same name and phone, another email
	r.org.Refuse("named@dup.example", orgtest.Duplicate(orgtest.Contact, other))
	noBlock := salesforce.ErrorItem{Code: salesforce.CodeDuplicatesDetected, Message: "Use one of these records?"} // sObject Collections name none
	r.org.Refuse("lookup@dup.example", noBlock)
	r.org.Refuse("nowhere@dup.example", noBlock)
	var racing string
	r.onCreate(func([]salesforce.SObject, salesforce.WriteOptions) {
		if racing == "" {
			racing = seed(r, orgtest.Lead, "lookup@dup.example") // another worker's create, just before ours
		}
	})
	back := r.process(added("evt_1", "seq", person("c_1", "named@dup.example"), at(1)),
		added("evt_2", "seq", person("c_2", "lookup@dup.example"), at(1)),
		added("evt_3", "seq", person("c_3", "nowhere@dup.example"), at(1)))
	if len(back) != 0 {
		t.Fatalf("back: got %v; want none", back)
	}
	want := map[string]string{"evt_1": "failed/DUPLICATES_DETECTED", "evt_2": "linked/matched_duplicate_rule Lead",
		"evt_3": "failed/DUPLICATES_DETECTED"}
	for id, w := range want {
		if got := r.answer(id); got != w {
			t.Errorf("%s: got %q; want %q", id, got, w)
		}
	}
	if got := r.refOf("evt_2", nil); got != racing {
		t.Errorf("evt_2 linked to %s; want the Lead with its email, %s", got, racing)
	}
	if o := r.pub.of("evt_1"); len(o) != 1 || o[0].Error == nil || !strings.Contains(o[0].Error.Message, other) {
		t.Errorf("evt_1 error: got %+v; want the matched id %s named", o, other)
	}
	if o := r.pub.of("evt_3"); len(o) != 1 || o[0].Error == nil || !strings.Contains(o[0].Error.Message, "Salesforce did not say which") {
		t.Errorf("evt_3 error: got %+v; want it said that Salesforce named none", o)
	}
	if rec, ok := r.ledger.Record(team, "lookup@dup.example"); !ok || rec.MatchRule != "duplicate_rule" || rec.ID != racing {
		t.Errorf("record: got %+v, %v; want the Lead, by duplicate_rule", rec, ok)
	}
	for _, email := range []string{"named@dup.example", "nowhere@dup.example"} {
		if _, ok := r.ledger.Record(team, email); ok {
			t.Errorf("record of %s: got one; want none", email)
		}
	}
	if n := r.org.Calls(orgtest.CallFind); n != 2 {
		t.Errorf("lookups: got %d; want 2 (before creating, and of the duplicates)", n)
	}
}

// TestClaimsOnlyWhatItCreates: the emails Salesforce has are linked without
// a claim; the others are claimed before they are created, each once, and
// an email another worker holds comes back later.
func TestClaimsOnlyWhatItCreates(t *testing.T) {
	t.Parallel()
	r := newRig()
	seed(r, orgtest.Contact, "found@claim.example")
	if errs, err := r.ledger.ClaimAll(context.Background(), team, []string{"busy@claim.example"}, "worker_2", start.Add(time.Hour)); err != nil || errs[0] != nil {
		t.Fatalf("claim by another worker: %v %v", errs, err)
	}
	spy := r.spy()
	back := r.process(added("evt_1", "seq", person("c_1", "Found@Claim.example"), at(1)),
		added("evt_2", "seq", person("c_2", "new@claim.example"), at(1)),
		added("evt_3", "seq", person("c_3", "busy@claim.example"), at(1)),
		added("evt_4", "seq", person("c_4", "NEW@claim.example"), at(1)))
	if want := []string{"new@claim.example", "busy@claim.example"}; !slices.Equal(spy.claimed, want) {
		t.Errorf("claimed: got %v; want %v", spy.claimed, want)
	}
	want := map[string]string{"evt_1": "linked/matched_contact Contact", "evt_2": "created Lead",
		"evt_3": "", "evt_4": "linked/already_synced Lead"}
	for id, w := range want {
		if got := r.answer(id); got != w {
			t.Errorf("%s: got %q; want %q", id, got, w)
		}
	}
	if err := back["msg_evt_3"]; !errors.Is(err, delivery.ErrRetry) || !errors.Is(err, ledger.ErrClaimed) {
		t.Errorf("the held email's event: got %v; want a retry over ledger.ErrClaimed", err)
	}
	if owner, _, ok := r.ledger.Claim(team, "busy@claim.example"); !ok || owner != "worker_2" {
		t.Errorf("the other worker's claim: got %q, %v; want it kept", owner, ok)
	}
}

// TestCreateSavesOverAnAlertOnlyWhereTheTeamAllows: each record is created
// with the duplicate-rule header of its team's setting as of its event (or,
// for an admin's retry, as of now): saved over an alert rule's match where
// the setting is on, failed DUPLICATES_DETECTED where it is off; one call
// per header, each answer matched to its own contact.
func TestCreateSavesOverAnAlertOnlyWhereTheTeamAllows(t *testing.T) {
	t.Parallel()
	r := newRig()
	on := at(24) // the team turned the setting on then
	r.settings(t, on, func(s *policy.TeamSettings) { s.AllowSaveOnDuplicateAlert = true })
	same := seed(r, orgtest.Lead, "same@alert.example")
	var calls []string // "<allowSave header>:<emails>"
	r.onCreate(func(recs []salesforce.SObject, opts salesforce.WriteOptions) {
		var emails []string
		for _, rec := range recs {
			emails = append(emails, fmt.Sprint(rec["Email"]))
		}
		calls = append(calls, opts.Header().Get("Sforce-Duplicate-Rule-Header")+":"+fmt.Sprint(emails))
	})
	add := func(n string, occurred time.Time) delivery.Delivery {
		email := n + "@alert.example"
		r.org.Refuse(email, orgtest.Duplicate(orgtest.Lead, same)) // an alert rule matches every record
		return added("evt_"+n, "seq", person("c_"+n, email), occurred)
	}
	back := r.process(
		add("before", on.Add(-time.Hour)),           // occurred while the setting was off
		add("after", on.Add(time.Hour)),             // occurred after it was turned on
		retried(add("retried", on.Add(-time.Hour))), // failed while off, retried by the admin since
		add("before2", on.Add(-2*time.Hour)),        // off, in the same call as the first
	)
	if len(back) != 0 {
		t.Fatalf("back: got %v; want none", back)
	}
	want := []string{"allowSave=false:[before@alert.example before2@alert.example]", "allowSave=true:[after@alert.example retried@alert.example]"}
	if !slices.Equal(calls, want) {
		t.Errorf("create calls: got %v; want %v", calls, want)
	}
	wantOut := map[string]string{"evt_before": "failed/DUPLICATES_DETECTED", "evt_before2": "failed/DUPLICATES_DETECTED",
		"evt_after": "created Lead", "evt_retried": "created Lead"}
	for id, w := range wantOut {
		if got := r.answer(id); got != w {
			t.Errorf("%s: got %q; want %q", id, got, w)
		}
	}
	after, retry := r.refOf("evt_after", nil), r.refOf("evt_retried", nil)
	for email, id := range map[string]string{"after@alert.example": after, "retried@alert.example": retry} {
		if rec, ok := r.org.Record(id); !ok || rec.Email() != email {
			t.Errorf("%s: got record %+v; want its own, with its email", email, rec)
		}
	}
}

// TestAnAnsweredAddKeepsItsAnswerWhenDisconnected: an add's outcome is not
// read before its pin (pinFirst), so when the team is not connected any
// more, an add answered while it was must still get its first answer, not
// not_connected.
func TestAnAnsweredAddKeepsItsAnswerWhenDisconnected(t *testing.T) {
	t.Parallel()
	r := newRig()
	answered, fresh := added("evt_1", "seq", person("c_1", "1@nc.example"), at(1)), added("evt_2", "seq", person("c_2", "2@nc.example"), at(1))
	reply := replied("evt_3", "seq", person("c_3", "3@nc.example"), at(1))
	if back := r.process(answered); len(back) != 0 || r.answer("evt_1") != "created Lead" {
		t.Fatalf("while connected: got %q, %v back; want created", r.answer("evt_1"), back)
	}
	r.orgs.SetStatus(team, connection.StatusDisconnected)
	spy := r.spy()
	if back := r.process(answered, fresh, reply); len(back) != 0 {
		t.Fatalf("back: got %v; want none", back)
	}
	if want := [][]string{{"evt_3"}, {"evt_1", "evt_2"}}; !slices.EqualFunc(spy.reads, want, slices.Equal) {
		t.Errorf("outcomes read: got %v; want the reply's first, the adds' once not connected", spy.reads)
	}
	want := map[string]string{"evt_1": "created Lead", "evt_2": "skipped/not_connected", "evt_3": "skipped/not_connected"}
	for id, w := range want {
		if got := r.answer(id); got != w {
			t.Errorf("%s: got %q; want %q", id, got, w)
		}
	}
	if o, _ := r.ledger.Outcome(team, "evt_1"); brief(o) != "created" {
		t.Errorf("evt_1 recorded: got %q; want it kept created", brief(o))
	}
}

// TestLargeBatchesRunInParts: a team's batch larger than PartSize runs in
// parts, adds before replies; a smaller one runs whole, as it came.
func TestLargeBatchesRunInParts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		adds      int
		replies   int
		wantCalls []int
	}{
		{"one part", 600, 400, []int{1000}},
		{"adds first, in three parts", 1500, 1000, []int{1000, 1000, 500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ds []delivery.Delivery
			for i := range tc.adds + tc.replies {
				n := strconv.Itoa(i)
				d := added("evt_"+n, "seq", person("c_"+n, n+"@parts.example"), at(1))
				if i%5 < 2 && i/5*2+i%5 < tc.replies { // replies interleaved with the adds
					d.Event.Type = event.ContactReplied
				}
				ds = append(ds, d)
			}
			r := newRig()
			r.orgs.SetStatus(team, connection.StatusDisconnected)
			if back := r.process(ds...); len(back) != 0 {
				t.Fatalf("back: got %d; want none", len(back))
			}
			if !slices.Equal(r.pub.calls, tc.wantCalls) {
				t.Errorf("outcomes published per run: got %v; want %v", r.pub.calls, tc.wantCalls)
			}
			byEvent := map[string]event.Type{}
			for _, d := range ds {
				byEvent[d.Event.ID] = d.Event.Type
			}
			outs := r.pub.all()
			sawReply := false
			for _, o := range outs {
				reply := byEvent[o.EventID] == event.ContactReplied
				if len(tc.wantCalls) > 1 && sawReply && !reply {
					t.Fatalf("outcome of add %s after a reply's: got replies before adds; want adds first", o.EventID)
				}
				sawReply = sawReply || reply
			}
			answered := map[string]bool{}
			for _, o := range outs {
				answered[o.EventID] = true
			}
			if len(outs) != len(ds) || len(answered) != len(ds) {
				t.Errorf("outcomes: got %d for %d events; want one each of %d", len(outs), len(answered), len(ds))
			}
		})
	}
}

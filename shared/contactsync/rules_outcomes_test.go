package contactsync_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// mixed is a batch whose events end every way a contact event can.
func mixed() []delivery.Delivery {
	return ds(
		added("evt_created", "seq_1", ada, at(1)),
		added("evt_linked", "seq_1", person("c_bob", "bob@example.com"), at(1)),
		added("evt_skipped", "seq_off", person("c_cy", "cy@example.com"), at(1)),
		added("evt_pending", "seq_reply", person("c_di", "di@example.com"), at(1)),
		added("evt_failed", "seq_1", person("c_eve", "eve@example.com"), at(1)),
		created("evt_exists", person("c_bob", "bob@example.com"), at(1)),
		created("evt_absent", person("c_fay", "fay@example.com"), at(1)),
	)
}

// mixedSetup seeds and sets what mixed needs.
func mixedSetup(t *testing.T, r *rig) map[string]string {
	r.override(t, "seq_off", at(0), policy.SequenceOverride{SyncMode: string(policy.ModeOff), SyncAs: policy.Inherit})
	r.override(t, "seq_reply", at(0), policy.SequenceOverride{SyncMode: string(policy.ModeOnReply), SyncAs: policy.Inherit})
	r.org.Refuse("eve@example.com", orgtest.RequiredFieldMissing("LastName"))
	return map[string]string{"lead": seed(r, orgtest.Lead, "bob@example.com")}
}

// mixedAnswers are mixed's answers.
var mixedAnswers = map[string]string{
	"evt_created": "created Lead", "evt_linked": "linked/matched_lead Lead", "evt_skipped": "skipped/sync_off",
	"evt_pending": "pending/awaiting_reply", "evt_failed": "failed/REQUIRED_FIELD_MISSING",
	"evt_exists": "exists_in_salesforce/matched_lead Lead", "evt_absent": "not_in_salesforce",
}

// TestEveryEventOneFinalOutcome (R9): every event ends in exactly one
// outcome, recorded in the ledger and published, the same again on
// redelivery; a Salesforce refusal fails the contact with its code,
// message and fields; a passing fault brings the delivery back (or runs
// the part again), never a final failure.
func TestEveryEventOneFinalOutcome(t *testing.T) {
	t.Parallel()
	comesBack := func(ids ...string) func(t *testing.T, r *rig, back []map[string]error) {
		return func(t *testing.T, r *rig, back []map[string]error) {
			for _, id := range ids {
				if err := back[0]["msg_"+id]; !errors.Is(err, delivery.ErrRetry) || !errors.Is(err, salesforce.ErrTransient) {
					t.Errorf("%s: got %v; want it back over a passing fault (ErrRetry, ErrTransient)", id, err)
				}
				if o, ok := r.ledger.Outcome(team, id); ok {
					t.Errorf("%s: got outcome %s recorded; want none", id, brief(o))
				}
			}
			if m, _ := r.membership("seq_1", "c_ada"); m.Status != ledger.MemberSyncing {
				t.Errorf("membership: got %s; want syncing (not final)", m.Status)
			}
			if owner, _, ok := r.ledger.Claim(team, ada.Email); ok {
				t.Errorf("claim: got one of %s; want it given up", owner)
			}
		}
	}
	runStories(t, []story{
		{
			name:  "one outcome each, recorded and published, the same on redelivery",
			setup: mixedSetup,
			steps: []step{batch(mixed()...), batch(mixed()...)},
			want:  mixedAnswers,
			same:  [][]string{{"evt_linked", "evt_exists", "@lead"}},
			leads: 2,
			check: func(t *testing.T, r *rig, back []map[string]error) {
				for i, b := range back {
					if len(b) != 0 {
						t.Errorf("batch %d: got %v back; want none", i+1, b)
					}
				}
				oneAnswerEach(t, r, mixed())
			},
		},
		{
			name:  "refused by Salesforce: failed with its code, message and fields",
			setup: mixedSetup,
			steps: []step{batch(added("evt_failed", "seq_1", person("c_eve", "eve@example.com"), at(1)))},
			want:  map[string]string{"evt_failed": "failed/REQUIRED_FIELD_MISSING"},
			leads: 1,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				want := &event.OutcomeError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}
				if o, _ := r.ledger.Outcome(team, "evt_failed"); !reflect.DeepEqual(o.Error, want) {
					t.Errorf("error recorded: got %+v; want %+v", o.Error, want)
				}
				if m, _ := r.membership("seq_1", "c_eve"); m.Status != ledger.MemberFailed {
					t.Errorf("membership: got %s; want failed", m.Status)
				}
				if owner, _, ok := r.ledger.Claim(team, "eve@example.com"); ok {
					t.Errorf("claim: got one of %s; want it given up, for the retry of another worker", owner)
				}
			},
		},
		{
			name: "failed: a redelivery repeats the failure; the error inbox's retry, after the fix, syncs it",
			setup: func(_ *testing.T, r *rig) map[string]string {
				r.org.Refuse(ada.Email, orgtest.RequiredFieldMissing("Company"))
				return nil
			},
			steps: []step{
				batch(added("evt_add", "seq_1", ada, at(1))),
				{do: func(_ *testing.T, r *rig) { r.org.Accept(ada.Email) }, ds: ds(added("evt_add", "seq_1", ada, at(1)))},
				{do: func(t *testing.T, r *rig) {
					outs := r.pub.of("evt_add")
					if len(outs) != 2 || brief(outs[1]) != "failed/REQUIRED_FIELD_MISSING" {
						t.Errorf("the redelivery: got %d answers, the last %q; want the failure again", len(outs), brief(outs[len(outs)-1]))
					}
				}, ds: ds(retried(added("evt_add", "seq_1", ada, at(1))))},
			},
			want:  map[string]string{"evt_add": "created Lead"},
			leads: 1,
			check: func(t *testing.T, r *rig, _ []map[string]error) {
				if o, _ := r.ledger.Outcome(team, "evt_add"); brief(o) != "created" {
					t.Errorf("recorded: got %q; want the retry's created", brief(o))
				}
			},
		},
		{
			name: "a passing fault of the create call: back, no outcome",
			steps: []step{{do: func(_ *testing.T, r *rig) { r.org.FailNext(orgtest.CallCreate, orgtest.Transient()) },
				ds: ds(added("evt_add", "seq_1", ada, at(1)))}},
			want:  map[string]string{"evt_add": ""},
			check: comesBack("evt_add"),
		},
		{
			name: "a passing fault of the lookup: back, no outcome",
			steps: []step{{do: func(_ *testing.T, r *rig) { r.org.FailNext(orgtest.CallFind, orgtest.Transient()) },
				ds: ds(added("evt_add", "seq_1", ada, at(1)), created("evt_created", ada, at(1)))}},
			want:  map[string]string{"evt_add": "", "evt_created": ""},
			check: comesBack("evt_add", "evt_created"),
		},
		{
			name: "a record's passing fault (UNABLE_TO_LOCK_ROW): back, no outcome",
			steps: []step{{do: func(_ *testing.T, r *rig) {
				r.org.Refuse(ada.Email, salesforce.ErrorItem{Code: salesforce.CodeUnableToLockRow, Message: "unable to obtain exclusive access to this record"})
			}, ds: ds(added("evt_add", "seq_1", ada, at(1)))}},
			want: map[string]string{"evt_add": ""},
			check: func(t *testing.T, r *rig, back []map[string]error) {
				if err := back[0]["msg_evt_add"]; !errors.Is(err, delivery.ErrRetry) {
					t.Errorf("got %v; want it back (ErrRetry)", err)
				}
				if owner, _, ok := r.ledger.Claim(team, ada.Email); ok {
					t.Errorf("claim: got one of %s; want it given up", owner)
				}
			},
		},
		{
			name: "a passing fault, run again at once: synced",
			steps: []step{{do: func(_ *testing.T, r *rig) {
				r.e.Reruns, r.e.RerunWait = 1, time.Nanosecond
				r.org.FailNext(orgtest.CallCreate, orgtest.Transient())
			}, ds: ds(added("evt_add", "seq_1", ada, at(1)))}},
			want:  map[string]string{"evt_add": "created Lead"},
			leads: 1,
			check: func(t *testing.T, r *rig, back []map[string]error) {
				if len(back[0]) != 0 {
					t.Errorf("got %v back; want none", back[0])
				}
				oneAnswerEach(t, r, ds(added("evt_add", "seq_1", ada, at(1))))
			},
		},
	})
}

// retried is d sent again from the error inbox after an admin's fix.
func retried(d delivery.Delivery) delivery.Delivery {
	d.Retry = true
	return d
}

// oneAnswerEach checks that each event's answers, however often
// published, are one and the same, and the one the ledger recorded.
func oneAnswerEach(t *testing.T, r *rig, ds []delivery.Delivery) {
	t.Helper()
	for _, d := range ds {
		outs := r.pub.of(d.Event.ID)
		rec, ok := r.ledger.Outcome(team, d.Event.ID)
		if len(outs) == 0 || !ok {
			t.Errorf("%s: got %d published, recorded %v; want one outcome, recorded", d.Event.ID, len(outs), ok)
			continue
		}
		for _, o := range outs {
			if !reflect.DeepEqual(o, rec) {
				t.Errorf("%s: got %+v published, %+v recorded; want one outcome", d.Event.ID, o, rec)
			}
		}
	}
}

// TestConnectionRules (R1, as contact sync applies it): a team with no
// live connection syncs nothing: not connected, or an event from before
// the connection, is skipped not_connected; a team that must reconnect
// (needs_reauth, needs_admin) or whose API budget is spent has its events
// held (delivery.ErrHeld), with no outcome yet, and synced once it can.
func TestConnectionRules(t *testing.T) {
	t.Parallel()
	heldThenSynced := func(status connection.Status, want error) story {
		return story{
			name: string(status) + ": held, then synced once reconnected",
			steps: []step{
				{do: func(_ *testing.T, r *rig) { r.orgs.SetStatus(team, status) }, ds: ds(added("evt_add", "seq_1", ada, at(1)))},
				{do: func(t *testing.T, r *rig) {
					if o := r.pub.of("evt_add"); len(o) != 0 {
						t.Errorf("held: got %s published; want nothing yet", brief(o[0]))
					}
					if o, ok := r.ledger.Outcome(team, "evt_add"); ok {
						t.Errorf("held: got %s recorded; want nothing yet", brief(o))
					}
					if got := r.orgs.Connection(team).HeldAt; !got.Equal(start) {
						t.Errorf("held at: got %v; want %v", got, start)
					}
					r.orgs.Connect(team, connectedAt)
				}, ds: ds(added("evt_add", "seq_1", ada, at(1)))},
			},
			want:  map[string]string{"evt_add": "created Lead"},
			leads: 1,
			check: func(t *testing.T, r *rig, back []map[string]error) {
				if err := back[0]["msg_evt_add"]; !errors.Is(err, delivery.ErrHeld) || !errors.Is(err, want) {
					t.Errorf("got %v; want it held (ErrHeld) for %v", err, want)
				}
			},
		}
	}
	runStories(t, []story{
		{
			name: "not connected: skipped not_connected",
			steps: []step{{do: func(_ *testing.T, r *rig) { r.orgs.SetStatus(team, connection.StatusDisconnected) },
				ds: ds(added("evt_add", "seq_1", ada, at(1)), replied("evt_reply", "seq_1", ada, at(2)), created("evt_created", ada, at(1)))}},
			want: map[string]string{"evt_add": "skipped/not_connected", "evt_reply": "skipped/not_connected",
				"evt_created": "skipped/not_connected"},
			check: func(t *testing.T, r *rig, back []map[string]error) {
				noOrgCalls(t, r, back)
				oneAnswerEach(t, r, ds(added("evt_add", "seq_1", ada, at(1)), created("evt_created", ada, at(1))))
			},
		},
		{
			name: "occurred before the connection: skipped not_connected",
			steps: []step{batch(added("evt_before", "seq_1", ada, connectedAt.Add(-time.Second)),
				added("evt_at", "seq_2", person("c_bob", "bob@example.com"), connectedAt))},
			want:  map[string]string{"evt_before": "skipped/not_connected", "evt_at": "created Lead"},
			leads: 1,
		},
		heldThenSynced(connection.StatusNeedsReauth, connection.ErrNeedsReauth),
		heldThenSynced(connection.StatusNeedsAdmin, connection.ErrNeedsAdmin),
		{
			name: "the API budget spent: held",
			steps: []step{{do: func(_ *testing.T, r *rig) { r.org.SetBudget(budget.ErrCapped, budget.ErrCapped) },
				ds: ds(added("evt_add", "seq_1", ada, at(1)))}},
			want: map[string]string{"evt_add": ""},
			check: func(t *testing.T, r *rig, back []map[string]error) {
				if err := back[0]["msg_evt_add"]; !errors.Is(err, delivery.ErrHeld) || !errors.Is(err, budget.ErrCapped) {
					t.Errorf("got %v; want it held (ErrHeld) over the budget", err)
				}
			},
		},
	})
}

package ledgertest

import (
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/policy"
)

// memberCases are the rules of memberships: the first pin is kept (R4),
// updates never rewrite it.
func memberCases() []testCase {
	return []testCase{
		{"PinMemberships stores a new membership and reports it New", pinStoresNew},
		{"PinMemberships keeps the first pin", pinKeepsFirst},
		{"Of two pins of one membership in a call the first is stored for both", pinTwiceInACall},
		{"A pin repeated after a lost answer is not New", pinRepeatNotNew},
		{"An invalid membership is its own error", pinInvalid},
		{"SetMemberships changes status, reason and record, never the pin", setKeepsPin},
		{"Of two updates of one membership in a call the later is applied", setTwiceInACall},
		{"SetMemberships of a membership never pinned is its own error and pins nothing", setUnpinned},
		{"Memberships are per team", membershipsPerTeam},
		{"A membership keeps the retention it was pinned with", pinKeepsRetention},
		{"A membership its add ended is read as the add's outcome leaves it", settledByItsAdd},
	}
}

func pinStoresNew(h *harness) {
	m := membership(h.a, "seq_1", "ct_1", "evt_1")
	m.Rep = &event.User{ID: "usr_1", Email: "Rep@Sales.example", Name: "A Rep"} // the rep who added it, kept for the reply
	res := h.pin(m)
	wantEqual(h, "pin", res[0], ledger.PinResult{Membership: m, New: true})
	wantEqual(h, "stored", h.memberships(h.a, key("seq_1", "ct_1")), map[ledger.MemberKey]ledger.Membership{key("seq_1", "ct_1"): m})
}

func pinKeepsFirst(h *harness) {
	first := membership(h.a, "seq_1", "ct_1", "evt_1")
	second := membership(h.a, "seq_1", "ct_1", "evt_2")
	second.Policy.SyncAs, second.Status, second.Reason = policy.SyncAsContact, ledger.MemberSkipped, event.ReasonSyncOff
	h.pin(first)
	res := h.pin(second)
	wantEqual(h, "second pin", res[0], ledger.PinResult{Membership: first})
	wantEqual(h, "stored", h.memberships(h.a, key("seq_1", "ct_1"))[key("seq_1", "ct_1")], first)
}

func pinTwiceInACall(h *harness) {
	a := membership(h.a, "seq_1", "ct_2", "evt_2")
	b := membership(h.a, "seq_1", "ct_2", "evt_3")
	b.Policy.SyncAs = policy.SyncAsContact
	res := h.pin(a, b)
	wantEqual(h, "pins", res, []ledger.PinResult{{Membership: a, New: true}, {Membership: a}})
	wantEqual(h, "stored", h.memberships(h.a, key("seq_1", "ct_2"))[key("seq_1", "ct_2")], a)
}

func pinRepeatNotNew(h *harness) {
	first := membership(h.a, "seq_1", "ct_1", "evt_1")
	third := membership(h.a, "seq_1", "ct_3", "evt_4")
	h.pin(first)
	res := h.pin(first, third, first)
	var news []bool
	for _, r := range res {
		news = append(news, r.New)
	}
	wantEqual(h, "new pins", news, []bool{false, true, false})
}

func pinInvalid(h *harness) {
	bad := membership(h.a, "seq#1", "ct_1", "evt_1")
	good := membership(h.a, "seq_2", "ct_1", "evt_2")
	res := h.pin(bad, good)
	if res[0].Err == nil {
		h.t.Errorf("invalid pin: got %+v; want its own error", res[0])
	}
	wantEqual(h, "valid pin", res[1], ledger.PinResult{Membership: good, New: true})
	if _, ok := h.memberships(h.a, key("seq_2", "ct_1"))[key("seq_2", "ct_1")]; !ok {
		h.t.Errorf("valid membership: got none stored; want it stored")
	}
}

func setKeepsPin(h *harness) {
	first := membership(h.a, "seq_1", "ct_1", "evt_1")
	h.pin(first)
	upd := membership(h.a, "seq_1", "ct_1", "evt_9")
	upd.Policy.SyncAs, upd.PinnedAt, upd.Contact.FirstName = policy.SyncAsContact, Start, "Grace"
	upd.Status, upd.Reason = ledger.MemberSynced, ""
	upd.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	h.wantErrs("set", h.set(upd), nil)
	want := first
	want.Status, want.Reason, want.Salesforce = ledger.MemberSynced, "", upd.Salesforce
	wantEqual(h, "after set", h.memberships(h.a, key("seq_1", "ct_1"))[key("seq_1", "ct_1")], want)
}

func setTwiceInACall(h *harness) {
	m := membership(h.a, "seq_1", "ct_1", "evt_1")
	h.pin(m)
	synced, failed := m, m
	synced.Status, synced.Reason = ledger.MemberSynced, ""
	synced.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	failed.Status, failed.Reason = ledger.MemberFailed, ""
	h.wantErrs("set", h.set(synced, failed), nil, nil)
	wantEqual(h, "after set", h.memberships(h.a, key("seq_1", "ct_1"))[key("seq_1", "ct_1")], failed)
}

func setUnpinned(h *harness) {
	pinned := membership(h.a, "seq_1", "ct_1", "evt_1")
	h.pin(pinned)
	never := membership(h.a, "seq_1", "ct_never", "evt_2")
	never.Status, never.Reason = ledger.MemberSynced, ""
	upd := pinned
	upd.Status, upd.Reason = ledger.MemberSyncing, ""
	h.wantErrs("set", h.set(never, upd), errAny, nil)
	got := h.memberships(h.a, key("seq_1", "ct_never"), key("seq_1", "ct_1"))
	if _, ok := got[key("seq_1", "ct_never")]; ok {
		h.t.Errorf("membership never pinned: got it stored; want none")
	}
	wantEqual(h, "pinned, after set", got[key("seq_1", "ct_1")], upd)
}

func membershipsPerTeam(h *harness) {
	h.pin(membership(h.a, "seq_1", "ct_1", "evt_1"))
	wantEqual(h, "another team's", h.memberships(h.b, key("seq_1", "ct_1"), key("seq_1", "ct_2")), map[ledger.MemberKey]ledger.Membership{})
}

// pinKeepsRetention: the retention a membership is pinned with (the team's
// retention_days) is read back with it, so a membership read and written
// again keeps its lifetime; a later pin or update does not change it.
func pinKeepsRetention(h *harness) {
	m := membership(h.a, "seq_1", "ct_1", "evt_1")
	m.Retain = 30 * 24 * time.Hour
	wantEqual(h, "pin", h.pin(m)[0], ledger.PinResult{Membership: m, New: true})
	again := membership(h.a, "seq_1", "ct_1", "evt_2")
	again.Retain = 60 * 24 * time.Hour
	wantEqual(h, "second pin", h.pin(again)[0], ledger.PinResult{Membership: m})
	upd := m
	upd.Status, upd.Reason, upd.Retain = ledger.MemberSynced, "", 0
	upd.Salesforce = &event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}
	h.wantErrs("set", h.set(upd), nil)
	want := upd
	want.Retain = m.Retain
	wantEqual(h, "after set", h.memberships(h.a, key("seq_1", "ct_1"))[key("seq_1", "ct_1")], want)
}

// settledByItsAdd: the contact sync writes the end of a membership's own
// add as the add's outcome only; Memberships, and a pin that finds the
// membership, read it back from there. An outcome of another event
// changes nothing, and a state written later by another event stands.
func settledByItsAdd(h *harness) {
	m := membership(h.a, "seq_1", "ct_1", "evt_add")
	m.Policy.Mode, m.Status, m.Reason = policy.ModeOnAdd, ledger.MemberSyncing, ""
	failedTo := membership(h.a, "seq_2", "ct_1", "evt_add2")
	failedTo.Policy.Mode, failedTo.Status, failedTo.Reason = policy.ModeOnAdd, ledger.MemberSyncing, ""
	h.pin(m, failedTo)
	h.record(contactOutcome(h.a, "evt_other", event.StatusCreated, Start)) // another event of ct_1
	wantEqual(h, "before its add's outcome", h.memberships(h.a, key("seq_1", "ct_1"))[key("seq_1", "ct_1")].Status, ledger.MemberSyncing)

	created := contactOutcome(h.a, "evt_add", event.StatusCreated, Start)
	failed := contactOutcome(h.a, "evt_add2", event.StatusFailed, Start)
	failed.SequenceID = "seq_2"
	h.record(created, failed)
	want := m
	want.Status, want.Salesforce = ledger.MemberSynced, &event.SalesforceRef{Object: created.Salesforce.Object, ID: created.Salesforce.ID}
	wantFailed := failedTo
	wantFailed.Status = ledger.MemberFailed
	wantEqual(h, "read", h.memberships(h.a, key("seq_1", "ct_1"), key("seq_2", "ct_1")),
		map[ledger.MemberKey]ledger.Membership{key("seq_1", "ct_1"): want, key("seq_2", "ct_1"): wantFailed})
	again := membership(h.a, "seq_1", "ct_1", "evt_again")
	wantEqual(h, "a pin that finds it", h.pin(again)[0], ledger.PinResult{Membership: want})

	// A reply that syncs the failed one writes it; that state stands.
	replied := wantFailed
	replied.Status, replied.Salesforce = ledger.MemberSynced, &event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001AAA"}
	errs, err := h.l.SetMemberships(h.ctx, []ledger.Membership{replied})
	h.must("set", err)
	h.must("set", errs[0])
	wantEqual(h, "after the reply", h.memberships(h.a, key("seq_2", "ct_1"))[key("seq_2", "ct_1")], replied)
}

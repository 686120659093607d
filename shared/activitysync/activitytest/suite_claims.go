package activitytest

import (
	"errors"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
)

// claimCases are the rules of activity claims: one Task per activity key
// (R7), looked for before a create that may already have reached
// Salesforce.
func claimCases() []testCase {
	return []testCase{
		{"A first claim is fresh", claimFresh},
		{"Another owner's live claim is refused", claimRefusesLive},
		{"A claim holds through its last millisecond", claimHoldsToItsEnd},
		{"A claim the owner took in an earlier call is attempted", claimOwnAgain},
		{"An abandoned claim is taken over as attempted, with the first event", claimAbandoned},
		{"An expired claim is taken over as attempted, and the new owner's claim holds", claimExpired},
		{"AbandonAll leaves another owner's claim", abandonOthers},
		{"Unclaim forgets the owner's claim: the next claim is fresh", unclaimFresh},
		{"Unclaim by another owner leaves the claim", unclaimOthers},
		{"A logged activity comes back with its Task and first event, to anyone", claimLogged},
		{"DoneAll of the same Task again is a no-op; another Task is ErrOtherTask", doneOtherTask},
		{"DoneAll records a Task whoever holds the claim", doneAnyOwner},
		{"Unclaim and AbandonAll leave a logged activity logged", loggedStays},
		{"ClaimAll answers each request on its own", claimPerRequest},
		{"A bad or repeated key is its own error; a bad team, owner or time fails the call", claimInvalid},
		{"Activity keys are per team", claimPerTeam},
	}
}

func claimFresh(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1", "k2"), fresh("evt_k1"), fresh("evt_k2"))
}

func claimRefusesLive(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	h.wantClaims("w2", h.claims("w2", "k1"), refused)
	h.clock.Advance(30 * time.Second)
	h.wantClaims("w2, half a minute later", h.claims("w2", "k1"), refused)
}

func claimHoldsToItsEnd(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	h.clock.Advance(time.Minute)
	h.wantClaims("w2 at the claim's until", h.claims("w2", "k1"), refused)
	h.clock.Advance(time.Millisecond)
	h.wantClaims("w2 a millisecond later", h.claims("w2", "k1"), attempted("evt_k1"))
}

func claimOwnAgain(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	h.wantClaims("w1 again", h.claims("w1", "k1"), attempted("evt_k1"))
	h.wantClaims("w2", h.claims("w2", "k1"), refused)
}

func claimAbandoned(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	h.must("w1 abandons", h.s.AbandonAll(h.ctx, h.a, "w1", []string{"k1"}))
	res, err := h.s.ClaimAll(h.ctx, h.a, []activitysync.ClaimRequest{{Key: "k1", EventID: "evt_other"}}, "w2", h.clock.Now().Add(time.Minute))
	h.must("w2 claims", err)
	h.wantClaims("w2", res, attempted("evt_k1"))
	h.wantClaims("w3", h.claims("w3", "k1"), refused)
}

func claimExpired(h *harness) {
	h.wantClaims("w1", h.claimsFor(time.Second, h.a, "w1", "k1"), fresh("evt_k1"))
	h.clock.Advance(2 * time.Second)
	h.wantClaims("w2", h.claims("w2", "k1"), attempted("evt_k1"))
	h.wantClaims("w1, back", h.claims("w1", "k1"), refused)
}

func abandonOthers(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	h.must("w2 abandons", h.s.AbandonAll(h.ctx, h.a, "w2", []string{"k1", "k_never"}))
	h.wantClaims("w2", h.claims("w2", "k1", "k_never"), refused, fresh("evt_k_never"))
}

func unclaimFresh(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1", "k2"), fresh("evt_k1"), fresh("evt_k2"))
	h.must("w1 abandons k2", h.s.AbandonAll(h.ctx, h.a, "w1", []string{"k2"}))
	h.must("w1 unclaims k1", h.s.Unclaim(h.ctx, h.a, "k1", "w1"))
	h.must("w1 unclaims k2", h.s.Unclaim(h.ctx, h.a, "k2", "w1"))
	h.wantClaims("w2", h.claims("w2", "k1", "k2"), fresh("evt_k1"), fresh("evt_k2"))
}

func unclaimOthers(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	h.must("w2 unclaims", h.s.Unclaim(h.ctx, h.a, "k1", "w2"))
	h.wantClaims("w2", h.claims("w2", "k1"), refused)
}

func claimLogged(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	wantEqual(h, "done", h.done("w1", task("k1", "00T000000000001")), []error{nil})
	res, err := h.s.ClaimAll(h.ctx, h.a, []activitysync.ClaimRequest{{Key: "k1", EventID: "evt_other"}}, "w2", h.clock.Now().Add(time.Minute))
	h.must("w2 claims", err)
	h.wantClaims("w2", res, logged("00T000000000001", "evt_k1"))
	h.wantClaims("w1", h.claims("w1", "k1"), logged("00T000000000001", "evt_k1"))
}

func doneOtherTask(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	wantEqual(h, "done", h.done("w1", task("k1", "00T000000000001")), []error{nil})
	wantEqual(h, "done again", h.done("w1", task("k1", "00T000000000001")), []error{nil})
	errs := h.done("w2", task("k1", "00T000000000002"))
	if !errors.Is(errs[0], activitysync.ErrOtherTask) {
		h.t.Errorf("done with another Task: got %v; want ErrOtherTask", errs[0])
	}
	h.wantClaims("w3", h.claims("w3", "k1"), logged("00T000000000001", "evt_k1"))
}

func doneAnyOwner(h *harness) {
	h.wantClaims("w2", h.claims("w2", "k1"), fresh("evt_k1"))
	wantEqual(h, "w1 records", h.done("w1", task("k1", "00T000000000001"), task("k_never", "00T000000000002")), []error{nil, nil})
	h.wantClaims("w3", h.claims("w3", "k1", "k_never"), logged("00T000000000001", "evt_k1"), logged("00T000000000002", ""))
}

func loggedStays(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	wantEqual(h, "done", h.done("w1", task("k1", "00T000000000001")), []error{nil})
	h.must("w1 abandons", h.s.AbandonAll(h.ctx, h.a, "w1", []string{"k1"}))
	h.must("w1 unclaims", h.s.Unclaim(h.ctx, h.a, "k1", "w1"))
	h.wantClaims("w2", h.claims("w2", "k1"), logged("00T000000000001", "evt_k1"))
}

func claimPerRequest(h *harness) {
	h.wantClaims("w2", h.claims("w2", "held", "logged"), fresh("evt_held"), fresh("evt_logged"))
	h.wantClaims("w3", h.claimsFor(time.Second, h.a, "w3", "expired"), fresh("evt_expired"))
	wantEqual(h, "done", h.done("w2", task("logged", "00T000000000001")), []error{nil})
	h.clock.Advance(2 * time.Second)
	h.wantClaims("w1", h.claims("w1", "a", "held", "logged", "expired", "b"),
		fresh("evt_a"), refused, logged("00T000000000001", "evt_logged"), attempted("evt_expired"), fresh("evt_b"))
	h.wantClaims("w4", h.claims("w4", "a", "expired", "b"), refused, refused, refused)
}

func claimInvalid(h *harness) {
	reqs := []activitysync.ClaimRequest{{Key: "a", EventID: "evt_a"}, {Key: "b#1", EventID: "evt_b"}, {Key: "a", EventID: "evt_c"}, {Key: "d"}}
	res, err := h.s.ClaimAll(h.ctx, h.a, reqs, "w1", h.clock.Now().Add(time.Minute))
	h.must("claim", err)
	h.wantClaims("claim", res, fresh("evt_a"), want{err: errAny}, want{err: errAny}, want{err: errAny})
	calls := []struct {
		name, team, owner string
		until             time.Time
	}{
		{"a bad team", "team#1", "w1", h.clock.Now().Add(time.Minute)},
		{"a bad owner", h.a, "w#1", h.clock.Now().Add(time.Minute)},
		{"a time not in the future", h.a, "w1", h.clock.Now()},
	}
	for _, c := range calls {
		if _, err := h.s.ClaimAll(h.ctx, c.team, reqs[:1], c.owner, c.until); err == nil {
			h.t.Errorf("claim with %s: got no error; want one", c.name)
		}
	}
}

func claimPerTeam(h *harness) {
	h.wantClaims("w1", h.claims("w1", "k1"), fresh("evt_k1"))
	h.wantClaims("w2 in team b", h.claimsFor(time.Minute, h.b, "w2", "k1"), fresh("evt_k1"))
}

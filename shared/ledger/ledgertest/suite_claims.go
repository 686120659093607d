package ledgertest

import (
	"time"

	"github.com/sfsync/sfsync/shared/ledger"
)

// claimCases are the rules of claims: one owner at a time may create an
// email's record (R5), until its claim expires.
func claimCases() []testCase {
	return []testCase{
		{"ClaimAll takes a free email", claimFree},
		{"ClaimAll refuses another owner's live claim", claimRefusesLiveClaim},
		{"ClaimAll takes the owner's own claim again, to the new time", claimOwnAgain},
		{"A claim holds through its last millisecond", claimHoldsToItsEnd},
		{"ClaimAll takes over an expired claim, and the old owner may no longer save", claimTakesExpired},
		{"ClaimAll refuses an email that has a record, even to the owner that saved it", claimRefusesRecorded},
		{"ClaimAll answers each email on its own", claimPerEmail},
		{"ClaimAll matches emails case-insensitively and trimmed", claimNormalizes},
		{"ClaimAll refuses a bad team, owner or time as a whole, a bad email on its own", claimInvalid},
		{"Unclaim ends only its owner's claim", unclaimOwnerOnly},
		{"Unclaim leaves a saved record", unclaimKeepsRecord},
	}
}

func claimFree(h *harness) {
	h.wantErrs("w1 claims", h.claim(h.a, "w1", "ada@example.com"), nil)
	h.wantErrs("w2 claims", h.claim(h.a, "w2", "ada@example.com"), ledger.ErrClaimed)
	h.wantErrs("w2 claims in another team", h.claim(h.b, "w2", "ada@example.com"), nil)
}

func claimRefusesLiveClaim(h *harness) {
	h.wantErrs("evt_1 claims", h.claim(h.a, "evt_1", "ada@example.com"), nil)
	h.wantErrs("evt_2 claims", h.claim(h.a, "evt_2", "ada@example.com"), ledger.ErrClaimed)
	// The claim is still evt_1's: evt_2 may not save, evt_1 may.
	h.wantErrs("evt_2 saves", h.save(record(h.a, "ada@example.com", "evt_2", "00Q000000000002AAA")), ledger.ErrClaimed)
	h.wantErrs("evt_1 saves", h.save(record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")), nil)
}

func claimOwnAgain(h *harness) {
	h.wantErrs("w1 claims for a minute", h.claimFor(time.Minute, h.a, "w1", "ada@example.com"), nil)
	h.wantErrs("w1 claims for ten", h.claimFor(10*time.Minute, h.a, "w1", "ada@example.com"), nil)
	h.clock.Advance(5 * time.Minute)
	h.wantErrs("w2 claims after five", h.claim(h.a, "w2", "ada@example.com"), ledger.ErrClaimed)
}

func claimHoldsToItsEnd(h *harness) {
	h.wantErrs("w1 claims", h.claimFor(time.Minute, h.a, "w1", "ada@example.com"), nil)
	h.clock.Advance(time.Minute)
	h.wantErrs("w2 claims at the claim's until", h.claim(h.a, "w2", "ada@example.com"), ledger.ErrClaimed)
	h.clock.Advance(time.Millisecond)
	h.wantErrs("w2 claims a millisecond later", h.claim(h.a, "w2", "ada@example.com"), nil)
}

func claimTakesExpired(h *harness) {
	h.wantErrs("evt_1 claims", h.claimFor(time.Second, h.a, "evt_1", "ada@example.com"), nil)
	h.clock.Advance(2 * time.Second)
	h.wantErrs("evt_2 claims", h.claim(h.a, "evt_2", "ada@example.com"), nil)
	h.wantErrs("evt_1, late, saves", h.save(record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")), ledger.ErrClaimed)
	h.wantErrs("evt_2 saves", h.save(record(h.a, "ada@example.com", "evt_2", "00Q000000000002AAA")), nil)
}

func claimRefusesRecorded(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	h.wantErrs("evt_1 claims", h.claim(h.a, "evt_1", rec.Email), nil)
	h.wantErrs("evt_1 saves", h.save(rec), nil)
	h.wantErrs("evt_1 claims again", h.claim(h.a, "evt_1", rec.Email), ledger.ErrClaimed)
	h.wantErrs("evt_2 claims", h.claim(h.a, "evt_2", rec.Email), ledger.ErrClaimed)
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
}

func claimPerEmail(h *harness) {
	h.wantErrs("w2 claims", h.claim(h.a, "w2", "held@example.com"), nil)
	h.wantErrs("evt_0 claims", h.claim(h.a, "evt_0", "synced@example.com"), nil)
	h.wantErrs("evt_0 saves", h.save(record(h.a, "synced@example.com", "evt_0", "00Q000000000009AAA")), nil)
	errs := h.claim(h.a, "w1", "a@example.com", "Held@example.com", "b@example.com", "synced@example.com", "c@example.com")
	h.wantErrs("w1 claims five", errs, nil, ledger.ErrClaimed, nil, ledger.ErrClaimed, nil)
	h.wantErrs("w3 claims w1's", h.claim(h.a, "w3", "a@example.com", "b@example.com", "c@example.com"),
		ledger.ErrClaimed, ledger.ErrClaimed, ledger.ErrClaimed)
}

func claimNormalizes(h *harness) {
	h.wantErrs("w1 claims", h.claim(h.a, "w1", " Ada@Example.COM "), nil)
	h.wantErrs("w2 claims", h.claim(h.a, "w2", "ada@example.com"), ledger.ErrClaimed)
}

func claimInvalid(h *harness) {
	now := h.clock.Now()
	calls := []struct {
		name, team, owner string
		until             time.Time
	}{
		{"a bad team", "team#1", "w1", now.Add(time.Minute)},
		{"a bad owner", h.a, "", now.Add(time.Minute)},
		{"a time not in the future", h.a, "w1", now},
	}
	for _, c := range calls {
		if _, err := h.l.ClaimAll(h.ctx, c.team, []string{"ada@example.com"}, c.owner, c.until); err == nil {
			h.t.Errorf("claim with %s: got no error; want one", c.name)
		}
	}
	h.wantErrs("claim a bad email", h.claim(h.a, "w1", "ada@example.com", "  ", "a\x00@example.com"), nil, errAny, errAny)
	h.wantErrs("w2 claims", h.claim(h.a, "w2", "ada@example.com"), ledger.ErrClaimed)
}

func unclaimOwnerOnly(h *harness) {
	h.wantErrs("w1 claims", h.claim(h.a, "w1", "ada@example.com"), nil)
	h.must("w2 unclaims", h.l.Unclaim(h.ctx, h.a, "ada@example.com", "w2"))
	h.wantErrs("w2 claims", h.claim(h.a, "w2", "ada@example.com"), ledger.ErrClaimed)
	h.must("w1 unclaims", h.l.Unclaim(h.ctx, h.a, "Ada@Example.com", "w1"))
	h.wantErrs("w2 claims the unclaimed", h.claim(h.a, "w2", "ada@example.com"), nil)
}

func unclaimKeepsRecord(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	h.wantErrs("evt_1 claims", h.claim(h.a, "evt_1", rec.Email), nil)
	h.wantErrs("evt_1 saves", h.save(rec), nil)
	h.must("evt_1 unclaims", h.l.Unclaim(h.ctx, h.a, rec.Email, "evt_1"))
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
	h.wantErrs("evt_2 claims", h.claim(h.a, "evt_2", rec.Email), ledger.ErrClaimed)
}

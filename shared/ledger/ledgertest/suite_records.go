package ledgertest

import (
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// recordCases are the rules of saved records: an email resolves to one
// Salesforce record for good (R5), moved only to follow a Lead's conversion.
func recordCases() []testCase {
	return []testCase{
		{"SaveRecords stores the record under its normalized email", saveStores},
		{"SaveRecords refuses under another owner's live claim", saveRefusesLiveClaim},
		{"SaveRecords saves over another owner's expired claim", saveOverExpiredClaim},
		{"A record found in Salesforce is linked without a claim", saveLinkWithoutClaim},
		{"SaveRecords keeps the saved Salesforce id; its own event may save it again", saveKeepsID},
		{"SaveRecords links only where the email has no record", saveLinkOnlyFresh},
		{"SaveRecords answers each record on its own", savePerRecord},
		{"Records returns saved records only, per team", recordsSavedOnly},
		{"FollowRecord moves a record to the converted Lead's Contact", followMoves},
		{"FollowRecord refuses a record pointing elsewhere, or none", followRefuses},
		{"A record keeps the retention it was saved with, also when followed", saveKeepsRetention},
	}
}

func saveStores(h *harness) {
	rec := record(h.a, "Grace@Example.com", "evt_1", "00Q000000000001AAA")
	rec.SyncedAt = Start.In(westOfUTC)
	// Who it was given to, and why, is kept with it (so every copy of its
	// event answers alike).
	rec.Credit = &ledger.Credit{OwnerID: "005000000000001AAA", Reason: event.ReasonNoAccount,
		Match: &event.Match{Owner: event.OwnerRep, Account: event.AccountNone, Detail: "owner: the rep; account: none matched"}}
	h.wantErrs("evt_1 claims", h.claim(h.a, "evt_1", rec.Email), nil)
	h.wantErrs("evt_1 saves", h.save(rec), nil)
	want := rec
	want.Email, want.SyncedAt = "grace@example.com", Start
	wantEqual(h, "records", h.records(h.a, "GRACE@example.com "), map[string]ledger.Record{"grace@example.com": want})
}

func saveRefusesLiveClaim(h *harness) {
	h.wantErrs("evt_1 claims", h.claim(h.a, "evt_1", "ada@example.com"), nil)
	h.wantErrs("evt_2 saves", h.save(record(h.a, "ada@example.com", "evt_2", "00Q000000000002AAA")), ledger.ErrClaimed)
	h.wantErrs("evt_2 links", h.save(linked(h.a, "ada@example.com", "evt_2", "003000000000002AAA")), ledger.ErrClaimed)
	wantEqual(h, "records", h.records(h.a, "ada@example.com"), map[string]ledger.Record{})
}

func saveOverExpiredClaim(h *harness) {
	h.wantErrs("evt_1 claims", h.claim(h.a, "evt_1", "ada@example.com"), nil)
	h.clock.Advance(2 * time.Minute)
	rec := linked(h.a, "ada@example.com", "evt_2", "003000000000002AAA")
	h.wantErrs("evt_2 links", h.save(rec), nil)
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
}

func saveLinkWithoutClaim(h *harness) {
	rec := linked(h.a, "ada@example.com", "evt_1", "003000000000001AAA")
	h.wantErrs("evt_1 links", h.save(rec), nil)
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
}

func saveKeepsID(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	h.wantErrs("evt_1 saves", h.save(rec), nil)
	h.wantErrs("evt_1 saves again (a lost answer)", h.save(rec), nil)
	h.wantErrs("evt_2 saves another id", h.save(record(h.a, rec.Email, "evt_2", "00Q000000000002AAA")), errAny)
	h.wantErrs("evt_2 saves the same id", h.save(record(h.a, rec.Email, "evt_2", rec.ID)), errAny)
	h.wantErrs("evt_1 saves another id", h.save(record(h.a, rec.Email, "evt_1", "00Q000000000003AAA")), errAny)
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
}

func saveLinkOnlyFresh(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	h.wantErrs("evt_1 saves", h.save(rec), nil)
	link := linked(h.a, rec.Email, "evt_1", rec.ID)
	link.Object = event.ObjectLead
	h.wantErrs("evt_1 links the same record", h.save(link), errAny)
	h.wantErrs("evt_2 links the same record", h.save(linked(h.a, rec.Email, "evt_2", "003000000000001AAA")), errAny)
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
}

func savePerRecord(h *harness) {
	h.wantErrs("w1 claims", h.claim(h.a, "w1", "held@example.com"), nil)
	ok := record(h.a, "a@example.com", "evt_1", "00Q000000000001AAA")
	bad := record(h.a, "b@example.com", "evt_2", "x'; drop")
	held := record(h.a, "held@example.com", "evt_3", "00Q000000000003AAA")
	task := record(h.a, "c@example.com", "evt_4", "00T000000000004AAA")
	task.Object = event.ObjectTask
	h.wantErrs("save four", h.save(ok, bad, held, task), nil, errAny, ledger.ErrClaimed, errAny)
	got := h.records(h.a, ok.Email, bad.Email, held.Email, task.Email)
	wantEqual(h, "records", got, map[string]ledger.Record{ok.Email: ok})
}

func recordsSavedOnly(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	h.wantErrs("save", h.save(rec), nil)
	h.wantErrs("claim", h.claim(h.a, "w1", "claimed@example.com"), nil)
	wantEqual(h, "records", h.records(h.a, rec.Email, "claimed@example.com", "nobody@example.com"), map[string]ledger.Record{rec.Email: rec})
	wantEqual(h, "another team's", h.records(h.b, rec.Email), map[string]ledger.Record{})
}

func followMoves(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	h.wantErrs("save", h.save(rec), nil)
	to := event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001AAA"}
	want := rec
	want.Object, want.ID, want.MatchRule = to.Object, to.ID, "followed_conversion"
	for _, try := range []string{"follow", "follow again"} {
		got, err := h.l.FollowRecord(h.ctx, h.a, "Ada@Example.com", rec.ID, to)
		h.must(try, err)
		wantEqual(h, try, got, want)
	}
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: want})
}

func followRefuses(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	h.wantErrs("save", h.save(rec), nil)
	to := event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001AAA"}
	if _, err := h.l.FollowRecord(h.ctx, h.a, rec.Email, "00Q000000000009AAA", to); err == nil {
		h.t.Errorf("follow from a third id: got no error; want one")
	}
	if _, err := h.l.FollowRecord(h.ctx, h.a, "nobody@example.com", rec.ID, to); err == nil {
		h.t.Errorf("follow an email without a record: got no error; want one")
	}
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
}

// saveKeepsRetention: the retention a record is saved with (the team's
// retention_days) is read back with it, and a followed record keeps it.
func saveKeepsRetention(h *harness) {
	rec := record(h.a, "ada@example.com", "evt_1", "00Q000000000001AAA")
	rec.Retain = 30 * 24 * time.Hour
	h.wantErrs("save", h.save(rec), nil)
	wantEqual(h, "records", h.records(h.a, rec.Email), map[string]ledger.Record{rec.Email: rec})
	to := event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001AAA"}
	got, err := h.l.FollowRecord(h.ctx, h.a, rec.Email, rec.ID, to)
	h.must("follow", err)
	want := rec
	want.Object, want.ID, want.MatchRule = to.Object, to.ID, "followed_conversion"
	wantEqual(h, "followed", got, want)
}

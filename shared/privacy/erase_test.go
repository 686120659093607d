package privacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/privacy/privacytest"
	"github.com/sfsync/sfsync/shared/salesforce"
)

const (
	team  = "team_acme"
	other = "team_other"
	lead  = "00Q000000000001AAA"
	task  = "00T000000000001AAA"
)

var at = time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)

// ada is the person most cases erase.
var ada = privacytest.Person{Contact: "ct_ada", Email: "ada@example.com", ClaimedEmail: "ada.l@example.com", LeadID: lead, TaskID: task}

// rig is an eraser on memory ports, a clock that stands still, and ids
// counted.
type rig struct {
	store    *privacytest.Memory
	orgs     *privacytest.Orgs
	receipts *privacytest.Receipts
	eraser   *privacy.Eraser
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{store: privacytest.NewMemory(), orgs: privacytest.NewOrgs(), receipts: privacytest.NewReceipts()}
	n := 0
	r.eraser = &privacy.Eraser{Store: r.store, Orgs: r.orgs, Receipts: r.receipts, Now: func() time.Time { return at },
		NewID: func() string { n++; return rigID(n) }}
	return r
}

// rigID is the rig's n-th receipt id: era_ and n in 26 letters.
func rigID(n int) string {
	return "era_" + strings.Map(func(r rune) rune { return 'a' + r - '0' }, fmt.Sprintf("%026d", n))
}

// full is what erasing all of ada deletes in the ledger: the outcomes are
// the two seeded, and those of the two adds and of the email logged.
var full = privacy.Counts{Memberships: 2, Records: 2, Outcomes: 5, Failures: 1, HeldEvents: 2, Activities: 1, OptOuts: 1, Bounces: 1}

func with(c privacy.Counts, f func(*privacy.Counts)) privacy.Counts { f(&c); return c }

// TestEraseCountsEveryKind: each way of naming the person finds all of
// them; each item kind is counted exactly; the team's store is empty
// afterwards and the other team's, which holds the same person, is
// untouched.
func TestEraseCountsEveryKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		seed    func(t *testing.T, r *rig)
		req     privacy.Request
		want    privacy.Counts
		refused []privacy.Refusal
		calls   [][]string // the org's delete calls
		left    map[privacy.Kind]int
	}{
		{name: "by email", seed: seedAda, req: privacy.Request{Email: ada.Email}, want: full},
		{name: "by email in another case", seed: seedAda, req: privacy.Request{Email: "ADA@Example.com"}, want: full},
		{name: "by contact id", seed: seedAda, req: privacy.Request{ContactID: ada.Contact}, want: full},
		{name: "by both", seed: seedAda, req: privacy.Request{Email: ada.Email, ContactID: ada.Contact, Salesforce: privacy.Keep}, want: full},
		{name: "by the email of a claim only", seed: seedAda, req: privacy.Request{Email: ada.ClaimedEmail},
			// The claim names no contact: only its own RECORD item goes.
			want: privacy.Counts{Records: 1}, left: map[privacy.Kind]int{privacy.KindMembership: 2, privacy.KindRecord: 1, privacy.KindOutcome: 5,
				privacy.KindFailure: 1, privacy.KindFailureSet: 1, privacy.KindActivity: 1, privacy.KindHeldList: 1, privacy.KindHeldEvent: 2,
				privacy.KindOptOut: 1, privacy.KindBounce: 1}},
		{name: "nobody", seed: seedAda, req: privacy.Request{Email: "nobody@example.com", ContactID: "ct_nobody"},
			left: map[privacy.Kind]int{privacy.KindMembership: 2, privacy.KindRecord: 2, privacy.KindOutcome: 5, privacy.KindFailure: 1,
				privacy.KindFailureSet: 1, privacy.KindActivity: 1, privacy.KindHeldList: 1, privacy.KindHeldEvent: 2, privacy.KindOptOut: 1, privacy.KindBounce: 1}},
		{name: "an opt-out names the contact", seed: func(t *testing.T, r *rig) {
			ctx := context.Background()
			must(t, r.store.OptOut(ctx, team, "grace@example.com", "ct_grace"))
			must(t, r.store.Outcome(ctx, team, "evt_1", "ct_grace", true))
			must(t, r.store.Bounce(ctx, team, "grace@example.com"))
		}, req: privacy.Request{Email: "grace@example.com"}, want: privacy.Counts{OptOuts: 1, Outcomes: 1, Failures: 1, Bounces: 1}},
		{name: "a membership names the email", seed: func(t *testing.T, r *rig) {
			ctx := context.Background()
			must(t, r.store.Membership(ctx, team, "seq_1", "ct_alan", "alan@example.com"))
			must(t, r.store.Bounce(ctx, team, "alan@example.com"))
			must(t, r.store.Held(ctx, team, "seq_1", "ct_alan", "evt_h"))
		}, req: privacy.Request{ContactID: "ct_alan"}, want: privacy.Counts{Memberships: 1, Outcomes: 1, Bounces: 1, HeldEvents: 1}},
		{name: "Salesforce delete: the Task, then the Lead", seed: func(t *testing.T, r *rig) { r.orgs.Connect(team); seedAda(t, r) }, req: privacy.Request{ContactID: ada.Contact, Salesforce: privacy.Delete},
			want: with(full, func(c *privacy.Counts) { c.SalesforceDeleted = 2 }), calls: [][]string{{task, lead}}},
		{name: "Salesforce delete: the Lead deleted before", seed: func(t *testing.T, r *rig) {
			org := r.orgs.Connect(team)
			seedAda(t, r)
			_, _ = org.DeleteRecords(context.Background(), []string{lead})
			org.Calls = nil
		}, req: privacy.Request{Email: ada.Email, Salesforce: privacy.Delete},
			want: with(full, func(c *privacy.Counts) { c.SalesforceDeleted, c.SalesforceAlreadyDeleted = 1, 1 }), calls: [][]string{{task, lead}}},
		{name: "Salesforce delete: a refusal is reported and the items erased", seed: func(t *testing.T, r *rig) {
			r.orgs.Connect(team).Refuse(lead, "INSUFFICIENT_ACCESS_OR_READONLY")
			seedAda(t, r)
		}, req: privacy.Request{Email: ada.Email, Salesforce: privacy.Delete},
			want:    with(full, func(c *privacy.Counts) { c.SalesforceDeleted = 1 }),
			refused: []privacy.Refusal{{Object: "Lead", ID: lead, Code: "INSUFFICIENT_ACCESS_OR_READONLY", Message: "INSUFFICIENT_ACCESS_OR_READONLY (memory org)"}},
			calls:   [][]string{{task, lead}}},
		{name: "Salesforce delete: 200 ids a call, Tasks first", seed: func(t *testing.T, r *rig) {
			ctx := context.Background()
			org := r.orgs.Connect(team)
			must(t, r.store.Membership(ctx, team, "seq_many", "ct_many", "many@example.com"))
			must(t, r.store.Record(ctx, team, "many@example.com", "ct_many", "Contact", "003000000000001AAA"))
			org.Seed("Contact", "003000000000001AAA")
			for i := range 450 {
				id := fmt.Sprintf("00T%015d", i)
				must(t, r.store.Activity(ctx, team, fmt.Sprintf("key_%03d", i), "ct_many", id))
				org.Seed("Task", id)
			}
		}, req: privacy.Request{ContactID: "ct_many", Salesforce: privacy.Delete},
			want:  privacy.Counts{Memberships: 1, Records: 1, Outcomes: 451, Activities: 450, SalesforceDeleted: 451},
			calls: [][]string{taskIDs(0, 200), taskIDs(200, 400), append(taskIDs(400, 450), "003000000000001AAA")}},
		{name: "Salesforce delete: nothing to delete costs no call", seed: func(t *testing.T, r *rig) {
			r.orgs.Connect(team)
			must(t, r.store.Bounce(context.Background(), team, "x@example.com"))
		}, req: privacy.Request{Email: "x@example.com", Salesforce: privacy.Delete}, want: privacy.Counts{Bounces: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			tt.seed(t, r)
			seedAdaIn(t, &rig{store: r.store, orgs: privacytest.NewOrgs()}, other)
			beforeOther := r.store.Kinds(other)
			req := tt.req
			req.TeamID = team
			got, err := r.eraser.Erase(context.Background(), req)
			if err != nil {
				t.Fatalf("Erase: %v", err)
			}
			if got.Counts != tt.want {
				t.Errorf("counts: got %+v; want %+v", got.Counts, tt.want)
			}
			refused := tt.refused
			if refused == nil {
				refused = []privacy.Refusal{}
			}
			if !slices.Equal(got.Refused, refused) {
				t.Errorf("refused: got %+v; want %+v", got.Refused, refused)
			}
			left := tt.left
			if left == nil {
				left = map[privacy.Kind]int{}
			}
			if k := r.store.Kinds(team); fmt.Sprint(k) != fmt.Sprint(left) {
				t.Errorf("left in the team's store: got %v; want %v", k, left)
			}
			if k := r.store.Kinds(other); fmt.Sprint(k) != fmt.Sprint(beforeOther) {
				t.Errorf("the other team's store: got %v; want %v as before", k, beforeOther)
			}
			org, _ := r.orgs.Open(context.Background(), team)
			var calls [][]string
			if org != nil {
				calls = org.(*privacytest.Org).Calls
			}
			if fmt.Sprint(calls) != fmt.Sprint(tt.calls) {
				t.Errorf("delete calls: got %v; want %v", calls, tt.calls)
			}
			if org != nil && tt.req.Salesforce == privacy.Delete {
				o := org.(*privacytest.Org)
				if o.Closed != 1 || len(o.Allowed) != len(tt.calls) || slices.ContainsFunc(o.Allowed, func(p budget.Priority) bool { return p != budget.High }) {
					t.Errorf("org: got %d closes, budget asked %v; want 1 close and High before each of %d calls", o.Closed, o.Allowed, len(tt.calls))
				}
			}
			if got.At != at || got.Salesforce != cmpMode(tt.req.Salesforce) || got.ID != rigID(1) {
				t.Errorf("receipt: got id %s at %s, salesforce %q; want the first id at %s, %q", got.ID, got.At, got.Salesforce, at, cmpMode(tt.req.Salesforce))
			}
			if kept, err := r.receipts.Get(context.Background(), team, got.ID); err != nil || fmt.Sprint(kept) != fmt.Sprint(got) {
				t.Errorf("kept receipt: got %+v, %v; want %+v", kept, err, got)
			}
		})
	}
}

func cmpMode(m privacy.Mode) privacy.Mode {
	if m == "" {
		return privacy.Keep
	}
	return m
}

func taskIDs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("00T%015d", i))
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seedAda seeds ada in team and gives her Lead and Task to the team's org
// when it has one.
func seedAda(t *testing.T, r *rig) { t.Helper(); seedAdaIn(t, r, team) }

func seedAdaIn(t *testing.T, r *rig, tm string) {
	t.Helper()
	privacytest.Seed(t, r.store, tm, ada)
	if org, err := r.orgs.Open(context.Background(), tm); err == nil {
		org.(*privacytest.Org).Seed("Lead", lead)
		org.(*privacytest.Org).Seed("Task", task)
	}
}

// TestSecondErasureIsANoOp: the same erasure again deletes nothing, spends
// no Salesforce call, and gets a receipt of its own with zero counts.
func TestSecondErasureIsANoOp(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	org := r.orgs.Connect(team)
	seedAda(t, r)
	req := privacy.Request{TeamID: team, Email: ada.Email, Salesforce: privacy.Delete}
	first, err := r.eraser.Erase(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := with(full, func(c *privacy.Counts) { c.SalesforceDeleted = 2 }); first.Counts != want {
		t.Errorf("first: got %+v; want %+v", first.Counts, want)
	}
	second, err := r.eraser.Erase(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if second.Counts != (privacy.Counts{}) || len(second.Refused) != 0 || second.ID == first.ID {
		t.Errorf("second: got %+v (id %s); want zero counts under a new id", second, second.ID)
	}
	if len(org.Calls) != 1 {
		t.Errorf("delete calls: got %d; want 1 (the second erasure has nothing to delete)", len(org.Calls))
	}
	if n := len(r.receipts.All()); n != 2 {
		t.Errorf("receipts: got %d; want 2", n)
	}
}

// TestEraseRefusals: an erasure that cannot do what it was asked deletes
// nothing and keeps no receipt.
func TestEraseRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(r *rig)
		req       privacy.Request
		want      error
		field     string
		wantCalls int
	}{
		{name: "no identifier", req: privacy.Request{}, want: privacy.ErrInvalid, field: "email"},
		{name: "a bad email", req: privacy.Request{Email: "not-an-email"}, want: privacy.ErrInvalid, field: "email"},
		{name: "an email with a name", req: privacy.Request{Email: "Ada <ada@example.com>"}, want: privacy.ErrInvalid, field: "email"},
		{name: "a contact id with #", req: privacy.Request{ContactID: "ct#1"}, want: privacy.ErrInvalid, field: "contact_id"},
		{name: "a contact id too long", req: privacy.Request{ContactID: strings.Repeat("c", 129)}, want: privacy.ErrInvalid, field: "contact_id"},
		{name: "a good email and a bad contact id", req: privacy.Request{Email: ada.Email, ContactID: " ct"}, want: privacy.ErrInvalid, field: "contact_id"},
		{name: "an unknown mode", req: privacy.Request{Email: ada.Email, Salesforce: "purge"}, want: privacy.ErrInvalid, field: "salesforce"},
		{name: "delete without a connection", req: privacy.Request{Email: ada.Email, Salesforce: privacy.Delete}, want: connection.ErrNotConnected},
		{name: "the budget is spent", setup: func(r *rig) { r.orgs.Connect(team).Budget = budget.ErrCapped },
			req: privacy.Request{Email: ada.Email, Salesforce: privacy.Delete}, want: budget.ErrCapped},
		{name: "Salesforce fails", setup: func(r *rig) {
			o := r.orgs.Connect(team)
			o.FailCall, o.FailErr = 1, fmt.Errorf("composite: %w", salesforce.ErrTransient)
		}, req: privacy.Request{Email: ada.Email, Salesforce: privacy.Delete}, want: salesforce.ErrTransient, wantCalls: 1},
		{name: "the store fails", setup: func(r *rig) { r.store.Fail = errors.New("table gone") }, req: privacy.Request{Email: ada.Email}, want: errors.New("table gone")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			seedAda(t, r)
			before := r.store.Kinds(team)
			if tt.setup != nil {
				tt.setup(r)
			}
			req := tt.req
			req.TeamID = team
			_, err := r.eraser.Erase(context.Background(), req)
			if !errors.Is(err, tt.want) && (err == nil || !strings.Contains(err.Error(), tt.want.Error())) {
				t.Fatalf("Erase: got %v; want %v", err, tt.want)
			}
			var ie *privacy.InputError
			if tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field) {
				t.Errorf("Erase: got %v; want an input error naming %s", err, tt.field)
			}
			r.store.Fail = nil
			if k := r.store.Kinds(team); fmt.Sprint(k) != fmt.Sprint(before) {
				t.Errorf("store: got %v; want %v as before", k, before)
			}
			if n := len(r.receipts.All()); n != 0 {
				t.Errorf("receipts: got %d; want none", n)
			}
			if org, _ := r.orgs.Open(context.Background(), team); org != nil && len(org.(*privacytest.Org).Calls) != tt.wantCalls {
				t.Errorf("delete calls: got %d; want %d", len(org.(*privacytest.Org).Calls), tt.wantCalls)
			}
		})
	}
}

// TestEraseAgainAfterAFailedCall: a call that failed after an earlier one
// deleted records erases nothing of the service's; the erasure sent again
// counts those records as deleted before.
func TestEraseAgainAfterAFailedCall(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	org := r.orgs.Connect(team)
	ctx := context.Background()
	must(t, r.store.Membership(ctx, team, "seq_many", "ct_many", "many@example.com"))
	must(t, r.store.Record(ctx, team, "many@example.com", "ct_many", "Contact", "003000000000001AAA"))
	org.Seed("Contact", "003000000000001AAA")
	for i := range 250 {
		id := fmt.Sprintf("00T%015d", i)
		must(t, r.store.Activity(ctx, team, fmt.Sprintf("key_%03d", i), "ct_many", id))
		org.Seed("Task", id)
	}
	org.FailCall, org.FailErr = 2, fmt.Errorf("lost answer: %w", salesforce.ErrTransient)
	req := privacy.Request{TeamID: team, ContactID: "ct_many", Salesforce: privacy.Delete}
	if _, err := r.eraser.Erase(ctx, req); !errors.Is(err, salesforce.ErrTransient) {
		t.Fatalf("first Erase: got %v; want ErrTransient", err)
	}
	if k := r.store.Kinds(team); k[privacy.KindActivity] != 250 || k[privacy.KindRecord] != 1 {
		t.Errorf("store after the failure: got %v; want every item kept", k)
	}
	org.FailCall = 0
	got, err := r.eraser.Erase(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := (privacy.Counts{Memberships: 1, Records: 1, Outcomes: 251, Activities: 250, SalesforceDeleted: 51, SalesforceAlreadyDeleted: 200}); got.Counts != want {
		t.Errorf("counts: got %+v; want %+v", got.Counts, want)
	}
}

// TestTooManyLinked: identifiers that link to more contacts than one
// person has are refused before anything is deleted.
func TestTooManyLinked(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	// A chain: each contact's membership names an email whose opt-out
	// names the next contact.
	for i := range privacy.MaxLinked + 1 {
		email := fmt.Sprintf("x%d@example.com", i)
		must(t, r.store.Membership(ctx, team, "seq", fmt.Sprintf("ct_%d", i), email))
		must(t, r.store.OptOut(ctx, team, email, fmt.Sprintf("ct_%d", i+1)))
	}
	before := r.store.Kinds(team)
	if _, err := r.eraser.Erase(ctx, privacy.Request{TeamID: team, ContactID: "ct_0"}); !errors.Is(err, privacy.ErrTooManyLinked) {
		t.Fatalf("Erase: got %v; want ErrTooManyLinked", err)
	}
	if k := r.store.Kinds(team); fmt.Sprint(k) != fmt.Sprint(before) {
		t.Errorf("store: got %v; want %v", k, before)
	}
}

// TestReceiptNamesNobody: the receipt carries hashes of the team and the
// identifiers, never the identifiers; another team cannot read it.
func TestReceiptNamesNobody(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	seedAda(t, r)
	ctx := context.Background()
	got, err := r.eraser.Erase(ctx, privacy.Request{TeamID: team, Email: "Ada@Example.com", ContactID: ada.Contact})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	for _, secret := range []string{"ada@", "Ada@", ada.Contact, team} {
		if strings.Contains(string(b), secret) {
			t.Errorf("receipt %s: got %q in it; want only hashes", b, secret)
		}
	}
	want := privacy.Subject{EmailSHA256: privacy.SubjectHash(team, ada.Email), ContactIDSHA256: privacy.SubjectHash(team, ada.Contact)}
	if got.Subject != want || len(want.EmailSHA256) != 64 {
		t.Errorf("subject: got %+v; want %+v", got.Subject, want)
	}
	if privacy.SubjectHash(other, ada.Email) == want.EmailSHA256 {
		t.Errorf("subject hash: got the same hash in another team; want the team in it")
	}
	if rc, err := r.eraser.Receipt(ctx, team, got.ID); err != nil || rc.ID != got.ID {
		t.Errorf("Receipt: got %+v, %v; want it", rc, err)
	}
	if _, err := r.eraser.Receipt(ctx, other, got.ID); !errors.Is(err, privacy.ErrNoReceipt) {
		t.Errorf("Receipt as another team: got %v; want ErrNoReceipt", err)
	}
	if _, err := r.eraser.Receipt(ctx, team, "era_../x"); !errors.Is(err, privacy.ErrInvalid) {
		t.Errorf("Receipt of a malformed id: got %v; want ErrInvalid", err)
	}
}

func TestNewReceiptID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		id := privacy.NewReceiptID()
		if !privacy.ValidReceiptID(id) || seen[id] {
			t.Fatalf("NewReceiptID: got %q; want a fresh id of the receipt form", id)
		}
		seen[id] = true
	}
}

// TestLinkedRecordsAreKept: a Lead the org had before the service linked
// to it is the customer's own: an erasure with "salesforce": "delete"
// deletes the Tasks the service created on it, never the Lead, and counts
// it kept.
func TestLinkedRecordsAreKept(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	org := r.orgs.Connect(team)
	ctx := context.Background()
	org.Seed("Lead", lead)
	org.Seed("Task", task)
	if err := r.store.LinkedRecord(ctx, team, ada.Email, ada.Contact, "Lead", lead); err != nil {
		t.Fatal(err)
	}
	if err := r.store.Activity(ctx, team, "act_1", ada.Contact, task); err != nil {
		t.Fatal(err)
	}
	got, err := r.eraser.Erase(ctx, privacy.Request{TeamID: team, Email: ada.Email, Salesforce: privacy.Delete})
	if err != nil {
		t.Fatal(err)
	}
	want := privacy.Counts{Records: 1, Outcomes: 1, Activities: 1, SalesforceDeleted: 1, SalesforceKept: 1}
	if got.Counts != want {
		t.Errorf("counts: got %+v; want %+v", got.Counts, want)
	}
	if !org.Has(lead) || org.Has(task) {
		t.Errorf("the org: Lead kept %v, Task kept %v; want the Lead kept and the Task deleted", org.Has(lead), org.Has(task))
	}
}

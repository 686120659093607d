package privacytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/privacy"
)

// Open returns a store and the fixture that writes what it reads; the
// cases share it, each with teams of its own.
type Open func(t *testing.T) (privacy.Store, Fixture)

var teamN atomic.Int64

// newTeam returns a team id no other case uses.
func newTeam(name string) string { return fmt.Sprintf("%s_%d", name, teamN.Add(1)) }

// Person is what Seed writes of one person: a contact with two
// memberships (each with its add's outcome), a saved Lead, two more
// outcomes (one failed), a logged Task (with its email event's outcome),
// two held events, an opt-out and a bounce; and a claim only on a second
// email of theirs.
type Person struct {
	Contact, Email, ClaimedEmail string
	LeadID, TaskID               string
}

// Seed writes p in team through f.
func Seed(t *testing.T, f Fixture, team string, p Person) {
	t.Helper()
	ctx := context.Background()
	for _, err := range []error{
		f.Membership(ctx, team, "seq_a", p.Contact, p.Email),
		f.Membership(ctx, team, "seq_b", p.Contact, p.ClaimedEmail),
		f.Record(ctx, team, p.Email, p.Contact, "Lead", p.LeadID),
		f.Claim(ctx, team, p.ClaimedEmail),
		f.Outcome(ctx, team, "evt_ok_"+p.Contact, p.Contact, false),
		f.Outcome(ctx, team, "evt_failed_"+p.Contact, p.Contact, true),
		f.Activity(ctx, team, "key_"+p.Contact, p.Contact, p.TaskID),
		f.Held(ctx, team, "seq_b", p.Contact, "evt_held1_"+p.Contact),
		f.Held(ctx, team, "seq_b", p.Contact, "evt_held2_"+p.Contact),
		f.OptOut(ctx, team, p.Email, p.Contact),
		f.Bounce(ctx, team, p.Email),
	} {
		if err != nil {
			t.Fatalf("seed %s of %s: %v", p.Contact, team, err)
		}
	}
}

// Kinds counts items by kind.
func Kinds(items []privacy.Item) map[privacy.Kind]int {
	out := map[privacy.Kind]int{}
	for _, it := range items {
		out[it.Kind]++
	}
	return out
}

// Run holds a store to the rules privacy.Store states.
func Run(t *testing.T, open Open) {
	t.Run("FindsEveryItemOfAContactAndAnEmail", func(t *testing.T) { t.Parallel(); findsEverything(t, open) })
	t.Run("TeamsAreApart", func(t *testing.T) { t.Parallel(); teamsApart(t, open) })
	t.Run("DeleteIsFinalAndRepeatable", func(t *testing.T) { t.Parallel(); deleteRepeatable(t, open) })
	t.Run("OnlyExistingItemsAreFound", func(t *testing.T) { t.Parallel(); onlyExisting(t, open) })
	t.Run("LinkedRecordsAreMarked", func(t *testing.T) { t.Parallel(); linkedMarked(t, open) })
	t.Run("AnEmailWithAHashIsFound", func(t *testing.T) { t.Parallel(); hashEmail(t, open) })
	t.Run("ARecordIsFoundThroughItsOutcome", func(t *testing.T) { t.Parallel(); recordThroughOutcome(t, open) })
}

// linkedMarked: a record the service linked to is marked Linked (never
// deleted in the org); one it created is not.
func linkedMarked(t *testing.T, open Open) {
	s, f := open(t)
	team := newTeam("team_linked")
	ctx := context.Background()
	if err := f.LinkedRecord(ctx, team, "ada@example.com", "ct_ada", "Lead", "00Q000000000009AAA"); err != nil {
		t.Fatal(err)
	}
	if err := f.Record(ctx, team, "bob@example.com", "ct_bob", "Contact", "003000000000009AAA"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		email  string
		linked bool
	}{{"ada@example.com", true}, {"bob@example.com", false}} {
		got, err := s.EmailItems(ctx, team, c.email)
		if err != nil || len(got) != 1 || got[0].Salesforce == nil || got[0].Linked != c.linked {
			t.Errorf("EmailItems(%s): got %+v, %v; want one record, linked %v", c.email, got, err, c.linked)
		}
	}
}

// recordThroughOutcome: a record the contact saved is found through the
// outcome that names its email, with no membership of the email left (an
// add retried from the error inbox long after its pin); another contact's
// record of an email its outcome names is not its.
func recordThroughOutcome(t *testing.T, open Open) {
	s, f := open(t)
	team := newTeam("team_onrecord")
	ctx := context.Background()
	for _, err := range []error{
		f.Record(ctx, team, "ada@example.com", "ct_ada", "Lead", "00Q000000000007AAA"),
		f.OutcomeOnRecord(ctx, team, "evt_add", "ct_ada", "ada@example.com"),
		f.Record(ctx, team, "shared@example.com", "ct_other", "Lead", "00Q000000000006AAA"),
		f.OutcomeOnRecord(ctx, team, "evt_link", "ct_ada", "shared@example.com"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ContactItems(ctx, team, "ct_ada")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[privacy.Kind]int{privacy.KindOutcome: 2, privacy.KindRecord: 1}; !maps.Equal(Kinds(got), want) {
		t.Errorf("ContactItems kinds: got %v; want %v", Kinds(got), want)
	}
	for _, it := range got {
		if it.Kind == privacy.KindRecord && it.Email != "ada@example.com" {
			t.Errorf("record: got %s; want ada@example.com's only", it.Email)
		}
	}
}

// hashEmail: the event contract accepts an email with a "#"; its person
// is erasable like any other.
func hashEmail(t *testing.T, open Open) {
	s, f := open(t)
	team := newTeam("team_hash")
	ctx := context.Background()
	const email = "sales#team@example.com"
	if err := f.Record(ctx, team, email, "ct_hash", "Lead", "00Q000000000008AAA"); err != nil {
		t.Fatal(err)
	}
	got, err := s.EmailItems(ctx, team, email)
	if err != nil || len(got) != 1 || got[0].Kind != privacy.KindRecord {
		t.Errorf("EmailItems(%s): got %+v, %v; want its record", email, got, err)
	}
}

func person(id string) Person {
	return Person{Contact: "ct_" + id, Email: id + "@example.com", ClaimedEmail: id + ".other@example.com",
		LeadID: "00Q000000000001AAA", TaskID: "00T000000000001AAA"}
}

func findsEverything(t *testing.T, open Open) {
	s, f := open(t)
	team := newTeam("team_find")
	p := person("ada")
	Seed(t, f, team, p)
	ctx := context.Background()
	got, err := s.ContactItems(ctx, team, p.Contact)
	if err != nil {
		t.Fatalf("ContactItems: %v", err)
	}
	want := map[privacy.Kind]int{privacy.KindMembership: 2, privacy.KindRecord: 1, privacy.KindOutcome: 5, privacy.KindFailure: 1,
		privacy.KindFailureSet: 1, privacy.KindActivity: 1, privacy.KindHeldList: 1, privacy.KindHeldEvent: 2}
	if k := Kinds(got); !maps.Equal(k, want) {
		t.Errorf("ContactItems kinds: got %v; want %v", k, want)
	}
	var emails, tasks []string
	for _, it := range got {
		switch it.Kind {
		case privacy.KindMembership:
			emails = append(emails, it.Email)
		case privacy.KindRecord:
			if it.ContactID != p.Contact || it.Email != p.Email || it.Salesforce == nil || *it.Salesforce != (privacy.SalesforceRecord{Object: "Lead", ID: p.LeadID}) {
				t.Errorf("record item: got %+v (salesforce %+v); want contact %s, email %s, Lead %s", it, it.Salesforce, p.Contact, p.Email, p.LeadID)
			}
		case privacy.KindActivity:
			if it.Salesforce != nil {
				tasks = append(tasks, it.Salesforce.Object+" "+it.Salesforce.ID)
			}
		}
	}
	slices.Sort(emails)
	if want := []string{p.ClaimedEmail, p.Email}; !slices.Equal(emails, want) {
		t.Errorf("membership emails: got %v; want %v", emails, want)
	}
	if want := []string{"Task " + p.TaskID}; !slices.Equal(tasks, want) {
		t.Errorf("activity Tasks: got %v; want %v", tasks, want)
	}

	got, err = s.EmailItems(ctx, team, p.Email)
	if err != nil {
		t.Fatalf("EmailItems: %v", err)
	}
	want = map[privacy.Kind]int{privacy.KindRecord: 1, privacy.KindOptOut: 1, privacy.KindBounce: 1}
	if k := Kinds(got); !maps.Equal(k, want) {
		t.Errorf("EmailItems kinds: got %v; want %v", k, want)
	}
	for _, it := range got {
		if it.Kind == privacy.KindOptOut && it.ContactID != p.Contact {
			t.Errorf("opt-out: got contact %q; want %q", it.ContactID, p.Contact)
		}
	}
	got, err = s.EmailItems(ctx, team, p.ClaimedEmail)
	if err != nil {
		t.Fatalf("EmailItems of the claim: %v", err)
	}
	if len(got) != 1 || got[0].Kind != privacy.KindRecord || got[0].Salesforce != nil || got[0].ContactID != "" {
		t.Errorf("EmailItems of a claim only: got %+v; want one record item with no record and no contact", got)
	}
}

// teamsApart: the same contact and email in two teams; one team's items
// are found and deleted, the other's stay.
func teamsApart(t *testing.T, open Open) {
	s, f := open(t)
	a, b := newTeam("team_a"), newTeam("team_b")
	p := person("grace")
	Seed(t, f, a, p)
	Seed(t, f, b, p)
	ctx := context.Background()
	ca, err := s.ContactItems(ctx, a, p.Contact)
	if err != nil {
		t.Fatal(err)
	}
	ea, err := s.EmailItems(ctx, a, p.Email)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range append(slices.Clone(ca), ea...) {
		if !strings.Contains(it.PK, a) || strings.Contains(it.PK, b) {
			t.Errorf("team %s's items: got %s / %s", a, it.PK, it.SK)
		}
	}
	beforeB, err := s.ContactItems(ctx, b, p.Contact)
	if err != nil {
		t.Fatal(err)
	}
	// A delete under team b of team a's keys is refused and touches
	// nothing of a's.
	if err := s.Delete(ctx, b, append(slices.Clone(ca), ea...)); !errors.Is(err, privacy.ErrInvalid) {
		t.Errorf("Delete of team a's keys as team b: got %v; want ErrInvalid", err)
	}
	if again, _ := s.ContactItems(ctx, a, p.Contact); len(again) != len(ca) {
		t.Errorf("team a's contact items after team b deleted their keys: got %d; want %d", len(again), len(ca))
	}
	if err := s.Delete(ctx, a, append(slices.Clone(ca), ea...)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	afterB, err := s.ContactItems(ctx, b, p.Contact)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(Kinds(afterB), Kinds(beforeB)) {
		t.Errorf("team b's contact items after team a's erasure: got %v; want %v", Kinds(afterB), Kinds(beforeB))
	}
	if eb, _ := s.EmailItems(ctx, b, p.Email); len(eb) != 3 {
		t.Errorf("team b's email items after team a's erasure: got %d; want 3", len(eb))
	}
}

func deleteRepeatable(t *testing.T, open Open) {
	s, f := open(t)
	team := newTeam("team_del")
	p := person("alan")
	Seed(t, f, team, p)
	ctx := context.Background()
	var all []privacy.Item
	c, err := s.ContactItems(ctx, team, p.Contact)
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, c...)
	for _, e := range []string{p.Email, p.ClaimedEmail} {
		items, err := s.EmailItems(ctx, team, e)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
	}
	for round := 1; round <= 2; round++ {
		if err := s.Delete(ctx, team, all); err != nil {
			t.Fatalf("Delete, round %d: %v", round, err)
		}
		c, err := s.ContactItems(ctx, team, p.Contact)
		if err != nil || len(c) != 0 {
			t.Errorf("ContactItems after round %d: got %v, %v; want none", round, Kinds(c), err)
		}
		for _, e := range []string{p.Email, p.ClaimedEmail} {
			if items, err := s.EmailItems(ctx, team, e); err != nil || len(items) != 0 {
				t.Errorf("EmailItems of %s after round %d: got %v, %v; want none", e, round, Kinds(items), err)
			}
		}
	}
}

// onlyExisting: a contact with a success only has no failure items; an
// unknown contact and email have nothing.
func onlyExisting(t *testing.T, open Open) {
	s, f := open(t)
	team := newTeam("team_few")
	ctx := context.Background()
	if err := f.Outcome(ctx, team, "evt_1", "ct_1", false); err != nil {
		t.Fatal(err)
	}
	got, err := s.ContactItems(ctx, team, "ct_1")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[privacy.Kind]int{privacy.KindOutcome: 1}; !maps.Equal(Kinds(got), want) {
		t.Errorf("ContactItems: got %v; want %v", Kinds(got), want)
	}
	for _, tt := range []struct{ name, contact, email string }{{"unknown", "ct_nobody", "nobody@example.com"}} {
		c, err := s.ContactItems(ctx, team, tt.contact)
		if err != nil || len(c) != 0 {
			t.Errorf("%s contact: got %v, %v; want none", tt.name, c, err)
		}
		e, err := s.EmailItems(ctx, team, tt.email)
		if err != nil || len(e) != 0 {
			t.Errorf("%s email: got %v, %v; want none", tt.name, e, err)
		}
	}
}

// RunReceipts holds a receipt store to privacy.Receipts: a receipt saved
// is read back whole by its team only.
func RunReceipts(t *testing.T, open func(t *testing.T) privacy.Receipts) {
	t.Run("SavedReceiptReadByItsTeamOnly", func(t *testing.T) {
		t.Parallel()
		r := open(t)
		ctx := context.Background()
		a, b := newTeam("team_ra"), newTeam("team_rb")
		rc := SampleReceipt(a)
		if err := r.Save(ctx, rc); err != nil {
			t.Fatalf("Save: %v", err)
		}
		got, err := r.Get(ctx, a, rc.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", rc) {
			t.Errorf("Get: got %+v; want %+v", got, rc)
		}
		if _, err := r.Get(ctx, b, rc.ID); !isNoReceipt(err) {
			t.Errorf("Get as another team: got %v; want ErrNoReceipt", err)
		}
		if _, err := r.Get(ctx, a, privacy.NewReceiptID()); !isNoReceipt(err) {
			t.Errorf("Get of an unknown id: got %v; want ErrNoReceipt", err)
		}
	})
}

// SampleReceipt is a receipt of team with every field set.
func SampleReceipt(team string) privacy.Receipt {
	return privacy.Receipt{ID: privacy.NewReceiptID(), TeamID: team, At: sampleAt, Salesforce: privacy.Delete,
		Subject: privacy.Subject{EmailSHA256: privacy.SubjectHash(team, "ada@example.com"), ContactIDSHA256: privacy.SubjectHash(team, "ct_ada")},
		Counts: privacy.Counts{Memberships: 2, Records: 3, Outcomes: 4, Failures: 5, HeldEvents: 6, Activities: 7, OptOuts: 8, Bounces: 9,
			SalesforceDeleted: 10, SalesforceAlreadyDeleted: 11},
		Refused: []privacy.Refusal{{Object: "Contact", ID: "003000000000001AAA", Code: "INSUFFICIENT_ACCESS_OR_READONLY", Message: "no"}}}
}

var sampleAt = time.Date(2026, 12, 7, 10, 11, 12, 123456000, time.UTC)

func isNoReceipt(err error) bool { return errors.Is(err, privacy.ErrNoReceipt) }

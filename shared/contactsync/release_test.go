package contactsync_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// refuseSave is a ledger that refuses to save the record of one email (it
// changed meanwhile, say) and saves the others.
type refuseSave struct {
	contactsync.Ledger
	email string
}

func (l refuseSave) SaveRecords(ctx context.Context, rs []ledger.Record) ([]error, error) {
	errs := make([]error, len(rs))
	var rest []ledger.Record
	var at []int
	for i, r := range rs {
		if r.Email == l.email {
			errs[i] = errors.New("the email's record changed meanwhile")
			continue
		}
		rest = append(rest, r)
		at = append(at, i)
	}
	restErrs, err := l.Ledger.SaveRecords(ctx, rest)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		errs[i] = restErrs[j]
	}
	return errs, nil
}

// unrenderable has the team's Lead mapping put the contact's title in
// NumberOfEmployees, a number in the org: a contact whose title is no
// number cannot be rendered.
func unrenderable(t *testing.T, r *rig) {
	t.Helper()
	m := mapping.Default(event.ObjectLead)
	m.Fields = append(m.Fields, mapping.Rule{SalesforceField: "NumberOfEmployees", Source: mapping.Source{Field: mapping.FieldTitle}})
	if _, err := r.mapping.Save(context.Background(), team, event.ObjectLead, m); err != nil {
		t.Fatalf("save mapping: %v", err)
	}
	r.mapping.SetDescribe(team, event.ObjectLead, &salesforce.Describe{Name: "Lead",
		Fields: []salesforce.DescribeField{{Name: "NumberOfEmployees", Type: "int", Createable: true}}})
}

// TestEveryFinalMembershipIsReleased (R7): the held activity of every
// membership that reaches a final state in a batch is released, once:
// synced (created or linked), failed (refused by Salesforce, or by its
// mapping) or skipped by its policy, whichever way the releaser takes
// them. A membership still pending (on_reply) is not released, nor one
// whose record the ledger refused (its event comes back).
func TestEveryFinalMembershipIsReleased(t *testing.T) {
	t.Parallel()
	contacts := []struct {
		id, sequence string
		outcome      string // see brief; "" when the event comes back
		released     bool
	}{
		{"created", "add", "created", true},
		{"linked", "add", "linked/matched_contact", true},
		{"refused", "add", "failed/REQUIRED_FIELD_MISSING", true},
		{"unmapped", "add", "failed/MAPPING_ERROR", true},
		{"off", "off", "skipped/sync_off", true},
		{"pending", "reply", "pending/awaiting_reply", false},
		{"unwritten", "add", "", false},
	}
	var ds []delivery.Delivery
	for _, c := range contacts {
		p := person("c_"+c.id, c.id+"@rel.example")
		if c.id == "unmapped" {
			p.Title = "many"
		}
		ds = append(ds, added("evt_"+c.id, c.sequence, p, at(1)))
	}
	for _, rel := range []struct {
		name string
		r    interface {
			contactsync.Releaser
			kept() []ledger.MemberKey
		}
	}{
		{"one call for the batch", &batchReleases{}},
		{"one call each", &releases{}},
	} {
		t.Run(rel.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.override(t, "off", at(0), policy.SequenceOverride{SyncMode: string(policy.ModeOff), SyncAs: policy.Inherit})
			r.override(t, "reply", at(0), policy.SequenceOverride{SyncMode: string(policy.ModeOnReply), SyncAs: policy.Inherit})
			seed(r, orgtest.Contact, "linked@rel.example")
			r.org.Refuse("refused@rel.example", orgtest.RequiredFieldMissing("LastName"))
			unrenderable(t, r)
			r.e.Ledger, r.e.Release = refuseSave{Ledger: r.ledger, email: "unwritten@rel.example"}, rel.r
			back := r.process(ds...)

			var want []ledger.MemberKey
			for _, c := range contacts {
				if c.released {
					want = append(want, ledger.MemberKey{SequenceID: c.sequence, ContactID: "c_" + c.id})
				}
				if c.outcome == "" {
					if !errors.Is(back["msg_evt_"+c.id], delivery.ErrRetry) {
						t.Errorf("%s: got %v; want it back (ErrRetry)", c.id, back["msg_evt_"+c.id])
					}
					continue
				}
				if got := r.pub.of("evt_" + c.id); len(got) != 1 || brief(got[0]) != c.outcome {
					t.Errorf("%s: got outcomes %v; want one, %q", c.id, got, c.outcome)
				}
			}
			byContact := func(a, b ledger.MemberKey) int { return cmp.Compare(a.ContactID, b.ContactID) }
			got := slices.SortedFunc(slices.Values(rel.r.kept()), byContact)
			slices.SortFunc(want, byContact)
			if !slices.Equal(got, want) {
				t.Errorf("released: got %v; want %v", got, want)
			}
			if n := len(back); n != 1 {
				t.Errorf("deliveries back: got %d (%v); want 1", n, back)
			}
		})
	}
}

// TestReleasedEvenWhenALaterStepFails (R7): a membership whose final state
// was written is released even when a later step fails the part (here the
// lookup after a duplicate rule's answer): the part comes back, but the
// contact it created is synced, and its held activity goes.
func TestReleasedEvenWhenALaterStepFails(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.org.Refuse("dup@rel.example", salesforce.ErrorItem{Code: salesforce.CodeDuplicatesDetected, Message: "Use one of these records?"})
	r.onCreate(func([]salesforce.SObject, salesforce.WriteOptions) {
		r.org.FailNext(orgtest.CallFind, errors.New("connection reset by peer")) // the duplicates' lookup fails
	})
	back := r.process(added("evt_made", "add", person("c_made", "made@rel.example"), at(1)),
		added("evt_dup", "add", person("c_dup", "dup@rel.example"), at(1)))
	if len(back) != 2 || !errors.Is(back["msg_evt_made"], delivery.ErrRetry) {
		t.Fatalf("back: got %v; want the whole part back (ErrRetry)", back)
	}
	if _, ok := r.ledger.Record(team, "made@rel.example"); !ok {
		t.Errorf("record of made@rel.example: got none; want it saved")
	}
	if _, ok := r.ledger.Record(team, "dup@rel.example"); ok {
		t.Errorf("record of dup@rel.example: got one; want none")
	}
	if got, want := r.released.kept(), []ledger.MemberKey{{SequenceID: "add", ContactID: "c_made"}}; !slices.Equal(got, want) {
		t.Errorf("released: got %v; want %v", got, want)
	}
}

package privacy

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// MaxLinked bounds the contact ids and the emails one erasure follows.
const MaxLinked = 25

// MaxDeletePerCall is the most ids one Salesforce delete takes (sObject
// Collections).
const MaxDeletePerCall = salesforce.MaxCollection

// DeletePriority is the priority the Salesforce deletes of an erasure ask
// the team's API budget for: an erasure is owed, as a record's sync is, so
// it may spend calls up to the team's cap, never past it.
const DeletePriority = budget.High

// Eraser erases persons. Store, Receipts and, for Delete, Orgs are
// required.
type Eraser struct {
	Store    Store
	Orgs     Orgs
	Receipts Receipts
	Now      func() time.Time // nil: time.Now
	// NewID makes receipt ids; nil: NewReceiptID.
	NewID func() string
	Log   *slog.Logger // nil: slog.Default()
}

// Erase erases the person of req in req's team and keeps its receipt:
//
//  1. it finds the person's contact ids and emails, and every item held
//     of them (Store);
//  2. with Delete, it opens the team's org (an error matching
//     connection.ErrNotConnected, or the connection's refusal, when it
//     cannot) and deletes the Tasks of the person's logged activities,
//     then their Leads and Contacts, at most MaxDeletePerCall ids a call,
//     asking the team's API budget (DeletePriority) before each call. A
//     budget that refuses (budget.ErrCapped, budget.ErrNearCap) or a call
//     that fails ends the erasure with that error before anything of the
//     service's is deleted; sent again, the records deleted already
//     answer ENTITY_IS_DELETED and count as deleted before;
//  3. it deletes the items, counts them by kind, and saves the receipt.
//
// A record the org refuses to delete is named in the receipt; the
// service's items are erased all the same. An erasure of a person the
// service holds nothing of deletes nothing and gets a receipt with zero
// counts.
func (e *Eraser) Erase(ctx context.Context, req Request) (Receipt, error) {
	req, err := normalize(req)
	if err != nil {
		return Receipt{}, err
	}
	items, err := e.find(ctx, req)
	if err != nil {
		return Receipt{}, err
	}
	r := Receipt{TeamID: req.TeamID, Salesforce: req.Salesforce, Refused: []Refusal{}}
	if req.Email != "" {
		r.Subject.EmailSHA256 = SubjectHash(req.TeamID, req.Email)
	}
	if req.ContactID != "" {
		r.Subject.ContactIDSHA256 = SubjectHash(req.TeamID, req.ContactID)
	}
	if req.Salesforce == Delete {
		if err := e.deleteInOrg(ctx, req.TeamID, items, &r); err != nil {
			return Receipt{}, err
		}
	}
	if len(items) > 0 {
		if err := e.Store.Delete(ctx, req.TeamID, items); err != nil {
			return Receipt{}, fmt.Errorf("erase %d items of team %s: %w", len(items), req.TeamID, err)
		}
	}
	for _, it := range items {
		r.Counts.add(it.Kind)
	}
	r.ID, r.At = e.newID(), e.now().UTC()
	if err := e.Receipts.Save(ctx, r); err != nil {
		return Receipt{}, fmt.Errorf("save erasure receipt of team %s: %w", req.TeamID, err)
	}
	return r, nil
}

// normalize checks req and returns it with its email normalized and its
// mode defaulted.
func normalize(req Request) (Request, error) {
	if err := event.CheckTeamID(req.TeamID); err != nil {
		return req, &InputError{"team_id", err.Error()}
	}
	if req.Email == "" && req.ContactID == "" {
		return req, &InputError{"email", "give email, contact_id, or both"}
	}
	if req.Email != "" {
		if err := event.CheckEmail(req.Email); err != nil {
			return req, &InputError{"email", "not an email address"}
		}
		req.Email = ledger.NormalizeEmail(req.Email)
	}
	if req.ContactID != "" {
		if err := CheckContactID(req.ContactID); err != nil {
			return req, err
		}
	}
	switch req.Salesforce {
	case "":
		req.Salesforce = Keep
	case Keep, Delete:
	default:
		return req, &InputError{"salesforce", `must be "delete" or "keep"`}
	}
	return req, nil
}

// find returns every item held of the person, each once, in key order:
// the contact ids and emails are followed to a fixed point.
func (e *Eraser) find(ctx context.Context, req Request) ([]Item, error) {
	var contacts, emails []string
	seenContact, seenEmail := map[string]bool{}, map[string]bool{}
	addContact := func(c string) {
		if c != "" && !seenContact[c] {
			seenContact[c] = true
			contacts = append(contacts, c)
		}
	}
	addEmail := func(m string) {
		if m = ledger.NormalizeEmail(m); m != "" && !seenEmail[m] {
			seenEmail[m] = true
			emails = append(emails, m)
		}
	}
	addContact(req.ContactID)
	addEmail(req.Email)
	found := map[[2]string]Item{}
	for ci, ei := 0, 0; ci < len(contacts) || ei < len(emails); {
		if len(contacts) > MaxLinked || len(emails) > MaxLinked {
			return nil, fmt.Errorf("%w: more than %d (%d contact ids, %d emails so far)", ErrTooManyLinked, MaxLinked, len(contacts), len(emails))
		}
		var got []Item
		var err error
		if ci < len(contacts) {
			c := contacts[ci]
			ci++
			if got, err = e.Store.ContactItems(ctx, req.TeamID, c); err != nil {
				return nil, fmt.Errorf("find the items of a contact of team %s: %w", req.TeamID, err)
			}
		} else {
			m := emails[ei]
			ei++
			if got, err = e.Store.EmailItems(ctx, req.TeamID, m); err != nil {
				return nil, fmt.Errorf("find the items of an email of team %s: %w", req.TeamID, err)
			}
		}
		for _, it := range got {
			found[[2]string{it.PK, it.SK}] = it
			switch it.Kind {
			case KindRecord, KindOptOut:
				addContact(it.ContactID)
			}
			switch it.Kind {
			case KindRecord, KindMembership:
				addEmail(it.Email)
			}
		}
	}
	if len(contacts) > MaxLinked || len(emails) > MaxLinked {
		return nil, fmt.Errorf("%w: more than %d (%d contact ids, %d emails)", ErrTooManyLinked, MaxLinked, len(contacts), len(emails))
	}
	items := make([]Item, 0, len(found))
	for _, it := range found {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b Item) int { return cmp.Or(cmp.Compare(a.PK, b.PK), cmp.Compare(a.SK, b.SK)) })
	return items, nil
}

// deleteInOrg deletes the Tasks, then the Leads and Contacts, the items
// name, and notes each answer in r.
func (e *Eraser) deleteInOrg(ctx context.Context, team string, items []Item, r *Receipt) (err error) {
	org, err := e.Orgs.Open(ctx, team)
	if err != nil {
		return fmt.Errorf("open the org of team %s: %w", team, err)
	}
	defer func() {
		if cerr := org.Close(context.WithoutCancel(ctx)); cerr != nil {
			e.log().WarnContext(ctx, "erasure: record the org's API usage", "team_id", team, "error", cerr.Error())
		}
	}()
	recs, kept := salesforceRecords(items)
	r.Counts.SalesforceKept = kept
	for start := 0; start < len(recs); start += MaxDeletePerCall {
		chunk := recs[start:min(start+MaxDeletePerCall, len(recs))]
		if err := org.Allow(DeletePriority); err != nil {
			return fmt.Errorf("delete %d records of team %s: %w", len(recs), team, err)
		}
		ids := make([]string, len(chunk))
		for i, rec := range chunk {
			ids[i] = rec.ID
		}
		res, err := org.DeleteRecords(ctx, ids)
		if err != nil {
			return fmt.Errorf("delete %d records of team %s: %w", len(recs), team, err)
		}
		if len(res) != len(chunk) {
			return fmt.Errorf("delete %d records of team %s: %d results for %d ids", len(recs), team, len(res), len(chunk))
		}
		for i, sr := range res {
			r.tally(chunk[i], sr)
		}
	}
	return nil
}

// salesforceRecords are the org's records to delete that items name, each
// once: the Tasks first, then the Leads and Contacts the service created
// (a Task's delete never meets a record deleted with its Tasks before
// it), each group in id order; and how many records it only linked to
// are kept.
func salesforceRecords(items []Item) (recs []SalesforceRecord, kept int) {
	seen := map[string]bool{}
	var tasks, records []SalesforceRecord
	for _, it := range items {
		sf := it.Salesforce
		if sf == nil || sf.ID == "" || seen[sf.ID] {
			continue
		}
		seen[sf.ID] = true
		if it.Linked {
			kept++
			continue
		}
		if sf.Object == ObjectTask {
			tasks = append(tasks, *sf)
		} else {
			records = append(records, *sf)
		}
	}
	byID := func(a, b SalesforceRecord) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(tasks, byID)
	slices.SortFunc(records, byID)
	return append(tasks, records...), kept
}

// tally notes one delete's answer.
func (r *Receipt) tally(rec SalesforceRecord, sr salesforce.SaveResult) {
	if sr.Success {
		r.Counts.SalesforceDeleted++
		return
	}
	ref := Refusal{Object: rec.Object, ID: rec.ID, Code: "UNKNOWN_ERROR", Message: "Salesforce reported a failure without an error"}
	if len(sr.Errors) > 0 {
		ref.Code, ref.Message = sr.Errors[0].Code, sr.Errors[0].Message
	}
	if ref.Code == salesforce.CodeEntityIsDeleted {
		r.Counts.SalesforceAlreadyDeleted++
		return
	}
	r.Refused = append(r.Refused, ref)
}

func (c *Counts) add(k Kind) {
	switch k {
	case KindMembership:
		c.Memberships++
	case KindRecord:
		c.Records++
	case KindOutcome:
		c.Outcomes++
	case KindFailure:
		c.Failures++
	case KindHeldEvent:
		c.HeldEvents++
	case KindActivity:
		c.Activities++
	case KindOptOut:
		c.OptOuts++
	case KindBounce:
		c.Bounces++
	}
}

// Receipt returns the team's receipt id: ErrInvalid for an id of another
// form, ErrNoReceipt when the team has none by that id (another team's
// included).
func (e *Eraser) Receipt(ctx context.Context, teamID, id string) (Receipt, error) {
	if !ValidReceiptID(id) {
		return Receipt{}, &InputError{"id", "not an erasure receipt id (era_ and 26 letters and digits)"}
	}
	return e.Receipts.Get(ctx, teamID, id)
}

// NewReceiptID returns a new random receipt id: ReceiptIDPrefix and 128
// random bits in lowercase base32.
func NewReceiptID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return ReceiptIDPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func (e *Eraser) newID() string {
	if e.NewID != nil {
		return e.NewID()
	}
	return NewReceiptID()
}

func (e *Eraser) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Eraser) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

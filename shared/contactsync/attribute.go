package contactsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// attributed is what the attribute step decided for the records a part
// creates: by email, each record's owner and, for a Contact, its Account
// (created already when the fallback made one).
type attributed struct {
	owners attribution.OwnerRules
	by     map[string]attribution.Decision
	// busy are the emails whose new Account another worker is creating:
	// they come back.
	busy map[string]bool
}

// attribute is the attribute step: the owner and Account of each record to
// create (the first item of each email Salesforce does not have), decided
// with one lookup of the org (attribution.Batch), then the new Accounts
// the team's fallback asks for created in one call.
func (p part) attribute(ctx context.Context, owners []item) (attributed, error) {
	if len(owners) == 0 {
		return attributed{}, nil
	}
	// The org's users and Accounts as they are now decide, so the team's
	// settings as of now do (a contact retried later finds them as they
	// are then): those read as the part began.
	s := p.current
	a := attributed{by: map[string]attribution.Decision{},
		owners: attribution.OwnerRules{Rule: s.Owner, TeamFallback: s.OwnerFallbackUserID, ConnectedUser: p.conn.UserID}}
	b := attribution.Batch{Team: p.team, Since: p.conn.ConnectedAt, Owners: a.owners, Users: p.e.Reps,
		Accounts: attribution.AccountRules{Matching: s.AccountMatching, Fallback: s.AccountFallback, FreeMail: s.FreeMailDomains}}
	subjects := make([]attribution.Subject, len(owners))
	for i, it := range owners {
		subjects[i] = subjectOf(it)
	}
	ds, err := b.Decide(ctx, p.org, subjects)
	if err != nil {
		return attributed{}, salesforceErr("attribute records", err)
	}
	ds, busy, err := p.createAccounts(ctx, ds)
	if err != nil {
		return attributed{}, err
	}
	if len(busy) > 0 {
		ds, busy = p.awaitAccounts(ctx, b, subjects, ds, busy)
	}
	a.busy = map[string]bool{}
	for i, it := range owners {
		email := ledger.NormalizeEmail(it.m.Email)
		a.by[email] = ds[i]
		if acct := ds[i].Account; acct != nil && acct.New != nil && busy[acct.New.Key] {
			a.busy[email] = true
		}
	}
	return a, nil
}

// awaitAccounts gives the worker creating the busy companies' Accounts a
// moment (Engine.AccountWait), then looks those companies up once more:
// the contacts whose Account now exists go on in this run (one lookup
// instead of a second pass through the queue: a lookup, a create and the
// ledger's writes again). It returns the decisions, and the companies
// still busy, whose contacts come back.
func (p part) awaitAccounts(ctx context.Context, b attribution.Batch, subjects []attribution.Subject, ds []attribution.Decision, busy map[string]bool) ([]attribution.Decision, map[string]bool) {
	select {
	case <-ctx.Done():
		return ds, busy
	case <-time.After(p.e.accountWait()):
	}
	var at []int
	var again []attribution.Subject
	for i, d := range ds {
		if d.Account != nil && d.Account.New != nil && busy[d.Account.New.Key] {
			at, again = append(at, i), append(again, subjects[i])
		}
	}
	found, err := b.Decide(ctx, p.org, again)
	if err != nil {
		p.e.log().Warn("look up accounts another worker creates", "team_id", p.team, "error", err.Error())
		return ds, busy
	}
	still := map[string]bool{}
	for j, i := range at {
		if a := found[j].Account; a != nil && a.New == nil {
			ds[i].Account = a
			continue
		}
		still[ds[i].Account.New.Key] = true
	}
	return ds, still
}

// subjectOf is what attribution needs of an item: its object, its rep and,
// for a Contact, its email, website and company.
func subjectOf(it item) attribution.Subject {
	s := attribution.Subject{Lead: it.object == event.ObjectLead}
	if it.m.Rep != nil {
		s.Rep = attribution.NormalizeEmail(it.m.Rep.Email)
	}
	if it.object == event.ObjectContact {
		c := it.m.Contact
		s.Contact = &attribution.Contact{Email: it.m.Email, Website: c.Website, Company: c.Company}
	}
	return s
}

// accountClaim is the ledger key a worker claims before it creates the
// new Account of a company: no email (they all hold an "@"), so it never
// meets a contact's claim. The company's key is hashed: a name may be
// longer (in bytes) than a ledger key may be.
func accountClaim(key string) string {
	h := sha256.Sum256([]byte(key))
	return "account:" + hex.EncodeToString(h[:16])
}

// createAccounts creates the new Accounts the decisions ask for, one per
// company (NewAccount.Key), and gives each decision its id. Each company's
// Account is claimed in the ledger first: a company another worker is
// creating an Account for right now is returned in busy (its contacts come
// back, and find that Account then). The claim is kept until it lapses,
// past the time the Account is found by the lookup. An Account Salesforce
// refuses leaves its Contacts private, saying why.
func (p part) createAccounts(ctx context.Context, ds []attribution.Decision) ([]attribution.Decision, map[string]bool, error) {
	keys, recs := newAccounts(ds)
	busy := map[string]bool{}
	if len(recs) == 0 {
		return ds, busy, nil
	}
	claims := make([]string, len(keys))
	for i, k := range keys {
		claims[i] = accountClaim(k)
	}
	errs, err := p.e.Ledger.ClaimAll(ctx, p.team, claims, p.e.Owner, p.claimUntil(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("claim new accounts: %w", err)
	}
	var mine []string
	var mineRecs []salesforce.SObject
	for i, e := range errs {
		switch {
		case errors.Is(e, ledger.ErrClaimed):
			busy[keys[i]] = true
			continue
		case e != nil:
			return nil, nil, fmt.Errorf("claim the new account of %q: %w", keys[i], e)
		}
		mine, mineRecs = append(mine, keys[i]), append(mineRecs, recs[i])
	}
	made, refused, err := p.createAccountRecords(ctx, mine, mineRecs)
	if err != nil {
		// Nothing is known of the Accounts: the claims are given up, so the
		// next attempt (this worker's or another's) looks them up, finds
		// those a lost answer saved, and creates the others; a claim kept
		// would hold its company's contacts back until it lapsed.
		for _, k := range mine {
			p.unclaim(context.WithoutCancel(ctx), accountClaim(k))
		}
		return nil, nil, err
	}
	return withAccounts(ds, made, refused), busy, nil
}

// newAccounts is the Accounts to create, one per company, with their keys.
func newAccounts(ds []attribution.Decision) ([]string, []salesforce.SObject) {
	var keys []string
	var recs []salesforce.SObject
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Account == nil || d.Account.New == nil || seen[d.Account.New.Key] {
			continue
		}
		seen[d.Account.New.Key] = true
		keys = append(keys, d.Account.New.Key)
		recs = append(recs, newAccount(*d.Account.New))
	}
	return keys, recs
}

// createAccountRecords creates the claimed companies' Accounts in one call
// and returns their ids, and why Salesforce refused the others (whose
// claims are given up).
func (p part) createAccountRecords(ctx context.Context, keys []string, recs []salesforce.SObject) (made, refused map[string]string, err error) {
	made, refused = map[string]string{}, map[string]string{}
	if len(recs) == 0 {
		return made, refused, nil
	}
	results, err := p.org.Create(delivery.WriteContext(ctx), recs, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		return nil, nil, salesforceErr("create accounts", err)
	}
	for i, r := range results {
		if r.Success {
			made[keys[i]] = r.ID
			continue
		}
		fe := firstError(r)
		refused[keys[i]] = fe.Code + ": " + fe.Message
		p.unclaim(ctx, accountClaim(keys[i]))
	}
	return made, refused, nil
}

// withAccounts gives each decision that asked for a new Account its id, or
// leaves the Contact private when Salesforce refused the Account.
func withAccounts(ds []attribution.Decision, made, refused map[string]string) []attribution.Decision {
	for i, d := range ds {
		if d.Account == nil || d.Account.New == nil {
			continue
		}
		c := *d.Account
		if id, ok := made[c.New.Key]; ok {
			c.ID = id
		} else if why, ok := refused[c.New.Key]; ok {
			c.By, c.New = event.AccountPrivate, nil
			c.Detail += "; Salesforce refused the new Account (" + why + "): created without one"
		}
		ds[i].Account = &c
	}
	return ds
}

// newAccount is the record of a new Account: the company's name and its
// website's domain, each cut to the field's length.
func newAccount(n attribution.NewAccount) salesforce.SObject {
	rec := salesforce.NewSObject("Account")
	rec["Name"] = cutText(n.Name, 255)
	if n.Website != "" {
		rec["Website"] = cutText(n.Website, 255)
	}
	return rec
}

func cutText(s string, max int) string {
	if salesforce.TextLength(s) <= max {
		return s
	}
	return s[:salesforce.TextPrefix(s, max)]
}

// applyTo gives a rendered record the decision's owner and Account.
func applyTo(rec salesforce.SObject, d attribution.Decision) {
	if d.Owner.ID != "" {
		rec["OwnerId"] = d.Owner.ID
	}
	if d.Account != nil && d.Account.ID != "" {
		rec["AccountId"] = d.Account.ID
	}
}

// maxDetail bounds an outcome's match detail.
const maxDetail = 1000

// creditOf is what a created record's outcome says of its attribution:
// its owner and Account, why, and the reason a Contact was not made as
// asked (kept with the record, so every copy of its event answers alike).
func creditOf(d attribution.Decision) *ledger.Credit {
	c := &ledger.Credit{OwnerID: d.Owner.ID, Match: &event.Match{Owner: d.Owner.By}}
	details := []string{"owner: " + d.Owner.Detail}
	if a := d.Account; a != nil {
		c.AccountID = a.ID
		c.Match.Account = a.By
		details = append(details, "account: "+a.Detail)
		switch {
		case a.AsLead:
			c.Reason = event.ReasonNoAccount
		case a.By == event.AccountPrivate:
			c.Reason = event.ReasonPrivateContact
		}
	}
	c.Match.Detail = cutText(strings.Join(details, "; "), maxDetail)
	return c
}

// credited is ref with the credit's owner, Account and match.
func credited(ref *event.SalesforceRef, c *ledger.Credit) *event.SalesforceRef {
	if ref == nil || c == nil {
		return ref
	}
	out := *ref
	out.OwnerID, out.AccountID, out.Match = c.OwnerID, c.AccountID, c.Match
	return &out
}

// inactiveOwner reports whether Salesforce refused a record over its owner:
// inactive, or no user of this org (one learned of another org the team
// was connected to before).
func inactiveOwner(r salesforce.SaveResult) bool { return salesforce.OwnerRefused(r) }

// resendInactive sends again, once, the records Salesforce refused because
// the rep's user is inactive, given to the fallback owner; the user is
// noted inactive so the batches after this one go to the fallback at once.
func (p part) resendInactive(ctx context.Context, recs []salesforce.SObject, ds []attribution.Decision, owners attribution.OwnerRules, results []salesforce.SaveResult, opts salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	var again []int
	for i, r := range results {
		if !r.Success && inactiveOwner(r) && ds[i].Owner.By == event.OwnerRep {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return results, nil
	}
	sub := make([]salesforce.SObject, len(again))
	for j, i := range again {
		p.e.Reps.Inactive(ctx, p.team, ds[i].Owner.ID)
		ds[i].Owner = owners.Inactive(ds[i].Owner)
		recs[i]["OwnerId"] = ds[i].Owner.ID
		sub[j] = recs[i]
	}
	second, err := p.org.Create(ctx, sub, opts)
	if err != nil {
		return nil, err
	}
	for j, i := range again {
		results[i] = second[j]
	}
	return results, nil
}

package ledgertest

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

var salesforceIDRE = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)

func checkSalesforceRef(field string, obj event.SalesforceObject, id string) error {
	if obj != event.ObjectLead && obj != event.ObjectContact {
		return fmt.Errorf("%w: %s object must be Lead or Contact, got %q", ErrInvalid, field, obj)
	}
	if !salesforceIDRE.MatchString(id) {
		return fmt.Errorf("%w: %s id %q is not a 15- or 18-character Salesforce id", ErrInvalid, field, id)
	}
	return nil
}

// checkRecord returns the record's normalized email, or why it is refused.
func checkRecord(r ledger.Record) (string, error) {
	if err := checkIDs("team_id", r.TeamID, "event_id", r.EventID, "contact_id", r.ContactID); err != nil {
		return "", err
	}
	n, err := checkEmail("email", r.Email)
	if err != nil {
		return "", err
	}
	if err := checkSalesforceRef("record", r.Object, r.ID); err != nil {
		return "", err
	}
	switch {
	case r.Status != event.StatusCreated && r.Status != event.StatusLinked:
		return "", fmt.Errorf("%w: status must be created or linked, got %q", ErrInvalid, r.Status)
	case r.SyncedAt.IsZero():
		return "", fmt.Errorf("%w: synced_at missing", ErrInvalid)
	case r.PolicyVersion < 0 || r.MappingVersion < 0:
		return "", fmt.Errorf("%w: versions must not be negative", ErrInvalid)
	}
	return n, nil
}

// heldByOther reports whether an owner other than owner holds a claim that
// has not expired at now (a claim ends after the millisecond of its until).
func (it emailItem) heldByOther(owner string, now time.Time) bool {
	return it.owner != "" && it.owner != owner && it.until >= now.UnixMilli()
}

func (it emailItem) claimedErr() error {
	return fmt.Errorf("claimed by %s until %s: %w", it.owner, time.UnixMilli(it.until).UTC().Format(time.RFC3339Nano), ledger.ErrClaimed)
}

func recordedErr(r ledger.Record) error {
	return fmt.Errorf("%w: synced as %s %s", ErrRecorded, r.Object, r.ID)
}

// Records returns the saved records among emails, by normalized email.
// Emails only claimed are absent.
func (l *Memory) Records(_ context.Context, teamID string, emails []string) (map[string]ledger.Record, error) {
	if err := checkID("team_id", teamID); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]ledger.Record{}
	for i, e := range emails {
		n, err := checkEmail(fmt.Sprintf("emails[%d]", i), e)
		if err != nil {
			return nil, err
		}
		if r := l.emails[emailID{teamID, n}].record; r != nil {
			out[n] = *r
		}
	}
	return out, nil
}

// ClaimAll takes the right to create a record for each email until the
// given time, where the email has no record and no unexpired claim of
// another owner (the owner's own claim is taken again). errs[i] wraps
// ledger.ErrClaimed otherwise (and ErrRecorded when the email has a
// record), or ErrInvalid for an invalid email; an invalid team, owner or
// time fails the call.
func (l *Memory) ClaimAll(_ context.Context, teamID string, emails []string, owner string, until time.Time) ([]error, error) {
	if err := checkIDs("team_id", teamID, "owner", owner); err != nil {
		return nil, err
	}
	now := l.now()
	if !until.After(now) {
		return nil, fmt.Errorf("%w: until %s must be in the future", ErrInvalid, until.UTC().Format(time.RFC3339Nano))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := make([]error, len(emails))
	for i, email := range emails {
		n, err := checkEmail("email", email)
		if err != nil {
			errs[i] = err
			continue
		}
		it := l.emails[emailID{teamID, n}]
		switch {
		case it.record != nil:
			errs[i] = fmt.Errorf("claim %s: %w: %w", n, ledger.ErrClaimed, recordedErr(*it.record))
		case it.heldByOther(owner, now):
			errs[i] = fmt.Errorf("claim %s: %w", n, it.claimedErr())
		default:
			l.emails[emailID{teamID, n}] = emailItem{owner: owner, until: until.UnixMilli()}
		}
	}
	return errs, nil
}

// SaveRecords stores each record and ends its claim. The claim must be the
// owner's (Memory.Owner, or the record's EventID when that is empty),
// expired or absent: errs[i] wraps ledger.ErrClaimed otherwise. An email
// saved with another Salesforce id keeps it (ErrRecorded); its own event
// may save a created record again; a linked record is saved only where the
// email has none.
func (l *Memory) SaveRecords(_ context.Context, rs []ledger.Record) ([]error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	errs := make([]error, len(rs))
	for i, r := range rs {
		n, err := checkRecord(r)
		if err != nil {
			errs[i] = err
			continue
		}
		it := l.emails[emailID{r.TeamID, n}]
		switch old := it.record; {
		case old != nil && (old.ID != r.ID || r.Status == event.StatusLinked || old.EventID != r.EventID):
			errs[i] = fmt.Errorf("save record %s: %w", n, recordedErr(*old))
		case it.heldByOther(cmp.Or(l.Owner, r.EventID), now):
			errs[i] = fmt.Errorf("save record %s: %w", n, it.claimedErr())
		default:
			r.Email, r.SyncedAt = n, r.SyncedAt.UTC()
			l.emails[emailID{r.TeamID, n}] = emailItem{record: &r}
		}
	}
	return errs, nil
}

// Unclaim gives a claim of owner up, where the email has no record; a
// claim not held is left as it is.
func (l *Memory) Unclaim(_ context.Context, teamID, email, owner string) error {
	if err := checkIDs("team_id", teamID, "owner", owner); err != nil {
		return err
	}
	n, err := checkEmail("email", email)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if it := l.emails[emailID{teamID, n}]; it.owner == owner && it.record == nil {
		delete(l.emails, emailID{teamID, n})
	}
	return nil
}

// FollowRecord moves an email's saved record from the Salesforce record
// fromID to another one (a Lead converted since it synced now lives on as
// its Contact); a repeat is a no-op. The record keeps its event, contact
// and versions; its match rule becomes RuleFollowed. ErrRecorded when the
// record points at a third id; ErrInvalid when the email has none.
func (l *Memory) FollowRecord(_ context.Context, teamID, email, fromID string, to event.SalesforceRef) (ledger.Record, error) {
	if err := checkID("team_id", teamID); err != nil {
		return ledger.Record{}, err
	}
	n, err := checkEmail("email", email)
	if err != nil {
		return ledger.Record{}, err
	}
	if !salesforceIDRE.MatchString(fromID) {
		return ledger.Record{}, fmt.Errorf("%w: from_id %q is not a 15- or 18-character Salesforce id", ErrInvalid, fromID)
	}
	if err := checkSalesforceRef("to", to.Object, to.ID); err != nil {
		return ledger.Record{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.emails[emailID{teamID, n}].record
	switch {
	case r == nil:
		return ledger.Record{}, fmt.Errorf("%w: email %s has no saved record to follow", ErrInvalid, n)
	case r.ID != fromID && r.ID != to.ID:
		return ledger.Record{}, fmt.Errorf("follow record %s: %w", n, recordedErr(*r))
	}
	r.ID, r.Object, r.MatchRule = to.ID, to.Object, RuleFollowed
	return *r, nil
}

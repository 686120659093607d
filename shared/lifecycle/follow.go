package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Follow finds where the records of some emails went, refused as
// converted Leads: the Contact each Lead became, by email. An email not in
// the answer has no other record.
type Follow func(ctx context.Context, moved map[string]event.SalesforceRef) (map[string]event.SalesforceRef, error)

// Finder looks emails up in the org: a converted Lead resolves to its
// Contact (both engines' org ports).
type Finder interface {
	FindByEmail(ctx context.Context, emails []string) (map[string]ledger.Match, error)
}

// Follower moves an email's record in the ledger (both engines' ledgers).
type Follower interface {
	FollowRecord(ctx context.Context, teamID, email, fromID string, to event.SalesforceRef) (ledger.Record, error)
}

// FollowConverted is the Follow of a team: the emails looked up again in
// the org (one call) and, where they resolve to another record, the
// ledger's record moved to it, as activity sync moves a converted Lead's
// Tasks. A ledger that cannot follow is the caller's error.
func FollowConverted(org Finder, l Follower, teamID string) Follow {
	return func(ctx context.Context, moved map[string]event.SalesforceRef) (map[string]event.SalesforceRef, error) {
		found, err := org.FindByEmail(ctx, slices.Sorted(maps.Keys(moved)))
		if err != nil {
			return nil, fmt.Errorf("look converted records up: %w", err)
		}
		to := map[string]event.SalesforceRef{}
		for email, from := range moved {
			m, ok := found[email]
			if !ok || m.ID == from.ID {
				continue
			}
			ref := event.SalesforceRef{Object: m.Object, ID: m.ID}
			if _, err := l.FollowRecord(ctx, teamID, email, from.ID, ref); err != nil {
				return nil, fmt.Errorf("follow converted record: %w", err)
			}
			to[email] = ref
		}
		return to, nil
	}
}

// converted reports a refusal of a record that is a converted Lead.
func converted(r salesforce.SaveResult) bool {
	for _, e := range r.Errors {
		if e.Code == salesforce.CodeCannotUpdateConverted {
			return true
		}
	}
	return false
}

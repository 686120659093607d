package activitysync

import (
	"context"
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/policy"
)

// attribute decides who each Task is given to (the rep who sent the email,
// matched to an active Salesforce user, else the team's fallback), with at
// most one lookup of the org for the reps not known yet, and the time
// zone its ActivityDate is dated in: the team's time_zone setting, else
// the connected user's, else UTC. The team's settings as of the batch's
// latest activity decide (read by the settings step; as of now when that
// step did not run).
func (t team) attribute(ctx context.Context, items []item) ([]item, *time.Location, error) {
	s, err := t.settings(ctx)
	if err != nil {
		return nil, nil, err
	}
	b := attribution.Batch{Team: t.id, Since: t.conn.ConnectedAt, Users: t.e.Reps,
		Owners: attribution.OwnerRules{Rule: s.Owner, TeamFallback: s.OwnerFallbackUserID, ConnectedUser: t.conn.UserID}}
	subjects := make([]attribution.Subject, len(items))
	for i, it := range items {
		if u := it.d.Event.User(); u != nil {
			subjects[i].Rep = attribution.NormalizeEmail(u.Email)
		}
	}
	ds, err := b.Decide(ctx, t.org, subjects)
	if err != nil {
		return nil, nil, salesforceErr("find the reps' users", err)
	}
	out := make([]item, len(items))
	for i, it := range items {
		it.owner = ds[i].Owner
		out[i] = it
	}
	return out, location(s.TimeZone, t.conn.TimeZone), nil
}

// location is the first of the time zones Go knows, else UTC.
func location(zones ...string) *time.Location {
	for _, z := range zones {
		if z == "" {
			continue
		}
		if loc, err := time.LoadLocation(z); err == nil {
			return loc
		}
	}
	return time.UTC
}

// settings is the team's settings the settings step read, else as of now.
func (t team) settings(ctx context.Context) (policy.TeamSettings, error) {
	if t.latest != nil {
		return *t.latest, nil
	}
	tv, err := t.e.Settings.TeamSettingsAt(ctx, t.id, t.e.now())
	if err != nil {
		return policy.TeamSettings{}, fmt.Errorf("resolve team settings: %w", err)
	}
	return tv.Document, nil
}

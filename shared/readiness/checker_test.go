package readiness

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
)

type fakeSource struct {
	target  Target
	err     error
	fetches int
}

func (f *fakeSource) Target(context.Context, string) (Target, error) { return f.target, f.err }

func (f *fakeSource) Fetch(context.Context, string, Target) (Snapshot, error) {
	f.fetches++
	return healthy(), nil
}

type memStore map[string]Kept

func (m memStore) Last(_ context.Context, team string) (*Kept, error) {
	if k, ok := m[team]; ok {
		return &k, nil
	}
	return nil, nil
}

func (m memStore) Save(_ context.Context, team string, k Kept) error { m[team] = k; return nil }

type defaultMappings struct{}

func (defaultMappings) Current(_ context.Context, _ string, o event.SalesforceObject) (mapping.Version, error) {
	return mapping.Version{Object: o, Mapping: mapping.Default(o)}, nil
}

func TestCheckerServesAReportAgainWithinItsTTL(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	src := &fakeSource{target: Target{ConnectionID: "c1", OrgID: "00D1"}}
	store := memStore{}
	c := &Checker{Source: src, Store: store, Mappings: defaultMappings{}, TTL: 5 * time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	steps := []struct {
		name        string
		advance     time.Duration
		connection  string
		fresh       bool
		wantFetches int
	}{
		{"first report", 0, "c1", false, 1},
		{"within the TTL", 4*time.Minute + 59*time.Second, "c1", false, 1},
		{"at the TTL", time.Second, "c1", false, 2},
		{"fresh asked", 0, "c1", true, 3},
		{"after a reconnect", 0, "c2", false, 4},
		{"the new connection's, cached", time.Minute, "c2", false, 4},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		src.target.ConnectionID = st.connection
		r, err := c.Report(ctx, "team_a", st.fresh)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if src.fetches != st.wantFetches {
			t.Errorf("%s: got %d fetches; want %d", st.name, src.fetches, st.wantFetches)
		}
		if r.ConnectionID != st.connection || r.OrgID != "00D1" || len(r.Items) != 12 {
			t.Errorf("%s: got connection %s org %s, %d items; want %s, 00D1, 12", st.name, r.ConnectionID, r.OrgID, len(r.Items), st.connection)
		}
	}
	if s, err := c.Summary(ctx, "team_a", "c2"); err != nil || s == nil || s.OK != 11 || s.NotChecked != 1 {
		t.Errorf("summary: got %+v %v; want 11 ok and 1 not_checked", s, err)
	}
	if s, err := c.Summary(ctx, "team_a", "c1"); err != nil || s != nil {
		t.Errorf("summary of a replaced connection: got %+v %v; want none", s, err)
	}
	if s, err := c.Summary(ctx, "team_b", "c1"); err != nil || s != nil {
		t.Errorf("summary of another team: got %+v %v; want none", s, err)
	}
}

func TestCheckerPassesConnectionErrorsThrough(t *testing.T) {
	gone := errors.New("no connection")
	src := &fakeSource{err: gone}
	c := &Checker{Source: src, Store: memStore{}, Mappings: defaultMappings{}}
	if _, err := c.Report(context.Background(), "team_a", false); !errors.Is(err, gone) {
		t.Errorf("got %v; want the source's error", err)
	}
	if _, err := c.AfterConnect(context.Background(), "team_a"); !errors.Is(err, gone) || src.fetches != 0 {
		t.Errorf("after connect: got %v, %d fetches; want the source's error and none", err, src.fetches)
	}
}

// changingMappings is a team whose Lead mapping an admin changes.
type changingMappings struct{ lead mapping.Mapping }

func (m *changingMappings) Current(_ context.Context, _ string, o event.SalesforceObject) (mapping.Version, error) {
	if o == event.ObjectLead && m.lead.Fields != nil {
		return mapping.Version{Object: o, Mapping: m.lead}, nil
	}
	return mapping.Version{Object: o, Mapping: mapping.Default(o)}, nil
}

// TestCachedReportFollowsTheMapping: a mapping saved within the cache time
// changes the report and its summary at once, from the kept snapshot,
// without a call to Salesforce.
func TestCachedReportFollowsTheMapping(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	src := &fakeSource{target: Target{ConnectionID: "c1", OrgID: "00D1"}}
	maps := &changingMappings{}
	c := &Checker{Source: src, Store: memStore{}, Mappings: maps, Now: func() time.Time { return now }}
	ctx := context.Background()
	status := func(r Report) Status { it, _ := r.Item(CheckMappedFields); return it.Status }
	r, err := c.Report(ctx, "team_a", false)
	if err != nil || status(r) != OK {
		t.Fatalf("first report: got %v %v; want mapped_fields ok", status(r), err)
	}
	maps.lead = withRows(event.ObjectLead, mapping.Rule{SalesforceField: "Gone__c", Source: mapping.Source{Field: "title"}})[event.ObjectLead]
	now = now.Add(time.Minute)
	r, err = c.Report(ctx, "team_a", false)
	if err != nil || status(r) != Fail || src.fetches != 1 {
		t.Errorf("after the mapping changed: got %v %v after %d fetches; want mapped_fields fail from the kept snapshot (1 fetch)", status(r), err, src.fetches)
	}
	if s, err := c.Summary(ctx, "team_a", "c1"); err != nil || s == nil || !slices.Contains(s.Attention, CheckMappedFields) {
		t.Errorf("summary after the mapping changed: got %+v %v; want mapped_fields needing attention", s, err)
	}
}

package readinessorg

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// oneConnection is a connection store of one connected team: the report
// reads the connection (Get) and records its usage (RecordUsage) only.
type oneConnection struct {
	connection.Store
	c connection.Connection
}

func (s oneConnection) Get(context.Context, string) (connection.Connection, error) { return s.c, nil }
func (oneConnection) RecordUsage(context.Context, string, connection.Usage, int, bool) error {
	return nil
}

// TestWritebackFieldsFromTheDescribes: the write-back check reads the
// describes the report fetches anyway (its call count does not change),
// as the connected user's field-level security makes them: a field the
// user may not edit is named with the fix; all editable, it is ok.
func TestWritebackFieldsFromTheDescribes(t *testing.T) {
	t.Parallel()
	sim := org.New(org.Config{})
	if _, err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	tok := sim.IssueTokens()
	conn := connection.Connection{TeamID: "team_w", ID: "conn_w", InstanceURL: tok.InstanceURL, OrgID: sim.OrgID(), UserID: sim.UserID(),
		Username: "admin@sfsim.example", Status: connection.StatusConnected, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		ConnectedAt: time.Now().UTC(), Version: 1}
	store := oneConnection{c: conn}
	src := &Source{Connections: store, Orgs: &orgs.Orgs{Store: store, Holder: "test"}}
	mappings := readiness.Mappings{event.ObjectLead: mapping.Default(event.ObjectLead), event.ObjectContact: mapping.Default(event.ObjectContact)}
	report := func() (readiness.Item, int) {
		t.Helper()
		target, err := src.Target(context.Background(), "team_w")
		if err != nil {
			t.Fatal(err)
		}
		before := sim.Stats().Total
		snap, err := src.Fetch(context.Background(), "team_w", target)
		if err != nil {
			t.Fatal(err)
		}
		it, ok := readiness.Report{Items: readiness.Assess(snap, mappings)}.Item(readiness.CheckWritebackFields)
		if !ok {
			t.Fatalf("no %s item", readiness.CheckWritebackFields)
		}
		return it, sim.Stats().Total - before
	}

	it, calls := report()
	if it.Status != readiness.OK {
		t.Errorf("default org: got %s (%s); want ok", it.Status, it.Explanation)
	}
	// the default org's sharing is public: one composite call, as before
	// the check existed
	if calls != 1 {
		t.Errorf("calls of the report: got %d; want 1", calls)
	}

	if err := sim.SetFieldUpdateable("Contact", "HasOptedOutOfEmail", false); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetFieldUpdateable("Lead", "EmailBouncedDate", false); err != nil {
		t.Fatal(err)
	}
	it, calls = report()
	if it.Status != readiness.Warn || calls != 1 {
		t.Fatalf("fields not editable: got %s (%s) in %d calls; want warn in 1", it.Status, it.Explanation, calls)
	}
	for _, w := range []string{"Lead.EmailBouncedDate", "Contact.HasOptedOutOfEmail", "INVALID_FIELD_FOR_INSERT_UPDATE", "Set Field-Level Security", "Lead and Contact"} {
		if !strings.Contains(it.Explanation+" "+it.Fix, w) {
			t.Errorf("got %q / fix %q; want it to mention %q", it.Explanation, it.Fix, w)
		}
	}
	if strings.Contains(it.Explanation, "Lead.HasOptedOutOfEmail") {
		t.Errorf("got %q; want only the fields the user may not edit named", it.Explanation)
	}
}

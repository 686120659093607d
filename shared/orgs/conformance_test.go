package orgs_test

import (
	"context"
	"testing"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// simulated is a team's org in the Salesforce simulator, opened through
// Orgs as the engines open it, as the conformance suite's Subject.
type simulated struct{ e *env }

func (s simulated) Contacts(t *testing.T) contactsync.Org {
	o, _, err := s.e.orgs.Contacts().Open(context.Background(), testTeam)
	if err != nil {
		t.Fatalf("open for contact sync: %v", err)
	}
	return o
}

func (s simulated) Activities(t *testing.T) activitysync.Org {
	o, _, err := s.e.orgs.Activities().Open(context.Background(), testTeam)
	if err != nil {
		t.Fatalf("open for activity sync: %v", err)
	}
	return o
}

// Seed, Convert and Update first wait for the next millisecond, so each
// write is the org's most recent by LastModifiedDate.
func (s simulated) Seed(_ *testing.T, object string, fields map[string]any) string {
	nextMillisecond()
	return s.e.seed(object, fields)[0]
}

func (s simulated) Convert(t *testing.T, leadID string) string {
	nextMillisecond()
	conv, err := s.e.sim.Convert(leadID)
	if err != nil {
		t.Fatalf("convert %s: %v", leadID, err)
	}
	return conv.ContactID
}

func (s simulated) Update(_ *testing.T, object, id string, fields map[string]any) {
	nextMillisecond()
	s.e.update(object, id, fields)
}

// RefuseAsDuplicate has nothing to arrange: the default simulated org has
// Salesforce's standard duplicate rules on, which match the suite's twin
// by name and phone.
func (s simulated) RefuseAsDuplicate(*testing.T, string, string) {}

func (s simulated) AddTaskKeyField(t *testing.T) {
	if err := s.e.sim.AddCustomField("Task", org.CustomField{Name: orgs.TaskKeyField, Type: "text", Length: 255, ExternalID: true}); err != nil {
		t.Fatalf("add %s: %v", orgs.TaskKeyField, err)
	}
}

func (s simulated) SetFieldUpdateable(t *testing.T, object, field string, on bool) {
	if err := s.e.sim.SetFieldUpdateable(object, field, on); err != nil {
		t.Fatalf("field access of %s.%s: %v", object, field, err)
	}
}

func (s simulated) Record(_ *testing.T, object, id string) (map[string]any, bool) {
	return s.e.sim.Record(object, id)
}

func (s simulated) Calls(*testing.T) int { return s.e.calls() }

// TestConformance holds the orgs adapter, against the simulator, to the
// behaviours the in-memory org of the engines' unit tests has. Its cases
// run side by side, but not beside the package's parallel tests: a
// simulator each would slow the burst tests' calls.
func TestConformance(t *testing.T) {
	orgtest.Run(t, func(t *testing.T) orgtest.Subject { return simulated{newEnv(t, org.Config{})} })
}

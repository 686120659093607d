package mappingtest

import (
	"context"
	"reflect"
	"testing"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
)

// Store is what the suite checks: the engine's port, and a save of a
// team's next mapping version (returning its number).
type Store interface {
	contactsync.Renderer
	Save(ctx context.Context, team string, object event.SalesforceObject, m mapping.Mapping) (int, error)
}

// Run checks the renderer newStore returns (a fresh one, nothing saved,
// per call): each case of cases, in parallel.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, newStore(t))
		})
	}
}

// cases are the answers every renderer gives.
var cases = []struct {
	name  string
	check func(t *testing.T, s Store)
}{
	{"the shipped default before any save, version 0", shippedDefault},
	{"the latest saved version, with its number", latestSaved},
	{"teams and objects have their own versions", ownVersions},
	{"an unknown object is refused", unknownObject},
}

// ada is the contact the suite renders.
var ada = event.Contact{ID: "c_1", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Company: "Engines", Title: "Analyst"}

// describeTemplate maps Description through a template.
func describeTemplate(tmpl string) mapping.Mapping {
	return mapping.Mapping{Fields: []mapping.Rule{
		{SalesforceField: "LastName", Source: mapping.Source{Field: mapping.FieldLastName}},
		{SalesforceField: "Description", Source: mapping.Source{Template: tmpl}},
	}}
}

// render renders ada and checks the version used.
func render(t *testing.T, s Store, team string, object event.SalesforceObject, wantVersion int) map[string]any {
	t.Helper()
	rec, v, err := s.Render(context.Background(), team, object, ada)
	if err != nil || v != wantVersion {
		t.Fatalf("Render %s %s: got version %d, %v; want version %d", team, object, v, err, wantVersion)
	}
	return rec
}

// shippedDefault: a team that saved no mapping renders each object with
// the shipped default, and says version 0.
func shippedDefault(t *testing.T, s Store) {
	for _, object := range []event.SalesforceObject{event.ObjectLead, event.ObjectContact} {
		got := render(t, s, "team_a", object, 0)
		want, err := mapping.Render(object, mapping.Default(object), nil, ada)
		if err != nil || !reflect.DeepEqual(map[string]any(want), got) {
			t.Errorf("%s: got %v; want the default mapping's %v (%v)", object, got, want, err)
		}
	}
}

// latestSaved: each save is the next version, used from then on.
func latestSaved(t *testing.T, s Store) {
	ctx := context.Background()
	for i, tmpl := range []string{"{{first_name}} at {{company}}", "{{title}}"} {
		v, err := s.Save(ctx, "team_a", event.ObjectLead, describeTemplate(tmpl))
		if err != nil || v != i+1 {
			t.Fatalf("save %q: got version %d, %v; want %d", tmpl, v, err, i+1)
		}
	}
	rec := render(t, s, "team_a", event.ObjectLead, 2)
	if rec["Description"] != "Analyst" || rec["Email"] != ada.Email {
		t.Errorf("version 2: got %v; want Description Analyst and the contact's email", rec)
	}
}

// ownVersions: a team's mapping of one object is its own: another team,
// and the team's other object, keep the default.
func ownVersions(t *testing.T, s Store) {
	if _, err := s.Save(context.Background(), "team_a", event.ObjectContact, describeTemplate("{{company}}")); err != nil {
		t.Fatalf("save: %v", err)
	}
	if rec := render(t, s, "team_a", event.ObjectContact, 1); rec["Description"] != "Engines" {
		t.Errorf("team_a Contact: got %v; want Description Engines", rec)
	}
	render(t, s, "team_a", event.ObjectLead, 0)
	render(t, s, "team_b", event.ObjectContact, 0)
}

// unknownObject: only a Lead or a Contact is rendered.
func unknownObject(t *testing.T, s Store) {
	if rec, _, err := s.Render(context.Background(), "team_a", "Account", ada); err == nil {
		t.Errorf("Render Account: got %v, nil; want an error", rec)
	}
}

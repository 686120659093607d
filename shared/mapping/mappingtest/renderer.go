// Package mappingtest is an in-memory field mapping for the engines' unit
// tests: Renderer implements contactsync.Renderer from the shipped default
// mapping and the versions a test saves, saying which version it used, as
// mappingdb's Renderer does, with no table. Run is the conformance suite
// that holds both to the same answers.
package mappingtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Renderer keeps each team's mapping versions of each object and the
// describes a test gives. It is safe for concurrent use. Its zero value
// is not usable; use New.
type Renderer struct {
	mu        sync.Mutex
	versions  map[key][]mapping.Version
	describes map[key]*salesforce.Describe
	renders   int
}

type key struct {
	team   string
	object event.SalesforceObject
}

// New returns a Renderer with nothing saved: every team renders with the
// shipped default mapping, version 0, without describes.
func New() *Renderer {
	return &Renderer{versions: map[key][]mapping.Version{}, describes: map[key]*salesforce.Describe{}}
}

var _ contactsync.Renderer = (*Renderer)(nil)

// Save stores m as the team's next version of the object's mapping
// (validated as mappingdb validates it) and returns its number: Render
// uses it from then on.
func (r *Renderer) Save(_ context.Context, team string, object event.SalesforceObject, m mapping.Mapping) (int, error) {
	if err := mapping.CheckObject(object); err != nil {
		return 0, err
	}
	if err := m.Validate(); err != nil {
		return 0, fmt.Errorf("save %s mapping of %s: %w", object, team, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := key{team, object}
	v := mapping.Version{Object: object, Number: len(r.versions[k]) + 1, Author: "mappingtest", Mapping: m.Clone()}
	r.versions[k] = append(r.versions[k], v)
	return v.Number, nil
}

// SetDescribe gives the describe of the team's org Render types values
// with, as if cached (nil: none cached).
func (r *Renderer) SetDescribe(team string, object event.SalesforceObject, d *salesforce.Describe) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.describes[key{team, object}] = d
}

// Renders returns how many contacts were rendered.
func (r *Renderer) Renders() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.renders
}

// Render implements contactsync.Renderer: the record's fields through the
// team's current mapping of object, and that mapping's version (0: the
// shipped default). A contact the mapping cannot render is the error, with
// the version tried.
func (r *Renderer) Render(_ context.Context, teamID string, object event.SalesforceObject, c event.Contact) (salesforce.SObject, int, error) {
	if err := mapping.CheckObject(object); err != nil {
		return nil, 0, fmt.Errorf("render: %w", err)
	}
	r.mu.Lock()
	r.renders++
	k := key{teamID, object}
	v := mapping.Version{Object: object, Mapping: mapping.Default(object)}
	if vs := r.versions[k]; len(vs) > 0 {
		v = vs[len(vs)-1]
	}
	d := r.describes[k]
	r.mu.Unlock()
	rec, err := mapping.Render(object, v.Mapping, d, c)
	if err != nil {
		return nil, v.Number, err
	}
	return rec, v.Number, nil
}

package mappingdb

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// CachedDescribes gives the org's describe as cached, without calling
// Salesforce (describe.Cache implements it). A nil describe means none is
// cached yet.
type CachedDescribes interface {
	Cached(ctx context.Context, teamID, object string) (*salesforce.Describe, time.Time, error)
}

// Renderer renders contacts for the contact-sync engine with the team's
// current mapping and the cached describe of its org. It never calls
// Salesforce: with no describe cached the values go as text (see
// mapping.Render) and whatever Salesforce still refuses is the contact's
// failed outcome.
type Renderer struct {
	Store     *Store
	Describes CachedDescribes // nil: render without describes
	// ReuseFor lets one process reuse a team's mapping and describe for this
	// long (0: read them for every contact). A batch of contacts then costs
	// two reads per team and object; a mapping saved meanwhile applies from
	// the next read on.
	ReuseFor time.Duration
	// DescribeFor lets one process keep a team's describe this long while
	// the team's mapping version stays the one it was read with (0: as
	// ReuseFor). A mapping saved since (whose save refreshed the cached
	// describe) reads the describe again at once; a field changed in the
	// org without a mapping save reaches the sync at most this late, as
	// it reaches the cache itself only on a save or after describe's TTL.
	DescribeFor time.Duration
	Now         func() time.Time // nil: time.Now

	mu       sync.Mutex
	cache    map[renderKey]renderState
	compiled map[renderKey]compiledVersion
}

// compiledVersion is a team's mapping version with its templates parsed:
// versions are never rewritten, so a version is parsed once per process,
// not once per contact.
type compiledVersion struct {
	number   int
	compiled *mapping.Compiled
}

// maxCompiled bounds the parsed mappings one process keeps.
const maxCompiled = 1024

// maxKept bounds the teams' mappings and describes one process keeps (a
// describe decodes to hundreds of KB): past it the process starts afresh.
const maxKept = 256

type renderKey struct {
	team   string
	object event.SalesforceObject
}

type renderState struct {
	version    mapping.Version
	describe   *salesforce.Describe
	readAt     time.Time // of the mapping
	describeAt time.Time // of the describe
}

var _ contactsync.Renderer = (*Renderer)(nil)

func (r *Renderer) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Render implements contactsync.Renderer: the record's fields and the
// mapping version used (0: the shipped default).
func (r *Renderer) Render(ctx context.Context, teamID string, object event.SalesforceObject, c event.Contact) (salesforce.SObject, int, error) {
	st, err := r.state(ctx, teamID, object)
	if err != nil {
		return nil, 0, err
	}
	rec, err := r.compile(teamID, object, st.version).Render(object, st.describe, c)
	if err != nil {
		return nil, st.version.Number, err
	}
	return rec, st.version.Number, nil
}

// compile returns the team's mapping version v with its templates parsed,
// parsing them only when the process has not seen this version yet.
func (r *Renderer) compile(teamID string, object event.SalesforceObject, v mapping.Version) *mapping.Compiled {
	key := renderKey{teamID, object}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cv, ok := r.compiled[key]; ok && cv.number == v.Number {
		return cv.compiled
	}
	if r.compiled == nil || len(r.compiled) >= maxCompiled {
		r.compiled = map[renderKey]compiledVersion{}
	}
	cv := compiledVersion{number: v.Number, compiled: mapping.Compile(v.Mapping)}
	r.compiled[key] = cv
	return cv.compiled
}

func (r *Renderer) describeFor() time.Duration {
	if r.DescribeFor > 0 {
		return r.DescribeFor
	}
	return r.ReuseFor
}

// state is the team's mapping and describe for object: kept from the last
// read while ReuseFor lasts; the describe kept while DescribeFor lasts and
// the mapping version is the same.
func (r *Renderer) state(ctx context.Context, teamID string, object event.SalesforceObject) (renderState, error) {
	key := renderKey{teamID, object}
	now := r.now()
	r.mu.Lock()
	last, seen := r.cache[key]
	r.mu.Unlock()
	if seen && r.ReuseFor > 0 && now.Sub(last.readAt) < r.ReuseFor {
		return last, nil
	}
	v, err := r.Store.Current(ctx, teamID, object)
	if err != nil {
		return renderState{}, fmt.Errorf("render: %w", err)
	}
	st := renderState{version: v, readAt: now}
	switch {
	case r.Describes == nil:
	case seen && last.version.Number == v.Number && now.Sub(last.describeAt) < r.describeFor():
		st.describe, st.describeAt = last.describe, last.describeAt
	default:
		if st.describe, _, err = r.Describes.Cached(ctx, teamID, string(object)); err != nil {
			return renderState{}, fmt.Errorf("render: %w", err)
		}
		st.describeAt = now
	}
	if r.ReuseFor > 0 || r.DescribeFor > 0 {
		r.mu.Lock()
		if _, ok := r.cache[key]; !ok && len(r.cache) >= maxKept {
			r.cache = nil
		}
		if r.cache == nil {
			r.cache = map[renderKey]renderState{}
		}
		r.cache[key] = st
		r.mu.Unlock()
	}
	return st, nil
}

// Package attributiontest is an in-memory attribution.UserStore for the
// unit tests of attribution and its users, and UserStoreSuite, the
// conformance suite that holds it and attributiondb (the policies table)
// to the same answers.
package attributiontest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/policy"
)

// UserStore keeps what was learned of each team's reps in the process. It
// is safe for concurrent use; its zero value is an empty store. It refuses
// what attributiondb refuses (an invalid team id, an email that is empty
// or not normalized) and keeps times as the table does, to the nanosecond
// in UTC.
type UserStore struct {
	mu    sync.Mutex
	teams map[string]map[string]attribution.Known
}

// NewUserStore returns an empty store.
func NewUserStore() *UserStore { return &UserStore{} }

var _ attribution.UserStore = (*UserStore)(nil)

// KnownUsers implements attribution.UserStore.
func (s *UserStore) KnownUsers(_ context.Context, team string, emails []string) (map[string]attribution.Known, error) {
	if err := policy.ValidateID("team_id", team); err != nil {
		return nil, err
	}
	for i, e := range emails {
		if err := attribution.CheckRepEmail(fmt.Sprintf("emails[%d]", i), e); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]attribution.Known{}
	for _, e := range emails {
		if k, ok := s.teams[team][e]; ok {
			out[e] = k
		}
	}
	return out, nil
}

// KeepUsers implements attribution.UserStore: each email's entry replaces
// the one kept before; other emails are left as they are.
func (s *UserStore) KeepUsers(_ context.Context, team string, known map[string]attribution.Known) error {
	if err := policy.ValidateID("team_id", team); err != nil {
		return err
	}
	for e := range known {
		if err := attribution.CheckRepEmail("known", e); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teams == nil {
		s.teams = map[string]map[string]attribution.Known{}
	}
	if s.teams[team] == nil {
		s.teams[team] = map[string]attribution.Known{}
	}
	for e, k := range known {
		k.At = time.Unix(0, k.At.UnixNano()).UTC()
		s.teams[team][e] = k
	}
	return nil
}

package ledgerdb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/dynamotx"
)

// Outcomes written before December 2026 are in their event's own
// partition (EventPK, LegacyOutcomeSK). A stack updated from then keeps
// them for 90 days, and an event answered before the update may be
// delivered again after it (a queue keeps a message 14 days; a redrive
// brings back older ones). While Store.LegacyUntil is in the future, an
// event with no outcome in its contact's partition is looked for there too:
// Outcomes answers it, and RecordOutcomes replaces it only as the outcome
// rules allow, deleting it when it does. Set LegacyUntil to 90 days after
// the update; until then each event with no outcome costs one more read.

// legacy reports whether outcomes are looked for in their old place.
func (s *Store) legacy() bool { return !s.LegacyUntil.IsZero() && s.Now().Before(s.LegacyUntil) }

// legacyOutcomes reads the unexpired outcomes of outs' events from their
// old place, by event; each is marked legacy.
func (s *Store) legacyOutcomes(ctx context.Context, team string, eventIDs []string) (map[teamEvent]outcomeItem, error) {
	if !s.legacy() || len(eventIDs) == 0 {
		return nil, nil
	}
	keys := make([]map[string]types.AttributeValue, len(eventIDs))
	for i, id := range eventIDs {
		keys[i] = dynamotx.Key(EventPK(team, id), LegacyOutcomeSK)
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read outcomes written before December 2026: %w", err)
	}
	now := s.Now().Unix()
	out := make(map[teamEvent]outcomeItem, len(items))
	for _, raw := range items {
		var it outcomeItem
		if err := unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("decode outcome %v: %w", keyString(raw), err)
		}
		if it.ExpiresAt > now && it.Outcome.TeamID == team {
			it.legacy = true
			out[teamEvent{team, it.Outcome.EventID}] = it
		}
	}
	return out, nil
}

// withLegacy adds to found the old outcomes of outs' events that have none
// in found.
func (s *Store) withLegacy(ctx context.Context, outs []event.Outcome, found map[teamEvent]outcomeItem) error {
	byTeam := map[string][]string{}
	for _, o := range outs {
		if _, ok := found[teamEvent{o.TeamID, o.EventID}]; !ok {
			byTeam[o.TeamID] = append(byTeam[o.TeamID], o.EventID)
		}
	}
	for team, ids := range byTeam {
		old, err := s.legacyOutcomes(ctx, team, ids)
		if err != nil {
			return err
		}
		for k, it := range old {
			found[k] = it
		}
	}
	return nil
}

// knownBefore moves the events of fresh that have an old outcome to known:
// their outcome is read and replaced by the rules, not written as new.
func (s *Store) knownBefore(ctx context.Context, p part, fresh, known []teamEvent) ([]teamEvent, []teamEvent, error) {
	if !s.legacy() || len(fresh) == 0 {
		return fresh, known, nil
	}
	old := map[teamEvent]outcomeItem{}
	if err := s.withLegacy(ctx, p.outcomesOf(fresh), old); err != nil {
		return nil, nil, err
	}
	var stay []teamEvent
	for _, k := range fresh {
		if _, ok := old[k]; ok {
			known = append(known, k)
		} else {
			stay = append(stay, k)
		}
	}
	return stay, known, nil
}

package activitysync

import (
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
)

// result is what one step decided for the activities it handled. Each
// step builds and returns its own; the pipeline merges them in one place
// (runPart, team.sync, team.log), so no step writes into another's.
type result struct {
	// outcomes are the answers given: final, or pending for an activity
	// held until its contact syncs.
	outcomes []event.Outcome
	// back are the queued deliveries that must come back, by delivery id,
	// with why.
	back map[string]error
	// settled are the ids of held activities answered in an earlier
	// batch: only the held store forgot to let them go.
	settled []string
	// activities are the activity keys of the answers on a logged Task,
	// by event id: the ledger keeps each with its outcome, so an erasure
	// of the contact finds the activity's claim.
	activities map[string]string
}

// answer adds the answer o.
func (r *result) answer(o event.Outcome) {
	r.outcomes = append(r.outcomes, o)
}

// answerLogged adds the answer o, on the Task logged for the activity key.
func (r *result) answerLogged(key string, o event.Outcome) {
	r.answer(o)
	if r.activities == nil {
		r.activities = map[string]string{}
	}
	r.activities[o.EventID] = key
}

// retry brings a queued delivery back; a held one (no delivery id) simply
// stays held.
func (r *result) retry(d delivery.Delivery, err error) {
	if d.ID == "" {
		return
	}
	if r.back == nil {
		r.back = map[string]error{}
	}
	r.back[d.ID] = err
}

// done is the set of event ids with an answer in r: the held activities
// among them may leave the held store.
func (r result) done() map[string]bool {
	done := make(map[string]bool, len(r.outcomes)+len(r.settled))
	for _, o := range r.outcomes {
		done[o.EventID] = true
	}
	for _, id := range r.settled {
		done[id] = true
	}
	return done
}

// merge is the results of steps, in order: the answers of each follow
// those of the steps before, and a later step's word on a delivery that
// comes back is the last.
func merge(rs ...result) result {
	var out result
	for _, r := range rs {
		out.outcomes = append(out.outcomes, r.outcomes...)
		out.settled = append(out.settled, r.settled...)
		for id, key := range r.activities {
			if out.activities == nil {
				out.activities = map[string]string{}
			}
			out.activities[id] = key
		}
		for id, err := range r.back {
			if out.back == nil {
				out.back = map[string]error{}
			}
			out.back[id] = err
		}
	}
	return out
}

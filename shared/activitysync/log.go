package activitysync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
)

// log is the log step: one Task per activity key, exactly once. Its own
// steps: govern (opens and clicks wait while the team is near its API
// budget), resolve (the record each Task goes on, and one owner per key),
// claim, make (look up, create, follow a converted Lead: create.go),
// bounces (a bounce written back to its record: bounce.go), and follow
// (the other deliveries of a key answered like its owner).
func (t team) log(ctx context.Context, items []item) (result, error) {
	items, governed := t.governLowValue(items)
	if len(items) == 0 {
		return governed, nil
	}
	owners, followers, unresolved, err := t.resolve(ctx, items)
	if err != nil {
		return result{}, err
	}
	c, err := t.claim(ctx, owners)
	if err != nil {
		return result{}, err
	}
	made, err := t.makeTasks(ctx, c.fresh, c.uncertain)
	if err != nil {
		return result{}, err
	}
	res, err := t.bounces(ctx, owners, merge(governed, unresolved, c.res, made))
	if err != nil {
		return result{}, err
	}
	return merge(res, t.followAll(owners, followers, res)), nil
}

// governLowValue holds the opens and clicks delivered by the queue while the
// team is near its API budget, so that record creation and sent and replied
// emails keep the room (the API budget governor). Activities released from
// the held store go on: their contact just synced.
func (t team) governLowValue(items []item) ([]item, result) {
	err := t.org.Allow(budget.Low)
	if err == nil {
		return items, result{}
	}
	var kept []item
	var res result
	for _, it := range items {
		if typ := it.d.Event.Type; !it.held && (typ == event.EmailOpened || typ == event.EmailClicked) {
			res.retry(it.d, held(err))
			continue
		}
		kept = append(kept, it)
	}
	return kept, res
}

// resolve gives each activity the record its Task goes on (the record in
// the contact ledger for its email, else its membership's), and picks one
// owner per activity key: the later deliveries of the key follow it. An
// activity whose contact's record is not saved yet comes back.
func (t team) resolve(ctx context.Context, items []item) (owners []item, followers map[string][]item, res result, err error) {
	emails := map[string]bool{}
	for _, it := range items {
		emails[ledger.NormalizeEmail(it.d.Event.Email())] = true
	}
	records, err := t.e.Ledger.Records(ctx, t.id, mapKeys(emails))
	if err != nil {
		return nil, nil, result{}, fmt.Errorf("read records: %w", err)
	}
	followers = map[string][]item{}
	for _, it := range items {
		if r, ok := records[ledger.NormalizeEmail(it.d.Event.Email())]; ok {
			it.who = event.SalesforceRef{Object: r.Object, ID: r.ID}
		} else if it.m.Salesforce != nil {
			it.who = *it.m.Salesforce
		} else {
			res.retry(it.d, fmt.Errorf("%w: contact synced but its record is not saved yet", delivery.ErrRetry))
			continue
		}
		if _, ok := followers[it.key]; ok {
			followers[it.key] = append(followers[it.key], it)
			continue
		}
		followers[it.key] = []item{}
		owners = append(owners, it)
	}
	return owners, followers, res, nil
}

// claims is what the claim step found: the activities claimed afresh, those
// whose earlier attempt may have reached Salesforce, and the answers of the
// others (logged before, or claimed by another worker: back to the queue).
type claims struct {
	fresh, uncertain []item
	res              result
}

// claim is the claim step: it claims every owner's activity key at once
// (Activities.ClaimAll).
func (t team) claim(ctx context.Context, owners []item) (claims, error) {
	until := t.e.now().Add(orDefault(t.e.ClaimTTL, DefaultClaimTTL))
	if dl, ok := delivery.WriteContext(ctx).Deadline(); ok && dl.Add(time.Minute).After(until) { // a write may outlive the share
		until = dl.Add(time.Minute)
	}
	reqs := make([]ClaimRequest, len(owners))
	for i, it := range owners {
		reqs[i] = ClaimRequest{Key: it.key, EventID: it.d.Event.ID}
	}
	found, err := t.e.Activities.ClaimAll(ctx, t.id, reqs, t.e.Owner, until)
	if err != nil {
		return claims{}, fmt.Errorf("claim activities: %w", err)
	}
	var c claims
	for i, it := range owners {
		switch f := found[i]; {
		case errors.Is(f.Err, ErrClaimed):
			c.res.retry(it.d, fmt.Errorf("%w: %w", delivery.ErrRetry, f.Err))
		case f.Err != nil:
			c.res.retry(it.d, fmt.Errorf("claim activity: %w", f.Err))
		case f.TaskID != "":
			c.res.answerLogged(it.key, t.logged(it, f.TaskID, f.EventID))
		case f.Attempted:
			c.uncertain = append(c.uncertain, it)
		default:
			c.fresh = append(c.fresh, it)
		}
	}
	return c, nil
}

// logged is the answer of an activity whose Task exists: created for the
// event that made it, skipped as a duplicate for any other event.
func (t team) logged(it item, taskID, ownerEvent string) event.Outcome {
	o := t.outcome(it.d, event.StatusCreated, "")
	if ownerEvent != "" && ownerEvent != it.d.Event.ID {
		o = t.outcome(it.d, event.StatusSkipped, event.ReasonDuplicateEvent)
	}
	o.Salesforce = &event.SalesforceRef{Object: event.ObjectTask, ID: taskID}
	if it.owner.By != "" && o.Status == event.StatusCreated {
		o.Salesforce.OwnerID = it.owner.ID
		o.Salesforce.Match = &event.Match{Owner: it.owner.By, Detail: "owner: " + it.owner.Detail}
	}
	return o
}

// followAll answers the later deliveries of each key like its owner, whose
// answer is in owned: logged on the same Task, failed the same way, or
// back to the queue.
func (t team) followAll(owners []item, followers map[string][]item, owned result) result {
	answers := map[string]event.Outcome{}
	for _, o := range owned.outcomes {
		answers[o.EventID] = o
	}
	var res result
	for _, own := range owners {
		for _, f := range followers[own.key] {
			o, ok := answers[own.d.Event.ID]
			switch {
			case ok && o.Salesforce != nil:
				res.answerLogged(f.key, t.logged(f, o.Salesforce.ID, own.d.Event.ID))
			case ok && o.Status == event.StatusFailed:
				fo := t.outcome(f.d, event.StatusFailed, "")
				fo.Error = o.Error
				res.answer(fo)
			default:
				err := owned.back[own.d.ID]
				if own.d.ID == "" || err == nil {
					err = fmt.Errorf("%w: the activity's first delivery is not logged yet", delivery.ErrRetry)
				}
				res.retry(f.d, err)
			}
		}
	}
	return res
}

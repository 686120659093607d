package activitysync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// taskSpec is the org's TaskFields as a part uses them, and whether the
// part read them from the org itself rather than trusting the cache.
type taskSpec struct {
	TaskFields
	described bool
}

// makeTasks is the make step of the activities claimed: the Tasks an
// earlier attempt may have saved are looked up (lookUp), and the rest
// created (create). On an error every claim is abandoned, keeping its
// attempt mark: a create may have reached Salesforce.
func (t team) makeTasks(ctx context.Context, fresh, uncertain []item) (result, error) {
	mine := slices.Concat(fresh, uncertain)
	if len(mine) == 0 {
		return result{}, nil
	}
	res, err := t.makeClaimed(ctx, fresh, uncertain)
	if err != nil {
		t.abandon(context.WithoutCancel(ctx), mine)
		return result{}, err
	}
	return res, nil
}

func (t team) makeClaimed(ctx context.Context, fresh, uncertain []item) (result, error) {
	spec, err := t.taskFields(ctx)
	if err != nil {
		return result{}, err
	}
	// Owners first, so a Task found saved by a lost answer is answered with
	// the owner it was made for, as its first answer would have been.
	mine, loc, err := t.attribute(ctx, slices.Concat(fresh, uncertain))
	if err != nil {
		return result{}, err
	}
	fresh, uncertain = mine[:len(fresh)], mine[len(fresh):]
	saved, rest, err := t.lookUp(ctx, spec, uncertain)
	if err != nil {
		return result{}, err
	}
	created, err := t.create(ctx, slices.Concat(fresh, rest), spec, loc, true)
	if err != nil {
		return result{}, err
	}
	return merge(saved, created), nil
}

// taskFields gives what the org's Task object offers: the cache's while
// fresh, else the org's own (one describe), cached again.
func (t team) taskFields(ctx context.Context) (taskSpec, error) {
	tf, at, ok, err := t.e.Activities.TaskFields(ctx, t.id)
	if err != nil {
		return taskSpec{}, fmt.Errorf("read task fields: %w", err)
	}
	// An empty closed status is never trusted: a cache written before the
	// org's closed status was read, one dropped after Salesforce refused
	// the status, or an org without one, whose admin may have fixed it
	// since (its Tasks fail until then, each batch asking again).
	if ok && tf.ClosedStatus != "" && t.e.now().Sub(at) < orDefault(t.e.TaskFieldsTTL, DefaultTaskFieldsTTL) {
		return taskSpec{TaskFields: tf}, nil
	}
	tf, err = t.org.DescribeTask(ctx)
	if err != nil {
		return taskSpec{}, salesforceErr("describe Task", err)
	}
	if err := t.e.Activities.SaveTaskFields(ctx, t.id, tf, t.e.now()); err != nil {
		t.e.logger().Warn("cache task fields", "team_id", t.id, "error", err.Error())
	}
	return taskSpec{TaskFields: tf, described: true}, nil
}

// forgetTaskFields drops the team's cached TaskFields (an empty closed
// status is never trusted), so that the next batch reads the org's again.
func (t team) forgetTaskFields(ctx context.Context) {
	if err := t.e.Activities.SaveTaskFields(ctx, t.id, TaskFields{}, time.Time{}); err != nil {
		t.e.logger().Warn("forget task fields", "team_id", t.id, "error", err.Error())
	}
}

// lookUp finds the Tasks of activities whose earlier attempt may have
// reached Salesforce, records those found and answers them; it returns
// the rest, to create.
func (t team) lookUp(ctx context.Context, spec taskSpec, uncertain []item) (result, []item, error) {
	if len(uncertain) == 0 {
		return result{}, nil, nil
	}
	var keys, whos []string
	for _, it := range uncertain {
		keys = append(keys, it.key)
		whos = append(whos, it.who.ID)
	}
	found, err := t.org.FindTasks(ctx, spec.KeyField, keys, slices.Compact(slices.Sorted(slices.Values(whos))))
	if err != nil {
		return result{}, nil, salesforceErr("look saved tasks up", err)
	}
	var saved, rest []item
	var savedIDs []string
	for _, it := range uncertain {
		if id, ok := found[it.key]; ok {
			saved, savedIDs = append(saved, it), append(savedIDs, id)
			continue
		}
		rest = append(rest, it)
	}
	res, err := t.recordTasks(ctx, saved, savedIDs)
	if err != nil {
		return result{}, nil, err
	}
	return res, rest, nil
}

// create sends the Tasks and answers them; a Lead converted since it
// synced is followed to its Contact and its Tasks sent again (once, when
// follow).
func (t team) create(ctx context.Context, items []item, spec taskSpec, loc *time.Location, follow bool) (result, error) {
	if len(items) == 0 {
		return result{}, nil
	}
	if spec.ClosedStatus == "" {
		var res result
		for _, it := range items {
			res.answer(t.failOne(ctx, it, noClosedStatus))
		}
		return res, nil
	}
	tasks := make([]salesforce.SObject, len(items))
	for i, it := range items {
		tasks[i] = NewTask(it.d.Event, it.who.ID, it.key, spec.TaskFields, it.owner.ID, loc)
	}
	// The write, and what its answer ends, are not cut when the share
	// does (see delivery.WriteContext); following a moved Lead is a read.
	wctx := delivery.WriteContext(ctx)
	results, err := t.org.Create(wctx, tasks, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		return result{}, salesforceErr("create tasks", err)
	}
	var made []item
	var ids []string
	for i, r := range results {
		if r.Success {
			made, ids = append(made, items[i]), append(ids, r.ID)
		}
	}
	created, err := t.recordTasks(wctx, made, ids)
	if err != nil {
		return result{}, err
	}
	moved, refused := t.refusals(wctx, items, results, spec, follow)
	if len(moved) == 0 {
		return merge(created, refused), nil
	}
	again, err := t.followMoved(ctx, moved, spec, loc)
	if err != nil {
		return result{}, err
	}
	return merge(created, refused, again), nil
}

// refusals answers the Tasks Salesforce refused (results[i] for items[i]):
// a busy org's come back, a refused cached closed status is forgotten and
// its Tasks come back (they fail when this part read the status itself),
// others fail. It returns those whose record no longer takes a Task, to
// follow.
func (t team) refusals(ctx context.Context, items []item, results []salesforce.SaveResult, spec taskSpec, follow bool) ([]item, result) {
	var moved, busy []item
	var res result
	stale := false
	for i, r := range results {
		it := items[i]
		switch {
		case r.Success:
		case follow && gone(r):
			moved = append(moved, it)
		case hasCode(r, salesforce.CodeUnableToLockRow) || hasCode(r, salesforce.CodeServerUnavailable):
			busy = append(busy, it)
			res.retry(it.d, fmt.Errorf("%w: %s", delivery.ErrRetry, firstError(r).Message))
		case salesforce.OwnerRefused(r) && it.owner.By == event.OwnerRep:
			// Known inactive from now: the Task comes back to the fallback.
			t.e.Reps.Inactive(ctx, t.id, it.owner.ID)
			busy = append(busy, it)
			res.retry(it.d, fmt.Errorf("%w: the rep's user is inactive: %s", delivery.ErrRetry, firstError(r).Message))
		case statusRefused(r):
			stale = true
			if spec.described { // the org's own answer of this part: no use asking again
				res.answer(t.failOne(ctx, it, r))
				continue
			}
			busy = append(busy, it)
			res.retry(it.d, fmt.Errorf("%w: the cached closed Task status was refused: %s", delivery.ErrRetry, firstError(r).Message))
		default:
			res.answer(t.failOne(ctx, it, r))
		}
	}
	t.abandon(ctx, busy)
	if stale {
		t.forgetTaskFields(ctx)
	}
	return moved, res
}

// followMoved looks the emails of Tasks refused on their WhoId up again:
// a converted Lead resolves to its Contact, whom the ledger then follows,
// and the Tasks are created there.
func (t team) followMoved(ctx context.Context, moved []item, spec taskSpec, loc *time.Location) (result, error) {
	var emails []string
	for _, it := range moved {
		emails = append(emails, it.d.Event.Email())
	}
	found, err := t.org.FindByEmail(ctx, emails)
	if err != nil {
		return result{}, salesforceErr("look converted records up", err)
	}
	var again []item
	var res result
	for _, it := range moved {
		email := ledger.NormalizeEmail(it.d.Event.Email())
		m, ok := found[email]
		if !ok || m.ID == it.who.ID {
			res.answer(t.failOne(ctx, it, salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: salesforce.CodeCannotUpdateConverted,
				Message: "the contact's Salesforce record no longer takes activities and no other record has its email", Fields: []string{"WhoId"}}}}))
			continue
		}
		to := event.SalesforceRef{Object: m.Object, ID: m.ID}
		if _, err := t.e.Ledger.FollowRecord(ctx, t.id, email, it.who.ID, to); err != nil {
			t.e.logger().Warn("follow converted record", "team_id", t.id, "error", err.Error())
		}
		it.who = to
		again = append(again, it)
	}
	created, err := t.create(ctx, again, spec, loc, false)
	if err != nil {
		return result{}, err
	}
	return merge(res, created), nil
}

// recordTasks records the Tasks created for items (ids[i] for items[i]) in one
// call and answers them. An item whose activity has another Task recorded
// (or that the store refused) keeps its attempt mark and goes back to the
// queue: the next claim answers with the recorded Task.
func (t team) recordTasks(ctx context.Context, items []item, ids []string) (result, error) {
	if len(items) == 0 {
		return result{}, nil
	}
	tasks := make([]LoggedTask, len(items))
	for i, it := range items {
		tasks[i] = LoggedTask{Key: it.key, TaskID: ids[i]}
	}
	errs, err := t.e.Activities.DoneAll(ctx, t.id, t.e.Owner, tasks)
	if err != nil {
		return result{}, fmt.Errorf("record tasks: %w", err)
	}
	var refused []item
	var res result
	for i, it := range items {
		if errs[i] != nil {
			t.e.logger().Warn("record task", "team_id", t.id, "event_id", it.d.Event.ID, "task_id", ids[i], "error", errs[i].Error())
			refused = append(refused, it)
			res.retry(it.d, fmt.Errorf("%w: %w", delivery.ErrRetry, errs[i]))
			continue
		}
		res.answerLogged(it.key, t.logged(it, ids[i], it.d.Event.ID))
	}
	t.abandon(ctx, refused)
	return res, nil
}

// abandon ends the part's claims of items, keeping the attempt mark: a
// create may have reached Salesforce.
func (t team) abandon(ctx context.Context, items []item) {
	if len(items) == 0 {
		return
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.key
	}
	if err := t.e.Activities.AbandonAll(ctx, t.id, t.e.Owner, keys); err != nil {
		t.e.logger().Warn("abandon claims", "team_id", t.id, "claims", len(keys), "error", err.Error())
	}
}

// failOne ends the claim of an activity whose Task was refused for good
// (nothing was saved) and gives its failed answer, with Salesforce's error.
func (t team) failOne(ctx context.Context, it item, res salesforce.SaveResult) event.Outcome {
	if err := t.e.Activities.Unclaim(ctx, t.id, it.key, t.e.Owner); err != nil {
		t.e.logger().Warn("unclaim", "team_id", t.id, "error", err.Error())
	}
	fe := firstError(res)
	msg := fe.Message
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	o := t.outcome(it.d, event.StatusFailed, "")
	o.Error = &event.OutcomeError{Code: fe.Code, Message: msg, Fields: fe.Fields}
	return o
}

// statusRefused reports a Task Salesforce refused for its Status: an admin
// changed the org's Task statuses since they were read.
func statusRefused(r salesforce.SaveResult) bool {
	for _, e := range r.Errors {
		if e.Code != codeRestrictedPicklist && e.Code != codeBadValue {
			continue
		}
		if slices.Contains(e.Fields, "Status") || strings.HasPrefix(e.Message, "Status:") {
			return true
		}
	}
	return false
}

// Salesforce's codes of a value a picklist does not offer.
const (
	codeRestrictedPicklist = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
	codeBadValue           = "BAD_VALUE"
)

// gone reports a Task refused because its WhoId no longer takes one.
func gone(r salesforce.SaveResult) bool {
	return hasCode(r, salesforce.CodeCannotUpdateConverted) || hasCode(r, salesforce.CodeEntityIsDeleted) ||
		hasCode(r, "INVALID_CROSS_REFERENCE_KEY")
}

func hasCode(r salesforce.SaveResult, code string) bool {
	for _, e := range r.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

func firstError(r salesforce.SaveResult) salesforce.ErrorItem {
	for _, e := range r.Errors {
		if e.Code != salesforce.CodeAllOrNoneRolledBack {
			return e
		}
	}
	if len(r.Errors) > 0 {
		return r.Errors[0]
	}
	return salesforce.ErrorItem{Code: "UNKNOWN_ERROR", Message: "Salesforce reported a failure without an error"}
}

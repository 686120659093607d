package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/event"
)

// Figures are what the checker measured on one run.
type Figures struct {
	Events      int `json:"events"`
	Messages    int `json:"messages_sent"`
	OutcomeMsgs int `json:"outcome_messages"`

	// Every event has exactly one terminal outcome.
	NoTerminal  int `json:"events_without_terminal_outcome"`
	Conflicting int `json:"events_with_conflicting_terminal_outcomes"`
	// Terminal outcomes that agree on status and record but give different
	// reasons (e.g. matched_contact, then already_synced): not a conflict.
	ReasonsDiffer int `json:"events_whose_terminal_outcomes_differ_in_reason"`
	// No event lost: every event ends as the workload implies (created or
	// linked, a Task, or pending for an on_reply add), none in a DLQ.
	Unexpected   int            `json:"events_with_unexpected_outcome"`
	UnexpectedBy map[string]int `json:"unexpected_by_kind,omitempty"`
	DeadLettered int            `json:"dead_lettered"`
	Lost         int            `json:"events_lost"`
	QueueLeft    int            `json:"messages_left_in_queues"`

	// The simulated orgs.
	Records        int `json:"records"`
	DupRecords     int `json:"duplicate_records"` // extra Leads/Contacts sharing an email (case-insensitive)
	MissingRecords int `json:"missing_records"`   // contact emails with no Lead or Contact
	Tasks          int `json:"tasks"`
	DupTasks       int `json:"duplicate_tasks"` // extra Tasks sharing (message id, kind)
	MissingTasks   int `json:"missing_tasks"`   // email events without their Task
	MisplacedTasks int `json:"misplaced_tasks"` // Tasks not on their contact's record
	StrayTasks     int `json:"stray_tasks"`     // Tasks of no email event of the run

	// The teams that lost Salesforce for a while.
	Revoked *Recovery `json:"revoked,omitempty"`
	Limited *Recovery `json:"limited,omitempty"`

	// Throughput of the normal teams: their events over the time from the
	// first send to their last answer.
	NormalEvents  int     `json:"normal_team_events"`
	NormalSeconds float64 `json:"normal_team_seconds"`
	NormalPerSec  float64 `json:"normal_team_events_per_second"`
	// Isolation: how long the normal teams' events took from their first
	// copy's send to their settling answer, in seconds, median and 95th
	// percentile.
	NormalP50 float64 `json:"normal_team_p50_seconds"`
	NormalP95 float64 `json:"normal_team_p95_seconds"`

	SalesforceCalls int            `json:"salesforce_calls"`
	Faults          map[string]int `json:"faults_fired,omitempty"`
	Batches         map[string]batchFigures
	// The stack's AWS requests from the first send to the drain, by
	// operation: what the faults cost on top of the work itself.
	Requests map[string]int64 `json:"aws_requests,omitempty"`
	// MeanMillis is the mean time moto took to answer each operation.
	MeanMillis    map[string]float64 `json:"aws_request_mean_ms,omitempty"`
	DrainTimedOut bool               `json:"drain_timed_out"`
	Examples      []string           `json:"examples,omitempty"`
}

// Recovery is what became of a team's events while it had no Salesforce.
type Recovery struct {
	Team        string  `json:"team"`
	Seconds     float64 `json:"outage_seconds"`
	DetectedIn  float64 `json:"needs_reauth_after_seconds,omitempty"`
	Held        int     `json:"held"`               // events unanswered when Salesforce came back
	SyncedAfter int     `json:"synced_after"`       // of those, answered as expected afterwards
	AnsweredIn  int     `json:"answered_in_outage"` // terminal answers that arrived during the outage
}

// finalOf is the answer that settles an event: its first terminal (not
// pending) outcome, or for an on_reply add that has none, its pending
// awaiting_reply: the membership's final outcome comes with the reply.
func finalOf(we wev, gs []got) (got, bool) {
	for _, g := range gs {
		if terminal(g) {
			return g, true
		}
	}
	if we.expect == expectPending {
		for _, g := range gs {
			if g.o.Reason == event.ReasonAwaitingReply {
				return g, true
			}
		}
	}
	return got{}, false
}

func terminal(g got) bool { return g.o.Status != event.StatusPending }

// conflictKey is what two terminal outcomes of one event must agree on:
// the status, the Salesforce record and the error. Reasons may differ
// (counted apart).
func conflictKey(o event.Outcome) string {
	k := string(o.Status)
	if o.Salesforce != nil {
		k += " " + string(o.Salesforce.Object) + ":" + o.Salesforce.ID
	}
	if o.Error != nil {
		k += " " + o.Error.Code
	}
	return k
}

func outcomeKey(o event.Outcome) string {
	k := string(o.Status) + "/" + string(o.Reason)
	if o.Salesforce != nil {
		k += " " + string(o.Salesforce.Object) + ":" + o.Salesforce.ID
	}
	if o.Error != nil {
		k += " " + o.Error.Code
	}
	return k
}

func expected(we wev, o event.Outcome) bool {
	switch we.expect {
	case expectPending: // or synced, when the reply got there first
		return o.Status == event.StatusPending && o.Reason == event.ReasonAwaitingReply ||
			(o.Status == event.StatusCreated || o.Status == event.StatusLinked) && o.Salesforce != nil
	case expectTask:
		return o.Status == event.StatusCreated && o.Salesforce != nil && o.Salesforce.Object == event.ObjectTask
	default:
		return (o.Status == event.StatusCreated || o.Status == event.StatusLinked) && o.Salesforce != nil
	}
}

// check measures a run against the workload.
func check(w *workload, res *runResult) *Figures {
	f := &Figures{Events: len(w.events), Messages: res.Messages, OutcomeMsgs: res.OutcomeMsgs, UnexpectedBy: map[string]int{},
		QueueLeft: res.QueueLeft, Faults: map[string]int{}, Batches: res.Batches, DrainTimedOut: res.DrainTimedOut,
		Requests: res.Requests, MeanMillis: map[string]float64{}}
	for op, n := range res.Requests {
		if n > 0 {
			f.MeanMillis[op] = float64(res.Spent[op].Microseconds()) / 1000 / float64(n)
		}
	}
	example := func(format string, args ...any) {
		if len(f.Examples) < 12 {
			f.Examples = append(f.Examples, fmt.Sprintf(format, args...))
		}
	}
	dead := map[string]bool{}
	for _, id := range res.DeadLetters {
		dead[id] = true
	}
	f.DeadLettered = len(res.DeadLetters)

	var lastNormal time.Time
	var took []float64 // the normal teams' events, send to answer, in seconds
	for _, we := range w.events {
		id := we.ev.ID
		gs := res.Outcomes[id]
		terms, reasons := map[string]bool{}, map[string]bool{}
		for _, g := range gs {
			if terminal(g) {
				terms[conflictKey(g.o)] = true
				reasons[outcomeKey(g.o)] = true
			}
		}
		lost := dead[id]
		fin, ok := finalOf(we, gs)
		switch {
		case !ok:
			f.NoTerminal++
			lost = true
			example("%s %s (%s, %s): no terminal outcome; got %d outcomes%s", id, we.ev.Type, w.teams[we.team], seqOf(we), len(gs), lastOf(gs))
		case len(terms) > 1:
			f.Conflicting++
			example("%s %s (%s): conflicting terminal outcomes %v", id, we.ev.Type, w.teams[we.team], sortedKeys(reasons))
		case len(reasons) > 1:
			f.ReasonsDiffer++
		}
		if ok && !expected(we, fin.o) {
			f.Unexpected++
			lost = true
			k := fmt.Sprintf("%s in %s -> %s/%s", we.ev.Type, seqOf(we), fin.o.Status, fin.o.Reason)
			if fin.o.Error != nil {
				k += " " + fin.o.Error.Code
			}
			f.UnexpectedBy[k]++
			if f.UnexpectedBy[k] <= 2 {
				example("%s %s (%s, %s): want %s; got %s", id, we.ev.Type, w.teams[we.team], w.contacts[we.contact].id, we.expect, outcomeKey(fin.o))
			}
		}
		if dead[id] {
			example("%s %s (%s): in a dead-letter queue", id, we.ev.Type, w.teams[we.team])
		}
		if lost {
			f.Lost++
		}
		if w.roles[we.team] == roleNormal {
			f.NormalEvents++
			if ok && fin.at.After(lastNormal) {
				lastNormal = fin.at
			}
			if sent := res.SentAt[we.idx]; ok && !sent.IsZero() {
				took = append(took, max(fin.at.Sub(sent).Seconds(), 0))
			}
		}
	}
	if !lastNormal.IsZero() {
		f.NormalSeconds = lastNormal.Sub(res.Started).Seconds()
		f.NormalPerSec = float64(f.NormalEvents) / f.NormalSeconds
	}
	f.NormalP50, f.NormalP95 = percentile(took, 50), percentile(took, 95)

	// The orgs: one Lead or Contact per email, one Task per (message, kind).
	for ti, snap := range res.Orgs {
		f.SalesforceCalls += snap.Calls
		for k, v := range snap.Faults {
			f.Faults[k] += v
		}
		byEmail := map[string][]string{} // lower email -> record ids
		for _, recs := range [][]map[string]any{snap.Leads, snap.Contacts} {
			for _, r := range recs {
				if r["IsConverted"] == true {
					continue
				}
				e := strings.ToLower(str(r["Email"]))
				byEmail[e] = append(byEmail[e], str(r["Id"]))
				f.Records++
			}
		}
		for e, ids := range byEmail {
			if len(ids) > 1 {
				f.DupRecords += len(ids) - 1
				example("%s: %d records for %s: %v", w.teams[ti], len(ids), e, ids)
			}
		}
		want := map[string]string{} // Task subject -> lower email of its contact
		for _, we := range w.events {
			if we.team != ti {
				continue
			}
			email := strings.ToLower(w.contacts[we.contact].email)
			if we.ev.Type == event.ContactAdded {
				if len(byEmail[email]) == 0 {
					f.MissingRecords++
					byEmail[email] = []string{} // count once
					example("%s: no Lead or Contact for %s", w.teams[ti], email)
				}
			}
			if we.expect == expectTask {
				want[activitysync.SubjectOf(we.ev)] = email
			}
		}
		bySubject := map[string][]map[string]any{}
		for _, t := range snap.Tasks {
			bySubject[str(t["Subject"])] = append(bySubject[str(t["Subject"])], t)
			f.Tasks++
		}
		for subj, ts := range bySubject {
			email, ok := want[subj]
			if !ok {
				f.StrayTasks += len(ts)
				continue
			}
			if len(ts) > 1 {
				f.DupTasks += len(ts) - 1
				example("%s: %d Tasks %q", w.teams[ti], len(ts), subj)
			}
			for _, t := range ts {
				if !slices.Contains(byEmail[email], str(t["WhoId"])) {
					f.MisplacedTasks++
					example("%s: Task %q on %s, not on a record of %s %v", w.teams[ti], subj, str(t["WhoId"]), email, byEmail[email])
				}
			}
		}
		for subj := range want {
			if len(bySubject[subj]) == 0 {
				f.MissingTasks++
				example("%s: no Task %q", w.teams[ti], subj)
			}
		}
	}

	if res.Revoked != nil {
		f.Revoked = recovery(w, res, res.Revoked)
	}
	if res.Limited != nil {
		f.Limited = recovery(w, res, res.Limited)
	}
	return f
}

// recovery counts a team's events that waited out its outage: sent before
// Salesforce came back and not settled by then.
func recovery(w *workload, res *runResult, o *outage) *Recovery {
	r := &Recovery{Team: w.teams[o.Team], Seconds: o.End.Sub(o.Start).Seconds()}
	if !o.Detected.IsZero() {
		r.DetectedIn = o.Detected.Sub(o.Start).Seconds()
	}
	for _, we := range w.events {
		if we.team != o.Team || res.SentAt[we.idx].IsZero() || res.SentAt[we.idx].After(o.End) {
			continue
		}
		gs := res.Outcomes[we.ev.ID]
		for _, g := range gs {
			if terminal(g) && g.at.After(o.Start) && g.at.Before(o.End) {
				r.AnsweredIn++
				break
			}
		}
		fin, ok := finalOf(we, gs)
		if ok && fin.at.Before(o.End) {
			continue
		}
		r.Held++
		if ok && expected(we, fin.o) {
			r.SyncedAfter++
		}
	}
	return r
}

func seqOf(we wev) string { return we.ev.SequenceID() }

func lastOf(gs []got) string {
	if len(gs) == 0 {
		return ""
	}
	return "; last " + outcomeKey(gs[len(gs)-1].o)
}

func str(v any) string { s, _ := v.(string); return s }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// percentile is the p-th percentile of xs by nearest rank (0 for none); it
// sorts xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	rank := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(max(rank, 1), len(xs))-1]
}

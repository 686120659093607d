// Package metrics writes CloudWatch embedded metric format (EMF) lines: one
// JSON object per line on the function's output, which CloudWatch Logs turns
// into metrics without an API call. The stack's alarms and its dashboard
// read them (infra/README.md).
package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Namespace and names of the metrics the functions write (see
// infra/README.md).
const (
	Namespace      = "SFSync"
	NeedsReauth    = "NeedsReauth"    // an event could not sync: the team's connection needs a new authorization
	BudgetExceeded = "BudgetExceeded" // an event was deferred: the team's org is out of API calls
	// NeedsAdmin: an event could not sync: Salesforce refuses the team's
	// connection for a cause the team's admin must fix (an inactive user
	// or org).
	NeedsAdmin = "NeedsAdmin"
	// AppRefused: an event could not sync: Salesforce refuses this
	// deployment's connected app (invalid_client, invalid_client_id), which
	// only the operator can fix; every team's syncs stop alike.
	AppRefused = "AppRefused"
	// Outcomes: the outcomes published to the results queue, by Status and
	// Reason (NoReason when the outcome has none).
	Outcomes = "Outcomes"
	// SalesforceCalls: the Salesforce API calls a sync function's batch
	// made, as Salesforce counts them, by Function.
	SalesforceCalls = "SalesforceCalls"
	// HeldEvents: the events sent back to wait on their queue, and the
	// activity held until its contact syncs, by Reason (the Held* words).
	HeldEvents = "HeldEvents"
)

// Alarmed are the metrics above that the stack alarms on, each summed over
// teams (the infra tests check that each has its alarm).
var Alarmed = []string{NeedsReauth, BudgetExceeded, NeedsAdmin, AppRefused}

// Written is every metric the functions write: EMF refuses any other
// name, a test of the functions' wiring sees each of them written, and the
// infra tests check that the dashboard shows no other.
var Written = []string{NeedsReauth, BudgetExceeded, NeedsAdmin, AppRefused, Outcomes, SalesforceCalls, HeldEvents}

// dimensionSets are the dimension sets each written metric is recorded
// under. The alarmed ones have TeamId alone: the alarms' Metrics Insights
// queries sum exactly that set (infra/README.md).
var dimensionSets = map[string][][]string{
	NeedsReauth:     {{TeamID}},
	BudgetExceeded:  {{TeamID}},
	NeedsAdmin:      {{TeamID}},
	AppRefused:      {{TeamID}},
	Outcomes:        {{Status, Reason}, {Status}},
	SalesforceCalls: {{Function}},
	HeldEvents:      {{Reason}},
}

// DimensionSets returns the dimension sets the named metric is written
// under (the dashboard's searches name one of them); nil for a metric not
// written.
func DimensionSets(name string) [][]string {
	sets := dimensionSets[name]
	out := make([][]string, len(sets))
	for i, set := range sets {
		out[i] = slices.Clone(set)
	}
	return out
}

// Dimension names. None of Outcomes, SalesforceCalls and HeldEvents has
// TeamId: each distinct set of dimension values is a custom metric of its
// own, billed and listed apart, and thousands of teams would make thousands
// of them; their dimensions take a few dozen values in all.
const (
	TeamID   = "TeamId"
	Status   = "Status"
	Reason   = "Reason"
	Function = "Function"
)

// NoReason is the Reason of an outcome that has none (created, linked,
// failed, ...).
const NoReason = "none"

// The Reasons of HeldEvents. An event held on the queue comes back after
// the hold delay; one waiting, after a short delay that grows with its wait.
const (
	HeldNeedsReauth = "needs_reauth" // held: the team's connection needs a new consent
	HeldNeedsAdmin  = "needs_admin"  // held: Salesforce refuses the connection until the team's admin acts
	HeldAppRefused  = "app_refused"  // held: Salesforce refuses this deployment's connected app
	HeldAPILimit    = "api_limit"    // held: the team's API budget is spent (or nearly, for opens and clicks)
	// HeldOther: held for another cause; today, an event whose
	// contact.added is itself held.
	HeldOther = "held_other"
	// HeldAwaitingAdd: waiting for its contact's contact.added to sync.
	HeldAwaitingAdd = "awaiting_add"
	// HeldGathering: a team's small part waits for its next events
	// (GATHER_MIN_EVENTS, GATHER_SECONDS).
	HeldGathering = "gathering"
	// HeldNotRun: the batch's time ran out before the team's turn.
	HeldNotRun = "not_run"
	// HeldRetryAfter: Salesforce asked for a wait (the org's concurrent
	// long-running requests were all taken).
	HeldRetryAfter = "retry_after"
	// HeldOutOfTime: the function's time ran out before the event's.
	HeldOutOfTime = "out_of_time"
	// HeldContactPending: activity held in the ledger until its contact
	// syncs (answered pending/contact_pending).
	HeldContactPending = "contact_pending"
)

// Errors of Write.
var (
	// ErrUnlisted: the metric is not in Written.
	ErrUnlisted = errors.New("metric not listed in metrics.Written")
	// ErrLine: the line is not one EMF can carry: a dimension of the
	// metric's sets has no value on the line, or a name is used twice.
	ErrLine = errors.New("not a valid EMF line")
)

// Metric is one value of a line, recorded under its dimension sets
// (DimensionSets), over the line's dimension values.
type Metric struct {
	Name  string
	Value int
}

// EMF writes metrics to W (the function's standard output).
type EMF struct {
	W   io.Writer
	Now func() time.Time

	mu sync.Mutex
}

// Count records value of the named metric for a team, with TeamId as the
// only dimension.
func (e *EMF) Count(name, teamID string, value int) error {
	return e.Write(map[string]string{TeamID: teamID}, Metric{Name: name, Value: value})
}

// Write writes one line: the dimensions' values, and each metric under
// its dimension sets, in unit Count. EMF gives a line one value per dimension,
// so the metrics of one line share them; a batch writes a line per set of
// dimension values it has counts for, never one per event.
func (e *EMF) Write(dims map[string]string, ms ...Metric) error {
	line, err := encode(e.now(), dims, ms)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.W.Write(line)
	return err
}

func (e *EMF) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// encode is the line of Write, with its newline.
func encode(now time.Time, dims map[string]string, ms []Metric) ([]byte, error) {
	root := make(map[string]any, len(dims)+len(ms)+1)
	for k, v := range dims {
		root[k] = v
	}
	directives := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		sets, ok := dimensionSets[m.Name]
		if !ok || !slices.Contains(Written, m.Name) {
			return nil, fmt.Errorf("write %q: %w", m.Name, ErrUnlisted)
		}
		if _, taken := root[m.Name]; taken {
			return nil, fmt.Errorf("write %q: the name is used twice: %w", m.Name, ErrLine)
		}
		for _, set := range sets {
			for _, d := range set {
				if _, ok := dims[d]; !ok {
					return nil, fmt.Errorf("write %q: dimension %q has no value: %w", m.Name, d, ErrLine)
				}
			}
		}
		root[m.Name] = m.Value
		directives = append(directives, map[string]any{
			"Namespace":  Namespace,
			"Dimensions": sets,
			"Metrics":    []map[string]string{{"Name": m.Name, "Unit": "Count"}},
		})
	}
	root["_aws"] = map[string]any{"Timestamp": now.UnixMilli(), "CloudWatchMetrics": directives}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

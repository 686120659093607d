package wiring

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/platform/metrics"
	"github.com/sfsync/sfsync/shared/platform/queue"
)

// What the sync functions count for the operator's dashboard
// (infra/README.md, "The dashboard"): the outcomes they publish, the
// Salesforce calls of each batch, and the activity held until its contact
// syncs. The queue adapter counts the events it sends back to wait
// (queue.Handler.Metrics).

// CountOutcomes is p, counting the outcomes of each Publish that sends
// them in Outcomes, by Status and Reason (metrics.NoReason when it has
// none): one EMF line per status and reason of the batch, not one per
// outcome. An activity's pending/contact_pending outcome, the hold step's
// answer to activity held until its contact syncs, counts in HeldEvents
// too. A Publish that fails counts nothing: its deliveries come back and
// are answered again. Outcomes has no TeamId dimension: see
// metrics.TeamID.
func CountOutcomes(p delivery.Publisher, m *metrics.EMF, log *slog.Logger) delivery.Publisher {
	return outcomeCounter{next: p, m: m, log: log}
}

type outcomeCounter struct {
	next delivery.Publisher
	m    *metrics.EMF
	log  *slog.Logger
}

type outcomeKey struct{ status, reason string }

// heldOutcome is the outcome of activity held until its contact syncs.
var heldOutcome = outcomeKey{string(event.StatusPending), string(event.ReasonContactPending)}

func (c outcomeCounter) Publish(ctx context.Context, outs []event.Outcome) error {
	if err := c.next.Publish(ctx, outs); err != nil {
		return err
	}
	n := map[outcomeKey]int{}
	for _, o := range outs {
		n[outcomeKey{string(o.Status), cmp.Or(string(o.Reason), metrics.NoReason)}]++
	}
	for _, k := range slices.SortedFunc(maps.Keys(n), func(a, b outcomeKey) int {
		return cmp.Or(cmp.Compare(a.status, b.status), cmp.Compare(a.reason, b.reason))
	}) {
		ms := []metrics.Metric{{Name: metrics.Outcomes, Value: n[k]}}
		if k == heldOutcome {
			ms = append(ms, metrics.Metric{Name: metrics.HeldEvents, Value: n[k]})
		}
		if err := c.m.Write(map[string]string{metrics.Status: k.status, metrics.Reason: k.reason}, ms...); err != nil {
			c.log.Warn("emit metric", "metric", metrics.Outcomes, "error", err.Error())
		}
	}
	return nil
}

// callsKey keys the Salesforce calls of the batch in its context.
type callsKey struct{}

// callCounter is the connection store of the sync functions' orgs: each
// org's Close reports the calls it made with RecordUsage, added here to
// the calls of the batch its context carries (meterCalls). The calls are
// counted whether or not the store keeps the report: they were made.
type callCounter struct{ connection.Store }

func (s callCounter) RecordUsage(ctx context.Context, teamID string, u connection.Usage, calls int, newDay bool) error {
	if n, ok := ctx.Value(callsKey{}).(*atomic.Int64); ok {
		n.Add(int64(calls))
	}
	return s.Store.RecordUsage(ctx, teamID, u, calls, newDay)
}

// meterCalls is p, writing the Salesforce calls each batch made (the
// calls its orgs reported to callCounter) once it is done, in one line:
// SalesforceCalls, by Function. A batch that made none writes nothing.
func meterCalls(p queue.Processor, function string, m *metrics.EMF, log *slog.Logger) queue.Processor {
	return callMeter{next: p, function: function, m: m, log: log}
}

type callMeter struct {
	next     queue.Processor
	function string
	m        *metrics.EMF
	log      *slog.Logger
}

func (c callMeter) Process(ctx context.Context, ds []delivery.Delivery) map[string]error {
	var calls atomic.Int64
	failed := c.next.Process(context.WithValue(ctx, callsKey{}, &calls), ds)
	if n := calls.Load(); n > 0 {
		err := c.m.Write(map[string]string{metrics.Function: c.function}, metrics.Metric{Name: metrics.SalesforceCalls, Value: int(n)})
		if err != nil {
			c.log.Warn("emit metric", "metric", metrics.SalesforceCalls, "error", err.Error())
		}
	}
	return failed
}

package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"
)

// Settings are the knobs the run used.
type Settings struct {
	Contacts       int    `json:"contacts"`
	Emails         int    `json:"emails"`
	BatchingWindow string `json:"batching_window"`
	MaxConcurrency int    `json:"max_concurrency"`
	MixedTeams     int    `json:"mixed_teams"`
	MixedContacts  int    `json:"mixed_contacts"`
	MixedEmails    int    `json:"mixed_emails"`
	MixedInflight  int    `json:"mixed_inflight_per_kind"`
	GatherMin      int    `json:"gather_min_events"`
	GatherFor      string `json:"gather_for"`
	BatchSize      int    `json:"batch_size,omitempty"`
	TeamsAtOnce    int    `json:"teams_at_once"`
	OrgLatency     string `json:"mixed_org_latency"`
}

// Results is everything one run measured; it is written as JSON.
type Results struct {
	Started          time.Time         `json:"started"`
	Finished         time.Time         `json:"finished"`
	Host             string            `json:"host"`
	Settings         Settings          `json:"settings"`
	Burst            *Run              `json:"burst"`
	Activity         *Run              `json:"activity"`
	Attribution      *Run              `json:"attribution,omitempty"`
	BaselineBurst    *Run              `json:"baseline_burst"`
	BaselineActivity *Run              `json:"baseline_activity"`
	Mixed            *Mixed            `json:"mixed,omitempty"`
	BaselineMixed    *Mixed            `json:"baseline_mixed,omitempty"`
	Functions        []FunctionFigures `json:"functions"`
	Table            []Row             `json:"table"`
	// Prices is the price table the runs' Cost is priced with.
	Prices *PriceTable `json:"prices,omitempty"`
}

// Row is one line of the closing table.
type Row struct {
	Figure   string `json:"figure"`
	Product  string `json:"product"`
	Baseline string `json:"baseline"`
	Ratio    string `json:"ratio"`
	Target   string `json:"target"`
	Met      string `json:"met"`
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	if r := a / b; r >= 1000 {
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.3gx", a/b)
}

func per100(v int64, n int) float64 { return float64(v) * 100 / float64(n) }

// readOps are the DynamoDB operations that only read.
var readOps = []string{"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}

// readsAndWrites splits a run's DynamoDB requests into reads and the rest
// (writes).
func readsAndWrites(r *Run) (reads, writes int64) {
	for op, n := range r.DynamoDBByOp {
		if slices.Contains(readOps, op) {
			reads += n
		} else {
			writes += n
		}
	}
	return reads, writes
}

// requestsRow is a run's DynamoDB requests per 100 events, split into
// reads and writes; the target (reads per 100, 0 for none) is checked
// against the reads, the per-batch reads the issue of cost bounds: writes
// are billed by the unit, not by the request.
func requestsRow(name string, r *Run, readTarget float64) Row {
	reads, writes := readsAndWrites(r)
	row := Row{name, fmt.Sprintf("%.1f (reads %.1f, writes %.1f)", per100(r.DynamoDB, r.Events), per100(reads, r.Events), per100(writes, r.Events)),
		"0 (keeps no state)", "", "", ""}
	if readTarget > 0 {
		row.Target, row.Met = fmt.Sprintf("reads <= %g", readTarget), met(per100(reads, r.Events) <= readTarget)
	}
	return row
}

// writeUnitsRow is a run's DynamoDB write units (table and index) per
// event, against target (0: none).
// partKinds are the items a team's part writes once whatever its size: the
// connection's usage, the health counts, the Task fields, the mapping
// counts, a day's calls.
var partKinds = map[string]bool{"connection": true, "health-count": true, "task-fields": true, "mapping-count": true, "calls-day": true}

// writeUnitsRow is the write units per event, table and index, and of
// those the units of the event's own items (the part's once-a-part writes
// set apart): the target is checked against the event's own.
func writeUnitsRow(name string, r *Run, target float64) Row {
	if r.Capacity == nil || r.Events == 0 {
		return Row{name, "-", "", "", "", ""}
	}
	n := float64(r.Events)
	per := (r.Capacity.Write + r.Capacity.IndexWrite) / n
	var part float64
	for _, k := range r.CapacityByKind {
		if partKinds[k.Kind] {
			part += k.WriteUnits + k.IndexWriteUnits
		}
	}
	own := per - part/n
	row := Row{name, fmt.Sprintf("%.3f (table %.3f, index %.3f): %.3f the event's own items, and %.0f units of once-a-part writes",
		per, r.Capacity.Write/n, r.Capacity.IndexWrite/n, own, part), "", "", "", ""}
	if target > 0 {
		row.Target, row.Met = fmt.Sprintf("<= %g, the event's own", target), met(own <= target+1e-9)
	}
	return row
}

func (r *Results) table() []Row {
	var rows []Row
	b, bb := r.Burst, r.BaselineBurst
	a, ba := r.Activity, r.BaselineActivity
	if b != nil && bb != nil {
		fewer := float64(bb.SFCalls) / float64(max(b.SFCalls, 1))
		rows = append(rows,
			Row{fmt.Sprintf("burst %d contacts: Salesforce calls", b.Events), fmt.Sprint(b.SFCalls), fmt.Sprint(bb.SFCalls), ratio(float64(bb.SFCalls), float64(b.SFCalls)) + " fewer",
				"<= 15 and >= 100x fewer", met(b.SFCalls <= 15 && fewer >= 100)},
			Row{"burst: Salesforce calls per 100 contacts", fmt.Sprintf("%.2f", per100(int64(b.SFCalls), b.Events)), fmt.Sprintf("%.1f", per100(int64(bb.SFCalls), bb.Events)), "", "", ""},
			requestsRow("burst: DynamoDB requests per 100 contacts", b, 0),
			writeUnitsRow("burst: DynamoDB write units per contact", b, 4),
			Row{"burst: SQS requests (runner polls, outcomes, DLQ)", fmt.Sprint(b.SQS), "-", "", "", ""},
			Row{"burst: contacts/s end to end", fmt.Sprintf("%.1f", b.PerSecond), fmt.Sprintf("%.1f", bb.PerSecond), ratio(b.PerSecond, bb.PerSecond), ">= 500", met(b.PerSecond >= 500)},
			Row{"burst: latency p50 (sent -> outcome)", fmtMs(b.P50Ms), fmtMs(bb.P50Ms), "", "", ""},
			Row{"burst: latency p99 (sent -> outcome)", fmtMs(b.P99Ms), fmtMs(bb.P99Ms), "", "", ""},
		)
	}
	if b != nil { // the baseline, when it ran, beside it
		rows = append(rows, r.costRows("burst", "contacts", b, bb)...)
	}
	if a != nil && ba != nil {
		rows = append(rows,
			Row{fmt.Sprintf("activity %d emails: Salesforce calls", a.Events), fmt.Sprint(a.SFCalls), fmt.Sprint(ba.SFCalls), ratio(float64(ba.SFCalls), float64(a.SFCalls)) + " fewer", "<= 6", met(a.SFCalls <= 6)},
			requestsRow("activity: DynamoDB requests per 100 emails", a, 0),
			writeUnitsRow("activity: DynamoDB write units per email", a, 3),
			Row{"activity: emails/s end to end", fmt.Sprintf("%.1f", a.PerSecond), fmt.Sprintf("%.1f", ba.PerSecond), ratio(a.PerSecond, ba.PerSecond), "", ""},
			Row{"activity: latency p50 / p99", fmtMs(a.P50Ms) + " / " + fmtMs(a.P99Ms), fmtMs(ba.P50Ms) + " / " + fmtMs(ba.P99Ms), "", "", ""},
		)
	}
	if a != nil {
		rows = append(rows, r.costRows("activity", "emails", a, ba)...)
	}
	if at := r.Attribution; at != nil && b != nil {
		more := at.SFCalls - b.SFCalls
		rows = append(rows,
			Row{fmt.Sprintf("attribution %d contacts (%d reps, %d companies): Salesforce calls", at.Events, attrReps, attrCompanies), fmt.Sprint(at.SFCalls),
				fmt.Sprintf("%d (burst)", b.SFCalls), fmt.Sprintf("%+d", more), "<= burst + 10", met(more <= 10)},
			Row{"attribution: DynamoDB requests per 100 contacts", fmt.Sprintf("%.1f", per100(at.DynamoDB, at.Events)), fmt.Sprintf("%.1f (burst)", per100(b.DynamoDB, b.Events)), "", "", ""},
			Row{"attribution: latency p50 / p99", fmtMs(at.P50Ms) + " / " + fmtMs(at.P99Ms), fmtMs(b.P50Ms) + " / " + fmtMs(b.P99Ms) + " (burst)", "", "", ""},
		)
		rows = append(rows, r.costRows("attribution", "contacts", at, nil)...)
	}
	rows = append(rows, r.mixedRows()...)
	for _, f := range r.Functions {
		mb := float64(f.BootstrapBytes) / (1 << 20)
		rows = append(rows,
			// Sizes in MiB (2^20 bytes), with the decimal megabytes beside
			// them.
			Row{f.Name + ": bootstrap size (linux/arm64)", fmt.Sprintf("%.1f MiB (%.1f MB)", mb, float64(f.BootstrapBytes)/1e6), "", "", "<= 10 MiB", met(mb <= 10)},
			Row{f.Name + ": start to first poll (median)", fmtMs(f.FirstPollMs), "", "", "<= 50 ms", met(f.FirstPollMs <= 50)},
		)
		if f.PeakRSSBytes > 0 {
			rss := float64(f.PeakRSSBytes) / (1 << 20)
			rows = append(rows, Row{fmt.Sprintf("%s: peak RSS, %d-message batch", f.Name, f.RSSBatch), fmt.Sprintf("%.1f MiB", rss), "", "", "<= 64 MiB", met(rss <= 64)},
				Row{fmt.Sprintf("%s: that batch handled in its 5 min deadline", f.Name), fmt.Sprintf("%.0f s, %d of %d handed back", f.RSSBatchSeconds, f.RSSBatchFailed, f.RSSBatch), "", "", "", met(f.RSSBatchDone)})
		}
	}
	return rows
}

func fmtMs(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f s", v/1000)
	}
	return fmt.Sprintf("%.1f ms", v)
}

// printOps prints a run's DynamoDB requests by operation, most first.
func printOps(w io.Writer, label string, r *Run) {
	if r == nil || len(r.DynamoDBByOp) == 0 {
		return
	}
	ops := slices.Collect(maps.Keys(r.DynamoDBByOp))
	slices.SortFunc(ops, func(a, b string) int { return cmp.Compare(r.DynamoDBByOp[b], r.DynamoDBByOp[a]) })
	fmt.Fprintf(w, "%s DynamoDB requests by operation:", label)
	for _, op := range ops {
		fmt.Fprintf(w, " %s %d", op, r.DynamoDBByOp[op])
	}
	fmt.Fprintln(w)
}

func printTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tPRODUCT\tBASELINE\tRATIO\tTARGET\tMET")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, r.Product, r.Baseline, r.Ratio, r.Target, r.Met)
	}
	tw.Flush()
}

// mixedRows are the mixed load's rows: each figure per kind, next to the
// naive baseline's (when it has run) and their ratio.
func (r *Results) mixedRows() []Row {
	m, bm := r.Mixed, r.BaselineMixed
	if m == nil {
		return nil
	}
	if bm == nil {
		bm = &Mixed{}
	}
	var rows []Row
	for _, k := range []struct {
		name       string
		p, b       *Run
		label      string
		callTarget float64 // Salesforce calls per 100 events, with the deployed batching
	}{{"contacts", m.Contacts, bm.Contacts, fmt.Sprintf("mixed %d teams, %%d contacts", m.Teams), 2.5}, {"emails", m.Emails, bm.Emails, "mixed %d emails", 1.5}} {
		p, b := k.p, k.b
		if p == nil {
			continue
		}
		if b == nil {
			b = &Run{}
		}
		naive := func(s string) string {
			if b.Events == 0 {
				return "-"
			}
			return s
		}
		rows = append(rows,
			Row{fmt.Sprintf(k.label, p.Events) + ": Salesforce calls", fmt.Sprint(p.SFCalls), naive(fmt.Sprint(b.SFCalls)), naive(ratio(float64(b.SFCalls), float64(p.SFCalls)) + " fewer"), "", ""},
			Row{"mixed " + k.name + ": Salesforce calls per 100", fmt.Sprintf("%.2f", per100(int64(p.SFCalls), p.Events)), naive(fmt.Sprintf("%.1f", per100(int64(b.SFCalls), b.Events))), "",
				fmt.Sprintf("<= %g", k.callTarget), met(per100(int64(p.SFCalls), p.Events) <= k.callTarget)},
			requestsRow("mixed "+k.name+": DynamoDB requests per 100", p, 10),
			writeUnitsRow("mixed "+k.name+": DynamoDB write units per event", p, 0),
			Row{"mixed " + k.name + "/s end to end", fmt.Sprintf("%.1f", p.PerSecond), naive(fmt.Sprintf("%.1f", b.PerSecond)), naive(ratio(p.PerSecond, b.PerSecond)), "", ""},
			Row{"mixed " + k.name + ": latency p50 (sent -> outcome)", fmtMs(p.P50Ms), naive(fmtMs(b.P50Ms)), naive(ratio(p.P50Ms, b.P50Ms) + " longer"), "", ""},
			Row{"mixed " + k.name + ": latency p99 (sent -> outcome)", fmtMs(p.P99Ms), naive(fmtMs(b.P99Ms)), naive(ratio(p.P99Ms, b.P99Ms) + " longer"), "", ""},
		)
		rows = append(rows, r.costRows("mixed "+k.name, k.name, p, k.b)...)
	}
	naive := "-"
	if bm.Events > 0 {
		naive = fmt.Sprintf("%.1f", bm.PerSecond)
	}
	rows = append(rows, Row{"mixed: all events/s end to end", fmt.Sprintf("%.1f", m.PerSecond), naive, ratio(m.PerSecond, bm.PerSecond), "", ""})
	if m.SFUnattributed != 0 {
		rows = append(rows, Row{"mixed: Salesforce calls not split by kind", fmt.Sprintf("%d of %d", m.SFUnattributed, m.SFCalls), "", "", "", ""})
	}
	rows = append(rows, Row{"mixed: outcomes and org contents as expected", fmt.Sprintf("%d problems", len(m.Problems)), "", "", "none", met(len(m.Problems) == 0)})
	return rows
}

package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Cost is what a run's events would cost, per event and in dollars per
// million events, at the price table's list prices (prices.json), and its
// Salesforce calls against an example org's daily allocation.
type Cost struct {
	Events int `json:"events"`
	// Per event.
	ReadUnits      float64 `json:"dynamodb_read_units_per_event"`
	WriteUnits     float64 `json:"dynamodb_write_units_per_event"`       // table and index writes
	IndexUnits     float64 `json:"dynamodb_index_write_units_per_event"` // of which index writes
	SQSRequests    float64 `json:"sqs_billed_requests_per_event"`        // the stack's and the sequencer's, 64 KB chunks
	KMSRequests    float64 `json:"kms_requests_per_event"`
	SecretRequests float64 `json:"secretsmanager_requests_per_event"`
	CPUSeconds     float64 `json:"lambda_cpu_seconds_per_event"`
	GBSeconds      float64 `json:"lambda_gb_seconds_per_event"` // from CPU time: a lower bound
	Invocations    float64 `json:"lambda_invocations_per_event"`
	// USD per million events, by service and in all; nil for the naive
	// baseline (it keeps no state and is run in-process).
	USD *USDPerMillion `json:"usd_per_million_events,omitempty"`
	// Salesforce calls per million events, and that as a share of the
	// example org's calls per 24 hours (1 = one whole day's allocation).
	SFCallsPerMillion   float64 `json:"salesforce_calls_per_million_events"`
	SFShareOfDailyAlloc float64 `json:"salesforce_share_of_daily_allocation"`
}

// USDPerMillion is dollars per million events.
type USDPerMillion struct {
	DynamoDB       float64 `json:"dynamodb"`
	SQS            float64 `json:"sqs"`
	KMS            float64 `json:"kms"`
	SecretsManager float64 `json:"secretsmanager"`
	LambdaCompute  float64 `json:"lambda_compute"`
	LambdaRequests float64 `json:"lambda_requests"`
	Total          float64 `json:"total"`
}

// priceRun prices r at t; aws is false for the naive baseline, whose
// Salesforce calls only are priced.
func priceRun(r *Run, t *PriceTable, aws bool) *Cost {
	if r == nil || r.Events == 0 || t == nil {
		return nil
	}
	ev := float64(r.Events)
	c := &Cost{Events: r.Events, SFCallsPerMillion: float64(r.SFCalls) * 1e6 / ev}
	c.SFShareOfDailyAlloc = c.SFCallsPerMillion / float64(t.Salesforce.Daily())
	if !aws {
		return c
	}
	var capacity Capacity
	if r.Capacity != nil {
		capacity = *r.Capacity
	}
	var cpu, gbs float64
	var inv int64
	for _, u := range r.Lambda {
		cpu, gbs, inv = cpu+u.CPUSeconds, gbs+u.GBSeconds, inv+u.Invocations
	}
	sqs := float64(r.SQSBilled + r.SequencerSQSBilled)
	c.ReadUnits, c.WriteUnits, c.IndexUnits = capacity.Read/ev, (capacity.Write+capacity.IndexWrite)/ev, capacity.IndexWrite/ev
	c.SQSRequests, c.KMSRequests, c.SecretRequests = sqs/ev, float64(r.KMS)/ev, float64(r.SecretsManager)/ev
	c.CPUSeconds, c.GBSeconds, c.Invocations = cpu/ev, gbs/ev, float64(inv)/ev
	p := func(k string) float64 { return t.Prices[k].each() * 1e6 / ev }
	u := &USDPerMillion{
		DynamoDB:       capacity.Read*p(priceDynamoRead) + (capacity.Write+capacity.IndexWrite)*p(priceDynamoWrite),
		SQS:            sqs * p(priceSQS),
		KMS:            float64(r.KMS) * p(priceKMS),
		SecretsManager: float64(r.SecretsManager) * p(priceSecrets),
		LambdaCompute:  gbs * p(priceLambdaGBs),
		LambdaRequests: float64(inv) * p(priceLambdaRequest),
	}
	u.Total = u.DynamoDB + u.SQS + u.KMS + u.SecretsManager + u.LambdaCompute + u.LambdaRequests
	c.USD = u
	return c
}

// price prices every run measured so far.
func (r *Results) price() {
	t := r.Prices
	for _, run := range []*Run{r.Burst, r.Activity, r.Attribution} {
		if run != nil {
			run.Cost = priceRun(run, t, true)
		}
	}
	for _, run := range []*Run{r.BaselineBurst, r.BaselineActivity} {
		if run != nil {
			run.Cost = priceRun(run, t, false)
		}
	}
	if m := r.Mixed; m != nil {
		for _, run := range []*Run{m.Contacts, m.Emails} {
			if run != nil {
				run.Cost = priceRun(run, t, true)
			}
		}
	}
	if m := r.BaselineMixed; m != nil {
		for _, run := range []*Run{m.Contacts, m.Emails} {
			if run != nil {
				run.Cost = priceRun(run, t, false)
			}
		}
	}
}

// costRows are a workload's cost rows: label names it ("burst"), unit its
// events ("contacts"); naive is the baseline's run, if any.
func (r *Results) costRows(label, unit string, run, naive *Run) []Row {
	if run == nil || run.Cost == nil || run.Cost.USD == nil {
		return nil
	}
	c, u := run.Cost, run.Cost.USD
	k := func(v float64) string { return fmtNum(v * 1000) } // per 1,000 events
	mb := ""
	if len(run.Lambda) > 0 {
		var sizes []string
		for _, name := range slices.Sorted(maps.Keys(run.Lambda)) {
			if f := run.Lambda[name]; f.CPUSeconds > 0 {
				sizes = append(sizes, fmt.Sprintf("%s %d MB", name, f.MemoryMB))
			}
		}
		if len(sizes) > 0 {
			mb = " at " + strings.Join(sizes, ", ")
		}
	}
	alloc := r.Prices.Salesforce
	naiveSF, ratioSF := "-", ""
	if naive != nil && naive.Cost != nil && naive.Events > 0 {
		naiveSF = fmt.Sprintf("%s (%s)", fmtNum(naive.Cost.SFCallsPerMillion), fmtShare(naive.Cost.SFShareOfDailyAlloc))
		ratioSF = ratio(naive.Cost.SFCallsPerMillion, c.SFCallsPerMillion) + " fewer"
	}
	return []Row{
		{fmt.Sprintf("%s: DynamoDB request units per 1,000 %s: read / write (of which index)", label, unit),
			fmt.Sprintf("%s / %s (%s)", k(c.ReadUnits), k(c.WriteUnits), k(c.IndexUnits)), "0 (keeps no state)", "", "", ""},
		{fmt.Sprintf("%s: per 1,000 %s: SQS requests billed (64 KB chunks, stack + sequencer) / KMS / Secrets Manager", label, unit),
			fmt.Sprintf("%s (%s + %s) / %s / %s", k(c.SQSRequests), fmtNum(float64(run.SQSBilled)*1000/float64(c.Events)),
				fmtNum(float64(run.SequencerSQSBilled)*1000/float64(c.Events)), k(c.KMSRequests), k(c.SecretRequests)), "-", "", "", ""},
		{fmt.Sprintf("%s: Lambda per 1,000 %s: CPU s (GB-s%s; a lower bound of billed duration) / invocations", label, unit, mb),
			fmt.Sprintf("%s s (%s GB-s) / %s", k(c.CPUSeconds), k(c.GBSeconds), k(c.Invocations)), "-", "", "", ""},
		{fmt.Sprintf("%s: USD per million %s (%s on-demand list prices)", label, unit, r.Prices.Region),
			fmt.Sprintf("$%s = DynamoDB %s + SQS %s + KMS %s + Secrets Manager %s + Lambda %s", fmtUSD(u.Total), fmtUSD(u.DynamoDB), fmtUSD(u.SQS),
				fmtUSD(u.KMS), fmtUSD(u.SecretsManager), fmtUSD(u.LambdaCompute+u.LambdaRequests)), "-", "", "", ""},
		{fmt.Sprintf("%s: Salesforce calls per million %s (share of an example org's %s calls a day: %s Edition, %d licenses)", label, unit,
			fmtNum(float64(alloc.Daily())), alloc.Edition, alloc.Licenses),
			fmt.Sprintf("%s (%s)", fmtNum(c.SFCallsPerMillion), fmtShare(c.SFShareOfDailyAlloc)), naiveSF, ratioSF, "", ""},
	}
}

// fmtNum writes v with thousands separators, to 3 significant digits below
// 1,000.
func fmtNum(v float64) string {
	if v < 0 {
		return "-" + fmtNum(-v)
	}
	if v >= 1000 {
		s := fmt.Sprintf("%.0f", v)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	if v == 0 {
		return "0"
	}
	if v < 1 {
		return decimals(v, 3)
	}
	return fmt.Sprintf("%.3g", v)
}

// decimals writes 0 < v < 1 in plain decimals to sig significant digits.
func decimals(v float64, sig int) string {
	d := min(int(math.Ceil(-math.Log10(v)))+sig-1, 9)
	return strconv.FormatFloat(v, 'f', d, 64)
}

// fmtUSD writes dollars to the cent, or to 3 significant digits below 10
// cents.
func fmtUSD(v float64) string {
	if v >= 0.1 || v <= 0 {
		return fmt.Sprintf("%.2f", v)
	}
	return decimals(v, 2)
}

// fmtShare writes a share of the daily allocation as a percentage, or in
// days beyond one.
func fmtShare(v float64) string {
	if v > 1 {
		return fmt.Sprintf("%.1f days", v)
	}
	return fmt.Sprintf("%.2g%% of a day", v*100)
}

// printPrices says what the dollars are priced with.
func printPrices(w io.Writer, t *PriceTable) {
	if t == nil {
		return
	}
	fmt.Fprintf(w, "\nPrices: %s (%s, %s list prices read %s; per-event charges only, no free tier).", t.File, t.Region, t.Currency, strings.Join(t.dates(), ", "))
	if u := t.unconfirmed(); len(u) > 0 {
		fmt.Fprintf(w, " Unconfirmed on their source page: %s.", strings.Join(u, ", "))
	}
	fmt.Fprintln(w, " Lambda is priced from CPU seconds, a lower bound of billed duration.")
}

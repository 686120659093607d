package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestCountWritesOneEMFLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := &EMF{W: &buf, Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	if err := e.Count(NeedsReauth, "team_acme", 1); err != nil {
		t.Fatal(err)
	}
	var got struct {
		AWS struct {
			Timestamp         int64 `json:"Timestamp"`
			CloudWatchMetrics []struct {
				Namespace  string              `json:"Namespace"`
				Dimensions [][]string          `json:"Dimensions"`
				Metrics    []map[string]string `json:"Metrics"`
			} `json:"CloudWatchMetrics"`
		} `json:"_aws"`
		TeamID      string `json:"TeamId"`
		NeedsReauth int    `json:"NeedsReauth"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, buf.String())
	}
	m := got.AWS.CloudWatchMetrics
	if got.AWS.Timestamp != 1700000000000 || len(m) != 1 || m[0].Namespace != "SFSync" || len(m[0].Dimensions) != 1 ||
		m[0].Dimensions[0][0] != "TeamId" || m[0].Metrics[0]["Name"] != "NeedsReauth" || got.TeamID != "team_acme" || got.NeedsReauth != 1 {
		t.Errorf("got %s; want the EMF line of infra/README.md", buf.String())
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Errorf("got %q; want exactly one line", buf.String())
	}
}

// TestWriteCarriesSeveralMetricsInOneLine: one line carries each metric
// with its own dimension sets, over the line's dimension values, as EMF's
// specification reads (one directive per metric, the values at the root).
func TestWriteCarriesSeveralMetricsInOneLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := &EMF{W: &buf, Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	err := e.Write(map[string]string{Status: "pending", Reason: "contact_pending"},
		Metric{Name: Outcomes, Value: 3}, Metric{Name: HeldEvents, Value: 3})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
		t.Fatalf("got %d lines; want 1: %s", n, buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, buf.String())
	}
	want := `{"HeldEvents":3,"Outcomes":3,"Reason":"contact_pending","Status":"pending","_aws":{"CloudWatchMetrics":[` +
		`{"Dimensions":[["Status","Reason"],["Status"]],"Metrics":[{"Name":"Outcomes","Unit":"Count"}],"Namespace":"SFSync"},` +
		`{"Dimensions":[["Reason"]],"Metrics":[{"Name":"HeldEvents","Unit":"Count"}],"Namespace":"SFSync"}],"Timestamp":1700000000000}}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("got %s; want %s", b, want)
	}
}

// TestWriteRefusesWhatEMFCannotCarry: a name not in Written (the
// dashboard and the tests would not know it), a dimension without a
// value, a metric named as a dimension.
func TestWriteRefusesWhatEMFCannotCarry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dims map[string]string
		m    Metric
		want error
	}{
		{"unlisted name", map[string]string{Reason: "x"}, Metric{Name: "Bogus", Value: 1}, ErrUnlisted},
		{"dimension without a value", map[string]string{Status: "x"}, Metric{Name: HeldEvents, Value: 1}, ErrLine},
		{"a metric named as a dimension", map[string]string{Reason: "x", HeldEvents: "x"}, Metric{Name: HeldEvents, Value: 1}, ErrLine},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		err := (&EMF{W: &buf}).Write(tt.dims, tt.m)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, err, tt.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: got %q written; want nothing", tt.name, buf.String())
		}
	}
}

// TestWrittenListsTheAlarmedOnce: the alarmed metrics are written ones,
// under TeamId alone (the alarms' queries sum that set); no name is
// listed twice; every written name has its dimension sets, and no other.
func TestWrittenListsTheAlarmedOnce(t *testing.T) {
	t.Parallel()
	for _, m := range Alarmed {
		if got := DimensionSets(m); len(got) != 1 || !slices.Equal(got[0], []string{TeamID}) {
			t.Errorf("%s: got dimension sets %v; want [[TeamId]]", m, got)
		}
	}
	for _, m := range Written {
		if len(DimensionSets(m)) == 0 {
			t.Errorf("%s: got no dimension set; want at least one", m)
		}
	}
	if got, want := len(dimensionSets), len(Written); got != want {
		t.Errorf("dimension sets: got %d metrics; want %d, those of Written", got, want)
	}
	for _, m := range Alarmed {
		if !slices.Contains(Written, m) {
			t.Errorf("Written: got no %s; want every alarmed metric", m)
		}
	}
	if got := len(slices.Compact(slices.Sorted(slices.Values(Written)))); got != len(Written) {
		t.Errorf("Written: got %d distinct names of %d; want each once", got, len(Written))
	}
}

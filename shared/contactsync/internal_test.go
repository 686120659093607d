package contactsync

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// The engine's rules are tested through Process on the in-memory ports
// (package contactsync_test). The tests here are of the two pure functions
// whose every case is easier stated on their own: they use no port.

// dupResult is a DUPLICATES_DETECTED save result as Salesforce words it,
// naming the given records ("Lead:00Q…", "Contact:003…"); with none it
// carries no duplicateResult.
func dupResult(t *testing.T, records ...[2]string) salesforce.SaveResult {
	t.Helper()
	item := map[string]any{"statusCode": "DUPLICATES_DETECTED", "message": "Use one of these records?", "fields": []string{}}
	if len(records) > 0 {
		var results []any
		for _, r := range records {
			results = append(results, map[string]any{"entityType": r[0], "matchEngine": "FuzzyMatchEngine", "rule": "Standard_Match_Rule", "size": 1,
				"matchRecords": []any{map[string]any{"matchConfidence": 100, "record": map[string]any{"attributes": map[string]any{"type": r[0]}, "Id": r[1]}}}})
		}
		item["duplicateResut"] = map[string]any{"allowSave": false, "duplicateRule": "Standard_Lead_Duplicate_Rule",
			"duplicateRuleEntityType": "Lead", "matchResults": results}
	}
	b, _ := json.Marshal(map[string]any{"success": false, "errors": []any{item}})
	var res salesforce.SaveResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDuplicateError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		records [][2]string
		want    string // in the message
	}{
		{"no duplicateResult (sObject Collections)", nil, "Salesforce did not say which"},
		{"the matched ids, each once", [][2]string{{"Lead", "00Q000000000001"}, {"Contact", "003000000000002"}, {"Lead", "00Q000000000001"}},
			"existing records 00Q000000000001, 003000000000002 with another email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			oe := duplicateError(dupResult(t, tc.records...))
			if oe.Code != salesforce.CodeDuplicatesDetected || !strings.Contains(oe.Message, tc.want) || !strings.Contains(oe.Message, "allow saving duplicates") {
				t.Errorf("got %+v; want DUPLICATES_DETECTED naming %q and what to do", oe, tc.want)
			}
		})
	}
}

func TestSettingsAt(t *testing.T) {
	t.Parallel()
	occurred := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	now := occurred.Add(48 * time.Hour)
	tests := []struct {
		name  string
		retry bool
		now   time.Time
		want  time.Time
	}{
		{"a first delivery: as of the event", false, now, occurred},
		{"the error inbox's retry: as of now, after the admin's fix", true, now, now},
		{"a retry whose event is dated ahead of the clock: never before it occurred", true, occurred.Add(-time.Minute), occurred},
	}
	for _, tt := range tests {
		d := delivery.Delivery{Retry: tt.retry, Event: event.Event{ID: "evt", OccurredAt: occurred}}
		if got := settingsAt(d, tt.now); !got.Equal(tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

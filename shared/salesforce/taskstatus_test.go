package salesforce

import (
	"encoding/json"
	"testing"
)

func TestClosedTaskStatus(t *testing.T) {
	describe := func(values ...string) *Describe {
		var d Describe
		body := `{"name":"Task","fields":[{"name":"Status","type":"picklist","picklistValues":[`
		for i, v := range values {
			if i > 0 {
				body += ","
			}
			body += `{"value":"` + v + `","label":"x","active":true}`
		}
		if err := json.Unmarshal([]byte(body+`]}]}`), &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	open := TaskStatus{APIName: "Not Started", Label: "Not Started", Default: true}
	relabeled := TaskStatus{APIName: "Completed", Label: "Done", Closed: true}
	renamed := TaskStatus{APIName: "Logged_Email", Label: "Logged", Closed: true}
	deferred := TaskStatus{APIName: "Deferred", Label: "Deferred", Closed: true}
	for _, tc := range []struct {
		name     string
		statuses []TaskStatus
		task     *Describe
		want     string
	}{
		{"relabeled: the API name is matched and sent", []TaskStatus{open, deferred, relabeled}, describe("Not Started", "Deferred", "Completed"), "Completed"},
		{"relabeled, no describe", []TaskStatus{open, deferred, relabeled}, nil, "Completed"},
		{"API name renamed too: the first closed", []TaskStatus{open, renamed, deferred}, describe("Not Started", "Logged_Email", "Deferred"), "Logged_Email"},
		{"a closed status describe does not offer is skipped", []TaskStatus{open, renamed, deferred}, describe("Not Started", "Deferred"), "Deferred"},
		{"describe's values are API names, not labels", []TaskStatus{open, relabeled}, describe("Not Started", "Done"), ""},
		{"no closed status", []TaskStatus{open}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ClosedTaskStatus(tc.statuses, tc.task)
			if got.APIName != tc.want || ok != (tc.want != "") {
				t.Errorf("got %q, %v; want %q", got.APIName, ok, tc.want)
			}
		})
	}
}

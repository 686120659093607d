package orgs_test

import (
	"context"
	"testing"

	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// TestDescribeTaskReadsTheClosedStatus: the Status a logged email's Task
// gets comes from the org's TaskStatus values, with describe, in one call.
func TestDescribeTaskReadsTheClosedStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      org.Config
		statuses []org.TaskStatus
		want     string
	}{
		// the default org's admin relabeled Completed "Done": Status takes the API name
		{"a customer's relabeled status", org.Config{}, nil, "Completed"},
		{"a status whose API name differs too", org.Config{}, []org.TaskStatus{{Label: "Open", Default: true}, {Label: "Logged", APIName: "Logged_Email", Closed: true}}, "Logged_Email"},
		// lenient: the org as Salesforce creates it, before any admin relabels its statuses
		{"a new org's Completed", org.Config{Lenient: true}, nil, "Completed"},
		{"Completed preferred among closed ones", org.Config{}, []org.TaskStatus{{Label: "Open", Default: true}, {Label: "Archived", Closed: true}, {Label: "Completed", Closed: true}}, "Completed"},
		{"the first closed one in the org's order", org.Config{}, []org.TaskStatus{{Label: "Open", Default: true}, {Label: "Completed"}, {Label: "Logged", Closed: true}, {Label: "Filed", Closed: true}}, "Logged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.cfg)
			if tt.statuses != nil {
				if err := e.sim.SetTaskStatuses(tt.statuses); err != nil {
					t.Fatal(err)
				}
			}
			before := e.calls()
			tf, err := e.open().DescribeTask(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tf.ClosedStatus != tt.want || !tf.TypeEmail {
				t.Errorf("got %+v; want ClosedStatus %q and TypeEmail", tf, tt.want)
			}
			if n := e.calls() - before; n != 1 {
				t.Errorf("API calls: got %d; want 1", n)
			}
		})
	}
}

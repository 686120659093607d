package activitysync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// statusOrg is an org whose Task describe answers tf and whose creates
// answer refuse (success when nil).
type statusOrg struct {
	Org
	tf        TaskFields
	refuse    *salesforce.SaveResult
	describes int
	sent      []salesforce.SObject
}

func (o *statusOrg) DescribeTask(context.Context) (TaskFields, error) {
	o.describes++
	return o.tf, nil
}

func (o *statusOrg) Create(_ context.Context, recs []salesforce.SObject, _ salesforce.WriteOptions) ([]salesforce.SaveResult, error) {
	o.sent = append(o.sent, recs...)
	out := make([]salesforce.SaveResult, len(recs))
	for i := range recs {
		if o.refuse != nil {
			out[i] = *o.refuse
			continue
		}
		out[i] = salesforce.SaveResult{Success: true, ID: "00T000000000001"}
	}
	return out, nil
}

// taskCache is the Activities store's cache of TaskFields.
type taskCache struct {
	Activities
	tf    TaskFields
	at    time.Time
	ok    bool
	saves int
}

func (c *taskCache) TaskFields(context.Context, string) (TaskFields, time.Time, bool, error) {
	return c.tf, c.at, c.ok, nil
}

func (c *taskCache) SaveTaskFields(_ context.Context, _ string, tf TaskFields, at time.Time) error {
	c.tf, c.at, c.ok, c.saves = tf, at, true, c.saves+1
	return nil
}

func (c *taskCache) Unclaim(context.Context, string, string, string) error { return nil }

func (c *taskCache) AbandonAll(context.Context, string, string, []string) error { return nil }

func (c *taskCache) DoneAll(_ context.Context, _, _ string, tasks []LoggedTask) ([]error, error) {
	return make([]error, len(tasks)), nil
}

func statusTeam(o *statusOrg, c *taskCache, now time.Time) team {
	e := &Engine{Activities: c, Settings: defaultSettings{}, Now: func() time.Time { return now }}
	return team{e: e, id: "team_status", org: o}
}

// defaultSettings are a team's settings that were never saved.
type defaultSettings struct{}

func (defaultSettings) TeamSettingsAt(context.Context, string, time.Time) (policy.TeamVersion, error) {
	return policy.TeamVersion{Document: policy.DefaultTeamSettings()}, nil
}

func statusItem() item {
	ev := event.Event{ID: "evt_1", Type: event.EmailSent, TeamID: "team_status", OccurredAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	return item{d: delivery.Delivery{ID: "msg_1", Event: ev}, key: "k1", who: event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001"}}
}

// TestNoClosedStatusFailsTheActivity: an org without a closed Task status
// gets no open Task; the activity fails with a code saying why.
func TestNoClosedStatusFailsTheActivity(t *testing.T) {
	t.Parallel()
	o := &statusOrg{tf: TaskFields{TypeEmail: true}}
	tm := statusTeam(o, &taskCache{}, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	spec, err := tm.taskFields(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := tm.create(context.Background(), []item{statusItem()}, spec, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.sent) != 0 {
		t.Errorf("Tasks sent: got %v; want none", o.sent)
	}
	if len(res.outcomes) != 1 || res.outcomes[0].Status != event.StatusFailed || res.outcomes[0].Error == nil ||
		res.outcomes[0].Error.Code != CodeNoClosedTaskStatus {
		t.Fatalf("outcomes: got %+v; want failed %s", res.outcomes, CodeNoClosedTaskStatus)
	}
}

// TestRefusedStatusDropsTheCache: a cached closed status Salesforce
// refuses (an admin changed the statuses) is forgotten, so the next batch
// reads the org's again; the activity comes back rather than failing. One
// the batch read itself fails.
func TestRefusedStatusDropsTheCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	refused := salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
		Message: "Status: bad value for restricted picklist field: Done", Fields: []string{"Status"}}}}
	for _, tc := range []struct {
		name       string
		cached     bool
		wantRetry  bool
		wantFailed bool
	}{
		{"cached status", true, true, false},
		{"status read by this batch", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := &statusOrg{tf: TaskFields{ClosedStatus: "Done"}, refuse: &refused}
			c := &taskCache{}
			if tc.cached {
				c.tf, c.at, c.ok = TaskFields{ClosedStatus: "Done"}, now.Add(-time.Minute), true
			}
			tm := statusTeam(o, c, now)
			spec, err := tm.taskFields(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			res, err := tm.create(context.Background(), []item{statusItem()}, spec, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			if c.tf.ClosedStatus != "" {
				t.Errorf("cached status: got %q; want it dropped", c.tf.ClosedStatus)
			}
			if got := res.back["msg_1"]; (got != nil) != tc.wantRetry || (got != nil && !errors.Is(got, delivery.ErrRetry)) {
				t.Errorf("retry: got %v; want retry %v", got, tc.wantRetry)
			}
			if failed := len(res.outcomes) == 1 && res.outcomes[0].Status == event.StatusFailed; failed != tc.wantFailed {
				t.Errorf("outcomes: got %+v; want failed %v", res.outcomes, tc.wantFailed)
			}
			// the next batch reads the org's statuses again
			o.tf.ClosedStatus, o.refuse = "Completed", nil
			before := o.describes
			spec, err = statusTeam(o, c, now).taskFields(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if spec.ClosedStatus != "Completed" || o.describes != before+1 {
				t.Errorf("next batch: got %q after %d describes; want Completed after one", spec.ClosedStatus, o.describes-before)
			}
		})
	}
}

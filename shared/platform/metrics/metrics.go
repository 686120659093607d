// Package metrics writes CloudWatch embedded metric format (EMF) lines: one
// JSON object per line on the function's output, which CloudWatch Logs turns
// into metrics without an API call. The alarms of the stack read them.
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Namespace and names of the metrics the alarms read (see infra/README.md).
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
)

// Alarmed are the metrics above that the stack alarms on, each summed over
// teams (the infra tests check that each has its alarm).
var Alarmed = []string{NeedsReauth, BudgetExceeded, NeedsAdmin, AppRefused}

// EMF writes metrics to W (the function's standard output).
type EMF struct {
	W   io.Writer
	Now func() time.Time

	mu sync.Mutex
}

// Count records value of the named metric for a team, with TeamId as the
// only dimension.
func (e *EMF) Count(name, teamID string, value int) error {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{"TeamId"}},
				"Metrics":    []map[string]string{{"Name": name, "Unit": "Count"}},
			}},
		},
		"TeamId": teamID,
		name:     value,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.W.Write(append(b, '\n'))
	return err
}

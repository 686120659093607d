package stack

import (
	"fmt"
	"strings"
)

// The logical ids of the resources below are part of the deployed state:
// renaming one makes CloudFormation replace the resource, which for a table
// means a new, empty table. They are derived from the names declared in
// shared/resources and pinned by the tests; the SAM template uses the same ids.

// pascal turns "contact-events" into "ContactEvents".
func pascal(name string) string {
	var b strings.Builder
	for part := range strings.FieldsFuncSeq(name, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// TableLogicalID is the logical id of a table: "connections" -> "ConnectionsTable".
func TableLogicalID(name string) string { return pascal(name) + "Table" }

// QueueLogicalID is the logical id of a queue: "contact-events" -> "ContactEventsQueue".
func QueueLogicalID(name string) string { return pascal(name) + "Queue" }

// DLQLogicalID is the logical id of a queue's dead-letter queue.
func DLQLogicalID(name string) string { return pascal(name) + "DLQ" }

// functionLogicalIDs maps a function's folder name to its logical id, which is
// also the name of its SAM build target (build-<LogicalId> in the Makefile).
var functionLogicalIDs = map[string]string{
	"api":          "ApiFunction",
	"contactsync":  "ContactSyncFunction",
	"activitysync": "ActivitySyncFunction",
}

// FunctionLogicalID is the logical id of a function, or an error for a
// function this app does not know how to name.
func FunctionLogicalID(name string) (string, error) {
	id, ok := functionLogicalIDs[name]
	if !ok {
		return "", fmt.Errorf("function %q: no logical id declared in infra/stack/names.go", name)
	}
	return id, nil
}

// FunctionRoleLogicalID is the logical id of a function's own role:
// "api" -> "ApiFunctionRole".
func FunctionRoleLogicalID(name string) (string, error) {
	id, err := FunctionLogicalID(name)
	if err != nil {
		return "", err
	}
	return id + "Role", nil
}

// DashboardLogicalID is the logical id of the region's dashboard.
const DashboardLogicalID = "Dashboard"

// DashboardName is the name of a stack's dashboard: the stack's own name
// (sfsync-<stage>-<region>). Dashboards are global to the account, so the
// name must carry the region; the SAM template names its dashboard after
// its stack alike.
func DashboardName(stackName string) string { return stackName }

// DashboardURL is the console address of the dashboard named ${Name}, in
// the stack's region, as an Fn::Sub template (the DashboardUrl output).
const DashboardURL = "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards/dashboard/${Name}"

package salesforce

// TaskStatus is one value of an org's Task Status picklist, as the
// TaskStatus object serves it. APIName is what a Task's Status holds and
// what describe lists as the picklist's value; Label (MasterLabel) is what
// users see, and admins rename it without changing APIName
// (developer.salesforce.com, Object Reference, TaskStatus: "ApiName").
type TaskStatus struct {
	APIName string `json:"ApiName"`
	Label   string `json:"MasterLabel"`
	Closed  bool   `json:"IsClosed"`
	Default bool   `json:"IsDefault"`
}

// TaskStatusQuery lists an org's Task statuses in the picklist's order.
const TaskStatusQuery = "SELECT ApiName, MasterLabel, IsClosed, IsDefault FROM TaskStatus ORDER BY SortOrder"

// PreferredClosedStatus is the API name of a new org's closed Task status,
// chosen when the org still has it closed.
const PreferredClosedStatus = "Completed"

// ClosedTaskStatus picks the Status a logged email's Task is saved with:
// the closed status whose API name is PreferredClosedStatus, else the first
// closed status in the org's order. With task (Task's describe) given, only
// a status its Status picklist offers as an active value is chosen; nil
// accepts every status. ok is false when the org has no such status.
func ClosedTaskStatus(statuses []TaskStatus, task *Describe) (TaskStatus, bool) {
	offered := func(string) bool { return true }
	if task != nil {
		active := map[string]bool{}
		if f, ok := task.Field("Status"); ok {
			for _, v := range f.PicklistValues {
				active[v.Value] = v.Active
			}
		}
		offered = func(apiName string) bool { return active[apiName] }
	}
	var first TaskStatus
	found := false
	for _, s := range statuses {
		switch {
		case !s.Closed || s.APIName == "" || !offered(s.APIName):
		case s.APIName == PreferredClosedStatus:
			return s, true
		case !found:
			first, found = s, true
		}
	}
	return first, found
}

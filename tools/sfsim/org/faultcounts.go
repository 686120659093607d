package org

// FaultCount is one installed fault rule and how often it has fired.
type FaultCount struct {
	ID    int   `json:"id"`
	Fault Fault `json:"fault"`
	Fired int   `json:"fired"`
}

// FaultCounts lists the installed fault rules in order with how often each
// has fired so far. A rule with Times leaves the list once used up.
func (o *Org) FaultCounts() []FaultCount {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]FaultCount, 0, len(o.faults))
	for _, fs := range o.faults {
		out = append(out, FaultCount{ID: fs.id, Fault: fs.f, Fired: fs.fired})
	}
	return out
}

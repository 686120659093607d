package orgs

import (
	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Client returns the org's REST client, for reads other than contact sync's
// (the org readiness report). Its calls go through the same API budget
// governor, count in Calls and report their usage to Close.
func (o *Org) Client() *salesforce.Client { return o.client }

// Figures returns what the API budget governor decides on now: the team's
// cap, this service's calls of the day (this org's included) and the org's
// usage as Salesforce last reported it.
func (o *Org) Figures() budget.Figures {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := budget.Figures{Service: o.base + int(o.client.Calls.Load()), Percent: o.percent}
	switch {
	case o.usage != nil:
		f.OrgUsed, f.OrgLimit = o.usage.Used, o.usage.Limit
	case o.stored != nil:
		f.OrgUsed, f.OrgLimit = o.stored.Used, o.stored.Limit
	}
	return f
}

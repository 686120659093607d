package main

import (
	"context"
	"encoding/json"

	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/contactsync/contacthttp"
	"github.com/sfsync/sfsync/shared/health"
	"github.com/sfsync/sfsync/shared/health/healthdb"
	"github.com/sfsync/sfsync/shared/health/healthhttp"
	"github.com/sfsync/sfsync/shared/mapping/describe"
	"github.com/sfsync/sfsync/shared/mapping/mappinghttp"
	"github.com/sfsync/sfsync/shared/openapi"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/platform/wiring"
	"github.com/sfsync/sfsync/shared/policy/policyhttp"
	"github.com/sfsync/sfsync/shared/privacy"
	"github.com/sfsync/sfsync/shared/privacy/privacydb"
	"github.com/sfsync/sfsync/shared/privacy/privacyhttp"
	"github.com/sfsync/sfsync/shared/ratelimit"
	"github.com/sfsync/sfsync/shared/ratelimit/ratelimitdb"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/shared/readiness/readinessdb"
	"github.com/sfsync/sfsync/shared/readiness/readinesshttp"
	"github.com/sfsync/sfsync/shared/readiness/readinessorg"
	"github.com/sfsync/sfsync/shared/schedule"
)

// requestLimits are each team's request limits: the default over every
// authenticated route, and stricter ones on the routes that reach the
// team's org or its queues in bulk.
var requestLimits = ratelimit.Rules{
	Default: ratelimit.DefaultRule,
	Routes: map[string]ratelimit.Rule{
		contacthttp.RouteRetry:      contacthttp.RetryLimit,
		contacthttp.RouteDedupCheck: contacthttp.DedupLimit,
		privacyhttp.RouteErase:      privacyhttp.EraseLimit,
		connecthttp.RouteDisconnect: connecthttp.DisconnectLimit,
	},
}

// handler is the function's Lambda handler: the API Gateway's requests go
// to the router, and the schedule's events sweep the consents nobody
// completed, of every team.
func handler(k *wiring.Kit, s settings) func(context.Context, json.RawMessage) (any, error) {
	rt, connector := newRouter(k, s)
	sweep := func(ctx context.Context) error {
		_, err := connector.SweepExpired(ctx)
		return err
	}
	return schedule.Handler(httpapi.LambdaHandler(rt), sweep, k.Log)
}

// newRouter wires the adapters to the domain and registers every route; it
// returns the connector too, for the scheduled sweep.
func newRouter(k *wiring.Kit, s settings) (*httpapi.Router, *connection.Connector) {
	log, policies, mappings, ledger := k.Log, k.Policies, k.Mappings(), k.Ledger()
	describes := &describe.Cache{DB: k.DB, Table: s.base.PoliciesTable,
		Source: &describe.Org{Connections: k.Connections, Connector: k.Connector, Holder: k.Holder, APIVersion: s.base.APIVersion}}

	rt := httpapi.NewRouter()
	limits := &ratelimitdb.Store{DB: k.DB, Table: s.base.ConnectionsTable}
	rt.LimitTeams(&ratelimit.Limiter{Windows: limits, Rules: requestLimits, Now: s.now}, log)
	mappinghttp.Register(rt, mappinghttp.Deps{Store: mappings, Describes: describes, Logger: log})
	contacthttp.Register(rt, contacthttp.Deps{Ledger: ledger, Logger: log})
	contacthttp.RegisterRetry(rt, contacthttp.RetryDeps{Ledger: ledger, SQS: k.SQS, QueueURL: s.contactQueueURL, Logger: log,
		Cooldown: &ratelimit.Cooldown{Marks: limits, Period: contacthttp.RetryCooldown, Now: s.now}})
	teamOrgs := k.Orgs()
	contacthttp.RegisterDedupCheck(rt, contacthttp.DedupDeps{Settings: policies, Logger: log, Orgs: teamOrgs.Contacts()})
	rt.Handle("GET /openapi.json", openapi.Handler())
	console.Register(rt, s.frameAncestors)
	policyhttp.Register(rt, policyhttp.Deps{Store: policies, Logger: log, Users: teamOrgs})
	ready := &readiness.Checker{Source: &readinessorg.Source{Connections: k.Connections, Orgs: teamOrgs, Describes: describes},
		Store: &readinessdb.Store{DB: k.DB, Table: s.base.PoliciesTable}, Mappings: mappings, Now: s.now}
	readinesshttp.Register(rt, readinesshttp.Deps{Reports: ready, Logger: log})
	healthhttp.Register(rt, healthhttp.Deps{Logger: log, Reports: &health.Reporter{
		Counts: &healthdb.Store{DB: k.DB, Table: s.base.LedgerTable}, Calls: k.Connections, Connections: k.Connections,
		Budgets: policies, Held: &activitydb.Store{DB: k.DB, Table: s.base.LedgerTable}, Now: s.now}})
	privacyhttp.Register(rt, privacyhttp.Deps{Logger: log, Erasures: &privacy.Eraser{
		Store: &privacydb.Store{DB: k.DB, Table: s.base.LedgerTable}, Orgs: privacyhttp.TeamOrgs{Orgs: teamOrgs},
		Receipts: &privacydb.Receipts{DB: k.DB, Table: s.base.LedgerTable}, Now: s.now, Log: log}})
	purge := &privacydb.Purger{DB: k.DB, Cursors: s.base.ConnectionsTable, Tables: []privacydb.Table{
		{Name: "connections", Table: s.base.ConnectionsTable}, {Name: "policies", Table: s.base.PoliciesTable}, {Name: "ledger", Table: s.base.LedgerTable}}}
	(&connecthttp.Handlers{Connector: k.Connector, Store: k.Connections, ReturnURL: s.returnURL, Log: log, Budgets: policies,
		Readiness: ready, Purger: purge}).Register(rt)
	return rt, k.Connector
}

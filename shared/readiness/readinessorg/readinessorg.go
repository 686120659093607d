// Package readinessorg reads what the org readiness report checks from a
// team's Salesforce org, through the team's governed REST client
// (orgs): one composite call with the describes of Lead and
// Contact, the object list, and queries of TaskStatus, DuplicateRule,
// Organization (the sharing defaults) and the connected user's permission
// set assignments; and, only when Lead or Contact is private by default, a
// second composite call with the permission sets' View All Data and the
// object permissions' View All. So a report spends one or two API calls.
// The org's API usage comes from the answers' Sforce-Limit-Info header.
//
// Salesforce's answers are matched by referenceId, never by position.
package readinessorg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/budget"
	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/orgs"
	"github.com/sfsync/sfsync/shared/readiness"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// DescribeCache keeps the describes the report reads, so that saving and
// rendering a mapping use them (describe.Cache).
type DescribeCache interface {
	Store(ctx context.Context, team, object string, d *salesforce.Describe, at time.Time) error
}

// Source implements readiness.Source over a team's stored connection.
type Source struct {
	Connections connection.Store
	Orgs        *orgs.Orgs
	Describes   DescribeCache    // nil: the describes read are not cached
	Now         func() time.Time // nil: time.Now
}

var _ readiness.Source = (*Source)(nil)

// Target implements readiness.Source: the team's connection, or an error
// matching connection.ErrNotConnected or connection.ErrNeedsReauth.
func (s *Source) Target(ctx context.Context, teamID string) (readiness.Target, error) {
	c, err := s.Connections.Get(ctx, teamID)
	if err != nil {
		return readiness.Target{}, fmt.Errorf("readiness target of team %s: %w", teamID, err)
	}
	switch c.Status {
	case connection.StatusConnected:
	case connection.StatusNeedsReauth, connection.StatusNeedsAdmin:
		return readiness.Target{}, fmt.Errorf("readiness target of team %s: %w", teamID, c.Err())
	default:
		return readiness.Target{}, fmt.Errorf("readiness target of team %s (status %q): %w", teamID, c.Status, connection.ErrNotConnected)
	}
	return readiness.Target{ConnectionID: c.ID, OrgID: c.OrgID, UserID: c.UserID, Username: c.Username}, nil
}

// MaxCalls is the most API calls one report spends: its reads are never
// sent again after a transient failure (the report is made again on the
// next GET), and a call past MaxCalls is refused with ErrCallLimit.
const MaxCalls = 5

// ErrCallLimit is the error of a report's call past MaxCalls.
var ErrCallLimit = errors.New("readiness: the report's API calls are spent")

// limitCalls makes c send each read once and refuse calls past max, before
// the budget governor (c.BeforeCall) is asked.
func limitCalls(c *salesforce.Client, max int64) {
	c.ReadRetries = -1
	allow := c.BeforeCall
	c.BeforeCall = func() error {
		if c.Calls.Load() >= max {
			return fmt.Errorf("%w (%d)", ErrCallLimit, max)
		}
		if allow != nil {
			return allow()
		}
		return nil
	}
}

// Reference ids of the subrequests.
const (
	refObjects     = "objects"
	refLead        = "describeLead"
	refContact     = "describeContact"
	refStatuses    = "taskStatuses"
	refDuplicates  = "duplicateRules"
	refSharing     = "sharing"
	refAssignments = "assignments"
	refPermSets    = "permissionSets"
	refObjectPerms = "objectPermissions"
)

// maxPermissionSets bounds the permission sets whose grants are read.
const maxPermissionSets = 200

// Fetch implements readiness.Source. A refused or failed subrequest becomes
// a part the snapshot could not read; a composite call Salesforce refuses
// as a whole (no API for the org or the user, out of calls) or the budget
// governor holds back becomes Snapshot.Refused. A connection that needs
// reconnecting and a Salesforce that does not answer are errors.
func (s *Source) Fetch(ctx context.Context, teamID string, t readiness.Target) (readiness.Snapshot, error) {
	org, _, err := s.Orgs.Open(ctx, teamID)
	if err != nil {
		return readiness.Snapshot{}, fmt.Errorf("readiness of team %s: %w", teamID, err)
	}
	defer func() { _ = org.Close(context.WithoutCancel(ctx)) }()
	c := org.Client()
	limitCalls(c, MaxCalls)
	snap := readiness.Snapshot{Username: t.Username}
	first, err := c.Composite(ctx, false, firstCall(c, t.UserID), nil)
	if refusal, rerr := refused(err); rerr != nil {
		return readiness.Snapshot{}, fmt.Errorf("readiness of team %s: %w", teamID, rerr)
	} else if refusal != nil {
		snap.Refused = refusal
		return finish(snap, org), nil
	}
	answers := byReference(first)
	snap.Createable = createable(answers[refObjects])
	snap.Describes = map[event.SalesforceObject]readiness.Got[*salesforce.Describe]{
		event.ObjectLead: describeOf(answers[refLead]), event.ObjectContact: describeOf(answers[refContact]),
	}
	snap.TaskStatuses = taskStatuses(answers[refStatuses])
	snap.DuplicateRules = duplicateRules(answers[refDuplicates])
	snap.Sharing = sharing(answers[refSharing])
	if snap.Sharing.Read() && (!snap.Sharing.Value.Public("Lead") || !snap.Sharing.Value.Public("Contact")) {
		if snap.Grants, err = s.grants(ctx, c, answers[refAssignments]); err != nil {
			return readiness.Snapshot{}, fmt.Errorf("readiness of team %s: %w", teamID, err)
		}
	}
	if err := s.keepDescribes(ctx, teamID, snap.Describes); err != nil {
		return readiness.Snapshot{}, fmt.Errorf("readiness of team %s: %w", teamID, err)
	}
	return finish(snap, org), nil
}

// finish adds what the governed client saw: the org's usage, the budget's
// figures and the calls spent.
func finish(snap readiness.Snapshot, org *orgs.Org) readiness.Snapshot {
	if u, ok := org.Usage(); ok {
		snap.Usage = readiness.Have(readiness.Usage{Used: u.Used, Limit: u.Limit})
	} else {
		snap.Usage = readiness.Missing[readiness.Usage]("Salesforce reported no API usage (Sforce-Limit-Info) to the report's calls")
	}
	snap.Budget = org.Figures()
	snap.Calls = int(org.Calls())
	return snap
}

// refused sorts a composite call's error: nil when it was answered; a
// Refusal when Salesforce (or the budget governor) said no to the whole
// call; an error when no report can be made (the connection needs
// reconnecting, Salesforce did not answer).
func refused(err error) (*readiness.Refusal, error) {
	if err == nil {
		return nil, nil
	}
	if errors.Is(err, budget.ErrCapped) || errors.Is(err, budget.ErrNearCap) {
		return &readiness.Refusal{Code: readiness.CodeBudget, Message: err.Error()}, nil
	}
	var api *salesforce.APIError
	if errors.As(err, &api) && !errors.Is(err, salesforce.ErrTransient) && !errors.Is(err, salesforce.ErrConcurrentLimit) &&
		!errors.Is(err, salesforce.ErrSessionExpired) {
		return &readiness.Refusal{Code: api.Code, Message: clip(api.Message)}, nil
	}
	return nil, err
}

// firstCall is the report's first composite call: 7 subrequests, 4 of them
// queries (Salesforce allows 5).
func firstCall(c *salesforce.Client, userID string) []salesforce.CompositeSubrequest {
	get := func(ref, resource string) salesforce.CompositeSubrequest {
		return salesforce.CompositeSubrequest{Method: http.MethodGet, URL: c.DataPath(resource), ReferenceID: ref}
	}
	return []salesforce.CompositeSubrequest{
		get(refObjects, "sobjects"),
		get(refLead, "sobjects/Lead/describe"),
		get(refContact, "sobjects/Contact/describe"),
		c.QuerySubrequest(refStatuses, salesforce.TaskStatusQuery),
		c.QuerySubrequest(refDuplicates, "SELECT DeveloperName, MasterLabel, SobjectType FROM DuplicateRule WHERE IsActive = true"),
		c.QuerySubrequest(refSharing, "SELECT DefaultLeadAccess, DefaultContactAccess, DefaultAccountAccess FROM Organization"),
		c.QuerySubrequest(refAssignments, "SELECT PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = "+salesforce.QuoteString(userID)),
	}
}

// grants reads the View All Data and View All the connected user's
// permission sets give, in one more composite call.
func (s *Source) grants(ctx context.Context, c *salesforce.Client, assignments *salesforce.CompositeSubresponse) (readiness.Got[readiness.Grants], error) {
	var rows []struct {
		PermissionSetID string `json:"PermissionSetId"`
	}
	if why := records(assignments, &rows); why != "" {
		return readiness.Missing[readiness.Grants]("the connected user's permission set assignments: " + why), nil
	}
	g := readiness.Grants{ViewAll: map[string]bool{}}
	var ids []string
	for _, r := range rows {
		if r.PermissionSetID != "" && len(ids) < maxPermissionSets {
			ids = append(ids, r.PermissionSetID)
		}
	}
	if len(ids) == 0 {
		return readiness.Have(g), nil
	}
	in := salesforce.QuoteList(ids)
	answers, err := c.Composite(ctx, false, []salesforce.CompositeSubrequest{
		c.QuerySubrequest(refPermSets, "SELECT Id, PermissionsViewAllData FROM PermissionSet WHERE Id IN "+in),
		c.QuerySubrequest(refObjectPerms, "SELECT ParentId, SobjectType, PermissionsViewAllRecords, PermissionsModifyAllRecords FROM ObjectPermissions WHERE ParentId IN "+in+" AND SobjectType IN ('Lead', 'Contact')"),
	}, nil)
	if refusal, rerr := refused(err); rerr != nil {
		return readiness.Got[readiness.Grants]{}, rerr
	} else if refusal != nil {
		return readiness.Missing[readiness.Grants](fmt.Sprintf("Salesforce refused the permission queries (%s)", refusal.Code)), nil
	}
	byRef := byReference(answers)
	var sets []struct {
		ViewAllData bool `json:"PermissionsViewAllData"`
	}
	if why := records(byRef[refPermSets], &sets); why != "" {
		return readiness.Missing[readiness.Grants]("the connected user's permission sets: " + why), nil
	}
	for _, ps := range sets {
		g.ViewAllData = g.ViewAllData || ps.ViewAllData
	}
	var perms []struct {
		Object    string `json:"SobjectType"`
		ViewAll   bool   `json:"PermissionsViewAllRecords"`
		ModifyAll bool   `json:"PermissionsModifyAllRecords"`
	}
	if why := records(byRef[refObjectPerms], &perms); why != "" {
		return readiness.Missing[readiness.Grants]("the connected user's object permissions: " + why), nil
	}
	for _, p := range perms {
		g.ViewAll[p.Object] = g.ViewAll[p.Object] || p.ViewAll || p.ModifyAll
	}
	return readiness.Have(g), nil
}

func (s *Source) keepDescribes(ctx context.Context, teamID string, ds map[event.SalesforceObject]readiness.Got[*salesforce.Describe]) error {
	if s.Describes == nil {
		return nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	for o, d := range ds {
		if d.Read() && d.Value != nil {
			if err := s.Describes.Store(ctx, teamID, string(o), d.Value, now()); err != nil {
				return err
			}
		}
	}
	return nil
}

// byReference indexes a composite answer by referenceId: Salesforce does
// not promise the subrequests' order.
func byReference(rs []salesforce.CompositeSubresponse) map[string]*salesforce.CompositeSubresponse {
	out := make(map[string]*salesforce.CompositeSubresponse, len(rs))
	for i := range rs {
		out[rs[i].ReferenceID] = &rs[i]
	}
	return out
}

// decode reads a subresponse's body into out; it returns why it could not,
// in words for the admin, or "".
func decode(r *salesforce.CompositeSubresponse, out any) string {
	if r == nil {
		return "Salesforce sent no answer to it"
	}
	if err := r.Err(); err != nil {
		var api *salesforce.APIError
		if errors.As(err, &api) && api.Code != "" {
			return fmt.Sprintf("Salesforce answered %d %s: %s", api.StatusCode, api.Code, clip(api.Message))
		}
		return clip(err.Error())
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return "Salesforce's answer could not be read: " + clip(err.Error())
	}
	return ""
}

// records reads a query subresponse's records into out.
func records[T any](r *salesforce.CompositeSubresponse, out *[]T) string {
	var page salesforce.QueryResult[T]
	if why := decode(r, &page); why != "" {
		return why
	}
	*out = page.Records
	return ""
}

func createable(r *salesforce.CompositeSubresponse) readiness.Got[map[string]bool] {
	var global struct {
		SObjects []struct {
			Name       string `json:"name"`
			Createable bool   `json:"createable"`
		} `json:"sobjects"`
	}
	if why := decode(r, &global); why != "" {
		return readiness.Missing[map[string]bool](why)
	}
	out := map[string]bool{}
	for _, o := range global.SObjects {
		out[o.Name] = o.Createable
	}
	return readiness.Have(out)
}

func describeOf(r *salesforce.CompositeSubresponse) readiness.Got[*salesforce.Describe] {
	var d salesforce.Describe
	if why := decode(r, &d); why != "" {
		return readiness.Missing[*salesforce.Describe](why)
	}
	return readiness.Have(&d)
}

func taskStatuses(r *salesforce.CompositeSubresponse) readiness.Got[[]readiness.TaskStatus] {
	var rows []readiness.TaskStatus
	if why := records(r, &rows); why != "" {
		return readiness.Missing[[]readiness.TaskStatus](why)
	}
	return readiness.Have(rows)
}

func duplicateRules(r *salesforce.CompositeSubresponse) readiness.Got[[]readiness.DuplicateRule] {
	var rows []struct {
		Name   string `json:"DeveloperName"`
		Label  string `json:"MasterLabel"`
		Object string `json:"SobjectType"`
	}
	if why := records(r, &rows); why != "" {
		return readiness.Missing[[]readiness.DuplicateRule](why)
	}
	out := make([]readiness.DuplicateRule, len(rows))
	for i, row := range rows {
		out[i] = readiness.DuplicateRule{Name: row.Name, Label: row.Label, Object: row.Object}
	}
	return readiness.Have(out)
}

func sharing(r *salesforce.CompositeSubresponse) readiness.Got[readiness.Sharing] {
	var rows []struct {
		Lead    string `json:"DefaultLeadAccess"`
		Contact string `json:"DefaultContactAccess"`
		Account string `json:"DefaultAccountAccess"`
	}
	if why := records(r, &rows); why != "" {
		return readiness.Missing[readiness.Sharing](why)
	}
	if len(rows) != 1 {
		return readiness.Missing[readiness.Sharing](fmt.Sprintf("Salesforce answered %d Organization records", len(rows)))
	}
	return readiness.Have(readiness.Sharing{Lead: rows[0].Lead, Contact: rows[0].Contact, Account: rows[0].Account})
}

// clip bounds a Salesforce message shown in the report.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "..."
	}
	return s
}

package orgs

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/attribution"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// AccountBudget sizes each Account query's OR-list of Website patterns and
// IN-list of names, as LookupBudget sizes the email lookups.
var AccountBudget = salesforce.InListBudget{MaxBytes: 8000, MaxValues: 200}

// userRow, accountRow and contactRow are the rows of attribution's queries.
type userRow struct {
	ID       string `json:"Id"`
	Email    string `json:"Email"`
	IsActive bool   `json:"IsActive"`
}

type accountRow struct {
	ID          string `json:"Id"`
	Name        string `json:"Name"`
	Website     string `json:"Website"`
	CreatedDate string `json:"CreatedDate"`
}

type contactRow struct {
	AccountID string `json:"AccountId"`
	Email     string `json:"Email"`
}

const accountFields = "SELECT Id, Name, Website, CreatedDate FROM Account WHERE "

// Look answers a batch's attribution query: the internal users (UserType
// Standard: never a partner, customer or Chatter-only user, who must not
// own a team's Leads) of the reps' emails
// and the Accounts whose Website contains one of the domains or whose Name
// is one of the names, every query in composite calls of up to 5. The
// Website patterns only narrow the rows; attribution keeps the Accounts
// whose normalized website is exactly the domain.
func (o *Org) Look(ctx context.Context, q attribution.Query) (attribution.Found, error) {
	var soqls []string
	kinds := map[int]string{}
	add := func(kind, soql string) {
		kinds[len(soqls)] = kind
		soqls = append(soqls, soql)
	}
	for _, chunk := range salesforce.SplitInList(q.RepEmails, LookupBudget) {
		add("user", "SELECT Id, Email, IsActive FROM User WHERE UserType = 'Standard' AND Email IN "+salesforce.QuoteList(chunk))
	}
	for _, chunk := range salesforce.SplitInList(q.Domains, AccountBudget) {
		likes := make([]string, len(chunk))
		for i, d := range chunk {
			likes[i] = "Website LIKE " + salesforce.QuoteLikeContains(d)
		}
		add("account", accountFields+strings.Join(likes, " OR "))
	}
	for _, chunk := range salesforce.SplitInList(q.Names, AccountBudget) {
		add("account", accountFields+"Name IN "+salesforce.QuoteList(chunk))
	}
	rows, err := o.queryMany(ctx, soqls)
	if err != nil {
		return attribution.Found{}, fmt.Errorf("look up %d reps, %d domains, %d names: %w", len(q.RepEmails), len(q.Domains), len(q.Names), err)
	}
	found := attribution.Found{Users: map[string]attribution.User{}}
	for i, rs := range rows {
		if kinds[i] == "user" {
			takeUsers(found.Users, rs)
		} else {
			found.Accounts = append(found.Accounts, accounts(rs)...)
		}
	}
	return found, nil
}

// takeUsers keeps, for each email, its active user over an inactive one,
// then the lowest id (Salesforce lets users share an email).
func takeUsers(into map[string]attribution.User, rows []json.RawMessage) {
	for _, raw := range rows {
		var r userRow
		if json.Unmarshal(raw, &r) != nil || r.ID == "" {
			continue
		}
		e := attribution.NormalizeEmail(r.Email)
		had, ok := into[e]
		if !ok || (r.IsActive && !had.Active) || (r.IsActive == had.Active && r.ID < had.ID) {
			into[e] = attribution.User{ID: r.ID, Active: r.IsActive}
		}
	}
}

func accounts(rows []json.RawMessage) []attribution.Account {
	var out []attribution.Account
	for _, raw := range rows {
		var r accountRow
		if json.Unmarshal(raw, &r) != nil || r.ID == "" {
			continue
		}
		created, _ := time.Parse("2006-01-02T15:04:05.000-0700", r.CreatedDate)
		out = append(out, attribution.Account{ID: r.ID, Name: r.Name, Website: r.Website, Created: created})
	}
	return out
}

// ContactCounts counts the Contacts of the Accounts whose email is at one
// of the domains, in one query (and its further pages).
func (o *Org) ContactCounts(ctx context.Context, accountIDs, domains []string) (map[string]map[string]int, error) {
	counts := map[string]map[string]int{}
	if len(accountIDs) == 0 || len(domains) == 0 {
		return counts, nil
	}
	likes := make([]string, len(domains))
	for i, d := range domains {
		likes[i] = "Email LIKE " + salesforce.QuoteLikeSuffix("@"+d)
	}
	rows, err := salesforce.Query[contactRow](ctx, o.client, "SELECT AccountId, Email FROM Contact WHERE AccountId IN "+
		salesforce.QuoteList(accountIDs)+" AND ("+strings.Join(likes, " OR ")+")")
	if err != nil {
		return nil, fmt.Errorf("count contacts of %d accounts: %w", len(accountIDs), err)
	}
	for _, r := range rows {
		d := attribution.EmailDomain(r.Email)
		if !slices.Contains(domains, d) {
			continue
		}
		if counts[r.AccountID] == nil {
			counts[r.AccountID] = map[string]int{}
		}
		counts[r.AccountID][d]++
	}
	return counts, nil
}

// queryMany runs the queries in composite calls of up to 5 (the further
// pages of their answers share the calls that follow) and returns each
// query's rows, in order.
func (o *Org) queryMany(ctx context.Context, soqls []string) ([][]json.RawMessage, error) {
	type job struct {
		of  int
		sub salesforce.CompositeSubrequest
	}
	out := make([][]json.RawMessage, len(soqls))
	var queue []job
	for i, q := range soqls {
		queue = append(queue, job{of: i, sub: o.client.QuerySubrequest(fmt.Sprintf("q_%d", i), q)})
	}
	for page := 0; len(queue) > 0; {
		n := min(len(queue), salesforce.MaxCompositeHeavy)
		batch := queue[:n]
		queue = queue[n:]
		subs := make([]salesforce.CompositeSubrequest, n)
		for i, j := range batch {
			subs[i] = j.sub
		}
		resps, err := o.client.Composite(ctx, false, subs, nil)
		if err != nil {
			return nil, err
		}
		if len(resps) != n {
			return nil, fmt.Errorf("%d composite answers for %d queries", len(resps), n)
		}
		for i, r := range resps {
			var res salesforce.QueryResult[json.RawMessage]
			if err := r.Err(); err != nil {
				return nil, fmt.Errorf("query %d: %w", batch[i].of, err)
			}
			if err := json.Unmarshal(r.Body, &res); err != nil {
				return nil, fmt.Errorf("decode query %d: %w", batch[i].of, err)
			}
			out[batch[i].of] = append(out[batch[i].of], res.Records...)
			if !res.Done && res.NextRecordsURL != "" {
				page++
				queue = append(queue, job{of: batch[i].of, sub: salesforce.QueryMoreSubrequest(fmt.Sprintf("more_%d", page), res.NextRecordsURL)})
			}
		}
	}
	return out, nil
}

var _ attribution.Directory = (*Org)(nil)

// CheckUser says whether the team's org has an active User of id userID
// (the settings route's policyhttp.UserChecker): nil, or an error wrapping
// policy.ErrUserNotFound or policy.ErrUserInactive; the errors of opening
// the org (connection.ErrNotConnected...) come through. One query.
func (s *Orgs) CheckUser(ctx context.Context, teamID, userID string) error {
	o, _, err := s.Open(ctx, teamID)
	if err != nil {
		return err
	}
	defer func() { _ = o.Close(context.WithoutCancel(ctx)) }()
	rows, err := salesforce.Query[userRow](ctx, o.client, "SELECT Id, Email, IsActive FROM User WHERE UserType = 'Standard' AND Id = "+salesforce.QuoteString(userID))
	switch {
	case err != nil:
		return fmt.Errorf("check user %s: %w", userID, err)
	case len(rows) == 0:
		return fmt.Errorf("user %s: %w", userID, policy.ErrUserNotFound)
	case !rows[0].IsActive:
		return fmt.Errorf("user %s: %w", userID, policy.ErrUserInactive)
	}
	return nil
}

package orgs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Match rules, in order of preference.
const (
	RuleContact       = "contact"        // a Contact has the email
	RuleConvertedLead = "converted_lead" // a converted Lead has it: its Contact
	RuleLead          = "lead"           // an unconverted Lead has it
)

// MaxEmailLength is the length of the Email field of Lead and Contact: a
// longer address cannot be stored in Salesforce, so it is never looked up.
const MaxEmailLength = 80

// LookupBudget sizes the IN-list of each lookup query. Salesforce allows
// 100,000 characters of SOQL, but a query URL (even inside a composite body)
// is kept within what a plain GET could send (16,384 bytes of URI and
// headers), so no statement ever comes near a limit.
var LookupBudget = salesforce.InListBudget{MaxBytes: 12000, MaxValues: 500}

// lookupRecord is a Contact or Lead row of a lookup query.
type lookupRecord struct {
	ID                 string `json:"Id"`
	Email              string `json:"Email"`
	IsConverted        bool   `json:"IsConverted"`
	ConvertedContactID string `json:"ConvertedContactId"`
	LastModifiedDate   string `json:"LastModifiedDate"`
}

// lookupJob is one query (or one more page of it) of a lookup.
type lookupJob struct {
	object event.SalesforceObject
	keys   []string // the normalized emails the query asked for
	sub    salesforce.CompositeSubrequest
}

// candidate is the best record found so far for one email and one rule.
type candidate struct {
	id       string
	modified time.Time
	raw      string
}

func (c *candidate) offer(id, modified string) bool {
	t, err := time.Parse("2006-01-02T15:04:05.000-0700", modified)
	if err != nil {
		t = time.Time{}
	}
	if c.id == "" || t.After(c.modified) || (t.Equal(c.modified) && (modified > c.raw || (modified == c.raw && id > c.id))) {
		c.id, c.modified, c.raw = id, t, modified
		return true
	}
	return false
}

// Searchable reports whether email could be stored in Salesforce's Email
// field, so a lookup can find it: valid UTF-8, no control characters, at
// most MaxEmailLength characters. FindByEmail never queries another.
func Searchable(email string) bool {
	if email == "" || !utf8.ValidString(email) || utf8.RuneCountInString(email) > MaxEmailLength {
		return false
	}
	return strings.IndexFunc(email, unicode.IsControl) < 0
}

// FindByEmail looks emails up among Contacts and Leads. Emails are
// normalized and deduplicated; empty ones, and ones Salesforce could never
// store (too long, control characters, invalid UTF-8), are simply not found.
// For each email a Contact wins over a converted Lead (which resolves to its
// Contact), which wins over an unconverted Lead; among several records of
// one kind the most recently modified wins.
//
// All queries travel in composite calls of up to 5 queries each; a query
// whose answer has more pages costs further composite calls. A transient
// failure wraps salesforce.ErrTransient, an exhausted API allocation wraps
// salesforce.ErrRequestLimit.
func (o *Org) FindByEmail(ctx context.Context, emails []string) (map[string]ledger.Match, error) {
	keys, query := lookupKeys(emails)
	if len(keys) == 0 {
		return map[string]ledger.Match{}, nil
	}
	found, err := o.runLookups(ctx, o.lookupJobs(keys, query), keys, query)
	if err != nil {
		return nil, err
	}
	return found.best(keys), nil
}

// lookupKeys returns the normalized, searchable emails to look up, in the
// order first seen, and for each the spelling the query asks for: the
// first one seen, trimmed (Salesforce compares case-insensitively, with its
// own case folding).
func lookupKeys(emails []string) (keys []string, query map[string]string) {
	query = map[string]string{}
	for _, e := range emails {
		k := ledger.NormalizeEmail(e)
		if _, seen := query[k]; seen || !Searchable(k) {
			continue
		}
		query[k] = strings.TrimSpace(e)
		keys = append(keys, k)
	}
	return keys, query
}

// lookupJobs returns the first queries of a lookup: for each IN-list of
// keys, one Contact query and one Lead query.
func (o *Org) lookupJobs(keys []string, query map[string]string) []lookupJob {
	var jobs []lookupJob
	for i, chunk := range salesforce.SplitInList(keys, LookupBudget) {
		values := make([]string, len(chunk))
		for j, k := range chunk {
			values[j] = query[k]
		}
		in := salesforce.QuoteList(values)
		jobs = append(jobs,
			lookupJob{object: event.ObjectContact, keys: chunk, sub: o.client.QuerySubrequest(fmt.Sprintf("contact_%d", i),
				"SELECT Id, Email, LastModifiedDate FROM Contact WHERE Email IN "+in+" ORDER BY LastModifiedDate DESC")},
			lookupJob{object: event.ObjectLead, keys: chunk, sub: o.client.QuerySubrequest(fmt.Sprintf("lead_%d", i),
				"SELECT Id, Email, IsConverted, ConvertedContactId, LastModifiedDate FROM Lead WHERE Email IN "+in+" ORDER BY LastModifiedDate DESC")},
		)
	}
	return jobs
}

// runLookups runs the jobs, up to 5 queries per composite call, and the
// further pages of their answers, which share the calls that follow; it
// returns the candidates the answers offered.
func (o *Org) runLookups(ctx context.Context, queue []lookupJob, keys []string, query map[string]string) (candidates, error) {
	found := newCandidates()
	page := 0
	for len(queue) > 0 {
		n := min(len(queue), salesforce.MaxCompositeHeavy)
		batch := queue[:n]
		queue = queue[n:]
		results, err := o.lookupBatch(ctx, batch, len(keys))
		if err != nil {
			return candidates{}, err
		}
		for i, res := range results {
			job := batch[i]
			found.take(job, res.Records, query)
			if !res.Done && res.NextRecordsURL != "" {
				page++
				queue = append(queue, lookupJob{object: job.object, keys: job.keys,
					sub: salesforce.QueryMoreSubrequest(fmt.Sprintf("more_%d", page), res.NextRecordsURL)})
			}
		}
	}
	return found, nil
}

// lookupBatch sends one composite call of the batch's queries and returns
// their decoded answers, in the batch's order; nkeys is the lookup's size,
// for the errors.
func (o *Org) lookupBatch(ctx context.Context, batch []lookupJob, nkeys int) ([]salesforce.QueryResult[lookupRecord], error) {
	subs := make([]salesforce.CompositeSubrequest, len(batch))
	for i, j := range batch {
		subs[i] = j.sub
	}
	resps, err := o.client.Composite(ctx, false, subs, nil)
	if err != nil {
		return nil, fmt.Errorf("find %d emails: %w", nkeys, err)
	}
	if len(resps) != len(batch) {
		return nil, fmt.Errorf("find %d emails: %d composite answers for %d queries", nkeys, len(resps), len(batch))
	}
	results := make([]salesforce.QueryResult[lookupRecord], len(batch))
	for i, r := range resps {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("find %d emails: query %s: %w", nkeys, batch[i].object, err)
		}
		if err := json.Unmarshal(r.Body, &results[i]); err != nil {
			return nil, fmt.Errorf("find %d emails: decode %s query answer: %w", nkeys, batch[i].object, err)
		}
	}
	return results, nil
}

// candidates are the best records found so far for each email, by rule.
type candidates struct {
	contacts, converted, leads map[string]*candidate
}

func newCandidates() candidates {
	return candidates{contacts: map[string]*candidate{}, converted: map[string]*candidate{}, leads: map[string]*candidate{}}
}

// take offers the records of one answer of job: a Contact as a contact, a
// converted Lead as its Contact, an unconverted Lead as a lead.
func (c candidates) take(job lookupJob, records []lookupRecord, query map[string]string) {
	for _, rec := range records {
		key, ok := keyOf(rec.Email, job.keys, query)
		if !ok || rec.ID == "" {
			continue
		}
		switch {
		case job.object == event.ObjectContact:
			offer(c.contacts, key, rec.ID, rec.LastModifiedDate)
		case rec.IsConverted && rec.ConvertedContactID != "":
			offer(c.converted, key, rec.ConvertedContactID, rec.LastModifiedDate)
		case !rec.IsConverted:
			offer(c.leads, key, rec.ID, rec.LastModifiedDate)
		}
	}
}

// offer offers a record to the candidate of key in m.
func offer(m map[string]*candidate, key, id, modified string) {
	c := m[key]
	if c == nil {
		c = &candidate{}
		m[key] = c
	}
	c.offer(id, modified)
}

// best returns each key's match: a Contact over a converted Lead's
// Contact over an unconverted Lead.
func (c candidates) best(keys []string) map[string]ledger.Match {
	found := map[string]ledger.Match{}
	for _, k := range keys {
		switch {
		case c.contacts[k] != nil:
			found[k] = ledger.Match{Object: event.ObjectContact, ID: c.contacts[k].id, Rule: RuleContact}
		case c.converted[k] != nil:
			found[k] = ledger.Match{Object: event.ObjectContact, ID: c.converted[k].id, Rule: RuleConvertedLead}
		case c.leads[k] != nil:
			found[k] = ledger.Match{Object: event.ObjectLead, ID: c.leads[k].id, Rule: RuleLead}
		}
	}
	return found
}

// keyOf returns which asked-for email a returned record's Email answers.
// Salesforce folds case its own way, so when Go's folding disagrees the
// record is matched to the asked value it equals under Unicode case folding.
func keyOf(email string, asked []string, query map[string]string) (string, bool) {
	k := ledger.NormalizeEmail(email)
	if _, ok := query[k]; ok {
		return k, true
	}
	for _, a := range asked {
		if strings.EqualFold(a, strings.TrimSpace(email)) || strings.EqualFold(query[a], strings.TrimSpace(email)) {
			return a, true
		}
	}
	return "", false
}

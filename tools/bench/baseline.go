package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// staticSession hands out one access token; the baseline never needs more.
type staticSession struct{ tok salesforce.Token }

func (s staticSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s staticSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return salesforce.Token{}, errors.New("baseline session: token rejected")
}

type idRecord struct {
	ID string `json:"Id"`
}

// naive is the per-record integration the product replaces: for every
// contact it looks up a Lead, looks up a Contact, and creates a Lead when
// neither exists; for every email it creates one Task.
type naive struct {
	sf   *salesforce.Client
	tok  salesforce.Token
	http *http.Client
}

func (n *naive) contact(ctx context.Context, email, first, last, company string) (string, error) {
	q := salesforce.QuoteString(email)
	leads, err := salesforce.Query[idRecord](ctx, n.sf, "SELECT Id FROM Lead WHERE Email = "+q+" AND IsConverted = false LIMIT 1")
	if err != nil {
		return "", err
	}
	contacts, err := salesforce.Query[idRecord](ctx, n.sf, "SELECT Id FROM Contact WHERE Email = "+q+" LIMIT 1")
	if err != nil {
		return "", err
	}
	switch {
	case len(contacts) > 0:
		return contacts[0].ID, nil
	case len(leads) > 0:
		return leads[0].ID, nil
	}
	return n.create(ctx, "Lead", map[string]any{"FirstName": first, "LastName": last, "Company": company, "Email": email})
}

// task logs one email as a completed Task on whoID.
func (n *naive) task(ctx context.Context, whoID, subject, description string) error {
	_, err := n.create(ctx, "Task", map[string]any{"WhoId": whoID, "Subject": subject, "Status": "Completed",
		"Description": description, "ActivityDate": time.Now().UTC().Format("2006-01-02")})
	return err
}

func newNaive(sim *org.Org) *naive {
	t := sim.IssueTokens()
	tok := salesforce.Token{AccessToken: t.AccessToken, InstanceURL: t.InstanceURL}
	hc := &http.Client{Timeout: 30 * time.Second}
	return &naive{sf: &salesforce.Client{HTTP: hc, Session: staticSession{tok}, Version: salesforce.DefaultVersion}, tok: tok, http: hc}
}

// create is the single-record POST /sobjects/{object}.
func (n *naive) create(ctx context.Context, object string, fields map[string]any) (string, error) {
	body, err := json.Marshal(fields)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.tok.InstanceURL+n.sf.DataPath("sobjects/"+object), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+n.tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", object, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create %s: %d %s", object, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("create %s: decode answer: %w", object, err)
	}
	return out.ID, nil
}

// baseline runs both workloads the naive way, one record at a time, on a
// fresh simulated org seeded as the product's was.
func (b *bench) baseline(ctx context.Context) error {
	sim := org.New(org.Config{ClientID: "sfsync-local", ClientSecret: "sfsync-local-secret", DailyLimit: 1_000_000})
	if _, err := sim.Start(); err != nil {
		return err
	}
	defer sim.Close()
	if _, err := sim.Seed("Lead", seedRecords(b.cfg.n)...); err != nil {
		return err
	}
	n := newNaive(sim)

	who := make([]string, b.cfg.n)
	before := sim.Stats().Total
	var lat []time.Duration
	start := time.Now()
	for i := range b.cfg.n {
		t0 := time.Now()
		id, err := n.contact(ctx, contactEmail(i), "Bench", fmt.Sprintf("Person %d", i), "Bench Co")
		if err != nil {
			return fmt.Errorf("contact %d: %w", i, err)
		}
		who[i] = id
		lat = append(lat, time.Since(t0))
		if i%100 == 0 {
			progress("baseline contacts: %d of %d, %d Salesforce calls", i, b.cfg.n, sim.Stats().Total-before)
		}
	}
	c := &Run{Events: b.cfg.n, Seconds: time.Since(start).Seconds(), SFCalls: sim.Stats().Total - before}
	c.PerSecond = float64(b.cfg.n) / c.Seconds
	c.P50Ms, c.P99Ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	if got := len(sim.Records("Lead")); got != b.cfg.n {
		return fmt.Errorf("the baseline org holds %d Leads after the contacts; want %d", got, b.cfg.n)
	}

	before, lat = sim.Stats().Total, lat[:0]
	start = time.Now()
	for i := range b.cfg.n {
		t0 := time.Now()
		if err := n.task(ctx, who[i], "Email: A short note", "Hello, a short note about benchmarks."); err != nil {
			return fmt.Errorf("email %d: %w", i, err)
		}
		lat = append(lat, time.Since(t0))
		if i%100 == 0 {
			progress("baseline emails: %d of %d, %d Salesforce calls", i, b.cfg.n, sim.Stats().Total-before)
		}
	}
	e := &Run{Events: b.cfg.n, Seconds: time.Since(start).Seconds(), SFCalls: sim.Stats().Total - before}
	e.PerSecond = float64(b.cfg.n) / e.Seconds
	e.P50Ms, e.P99Ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	b.results.BaselineBurst, b.results.BaselineActivity = c, e
	return nil
}

package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// defaultPrices is the dated price table the bench prices its figures with
// unless -prices names another.
//
//go:embed prices.json
var defaultPrices []byte

// Price is one list price: USD for Per units, read from Source (or quoted
// for it by the pages in SeenIn) on Date. Confirmed is true only when the
// value was read off Source itself.
type Price struct {
	USD       float64  `json:"usd"`
	Per       float64  `json:"per"`
	Unit      string   `json:"unit"`
	Source    string   `json:"source"`
	SeenIn    []string `json:"seen_in,omitempty"`
	Date      string   `json:"date"`
	Confirmed bool     `json:"confirmed"`
	Note      string   `json:"note,omitempty"`
}

// each is the price of one unit.
func (p Price) each() float64 { return p.USD / p.Per }

// SalesforceAllocation is an example org's daily API request allocation.
type SalesforceAllocation struct {
	Edition         string   `json:"edition"`
	BaseDailyCalls  int      `json:"base_daily_calls"`
	CallsPerLicense int      `json:"calls_per_license"`
	Licenses        int      `json:"licenses"`
	Source          string   `json:"source"`
	SeenIn          []string `json:"seen_in,omitempty"`
	Date            string   `json:"date"`
	Confirmed       bool     `json:"confirmed"`
	Note            string   `json:"note,omitempty"`
}

// Daily is the org's calls per rolling 24 hours.
func (s SalesforceAllocation) Daily() int { return s.BaseDailyCalls + s.CallsPerLicense*s.Licenses }

// PriceTable is the prices the figures are priced with.
type PriceTable struct {
	File       string               `json:"file"` // where it was read from
	Region     string               `json:"region"`
	Currency   string               `json:"currency"`
	Note       string               `json:"note,omitempty"`
	Prices     map[string]Price     `json:"prices"`
	Salesforce SalesforceAllocation `json:"salesforce"`
}

// The prices the bench needs.
const (
	priceDynamoWrite   = "dynamodb_write_request_unit"
	priceDynamoRead    = "dynamodb_read_request_unit"
	priceSQS           = "sqs_request"
	priceKMS           = "kms_request"
	priceSecrets       = "secretsmanager_api_call"
	priceLambdaGBs     = "lambda_arm64_gb_second"
	priceLambdaRequest = "lambda_request"
)

var requiredPrices = []string{priceDynamoWrite, priceDynamoRead, priceSQS, priceKMS, priceSecrets, priceLambdaGBs, priceLambdaRequest}

// loadPrices reads the table at path, or the built-in one when path is "".
func loadPrices(path string) (*PriceTable, error) {
	data, name := defaultPrices, "tools/bench/prices.json"
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, err
		}
		name = path
	}
	return parsePrices(data, name)
}

func parsePrices(data []byte, name string) (*PriceTable, error) {
	var t PriceTable
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("price table %s: %w", name, err)
	}
	t.File = name
	var problems []string
	for _, k := range requiredPrices {
		p, ok := t.Prices[k]
		switch {
		case !ok:
			problems = append(problems, k+" is missing")
		case p.USD <= 0 || p.Per <= 0:
			problems = append(problems, k+": usd and per must be positive")
		case p.Source == "":
			problems = append(problems, k+": no source")
		case !validDate(p.Date):
			problems = append(problems, fmt.Sprintf("%s: date %q is not YYYY-MM-DD", k, p.Date))
		}
	}
	sf := t.Salesforce
	switch {
	case sf.Daily() <= 0:
		problems = append(problems, "salesforce: the daily allocation must be positive")
	case sf.Source == "" || !validDate(sf.Date):
		problems = append(problems, "salesforce: a source and a YYYY-MM-DD date are required")
	}
	if t.Region == "" {
		problems = append(problems, "no region")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("price table %s: %s", name, strings.Join(problems, "; "))
	}
	return &t, nil
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// unconfirmed names the prices not read off their source.
func (t *PriceTable) unconfirmed() []string {
	var out []string
	for k, p := range t.Prices {
		if !p.Confirmed {
			out = append(out, k)
		}
	}
	if !t.Salesforce.Confirmed {
		out = append(out, "salesforce")
	}
	slices.Sort(out)
	return out
}

// dates are the distinct dates the prices were read on.
func (t *PriceTable) dates() []string {
	var out []string
	for _, p := range t.Prices {
		if !slices.Contains(out, p.Date) {
			out = append(out, p.Date)
		}
	}
	slices.Sort(out)
	return out
}

package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestBuiltInPrices(t *testing.T) {
	p, err := loadPrices("")
	if err != nil {
		t.Fatal(err)
	}
	if p.Region != "us-east-1" || p.Salesforce.Daily() != 150000 {
		t.Errorf("region %q, daily allocation %d", p.Region, p.Salesforce.Daily())
	}
	for _, k := range requiredPrices {
		if pr := p.Prices[k]; pr.Source == "" || pr.Date == "" {
			t.Errorf("%s has no source or date", k)
		}
	}
}

func TestPricesRefused(t *testing.T) {
	edited := func(f func(prices, sf map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(defaultPrices, &m); err != nil {
			t.Fatal(err)
		}
		f(m["prices"].(map[string]any), m["salesforce"].(map[string]any))
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	price := func(p map[string]any, k string) map[string]any { return p[k].(map[string]any) }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"a price missing", edited(func(p, _ map[string]any) { delete(p, priceKMS) }), "kms_request is missing"},
		{"a date not a date", edited(func(p, _ map[string]any) { price(p, priceSQS)["date"] = "7 December" }), "sqs_request: date"},
		{"no source", edited(func(p, _ map[string]any) { price(p, priceLambdaRequest)["source"] = "" }), "lambda_request: no source"},
		{"no price", edited(func(p, _ map[string]any) { price(p, priceDynamoRead)["usd"] = 0 }), "dynamodb_read_request_unit: usd and per"},
		{"no allocation", edited(func(_, sf map[string]any) { sf["base_daily_calls"], sf["licenses"] = 0, 0 }), "salesforce"},
		{"a field the table does not have", []byte(`{"region":"us-east-1","prise":{}}`), "unknown field"},
	} {
		_, err := parsePrices(tc.data, "test")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/p.json", []byte(`{"region":"us-east-1","prices":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadPrices(dir + "/p.json"); err == nil || !strings.Contains(err.Error(), "dynamodb_write_request_unit is missing") {
		t.Errorf("an empty table: %v", err)
	}
}

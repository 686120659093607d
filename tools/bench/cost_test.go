package main

import (
	"math"
	"testing"
)

func TestPriceRun(t *testing.T) {
	table := &PriceTable{Region: "us-east-1", Prices: map[string]Price{
		priceDynamoWrite: {USD: 1, Per: 1e6}, priceDynamoRead: {USD: 0.25, Per: 1e6}, priceSQS: {USD: 0.4, Per: 1e6},
		priceKMS: {USD: 0.03, Per: 1e4}, priceSecrets: {USD: 0.05, Per: 1e4}, priceLambdaGBs: {USD: 0.00001, Per: 1}, priceLambdaRequest: {USD: 0.2, Per: 1e6},
	}, Salesforce: SalesforceAllocation{BaseDailyCalls: 100000, CallsPerLicense: 1000, Licenses: 50}}
	r := &Run{Events: 1000, SFCalls: 3, Capacity: &Capacity{Read: 40, Write: 2000, IndexWrite: 500},
		SQSBilled: 150, SequencerSQSBilled: 250, KMS: 2, SecretsManager: 1,
		Lambda: map[string]FunctionUse{"contactsync": {MemoryMB: 512, CPUSeconds: 2, GBSeconds: 1, Invocations: 1}, "api": {MemoryMB: 256, Invocations: 1}}}
	c := priceRun(r, table, true)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	// Per million events: 1,000 times the run's figures.
	near("DynamoDB", c.USD.DynamoDB, 1000*(40*0.25e-6+2500*1e-6))
	near("SQS", c.USD.SQS, 1000*400*0.4e-6)
	near("KMS", c.USD.KMS, 1000*2*3e-6)
	near("Secrets Manager", c.USD.SecretsManager, 1000*1*5e-6)
	near("Lambda compute", c.USD.LambdaCompute, 1000*1*0.00001)
	near("Lambda requests", c.USD.LambdaRequests, 1000*2*0.2e-6)
	near("total", c.USD.Total, c.USD.DynamoDB+c.USD.SQS+c.USD.KMS+c.USD.SecretsManager+c.USD.LambdaCompute+c.USD.LambdaRequests)
	near("write units per event", c.WriteUnits, 2.5)
	near("index units per event", c.IndexUnits, 0.5)
	near("Salesforce calls per million", c.SFCallsPerMillion, 3000)
	near("share of a day", c.SFShareOfDailyAlloc, 0.02)

	naive := priceRun(&Run{Events: 1000, SFCalls: 2500}, table, false)
	if naive.USD != nil {
		t.Error("the naive baseline is priced in dollars")
	}
	near("naive days", naive.SFShareOfDailyAlloc, 2500.0*1000/150000)
	if got := fmtShare(naive.SFShareOfDailyAlloc); got != "16.7 days" {
		t.Errorf("naive share %q", got)
	}
	if got := fmtShare(c.SFShareOfDailyAlloc); got != "2% of a day" {
		t.Errorf("share %q", got)
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{fmtNum(2500000), "2,500,000"}, {fmtNum(1234.4), "1,234"}, {fmtNum(12.345), "12.3"}, {fmtNum(0.01234), "0.0123"}, {fmtNum(0), "0"},
		{fmtUSD(1.234), "1.23"}, {fmtUSD(0.01234), "0.012"}, {fmtUSD(0.00012), "0.00012"}, {fmtUSD(0), "0.00"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}

package org

import (
	"fmt"
	"strings"
	"testing"

	salesforce "github.com/k-capehart/go-salesforce/v3"
)

// TestThirdPartyClient drives the simulator with an existing Go Salesforce client
// library, unchanged: session validation, collection insert (with its client-side
// batching) and a query that pages through nextRecordsUrl.
func TestThirdPartyClient(t *testing.T) {
	t.Parallel()
	o, base := testOrg(t, Config{PageSize: 4})
	tok := o.IssueTokens()
	sf, err := salesforce.Init(salesforce.Creds{Domain: base, AccessToken: tok.AccessToken})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	type lead struct {
		LastName string
		Company  string
		Email    string
	}
	var leads []lead
	for i := 0; i < 10; i++ {
		leads = append(leads, lead{LastName: fmt.Sprintf("Lead%02d", i), Company: "Acme", Email: fmt.Sprintf("Lead%d@Example.com", i)})
	}
	res, err := sf.InsertCollection("Lead", leads, 200)
	if err != nil {
		t.Fatalf("InsertCollection: %v", err)
	}
	if res.HasSalesforceErrors || len(res.Results) != 10 {
		t.Fatalf("InsertCollection: got %+v; want 10 successes", res)
	}
	for _, r := range res.Results {
		if !r.Success || !strings.HasPrefix(r.Id, "00Q") {
			t.Errorf("result: got %+v; want success with a Lead id", r)
		}
	}
	var got []struct {
		Id       string
		LastName string
		Email    string
	}
	if err := sf.Query("SELECT Id, LastName, Email FROM Lead WHERE Email LIKE 'lead%@example.com' ORDER BY LastName", &got); err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(got) != 10 || got[0].LastName != "Lead00" || got[9].LastName != "Lead09" {
		t.Errorf("Query: got %d records %+v; want the 10 leads in order", len(got), got)
	}
	// a collection with an invalid record reports the per-record error
	res, err = sf.InsertCollection("Lead", []lead{{LastName: "Ok", Company: "C"}, {Company: "C"}}, 200)
	if err != nil {
		t.Fatalf("InsertCollection with a bad record: %v", err)
	}
	if !res.HasSalesforceErrors || res.Results[1].Errors[0].StatusCode != "REQUIRED_FIELD_MISSING" {
		t.Errorf("InsertCollection with a bad record: got %+v; want REQUIRED_FIELD_MISSING on the second", res)
	}
	if st := o.Stats(); st.ByEndpoint["POST composite/sobjects"] != 2 || st.ByEndpoint["GET query/{locator}"] != 2 {
		t.Errorf("stats: got %v; want 2 collection calls and 2 queryMore pages", st.ByEndpoint)
	}
}

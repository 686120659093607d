package salesforce_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// The simulator's fixtures are shapes captured from Salesforce's
// documentation. Each test decodes the fixture and the simulator's live answer
// to the same call with the product's client, and expects the same reading.

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "tools", "sfsim", "org", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type staticSession struct{ tok salesforce.Token }

func (s staticSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s staticSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return salesforce.Token{}, errors.New("no refresh in this test")
}

func newSim(t *testing.T) (*org.Org, *salesforce.Client) {
	t.Helper()
	sim := org.New(org.Config{})
	if _, err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	tok := sim.IssueTokens()
	return sim, &salesforce.Client{Session: staticSession{salesforce.Token{AccessToken: tok.AccessToken, InstanceURL: tok.InstanceURL}}}
}

func codes(rs []salesforce.SaveResult) []string {
	var out []string
	for _, r := range rs {
		c := ""
		if len(r.Errors) > 0 {
			c = r.Errors[0].Code
		}
		out = append(out, c)
	}
	return out
}

func TestSaveResultsDecodeAlike(t *testing.T) {
	t.Parallel()
	var doc []salesforce.SaveResult
	if err := json.Unmarshal(fixture(t, "saveresult_collection.json"), &doc); err != nil {
		t.Fatal(err)
	}
	if got := codes(doc)[1]; got != "REQUIRED_FIELD_MISSING" || !doc[0].Success || doc[0].ID == "" {
		t.Fatalf("fixture: got %v; want a success then REQUIRED_FIELD_MISSING", codes(doc))
	}
	_, c := newSim(t)
	good := salesforce.NewSObject("Lead")
	good["LastName"], good["Company"], good["Email"] = "Lovelace", "Analytical Engines", "ada@example.com"
	bad := salesforce.NewSObject("Lead")
	bad["Company"] = "No Name Ltd"
	live, err := c.CreateCollection(context.Background(), []salesforce.SObject{good, bad}, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := codes(live), codes(doc)[:2]; !slices.Equal(got, want) || !live[0].Success || len(live[0].ID) != 18 {
		t.Errorf("live: got %v %+v; want %v with an 18-character id", got, live, want)
	}
	if got := live[1].Errors[0].Fields; !slices.Equal(got, doc[1].Errors[0].Fields) {
		t.Errorf("live fields: got %v; want %v", got, doc[1].Errors[0].Fields)
	}
}

func TestDuplicatesDetectedDecodeAlike(t *testing.T) {
	t.Parallel()
	var doc []salesforce.ErrorItem
	if err := json.Unmarshal(fixture(t, "duplicates_detected.json"), &doc); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := doc[0].Duplicates.FirstMatch(); !ok || doc[0].Code != salesforce.CodeDuplicatesDetected {
		t.Fatalf("fixture: got %+v; want DUPLICATES_DETECTED with a match", doc[0])
	}
	sim, c := newSim(t)
	if err := sim.SetDuplicateRule("Lead", org.DuplicateRule{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	ids, err := sim.Seed("Lead", map[string]any{"LastName": "Lovelace", "Company": "AE", "Email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	sub := salesforce.CompositeSubrequest{Method: "POST", URL: c.DataPath("sobjects/Lead"), ReferenceID: "lead",
		Body: map[string]any{"LastName": "Lovelace", "Company": "AE", "Email": "ADA@example.com"}}
	resp, err := c.Composite(context.Background(), false, []salesforce.CompositeSubrequest{sub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *salesforce.APIError
	if !errors.As(resp[0].Err(), &apiErr) || apiErr.Code != salesforce.CodeDuplicatesDetected {
		t.Fatalf("live: got %v; want DUPLICATES_DETECTED", resp[0].Err())
	}
	obj, id, ok := apiErr.All[0].Duplicates.FirstMatch()
	if !ok || obj != "Lead" || id != ids[0] {
		t.Errorf("live match: got %q %q %v; want Lead %s", obj, id, ok, ids[0])
	}
}

func TestQueryAndDescribeDecodeAlike(t *testing.T) {
	t.Parallel()
	var page salesforce.QueryResult[map[string]any]
	if err := json.Unmarshal(fixture(t, "query_result.json"), &page); err != nil || page.NextRecordsURL == "" || len(page.Records) == 0 {
		t.Fatalf("query fixture: got %+v %v", page, err)
	}
	var d salesforce.Describe
	if err := json.Unmarshal(fixture(t, "describe_excerpt.json"), &d); err != nil || d.KeyPrefix != "00Q" {
		t.Fatalf("describe fixture: got %+v %v", d, err)
	}
	sim, c := newSim(t)
	if _, err := sim.Seed("Contact", map[string]any{"LastName": "O'Brien", "Email": "o'brien@example.com"}); err != nil {
		t.Fatal(err)
	}
	type contact struct {
		ID    string `json:"Id"`
		Email string `json:"Email"`
	}
	got, err := salesforce.Query[contact](context.Background(), c, "SELECT Id, Email FROM Contact WHERE Email = "+salesforce.QuoteString("O'BRIEN@example.com"))
	if err != nil || len(got) != 1 || got[0].Email != "o'brien@example.com" {
		t.Errorf("live query: got %+v %v; want the one contact, matched case-insensitively", got, err)
	}
	live, err := c.Describe(context.Background(), "Lead")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"LastName", "Company"} {
		f, ok := live.Field(name)
		if !ok || !f.RequiredOnCreate() {
			t.Errorf("live describe %s: got %+v; want required on create", name, f)
		}
	}
}

func TestErrorsClassifyAlike(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t)
	sim.SetDailyLimit(1)
	_, _ = salesforce.Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead")
	_, err := salesforce.Query[map[string]any](context.Background(), c, "SELECT Id FROM Lead")
	if !errors.Is(err, salesforce.ErrRequestLimit) {
		t.Errorf("over the limit: got %v; want ErrRequestLimit", err)
	}
	var doc []salesforce.ErrorItem
	if err := json.Unmarshal(fixture(t, "error_request_limit.json"), &doc); err != nil || doc[0].Code != salesforce.CodeRequestLimitExceeded {
		t.Errorf("fixture: got %+v %v; want REQUEST_LIMIT_EXCEEDED", doc, err)
	}
}

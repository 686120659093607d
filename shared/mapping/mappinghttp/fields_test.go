package mappinghttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/mapping/mappinghttp"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/salesforce"
)

const routeFields = "/v1/salesforce/field-mappings/{object}/fields"

// fieldsOrg is each team's describes in memory: an unknown team is not
// connected; err, when set, is every answer. It records what it was asked.
type fieldsOrg struct {
	describes map[string]*salesforce.Describe // team/object
	at        time.Time
	err       error

	mu    sync.Mutex
	asked []string // team/object/refresh
}

func (o *fieldsOrg) Get(_ context.Context, team, object string, refresh bool) (*salesforce.Describe, time.Time, error) {
	o.mu.Lock()
	o.asked = append(o.asked, fmt.Sprintf("%s/%s/%v", team, object, refresh))
	o.mu.Unlock()
	if o.err != nil {
		return nil, time.Time{}, o.err
	}
	d, ok := o.describes[team+"/"+object]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("describe %s: %w", object, connection.ErrNotConnected)
	}
	return d, o.at, nil
}

func (o *fieldsOrg) Cached(context.Context, string, string) (*salesforce.Describe, time.Time, error) {
	return nil, time.Time{}, nil
}

func leadFields() *salesforce.Describe {
	return &salesforce.Describe{Name: "Lead", Createable: true, Fields: []salesforce.DescribeField{
		{Name: "Company", Label: "Company", Type: "string", Length: 255, Createable: true, Updateable: true},
		{Name: "IsConverted", Label: "Converted", Type: "boolean", Createable: false},
		{Name: "annual_rev__c", Label: "annual revenue", Type: "currency", Createable: true, Nillable: true, Updateable: true},
		{Name: "Email", Label: "Email", Type: "email", Length: 80, Createable: true, Nillable: true, Updateable: true},
		{Name: "Status", Label: "Lead Status", Type: "picklist", Length: 40, Createable: true, DefaultedOnCreate: true, Updateable: true},
		{Name: "Id", Label: "Lead ID", Type: "id", Length: 18},
		{Name: "Alias__c", Label: "Email", Type: "string", Length: 10, Createable: true, Nillable: true},
		{Name: "Vip__c", Label: "VIP", Type: "boolean", Createable: true, Updateable: false},
	}}
}

type fieldsReply struct {
	code int
	body string
}

func getFields(t *testing.T, org *fieldsOrg, team, path string) fieldsReply {
	t.Helper()
	rt := httpapi.NewRouter()
	mappinghttp.Register(rt, mappinghttp.Deps{Store: &memMappings{}, Describes: org, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	req := httptest.NewRequest("GET", path, nil)
	req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: team, Role: "member", Subject: "rep-of-" + team}))
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	validate(t, "GET", routeFields, reply{code: rec.Code, body: rec.Body.String()})
	return fieldsReply{rec.Code, rec.Body.String()}
}

// TestOrgFieldsCreateableByLabel: a member gets the fields the connected
// user can create, by label (case-insensitively, then by name), with
// whether a create must fill them, from the cache (never a refresh), for
// the team of the claims only. Runs without a database.
func TestOrgFieldsCreateableByLabel(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	org := &fieldsOrg{describes: map[string]*salesforce.Describe{"team_a/Lead": leadFields()}, at: at}
	r := getFields(t, org, "team_a", "/v1/salesforce/field-mappings/lead/fields?team_id=team_b&refresh=true")
	if r.code != 200 {
		t.Fatalf("got %d %s; want 200", r.code, r.body)
	}
	var got struct {
		Object      string    `json:"object"`
		DescribedAt time.Time `json:"describe_fetched_at"`
		Fields      []struct {
			Name       string `json:"name"`
			Required   bool   `json:"required"`
			Updateable bool   `json:"updateable"`
			Length     int    `json:"length"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range got.Fields {
		names = append(names, fmt.Sprintf("%s required=%v updateable=%v length=%d", f.Name, f.Required, f.Updateable, f.Length))
	}
	want := []string{
		"annual_rev__c required=false updateable=true length=0",
		"Company required=true updateable=true length=255",
		"Alias__c required=false updateable=false length=10", // label Email, named before Email
		"Email required=false updateable=true length=80",
		"Status required=false updateable=true length=40", // label Lead Status; defaulted on create
		"Vip__c required=false updateable=false length=0", // a checkbox is never required
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("got fields\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if got.Object != "Lead" || !got.DescribedAt.Equal(at) {
		t.Errorf("got object %q fetched %v; want Lead fetched %v", got.Object, got.DescribedAt, at)
	}
	if asked := strings.Join(org.asked, ","); asked != "team_a/Lead/false" {
		t.Errorf("got describes asked %s; want team_a/Lead/false only (the claims' team, no refresh)", asked)
	}
}

func TestOrgFieldsRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, team, path string
		err              error
		code             int
		errCode          string
	}{
		{"an object the mapping routes do not take", "team_a", "/v1/salesforce/field-mappings/account/fields", nil, 400, `"field":"object"`},
		{"another team's describe is not this team's", "team_b", "/v1/salesforce/field-mappings/lead/fields?team_id=team_a", nil, 409, "not_connected"},
		{"the reconnect a refused token needs", "team_a", "/v1/salesforce/field-mappings/lead/fields", fmt.Errorf("describe: %w", connection.ErrNeedsReauth), 409, "needs_reauth"},
		{"salesforce unavailable", "team_a", "/v1/salesforce/field-mappings/lead/fields", fmt.Errorf("describe: %w", salesforce.ErrTransient), 502, "salesforce_unavailable"},
		{"the org's API limit", "team_a", "/v1/salesforce/field-mappings/lead/fields", fmt.Errorf("describe: %w", salesforce.ErrRequestLimit), 429, "salesforce_limit"},
	}
	for _, tt := range tests {
		org := &fieldsOrg{describes: map[string]*salesforce.Describe{"team_a/Lead": leadFields()}, err: tt.err}
		r := getFields(t, org, tt.team, tt.path)
		if r.code != tt.code || !strings.Contains(r.body, tt.errCode) || strings.Contains(r.body, "Company") {
			t.Errorf("%s: got %d %s; want %d with %s and no field", tt.name, r.code, r.body, tt.code, tt.errCode)
		}
	}
}

// TestOrgFieldsFromTheSimulatedOrg: the fields come from the describe
// cache the mapping saves check against: the first read describes the
// object once, the next ones are served from the cache; the org's required
// custom field is required, its read-only fields are absent.
func TestOrgFieldsFromTheSimulatedOrg(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.call("team_a", "GET", "/v1/salesforce/field-mappings/lead/fields", "", nil)
	validate(t, "GET", routeFields, r)
	if r.code != 200 {
		t.Fatalf("got %d %s; want 200", r.code, r.body)
	}
	var got struct {
		Fields []struct {
			Name     string `json:"name"`
			Label    string `json:"label"`
			Required bool   `json:"required"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	byName := map[string]bool{}
	var labels []string
	for _, f := range got.Fields {
		byName[f.Name] = f.Required
		labels = append(labels, strings.ToLower(f.Label))
	}
	if req, ok := byName["Segment__c"]; !ok || !req {
		t.Errorf("Segment__c: got present %v required %v; want a required field", ok, req)
	}
	if _, ok := byName["IsConverted"]; ok {
		t.Errorf("got IsConverted; want only fields the user can create")
	}
	if !slices.IsSorted(labels) {
		t.Errorf("got labels %v; want them sorted", labels)
	}
	for range 2 {
		if r := w.call("team_a", "GET", "/v1/salesforce/field-mappings/lead/fields", "", nil); r.code != 200 {
			t.Errorf("again: got %d %s; want 200", r.code, r.body)
		}
	}
	if got := w.describes(); got != 1 {
		t.Errorf("got %d Salesforce calls; want 1 (then the cache)", got)
	}
}

package mapping_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

// testOrgDefinition is a simulated org with one custom field of each kind
// the mapping must handle, on Lead and on Contact.
var testOrgDefinition = &org.Definition{CustomFields: map[string][]org.CustomField{
	"Lead": {
		{Name: "Notes__c", Type: "text", Length: 20},
		{Name: "Tier__c", Type: "picklist", Values: []string{"Gold", "Silver"}},
		{Name: "Region__c", Type: "picklist", Values: []string{"EMEA", "AMER", "APAC"}, Restricted: true},
		{Name: "Seats__c", Type: "number"},
		{Name: "Vip__c", Type: "checkbox"},
		{Name: "Segment__c", Type: "text", Length: 40, Required: true},
		{Name: "Since__c", Type: "date"},
	},
	"Contact": {
		{Name: "Notes__c", Type: "text", Length: 20},
	},
}}

// staticSession hands the simulator's token to the client (the edge of a
// unit test: no connection store here).
type staticSession struct{ tok salesforce.Token }

func (s staticSession) Current(context.Context) (salesforce.Token, error) { return s.tok, nil }
func (s staticSession) Refresh(context.Context, salesforce.Token) (salesforce.Token, error) {
	return s.tok, nil
}

func startOrg(t *testing.T) (*org.Org, *salesforce.Client) {
	t.Helper()
	sim := org.New(org.Config{Definition: testOrgDefinition})
	if _, err := sim.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	tok := sim.IssueTokens()
	return sim, &salesforce.Client{Session: staticSession{salesforce.Token{AccessToken: tok.AccessToken, InstanceURL: tok.InstanceURL}}}
}

func describeOf(t *testing.T, c *salesforce.Client, object string) *salesforce.Describe {
	t.Helper()
	d, err := c.Describe(context.Background(), object)
	if err != nil {
		t.Fatalf("describe %s: %v", object, err)
	}
	return d
}

func field(sf, src string) mapping.Rule {
	return mapping.Rule{SalesforceField: sf, Source: mapping.Source{Field: src}}
}
func constant(sf, v string) mapping.Rule {
	return mapping.Rule{SalesforceField: sf, Source: mapping.Source{Constant: &v}}
}
func tmpl(sf, v string) mapping.Rule {
	return mapping.Rule{SalesforceField: sf, Source: mapping.Source{Template: v}}
}
func onEmpty(r mapping.Rule, v string) mapping.Rule { r.OnEmpty = &v; return r }

// withDefault is the default Lead mapping plus rows (and the required
// Segment__c, unless rows map it).
func leadMapping(rows ...mapping.Rule) mapping.Mapping {
	m := mapping.Default(event.ObjectLead)
	segment := false
	for _, r := range rows {
		segment = segment || r.SalesforceField == "Segment__c"
	}
	if !segment {
		m.Fields = append(m.Fields, constant("Segment__c", "SMB"))
	}
	m.Fields = append(m.Fields, rows...)
	return m
}

type want struct {
	row   int // -1: no row
	field string
	code  string
}

func summarize(ps mapping.Problems) []want {
	var out []want
	for _, p := range ps {
		row := -1
		if p.Row != nil {
			row = *p.Row
		}
		out = append(out, want{row, p.SalesforceField, p.Code})
	}
	return out
}

func TestPreflightAgainstTheOrg(t *testing.T) {
	t.Parallel()
	_, client := startOrg(t)
	lead := describeOf(t, client, "Lead")
	contact := describeOf(t, client, "Contact")
	n := len(mapping.Default(event.ObjectLead).Fields) + 1 // first row index after the defaults and Segment__c
	tests := []struct {
		name   string
		object event.SalesforceObject
		m      mapping.Mapping
		want   []want
	}{
		{"default lead with the required custom field", event.ObjectLead, leadMapping(), nil},
		{"default contact", event.ObjectContact, mapping.Default(event.ObjectContact), nil},
		{"default lead misses the required custom field", event.ObjectLead, mapping.Default(event.ObjectLead),
			[]want{{-1, "Segment__c", "required_unmapped"}}},
		{"required custom field from a contact field needs on_empty", event.ObjectLead,
			leadMapping(field("Segment__c", "custom.segment")), []want{{n - 1, "Segment__c", "required_may_be_empty"}}},
		{"required custom field from a contact field with on_empty", event.ObjectLead,
			leadMapping(onEmpty(field("Segment__c", "custom.segment"), "SMB")), nil},
		{"unknown field", event.ObjectLead, leadMapping(field("Bogus__c", "title")), []want{{n, "Bogus__c", "unknown_field"}}},
		{"not createable", event.ObjectLead, leadMapping(field("Name", "first_name")), []want{{n, "Name", "not_createable"}}},
		{"text constant fits", event.ObjectLead, leadMapping(constant("Notes__c", strings.Repeat("x", 20))), nil},
		{"text constant too long", event.ObjectLead, leadMapping(constant("Notes__c", strings.Repeat("x", 21))), []want{{n, "Notes__c", "too_long"}}},
		{"on_empty too long", event.ObjectLead, leadMapping(onEmpty(field("Notes__c", "title"), strings.Repeat("é", 21))), []want{{n, "Notes__c", "too_long"}}},
		{"template into text", event.ObjectLead, leadMapping(tmpl("Notes__c", "{{first_name}} at {{company}}")), nil},
		{"picklist takes any text", event.ObjectLead, leadMapping(field("Tier__c", "custom.tier"), constant("Industry", "Computing")), nil},
		{"unrestricted picklist takes a new constant", event.ObjectLead, leadMapping(constant("Tier__c", "Platinum")), nil},
		{"restricted picklist constant", event.ObjectLead, leadMapping(constant("Region__c", "emea")), nil},
		{"restricted picklist constant not a value", event.ObjectLead, leadMapping(constant("Region__c", "Mars")), []want{{n, "Region__c", "not_in_picklist"}}},
		{"number from a custom value", event.ObjectLead, leadMapping(field("Seats__c", "custom.seats")), nil},
		{"number constant", event.ObjectLead, leadMapping(constant("Seats__c", "1,200.5")), nil},
		{"number constant not a number", event.ObjectLead, leadMapping(constant("Seats__c", "twelve")), []want{{n, "Seats__c", "type_mismatch"}}},
		{"number from a name", event.ObjectLead, leadMapping(field("Seats__c", "first_name")), []want{{n, "Seats__c", "type_mismatch"}}},
		{"number from a template", event.ObjectLead, leadMapping(tmpl("Seats__c", "{{custom.seats}}")), []want{{n, "Seats__c", "type_mismatch"}}},
		{"integer constant not whole", event.ObjectLead, leadMapping(constant("NumberOfEmployees", "12.5")), []want{{n, "NumberOfEmployees", "type_mismatch"}}},
		{"checkbox constant", event.ObjectLead, leadMapping(constant("Vip__c", "yes")), nil},
		{"checkbox from a custom value", event.ObjectLead, leadMapping(field("Vip__c", "custom.vip")), nil},
		{"checkbox from a title", event.ObjectLead, leadMapping(field("Vip__c", "title")), []want{{n, "Vip__c", "type_mismatch"}}},
		{"checkbox constant not a checkbox", event.ObjectLead, leadMapping(constant("Vip__c", "maybe")), []want{{n, "Vip__c", "type_mismatch"}}},
		{"date constant", event.ObjectLead, leadMapping(constant("Since__c", "2026-02-30")), []want{{n, "Since__c", "type_mismatch"}}},
		{"phone from a phone", event.ObjectLead, leadMapping(field("MobilePhone", "phone")), nil},
		{"phone from a name", event.ObjectLead, leadMapping(field("MobilePhone", "last_name")), []want{{n, "MobilePhone", "type_mismatch"}}},
		{"url from linkedin_url", event.ObjectContact, mapping.Mapping{Fields: []mapping.Rule{field("Description", "linkedin_url")}}, nil},
		{"Email is the contact's email only", event.ObjectLead, mapping.Mapping{Fields: []mapping.Rule{field("Email", "title"), constant("Segment__c", "SMB")}},
			[]want{{0, "Email", "reserved_field"}}},
		{"a Contact has no Company", event.ObjectContact, mapping.Mapping{Fields: []mapping.Rule{field("Company", "company")}}, []want{{0, "Company", "unknown_field"}}},
		{"contact custom field", event.ObjectContact, mapping.Mapping{Fields: []mapping.Rule{field("Notes__c", "custom.notes")}}, nil},
		{"every problem at once", event.ObjectLead, mapping.Mapping{Fields: []mapping.Rule{
			field("Bogus__c", "title"), constant("Region__c", "Mars"), field("Seats__c", "first_name"), constant("Notes__c", strings.Repeat("x", 30)),
		}}, []want{{0, "Bogus__c", "unknown_field"}, {1, "Region__c", "not_in_picklist"}, {2, "Seats__c", "type_mismatch"},
			{3, "Notes__c", "too_long"}, {-1, "Segment__c", "required_unmapped"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := lead
			if tc.object == event.ObjectContact {
				d = contact
			}
			if err := tc.m.Validate(); err != nil {
				t.Fatalf("validate: got %v; want a well-formed mapping", err)
			}
			ps := mapping.Preflight(tc.object, tc.m, d)
			if got := summarize(ps); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v; want %+v (%v)", got, tc.want, ps)
			}
			for _, p := range ps {
				if !strings.Contains(p.Message, p.SalesforceField) || p.Field == "" {
					t.Errorf("got problem %+v; want a message naming the field and a request field", p)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want [][2]string // field, code
	}{
		{"good", `{"fields":[{"salesforce_field":"LastName","source":{"field":"last_name"},"on_empty":"Unknown"},{"salesforce_field":"Notes__c","source":{"template":"{{first_name}} / {{ custom.team }}"}},{"salesforce_field":"Tier__c","source":{"constant":"Gold"}}]}`, nil},
		{"not json", `{"fields":`, [][2]string{{"body", "invalid_request"}}},
		{"not an object", `[1]`, [][2]string{{"body", "invalid_request"}}},
		{"fields missing", `{}`, [][2]string{{"fields", "invalid_request"}}},
		{"fields null", `{"fields":null}`, [][2]string{{"fields", "invalid_request"}}},
		{"unknown top-level key", `{"fields":[],"version":3}`, [][2]string{{"version", "unknown_field"}}},
		{"row not an object", `{"fields":[7]}`, [][2]string{{"fields[0]", "invalid_request"}}},
		{"unknown row key", `{"fields":[{"salesforce_field":"Title","source":{"field":"title"},"type":"x"}]}`, [][2]string{{"fields[0].type", "unknown_field"}}},
		{"salesforce_field missing", `{"fields":[{"source":{"field":"title"}}]}`, [][2]string{{"fields[0].salesforce_field", "invalid_field_name"}}},
		{"salesforce_field not a name", `{"fields":[{"salesforce_field":"Title; DROP","source":{"field":"title"}}]}`, [][2]string{{"fields[0].salesforce_field", "invalid_field_name"}}},
		{"salesforce_field a number", `{"fields":[{"salesforce_field":5,"source":{"field":"title"}}]}`, [][2]string{{"fields[0].salesforce_field", "invalid_field_name"}}},
		{"duplicate field", `{"fields":[{"salesforce_field":"Title","source":{"field":"title"}},{"salesforce_field":"title","source":{"field":"company"}}]}`, [][2]string{{"fields[1].salesforce_field", "duplicate_field"}}},
		{"source missing", `{"fields":[{"salesforce_field":"Title"}]}`, [][2]string{{"fields[0].source", "invalid_source"}}},
		{"two sources", `{"fields":[{"salesforce_field":"Title","source":{"field":"title","constant":"x"}}]}`, [][2]string{{"fields[0].source", "invalid_source"}}},
		{"null constant", `{"fields":[{"salesforce_field":"Title","source":{"constant":null}}]}`, [][2]string{{"fields[0].source.constant", "invalid_source"}}},
		{"unknown source field", `{"fields":[{"salesforce_field":"Title","source":{"field":"nickname"}}]}`, [][2]string{{"fields[0].source.field", "unknown_source_field"}}},
		{"bad custom key", `{"fields":[{"salesforce_field":"Title","source":{"field":"custom.9x"}}]}`, [][2]string{{"fields[0].source.field", "unknown_source_field"}}},
		{"empty constant", `{"fields":[{"salesforce_field":"Title","source":{"constant":" "}}]}`, [][2]string{{"fields[0].source.constant", "invalid_constant"}}},
		{"template unknown placeholder", `{"fields":[{"salesforce_field":"Title","source":{"template":"{{nick}}"}}]}`, [][2]string{{"fields[0].source.template", "invalid_template"}}},
		{"template unclosed", `{"fields":[{"salesforce_field":"Title","source":{"template":"{{first_name"}}]}`, [][2]string{{"fields[0].source.template", "invalid_template"}}},
		{"template stray close", `{"fields":[{"salesforce_field":"Title","source":{"template":"a }} b"}}]}`, [][2]string{{"fields[0].source.template", "invalid_template"}}},
		{"on_empty not a string", `{"fields":[{"salesforce_field":"Title","source":{"field":"title"},"on_empty":false}]}`, [][2]string{{"fields[0].on_empty", "invalid_on_empty"}}},
		{"problems of several rows", `{"fields":[{"salesforce_field":"","source":{"field":"title"}},{"salesforce_field":"Title","source":{"field":"nope"}}]}`,
			[][2]string{{"fields[0].salesforce_field", "invalid_field_name"}, {"fields[1].source.field", "unknown_source_field"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := mapping.Parse([]byte(tc.body))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v; want no error", err)
				}
				if len(m.Fields) == 0 {
					t.Errorf("got no rows; want the rows of the body")
				}
				return
			}
			var ps mapping.Problems
			if !errors.As(err, &ps) || !errors.Is(err, mapping.ErrInvalid) {
				t.Fatalf("got %v; want mapping.Problems", err)
			}
			var got [][2]string
			for _, p := range ps {
				got = append(got, [2]string{p.Field, p.Code})
				if !strings.HasPrefix(p.Message, p.Field) {
					t.Errorf("got message %q; want it to start with the field %s", p.Message, p.Field)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}

func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, o := range []event.SalesforceObject{event.ObjectLead, event.ObjectContact} {
		m := leadMapping(onEmpty(field("Segment__c", "custom.segment"), "SMB"), tmpl("Description", "{{title}} at {{company}}"))
		if o == event.ObjectContact {
			m = mapping.Default(o)
		}
		b, _ := json.Marshal(m)
		got, err := mapping.Parse(b)
		if err != nil {
			t.Fatalf("%s: parse: %v", o, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: got %+v; want %+v", o, got, m)
		}
	}
}

var ada = event.Contact{ID: "ct_1", Email: "Ada@Example.com", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines",
	Title: "Chief Technology Officer and Keeper of the Engine", Phone: "+44 20 7946 0000", Website: "example.com",
	Custom: map[string]string{"vip": "Yes", "seats": "1,200", "since": "2026-01-02T10:00:00Z", "region": "emea", "segment": "Enterprise", "bad": "maybe"}}

func TestRenderTypesAndTrims(t *testing.T) {
	t.Parallel()
	sim, client := startOrg(t)
	lead := describeOf(t, client, "Lead")
	m := leadMapping(
		field("Vip__c", "custom.vip"), field("Seats__c", "custom.seats"), field("Since__c", "custom.since"),
		field("Region__c", "custom.region"), field("Notes__c", "title"), onEmpty(field("Segment__c", "custom.segment"), "SMB"),
		constant("NumberOfEmployees", "42"), tmpl("Description", "{{first_name}} {{custom.missing}} at {{company}}"),
	)
	tests := []struct {
		name    string
		d       *salesforce.Describe
		contact event.Contact
		want    map[string]any
	}{
		{"typed by the describe", lead, ada, map[string]any{
			"FirstName": "Ada", "LastName": "Lovelace", "Company": "Analytical Engines", "Email": "Ada@Example.com",
			"Title": ada.Title, "Phone": ada.Phone, "Website": "example.com", "Vip__c": true, "Seats__c": 1200.0,
			"Since__c": "2026-01-02", "Region__c": "EMEA", "Notes__c": "Chief Technology Off", "Segment__c": "Enterprise",
			"NumberOfEmployees": int64(42), "Description": "Ada at Analytical Engines",
		}},
		{"no describe: text, standard lengths", nil, ada, map[string]any{
			"FirstName": "Ada", "LastName": "Lovelace", "Company": "Analytical Engines", "Email": "Ada@Example.com",
			"Title": ada.Title, "Phone": ada.Phone, "Website": "example.com", "Vip__c": "Yes", "Seats__c": "1,200",
			"Since__c": "2026-01-02T10:00:00Z", "Region__c": "emea", "Notes__c": ada.Title, "Segment__c": "Enterprise",
			"NumberOfEmployees": "42", "Description": "Ada at Analytical Engines",
		}},
		{"required fields from the email", lead, event.Contact{Email: "grace@navy.example"}, map[string]any{
			"LastName": "grace", "Company": "navy.example", "Email": "grace@navy.example", "Segment__c": "SMB", "NumberOfEmployees": int64(42),
		}},
		{"required fields unknown", lead, event.Contact{}, map[string]any{
			"LastName": "Unknown", "Company": "Unknown", "Segment__c": "SMB", "NumberOfEmployees": int64(42),
		}},
		{"long names trimmed without a describe", nil, event.Contact{Email: "x@y.example", FirstName: strings.Repeat("F", 50), LastName: strings.Repeat("L", 90)}, map[string]any{
			"FirstName": strings.Repeat("F", 40), "LastName": strings.Repeat("L", 80), "Company": "y.example", "Email": "x@y.example",
			"Segment__c": "SMB", "NumberOfEmployees": "42", "Description": strings.Repeat("F", 50) + " at",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := mapping.Render(event.ObjectLead, m, tc.d, tc.contact)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			got := map[string]any{}
			for k, v := range rec {
				if k != "attributes" {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v;\nwant %#v", got, tc.want)
			}
			if tc.d == nil {
				return
			}
			res, err := client.CreateCollection(context.Background(), []salesforce.SObject{rec}, salesforce.WriteOptions{})
			if err != nil || len(res) != 1 || !res[0].Success {
				t.Fatalf("create the rendered record: got %v %+v; want success", err, res)
			}
			stored, _ := sim.Record("Lead", res[0].ID)
			if tc.want["Vip__c"] == true && stored["Vip__c"] != true {
				t.Errorf("got stored Vip__c %v; want true", stored["Vip__c"])
			}
		})
	}
}

func TestRenderValueErrors(t *testing.T) {
	t.Parallel()
	_, client := startOrg(t)
	lead := describeOf(t, client, "Lead")
	m := leadMapping(field("Vip__c", "custom.bad"))
	_, err := mapping.Render(event.ObjectLead, m, lead, ada)
	var ve *mapping.ValueError
	if !errors.As(err, &ve) || !errors.Is(err, mapping.ErrValue) || ve.Field != "Vip__c" {
		t.Fatalf("got %v; want a ValueError naming Vip__c", err)
	}
	m = leadMapping(onEmpty(field("Vip__c", "custom.bad"), "false"))
	rec, err := mapping.Render(event.ObjectLead, m, lead, ada)
	if err != nil || rec["Vip__c"] != false {
		t.Errorf("got %v, Vip__c=%v; want on_empty false for an unreadable value", err, rec["Vip__c"])
	}
	if _, err := mapping.Render("Account", m, lead, ada); !errors.Is(err, mapping.ErrInvalid) {
		t.Errorf("got %v; want ErrInvalid for an Account", err)
	}
}

func TestObjectFromPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]event.SalesforceObject{"lead": event.ObjectLead, "contact": event.ObjectContact, "Lead": "", "account": "", "": ""} {
		got, err := mapping.ObjectFromPath(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ObjectFromPath(%q): got %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestEmojiTitleRoundTrips: a Lead title of 130 emoji (260 UTF-16 units) is
// cut to the field's 128 units, as Salesforce counts them, and saved; the
// org reads it back unchanged.
func TestEmojiTitleRoundTrips(t *testing.T) {
	t.Parallel()
	sim, c := startOrg(t)
	lead := describeOf(t, c, "Lead")
	contact := event.Contact{Email: "emoji@example.com", LastName: "L", Company: "C", Title: strings.Repeat("😀", 130)}
	m := mapping.Mapping{Fields: []mapping.Rule{field("Title", "title"), field("LastName", "last_name"), field("Company", "company"), constant("Segment__c", "S")}}
	rec, err := mapping.Render(event.ObjectLead, m, lead, contact)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("😀", 64)
	if rec["Title"] != want {
		t.Fatalf("rendered title: got %d runes; want 64 emoji (128 units)", len([]rune(fmt.Sprint(rec["Title"]))))
	}
	res, err := c.CreateCollection(context.Background(), []salesforce.SObject{rec}, salesforce.WriteOptions{AutoAssign: "FALSE"})
	if err != nil || !res[0].Success {
		t.Fatalf("create: got %v %+v; want saved", err, res)
	}
	if got, _ := sim.Record("Lead", res[0].ID); got["Title"] != want {
		t.Errorf("saved title: got %q; want 64 emoji", got["Title"])
	}
}

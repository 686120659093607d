package mapping_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// bombContact has MaxPlaceholders custom values, v00 ... v19, each value.
func bombContact(value string) event.Contact {
	c := event.Contact{ID: "ct_bomb", Email: "bomb@example.com", LastName: "Bomb", Company: "Bomb Inc", Custom: map[string]string{}}
	for i := range mapping.MaxPlaceholders {
		c.Custom[fmt.Sprintf("v%02d", i)] = value
	}
	return c
}

// bombTemplate names every value of bombContact once: MaxPlaceholders
// placeholders of 4,096 characters each.
func bombTemplate() string {
	var b strings.Builder
	for i := range mapping.MaxPlaceholders {
		fmt.Fprintf(&b, "{{custom.v%02d}}", i)
	}
	return b.String()
}

// bombOrg is a Lead describe with n text fields of the given length,
// Text000__c ..., and the standard fields the record always carries.
func bombOrg(n, length int) *salesforce.Describe {
	d := &salesforce.Describe{Name: "Lead", Createable: true, Fields: []salesforce.DescribeField{
		{Name: "LastName", Type: "string", Length: 80, Createable: true},
		{Name: "Company", Type: "string", Length: 255, Createable: true},
		{Name: "Email", Type: "email", Length: 80, Createable: true, Nillable: true},
	}}
	for i := range n {
		d.Fields = append(d.Fields, salesforce.DescribeField{Name: fmt.Sprintf("Text%03d__c", i), Type: "string", Length: length, Createable: true, Nillable: true, Custom: true})
	}
	return d
}

// bombMapping maps n of bombOrg's fields, each from bombTemplate.
func bombMapping(n int) mapping.Mapping {
	var m mapping.Mapping
	for i := range n {
		m.Fields = append(m.Fields, tmpl(fmt.Sprintf("Text%03d__c", i), bombTemplate()))
	}
	return m
}

// allocated is the bytes the heap handed out while f ran, averaged over runs.
func allocated(runs int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestTemplateBomb: the largest mapping a save accepts (MaxRows rows of
// MaxPlaceholders placeholders, each a 4,096-character custom value) is
// rendered within each field's length, and the work is bounded by what the
// record may hold, never by what the templates would make whole (about 40
// MB here): a record that would outgrow MaxRecordBytes fails, naming the
// field, after at most that much text. Not parallel: it reads the process's
// allocation counters.
func TestTemplateBomb(t *testing.T) {
	m := bombMapping(mapping.MaxRows)
	if err := m.Validate(); err != nil {
		t.Fatalf("validate the largest mapping: %v; want it accepted", err)
	}
	const length = 255
	fits := (mapping.MaxRecordBytes - 1024) / (length + len("Text000__c")) // rows whose full values fit in a record
	longest := func(s string) string { return strings.Repeat(s, event.MaxCustomValue/utf8.RuneCountInString(s)) }
	tests := []struct {
		name    string
		rows    int
		value   string // of 4,096 characters
		wantErr bool
	}{
		{"rows that fit in a record", fits, longest("x"), false},
		{"rows that fit, runs of white space to collapse", fits, longest("x   "), false},
		{"every row: the record outgrows its limit", mapping.MaxRows, longest("x"), true},
		{"every row, four-byte characters", mapping.MaxRows, longest("😀"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := bombContact(tc.value)
			if n := utf8.RuneCountInString(c.Custom["v00"]); n != event.MaxCustomValue {
				t.Fatalf("got values of %d characters; want %d", n, event.MaxCustomValue)
			}
			compiled := mapping.Compile(bombMapping(tc.rows))
			d := bombOrg(mapping.MaxRows, length)
			var rec salesforce.SObject
			var err error
			bytes := allocated(3, func() { rec, err = compiled.Render(event.ObjectLead, d, c) })
			var tooLarge *mapping.RecordTooLargeError
			switch {
			case tc.wantErr && (!errors.As(err, &tooLarge) || !errors.Is(err, mapping.ErrRecordTooLarge) || !strings.HasPrefix(tooLarge.Field, "Text")):
				t.Fatalf("got %v; want a RecordTooLargeError naming a Text field", err)
			case !tc.wantErr && err != nil:
				t.Fatalf("render: %v", err)
			}
			for i := 0; !tc.wantErr && i < tc.rows; i++ {
				name := fmt.Sprintf("Text%03d__c", i)
				v, _ := rec[name].(string)
				if n := utf8.RuneCountInString(v); n != length {
					t.Fatalf("%s: got %d characters; want the field's %d", name, n, length)
				}
			}
			t.Logf("%d bytes allocated per render", bytes)
			// Whole, one row's text alone is 20 x 4,096 characters; every
			// row together about 40 MB. Bounded, a render costs a few times
			// the record it may make.
			if limit := uint64(4 * mapping.MaxRecordBytes); bytes > limit {
				t.Errorf("got %d bytes allocated per render; want at most %d", bytes, limit)
			}
		})
	}
}

// TestTemplateStopsAtTheFieldLength: a template's text is cut to its
// field's length after runs of white space collapse, as if it had been
// built whole and trimmed; a template into a typed field that renders far
// more than any such value is the field's ValueError.
func TestTemplateStopsAtTheFieldLength(t *testing.T) {
	t.Parallel()
	d := &salesforce.Describe{Name: "Lead", Fields: []salesforce.DescribeField{
		{Name: "Short__c", Type: "string", Length: 7, Createable: true},
		{Name: "Pick__c", Type: "picklist", Length: 5, Createable: true},
		{Name: "Seats__c", Type: "double", Createable: true},
	}}
	c := event.Contact{Email: "a@b.example", LastName: "L", Company: "C", FirstName: "  Ada  ", Title: "Chief \t Engineer",
		Custom: map[string]string{"long": strings.Repeat("9", 200), "blank": "   ", "emoji": "ab" + strings.Repeat("😀", 10)}}
	tests := []struct {
		name     string
		rule     mapping.Rule
		field    string
		want     any
		wantFail bool
	}{
		{"cut to the length after collapsing", tmpl("Short__c", "{{first_name}}  {{title}}"), "Short__c", "Ada Chi", false},
		{"a value of white space collapses", tmpl("Short__c", "{{company}}{{custom.blank}}{{last_name}}"), "Short__c", "C L", false},
		{"a picklist keeps one character too many", tmpl("Pick__c", "{{title}}"), "Pick__c", "Chief ", false},
		{"a number from too long a template", tmpl("Seats__c", "{{custom.long}}"), "Seats__c", nil, true},
		// Salesforce counts UTF-16 units: an emoji is 2, and is never split
		{"emoji count two units each", tmpl("Short__c", "{{custom.emoji}}"), "Short__c", "ab😀😀", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := mapping.Render(event.ObjectLead, mapping.Mapping{Fields: []mapping.Rule{tc.rule}}, d, c)
			var ve *mapping.ValueError
			if tc.wantFail {
				if !errors.As(err, &ve) || ve.Field != tc.field {
					t.Fatalf("got %v; want a ValueError naming %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if got := rec[tc.field]; got != tc.want {
				t.Errorf("got %q; want %q", got, tc.want)
			}
		})
	}
}

// TestPlaceholderLimit: a template holds at most MaxPlaceholders
// placeholders; one more is refused naming the row and the field.
func TestPlaceholderLimit(t *testing.T) {
	t.Parallel()
	at := tmpl("Notes__c", bombTemplate())
	over := tmpl("Notes__c", bombTemplate()+"{{first_name}}")
	if err := (mapping.Mapping{Fields: []mapping.Rule{at}}).Validate(); err != nil {
		t.Errorf("%d placeholders: got %v; want accepted", mapping.MaxPlaceholders, err)
	}
	err := mapping.Mapping{Fields: []mapping.Rule{field("LastName", "last_name"), over}}.Validate()
	var ps mapping.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Code != "invalid_template" || ps[0].Field != "fields[1].source.template" ||
		ps[0].Row == nil || *ps[0].Row != 1 || !strings.Contains(ps[0].Message, "at most 20") {
		t.Errorf("%d placeholders: got %v; want one invalid_template problem at fields[1].source.template", mapping.MaxPlaceholders+1, err)
	}
	body := `{"fields":[{"salesforce_field":"Notes__c","source":{"template":` + fmt.Sprintf("%q", over.Source.Template) + `}}]}`
	if _, err := mapping.Parse([]byte(body)); !errors.As(err, &ps) || ps[0].Field != "fields[0].source.template" {
		t.Errorf("parse %d placeholders: got %v; want invalid_template at fields[0].source.template", mapping.MaxPlaceholders+1, err)
	}
}

// TestTemplatesParsedOnce: rendering a contact through a compiled mapping
// parses nothing: it allocates as much for templates of twenty
// placeholders as for templates of one, while rendering from the bare
// mapping (parsing each time) allocates for every placeholder.
func TestTemplatesParsedOnce(t *testing.T) {
	empties := strings.Repeat("{{custom.none}}", mapping.MaxPlaceholders-1)
	one, twenty := mapping.Mapping{}, mapping.Mapping{}
	for i := range 50 {
		name := fmt.Sprintf("Text%03d__c", i)
		one.Fields = append(one.Fields, tmpl(name, "{{first_name}}"))
		twenty.Fields = append(twenty.Fields, tmpl(name, "{{first_name}}"+empties))
	}
	d := bombOrg(50, 255)
	c := event.Contact{Email: "ada@example.com", FirstName: "Ada", Custom: map[string]string{}}
	allocs := func(f func()) float64 { return testing.AllocsPerRun(20, f) }
	compiledOne, compiledTwenty := mapping.Compile(one), mapping.Compile(twenty)
	a := allocs(func() { _, _ = compiledOne.Render(event.ObjectLead, d, c) })
	b := allocs(func() { _, _ = compiledTwenty.Render(event.ObjectLead, d, c) })
	if b != a {
		t.Errorf("compiled render: got %v allocations with 20 placeholders a template; want %v, as with 1", b, a)
	}
	if parsing := allocs(func() { _, _ = mapping.Render(event.ObjectLead, twenty, d, c) }); parsing < b+50 {
		t.Errorf("render parsing every time: got %v allocations; want more than %v (the test must see a parse)", parsing, b+50)
	}
}

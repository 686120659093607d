package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Parse reads a mapping document ({"fields":[...]}) from JSON and checks its
// structure with Validate. Unknown keys, nulls and wrong types are problems
// naming the request field and the row; every problem is reported at once.
func Parse(data []byte) (Mapping, error) {
	obj, err := object(data, "body")
	if err != nil {
		return Mapping{}, Problems{*err}
	}
	m, ps := parseDocument(obj, "")
	if ps = withStructure(m, ps); len(ps) > 0 {
		return Mapping{}, ps
	}
	return m, nil
}

// withStructure adds the structural problems of the rows that decoded
// cleanly to the decoding problems ps, so one answer lists them all.
func withStructure(m Mapping, ps Problems) Problems {
	if len(m.Fields) > MaxRows {
		return ps
	}
	broken := map[int]bool{}
	for _, p := range ps {
		if p.Row != nil {
			broken[*p.Row] = true
		}
	}
	seen := map[string]int{}
	for i, r := range m.Fields {
		if !broken[i] {
			ps = append(ps, validateRow(i, r, seen)...)
		}
	}
	ps.sort()
	return ps
}

// ParseValue reads a mapping document held in a larger request (the preview's
// "mapping" member); field names are prefixed with prefix.
func ParseValue(raw json.RawMessage, prefix string) (Mapping, error) {
	obj, err := object(raw, strings.TrimSuffix(prefix, "."))
	if err != nil {
		return Mapping{}, Problems{*err}
	}
	m, ps := parseDocument(obj, prefix)
	if ps = withStructure(m, ps); len(ps) > 0 {
		for i := range ps {
			if !strings.HasPrefix(ps[i].Field, prefix) {
				ps[i].Field = prefix + ps[i].Field
				ps[i].Message = prefix + ps[i].Message
			}
		}
		return Mapping{}, ps
	}
	return m, nil
}

func parseDocument(obj map[string]json.RawMessage, prefix string) (Mapping, Problems) {
	var ps Problems
	for _, k := range unknownKeys(obj, "fields") {
		ps = append(ps, problem(nil, "", prefix+k, "unknown_field", "unknown field; a mapping holds only fields"))
	}
	raw, ok := obj["fields"]
	if !ok || isNull(raw) {
		return Mapping{}, append(ps, problem(nil, "", prefix+"fields", "invalid_request", "is required: an array of {salesforce_field, source, on_empty?} rows"))
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return Mapping{}, append(ps, problem(nil, "", prefix+"fields", "invalid_request", "must be an array of rows"))
	}
	if len(rows) > MaxRows {
		return Mapping{}, append(ps, problem(nil, "", prefix+"fields", "too_many_rows", fmt.Sprintf("%d rows exceed the limit of %d", len(rows), MaxRows)))
	}
	m := Mapping{Fields: make([]Rule, len(rows))}
	for i, rr := range rows {
		r, rps := parseRow(i, rr, prefix)
		m.Fields[i] = r
		ps = append(ps, rps...)
	}
	return m, ps
}

func parseRow(i int, raw json.RawMessage, prefix string) (Rule, Problems) {
	var r Rule
	var ps Problems
	at := fmt.Sprintf("%sfields[%d]", prefix, i)
	obj, perr := object(raw, at)
	if perr != nil {
		perr.Row = rowIndex(i)
		return r, Problems{*perr}
	}
	sfName, _ := stringOf(obj["salesforce_field"])
	add := func(field, code, msg string) { ps = append(ps, problem(rowIndex(i), sfName, at+field, code, msg)) }
	for _, k := range unknownKeys(obj, "salesforce_field", "source", "on_empty") {
		add("."+k, "unknown_field", "unknown field; a row holds salesforce_field, source and on_empty")
	}
	if v, ok := obj["salesforce_field"]; !ok || isNull(v) {
		add(".salesforce_field", "invalid_field_name", "is required: the Salesforce field's API name, e.g. LastName or Industry__c")
	} else if s, ok := stringOf(v); !ok {
		add(".salesforce_field", "invalid_field_name", "must be a string")
	} else {
		r.SalesforceField = s
	}
	if v, ok := obj["on_empty"]; ok {
		if s, ok := stringOf(v); ok {
			r.OnEmpty = &s
		} else {
			add(".on_empty", "invalid_on_empty", "must be a string (leave it out for none)")
		}
	}
	srcRaw, ok := obj["source"]
	if !ok || isNull(srcRaw) {
		add(".source", "invalid_source", `is required: {"field": ...}, {"constant": ...} or {"template": ...}`)
		return r, ps
	}
	src, serr := object(srcRaw, at+".source")
	if serr != nil {
		serr.Row, serr.SalesforceField = rowIndex(i), sfName
		return r, append(ps, *serr)
	}
	for _, k := range unknownKeys(src, "field", "constant", "template") {
		add(".source."+k, "unknown_field", "unknown field; a source is one of field, constant or template")
	}
	for _, k := range []string{"field", "constant", "template"} {
		v, ok := src[k]
		if !ok {
			continue
		}
		s, isStr := stringOf(v)
		if !isStr {
			add(".source."+k, "invalid_source", "must be a string")
			continue
		}
		switch k {
		case "field":
			if s == "" {
				add(".source.field", "unknown_source_field", "must not be empty")
			}
			r.Source.Field = s
		case "constant":
			r.Source.Constant = &s
		case "template":
			if s == "" {
				add(".source.template", "invalid_template", "must not be empty")
			}
			r.Source.Template = s
		}
	}
	return r, ps
}

func problem(row *int, sf, field, code, msg string) Problem {
	return Problem{Row: row, SalesforceField: sf, Field: field, Code: code, Message: field + ": " + msg}
}

// object decodes a JSON object, naming field in the problem when it is not one.
func object(data []byte, field string) (map[string]json.RawMessage, *Problem) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		p := problem(nil, "", field, "invalid_request", "is empty; a JSON object is required")
		return nil, &p
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			p := problem(nil, "", field, "invalid_request", "is not valid JSON")
			return nil, &p
		}
		p := problem(nil, "", field, "invalid_request", "must be a JSON object")
		return nil, &p
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&obj); err != nil {
		p := problem(nil, "", field, "invalid_request", "is not valid JSON")
		return nil, &p
	}
	if dec.More() {
		p := problem(nil, "", field, "invalid_request", "must hold exactly one JSON value")
		return nil, &p
	}
	return obj, nil
}

func unknownKeys(obj map[string]json.RawMessage, known ...string) []string {
	var out []string
	for k := range obj {
		found := false
		for _, n := range known {
			found = found || k == n
		}
		if !found {
			out = append(out, clip(k))
		}
	}
	sort.Strings(out)
	return out
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func stringOf(raw json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(t, &s); err != nil {
		return "", false
	}
	return s, true
}

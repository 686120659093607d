package event

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaLimitsMatchGo reads the numbers and patterns out of
// defs.schema.json and compares them with the constants Decode uses, so the
// two cannot drift apart unnoticed.
func TestSchemaLimitsMatchGo(t *testing.T) {
	t.Parallel()
	var defs any
	if err := json.Unmarshal(readFile(t, filepath.Join(eventsDir, "schema", "defs.schema.json")), &defs); err != nil {
		t.Fatal(err)
	}
	at := func(path string) any {
		v := defs
		for _, k := range strings.Split(path, "/") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: no object at %s", path, k)
			}
			v = m[k]
		}
		return v
	}
	tests := []struct {
		path string
		want any
	}{
		{"$defs/id/maxLength", float64(MaxIDLength)},
		{"$defs/id/pattern", idPattern},
		{"$defs/timestamp/pattern", timestampPattern},
		{"$defs/email/maxLength", float64(MaxEmailLength)},
		{"$defs/email/pattern", emailPattern},
		{"$defs/sequence/properties/name/maxLength", float64(MaxNameLength)},
		{"$defs/contact/properties/first_name/maxLength", float64(MaxNameLength)},
		{"$defs/contact/properties/last_name/maxLength", float64(MaxNameLength)},
		{"$defs/contact/properties/company/maxLength", float64(MaxNameLength)},
		{"$defs/contact/properties/title/maxLength", float64(MaxNameLength)},
		{"$defs/contact/properties/phone/maxLength", float64(MaxNameLength)},
		{"$defs/contact/properties/website/maxLength", float64(MaxWebLength)},
		{"$defs/contact/properties/linkedin_url/maxLength", float64(MaxWebLength)},
		{"$defs/contact/properties/custom/maxProperties", float64(MaxCustomFields)},
		{"$defs/contact/properties/custom/propertyNames/maxLength", float64(MaxCustomKey)},
		{"$defs/contact/properties/custom/propertyNames/pattern", customKeyPattern},
		{"$defs/contact/properties/custom/additionalProperties/maxLength", float64(MaxCustomValue)},
		{"$defs/message/properties/subject/maxLength", float64(MaxSubjectLength)},
		{"$defs/message/properties/body_text/maxLength", float64(MaxBodyTextLength)},
		{"$defs/message/properties/step/maximum", float64(MaxStep)},
		{"$defs/message/properties/url/maxLength", float64(MaxURLLength)},
		{"$defs/message/properties/url/pattern", urlPattern},
		{"$defs/message/properties/reason/maxLength", float64(MaxReasonLength)},
		{"$defs/user/properties/name/maxLength", float64(MaxNameLength)},
		{"$defs/unsubscribeReason/maxLength", float64(MaxUnsubscribeReasonLength)},
		{"$defs/unsubscribeReason/type", "string"},
		{"$defs/user/properties/id/$ref", "#/$defs/id"},
		{"$defs/user/properties/email/$ref", "#/$defs/email"},
		{"$defs/envelope/properties/version/const", float64(Version)},
	}
	for _, tc := range tests {
		if got := at(tc.path); got != tc.want {
			t.Errorf("%s: got %v; want %v", tc.path, got, tc.want)
		}
	}
}

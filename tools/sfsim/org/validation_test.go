package org

import (
	"strings"
	"testing"
)

func TestValidationRules(t *testing.T) {
	t.Parallel()
	o := New(Config{})
	o.AddValidationRule(ValidationRule{Object: "Lead", Field: "Company", Forbid: "Globex", Message: "Leads from competitors are not allowed"})
	tests := []struct {
		company string
		wantErr string
	}{
		{"Initech", ""},
		{"globex ", "FIELD_CUSTOM_VALIDATION_EXCEPTION"},
	}
	for _, tt := range tests {
		_, err := o.Seed("Lead", map[string]any{"LastName": "X", "Company": tt.company})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (tt.wantErr == "") != (got == "") || !strings.Contains(got, tt.wantErr) {
			t.Errorf("company %q: got %q; want %q", tt.company, got, tt.wantErr)
		}
	}
	o.RemoveValidationRules()
	if _, err := o.Seed("Lead", map[string]any{"LastName": "X", "Company": "Globex"}); err != nil {
		t.Errorf("after the rule was removed: got %v; want success", err)
	}
}

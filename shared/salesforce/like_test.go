package salesforce_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/salesforce"
)

// A LIKE pattern escapes the value's own wildcards and quotes as
// QuoteString does; only the pattern's own % are wildcards.
func TestQuoteLike(t *testing.T) {
	tests := []struct {
		name, in, contains, suffix string
	}{
		{"plain domain", "acme.com", `'%acme.com%'`, `'%acme.com'`},
		{"wildcards escaped", "a_b%c", `'%a\_b\%c%'`, `'%a\_b\%c'`},
		{"quote and backslash", `o'b\`, `'%o\'b\\%'`, `'%o\'b\\'`},
		{"empty", "", `'%%'`, `'%'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := salesforce.QuoteLikeContains(tt.in); got != tt.contains {
				t.Errorf("QuoteLikeContains(%q): got %s; want %s", tt.in, got, tt.contains)
			}
			if got := salesforce.QuoteLikeSuffix(tt.in); got != tt.suffix {
				t.Errorf("QuoteLikeSuffix(%q): got %s; want %s", tt.in, got, tt.suffix)
			}
		})
	}
	if got := salesforce.QuoteString("a_b%c"); got != `'a_b%c'` {
		t.Errorf("QuoteString keeps wildcards as they are outside LIKE: got %s; want 'a_b%%c'", got)
	}
}

// An owner is refused when inactive, or when it is no user of the org
// (a reference error naming OwnerId); a bad AccountId is another matter.
func TestOwnerRefused(t *testing.T) {
	tests := []struct {
		e    salesforce.ErrorItem
		want bool
	}{
		{salesforce.ErrorItem{Code: "INACTIVE_OWNER_OR_USER"}, true},
		{salesforce.ErrorItem{Code: "INVALID_CROSS_REFERENCE_KEY", Fields: []string{"OwnerId"}}, true},
		{salesforce.ErrorItem{Code: "INVALID_CROSS_REFERENCE_KEY", Fields: []string{"AccountId"}}, false},
		{salesforce.ErrorItem{Code: "REQUIRED_FIELD_MISSING", Fields: []string{"OwnerId"}}, false},
	}
	for _, tt := range tests {
		if got := salesforce.OwnerRefused(salesforce.SaveResult{Errors: []salesforce.ErrorItem{tt.e}}); got != tt.want {
			t.Errorf("OwnerRefused(%s %v): got %v; want %v", tt.e.Code, tt.e.Fields, got, tt.want)
		}
	}
}

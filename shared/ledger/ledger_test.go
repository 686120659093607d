package ledger_test

import (
	"testing"

	"github.com/sfsync/sfsync/shared/ledger"
)

// TestNormalizeEmail: an email's ledger key is the email trimmed and
// lower-cased, as Salesforce matches emails case-insensitively (R5), so
// two spellings of one address are one record.
func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"ada@example.com", "ada@example.com"},
		{"Ada.Lovelace@Example.COM", "ada.lovelace@example.com"},
		{"  ada@example.com\t", "ada@example.com"},
		{" MIXED@Case.Example ", "mixed@case.example"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ledger.NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

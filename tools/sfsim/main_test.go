package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	t.Parallel()
	badDef := filepath.Join(t.TempDir(), "def.json")
	if err := os.WriteFile(badDef, []byte(`{"customFields":{"Lead":[{"name":"NoSuffix","type":"text"}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-duplicate-rule-lead", "sometimes"}, "-duplicate-rule-lead"},
		{[]string{"-duplicate-rule-contact", "x"}, "-duplicate-rule-contact"},
		{[]string{"-daily-limit", "0"}, "-daily-limit"},
		{[]string{"-latency", "soon"}, "latency"},
		{[]string{"-page-size", "-1"}, "-page-size"},
		{[]string{"-time-zone", "Mars/Olympus_Mons"}, "-time-zone"},
		{[]string{"-time-zone", "Local"}, "-time-zone"},
		{[]string{"-org-definition", badDef}, "customFields.Lead[0]: name"},
		{[]string{"-org-definition", filepath.Join(t.TempDir(), "missing.json")}, "read org definition"},
		{[]string{"-no-such-flag"}, "no-such-flag"},
	}
	for _, tc := range cases {
		err := run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("run(%v): got %v; want an error naming %q", tc.args, err, tc.wantErr)
		}
	}
	if err := run([]string{"-h"}); err != nil {
		t.Errorf("run(-h): got %v; want nil", err)
	}
}

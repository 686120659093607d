package org

import (
	"fmt"
	"strings"
	"testing"
)

func TestDuplicateRulesAreQueryable(t *testing.T) {
	t.Parallel()
	active := func(o *Org) string {
		var got []string
		for _, r := range recordsOf(t, newClient(t, o).query("SELECT DeveloperName, MasterLabel, SobjectType FROM DuplicateRule WHERE IsActive = true ORDER BY SobjectType")) {
			got = append(got, fmt.Sprintf("%v:%v", r["SobjectType"], r["DeveloperName"]))
		}
		return strings.Join(got, ",")
	}
	o, _ := testOrg(t, Config{})
	if got, want := active(o), "Contact:Standard_Contact_Duplicate_Rule,Lead:Standard_Lead_Duplicate_Rule"; got != want {
		t.Errorf("default org: got %s; want %s", got, want)
	}
	if err := o.SetDuplicateRule("Lead", DuplicateRule{}); err != nil {
		t.Fatal(err)
	}
	if got, want := active(o), "Contact:Standard_Contact_Duplicate_Rule"; got != want {
		t.Errorf("Lead rule off: got %s; want %s", got, want)
	}
	lenient, _ := testOrg(t, Config{Lenient: true})
	if got := active(lenient); got != "" {
		t.Errorf("lenient org: got %s; want no active rule", got)
	}
	if n := len(recordsOf(t, newClient(t, lenient).query("SELECT Id FROM DuplicateRule"))); n != 2 {
		t.Errorf("lenient org: got %d rules; want the 2 standard ones, inactive", n)
	}
	c := newClient(t, o)
	if r := c.do("POST", v+"/sobjects/DuplicateRule", map[string]any{"DeveloperName": "x"}); r.status != 400 || errorsOf(r.body)[0] != "INVALID_TYPE_FOR_OPERATION" {
		t.Errorf("create DuplicateRule: got %d %s; want 400 INVALID_TYPE_FOR_OPERATION", r.status, r.raw)
	}
}

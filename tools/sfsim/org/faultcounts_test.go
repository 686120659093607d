package org

import "testing"

func TestFaultCounts(t *testing.T) {
	t.Parallel()
	o, _ := testOrg(t, Config{Seed: 7})
	c := newClient(t, o)
	every, err := o.AddFault(Fault{Method: "GET", PathPrefix: "/services/data/", Fraction: 1, ErrorCode: "SERVER_UNAVAILABLE"})
	if err != nil {
		t.Fatal(err)
	}
	once, err := o.AddFault(Fault{Method: "POST", Times: 2, Status: 500})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c.do("GET", v+"/limits", nil)
	}
	c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "A", "Company": "C"})
	got := o.FaultCounts()
	if len(got) != 2 || got[0].ID != every || got[0].Fired != 3 || got[1].ID != once || got[1].Fired != 1 {
		t.Fatalf("counts: got %+v; want rule %d fired 3, rule %d fired 1", got, every, once)
	}
	if got[0].Fault.ErrorCode != "SERVER_UNAVAILABLE" || got[0].Fault.Status != 503 {
		t.Errorf("rule: got %+v; want the installed SERVER_UNAVAILABLE rule", got[0].Fault)
	}
	c.do("POST", v+"/sobjects/Lead", map[string]any{"LastName": "B", "Company": "C"})
	if got := o.FaultCounts(); len(got) != 1 || got[0].ID != every {
		t.Errorf("after the limited rule is used up: got %+v; want only rule %d", got, every)
	}
	o.ClearFaults()
	if got := o.FaultCounts(); len(got) != 0 {
		t.Errorf("after ClearFaults: got %+v; want none", got)
	}
}

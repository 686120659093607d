package contactsync_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
)

// step is one batch of a story: do runs first (a mapping saved, the
// connection changed, a fault injected), then the deliveries are
// processed as one batch.
type step struct {
	do func(t *testing.T, r *rig)
	ds []delivery.Delivery
}

// batch is a step of the deliveries alone.
func batch(ds ...delivery.Delivery) step { return step{ds: ds} }

// story is a rule told as batches processed in turn, on a rig set up
// first, and what the org and the answers hold at the end.
type story struct {
	name string
	// setup saves policies (each in effect from its own time) and seeds
	// the org; it returns the ids of the records it seeded, by label.
	setup func(t *testing.T, r *rig) map[string]string
	steps []step
	// want is the last answer published for each event (see rig.answer);
	// "" means none was.
	want map[string]string
	// same lists groups of events (and "@label"s of seeded records) whose
	// answers name one Salesforce record; apart lists events whose answers
	// name records all different.
	same  [][]string
	apart []string
	// leads and contacts are how many of each the org holds at the end,
	// seeded ones included.
	leads, contacts int
	// check states what else the rule says; back is what each step's
	// batch gave back.
	check func(t *testing.T, r *rig, back []map[string]error)
}

// runStories runs each story on a rig of its own, in parallel.
func runStories(t *testing.T, stories []story) {
	t.Helper()
	for _, s := range stories {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t)
		})
	}
}

func (s story) run(t *testing.T) {
	r := newRig()
	ids := map[string]string{}
	if s.setup != nil {
		if seeded := s.setup(t, r); seeded != nil {
			ids = seeded
		}
	}
	var back []map[string]error
	for _, st := range s.steps {
		if st.do != nil {
			st.do(t, r)
		}
		back = append(back, r.process(st.ds...))
	}
	for _, id := range slices.Sorted(maps.Keys(s.want)) {
		if got := r.answer(id); got != s.want[id] {
			t.Errorf("%s: got answer %q; want %q", id, got, s.want[id])
		}
	}
	for _, group := range s.same {
		refs := map[string]bool{}
		for _, x := range group {
			refs[r.refOf(x, ids)] = true
		}
		if len(refs) != 1 || refs[""] {
			t.Errorf("records of %v: got %v; want one and the same", group, slices.Sorted(maps.Keys(refs)))
		}
	}
	seen := map[string]string{}
	for _, x := range s.apart {
		ref := r.refOf(x, ids)
		if other, dup := seen[ref]; dup || ref == "" {
			t.Errorf("records of %s and %s: got %q for both; want a record each", other, x, ref)
		}
		seen[ref] = x
	}
	if got := len(r.org.Records(orgtest.Lead)); got != s.leads {
		t.Errorf("Leads in the org: got %d; want %d", got, s.leads)
	}
	if got := len(r.org.Records(orgtest.Contact)); got != s.contacts {
		t.Errorf("Contacts in the org: got %d; want %d", got, s.contacts)
	}
	if s.check != nil {
		s.check(t, r, back)
	}
}

// refOf is the id of the record an event's last answer names, or of the
// seeded record "@label".
func (r *rig) refOf(x string, ids map[string]string) string {
	if label, ok := strings.CutPrefix(x, "@"); ok {
		return ids[label]
	}
	outs := r.pub.of(x)
	if len(outs) == 0 || outs[len(outs)-1].Salesforce == nil {
		return ""
	}
	return outs[len(outs)-1].Salesforce.ID
}

package activitysync_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
)

// sentBy is an email.sent of contact by the rep with email rep.
func sentBy(id, contact, rep string, at time.Time) delivery.Delivery {
	d := email(id, event.EmailSent, contact, at)
	ed := d.Event.Data.(event.EmailData)
	ed.User = &event.User{ID: "usr_" + id, Email: rep}
	d.Event.Data = ed
	return d
}

// TestTaskOwnerRules (R10): a Task belongs to the rep who sent the email
// when the rep is an active Salesforce user; a rep whose user Salesforce
// refuses as inactive (deactivated since it was learned) has the Task
// come back, and it then goes to the connected user, the rep known
// inactive.
func TestTaskOwnerRules(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.member("c1", ledger.MemberSynced)
	r.member("c2", ledger.MemberSynced)
	rep := r.org.Seed(orgtest.User, map[string]any{"LastName": "Rep", "Email": "rep@sales.example", "IsActive": true})
	first := sentBy("1", "c1", "Rep@Sales.example", start.Add(-time.Hour))
	r.process(first)
	owners := func() map[string]any {
		out := map[string]any{}
		for _, task := range r.tasks() {
			out[task.Fields["WhoId"].(string)] = task.Fields["OwnerId"]
		}
		return out
	}
	if o := r.pub.last()["evt_1"]; o.Salesforce == nil || o.Salesforce.OwnerID != rep || o.Salesforce.Match.Owner != event.OwnerRep {
		t.Fatalf("first: got %+v; want the rep's Task", o.Salesforce)
	}
	r.org.Update(rep, map[string]any{"IsActive": false})
	second := sentBy("2", "c2", "rep@sales.example", start.Add(-time.Hour))
	r.process(second)
	if err := r.back[second.ID]; !errors.Is(err, delivery.ErrRetry) {
		t.Fatalf("refused as inactive: got %v back; want ErrRetry", err)
	}
	r.process(second)
	if o := r.pub.last()["evt_2"]; o.Salesforce == nil || o.Salesforce.OwnerID != orgtest.ConnectedUserID || o.Salesforce.Match.Owner != event.OwnerFallback {
		t.Errorf("again: got %+v; want the connected user's Task", o.Salesforce)
	}
	if got := owners(); len(got) != 2 {
		t.Errorf("Tasks: got %v; want one on each contact", got)
	}
}

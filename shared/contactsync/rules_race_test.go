package contactsync_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/delivery"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgertest"
	"github.com/sfsync/sfsync/shared/orgs/orgtest"
)

// afterSave is a worker's ledger that runs then once, right after its
// first SaveRecords: what another worker does between this one saving
// its records and answering.
type afterSave struct {
	contactsync.Ledger
	once sync.Once
	then func()
}

func (l *afterSave) SaveRecords(ctx context.Context, rs []ledger.Record) ([]error, error) {
	errs, err := l.Ledger.SaveRecords(ctx, rs)
	l.once.Do(l.then)
	return errs, err
}

// TestARacingCopyAnswersAsTheFirst (R5, R9): a copy of an event that a
// second worker processes while the first is between saving the record it
// created and answering gives the same answer, created with the same id,
// not linked/already_synced; nothing is created twice.
func TestARacingCopyAnswersAsTheFirst(t *testing.T) {
	t.Parallel()
	r := newRig()
	d := added("evt_add", "seq_1", ada, at(1))
	second := r.engine(r.ledger, "worker_2")
	secondPub := &published{}
	second.Publisher = secondPub
	var secondBack map[string]error
	r.e.Ledger = &afterSave{Ledger: r.ledger, then: func() {
		secondBack = second.Process(context.Background(), ds(d))
	}}
	if back := r.process(d); len(back) != 0 {
		t.Fatalf("first worker: got %v back; want none", back)
	}
	if len(secondBack) != 0 {
		t.Fatalf("second worker: got %v back; want none", secondBack)
	}
	first, racing := r.pub.of("evt_add"), secondPub.of("evt_add")
	if len(first) != 1 || len(racing) != 1 {
		t.Fatalf("answers: got %d and %d; want one each", len(first), len(racing))
	}
	for _, o := range []struct {
		who string
		got string
	}{{"first", brief(first[0])}, {"second", brief(racing[0])}} {
		if o.got != "created" {
			t.Errorf("%s worker's answer: got %q; want %q", o.who, o.got, "created")
		}
	}
	if first[0].Salesforce == nil || racing[0].Salesforce == nil || !reflect.DeepEqual(*first[0].Salesforce, *racing[0].Salesforce) {
		t.Errorf("records: got %+v and %+v; want the same", first[0].Salesforce, racing[0].Salesforce)
	}
	if n := len(r.org.Records(orgtest.Lead)); n != 1 {
		t.Errorf("Leads: got %d; want 1", n)
	}
}

// workerLedger is one worker's view of a ledger several workers share:
// its records are saved under its own claim owner, as each worker's
// DynamoDB ledger saves under its own name. The views of one ledger share
// saves, so that one saves at a time.
type workerLedger struct {
	*ledgertest.Memory
	owner string
	saves *sync.Mutex
}

func (w workerLedger) SaveRecords(ctx context.Context, rs []ledger.Record) ([]error, error) {
	w.saves.Lock()
	defer w.saves.Unlock()
	w.Memory.Owner = w.owner
	return w.Memory.SaveRecords(ctx, rs)
}

// meetOrgs opens the team's org so that each engine's first lookup, once
// answered, waits for the other's: both have found nothing, in the ledger
// and in Salesforce, before either goes on to claim and create.
type meetOrgs struct {
	contactsync.Orgs
	t    *testing.T
	meet *sync.WaitGroup
}

func (o meetOrgs) Open(ctx context.Context, teamID string) (contactsync.Org, delivery.Connection, error) {
	org, conn, err := o.Orgs.Open(ctx, teamID)
	if err != nil {
		return nil, conn, err
	}
	return &meetOrg{Org: org, t: o.t, meet: o.meet}, conn, nil
}

type meetOrg struct {
	contactsync.Org
	t    *testing.T
	meet *sync.WaitGroup
	once sync.Once
}

func (o *meetOrg) FindByEmail(ctx context.Context, emails []string) (map[string]ledger.Match, error) {
	found, err := o.Org.FindByEmail(ctx, emails)
	o.once.Do(func() {
		o.meet.Done()
		met := make(chan struct{})
		go func() { o.meet.Wait(); close(met) }()
		select {
		case <-met:
		case <-time.After(time.Minute): // a guard against a hang, not a wait for the other
			o.t.Errorf("the other engine never looked up: got one lookup; want two")
		}
	})
	return found, err
}

// TestRacingEnginesCreateOneRecord (R5): two workers processing the same
// event at once, on one ledger and one org, both finding nothing, create
// one record: one creates it, the other finds the email claimed and comes
// back; when it does, it answers as the first did.
func TestRacingEnginesCreateOneRecord(t *testing.T) {
	t.Parallel()
	r := newRig()
	meet := &sync.WaitGroup{}
	meet.Add(2)
	saves := &sync.Mutex{}
	pubs := []*published{{}, {}}
	var engines []*contactsync.Engine
	for i, owner := range []string{"worker_1", "worker_2"} {
		e := r.engine(workerLedger{Memory: r.ledger, owner: owner, saves: saves}, owner)
		e.Orgs, e.Publisher = meetOrgs{Orgs: e.Orgs, t: t, meet: meet}, pubs[i]
		engines = append(engines, e)
	}
	d := added("evt_add", "seq_1", ada, at(1))
	backs := make([]map[string]error, 2)
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backs[i] = e.Process(context.Background(), ds(d))
		}()
	}
	wg.Wait()
	loser := -1
	for i, back := range backs {
		switch err := back["msg_evt_add"]; {
		case err == nil:
		case errors.Is(err, delivery.ErrRetry) && errors.Is(err, ledger.ErrClaimed) && loser < 0:
			loser = i
		default:
			t.Errorf("worker %d: got %v back; want nothing, or the email claimed (ErrRetry, ErrClaimed)", i+1, err)
		}
	}
	if loser < 0 {
		t.Fatalf("got both workers through; want one to find the email claimed")
	}
	if back := engines[loser].Process(context.Background(), ds(d)); len(back) != 0 {
		t.Fatalf("the loser again: got %v back; want none", back)
	}
	a, b := pubs[0].of("evt_add"), pubs[1].of("evt_add")
	if len(a) == 0 || len(b) == 0 || brief(a[len(a)-1]) != "created" || brief(b[len(b)-1]) != "created" ||
		!reflect.DeepEqual(*a[len(a)-1].Salesforce, *b[len(b)-1].Salesforce) {
		t.Errorf("answers: got %+v and %+v; want both created, with one id", a, b)
	}
	if n, c := len(r.org.Records(orgtest.Lead)), r.org.Calls(orgtest.CallCreate); n != 1 || c != 1 {
		t.Errorf("Leads: got %d in %d creates; want 1 in 1", n, c)
	}
}

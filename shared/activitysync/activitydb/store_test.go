package activitydb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/activitysync"
	"github.com/sfsync/sfsync/shared/activitysync/activitydb"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
)

var awsCfg aws.Config

// TestMain points the tests at the shared moto_server through the atomic
// proxy, as the stack runs: moto's transactions are not atomic, and do not
// return the items found by failed conditions.
func TestMain(m *testing.M) {
	os.Exit(motoserver.RunTests(m, func(cfg aws.Config) {
		p, err := motoserver.StartAtomicProxy(aws.ToString(cfg.BaseEndpoint))
		if err != nil {
			panic(err)
		}
		cfg.BaseEndpoint = aws.String(p.URL)
		awsCfg = cfg
	}))
}

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newStore provisions fresh tables and queues (unique prefix).
func newStore(t *testing.T) (*activitydb.Store, *clock, *runner.Provisioned) {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prov, err := runner.Provision(context.Background(), awsCfg, "act-"+hex.EncodeToString(b), runner.ProvisionOptions{ClientSecret: "x"})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	clk := &clock{}
	clk.ns.Store(time.Now().UnixNano())
	return &activitydb.Store{DB: dynamodb.NewFromConfig(awsCfg), Table: prov.Env[resources.EnvLedgerTable], Now: clk.Now}, clk, prov
}

// claim is ClaimAll of one key.
func claim(s *activitydb.Store, team, key, eventID, owner string, until time.Time) (activitysync.Claim, error) {
	res, err := s.ClaimAll(context.Background(), team, []activitysync.ClaimRequest{{Key: key, EventID: eventID}}, owner, until)
	if err != nil {
		return activitysync.Claim{}, err
	}
	return res[0].Claim, res[0].Err
}

// done is DoneAll of one Task.
func done(s *activitydb.Store, team, key, owner, taskID string) error {
	errs, err := s.DoneAll(context.Background(), team, owner, []activitysync.LoggedTask{{Key: key, TaskID: taskID}})
	if err != nil {
		return err
	}
	return errs[0]
}

func TestClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t)
	until := func() time.Time { return clk.Now().Add(time.Minute) }
	type step struct {
		name    string
		do      func() (activitysync.Claim, error)
		want    activitysync.Claim
		wantErr error
	}
	steps := []step{
		{"first claim is fresh", func() (activitysync.Claim, error) { return claim(s, "t1", "k1", "evt_1", "w1", until()) },
			activitysync.Claim{EventID: "evt_1"}, nil},
		{"another owner waits", func() (activitysync.Claim, error) { return claim(s, "t1", "k1", "evt_2", "w2", until()) },
			activitysync.Claim{}, activitysync.ErrClaimed},
		{"abandoned claim: next one is attempted", func() (activitysync.Claim, error) {
			if err := s.AbandonAll(ctx, "t1", "w1", []string{"k1"}); err != nil {
				return activitysync.Claim{}, err
			}
			return claim(s, "t1", "k1", "evt_2", "w2", until())
		}, activitysync.Claim{EventID: "evt_1", Attempted: true}, nil},
		{"expired claim: attempted", func() (activitysync.Claim, error) {
			clk.Advance(2 * time.Minute)
			return claim(s, "t1", "k1", "evt_3", "w3", until())
		}, activitysync.Claim{EventID: "evt_1", Attempted: true}, nil},
		{"done: the Task comes back", func() (activitysync.Claim, error) {
			if err := done(s, "t1", "k1", "w3", "00T000000000001"); err != nil {
				return activitysync.Claim{}, err
			}
			return claim(s, "t1", "k1", "evt_4", "w4", until())
		}, activitysync.Claim{EventID: "evt_1", TaskID: "00T000000000001"}, nil},
		{"done again with the same Task: no-op", func() (activitysync.Claim, error) {
			if err := done(s, "t1", "k1", "w3", "00T000000000001"); err != nil {
				return activitysync.Claim{}, err
			}
			return claim(s, "t1", "k1", "evt_4", "w4", until())
		}, activitysync.Claim{EventID: "evt_1", TaskID: "00T000000000001"}, nil},
		{"done with another Task: refused", func() (activitysync.Claim, error) {
			return activitysync.Claim{}, done(s, "t1", "k1", "w4", "00T000000000002")
		}, activitysync.Claim{}, activitysync.ErrOtherTask},
		{"released: the next claim starts afresh", func() (activitysync.Claim, error) {
			if _, err := claim(s, "t1", "k2", "evt_5", "w1", until()); err != nil {
				return activitysync.Claim{}, err
			}
			if err := s.Unclaim(ctx, "t1", "k2", "w1"); err != nil {
				return activitysync.Claim{}, err
			}
			return claim(s, "t1", "k2", "evt_6", "w2", until())
		}, activitysync.Claim{EventID: "evt_6"}, nil},
		{"the owner's own live claim, from an earlier call: attempted", func() (activitysync.Claim, error) {
			if _, err := claim(s, "t1", "k3", "evt_7", "w1", until()); err != nil {
				return activitysync.Claim{}, err
			}
			return claim(s, "t1", "k3", "evt_7", "w1", until())
		}, activitysync.Claim{EventID: "evt_7", Attempted: true}, nil},
		{"abandon by another owner leaves the claim", func() (activitysync.Claim, error) {
			if err := s.AbandonAll(ctx, "t1", "w2", []string{"k3"}); err != nil {
				return activitysync.Claim{}, err
			}
			return claim(s, "t1", "k3", "evt_8", "w2", until())
		}, activitysync.Claim{}, activitysync.ErrClaimed},
		{"another team's key is its own", func() (activitysync.Claim, error) { return claim(s, "t2", "k1", "evt_9", "w1", until()) },
			activitysync.Claim{EventID: "evt_9"}, nil},
		{"bad key named", func() (activitysync.Claim, error) { return claim(s, "t1", "k#1", "evt_10", "w1", until()) },
			activitysync.Claim{}, activitydb.ErrInvalid},
	}
	for _, st := range steps { // in order: each step builds on the last
		got, err := st.do()
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) {
				t.Errorf("%s: got error %v; want %v", st.name, err, st.wantErr)
			}
			continue
		}
		if err != nil || got != st.want {
			t.Errorf("%s: got %+v, %v; want %+v", st.name, got, err, st.want)
		}
	}
}

func heldEvent(id string, at time.Time) event.Event {
	return event.Event{ID: id, Type: event.EmailSent, Version: 1, TeamID: "t1", OccurredAt: at.UTC(),
		Data: event.EmailData{Sequence: event.Sequence{ID: "s1"}, Contact: event.ContactRef{ID: "c1", Email: "a@b.example"},
			Message: event.Message{ID: "m_" + id, Subject: "Hi", Step: 1, SentAt: at.UTC()}}}
}

func TestHoldAndRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, prov := newStore(t)
	k := ledger.MemberKey{SequenceID: "s1", ContactID: "c1"}
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	// Held out of order; read back in order of occurrence.
	for _, ev := range []event.Event{heldEvent("e2", base.Add(time.Minute)), heldEvent("e1", base), heldEvent("e3", base.Add(2*time.Minute))} {
		if err := s.Hold(ctx, "t1", k, ev, 0); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.HeldKeys(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if keys[k].N != 3 || len(keys) != 1 {
		t.Fatalf("held keys: got %v; want %v with 3 holds", keys, k)
	}
	evs, err := s.Held(ctx, "t1", k)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	if fmt.Sprint(ids) != "[e1 e2 e3]" {
		t.Errorf("held order: got %v; want [e1 e2 e3]", ids)
	}

	// The hook sends them to the queue as they were received, each in its
	// team's message group.
	q := prov.Queues["activity-events"]
	sqsc := sqs.NewFromConfig(awsCfg)
	r := &activitydb.Releaser{Store: s, SQS: sqsc, QueueURL: q.URL}
	if err := r.Release(ctx, "t1", k); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 10 {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			ev, err := event.Decode([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatalf("released message: %v", err)
			}
			seen[ev.ID] = true
			if g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]; g != "t1" {
				t.Errorf("released %s: got MessageGroupId %q; want t1, its team (fair queueing)", ev.ID, g)
			}
		}
		if len(seen) == 3 {
			break
		}
	}
	if len(seen) != 3 {
		t.Errorf("released: got %v; want e1, e2 and e3", seen)
	}

	// A hold after the mark keeps the membership listed.
	if err := s.Hold(ctx, "t1", k, heldEvent("e4", base.Add(3*time.Minute)), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Unhold(ctx, "t1", k, []string{"e1", "e2", "e3"}, 3); err != nil {
		t.Fatal(err)
	}
	keys, _ = s.HeldKeys(ctx, "t1")
	evs, _ = s.Held(ctx, "t1", k)
	if keys[k].N != 4 || len(evs) != 1 || evs[0].ID != "e4" {
		t.Errorf("after unhold with an old mark: got keys %v, %d held; want still listed with e4", keys, len(evs))
	}
	if err := s.Unhold(ctx, "t1", k, []string{"e4"}, 4); err != nil {
		t.Fatal(err)
	}
	keys, _ = s.HeldKeys(ctx, "t1")
	if len(keys) != 0 {
		t.Errorf("after the last unhold: got keys %v; want none", keys)
	}
}

func TestTaskFieldsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk, _ := newStore(t)
	if _, _, ok, err := s.TaskFields(ctx, "t1"); ok || err != nil {
		t.Fatalf("empty cache: got ok %v, %v; want nothing", ok, err)
	}
	want := activitysync.TaskFields{TypeEmail: true, KeyField: "Sfsync_Key__c"}
	at := clk.Now().Truncate(time.Millisecond)
	if err := s.SaveTaskFields(ctx, "t1", want, at); err != nil {
		t.Fatal(err)
	}
	got, gotAt, ok, err := s.TaskFields(ctx, "t1")
	if err != nil || !ok || got != want || !gotAt.Equal(at) {
		t.Errorf("cached: got %+v at %s (ok %v, %v); want %+v at %s", got, gotAt, ok, err, want, at)
	}
}

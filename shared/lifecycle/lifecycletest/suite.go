package lifecycletest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/lifecycle"
)

// Run holds a lifecycle.Marks to the rules every store keeps. newMarks
// returns an empty store (or one whose teams are fresh for the test).
func Run(t *testing.T, newMarks func(t *testing.T) lifecycle.Marks) {
	t.Run("bounces", func(t *testing.T) { t.Parallel(); bounceRules(t, newMarks(t)) })
	t.Run("same instant", func(t *testing.T) { t.Parallel(); sameInstant(t, newMarks(t)) })
	t.Run("opt-outs", func(t *testing.T) { t.Parallel(); optOutRules(t, newMarks(t)) })
	t.Run("teams apart", func(t *testing.T) { t.Parallel(); teamsApart(t, newMarks(t)) })
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func bounce(email, id string, at time.Time) lifecycle.Bounce {
	return lifecycle.Bounce{Email: email, EventID: id, At: at, Reason: "reason of " + id,
		Record: event.SalesforceRef{Object: event.ObjectLead, ID: "00Q000000000001AAA"}}
}

func claimOne(t *testing.T, m lifecycle.Marks, team string, b lifecycle.Bounce) lifecycle.BounceMark {
	t.Helper()
	got, err := m.ClaimBounces(context.Background(), team, []lifecycle.Bounce{b})
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimBounces(%s): got %v, %v; want one mark", b.EventID, got, err)
	}
	return got[0]
}

func wroteOne(t *testing.T, m lifecycle.Marks, team string, b lifecycle.Bounce) lifecycle.BounceMark {
	t.Helper()
	got, err := m.WroteBounces(context.Background(), team, []lifecycle.Bounce{b})
	if err != nil || len(got) != 1 {
		t.Fatalf("WroteBounces(%s): got %v, %v; want one mark", b.EventID, got, err)
	}
	return got[0]
}

func wantMark(t *testing.T, step string, got lifecycle.BounceMark, b lifecycle.Bounce, written bool) {
	t.Helper()
	if got.EventID != b.EventID || !got.At.Equal(b.At) || got.Reason != b.Reason || got.Record != b.Record || got.Written != written {
		t.Errorf("%s: got mark %+v; want %s written=%v", step, got, b.EventID, written)
	}
}

func bounceRules(t *testing.T, m lifecycle.Marks) {
	const team = "team_a"
	first := bounce("ada@example.com", "ev_1", t0)
	older := bounce("ada@example.com", "ev_0", t0.Add(-time.Hour))
	newer := bounce("ada@example.com", "ev_2", t0.Add(time.Hour))

	wantMark(t, "first claim", claimOne(t, m, team, first), first, false)
	wantMark(t, "an older bounce", claimOne(t, m, team, older), first, false)
	wantMark(t, "the older one marked written", wroteOne(t, m, team, older), first, false)
	wantMark(t, "written", wroteOne(t, m, team, first), first, true)
	wantMark(t, "claimed again (a redelivery)", claimOne(t, m, team, first), first, true)
	wantMark(t, "a newer bounce", claimOne(t, m, team, newer), newer, false)
	wantMark(t, "the first marked written again", wroteOne(t, m, team, first), newer, false)
	wantMark(t, "the newer written", wroteOne(t, m, team, newer), newer, true)

	other := bounce("bob@example.com", "ev_3", t0)
	got, err := m.ClaimBounces(context.Background(), team, []lifecycle.Bounce{older, other})
	if err != nil || len(got) != 2 {
		t.Fatalf("ClaimBounces of two emails: got %v, %v", got, err)
	}
	wantMark(t, "two emails, first", got[0], newer, true)
	wantMark(t, "two emails, second", got[1], other, false)
}

func sameInstant(t *testing.T, m lifecycle.Marks) {
	const team = "team_a"
	a := bounce("ada@example.com", "ev_a", t0)
	b := bounce("ada@example.com", "ev_b", t0)
	wantMark(t, "ev_b first", claimOne(t, m, team, b), b, false)
	wantMark(t, "ev_a at the same instant loses to the larger id", claimOne(t, m, team, a), b, false)
	c := bounce("ada@example.com", "ev_c", t0)
	wantMark(t, "ev_c at the same instant wins", claimOne(t, m, team, c), c, false)
}

func optOutRules(t *testing.T, m lifecycle.Marks) {
	ctx := context.Background()
	const team = "team_a"
	first := lifecycle.OptOut{Email: "ada@example.com", ContactID: "ct_1", EventID: "ev_1", At: t0}
	second := lifecycle.OptOut{Email: "ada@example.com", ContactID: "ct_1", EventID: "ev_2", At: t0.Add(time.Hour)}
	for _, step := range []struct {
		name string
		in   lifecycle.OptOut
	}{{"first", first}, {"a later one keeps the first", second}} {
		got, err := m.KeepOptOuts(ctx, team, []lifecycle.OptOut{step.in})
		if err != nil || len(got) != 1 || got[0].EventID != first.EventID || !got[0].At.Equal(t0) || got[0].ContactID != "ct_1" || len(got[0].Written) != 0 {
			t.Errorf("KeepOptOuts, %s: got %+v, %v; want the first, unwritten", step.name, got, err)
		}
	}
	for range 2 { // noting it twice is noting it once
		if err := m.WroteOptOuts(ctx, team, map[string]string{"ada@example.com": "003000000000001AAA", "nobody@example.com": "003000000000002AAA"}); err != nil {
			t.Fatalf("WroteOptOuts: %v", err)
		}
	}
	if err := m.WroteOptOuts(ctx, team, map[string]string{"ada@example.com": "00Q000000000003AAA"}); err != nil {
		t.Fatalf("WroteOptOuts: %v", err)
	}
	got, err := m.OptOuts(ctx, team, []string{"ada@example.com", "nobody@example.com"})
	if err != nil {
		t.Fatalf("OptOuts: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("OptOuts: got %d opt-outs; want 1 (an email never opted out has none)", len(got))
	}
	if w := got["ada@example.com"].Written; !reflect.DeepEqual(w, []string{"003000000000001AAA", "00Q000000000003AAA"}) {
		t.Errorf("OptOuts: got written %v; want both records, once each, sorted", w)
	}
	if kept, _ := m.KeepOptOuts(ctx, team, []lifecycle.OptOut{second}); len(kept) != 1 || len(kept[0].Written) != 2 {
		t.Errorf("KeepOptOuts after writes: got %+v; want the records written kept", kept)
	}
}

func teamsApart(t *testing.T, m lifecycle.Marks) {
	ctx := context.Background()
	b := bounce("ada@example.com", "ev_1", t0)
	claimOne(t, m, "team_a", b)
	wroteOne(t, m, "team_a", b)
	wantMark(t, "team_b's own first claim", claimOne(t, m, "team_b", bounce("ada@example.com", "ev_0", t0.Add(-time.Hour))), bounce("ada@example.com", "ev_0", t0.Add(-time.Hour)), false)
	if _, err := m.KeepOptOuts(ctx, "team_a", []lifecycle.OptOut{{Email: "ada@example.com", ContactID: "ct_1", EventID: "ev_9", At: t0}}); err != nil {
		t.Fatal(err)
	}
	if got, err := m.OptOuts(ctx, "team_b", []string{"ada@example.com"}); err != nil || len(got) != 0 {
		t.Errorf("team_b's opt-outs: got %v, %v; want none (team_a's are its own)", got, err)
	}
}

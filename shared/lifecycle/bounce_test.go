package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/lifecycle"
	"github.com/sfsync/sfsync/shared/lifecycle/lifecycletest"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// recorder is an Updater that keeps what each call sent; before runs
// ahead of each call (another worker acting meanwhile).
type recorder struct {
	calls  [][]salesforce.SObject
	before func(call int)
	refuse string // an error code for every record, "" to accept
}

func (r *recorder) UpdateRecords(_ context.Context, recs []salesforce.SObject) ([]salesforce.SaveResult, error) {
	if r.before != nil {
		r.before(len(r.calls))
	}
	r.calls = append(r.calls, recs)
	out := make([]salesforce.SaveResult, len(recs))
	for i := range recs {
		if r.refuse != "" {
			out[i] = salesforce.SaveResult{Errors: []salesforce.ErrorItem{{Code: r.refuse, Message: "no", Fields: []string{lifecycle.FieldBouncedReason}}}}
			continue
		}
		out[i] = salesforce.SaveResult{Success: true, ID: recs[i]["Id"].(string)}
	}
	return out, nil
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func bounce(id string, at time.Time, reason string) lifecycle.Bounce {
	return lifecycle.Bounce{Email: "ada@example.com", EventID: id, At: at, Reason: reason,
		Record: event.SalesforceRef{Object: event.ObjectContact, ID: "003000000000001AAA"}}
}

// TestBounceWriterRace: a newer bounce written by another worker while
// this one wrote an older one is written again, so the record ends with
// the newest; a race that never settles brings the bounce back.
func TestBounceWriterRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	marks := lifecycletest.New()
	older, newer := bounce("ev_1", t0, "mailbox full"), bounce("ev_2", t0.Add(time.Hour), "no such user")
	up := &recorder{before: func(call int) {
		if call == 0 { // the other worker claims and writes the newer bounce before this write lands
			if _, err := marks.ClaimBounces(ctx, "team_a", []lifecycle.Bounce{newer}); err != nil {
				t.Fatal(err)
			}
			if _, err := marks.WroteBounces(ctx, "team_a", []lifecycle.Bounce{newer}); err != nil {
				t.Fatal(err)
			}
		}
	}}
	got, err := lifecycle.BounceWriter{Marks: marks}.Write(ctx, "team_a", up, []lifecycle.Bounce{older})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(up.calls) != 2 {
		t.Fatalf("update calls: got %d; want 2 (the older, then the newer again)", len(up.calls))
	}
	if last := up.calls[1][0][lifecycle.FieldBouncedReason]; last != "no such user" {
		t.Errorf("the last update's reason: got %v; want the newer bounce's", last)
	}
	if got[0].Written || got[0].Err != nil {
		t.Errorf("result: got %+v; want superseded (not written), no error", got[0])
	}
}

// TestBounceWriterRaceUnmarked: the newer bounce's worker claimed it and
// wrote it to the record before this worker's older write landed, and has
// not marked it written yet: the older write must not be the last.
func TestBounceWriterRaceUnmarked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	marks := lifecycletest.New()
	older, newer := bounce("ev_1", t0, "mailbox full"), bounce("ev_2", t0.Add(time.Hour), "no such user")
	record := "" // the record's EmailBouncedReason
	up := &recorder{before: func(call int) {
		if call == 0 { // B claims the newer bounce and writes it; its mark comes later
			if _, err := marks.ClaimBounces(ctx, "team_a", []lifecycle.Bounce{newer}); err != nil {
				t.Fatal(err)
			}
			record = newer.Reason
		}
	}}
	w := lifecycle.BounceWriter{Marks: marks}
	got, err := w.Write(ctx, "team_a", recordingTo(up, &record), []lifecycle.Bounce{older})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if record != newer.Reason {
		t.Errorf("the record's reason: got %q; want the newer bounce's %q", record, newer.Reason)
	}
	if got[0].Written {
		t.Errorf("the older bounce: got written; want superseded (Written false)")
	}
}

// recordingTo is up, keeping the reason of each record written in *reason.
func recordingTo(up *recorder, reason *string) lifecycle.Updater {
	return updaterFunc(func(ctx context.Context, recs []salesforce.SObject) ([]salesforce.SaveResult, error) {
		res, err := up.UpdateRecords(ctx, recs)
		for i, r := range res {
			if r.Success {
				*reason, _ = recs[i][lifecycle.FieldBouncedReason].(string)
			}
		}
		return res, err
	})
}

type updaterFunc func(context.Context, []salesforce.SObject) ([]salesforce.SaveResult, error)

func (f updaterFunc) UpdateRecords(ctx context.Context, recs []salesforce.SObject) ([]salesforce.SaveResult, error) {
	return f(ctx, recs)
}

// TestBounceWriterRefusal: a refusal is the bounce's, with Salesforce's
// code and fields; the mark stays unwritten, so a retry writes it.
func TestBounceWriterRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	marks := lifecycletest.New()
	b := bounce("ev_1", t0, "mailbox full")
	got, err := lifecycle.BounceWriter{Marks: marks}.Write(ctx, "team_a", &recorder{refuse: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}, []lifecycle.Bounce{b})
	if err != nil {
		t.Fatal(err)
	}
	if r := got[0].Refused; r == nil || r.Code != "FIELD_CUSTOM_VALIDATION_EXCEPTION" || len(r.Fields) != 1 || got[0].Written {
		t.Fatalf("result: got %+v; want refused with the code and field", got[0])
	}
	up := &recorder{}
	if got, err = (lifecycle.BounceWriter{Marks: marks}).Write(ctx, "team_a", up, []lifecycle.Bounce{b}); err != nil || !got[0].Written || len(up.calls) != 1 {
		t.Errorf("retry: got %+v, %v, %d calls; want written in one call", got, err, len(up.calls))
	}
}

// TestBounceWriterFailedCall: a whole call that fails is the batch's error.
func TestBounceWriterFailedCall(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := lifecycle.BounceWriter{Marks: lifecycletest.New()}.Write(context.Background(), "team_a", failing{boom}, []lifecycle.Bounce{bounce("ev_1", t0, "x")})
	if !errors.Is(err, boom) {
		t.Errorf("Write: got %v; want it to wrap the call's error", err)
	}
}

type failing struct{ err error }

func (f failing) UpdateRecords(context.Context, []salesforce.SObject) ([]salesforce.SaveResult, error) {
	return nil, f.err
}

func TestCutReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int // UTF-16 units
	}{
		{"short", 5},
		{strings.Repeat("a", 255), 255},
		{strings.Repeat("a", 256), 255},
		{strings.Repeat("😀", 200), 254}, // a pair is never split
	}
	for _, tt := range tests {
		if got := salesforce.TextLength(lifecycle.CutReason(tt.in)); got != tt.want {
			t.Errorf("CutReason(%d units): got %d units; want %d", salesforce.TextLength(tt.in), got, tt.want)
		}
	}
}

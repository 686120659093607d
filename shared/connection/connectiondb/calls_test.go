package connectiondb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/resources"
)

// december is noon UTC of day d of December 2026.
func december(d int) time.Time { return time.Date(2026, 12, d, 12, 0, 0, 0, time.UTC) }

// report records calls made at at, as a worker reports them: it guesses
// a new day from the count it last read of the connection.
func report(t *testing.T, s *connectiondb.Store, at time.Time, calls int, newDay bool) {
	t.Helper()
	u := connection.Usage{Used: 10, Limit: 1000, At: at, ServiceDay: connection.Day(at)}
	if err := s.RecordUsage(context.Background(), team, u, calls, newDay); err != nil {
		t.Fatalf("record %d calls on %s: %v", calls, u.ServiceDay, err)
	}
}

// callsOn is the team's calls of each of days 1..3 of December as the
// health report adds them: the calls kept for the day (CallsByDay) plus
// the connection's count of it; days without calls are left out.
func callsOn(t *testing.T, s *connectiondb.Store) map[string]int {
	t.Helper()
	ctx := context.Background()
	got, err := s.CallsByDay(ctx, team, "2026-12-01", "2026-12-03")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Get(ctx, team)
	switch {
	case errors.Is(err, connection.ErrNotConnected):
	case err != nil:
		t.Fatal(err)
	case c.Usage != nil && c.Usage.ServiceCalls > 0:
		got[c.Usage.ServiceDay] += c.Usage.ServiceCalls
	}
	return got
}

// TestNoDayLosesItsCalls: a reconnect or a disconnect keeps every day's
// calls: the day the old connection counted last (reconnected the next
// morning after it needed a new consent, or the same day), the calls of a
// connection deleted during the day and of the one made after it, and the
// reports that arrive late for a finished day or after the disconnect. A
// day's calls are the kept ones plus the connection's count of the day,
// and never count twice, also when every write is sent again after a
// lost answer. A same-day reconnect carries the day's count, so the
// team's budget still counts the calls made before it.
func TestNoDayLosesItsCalls(t *testing.T) {
	t.Parallel()
	type step struct {
		do    string // calls, late (a report of a day that already ended), reauth, reconnect, disconnect
		day   int    // of December, for calls and late
		calls int
	}
	calls := func(day, n int) step { return step{do: "calls", day: day, calls: n} }
	late := func(day, n int) step { return step{do: "late", day: day, calls: n} }
	reauth, reconnect, disconnect := step{do: "reauth"}, step{do: "reconnect"}, step{do: "disconnect"}
	tests := []struct {
		name  string
		steps []step
		want  map[string]int // the calls of each day
		count int            // the connection's count of its day; -1: not connected
	}{
		{"needs_reauth, reconnected the next morning", []step{calls(1, 5), calls(1, 3), reauth, reconnect},
			map[string]int{"2026-12-01": 8}, 8},
		{"needs_reauth, reconnected the next morning, then a call", []step{calls(1, 5), calls(1, 3), reauth, reconnect, calls(2, 4)},
			map[string]int{"2026-12-01": 8, "2026-12-02": 4}, 4},
		{"reconnected the same day", []step{calls(1, 5), reconnect, calls(1, 2)},
			map[string]int{"2026-12-01": 7}, 7},
		{"reconnected the same day, then the next day", []step{calls(1, 5), reconnect, calls(1, 2), calls(2, 1)},
			map[string]int{"2026-12-01": 7, "2026-12-02": 1}, 1},
		{"reconnected twice", []step{calls(1, 5), reconnect, reconnect, calls(2, 1)},
			map[string]int{"2026-12-01": 5, "2026-12-02": 1}, 1},
		{"disconnected", []step{calls(1, 5), calls(1, 1), disconnect},
			map[string]int{"2026-12-01": 6}, -1},
		{"disconnected twice over", []step{calls(1, 5), disconnect, disconnect},
			map[string]int{"2026-12-01": 5}, -1},
		{"disconnected and connected again the same day", []step{calls(1, 5), disconnect, reconnect, calls(1, 2)},
			map[string]int{"2026-12-01": 7}, 2},
		{"disconnected and connected again the same day, then the next day", []step{calls(1, 5), disconnect, reconnect, calls(1, 2), calls(2, 1)},
			map[string]int{"2026-12-01": 7, "2026-12-02": 1}, 1},
		{"disconnected, connected the next day", []step{calls(1, 5), disconnect, reconnect, calls(2, 3)},
			map[string]int{"2026-12-01": 5, "2026-12-02": 3}, 3},
		{"a day disconnected after a day kept", []step{calls(1, 5), calls(2, 3), disconnect},
			map[string]int{"2026-12-01": 5, "2026-12-02": 3}, -1},
		{"a late report of a finished day", []step{calls(1, 5), calls(2, 3), late(1, 2)},
			map[string]int{"2026-12-01": 7, "2026-12-02": 3}, 3},
		{"a late report of a day two days back", []step{calls(1, 5), calls(2, 3), calls(3, 1), late(1, 2)},
			map[string]int{"2026-12-01": 7, "2026-12-02": 3, "2026-12-03": 1}, 1},
		{"a report after the disconnect", []step{calls(1, 5), disconnect, late(1, 2)},
			map[string]int{"2026-12-01": 7}, -1},
	}
	for _, tt := range tests {
		for _, repeat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, writes sent twice=%v", tt.name, repeat), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				s := newStore(t)
				if repeat {
					s.DB = repeatingDB{s.DB}
				}
				n := 1
				if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
					t.Fatal(err)
				}
				for i, st := range tt.steps {
					switch st.do {
					case "calls", "late":
						c, err := s.Get(ctx, team)
						newDay := err != nil || c.Usage == nil || c.Usage.ServiceDay != connection.Day(december(st.day))
						report(t, s, december(st.day), st.calls, newDay && st.do == "calls")
					case "reauth":
						c, err := s.Get(ctx, team)
						if err == nil {
							err = s.SetStatus(ctx, team, c.ID, c.Version, connection.StatusNeedsReauth, connection.Problem{})
						}
						if err != nil {
							t.Fatalf("step %d: %v", i, err)
						}
					case "reconnect":
						n++
						if _, err := s.Replace(ctx, conn(fmt.Sprintf("c%d", n), "a", "r")); err != nil {
							t.Fatalf("step %d: %v", i, err)
						}
					case "disconnect":
						if err := s.Delete(ctx, team); err != nil {
							t.Fatalf("step %d: %v", i, err)
						}
					}
				}
				if got := callsOn(t, s); !maps.Equal(got, tt.want) {
					t.Errorf("calls per day: got %v; want %v", got, tt.want)
				}
				c, err := s.Get(ctx, team)
				switch {
				case tt.count < 0 && !errors.Is(err, connection.ErrNotConnected):
					t.Errorf("connection: got %+v, %v; want none", c, err)
				case tt.count >= 0 && (err != nil || c.Usage == nil || c.Usage.ServiceCalls != tt.count):
					t.Errorf("the connection's count: got %+v, %v; want %d calls", c.Usage, err, tt.count)
				}
			})
		}
	}
}

// failingKeeps fails every write of a CALLS# item while fail is set.
type failingKeeps struct {
	connectiondb.DynamoDB
	fail *atomic.Bool
}

func (f failingKeeps) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if sk, _ := in.Key[resources.SortKey].(*ddbtypes.AttributeValueMemberS); f.fail.Load() && sk != nil && strings.HasPrefix(sk.Value, "CALLS#") {
		return nil, errors.New("throttled")
	}
	return f.DynamoDB.UpdateItem(ctx, in, opts...)
}

// TestADayNotKeptIsKeptByAReconnectOrADisconnect: when the keep of the day
// a start replaced fails (it is logged), the day is still noted on the
// connection (svc_prev_*); a reconnect or a disconnect keeps it then, once
// however many times it is kept again.
func TestADayNotKeptIsKeptByAReconnectOrADisconnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		after func(ctx context.Context, s *connectiondb.Store) error
	}{
		{"a reconnect, twice", func(ctx context.Context, s *connectiondb.Store) error {
			if _, err := s.Replace(ctx, conn("c2", "a2", "r2")); err != nil {
				return err
			}
			_, err := s.Replace(ctx, conn("c3", "a3", "r3"))
			return err
		}},
		{"a disconnect", func(ctx context.Context, s *connectiondb.Store) error { return s.Delete(ctx, team) }},
		{"a reconnect, then a disconnect", func(ctx context.Context, s *connectiondb.Store) error {
			if _, err := s.Replace(ctx, conn("c2", "a2", "r2")); err != nil {
				return err
			}
			return s.Delete(ctx, team)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var logs bytes.Buffer
			fail := new(atomic.Bool)
			s := newStore(t)
			s.DB, s.Log = failingKeeps{s.DB, fail}, slog.New(slog.NewJSONHandler(&logs, nil))
			if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
				t.Fatal(err)
			}
			report(t, s, december(1), 5, true)
			fail.Store(true)
			report(t, s, december(2), 3, true)
			fail.Store(false)
			if kept, err := s.CallsByDay(ctx, team, "2026-12-01", "2026-12-01"); err != nil || len(kept) != 0 {
				t.Fatalf("the failed keep: got %v, %v; want nothing kept", kept, err)
			}
			if !strings.Contains(logs.String(), "calls of a day not kept") {
				t.Errorf("logs: got %s; want the failed keep logged", logs.String())
			}
			if err := tt.after(ctx, s); err != nil {
				t.Fatal(err)
			}
			if got, want := callsOn(t, s), map[string]int{"2026-12-01": 5, "2026-12-02": 3}; !maps.Equal(got, want) {
				t.Errorf("calls per day: got %v; want %v", got, want)
			}
		})
	}
}

// hookedDB runs hook once, before the first put of the connection item or
// delete, as another writer landing between a read and a write.
type hookedDB struct {
	connectiondb.DynamoDB
	once sync.Once
	hook func()
}

func (h *hookedDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if sk, _ := in.Item[resources.SortKey].(*ddbtypes.AttributeValueMemberS); sk != nil && sk.Value == "CONNECTION" {
		h.once.Do(h.hook)
	}
	return h.DynamoDB.PutItem(ctx, in, opts...)
}

func (h *hookedDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	h.once.Do(h.hook)
	return h.DynamoDB.DeleteItem(ctx, in, opts...)
}

// TestCallsRecordedDuringAReconnectOrADisconnectCount: calls recorded
// after a reconnect or a disconnect read the connection, and before it
// wrote, are not lost: the write, refused, reads again.
func TestCallsRecordedDuringAReconnectOrADisconnectCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(ctx context.Context, s *connectiondb.Store) error
		count int // the connection's count after it; -1: not connected
	}{
		{"a reconnect", func(ctx context.Context, s *connectiondb.Store) error {
			_, err := s.Replace(ctx, conn("c2", "a2", "r2"))
			return err
		}, 7},
		{"a disconnect", func(ctx context.Context, s *connectiondb.Store) error { return s.Delete(ctx, team) }, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStore(t)
			if _, err := s.Replace(ctx, conn("c1", "a1", "r1")); err != nil {
				t.Fatal(err)
			}
			report(t, s, december(1), 5, true)
			plain := *s
			s.DB = &hookedDB{DynamoDB: s.DB, hook: func() { report(t, &plain, december(1), 2, false) }}
			if err := tt.write(ctx, s); err != nil {
				t.Fatal(err)
			}
			if got, want := callsOn(t, s), map[string]int{"2026-12-01": 7}; !maps.Equal(got, want) {
				t.Errorf("calls per day: got %v; want %v", got, want)
			}
			c, err := s.Get(ctx, team)
			if tt.count >= 0 && (err != nil || c.Usage == nil || c.Usage.ServiceCalls != tt.count) {
				t.Errorf("the connection's count: got %+v, %v; want %d calls", c.Usage, err, tt.count)
			}
		})
	}
}

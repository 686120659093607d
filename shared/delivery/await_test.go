package delivery_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/delivery"
)

func TestAwaitAdd(t *testing.T) {
	t.Parallel()
	const hold, await = 15 * time.Minute, 10 * time.Minute
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	live := delivery.Connection{Status: "connected"}
	heldAt := func(ago time.Duration) delivery.Connection {
		return delivery.Connection{Status: "connected", HeldAt: now.Add(-ago)}
	}
	tests := []struct {
		name     string
		occurred time.Duration // before now
		conn     delivery.Connection
		want     delivery.Awaiting
	}{
		{"fresh event: its contact.added is likely in flight", time.Minute, live, delivery.AwaitRetry},
		{"just inside the window", await - time.Second, live, delivery.AwaitRetry},
		{"old event, team never held: not added", await, live, delivery.AwaitNoMore},
		{"old event after an hour-long outage that just ended: parked events still coming back", time.Hour, heldAt(time.Minute), delivery.AwaitHold},
		{"old event, the last hold a hold delay ago: the contact.added gets its await", time.Hour, heldAt(hold), delivery.AwaitHold},
		{"old event, the last hold longer ago than a hold delay and the await", time.Hour, heldAt(hold + await), delivery.AwaitNoMore},
		{"fresh event of a held team: retried as usual", time.Minute, heldAt(time.Minute), delivery.AwaitRetry},
	}
	for _, tt := range tests {
		if got := delivery.AwaitAdd(now, now.Add(-tt.occurred), tt.conn, hold, await); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestAwaitFrom(t *testing.T) {
	t.Parallel()
	occurred := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		firstReceived time.Time
		want          time.Time
	}{
		{"the queue did not say: when it occurred", time.Time{}, occurred},
		{"delivered at once: when it occurred", occurred.Add(-time.Second), occurred},
		{"behind a backlog: when first delivered", occurred.Add(5 * time.Minute), occurred.Add(5 * time.Minute)},
	}
	for _, tt := range tests {
		var d delivery.Delivery
		d.Event.OccurredAt, d.FirstReceived = occurred, tt.firstReceived
		if got := d.AwaitFrom(); !got.Equal(tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

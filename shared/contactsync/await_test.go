package contactsync_test

import (
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/contactsync"
)

func TestAwaitAdd(t *testing.T) {
	t.Parallel()
	const hold, await = 15 * time.Minute, 10 * time.Minute
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	live := contactsync.Connection{Status: "connected"}
	heldAt := func(ago time.Duration) contactsync.Connection {
		return contactsync.Connection{Status: "connected", HeldAt: now.Add(-ago)}
	}
	tests := []struct {
		name     string
		occurred time.Duration // before now
		conn     contactsync.Connection
		want     contactsync.Awaiting
	}{
		{"fresh event: its contact.added is likely in flight", time.Minute, live, contactsync.AwaitRetry},
		{"just inside the window", await - time.Second, live, contactsync.AwaitRetry},
		{"old event, team never held: not added", await, live, contactsync.AwaitNoMore},
		{"old event after an hour-long outage that just ended: parked events still coming back", time.Hour, heldAt(time.Minute), contactsync.AwaitHold},
		{"old event, the last hold a hold delay ago: the contact.added gets its await", time.Hour, heldAt(hold), contactsync.AwaitHold},
		{"old event, the last hold longer ago than a hold delay and the await", time.Hour, heldAt(hold + await), contactsync.AwaitNoMore},
		{"fresh event of a held team: retried as usual", time.Minute, heldAt(time.Minute), contactsync.AwaitRetry},
	}
	for _, tt := range tests {
		if got := contactsync.AwaitAdd(now, now.Add(-tt.occurred), tt.conn, hold, await); got != tt.want {
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
		var d contactsync.Delivery
		d.Event.OccurredAt, d.FirstReceived = occurred, tt.firstReceived
		if got := d.AwaitFrom(); !got.Equal(tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

package main

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
)

// TestDispatcher plays the stack: each event sent is answered a little
// later, in no particular order.
func TestDispatcher(t *testing.T) {
	t.Parallel()
	for _, window := range []int{0, 1, 7, 50} {
		w := newMixedWorkload(3, 60, 90)
		d := newDispatcher(w, window)
		var mu sync.Mutex
		sent := map[string]event.Event{}
		answered := map[string]bool{}
		msgSentAt := map[string]time.Time{}
		var problems []string
		var wg sync.WaitGroup
		rng := rand.New(rand.NewSource(int64(window)))
		send := func(_ context.Context, evs ...event.Event) error {
			mu.Lock()
			defer mu.Unlock()
			var out [2]int
			for id := range sent {
				if !answered[id] {
					out[boolIndex(sent[id].Type.IsEmail())]++
				}
			}
			for _, ev := range evs {
				if _, dup := sent[ev.ID]; dup {
					problems = append(problems, ev.ID+" sent twice")
				}
				sent[ev.ID] = ev
				out[boolIndex(ev.Type.IsEmail())]++
				if d, ok := ev.Data.(event.EmailData); ok {
					c := w.Contacts[w.Stream[indexOf(w, ev.ID)].Contact]
					if !answered[c.Event] {
						problems = append(problems, ev.ID+" sent before its contact's outcome")
					}
					if ev.Type == event.EmailSent {
						msgSentAt[d.Message.ID] = d.Message.SentAt
					}
				}
				delay := time.Duration(rng.Intn(3000)) * time.Microsecond
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(delay)
					mu.Lock()
					answered[ev.ID] = true
					mu.Unlock()
					d.final(ev.ID)
				}()
			}
			if window > 0 && (out[0] > window || out[1] > window) {
				problems = append(problems, "more events out than the window")
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := d.run(ctx, send); err != nil {
			t.Fatalf("window %d: %v", window, err)
		}
		cancel()
		wg.Wait()
		for _, ev := range sent {
			if d, ok := ev.Data.(event.EmailData); ok && !msgSentAt[d.Message.ID].Equal(d.Message.SentAt) {
				problems = append(problems, ev.ID+" carries another sent_at than its email.sent")
			}
		}
		if len(sent) != len(w.Stream) {
			t.Errorf("window %d: %d of %d events sent", window, len(sent), len(w.Stream))
		}
		for _, p := range problems[:min(len(problems), 5)] {
			t.Errorf("window %d: %s", window, p)
		}
		if s, held, inflight := d.counts(); s != len(w.Stream) || held != 0 || inflight != 0 {
			t.Errorf("window %d: counts %d sent, %d held, %d in flight", window, s, held, inflight)
		}
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func indexOf(w mixedWorkload, id string) int {
	for i, it := range w.Stream {
		if it.ID == id {
			return i
		}
	}
	return -1
}

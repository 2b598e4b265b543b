package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Of several instances looking at a due job at once exactly one takes the
// run; nobody does before the booked time; a dead instance's turn goes to
// whoever looks next.
func TestTakeRunOneInstanceAtATime(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		t0 := time.Unix(1_900_000_000, 0)
		for round, now := range []time.Time{t0, t0.Add(30 * time.Minute), t0.Add(61 * time.Minute)} {
			var mu sync.Mutex
			var winners []string
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					owner := string(rune('a' + i))
					mine, err := s.TakeRun(ctx, "renewal-reminders", owner, now, now.Add(time.Hour))
					if err != nil {
						t.Error(err)
					}
					if mine {
						mu.Lock()
						winners = append(winners, owner)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			want := 1
			if round == 1 { // booked until t0+1h
				want = 0
			}
			if len(winners) != want {
				t.Fatalf("round %d: %d instances took the run (%v), want %d", round, len(winners), winners, want)
			}
		}
		// Another job is booked apart.
		if mine, err := s.TakeRun(ctx, "other", "z", t0, t0.Add(time.Hour)); err != nil || !mine {
			t.Fatalf("another job: %v %v", mine, err)
		}
	})
}

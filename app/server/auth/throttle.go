package auth

import (
	"sync"
	"time"
)

// Throttle slows down password guessing: after Free failures within
// Window, a key (a login name, or a client address) is locked, for Base the
// first time and twice as long each time after, up to Max. Locks are in
// memory: a restart forgives, which is acceptable for a 60-second lock and
// keeps a read off every login.
type Throttle struct {
	Free   int
	Window time.Duration
	Base   time.Duration
	Max    time.Duration

	mu   sync.Mutex
	keys map[string]*throttleState
}

type throttleState struct {
	failures    []time.Time
	lockedUntil time.Time
	locks       int
}

// NewThrottle returns a throttle with the given free attempts.
func NewThrottle(free int, window, base, max time.Duration) *Throttle {
	return &Throttle{Free: free, Window: window, Base: base, Max: max, keys: map[string]*throttleState{}}
}

// Wait returns how long key must wait before its next attempt (0: go).
func (t *Throttle) Wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.keys[key]; s != nil && now.Before(s.lockedUntil) {
		return s.lockedUntil.Sub(now)
	}
	return 0
}

// Fail records a failed attempt and returns the lock it caused (0: none).
func (t *Throttle) Fail(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil {
		s = &throttleState{}
		t.keys[key] = s
	}
	keep := s.failures[:0]
	for _, f := range s.failures {
		if now.Sub(f) < t.Window {
			keep = append(keep, f)
		}
	}
	s.failures = append(keep, now)
	if len(s.failures) < t.Free {
		return 0
	}
	d := t.Base << s.locks
	if d > t.Max || d <= 0 {
		d = t.Max
	}
	s.locks++
	s.failures = s.failures[:0]
	s.lockedUntil = now.Add(d)
	if len(t.keys) > 100_000 {
		t.sweep(now)
	}
	return d
}

// Succeed forgets a key's failures.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}

// sweep drops idle keys so an address scan cannot grow the map forever.
func (t *Throttle) sweep(now time.Time) {
	for k, s := range t.keys {
		if now.After(s.lockedUntil) && (len(s.failures) == 0 || now.Sub(s.failures[len(s.failures)-1]) > t.Window) {
			delete(t.keys, k)
		}
	}
}

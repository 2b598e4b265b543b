package auth

import (
	"sync"
	"time"
)

// Throttle slows down guessing: after Free failed attempts within Window, a
// key (a login name, a client address) is locked, for Base the first time
// and twice as long each time after, up to Max.
//
// An attempt is counted when it begins, before the expensive check (an
// argon2id verification takes tens of milliseconds): concurrent guesses
// cannot all pass a "not locked yet" test and be evaluated together. Begin
// refuses once the failures so far plus the attempts still being evaluated
// fill the allowance; a successful attempt is released and, where the
// caller says so, forgives the key.
//
// Locks are in memory: a restart forgives, which is acceptable for a
// 60-second lock and keeps a database write off every login.
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
	pending     int // attempts begun and not yet ended
	lockedUntil time.Time
	locks       int
}

// NewThrottle returns a throttle with the given free attempts.
func NewThrottle(free int, window, base, max time.Duration) *Throttle {
	return &Throttle{Free: free, Window: window, Base: base, Max: max, keys: map[string]*throttleState{}}
}

// Attempt is one counted attempt; end it with Fail or Succeed (once).
type Attempt struct {
	t     *Throttle
	key   string
	s     *throttleState
	ended bool
}

// Begin counts an attempt on key. It returns the attempt, or nil and how
// long to wait when the key is locked or its allowance is taken by
// failures and attempts in flight.
func (t *Throttle) Begin(key string, now time.Time) (*Attempt, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil {
		if len(t.keys) > 100_000 {
			t.sweep(now)
		}
		s = &throttleState{}
		t.keys[key] = s
	}
	if now.Before(s.lockedUntil) {
		return nil, s.lockedUntil.Sub(now)
	}
	s.prune(now, t.Window)
	if len(s.failures)+s.pending >= t.Free {
		// More attempts at once than the allowance: this one is not
		// evaluated. No lock yet: if those in flight fail, the last of
		// them locks the key; if they succeed, nothing was wrong.
		return nil, time.Second
	}
	s.pending++
	return &Attempt{t: t, key: key, s: s}, 0
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

// Fail ends the attempt as a failure and returns the lock it caused (0:
// none).
func (a *Attempt) Fail(now time.Time) time.Duration {
	if a == nil {
		return 0
	}
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.ended {
		return 0
	}
	a.ended = true
	s := a.s
	s.pending--
	if t.keys[a.key] != s {
		return 0 // forgiven meanwhile by a success
	}
	if now.Before(s.lockedUntil) {
		return s.lockedUntil.Sub(now)
	}
	s.prune(now, t.Window)
	s.failures = append(s.failures, now)
	if len(s.failures) < t.Free {
		return 0
	}
	return t.lock(s, now)
}

// Succeed ends the attempt as a success. forgive forgets the key's
// failures and lock (a login name after the right password); without it
// the attempt is only released (an address: one good login among many bad
// ones must not reset the count).
func (a *Attempt) Succeed(forgive bool) {
	if a == nil {
		return
	}
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.ended {
		return
	}
	a.ended = true
	a.s.pending--
	if forgive && t.keys[a.key] == a.s {
		if a.s.pending == 0 {
			delete(t.keys, a.key)
		} else {
			a.s.failures, a.s.lockedUntil, a.s.locks = a.s.failures[:0], time.Time{}, 0
		}
	}
}

// Fail records a failed attempt that was not begun (a cheap check with
// nothing to race) and returns the lock it caused.
func (t *Throttle) Fail(key string, now time.Time) time.Duration {
	a, wait := t.Begin(key, now)
	if a == nil {
		return wait
	}
	return a.Fail(now)
}

func (t *Throttle) lock(s *throttleState, now time.Time) time.Duration {
	d := t.Base << s.locks
	if d > t.Max || d <= 0 {
		d = t.Max
	}
	s.locks++
	s.failures = s.failures[:0]
	s.lockedUntil = now.Add(d)
	return d
}

func (s *throttleState) prune(now time.Time, window time.Duration) {
	keep := s.failures[:0]
	for _, f := range s.failures {
		if now.Sub(f) < window {
			keep = append(keep, f)
		}
	}
	s.failures = keep
}

// sweep drops idle keys so an address scan cannot grow the map forever.
func (t *Throttle) sweep(now time.Time) {
	for k, s := range t.keys {
		if s.pending == 0 && now.After(s.lockedUntil) && (len(s.failures) == 0 || now.Sub(s.failures[len(s.failures)-1]) > t.Window) {
			delete(t.keys, k)
		}
	}
}

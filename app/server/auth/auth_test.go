package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("Zh3ngShu!", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash format: %s", h)
	}
	if err := Verify("Zh3ngShu!", h); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := Verify("zh3ngshu!", h); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: %v", err)
	}
	h2, _ := Hash("Zh3ngShu!", DefaultParams)
	if h == h2 {
		t.Errorf("same hash twice: salt not random")
	}
	if err := Verify("x", "$2a$10$bcrypt"); err == nil || errors.Is(err, ErrMismatch) {
		t.Errorf("foreign hash: %v", err)
	}
}

func TestPasswordPolicy(t *testing.T) {
	tests := []struct {
		pw   string
		code string
	}{
		{"Zh3ngShu!", ""},
		{"证书助手2026", ""},
		{"abc12", string(CodePasswordShort)},
		{"abcdefghij", string(CodePasswordWeak)},
		{"12345678", string(CodePasswordCommon)},
		{"Password1", string(CodePasswordCommon)},
		{"13800138000", string(CodePasswordLogin)},
	}
	for _, tt := range tests {
		fe := CheckPassword(tt.pw, "13800138000", "a@example.com")
		got := ""
		if fe != nil {
			got = string(fe.Code)
			if fe.Message.ZH == "" || fe.Message.EN == "" {
				t.Errorf("%q: no message", tt.pw)
			}
		}
		if got != tt.code {
			t.Errorf("CheckPassword(%q) = %q, want %q", tt.pw, got, tt.code)
		}
	}
}

func TestTokens(t *testing.T) {
	tok, h, err := NewToken()
	if err != nil || len(tok) != 43 || h != TokenHash(tok) || strings.Contains(h, tok) {
		t.Fatalf("token %q hash %q: %v", tok, h, err)
	}
	tok2, _, _ := NewToken()
	if tok == tok2 {
		t.Fatal("tokens repeat")
	}
}

func TestThrottleLocksAndEscalates(t *testing.T) {
	th := NewThrottle(3, 15*time.Minute, 30*time.Second, 10*time.Minute)
	now := time.Unix(0, 0)
	for i := 0; i < 2; i++ {
		if d := th.Fail("u", now); d != 0 {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if d := th.Fail("u", now); d != 30*time.Second {
		t.Fatalf("first lock %v", d)
	}
	if w := th.Wait("u", now.Add(10*time.Second)); w != 20*time.Second {
		t.Fatalf("wait %v", w)
	}
	if w := th.Wait("other", now); w != 0 {
		t.Fatalf("other key locked")
	}
	now = now.Add(31 * time.Second)
	th.Fail("u", now)
	th.Fail("u", now)
	if d := th.Fail("u", now); d != 60*time.Second {
		t.Fatalf("second lock %v, want doubled", d)
	}
	if a, _ := th.Begin("u", now); a != nil {
		t.Fatal("a locked key began an attempt")
	}
	now = now.Add(61 * time.Second)
	a, _ := th.Begin("u", now)
	a.Succeed(true)
	if w := th.Wait("u", now); w != 0 || len(th.keys) != 0 {
		t.Fatalf("success did not forgive")
	}
}

// Attempts count when they begin: more at once than the allowance are not
// evaluated, and their failures lock the key.
func TestThrottleCountsAttemptsInFlight(t *testing.T) {
	th := NewThrottle(5, time.Minute, 30*time.Second, time.Hour)
	now := time.Unix(0, 0)
	var began []*Attempt
	for i := 0; i < 20; i++ {
		if a, w := th.Begin("u", now); a != nil {
			began = append(began, a)
		} else if w <= 0 {
			t.Fatal("refused without a wait")
		}
	}
	if len(began) != 5 {
		t.Fatalf("%d attempts began at once, want 5", len(began))
	}
	var lock time.Duration
	for _, a := range began {
		lock = max(lock, a.Fail(now))
	}
	if lock != 30*time.Second || th.Wait("u", now) != 30*time.Second {
		t.Fatalf("lock %v", lock)
	}
	// Released successes do not count; a failure that ends after a
	// forgiving success counts once, from zero.
	th2 := NewThrottle(2, time.Minute, 30*time.Second, time.Hour)
	for i := 0; i < 10; i++ {
		a, _ := th2.Begin("addr", now)
		if a == nil {
			t.Fatalf("success %d counted as a failure", i)
		}
		a.Succeed(false)
	}
	late, _ := th2.Begin("u", now)
	ok, _ := th2.Begin("u", now)
	ok.Succeed(true)
	late.Fail(now)
	late.Fail(now) // ending twice is a no-op
	if a, _ := th2.Begin("u", now); a == nil {
		t.Fatal("one failure after a forgiving success locked the key")
	}
}

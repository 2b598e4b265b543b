package token

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// Token is a present, initialised token.
type Token struct {
	Slot         uint
	Label        string
	Serial       string
	Model        string
	Manufacturer string
	Flags        Flags
	Mechanisms   []string // the ones that matter here
}

// Flags are the token flags the UI shows or acts on.
type Flags struct {
	LoginRequired bool `json:"login_required"`
	PINCountLow   bool `json:"pin_count_low"`
	PINFinalTry   bool `json:"pin_final_try"`
	PINLocked     bool `json:"pin_locked"`
	PINToChange   bool `json:"pin_to_be_changed"`
}

func flagsOf(f uint) Flags {
	return Flags{
		LoginRequired: f&pkcs11.CKF_LOGIN_REQUIRED != 0,
		PINCountLow:   f&pkcs11.CKF_USER_PIN_COUNT_LOW != 0,
		PINFinalTry:   f&pkcs11.CKF_USER_PIN_FINAL_TRY != 0,
		PINLocked:     f&pkcs11.CKF_USER_PIN_LOCKED != 0,
		PINToChange:   f&pkcs11.CKF_USER_PIN_TO_BE_CHANGED != 0,
	}
}

var mechNames = map[uint]string{
	pkcs11.CKM_EC_KEY_PAIR_GEN:       "EC_KEY_PAIR_GEN",
	pkcs11.CKM_ECDSA:                 "ECDSA",
	pkcs11.CKM_ECDSA_SHA256:          "ECDSA_SHA256",
	pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN: "RSA_PKCS_KEY_PAIR_GEN",
	pkcs11.CKM_RSA_PKCS:              "RSA_PKCS",
	pkcs11.CKM_SHA256_RSA_PKCS:       "SHA256_RSA_PKCS",
}

// Tokens lists present tokens that are initialised. SoftHSM keeps one
// empty slot and renumbers slots on init, so callers pick tokens by serial
// or label, never by position.
func (m *Module) Tokens() ([]Token, error) {
	present, err := m.present()
	if err != nil {
		return nil, err
	}
	var out []Token
	for _, p := range present {
		s, ti := p.slot, p.info
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		t := Token{Slot: s, Label: strings.TrimSpace(ti.Label), Serial: strings.TrimSpace(ti.SerialNumber),
			Model: strings.TrimSpace(ti.Model), Manufacturer: strings.TrimSpace(ti.ManufacturerID), Flags: flagsOf(ti.Flags)}
		if ms, err := m.ctx.GetMechanismList(s); err == nil {
			for _, mech := range ms {
				if n, ok := mechNames[mech.Mechanism]; ok {
					t.Mechanisms = append(t.Mechanisms, n)
				}
			}
			sort.Strings(t.Mechanisms)
		}
		out = append(out, t)
	}
	return out, nil
}

type slotToken struct {
	slot uint
	info pkcs11.TokenInfo
}

// present lists the slots holding a token, with its info (a token pulled
// between the two calls is left out).
func (m *Module) present() ([]slotToken, error) {
	if m.ctx == nil {
		return nil, errClosed
	}
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, mapErr("list slots", err)
	}
	var out []slotToken
	for _, s := range slots {
		if ti, err := m.ctx.GetTokenInfo(s); err == nil {
			out = append(out, slotToken{s, ti})
		}
	}
	return out, nil
}

// Find returns the token with serial (or label when serial is ""), or the
// only token when both are empty.
func (m *Module) Find(serial, label string) (Token, error) {
	ts, err := m.Tokens()
	if err != nil {
		return Token{}, err
	}
	var match []Token
	for _, t := range ts {
		if (serial == "" || t.Serial == serial) && (label == "" || t.Label == label) {
			match = append(match, t)
		}
	}
	switch {
	case len(match) == 0:
		return Token{}, ErrNoToken
	case len(match) > 1 && serial == "" && label == "":
		return Token{}, fmt.Errorf("%d UKEYs are plugged in: keep only the one to use", len(match))
	}
	return match[0], nil
}

func (t Token) has(mech string) bool {
	for _, m := range t.Mechanisms {
		if m == mech {
			return true
		}
	}
	return false
}

// Event is a token inserted or removed.
type Event struct {
	Inserted bool
	Token    Token
}

// Watch reports insertions and removals by polling every interval until
// ctx ends. Polling, not C_WaitForSlotEvent: many modules (SoftHSM among
// them) do not support it, and a blocking wait cannot be cancelled.
func (m *Module) Watch(ctx context.Context, interval time.Duration) <-chan Event {
	ch := make(chan Event, 8)
	go func() {
		defer close(ch)
		known := map[string]Token{}
		first := true
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			ts, err := m.Tokens()
			if err == nil {
				now := map[string]Token{}
				for _, tk := range ts {
					now[tk.Serial+"|"+tk.Label] = tk
				}
				for k, tk := range now {
					if _, ok := known[k]; !ok && !first {
						ch <- Event{Inserted: true, Token: tk}
					}
				}
				for k, tk := range known {
					if _, ok := now[k]; !ok {
						ch <- Event{Inserted: false, Token: tk}
					}
				}
				known, first = now, false
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch
}

// Session is an open read-write session on one token.
type Session struct {
	m      *Module
	tok    Token
	h      pkcs11.SessionHandle
	closed bool
}

// Open opens a read-write session on t.
func (m *Module) Open(t Token) (*Session, error) {
	if m.ctx == nil {
		return nil, errClosed
	}
	h, err := m.ctx.OpenSession(t.Slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, mapErr("open session", err)
	}
	return &Session{m: m, tok: t, h: h}, nil
}

// Token is the session's token.
func (s *Session) Token() Token { return s.tok }

// Close closes the session. Closing a token's last session also ends the
// login (PKCS#11 login state belongs to the application and the token).
// Closing twice, or after the module is closed, is harmless.
func (s *Session) Close() error {
	if s.closed || s.m.ctx == nil {
		return nil
	}
	s.closed = true
	return mapErr("close session", s.m.ctx.CloseSession(s.h))
}

// Flags re-reads the token's PIN flags.
func (s *Session) Flags() (Flags, error) {
	ti, err := s.m.ctx.GetTokenInfo(s.tok.Slot)
	if err != nil {
		return Flags{}, mapErr("token info", err)
	}
	return flagsOf(ti.Flags), nil
}

// Login logs the user in with pin, which is cleared when Login returns.
// Already logged in counts as success. A wrong PIN comes back as a
// *PINError with the token's tries-left flags; a locked PIN as
// ErrPINLocked. When the token says one try is left, Login refuses to try
// unless finalTry is true: that attempt must be the user's explicit choice.
func (s *Session) Login(pin []byte, finalTry bool) error {
	defer clear(pin)
	if f, err := s.Flags(); err == nil {
		if err := beforeLogin(f, finalTry); err != nil {
			return err
		}
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	// The library needs a string; it is a view of the caller's bytes (no
	// copy to outlive the clear above), copied only into C memory that the
	// library frees.
	err := s.m.ctx.Login(s.h, pkcs11.CKU_USER, bytesString(pin))
	switch ckr(err) {
	case 0, pkcs11.CKR_USER_ALREADY_LOGGED_IN:
		return nil
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LEN_RANGE:
		pe := &PINError{Err: ErrWrongPIN}
		if f, ferr := s.Flags(); ferr == nil {
			pe.CountLow, pe.FinalTry = f.PINCountLow, f.PINFinalTry
			if f.PINLocked {
				return fmt.Errorf("login: %w", ErrPINLocked)
			}
		}
		return pe
	}
	return mapErr("login", err)
}

// beforeLogin decides from the token's flags whether a login may be
// attempted at all: never on a locked PIN, and on the final try only when
// the user chose to spend it.
func beforeLogin(f Flags, finalTry bool) error {
	switch {
	case f.PINLocked:
		return fmt.Errorf("login: %w", ErrPINLocked)
	case f.PINFinalTry && !finalTry:
		return fmt.Errorf("login: %w", ErrPINFinalTry)
	}
	return nil
}

func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ChangePIN changes the user PIN; both are cleared when it returns.
func (s *Session) ChangePIN(old, new []byte) error {
	defer clear(old)
	defer clear(new)
	return mapErr("change PIN", s.m.ctx.SetPIN(s.h, bytesString(old), bytesString(new)))
}

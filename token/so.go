package token

import (
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// The security officer's (SO) operations a CA needs: initialising a blank
// UKEY with a SO PIN only the CA knows, and unlocking a holder's locked
// user PIN with it (C_InitPIN), then rotating the SO PIN.

// ErrNotBlank is an init of a token that is initialised already: its keys
// and certificates would be wiped, so init refuses.
var ErrNotBlank = fmt.Errorf("UKEY is initialised already")

// BlankSlots lists slots holding a token that is not initialised.
func (m *Module) BlankSlots() ([]uint, error) {
	present, err := m.present()
	if err != nil {
		return nil, err
	}
	var out []uint
	for _, p := range present {
		if p.info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			out = append(out, p.slot)
		}
	}
	return out, nil
}

// InitToken initialises the blank token in slot with soPIN and label, then
// sets the first user PIN; both PINs are cleared when it returns. It
// returns the token as found afterwards (modules such as SoftHSM renumber
// slots on init, so it is found again by label).
func (m *Module) InitToken(slot uint, label string, soPIN, userPIN []byte) (Token, error) {
	defer clear(soPIN)
	defer clear(userPIN)
	ti, err := m.ctx.GetTokenInfo(slot)
	if err != nil {
		return Token{}, mapErr("token info", err)
	}
	if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
		return Token{}, fmt.Errorf("init token: %w", ErrNotBlank)
	}
	if err := m.ctx.InitToken(slot, bytesString(soPIN), label); err != nil {
		return Token{}, mapErr("init token", err)
	}
	t, err := m.Find("", strings.TrimSpace(label))
	if err != nil {
		return Token{}, fmt.Errorf("find the initialised token: %w", err)
	}
	s, err := m.Open(t)
	if err != nil {
		return Token{}, err
	}
	defer s.Close()
	if err := s.LoginSO(soPIN); err != nil {
		return Token{}, err
	}
	if err := s.InitPIN(userPIN); err != nil {
		return Token{}, err
	}
	return t, s.Logout()
}

// LoginSO logs the security officer in; pin is cleared when it returns. A
// wrong SO PIN is ErrWrongPIN, a locked one ErrPINLocked.
func (s *Session) LoginSO(pin []byte) error {
	defer clear(pin)
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	err := s.m.ctx.Login(s.h, pkcs11.CKU_SO, bytesString(pin))
	if ckr(err) == pkcs11.CKR_USER_ALREADY_LOGGED_IN {
		return nil
	}
	return mapErr("SO login", err)
}

// InitPIN sets the user PIN (which unlocks a locked one); the session must
// be logged in as SO. pin is cleared when it returns.
func (s *Session) InitPIN(pin []byte) error {
	defer clear(pin)
	return mapErr("init PIN", s.m.ctx.InitPIN(s.h, bytesString(pin)))
}

// Logout ends the login of the session's token.
func (s *Session) Logout() error {
	err := s.m.ctx.Logout(s.h)
	if ckr(err) == pkcs11.CKR_USER_NOT_LOGGED_IN {
		return nil
	}
	return mapErr("logout", err)
}

// Package token talks to the applicant's UKEY through the vendor's PKCS#11
// module (github.com/miekg/pkcs11): module discovery, slots and tokens,
// PIN login with errors the UI can act on, key generation on the token, a
// crypto.Signer over a token key, CSR, certificate installation and resume.
//
// The crypto.Signer is ours rather than crypto11's: crypto11's session pool
// hands back dead sessions after a token is pulled and one wrong PIN
// uninitialises every context (crypto11 #142, #113), and a removed UKEY and
// a wrong PIN are this program's everyday cases. Sessions here are opened
// per operation group and a closed or removed token surfaces as a typed
// error, after which the caller simply tries again.
package token

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// Typed errors the UI branches on.
var (
	ErrWrongPIN     = errors.New("wrong PIN")
	ErrPINFinalTry  = errors.New("one PIN attempt left: the next wrong PIN locks the UKEY")
	ErrPINLocked    = errors.New("PIN locked")
	ErrPINExpired   = errors.New("PIN must be changed")
	ErrTokenRemoved = errors.New("UKEY removed")
	ErrSessionGone  = errors.New("session closed")
	ErrNoToken      = errors.New("no UKEY found")
	ErrNotLoggedIn  = errors.New("not logged in")
	ErrModule       = errors.New("PKCS#11 module cannot be loaded")
	ErrModuleArch   = errors.New("PKCS#11 module is 32-bit, CertDesk is 64-bit")
	ErrMismatch     = errors.New("certificate does not match the key")
)

// PINError is a wrong PIN with what the token says about tries left.
type PINError struct {
	Err error
	// CountLow and FinalTry are the token's flags after the failure; some
	// tokens never set them (OpenSC #871), so their absence proves nothing.
	CountLow, FinalTry bool
}

func (e *PINError) Error() string {
	switch {
	case e.FinalTry:
		return e.Err.Error() + " (final try left)"
	case e.CountLow:
		return e.Err.Error() + " (few tries left)"
	}
	return e.Err.Error()
}

func (e *PINError) Unwrap() error { return e.Err }

// ckr returns the PKCS#11 return code of err, or 0.
func ckr(err error) uint {
	var pe pkcs11.Error
	if errors.As(err, &pe) {
		return uint(pe)
	}
	return 0
}

// mapErr turns the return codes a caller must branch on into typed errors,
// keeping the code in the message.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	switch ckr(err) {
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_SLOT_ID_INVALID:
		return fmt.Errorf("%s: %w (%v)", op, ErrTokenRemoved, err)
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED:
		return fmt.Errorf("%s: %w (%v)", op, ErrSessionGone, err)
	case pkcs11.CKR_PIN_INCORRECT:
		return fmt.Errorf("%s: %w", op, ErrWrongPIN)
	case pkcs11.CKR_PIN_LOCKED:
		return fmt.Errorf("%s: %w", op, ErrPINLocked)
	case pkcs11.CKR_PIN_EXPIRED:
		return fmt.Errorf("%s: %w", op, ErrPINExpired)
	case pkcs11.CKR_USER_NOT_LOGGED_IN:
		return fmt.Errorf("%s: %w", op, ErrNotLoggedIn)
	}
	return fmt.Errorf("%s: %w", op, err)
}

package ui

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"

	"certdesk/app/apply"
	"certdesk/token"
)

// UKEY is the applicant's USB key as the screens use it: find it, log in.
// PKCS11UKEY is the real one (the token package over the vendor's
// module, tested end to end on SoftHSM2); the screens' logic tests bring
// their own, because SoftHSM2 never locks a PIN nor vanishes mid-call.
type UKEY interface {
	// Find looks for the key: its label, serial and PIN flags.
	Find(ctx context.Context) (token.Token, error)
	// Open logs in with pin, which is cleared on every path; finalTry
	// says the user accepted that a wrong PIN now locks the key.
	Open(ctx context.Context, pin []byte, finalTry bool) (UKEYSession, error)
}

// UKEYSession is a logged-in session on the UKEY; Close ends it.
type UKEYSession interface {
	// KeyFor returns the key made for appID, generating one only when
	// there is none: an interrupted download resumes with the same key.
	KeyFor(appID string) (UKEYKey, error)
	// Certificates are the certificates on the key.
	Certificates() ([]*x509.Certificate, error)
	// Pairs are the certificates whose private key is on the UKEY.
	Pairs() ([]UKEYPair, error)
	// HasKey says whether appID's key is on the UKEY.
	HasKey(appID string) (bool, error)
	// RemoveKeys removes appID's keys and certificates (the renewed
	// certificate, once its successor is installed and verified).
	RemoveKeys(appID string) error
	Close()
}

// UKEYKey is a key pair on the UKEY.
type UKEYKey interface {
	crypto.Signer
	CSR(cn string) ([]byte, error)
	Install(der []byte) (*x509.Certificate, error)
}

// UKEYPair is a certificate with its key on the UKEY.
type UKEYPair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// errNoDriver: no PKCS#11 module was found for any known UKEY.
var errNoDriver = errors.New("no UKEY driver found")

var errNoCert = errors.New("no certificate on the UKEY")

// PKCS11UKEY is the UKEY behind the PKCS#11 module at Module ("" when no
// driver was found). Each call loads the module and unloads it again, so
// a key pulled and plugged back in between two calls is simply found.
type PKCS11UKEY struct{ Module string }

// Find implements UKEY.
func (u PKCS11UKEY) Find(ctx context.Context) (token.Token, error) {
	if u.Module == "" {
		return token.Token{}, errNoDriver
	}
	if err := ctx.Err(); err != nil {
		return token.Token{}, err
	}
	m, err := token.Load(u.Module)
	if err != nil {
		return token.Token{}, err
	}
	defer m.Close()
	return m.Find("", "")
}

// Open implements UKEY.
func (u PKCS11UKEY) Open(ctx context.Context, pin []byte, finalTry bool) (UKEYSession, error) {
	if u.Module == "" || ctx.Err() != nil {
		clear(pin)
		if u.Module == "" {
			return nil, errNoDriver
		}
		return nil, ctx.Err()
	}
	s, done, err := token.OpenLoggedIn(u.Module, token.Ref{}, pin, finalTry)
	if err != nil {
		return nil, err
	}
	return pkcs11Session{s: s, done: done}, nil
}

type pkcs11Session struct {
	s    *token.Session
	done func()
}

func (p pkcs11Session) KeyFor(appID string) (UKEYKey, error) {
	k, _, err := p.s.KeyFor(appID, token.KeyAuto)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (p pkcs11Session) Certificates() ([]*x509.Certificate, error) { return p.s.Certificates() }

func (p pkcs11Session) Pairs() ([]UKEYPair, error) {
	ps, err := p.s.Pairs()
	if err != nil {
		return nil, err
	}
	out := make([]UKEYPair, len(ps))
	for i, x := range ps {
		out[i] = UKEYPair{Cert: x.Cert, Key: x.Key}
	}
	return out, nil
}

func (p pkcs11Session) HasKey(appID string) (bool, error) {
	ks, err := p.s.Keys(appID)
	return len(ks) > 0, err
}

func (p pkcs11Session) RemoveKeys(appID string) error {
	ks, err := p.s.Keys(appID)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if err := k.Destroy(); err != nil {
			return err
		}
	}
	return nil
}

func (p pkcs11Session) Close() { p.done() }

// ukeyStatus looks for the UKEY and words what it found; finalTry says
// the next wrong PIN locks it (the final-try tick must show).
func ukeyStatus(ctx context.Context, u UKEY) (text string, finalTry bool) {
	tok, err := u.Find(ctx)
	switch {
	case errors.Is(err, errNoDriver):
		return T("ukey.driver"), false
	case errors.Is(err, token.ErrNoToken):
		return T("ukey.none"), false
	case err != nil:
		return T("ukey.driver") + "\n" + err.Error(), false
	}
	text = T("ukey.found", map[string]any{"Label": tok.Label, "Serial": tok.Serial})
	switch {
	case tok.Flags.PINLocked:
		text += "\n" + T("ukey.locked")
	case tok.Flags.PINFinalTry:
		text += "\n" + T("ukey.finaltry")
		finalTry = true
	case tok.Flags.PINCountLow:
		text += "\n" + T("ukey.countlow")
	}
	return text, finalTry
}

// ukeyErrorText words a UKEY error for the user; final says the final-try
// tick must show. noToken is the message key for a missing UKEY.
func ukeyErrorText(err error, l apply.Lang, noToken string) (msg string, final bool) {
	var pe *token.PINError
	switch {
	case errors.As(err, &pe):
		msg := T("ukey.wrongpin")
		if pe.FinalTry {
			return msg + "\n" + T("ukey.finaltry"), true
		} else if pe.CountLow {
			msg += "\n" + T("ukey.countlow")
		}
		return msg, false
	case errors.Is(err, token.ErrPINFinalTry):
		return T("ukey.finaltry"), true
	case errors.Is(err, token.ErrPINLocked):
		return T("ukey.locked"), false
	case errors.Is(err, token.ErrNoToken), errors.Is(err, token.ErrTokenRemoved):
		return T(noToken), false
	case errors.Is(err, errNoCert):
		return T("ukey.nocert"), false
	case errors.Is(err, errOtherUKEY):
		return T("dl.otherukey"), false
	case errors.Is(err, errNoDriver):
		return T("ukey.driver"), false
	case errors.Is(err, token.ErrModule), errors.Is(err, token.ErrModuleArch):
		return T("ukey.driver") + "\n" + err.Error(), false
	}
	return explain(err, l), false
}

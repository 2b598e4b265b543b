package ui

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/token"
)

// UKEYLogin is the second way in (seed 1.2, 图2): the UKEY and its PIN.
// The token's PIN flags are shown before the PIN is typed; on the final
// try the user must tick that they accept the risk of locking the UKEY.
type UKEYLogin struct {
	c      *client.Client
	lang   apply.Lang
	module string // PKCS#11 module path
	onDone func(*api.Session)

	info     *widget.Label
	pin      *widget.Entry
	final    *widget.Check
	btn      *widget.Button
	err      *errText
	content  fyne.CanvasObject
	finished chan struct{} // receives after each attempt, for tests
}

// NewUKEYLogin builds the screen for the module at path.
func NewUKEYLogin(c *client.Client, l apply.Lang, module string, onDone func(*api.Session)) *UKEYLogin {
	s := &UKEYLogin{c: c, lang: l, module: module, onDone: onDone}
	s.info = widget.NewLabel(T("ukey.insert"))
	s.info.Wrapping = fyne.TextWrapWord
	s.pin = widget.NewPasswordEntry()
	s.pin.OnSubmitted = func(string) { s.login() }
	s.final = widget.NewCheck(T("ukey.finalok"), nil)
	s.final.Hide()
	s.err = errLabel()
	s.btn = widget.NewButton(T("ukey.submit"), s.login)
	s.btn.Importance = widget.HighImportance
	detect := widget.NewButton(T("ukey.detect"), s.Detect)
	s.content = container.NewVBox(s.info, detect, widget.NewLabel(T("ukey.pin")), s.pin, s.final, s.err, s.btn)
	return s
}

// Content is the screen's root object.
func (s *UKEYLogin) Content() fyne.CanvasObject { return s.content }

// Detect looks for the UKEY and shows its state and PIN flags.
func (s *UKEYLogin) Detect() {
	go func() {
		text, final := ukeyStatus(s.module)
		onUI(func() {
			s.info.SetText(text)
			if final {
				s.final.Show()
			}
			s.done()
		})
	}()
}

// ukeyStatus looks for the UKEY behind module and words what it found;
// finalTry says the next wrong PIN locks it (the final-try tick must show).
func ukeyStatus(module string) (text string, finalTry bool) {
	m, err := token.Load(module)
	var tok token.Token
	if err == nil {
		tok, err = m.Find("", "")
		m.Close()
	}
	switch {
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

func (s *UKEYLogin) done() {
	if s.finished != nil {
		s.finished <- struct{}{}
	}
}

func (s *UKEYLogin) login() {
	pin := []byte(s.pin.Text)
	s.pin.SetText("") // the PIN lives only as long as this attempt
	finalOK := s.final.Checked
	s.btn.Disable()
	s.err.SetText("")
	go func() {
		sess, err := s.attempt(pin, finalOK)
		onUI(func() {
			s.btn.Enable()
			if err != nil {
				s.err.SetText(s.explainUKEY(err))
			} else {
				s.onDone(sess)
			}
			s.done()
		})
	}()
}

// attempt logs in to the token, signs the server's challenge with the
// first certificate+key pair and opens a session.
func (s *UKEYLogin) attempt(pin []byte, finalOK bool) (*api.Session, error) {
	ts, closeUKEY, err := openUKEY(s.module, pin, finalOK)
	if err != nil {
		return nil, err
	}
	defer closeUKEY()
	pairs, err := ts.Pairs()
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, errNoCert
	}
	ctx := context.Background()
	n, err := s.c.LoginNonce(ctx)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(api.LoginMessage(n.Nonce))
	sig, err := pairs[0].Key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return s.c.UKEYLogin(ctx, api.UKEYLoginRequest{Nonce: n.Nonce, Certificate: pairs[0].Cert.Raw, Signature: sig})
}

var errNoCert = errors.New("no certificate on the UKEY")

// openUKEY loads module, opens the only UKEY and logs in with pin, which
// is cleared on every path; closeUKEY ends the session and unloads the
// module.
func openUKEY(module string, pin []byte, finalOK bool) (s *token.Session, closeUKEY func(), err error) {
	return token.OpenLoggedIn(module, token.Ref{}, pin, finalOK)
}

func (s *UKEYLogin) explainUKEY(err error) string {
	msg, final := ukeyErrorText(err, s.lang, "ukey.none")
	if final {
		s.final.Show()
	}
	return msg
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
	case errors.Is(err, token.ErrModule), errors.Is(err, token.ErrModuleArch):
		return T("ukey.driver") + "\n" + err.Error(), false
	}
	return explain(err, l), false
}

package ui

import (
	"context"
	"sort"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/holder"
)

// UKEYLogin is the second way in (seed 1.2, 图2): the UKEY and its PIN.
// The token's PIN flags are shown before the PIN is typed; on the final
// try the user must tick that they accept the risk of locking the UKEY.
type UKEYLogin struct {
	srv    ukeyLoginServer
	ukey   UKEY
	lang   apply.Lang
	onDone func(*api.Session)

	info     *widget.Label
	pin      *widget.Entry
	final    *widget.Check
	btn      *widget.Button
	err      *errText
	content  fyne.CanvasObject
	finished chan struct{} // receives after each attempt, for tests
}

// ukeyLoginServer is what UKEY login asks the server: a challenge, then
// a session for the signed challenge.
type ukeyLoginServer interface {
	LoginNonce(ctx context.Context) (*api.Nonce, error)
	UKEYLogin(ctx context.Context, req api.UKEYLoginRequest) (*api.Session, error)
}

// NewUKEYLogin builds the screen for the UKEY u.
func NewUKEYLogin(srv ukeyLoginServer, l apply.Lang, u UKEY, onDone func(*api.Session)) *UKEYLogin {
	s := &UKEYLogin{srv: srv, ukey: u, lang: l, onDone: onDone}
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
		text, final := ukeyStatus(context.Background(), s.ukey)
		onUI(func() {
			s.info.SetText(text)
			if final {
				s.final.Show()
			}
			s.done()
		})
	}()
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
		clear(pin) // whatever the UKEY did with it
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
	ctx := context.Background()
	ts, err := s.ukey.Open(ctx, pin, finalOK)
	if err != nil {
		return nil, err
	}
	defer ts.Close()
	pairs, err := ts.Pairs()
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, errNoCert
	}
	// The newest certificate first: during a renewal the UKEY holds the
	// renewed one (revoked once its successor is issued) beside the new.
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].Cert.NotAfter.After(pairs[j].Cert.NotAfter) })
	return holder.SignLogin(ctx, s.srv, pairs[0].Key, pairs[0].Cert)
}

func (s *UKEYLogin) explainUKEY(err error) string {
	msg, final := ukeyErrorText(err, s.lang, "ukey.none")
	if final {
		s.final.Show()
	}
	return msg
}

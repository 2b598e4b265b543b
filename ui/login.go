package ui

import (
	"context"
	"log/slog"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
)

// Login is the start screen: password login and registration (seed 1.1,
// 1.2). Errors appear under the field they concern, in the UI language.
type Login struct {
	c      *client.Client
	lang   apply.Lang
	log    *slog.Logger
	onDone func(*api.Session)

	loginName, password *widget.Entry
	regMobile, regEmail *widget.Entry
	regPass, regPass2   *widget.Entry
	loginErr, regErr    *errText
	loginInfo           *widget.Label // good news on the login tab (registered), not in red
	loginBtn, regBtn    *widget.Button
	tabs                *container.AppTabs
	content             fyne.CanvasObject
	busy                chan struct{} // closed after each finished call, for tests
}

// NewLogin builds the start screen; remembered is the last login name.
func NewLogin(c *client.Client, l apply.Lang, log *slog.Logger, remembered string, onDone func(*api.Session)) *Login {
	s := &Login{c: c, lang: l, log: log, onDone: onDone}
	s.loginName = widget.NewEntry()
	s.loginName.SetPlaceHolder(T("login.name.hint"))
	s.loginName.SetText(remembered)
	s.password = widget.NewPasswordEntry()
	s.loginErr = errLabel()
	s.loginInfo = widget.NewLabel("")
	s.loginInfo.Importance = widget.SuccessImportance
	s.loginInfo.Wrapping = fyne.TextWrapWord
	s.loginBtn = widget.NewButton(T("login.submit"), s.login)
	s.loginBtn.Importance = widget.HighImportance
	s.password.OnSubmitted = func(string) { s.login() } // Enter logs in
	loginForm := container.NewVBox(
		widget.NewLabel(T("login.name")), s.loginName,
		widget.NewLabel(T("login.password")), s.password,
		s.loginInfo, s.loginErr, s.loginBtn,
	)
	s.regMobile, s.regEmail = widget.NewEntry(), widget.NewEntry()
	s.regMobile.SetPlaceHolder("13800138000")
	s.regEmail.SetPlaceHolder("name@example.com")
	s.regPass, s.regPass2 = widget.NewPasswordEntry(), widget.NewPasswordEntry()
	s.regErr = errLabel()
	s.regBtn = widget.NewButton(T("register.submit"), s.register)
	s.regPass2.OnSubmitted = func(string) { s.register() }
	regForm := container.NewVBox(
		widget.NewLabel(T("register.mobile")), s.regMobile,
		widget.NewLabel(T("register.email")), s.regEmail,
		widget.NewLabel(T("register.password")), s.regPass,
		widget.NewLabel(T("register.password2")), s.regPass2,
		widget.NewLabel(T("register.note")),
		s.regErr, s.regBtn,
	)
	s.tabs = container.NewAppTabs(
		container.NewTabItem(T("login.tab"), loginForm),
		container.NewTabItem(T("register.tab"), regForm),
	)
	s.content = container.NewPadded(s.tabs)
	return s
}

// Content is the screen's root object.
func (s *Login) Content() fyne.CanvasObject { return s.content }

// run does work off the UI thread and applies its result on it: the
// window never freezes on the network.
func (s *Login) run(btn *widget.Button, work func() error, done func(error)) {
	btn.Disable()
	go func() {
		err := work()
		onUI(func() {
			btn.Enable()
			done(err)
			if s.busy != nil {
				s.busy <- struct{}{}
			}
		})
	}()
}

func (s *Login) login() {
	name, pass := strings.TrimSpace(s.loginName.Text), s.password.Text
	if name == "" || pass == "" {
		s.loginErr.SetText(T("login.missing"))
		return
	}
	s.loginErr.SetText("")
	s.loginInfo.SetText("")
	var sess *api.Session
	s.run(s.loginBtn, func() (err error) {
		sess, err = s.c.Login(context.Background(), api.LoginRequest{Login: name, Password: pass})
		return err
	}, func(err error) {
		if err != nil {
			s.loginErr.SetText(explain(err, s.lang))
			return
		}
		s.password.SetText("")
		s.onDone(sess)
	})
}

func (s *Login) register() {
	if s.regPass.Text != s.regPass2.Text {
		s.regErr.SetText(T("register.mismatch"))
		return
	}
	s.regErr.SetText("")
	req := api.RegisterRequest{Mobile: s.regMobile.Text, Email: s.regEmail.Text, Password: s.regPass.Text}
	s.run(s.regBtn, func() error {
		_, err := s.c.Register(context.Background(), req)
		return err
	}, func(err error) {
		if err != nil {
			s.regErr.SetText(explain(err, s.lang))
			return
		}
		// Registered: carry the login name over and ask for the password once more.
		login := strings.TrimSpace(req.Mobile)
		if login == "" {
			login = strings.TrimSpace(req.Email)
		}
		s.loginName.SetText(login)
		s.regPass.SetText("")
		s.regPass2.SetText("")
		s.loginErr.SetText("")
		s.loginInfo.SetText(T("register.done"))
		s.tabs.SelectIndex(0)
		// The focus goes with the user to the password: left on the now
		// hidden confirm-password field, keystrokes went there and Enter
		// registered again.
		if cv := fyne.CurrentApp().Driver().CanvasForObject(s.password); cv != nil {
			cv.Focus(s.password)
		}
	})
}

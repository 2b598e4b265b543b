package ui

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
)

// IdentityStep is the face check (身份识别): two QR codes — get the
// verification app, then verify this application — with the status as the
// server reports it, a countdown to the session's expiry, and a retry.
type IdentityStep struct {
	env     stepEnv
	srv     identityServer
	qrs     *fyne.Container
	state   *widget.Label
	left    *widget.Label
	retry   *widget.Button
	content fyne.CanvasObject
	// Session is the verification session on screen.
	Session *api.IdentitySession
}

// identityServer is what the face check asks the server.
type identityServer interface {
	StartIdentity(ctx context.Context, appID string) (*api.IdentitySession, error)
	IdentityStatus(ctx context.Context, appID string, wait time.Duration) (*api.IdentitySession, error)
}

func newIdentityStep(env stepEnv, srv identityServer) *IdentityStep {
	s := &IdentityStep{env: env, srv: srv}
	intro := widget.NewLabel(T("id.intro"))
	intro.Wrapping = fyne.TextWrapWord
	s.qrs = container.NewHBox()
	s.state = widget.NewLabel(T("center.loading"))
	s.state.Wrapping = fyne.TextWrapWord
	s.left = widget.NewLabel("")
	s.retry = widget.NewButton(T("id.retry"), s.start)
	s.retry.Hide()
	s.content = container.NewVScroll(container.NewVBox(intro, s.qrs, s.state, s.left, s.retry))
	s.start()
	return s
}

func (s *IdentityStep) start() {
	s.retry.Hide()
	s.state.SetText(T("id.starting"))
	background(s.env, func(ctx context.Context) (*api.IdentitySession, error) {
		return s.srv.StartIdentity(ctx, s.env.appID())
	}, func(msg string) {
		s.state.SetText(msg)
		s.retry.Show()
	}, func(is *api.IdentitySession) {
		s.show(is)
		go s.follow()
		go s.countdown()
	})
}

func (s *IdentityStep) show(is *api.IdentitySession) {
	open := widget.NewButton(T("id.openlocal"), func() {
		if u, err := url.Parse(is.VerifyQR); err == nil {
			_ = fyne.CurrentApp().OpenURL(u)
		}
	})
	s.qrs.Objects = []fyne.CanvasObject{
		widget.NewCard(T("id.qr.app"), T("id.qr.apphint"), qrImage(is.AppQR, 180)),
		widget.NewCard(T("id.qr.verify"), T("id.qr.verifyhint"), container.NewVBox(qrImage(is.VerifyQR, 180), open)),
	}
	s.qrs.Refresh()
	s.status(is)
	s.Session = is
}

func (s *IdentityStep) status(is *api.IdentitySession) {
	switch is.Status {
	case api.IdentityPassed:
		s.state.SetText("✓ " + T("id.passed"))
	case api.IdentityFailed:
		s.state.SetText("✗ " + T("id.failed", map[string]any{"Reason": is.Reason, "N": is.AttemptsMax - is.Attempts}))
		s.retry.Show()
	case api.IdentityExpired:
		s.state.SetText(T("id.expired"))
		s.retry.Show()
	default:
		s.state.SetText(T("id.waiting", map[string]any{"N": is.AttemptsMax - is.Attempts}))
	}
}

// follow long-polls the session until it ends (a failed call is asked
// again after 2 s), then moves the journey on when it passed.
func (s *IdentityStep) follow() {
	poll(s.env.ctx, s.env.clock, 2*time.Second, func(ctx context.Context) bool {
		is, err := s.srv.IdentityStatus(ctx, s.env.appID(), 20*time.Second)
		if ctx.Err() != nil {
			return true
		}
		if err != nil {
			onUI(func() { s.state.SetText(explain(err, s.env.lang)) })
			return false
		}
		onUI(func() {
			s.status(is)
			s.env.called()
		})
		switch is.Status {
		case api.IdentityPassed:
			onUI(func() { s.env.moveOn("✓ " + T("id.passed")) })
			return true
		case api.IdentityFailed, api.IdentityExpired:
			return true
		}
		return false
	})
}

// countdown shows the time left in the session, each second.
func (s *IdentityStep) countdown() {
	poll(s.env.ctx, s.env.clock, time.Second, func(context.Context) bool {
		var until time.Time
		onUIWait(func() {
			if s.Session != nil {
				until = s.Session.ExpiresAt
			}
		})
		d := max(until.Sub(s.env.clock.Now()).Round(time.Second), 0)
		onUI(func() {
			s.left.SetText(T("id.left", map[string]any{"Left": fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)}))
		})
		return false
	})
}

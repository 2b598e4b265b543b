package ui

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
	qrcode "github.com/skip2/go-qrcode"

	"certdesk/app/api"
)

// IdentityStep is the face check (身份识别): two QR codes — get the
// verification app, then verify this application — with the status as the
// server reports it, a countdown to the session's expiry, and a retry.
type IdentityStep struct {
	j       *Journey
	ctx     context.Context
	qrs     *fyne.Container
	state   *widget.Label
	left    *widget.Label
	retry   *widget.Button
	content fyne.CanvasObject
	// Session is the verification session on screen.
	Session *api.IdentitySession
}

func newIdentityStep(j *Journey, ctx context.Context) *IdentityStep {
	s := &IdentityStep{j: j, ctx: ctx}
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

// qrImage renders payload as a QR code of side px pixels.
func qrImage(payload string, px float32) fyne.CanvasObject {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return widget.NewLabel(payload)
	}
	img := canvas.NewImageFromImage(q.Image(512))
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScalePixels
	img.SetMinSize(fyne.NewSize(px, px))
	return img
}

func (s *IdentityStep) start() {
	s.retry.Hide()
	s.state.SetText(T("id.starting"))
	go func() {
		is, err := s.j.c.StartIdentity(s.ctx, s.j.appID)
		onUI(func() {
			if err != nil {
				s.state.SetText(explain(err, s.j.lang))
				s.retry.Show()
				s.j.called()
				return
			}
			s.show(is)
			s.j.called()
			go s.follow()
			go s.countdown()
		})
	}()
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

// follow long-polls the session until it ends, then reloads the journey
// when it passed.
func (s *IdentityStep) follow() {
	for s.ctx.Err() == nil {
		is, err := s.j.c.IdentityStatus(s.ctx, s.j.appID, 20*time.Second)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			onUI(func() { s.state.SetText(explain(err, s.j.lang)) })
			time.Sleep(2 * time.Second)
			continue
		}
		onUI(func() {
			s.status(is)
			s.j.called()
		})
		switch is.Status {
		case api.IdentityPassed:
			onUI(func() { s.j.reloadSaying("✓ " + T("id.passed")) })
			return
		case api.IdentityFailed, api.IdentityExpired:
			return
		}
	}
}

func (s *IdentityStep) countdown() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			var until time.Time
			onUIWait(func() {
				if s.Session != nil {
					until = s.Session.ExpiresAt
				}
			})
			d := time.Until(until).Round(time.Second)
			if d < 0 {
				d = 0
			}
			onUI(func() {
				s.left.SetText(T("id.left", map[string]any{"Left": fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)}))
			})
		}
	}
}

//go:build screens

package ui

import (
	"context"
	"fmt"
	"image"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/apply/applytest"
	"certdesk/app/client"
	"certdesk/app/holder"
	"certdesk/app/material/testimg"
	"certdesk/app/session"
)

// ScreenConfig is what RunScreens needs: a server with the development
// identity and payment providers, a UKEY, and the staff's side of the
// process as functions.
type ScreenConfig struct {
	ServerURL string
	Module    string // PKCS#11 module with an empty token
	PIN       string
	DataDir   string
	Out       string // directory for the PNG files
	Lang      apply.Lang
	Size      fyne.Size
	// Staff's side of the process.
	ConfirmTransfer func(ctx context.Context, appID string) error
	Approve         func(ctx context.Context, appID string) error
	Code            func(ctx context.Context, appID string) (string, error)
	// Phone opens a QR code's address, posting form (the face check's
	// answer), as the applicant's phone would.
	Phone func(u string, form url.Values) error
	// Render draws the print preview's pages (Options.Render).
	Render func(ctx context.Context, pdf []byte) ([]image.Image, error)
	// Inspect, when set, is given each screen on the UI thread instead of
	// a screenshot being taken (the tests' walk through every screen).
	Inspect func(name string, c fyne.Canvas) error
}

// RunScreens opens a real window, walks a scripted organisation applicant
// through every screen and saves each one as Out/NN-name.png. It must be
// called on the main goroutine (it runs Fyne's event loop) and returns the
// files written.
func RunScreens(ctx context.Context, cfg ScreenConfig) ([]string, error) {
	if err := LoadTranslations(); err != nil {
		return nil, err
	}
	a := fyneapp.NewWithID(AppID + ".screens")
	a.Settings().SetTheme(NewTheme())
	w := a.NewWindow(screensTitle)
	if cfg.Size.Width == 0 {
		cfg.Size = fyne.NewSize(960, 680)
	}
	w.Resize(cfg.Size)
	var files []string
	var runErr error
	a.Lifecycle().SetOnStarted(func() {
		go func() {
			files, runErr = screenScript(ctx, w, cfg)
			onUI(a.Quit)
		}()
	})
	w.ShowAndRun()
	return files, runErr
}

type screenRun struct {
	w     fyne.Window
	cfg   ScreenConfig
	files []string
	n     int
}

// shot lets the window settle and saves what the X server shows of it.
// ImageMagick's import reads the window as composited on screen; Fyne's
// own Canvas.Capture returned white frames with Mesa's software GL.
func (r *screenRun) shot(name string) error {
	if r.cfg.Inspect != nil {
		var err error
		on(func() { err = r.cfg.Inspect(name, r.w.Canvas()) })
		return err
	}
	time.Sleep(700 * time.Millisecond)
	on(func() {}) // the UI thread has drawn what was queued before
	time.Sleep(300 * time.Millisecond)
	r.n++
	p := filepath.Join(r.cfg.Out, fmt.Sprintf("%02d-%s.png", r.n, name))
	if out, err := exec.Command("import", "-window", screensTitle, p).CombinedOutput(); err != nil {
		return fmt.Errorf("import %s: %v: %s", p, err, out)
	}
	r.files = append(r.files, p)
	return nil
}

// screensTitle names the window so that import finds this one and not a
// CertDesk the developer has open; there is no title bar under Xvfb.
const screensTitle = "CertDesk screens"

// on runs fn on the UI thread.
func on(fn func()) { onUIWait(fn) }

// waitUI polls cond on the UI thread until it holds.
func waitUI(what string, cond func() bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := false
		on(func() { ok = cond() })
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("screens: timed out waiting for %s", what)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// tool is the screen of one of 我的证书's tools for the first certificate.
func (r *screenRun) tool(c *Certs, name, title string, form func(holder.Cert) fyne.CanvasObject) func() error {
	return func() error {
		on(func() { c.showTool(T(title), form(c.certs[0])) })
		err := r.shot(name)
		on(c.showList)
		return err
	}
}

func screenScript(ctx context.Context, w fyne.Window, cfg ScreenConfig) ([]string, error) {
	if cfg.Inspect == nil {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return nil, err
		}
	}
	c, err := client.New(client.Config{BaseURL: cfg.ServerURL})
	if err != nil {
		return nil, err
	}
	r := &screenRun{w: w, cfg: cfg}
	opts := Options{Lang: cfg.Lang, ServerURL: cfg.ServerURL, Embedded: true, DataDir: cfg.DataDir, Render: cfg.Render}
	var sh *Shell
	on(func() {
		sh = NewShell(w, c, session.Open(filepath.Join(cfg.DataDir, "session"), nil), opts)
		sh.module = cfg.Module
		sh.certs.ukey = PKCS11Holder{Module: cfg.Module}
		w.SetContent(sh.Content())
		sh.showLogin()
	})
	steps := []func() error{
		func() error { return r.shot("login") },
		func() error { // registration, with a mismatch reported under the form
			on(func() {
				sh.login.tabs.SelectIndex(1)
				sh.login.regMobile.SetText("13800138000")
				sh.login.regEmail.SetText("wang@example.com")
				sh.login.regPass.SetText("Zh3ngShu!2026")
				sh.login.regPass2.SetText("Zh3ngShu!2025")
				sh.login.register()
			})
			return r.shot("register-error")
		},
		func() error {
			on(func() {
				sh.login.regPass2.SetText("Zh3ngShu!2026")
				sh.login.register()
			})
			if err := waitUI("registered", func() bool { return sh.login.tabs.SelectedIndex() == 0 }); err != nil {
				return err
			}
			return r.shot("registered")
		},
		func() error {
			on(func() { sh.tabs.SelectIndex(1) })
			return r.shot("ukey-login")
		},
		func() error { // the checker with a scan that is too coarse
			on(func() {
				sh.tabs.SelectIndex(len(sh.tabs.Items) - 1)
				sh.checker.AddFile("营业执照.jpg", "", testimg.JPEG(testimg.Scan(827, 1169, 5), 85, 72))
			})
			sh.checker.work.Wait()
			return r.shot("checker")
		},
		func() error {
			on(func() {
				sh.tabs.SelectIndex(0)
				sh.login.password.SetText("Zh3ngShu!2026")
				sh.login.login()
			})
			if err := waitUI("user center", func() bool { return sh.center != nil }); err != nil {
				return err
			}
			return r.shot("user-center-empty")
		},
		func() error {
			on(func() { sh.center.OnApply(apply.KindOrg) })
			if err := waitUI("agreement", func() bool { return sh.apply.accept != nil }); err != nil {
				return err
			}
			return r.shot("agreement")
		},
		func() error { // the form, with a credit code whose check digit is wrong
			on(func() { sh.apply.acceptAgreement() })
			if err := waitUI("form", func() bool { return sh.apply.fields != nil }); err != nil {
				return err
			}
			on(func() {
				sh.apply.fill(applytest.OrgForm())
				f := sh.apply.fields[apply.FOrgCode]
				f.entry.SetText("91350100M000100Y44")
				f.entry.FocusLost()
			})
			return r.shot("form-error")
		},
		func() error {
			on(func() {
				f := sh.apply.fields[apply.FOrgCode]
				f.entry.SetText("91350100M000100Y43")
				f.entry.FocusLost()
				sh.apply.doSubmit()
			})
			if err := waitUI("print preview", func() bool { return sh.apply.Preview != nil }); err != nil {
				return err
			}
			return r.shot("print")
		},
		func() error { // materials: one scan refused and fixed, the rest pass
			on(func() { sh.apply.OnContinue(sh.apply.appID) })
			if err := waitUI("materials", func() bool { return sh.journey != nil && sh.journey.mat != nil && len(sh.journey.mat.items) > 0 }); err != nil {
				return err
			}
			m := sh.journey.mat
			var types []apply.MaterialType
			on(func() {
				for _, it := range m.items {
					if it.rule.Required && it.rule.SameAs == "" {
						types = append(types, it.rule.Type)
					}
				}
			})
			on(func() { m.Add(types[0], "受理表.jpg", testimg.JPEG(testimg.Scan(827, 1169, 5), 85, 72)) })
			m.Wait()
			if err := r.shot("materials-problem"); err != nil {
				return err
			}
			on(func() { m.Fix(types[0]) })
			m.Wait()
			for _, t := range types[1:] {
				data := testimg.JPEG(testimg.Scan(827, 1169, 4), 85, 100)
				if t == apply.MatSealImprint || t == apply.MatSignatureImprint {
					data = testimg.JPEG(testimg.Scan(2480, 3508, 3), 50, 300)
				}
				on(func() { m.Add(t, string(t)+".jpg", data) })
				m.Wait()
			}
			if err := waitUI("materials complete", func() bool { return !m.next.Disabled() }); err != nil {
				return err
			}
			return r.shot("materials-done")
		},
		func() error {
			on(func() { sh.journey.Reload() })
			if err := waitUI("identity", func() bool { return sh.journey.ident != nil && sh.journey.ident.Session != nil }); err != nil {
				return err
			}
			return r.shot("identity")
		},
		func() error {
			is := sh.journey.ident.Session
			if err := cfg.Phone(is.VerifyQR, url.Values{"result": {"pass"}, "name": {"王堃"}, "id_number": {"11010519491231002X"}}); err != nil {
				return err
			}
			if err := waitUI("payment", func() bool { return sh.journey.pay != nil }); err != nil {
				return err
			}
			on(func() { sh.journey.pay.Start(api.PayOnline) })
			if err := waitUI("payment QR", func() bool { return sh.journey.pay.Payment != nil }); err != nil {
				return err
			}
			return r.shot("payment-online")
		},
		func() error {
			// Choosing again replaces the unpaid order: WeChat Pay's QR.
			on(func() { sh.journey.pay.method.SetSelected(T("pay.wechat")) })
			if err := waitUI("WeChat QR", func() bool {
				p := sh.journey.pay.Payment
				return p != nil && p.Method == api.PayWeChat
			}); err != nil {
				return err
			}
			return r.shot("payment-wechat")
		},
		func() error {
			if err := cfg.Phone(sh.journey.pay.Payment.QR, nil); err != nil {
				return err
			}
			if err := waitUI("review", func() bool {
				s := sh.journey.State()
				return s == apply.StatePaid || s == apply.StateUnderReview
			}); err != nil {
				return err
			}
			return r.shot("review")
		},
		func() error {
			if err := cfg.Approve(ctx, sh.journey.appID); err != nil {
				return err
			}
			on(func() { sh.journey.Reload() })
			if err := waitUI("download", func() bool { return sh.journey.dl != nil && strings.Contains(sh.journey.dl.info.Text, "UKEY") }); err != nil {
				return err
			}
			return r.shot("download")
		},
		func() error {
			code, err := cfg.Code(ctx, sh.journey.appID)
			if err != nil {
				return err
			}
			d := sh.journey.dl
			on(func() {
				d.pin.SetText(cfg.PIN)
				d.code.SetText(code)
				d.Start()
			})
			if err := waitUI("certificate", func() bool { return d.Cert != nil || d.err.Text != "" }); err != nil {
				return err
			}
			if d.Cert == nil {
				return fmt.Errorf("screens: download failed: %s", d.err.Text)
			}
			return r.shot("download-done")
		},
		func() error {
			on(func() { sh.journey.Close() })
			if err := waitUI("user center", func() bool { return sh.center != nil && len(sh.center.apps) > 0 }); err != nil {
				return err
			}
			on(func() { sh.center.list.Select(0) })
			if err := waitUI("actions", func() bool { return len(sh.center.actions.Objects) > 0 }); err != nil {
				return err
			}
			return r.shot("user-center")
		},
		func() error {
			on(func() {
				tabs := sh.center.content.(*container.AppTabs)
				tabs.SelectIndex(1) // 我的证书: shown, it reads the UKEYs
			})
			if err := waitUI("my certificates", func() bool { return len(sh.certs.certs) > 0 && sh.certs.certs[0].Status != "" }); err != nil {
				return err
			}
			return r.shot("my-certs")
		},
		// Each holder's tool on the certificate just installed.
		r.tool(sh.certs, "change-pin", "certs.changepin", sh.certs.changePINForm),
		r.tool(sh.certs, "unlock-pin", "certs.unlock", sh.certs.unlockForm),
		r.tool(sh.certs, "renew", "certs.renew", sh.certs.renewForm),
		r.tool(sh.certs, "revoke", "certs.revoke", sh.certs.revokeForm),
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return r.files, err
		}
	}
	return r.files, nil
}

// Package ui is CertDesk's Fyne front end: screens only. Every rule, check
// and network call lives in app/* and token; this package lays them out,
// keeps the window responsive and speaks Chinese first.
package ui

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/session"
	appsync "certdesk/app/sync"
	"certdesk/assets"
	"certdesk/token"
	_ "certdesk/ui/localeenv" // must initialise before fyne.io: see its doc
)

// AppID identifies CertDesk to the OS (preferences, keyring, data dir).
const AppID = "cn.certdesk.client"

// Options configure the GUI.
type Options struct {
	Log *slog.Logger
	// Lang forces the language of domain texts; "" follows the system
	// (Chinese unless the system is English).
	Lang apply.Lang
	// ServerURL is the enrollment server in use; Embedded when it runs
	// in-process on DataDir.
	ServerURL string
	Embedded  bool
	DataDir   string
	// PinnedPEM is the standalone server's certificate to trust (none for
	// the embedded server on loopback).
	PinnedPEM []byte
	// ServerReady, when set, receives the embedded server's start-up
	// outcome; the window opens without waiting for it and says so if it
	// failed.
	ServerReady <-chan error
	// Input, when set, is filled in with calls that focus the login
	// screen's first entry and read the focused entry's text: the start-up
	// probe commits text to the window under wine and checks what arrived.
	Input *InputProbe
	// IMEPlaced, when set, sees every placement of the input method's
	// windows at the caret (the start-up probe under wine).
	IMEPlaced func(x, y, height int32, took bool)
	// Local is the client's local store (drafts, the upload queue); its
	// sync loop runs while the window is open.
	Local *appsync.Store
	// FirstFrame, when set, is called once the window has drawn its first
	// frames (for the start-up measurement); Quit then closes the app.
	FirstFrame func(quit func())
	// Render draws PDF pages for the print preview (nil: none).
	Render func(ctx context.Context, pdf []byte) ([]image.Image, error)
	// Settled, when set, runs once start-up is over (a second after the
	// window came up), for the platform's own memory hand-back.
	Settled func()
}

// LoadTranslations registers CertDesk's zh-CN and English UI strings with
// Fyne's lang package. Keys fall back to their Chinese text.
func LoadTranslations() error {
	if err := lang.AddTranslationsFS(assets.Translations, "translations"); err != nil {
		return fmt.Errorf("load translations: %w", err)
	}
	return nil
}

// SystemLang is the language of domain texts for this system's locale:
// English only when the system asks for it, Chinese otherwise.
func SystemLang() apply.Lang {
	if strings.HasPrefix(strings.ToLower(lang.SystemLocale().LanguageString()), "en") {
		return apply.EN
	}
	return apply.ZH
}

// T looks a UI string up by key, with data for its template.
func T(key string, data ...any) string { return lang.X(key, key, data...) }

// Run opens the main window and blocks until it is closed: the start
// screen, or the user center when a stored session is still valid.
func Run(ctx context.Context, opts Options) error {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := LoadTranslations(); err != nil {
		opts.Log.Warn("translations", "err", err)
	}
	if opts.Lang == "" {
		opts.Lang = SystemLang()
	}
	a := fyneapp.NewWithID(AppID)
	a.Settings().SetTheme(NewTheme())
	w := a.NewWindow(T("app.title"))
	c, err := client.New(client.Config{BaseURL: opts.ServerURL, PinnedPEM: opts.PinnedPEM, Log: opts.Log})
	if err != nil {
		return err
	}
	sessions := session.Open(filepath.Join(opts.DataDir, "session"), opts.Log)
	shell := NewShell(w, c, sessions, opts)
	if opts.ServerReady != nil {
		go func() {
			if err := <-opts.ServerReady; err != nil {
				onUI(func() { dialog.ShowError(fmt.Errorf("%s\n%v", T("status.serverfailed"), err), w) })
			}
		}()
	}
	if opts.Local != nil {
		events := make(chan appsync.Event, 64)
		shell.queue = &appsync.Loop{Store: opts.Local, Client: c, Log: opts.Log, Events: events}
		go shell.queue.Run(ctx)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-events:
					onUI(func() { shell.SyncEvent(e) })
				}
			}
		}()
	}
	if place := imePlacer(w); place != nil || opts.IMEPlaced != nil {
		ime := &imeFollower{w: w, place: place}
		if opts.IMEPlaced != nil {
			ime.onPlace = func(p imePlacement, took bool) { opts.IMEPlaced(p.X, p.Y, p.Height, took) }
		}
		ime.follow(ctx.Done())
	}
	w.SetContent(shell.Content())
	w.Resize(fyne.NewSize(960, 680))
	if opts.Input != nil {
		fillInput(opts.Input, shell)
	}
	shell.Start()
	go func() {
		<-ctx.Done()
		onUI(a.Quit)
	}()
	a.Lifecycle().SetOnStarted(func() {
		// Start-up parses the 6.6 MB CJK face and leaves the parser's
		// scratch behind: hand it back to the OS once the window is up,
		// rather than whenever the GC gets round to it.
		go func() {
			time.Sleep(time.Second)
			debug.FreeOSMemory()
			if opts.Settled != nil {
				opts.Settled()
			}
		}()
		if opts.FirstFrame == nil {
			return
		}
		go func() {
			// The driver draws on its 60 Hz tick after the queued
			// calls: two ticks after the queue has run, the first
			// frame is on screen.
			onUIWait(func() {})
			time.Sleep(2 * time.Second / 60)
			opts.FirstFrame(func() { onUI(a.Quit) })
		}()
	})
	w.ShowAndRun()
	return nil
}

// InputProbe reaches into the window for the start-up probe.
type InputProbe struct {
	Focus func() bool   // focus the login screen's first entry; false: not on screen
	Text  func() string // the focused entry's text
}

// fillInput gives the probe its calls on the shell's window.
func fillInput(p *InputProbe, s *Shell) {
	p.Focus = func() bool {
		ok := false
		onUIWait(func() {
			if s.login != nil && s.login.loginName.Visible() {
				s.w.Canvas().Focus(s.login.loginName)
				ok = true
			}
		})
		return ok
	}
	p.Text = func() string {
		var t string
		onUIWait(func() {
			if e := focusedEntry(s.w.Canvas().Focused()); e != nil {
				t = e.Text
			}
		})
		return t
	}
}

// Shell switches between the start screen and the user center.
type Shell struct {
	w        fyne.Window
	c        *client.Client
	sessions session.Store
	opts     Options
	root     *fyne.Container
	checker  *Checker
	journey  *Journey // on screen, when one is
	module   string   // the UKEY's PKCS#11 module, "" when none found
	queue    *appsync.Loop
	login    *Login
	tabs     *container.AppTabs // the start screen's tabs
	center   *Center
	apply    *Apply
	certs    *Certs // 我的证书, one for the window's life
}

// NewShell builds the window's content holder.
func NewShell(w fyne.Window, c *client.Client, sessions session.Store, opts Options) *Shell {
	s := &Shell{w: w, c: c, sessions: sessions, opts: opts}
	s.checker = NewChecker(w, opts.Lang, opts.Log)
	s.module, _ = token.Find(token.Discover(os.Getenv(token.EnvModule)))
	// A file dropped on the materials step goes to the material under the
	// pointer; anywhere else, to the checker.
	w.SetOnDropped(func(pos fyne.Position, uris []fyne.URI) {
		if j := s.journey; j != nil && j.mat != nil {
			j.mat.Drop(pos, uris)
			return
		}
		s.checker.AddURIs(uris)
	})
	s.root = container.NewStack()
	// 我的证书 follows the UKEYs for as long as the window is open; it is
	// a tab of the start screen (no login needed) and of the user center.
	ctx, cancel := context.WithCancel(context.Background())
	w.SetOnClosed(cancel)
	s.certs = NewCerts(ctx, c, PKCS11Holder{Module: s.module}, opts.Lang, w, func() bool { return c.LoggedIn() })
	s.certs.OnLogin = func(sess *api.Session) {
		if err := s.sessions.Set(opts.ServerURL, sess.Token); err != nil {
			opts.Log.Warn("keep session", "err", err)
		}
	}
	s.certs.OnRenewed = s.showJourney
	return s
}

// certsTab is 我的证书 as a tab.
func (s *Shell) certsTab() *container.TabItem {
	return container.NewTabItem(T("certs.tab"), s.certs.Content())
}

// followCerts shows and hides 我的证书 with its tab: the UKEYs are read
// only while the tab is on view.
func (s *Shell) followCerts(tabs *container.AppTabs, item *container.TabItem) {
	tabs.OnSelected = func(t *container.TabItem) {
		if t == item {
			s.certs.Show()
		} else {
			s.certs.Hide()
		}
	}
}

// Content is the window's content.
func (s *Shell) Content() fyne.CanvasObject {
	return container.NewBorder(nil, statusBar(s.opts), nil, nil, s.root)
}

// Start shows the user center when the stored session still works, the
// start screen otherwise.
func (s *Shell) Start() {
	tok, err := s.sessions.Get(s.opts.ServerURL)
	if err != nil || tok == "" {
		s.showLogin()
		return
	}
	s.c.SetToken(tok)
	go func() {
		_, err := s.c.Me(context.Background())
		onUI(func() {
			if err != nil {
				s.c.SetToken("")
				s.showLogin()
				return
			}
			s.showCenter()
		})
	}()
}

func (s *Shell) show(o fyne.CanvasObject) {
	if s.journey != nil && s.journey.Content() != o {
		s.journey = nil
	}
	s.certs.Hide()                  // a new root; its tabs show 我的证书 again when chosen
	s.w.Canvas().SetOnTypedKey(nil) // Esc means back only where escapeTo says
	s.root.Objects = []fyne.CanvasObject{o}
	s.root.Refresh()
}

func (s *Shell) showLogin() {
	l := NewLogin(s.c, s.opts.Lang, s.opts.Log, "", func(sess *api.Session) {
		if err := s.sessions.Set(s.opts.ServerURL, sess.Token); err != nil {
			s.opts.Log.Warn("keep session", "err", err)
		}
		s.showCenter()
	})
	s.login = l
	tabs := []*container.TabItem{container.NewTabItem(T("app.title"), l.Content())}
	if s.module != "" {
		u := NewUKEYLogin(s.c, s.opts.Lang, PKCS11UKEY{Module: s.module}, func(sess *api.Session) {
			if err := s.sessions.Set(s.opts.ServerURL, sess.Token); err != nil {
				s.opts.Log.Warn("keep session", "err", err) // logged in now; asked again at the next start
			}
			s.showCenter()
		})
		tabs = append(tabs, container.NewTabItem(T("ukey.tab"), u.Content()))
	}
	certs := s.certsTab()
	tabs = append(tabs, certs, container.NewTabItem(T("checker.tab"), s.checker.Content()))
	s.tabs = container.NewAppTabs(tabs...)
	s.followCerts(s.tabs, certs)
	s.show(s.tabs)
}

func (s *Shell) showCenter() {
	certs := s.certsTab()
	c := NewCenter(s.c, s.opts.Lang, func() {
		if err := s.sessions.Delete(s.opts.ServerURL); err != nil {
			s.opts.Log.Warn("forget session", "err", err)
		}
		s.showLogin()
	}, certs, container.NewTabItem(T("checker.tab"), s.checker.Content()))
	s.followCerts(c.content.(*container.AppTabs), certs)
	c.win = s.w
	s.center = c
	c.OnApply = func(k apply.Kind) {
		s.showForm(NewApply(s.c, s.opts.Lang, k, s.formDir(), s.drafts(), func(string) { s.showCenter() }))
	}
	c.OnOpen = s.showJourney
	c.OnEdit = s.showEdit
	c.Print = func(id string) {
		go func() {
			path, _, err := writeAcceptanceForm(context.Background(), s.c, id, s.formDir())
			onUI(func() {
				if err != nil {
					c.status.SetText(explain(err, s.opts.Lang))
					return
				}
				c.status.SetText(T("apply.printed", map[string]any{"Path": path}) + " " + T("print.handed"))
				if err := printFile(path); err != nil {
					c.status.SetText(err.Error())
				}
			})
		}()
	}
	s.show(c.Content())
	c.Refresh()
}

func (s *Shell) formDir() string { return filepath.Join(s.opts.DataDir, "forms") }

// showJourney continues application id at its current step.
func (s *Shell) showJourney(id string) {
	j := NewJourney(JourneyDeps{Client: s.c, Window: s.w, Lang: s.opts.Lang, Log: s.opts.Log, UKEY: PKCS11UKEY{Module: s.module}, FormDir: s.formDir(), Queue: s.queue}, id, s.showCenter)
	j.OnEdit = s.showEdit
	s.show(j.Content())
	s.journey = j
}

// showEdit opens an application's form; after submitting and printing it
// goes on to the materials.
func (s *Shell) showEdit(a *api.Application) {
	s.showForm(EditApply(s.c, s.opts.Lang, a, s.formDir(), s.drafts(), func(string) { s.showCenter() }))
}

// showForm puts a form on screen, new or opened: Esc goes back, the
// print step goes on to the materials.
func (s *Shell) showForm(a *Apply) {
	a.OnContinue = s.showJourney
	a.Render = s.opts.Render
	s.apply = a
	s.show(a.Content())
	s.escapeTo(a.Back)
}

// escapeTo makes Esc (pressed with no field focused; a focused field
// takes Esc to leave itself) go back: from the agreement and the form to
// the user center. Any other screen clears it.
func (s *Shell) escapeTo(back func()) {
	s.w.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyEscape {
			s.w.Canvas().SetOnTypedKey(nil)
			back()
		}
	})
}

// drafts is where forms save first: the sync loop over the local store
// (nil when the local store could not be opened, which the log says: then
// straight to the server).
func (s *Shell) drafts() Drafts {
	if s.queue == nil {
		return nil
	}
	return s.queue
}

// SyncEvent passes what the sync loop did to the screen it concerns.
func (s *Shell) SyncEvent(e appsync.Event) {
	if s.apply != nil {
		s.apply.SyncEvent(e)
	}
	if s.journey != nil && s.journey.mat != nil {
		s.journey.mat.SyncEvent(e)
	}
}

// statusBar says which server CertDesk talks to.
func statusBar(opts Options) fyne.CanvasObject {
	if opts.ServerURL == "" {
		return widget.NewLabel("")
	}
	text := T("status.server", map[string]any{"URL": opts.ServerURL})
	if opts.Embedded {
		text = T("status.embedded", map[string]any{"URL": opts.ServerURL, "Dir": opts.DataDir})
	}
	// The ordinary text colour: LowImportance drew it in the disabled grey,
	// about 2:1 against the background, which a newcomer could not read.
	l := widget.NewLabel(text)
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

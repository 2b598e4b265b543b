package ui

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/server"
	"certdesk/app/server/auth"
	"certdesk/app/server/service"
	"certdesk/app/session"
)

func wait(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the screen did not finish its call")
	}
}

// Register, a wrong password, a login: against the real server, through
// the screens, with the errors under the fields in Chinese.
func TestLoginScreenAndCenter(t *testing.T) {
	l, done, loggedIn := loginScreen(t)

	// Registration with a weak password: the policy's words appear. The
	// user's actions and reads take the UI lock, as the one UI goroutine
	// would be (the test driver runs replies' updates on their goroutines).
	asUser(func() {
		test.Type(l.regMobile, "13800138000")
		test.Type(l.regPass, "abc")
		test.Type(l.regPass2, "abc")
	})
	tapSays(t, l.regBtn, done, &l.regErr.Label, "密码至少 8 位")
	asUser(func() {
		l.regPass.SetText("Zh3ngShu!2026")
		l.regPass2.SetText("Zh3ngShu!2026")
		test.Tap(l.regBtn)
	})
	wait(t, done)
	asUser(func() {
		if l.loginName.Text != "13800138000" || !strings.Contains(l.loginInfo.Text, "注册成功") {
			t.Errorf("after registration: %q %q", l.loginName.Text, l.loginInfo.Text)
		}
		// A wrong password, then the right one (Enter submits).
		test.Type(l.password, "wrong-password")
	})
	tapSays(t, l.loginBtn, done, &l.loginErr.Label, "账号或密码不正确")
	asUser(func() {
		l.password.SetText("Zh3ngShu!2026")
		l.password.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	wait(t, done)
	if !*loggedIn {
		t.Fatal("not logged in")
	}

	// The user center lists the applications with state and next action.
	c := l.c
	ag, _ := c.Agreement(context.Background())
	c.CreateApplication(context.Background(), api.CreateApplicationRequest{Kind: apply.KindOrg,
		Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}, client.NewIdempotencyKey())
	center := NewCenter(c, apply.ZH, func() {})
	center.loaded = done
	asUser(center.Refresh)
	wait(t, done)
	asUser(func() {
		if len(center.apps) != 1 || !strings.Contains(center.status.Text, "共 1 条申请") {
			t.Errorf("center: %d %q", len(center.apps), center.status.Text)
		}
	})
}

// A stored session that still works opens the user center; a stale one
// (logged out elsewhere) falls back to the start screen.
func TestShellResumesTheStoredSession(t *testing.T) {
	srv, log := uiServer(t)
	a := fyne.CurrentApp()
	c, _ := client.New(client.Config{BaseURL: srv.URL, Log: log})
	c.Register(context.Background(), api.RegisterRequest{Mobile: "13900139000", Password: "Zh3ngShu!2026"})
	sess, err := c.Login(context.Background(), api.LoginRequest{Login: "13900139000", Password: "Zh3ngShu!2026"})
	if err != nil {
		t.Fatal(err)
	}
	store := &session.File{Dir: t.TempDir()}
	store.Set(srv.URL, sess.Token)
	opts := Options{Log: log, Lang: apply.ZH, ServerURL: srv.URL}
	w := a.NewWindow("t")
	fresh, _ := client.New(client.Config{BaseURL: srv.URL, Log: log})
	shell := NewShell(w, fresh, store, opts)
	asUser(func() {
		w.SetContent(shell.Content())
		shell.Start()
	})
	first := func(s *Shell) string {
		if len(s.root.Objects) == 1 {
			if tabs, ok := s.root.Objects[0].(*container.AppTabs); ok {
				return tabs.Items[0].Text
			}
		}
		return ""
	}
	eventually(t, "the user center", func() bool { return first(shell) == "我的申请" })
	// Logged out elsewhere: the stored token is stale.
	c.Logout(context.Background())
	shell2 := NewShell(w, fresh, store, opts)
	asUser(shell2.Start)
	time.Sleep(300 * time.Millisecond)
	var got string
	asUser(func() { got = first(shell2) })
	if got != "证书助手" {
		t.Fatalf("stale session: first tab %q", got)
	}
}

// uiServer starts the fyne test app with CertDesk's translations and the
// real enrollment server on loopback (cheap argon2 for speed).
func uiServer(t *testing.T) (*server.Server, *slog.Logger) {
	t.Helper()
	test.NewTempApp(t)
	_ = LoadTranslations()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Log: log,
		Service: service.Config{Params: auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, log
}

// tapSays taps btn, waits for its call and fails unless msg then says
// want.
func tapSays(t *testing.T, btn *widget.Button, done chan struct{}, msg *widget.Label, want string) {
	t.Helper()
	asUser(func() { test.Tap(btn) })
	wait(t, done)
	var got string
	asUser(func() { got = msg.Text })
	if !strings.Contains(got, want) {
		t.Fatalf("after %s: %q, want %q", btn.Text, got, want)
	}
}

// loginScreen is the login screen against a fresh real server; done
// receives after each call, loggedIn turns true on success.
func loginScreen(t *testing.T) (l *Login, done chan struct{}, loggedIn *bool) {
	srv, log := uiServer(t)
	c, _ := client.New(client.Config{BaseURL: srv.URL, Log: log, RetryWait: time.Millisecond})
	done = make(chan struct{}, 1)
	loggedIn = new(bool)
	l = NewLogin(c, apply.ZH, log, "", func(*api.Session) { *loggedIn = true })
	l.busy = done
	return l, done, loggedIn
}

// After registering with Enter in the confirm field, the focus is on the
// login tab's password: what the user types goes there, Enter logs in
// (never registers again), and the success note is not an error.
func TestRegistrationHandsOverToLogin(t *testing.T) {
	l, done, loggedIn := loginScreen(t)
	w := test.NewTempWindow(t, l.Content())
	premise := true
	asUser(func() {
		w.Resize(fyne.NewSize(960, 680))
		l.tabs.SelectIndex(1)
		test.Type(l.regMobile, "13900139000")
		test.Type(l.regPass, "Zh3ngShu!2026")
		w.Canvas().Focus(l.regPass2)
		test.Type(l.regPass2, "Zh3ngShu!2026")
		if premise = w.Canvas().Focused() == l.regPass2; premise {
			l.regPass2.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		}
	})
	if !premise {
		t.Fatal("test premise: the confirm field has the focus")
	}
	wait(t, done)
	uiMu.Lock()
	if l.tabs.SelectedIndex() != 0 || l.loginInfo.Text == "" || l.loginErr.Text != "" || l.loginInfo.Importance == widget.DangerImportance {
		t.Errorf("after registration: tab %d, info %q, error %q", l.tabs.SelectedIndex(), l.loginInfo.Text, l.loginErr.Text)
	}
	if w.Canvas().Focused() != l.password {
		t.Errorf("focus after registration: %T (canvas for the password: %v), want the login password", w.Canvas().Focused(), fyne.CurrentApp().Driver().CanvasForObject(l.password) != nil)
	}
	test.Type(w.Canvas().Focused(), "Zh3ngShu!2026") // to whatever has the focus
	if l.regPass2.Text != "" || l.password.Text != "Zh3ngShu!2026" {
		t.Errorf("typed into the hidden confirm field: %q / %q", l.regPass2.Text, l.password.Text)
	}
	w.Canvas().Focused().(fyne.Focusable).TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	uiMu.Unlock()
	if t.Failed() {
		t.FailNow()
	}
	wait(t, done)
	if !*loggedIn {
		t.Fatalf("Enter did not log in: %q %q", l.loginErr.Text, l.regErr.Text)
	}
}

// The user center's rows say when and under which username; after 刷新 the
// detail panel shows the application as it now is.
func TestCenterRowsAndFreshDetail(t *testing.T) {
	srv, log := uiServer(t)
	c, _ := client.New(client.Config{BaseURL: srv.URL, Log: log})
	ctx := context.Background()
	c.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Password: "Zh3ngShu!2026"})
	if _, err := c.Login(ctx, api.LoginRequest{Login: "13800138000", Password: "Zh3ngShu!2026"}); err != nil {
		t.Fatal(err)
	}
	ag, _ := c.Agreement(ctx)
	a, _ := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()},
		Form: apply.Values{apply.FUsername: "row01", apply.FOrgName: "旧名称有限公司"}}, "")
	center := NewCenter(c, apply.ZH, func() {})
	center.loaded = make(chan struct{}, 8)
	asUser(center.Refresh)
	wait(t, center.loaded)
	row := widget.NewLabel("")
	asUser(func() { center.list.UpdateItem(0, row) })
	if !strings.Contains(row.Text, time.Now().Format("2006-01-02")) || !strings.Contains(row.Text, "row01") || strings.Count(row.Text, "\n") != 1 {
		t.Fatalf("row: %q", row.Text)
	}
	asUser(func() { center.show(a.ID) })
	eventually(t, "the detail", func() bool { return strings.Contains(center.detail.Text, "单位证书") })
	if _, err := c.Cancel(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	asUser(center.Refresh)
	wait(t, center.loaded)
	eventually(t, "the detail after 刷新", func() bool { return strings.Contains(center.detail.Text, "已取消") })
}

package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/token/softhsmtest"
)

// UKEY login on screen with a SoftHSM2 token that holds an issued
// certificate: detection, a wrong PIN, the right PIN.
func TestUKEYLoginScreen(t *testing.T) {
	srv, log := uiServer(t)
	ctx := context.Background()
	c, _ := client.New(client.Config{BaseURL: srv.URL, Log: log})
	c.Register(ctx, api.RegisterRequest{Mobile: "13800138000", Password: "Zh3ngShu!2026"})
	c.Login(ctx, api.LoginRequest{Login: "13800138000", Password: "Zh3ngShu!2026"})
	tk := softhsmtest.New(t, "ui-ukey")
	issuedOn(t, srv, c, tk, "ukeyui")

	fresh, _ := client.New(client.Config{BaseURL: srv.URL, Log: log})
	var got *api.Session
	s := NewUKEYLogin(fresh, apply.ZH, PKCS11UKEY{Module: tk.ModulePath}, func(sess *api.Session) { got = sess })
	s.finished = make(chan struct{}, 8)
	s.Detect()
	wait(t, s.finished)
	if !strings.Contains(s.info.Text, "ui-ukey") {
		t.Fatalf("detection: %q", s.info.Text)
	}
	test.Type(s.pin, "000000")
	test.Tap(s.btn)
	wait(t, s.finished)
	if !strings.Contains(s.err.Text, "PIN 码不正确") || s.pin.Text != "" {
		t.Fatalf("wrong PIN: %q (entry %q)", s.err.Text, s.pin.Text)
	}
	test.Type(s.pin, tk.PIN)
	test.Tap(s.btn)
	wait(t, s.finished)
	if got == nil || got.Token == "" {
		t.Fatalf("no session: %q", s.err.Text)
	}
}

package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/client"
	"certdesk/app/server/service"
	"certdesk/token"
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
	ag, _ := c.Agreement(ctx)
	a, _ := c.CreateApplication(ctx, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: ag.Version, AcceptedAt: time.Now()}}, client.NewIdempotencyKey())
	form := apply.Values{apply.FUsername: "ukeyui", apply.FOrgName: "福州示例软件有限公司", apply.FOrgCode: "91350100M000100Y43",
		apply.FOrgAddress: "福建省福州市鼓楼区五四路 100 号", apply.FHandlerName: "王堃", apply.FHandlerIDType: "resident",
		apply.FHandlerID: "11010519491231002X", apply.FHandlerMobile: "13800138000", apply.FHandlerEmail: "wang@example.com",
		apply.FSecurityQuestion: "您的出生地是?", apply.FSecurityAnswer: "福州", apply.FDelivery: "pickup"}
	if _, err := c.UpdateForm(ctx, a.ID, api.UpdateFormRequest{Form: form, Submit: true}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []apply.Event{apply.EvMaterialsComplete, apply.EvIdentityVerified} {
		if err := srv.Service.SystemStep(ctx, a.ID, ev, "test"); err != nil {
			t.Fatal(err)
		}
	}
	ops := service.Principal{AccountID: "test", Role: api.RoleStaff}
	// A payment only with its record: staff confirm a bank transfer.
	if _, err := srv.Service.ConfirmTransfer(ctx, ops, a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Service.Review(ctx, ops, a.ID, api.ReviewRequest{Approve: true}); err != nil {
		t.Fatal(err)
	}
	msgs, _ := srv.Store.Messages(ctx, a.ID, 50)
	code := ""
	for _, m := range msgs {
		if i := strings.Index(m.Body, "验证码:"); i >= 0 {
			code = m.Body[i+len("验证码:") : i+len("验证码:")+8]
		}
	}
	tk := softhsmtest.New(t, "ui-ukey")
	m, _ := token.Load(tk.ModulePath)
	tok, _ := m.Find("", tk.Label)
	ts, _ := m.Open(tok)
	ts.Login([]byte(tk.PIN), false)
	k, _, _ := ts.KeyFor(a.ID, token.KeyAuto)
	csr, _ := k.CSR("")
	b, err := c.Download(ctx, a.ID, api.DownloadRequest{CSR: csr, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	k.Install(b.Certificate)
	ts.Close()
	m.Close()

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
